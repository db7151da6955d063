"""``python -m scorep``: options, and the script running exactly as under
plain ``python``."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

SEMANTICS = """
import os, sys
print("argv", sys.argv)
print("file", __file__)
print("name", __name__)
print("path0", sys.path[0])
print("spec", __spec__, "package", __package__)
print("main", sys.modules["__main__"].__dict__ is globals())
print("loader", type(__loader__).__name__)
print("keys", sorted(k for k in globals() if k.startswith("__")))
sys.stderr.write("to stderr\\n")
"""


def plain(runner, *args, **kwargs):
    return runner.run(*args, scorep=False, **kwargs)


def test_script_semantics_match_plain_python(runner):
    runner.write("sub/prog.py", SEMANTICS)
    measured = runner.run("sub/prog.py", "a", "--b", "-c=1")
    unmeasured = plain(runner, "sub/prog.py", "a", "--b", "-c=1")
    assert measured.returncode == unmeasured.returncode == 0
    assert measured.stdout == unmeasured.stdout
    assert measured.stderr == unmeasured.stderr == "to stderr\n"
    assert "argv ['sub/prog.py', 'a', '--b', '-c=1']" in measured.stdout
    assert f"path0 {runner.cwd / 'sub'}" in measured.stdout


def test_double_dash_ends_options(runner):
    runner.write("prog.py", "import sys; print(sys.argv)")
    run = runner.run("-v", "--", "prog.py", "--help")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "['prog.py', '--help']\n"


@pytest.mark.parametrize("code,expected", [
    ("import sys; sys.exit(3)", 3),
    ("import sys; sys.exit(0)", 0),
    ("import sys; sys.exit()", 0),
    ("import sys; sys.exit('bye')", 1),
    ("raise SystemExit(7)", 7),
    ("pass", 0),
])
def test_exit_codes(runner, code, expected):
    runner.write("prog.py", code)
    measured = runner.run("prog.py")
    unmeasured = plain(runner, "prog.py")
    assert measured.returncode == unmeasured.returncode == expected
    assert measured.stderr == unmeasured.stderr
    measured.trace().check_balanced()


def test_uncaught_exception_prints_the_same_traceback(runner):
    runner.write("prog.py", """
def inner():
    raise ValueError("boom")

def outer():
    inner()

print("before")
outer()
""")
    measured = runner.run("prog.py")
    unmeasured = plain(runner, "prog.py")
    assert measured.returncode == unmeasured.returncode == 1
    assert measured.stdout == unmeasured.stdout == "before\n"
    assert measured.stderr == unmeasured.stderr
    assert "scorep" not in measured.stderr
    trace = measured.trace()
    trace.check_balanced()
    assert trace.call_tree()[("__main__:<module>", "__main__:outer", "__main__:inner")] == 1
    end = trace.events("program_end")
    assert [e.value for e in end] == [1]


def test_syntax_error_reads_as_in_python(runner):
    runner.write("prog.py", "def broken(:\n    pass\n")
    measured = runner.run("prog.py")
    unmeasured = plain(runner, "prog.py")
    assert measured.returncode == unmeasured.returncode == 1
    assert measured.stderr == unmeasured.stderr
    assert "SyntaxError" in measured.stderr


def test_keyboard_interrupt_exits_like_python(runner):
    runner.write("prog.py", """
def work():
    raise KeyboardInterrupt
work()
""")
    measured = runner.run("prog.py")
    unmeasured = plain(runner, "prog.py")
    assert measured.returncode == unmeasured.returncode == -signal.SIGINT
    assert measured.stderr == unmeasured.stderr
    measured.trace().check_balanced()


def test_sys_exit_deep_in_the_stack_leaves_a_balanced_trace(runner):
    run = runner.script("""
import sys
def dive(n):
    if n == 0:
        sys.exit(4)
    dive(n - 1)
