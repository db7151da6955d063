"""The program runs exactly as without measurement: every way to start
Python code, what the program sees of its own stack and process, exit codes,
exceptions and signals.  Each case runs the same command line under plain
``python`` and under ``python -m scorep`` and compares stdout, stderr and
the exit code byte for byte, then reads the trace."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from conftest import INSTRUMENTERS, Run

# the program prints what CPython set up for it
SHOW = """
import sys, os
print("argv", sys.argv)
print("name", __name__, "spec", getattr(__spec__, "name", None))
print("path0", sys.path[0] == os.getcwd() or sys.path[0])
print("file", globals().get("__file__"))
print("main", sys.modules["__main__"].__dict__ is globals())
print("flags", sys.flags.dev_mode, sys.flags.optimize, sys.warnoptions)
print("scorep" in sys.modules["__main__"].__dict__)
print("orig", getattr(sys, "orig_argv", ["python"])[1:])
print("main dict", [(k, type(v).__name__) for k, v in vars(sys.modules["__main__"]).items()][:9])
print("importer cached", [k for k, v in sys.path_importer_cache.items() if v is None and k.endswith((".py", ".pyz"))])
print("modules", [m for m in ("runpy", "importlib", "importlib.util", "pkgutil", "__future__", "subprocess",
                              "threading", "typing") if m in sys.modules])
import atexit
atexit.register(lambda: print("at exit", "__file__" in vars(sys.modules["__main__"]), sys.argv[0] != "", flush=True))
def work(n):
    return n + 1
for i in range(3):
    work(i)
"""


def same(runner, args, scorep_options=(), python_options=(), input=None, env=None):
    """Run under plain python and under python -m scorep; the program's
    stdout, stderr and exit code must be identical.  Returns the measured run."""
    plain = runner.run(*python_options, *args, scorep=False, input=input, env=env)
    measured = runner.run(*python_options, "-m", "scorep", *scorep_options, *args, scorep=False, input=input,
                          env=env)
    assert (measured.stdout, measured.stderr, measured.returncode) == \
        (plain.stdout, plain.stderr, plain.returncode), (plain, measured)
    return measured


def main_paths(run):
    trace = run.trace()
    trace.check_balanced()
    return trace.call_tree()


def assert_shown_program_ran(run):
    """SHOW's three calls of work, under a call tree that starts at the
    program's own code (then the interpreter's end joins the program's
    threads and runs its atexit handler); for -m, runpy's frames are not
    the program's."""
    tree = main_paths(run)
    assert tree[("__main__:<module>", "__main__:work")] == 3
    assert tree[("__main__:<lambda>",)] == 1
    assert {path[0] for path in tree} <= {"__main__:<module>", "threading:_shutdown", "__main__:<lambda>"}


@pytest.mark.parametrize("kind", INSTRUMENTERS)
def test_script(runner, kind):
    runner.write("prog.py", SHOW)
    run = same(runner, ["prog.py", "a", "-b"], scorep_options=[f"--instrumenter-type={kind}"])
    assert "argv ['prog.py', 'a', '-b']" in run.stdout
    assert_shown_program_ran(run)


@pytest.mark.parametrize("kind", INSTRUMENTERS)
def test_module(runner, kind):
    runner.write("tool/__init__.py", "")
    runner.write("tool/cli.py", SHOW)
    run = same(runner, ["-m", "tool.cli", "x"], scorep_options=[f"--instrumenter-type={kind}"])
    assert "name __main__ spec tool.cli" in run.stdout
    assert_shown_program_ran(run)


def test_package_main_and_attached_module_name(runner):
    runner.write("app/__init__.py", "")
    runner.write("app/__main__.py", SHOW)
    run = same(runner, ["-m", "app", "1"])
    assert "spec app.__main__" in run.stdout
    assert_shown_program_ran(run)
    plain = runner.run("-mapp", scorep=False)
    measured = runner.run("-m", "scorep", "-mapp", scorep=False)
    assert measured.stdout == plain.stdout and measured.returncode == 0


def test_missing_module_is_pythons_error_and_no_experiment(runner):
    run = same(runner, ["-m", "no_such_module_here", "x"])
    assert run.returncode == 1 and "No module named no_such_module_here" in run.stderr
    assert run.experiments() == []


def test_command(runner):
    code = "import sys; print(sys.argv); f = lambda: 1\nfor i in range(4): f()"
    run = same(runner, ["-c", code, "arg"])
    assert run.stdout == "['-c', 'arg']\n"
    assert main_paths(run)[("__main__:<module>", "__main__:<lambda>")] == 4


def test_directory_and_zip_application(runner):
    runner.write("appdir/__main__.py", SHOW)
    run = same(runner, ["appdir", "z"])
    assert_shown_program_ran(run)
    for old in run.experiments():
        subprocess.run(["rm", "-rf", str(old)], check=True)
    with zipfile.ZipFile(runner.cwd / "app.pyz", "w") as archive:
        archive.writestr("__main__.py", SHOW)
    run = same(runner, ["app.pyz", "z"])
    assert_shown_program_ran(run)


def test_stdin(runner):
    run = same(runner, ["-", "q"], input=SHOW)
    assert "argv ['-', 'q']" in run.stdout
    assert_shown_program_ran(run)


def test_interpreter_flags_carry_over(runner):
    runner.write("prog.py", SHOW)
    run = same(runner, ["prog.py"], python_options=["-X", "dev", "-O", "-W", "ignore::DeprecationWarning"])
    assert "flags True 1 ['default', 'ignore::DeprecationWarning']" in run.stdout


@pytest.mark.parametrize("ending,code", [
    ("sys.exit(3)", 3),
    ("raise SystemExit('bye')", 1),
    ("raise ValueError('boom')", 1),
    ("sys.exit(0)", 0),
    ("os._exit(7)", 7),
])
def test_exit_codes_and_exceptions(runner, ending, code):
    runner.write("prog.py", f"""
import os, sys
def fail():
    {ending}
print("before", flush=True)
fail()
""")
    run = same(runner, ["prog.py"])
    assert run.returncode == code
    if ending.startswith("os._exit"):
        return  # os._exit skips every exit handler: nothing is written, as documented
    trace = run.trace()
    assert [e.value for e in trace.events("program_end")] == [code]


def test_uncaught_keyboard_interrupt(runner):
    runner.write("prog.py", "def f():\n    raise KeyboardInterrupt\nf()\n")
    run = same(runner, ["prog.py"])
    assert run.returncode == -signal.SIGINT
    assert [e.value for e in run.trace().events("program_end")] == [128 + signal.SIGINT]


def test_stack_introspection_and_warnings(runner):
    runner.write("prog.py", """
import inspect, sys, traceback, warnings, faulthandler
warnings.simplefilter("always")
def inner():
    print([f.function for f in inspect.stack()])
    print([f.name for f in traceback.extract_stack()])
    warnings.warn("from inner", stacklevel=3)
    with open("dump.txt", "w+") as dump:
        faulthandler.dump_traceback(dump)
        dump.seek(0)
        print(dump.read().split("\\n", 1)[1])  # without the thread id
def outer():
    inner()
outer()
warnings.warn("module level", stacklevel=2)
frame = sys._getframe()
while frame.f_back:
    frame = frame.f_back
print(frame.f_code.co_filename)
""")
    same(runner, ["prog.py"])


@pytest.mark.parametrize("kind", INSTRUMENTERS)
def test_recursion_limit_means_the_same_depth(runner, kind):
    runner.write("prog.py", """
import sys
sys.setrecursionlimit(200)
depth = 0
def down():
    global depth
    depth += 1
    down()
try:
    down()
except RecursionError as error:
    print(depth, error)
""")
    same(runner, ["prog.py"], scorep_options=[f"--instrumenter-type={kind}"])


def test_raising_excepthook(runner):
    runner.write("prog.py", """
import sys
def hook(*args):
    raise RuntimeError("hook fails")
sys.excepthook = hook
raise ValueError("original")
""")
    run = same(runner, ["prog.py"])
    assert "Error in sys.excepthook" in run.stderr


def test_threads_signals_and_fork_look_as_without(runner):
    runner.write("prog.py", """
import os, signal, sys, threading, warnings
warnings.simplefilter("always")
print([t.name for t in threading.enumerate()], threading.active_count())
print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.getsignal(signal.SIGHUP) is signal.SIG_DFL)
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print("forked")
""")
    same(runner, ["prog.py"])