dive(20)
""")
    assert run.returncode == 4
    trace = run.trace()
    trace.check_balanced()
    assert trace.enter_counts()["__main__:dive"] == 21
    assert [e.value for e in trace.events("program_end")] == [4]


def test_help_goes_to_stdout(runner):
    run = runner.run("--help")
    assert run.returncode == 0
    assert run.stdout.startswith("Usage: python -m scorep")
    assert "--instrumenter-type" in run.stdout
    assert run.stderr == ""
    assert run.experiments() == []


def test_version(runner):
    import scorep

    run = runner.run("--version")
    assert run.returncode == 0
    assert run.stdout.strip() == f"scorep {scorep.__version__}"


@pytest.mark.parametrize("args,message", [
    (["--bogus", "prog.py"], "unknown option '--bogus'"),
    ([], "no program to run"),
    (["-v"], "no program to run"),
    (["-m"], "option -m needs an argument"),
    (["-c"], "option -c needs an argument"),
    (["--"], "no script after '--'"),
    (["--instrumenter-type=fast", "prog.py"], "invalid --instrumenter-type 'fast'"),
    (["--instrumenter-file", "prog.py"], "--instrumenter-file needs a file"),
])
def test_usage_errors(runner, args, message):
    runner.write("prog.py", "print('ran')")
    run = runner.run(*args)
    assert run.returncode == 2
    # one line, with the hint instead of the whole usage text
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("scorep: error: ")
    assert message in run.stderr
    assert run.stderr.endswith(" (see python -m scorep --help)\n")
    assert run.stdout == ""
    assert run.experiments() == []


def test_missing_script_file(runner):
    """Python's own message and exit code, and no experiment."""
    run = runner.run("nothere.py")
    plain = runner.run_plain("nothere.py")
    assert (run.returncode, run.stdout, run.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert run.returncode == 2
    assert "can't open file" in run.stderr and "nothere.py" in run.stderr
    assert run.experiments() == []


def test_score_p_flags_are_accepted_quietly(runner):
    runner.write("prog.py", "print('ran')")
    run = runner.run("--mpp=none", "--thread=pthread", "--compiler", "--nocompiler", "--io=posix", "--user",
                     "--keep-files", "prog.py")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ran\n"
    assert run.stderr == ""


def test_accepted_flags_are_noted_when_verbose(runner):
    runner.write("prog.py", "print('ran')")
    run = runner.run("--verbose", "--thread=pthread", "prog.py")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ran\n"
    assert "--thread=pthread" in run.stderr
    assert "experiment directory" in run.stderr


def test_noinstrumenter_records_no_python_calls(runner):
    for flag in ("--noinstrumenter", "--nopython"):
        for path in runner.cwd.glob("scorep-*"):
            import shutil
            shutil.rmtree(path)
        run = runner.script("""
import scorep.user
def f():
    pass
f()
with scorep.user.region("kept"):
    f()
""", options=[flag])
        assert run.returncode == 0, run.stderr
        counts = run.trace().enter_counts()
        assert "__main__:f" not in counts
        assert counts["user:kept"] == 1


def test_instrumenter_file_runs_before_the_script(runner):
    runner.write("setup_hook.py", "import builtins\nbuiltins.PREPARED = 42\n")
    run = runner.script("print(PREPARED)", options=["--instrumenter-file=setup_hook.py"])
    assert run.returncode == 0, run.stderr
    assert run.stdout == "42\n"


def test_quiet_by_default(runner):
    run = runner.script("print('only this')")
    assert run.stdout == "only this\n"
    assert run.stderr == ""


def test_stdin_is_passed_through(runner):
    run = runner.script("import sys; print(sys.stdin.read().upper())", input="hello")
    assert run.stdout == "HELLO\n"


def test_sigterm_finalizes_a_valid_trace(runner):
    runner.write("prog.py", """
import time
def wait():
    print("ready", flush=True)
    time.sleep(60)
wait()
""")
    env = runner.env()
    proc = subprocess.Popen([sys.executable, "-m", "scorep", "prog.py"], cwd=runner.cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    assert err == ""
    from conftest import Run

    trace = Run(proc.returncode, out, err, runner.cwd).trace()
    trace.check_balanced()
    assert trace.enter_counts()["__main__:wait"] == 1
    assert trace.enter_counts()["time:sleep"] == 1


def test_sigint_finalizes_a_valid_trace(runner):
    runner.write("prog.py", """
import time
def wait():
    print("ready", flush=True)
    time.sleep(60)
wait()
""")
    proc = subprocess.Popen([sys.executable, "-m", "scorep", "prog.py"], cwd=runner.cwd, env=runner.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGINT
    assert err.rstrip().endswith("KeyboardInterrupt")
    from conftest import Run

    trace = Run(proc.returncode, out, err, runner.cwd).trace()
    trace.check_balanced()
    assert trace.enter_counts()["__main__:wait"] == 1