def test_environment_is_the_programs(runner):
    runner.write("prog.py", "import os\nprint(sorted(k for k in os.environ if k.startswith('SCOREP_PYTHON')))")
    run = same(runner, ["prog.py"])
    assert run.stdout == "[]\n"


# ---- signals ----

LONG_C_CALL = """
import os, signal, sys, time
def work():
    return sum(range(10**11))  # a C call that holds the GIL for minutes
def main():
    print("ready", flush=True)
    work()
main()
"""


def signal_when_ready(runner, command, signum, env=None):
    """Start the program, send the signal once it printed ready; returns
    (exit code, seconds from the signal to its end)."""
    process = subprocess.Popen(command, cwd=runner.cwd, env=runner.env(env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.3)
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    return process.returncode, time.monotonic() - sent, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_termination_signal_during_a_long_c_call(runner, signum):
    runner.write("prog.py", LONG_C_CALL)
    code, seconds, err = signal_when_ready(runner, [sys.executable, "-m", "scorep", "prog.py"], signum)
    assert code == -signum, err
    assert err == ""
    assert seconds < 5  # the C call would take minutes
    trace = Run(code, "", err, runner.cwd).trace()
    trace.check_balanced()
    assert trace.call_tree()[("__main__:<module>", "__main__:main", "__main__:work", "builtins:sum")] == 1
    assert [e.value for e in trace.events("program_end")] == [128 + signum]


def test_program_handler_that_reraises_with_sig_dfl(runner):
    runner.write("prog.py", """
import os, signal, sys
def handler(signum, frame):
    print("handled", flush=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
signal.signal(signal.SIGTERM, handler)
def step(i):
    return i
def main():
    for i in range(5):
        step(i)
    os.kill(os.getpid(), signal.SIGTERM)
    print("not reached")
main()
""")
    plain = runner.run("prog.py", scorep=False)
    run = runner.run("prog.py")
    assert (run.returncode, run.stdout, run.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert run.returncode == -signal.SIGTERM
    trace = run.trace()
    trace.check_balanced()
    assert trace.call_tree()[("__main__:<module>", "__main__:main", "__main__:step")] == 5
    assert trace.enter_counts()["__main__:handler"] == 1


def test_sigint_during_a_long_c_call_as_without(runner):
    """Python's own SIGINT handler raises KeyboardInterrupt when the C call
    returns, with and without measurement; with SIG_DFL it ends at once."""
    runner.write("prog.py", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n" + LONG_C_CALL)
    code, seconds, err = signal_when_ready(runner, [sys.executable, "-m", "scorep", "prog.py"], signal.SIGINT)
    assert code == -signal.SIGINT and err == "" and seconds < 5
    trace = Run(code, "", err, runner.cwd).trace()
    trace.check_balanced()
    assert trace.enter_counts()["builtins:sum"] == 1


@pytest.mark.parametrize("ending", ["normal", "keyboard_interrupt"])
def test_ctrl_c_during_finalisation(runner, ending):
    """A Ctrl-C while the results are being written neither prints a
    traceback of ours nor leaves a half-written experiment."""
    runner.write("prog.py", f"""
import sys
def f(i):
    return i
for i in range(400000):
    f(i)
print("done", flush=True)
if {ending == "keyboard_interrupt"!r}:
    raise KeyboardInterrupt
""")
    process = subprocess.Popen([sys.executable, "-m", "scorep", "prog.py"], cwd=runner.cwd,
                               env=runner.env({"SCOREP_ENABLE_PROFILING": "true"}), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "done\n"
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode in (0, -signal.SIGINT)
    if ending == "keyboard_interrupt":
        assert process.returncode == -signal.SIGINT
        assert err.startswith("Traceback") and err.count("Traceback") == 1  # the program's own
        assert err.rstrip().endswith("KeyboardInterrupt")
    else:
        assert err == ""
    assert "scorep" not in err
    run = Run(process.returncode, out, err, runner.cwd)
    trace = run.trace()
    trace.check_balanced()
    assert trace.enter_counts()["__main__:f"] == 400000
    assert profiled_visits(run) == 400000


def profiled_visits(run):
    from helpers.cube_profile import read_profile

    profile = read_profile(run.experiment / "profile.cubex")
    return profile.visits("__main__:<module>", "__main__:f")
