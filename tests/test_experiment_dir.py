"""The Score-P experiment directory: its name, what it contains, what
happens to an existing one, and the configuration variables that steer it
(including the clock the trace's timestamps come from)."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.otf2_trace import read_trace

PRINT = 'print("script ran")\n'
STAMP = r"\d{8}_\d{4}_\d+"
DEFAULT_NAME = re.compile(rf"scorep-({STAMP})")


def entries(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def read_cfg(directory: Path) -> dict[str, str]:
    """NAME=value lines of scorep.cfg (comments skipped, quotes removed)."""
    values = {}
    for line in (directory / "scorep.cfg").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not a NAME=value line in scorep.cfg: {line!r}"
        assert name not in values, f"{name} listed twice"
        values[name] = " ".join(shlex.split(value))  # shell quoting: "x" or 'x'
    return values


def config_var_names(runner) -> list[str]:
    run = runner.run("--config-vars")
    assert run.returncode == 0, run.stderr
    names = [line.strip() for line in run.stdout.splitlines() if line.startswith("SCOREP_")]
    assert names
    return names


def stamp_range(before: float, after: float) -> set[str]:
    """Every YYYYMMDD_HHMM (local time) from one time.time() value to another."""
    return {time.strftime("%Y%m%d_%H%M", time.localtime(t)) for t in range(int(before) - 1, int(after) + 2)}


# --------------------------------------------------------------------------
# Name and contents

def test_default_name_and_no_tmp_left(runner):
    runner.write("prog.py", PRINT)
    before = time.time()
    run = runner.run("prog.py")
    after = time.time()
    assert run.returncode == 0, run.stderr
    assert run.stdout == "script ran\n"
    assert run.stderr == ""
    found = [p.name for p in run.experiments()]
    assert len(found) == 1, found
    match = DEFAULT_NAME.fullmatch(found[0])
    assert match, found[0]
    assert match.group(1)[:13] in stamp_range(before, after), (found[0], before, after)
    assert not (runner.cwd / "scorep-measurement-tmp").exists()
    assert entries(runner.cwd) == sorted(["prog.py", found[0]])


def test_two_runs_get_two_unique_directories(runner):
    runner.write("prog.py", PRINT)
    for _ in range(2):
        assert runner.run("prog.py").returncode == 0
    names = [p.name for p in Path(runner.cwd).iterdir() if p.name.startswith("scorep-")]
    assert len(names) == 2 and len(set(names)) == 2, names
    assert all(DEFAULT_NAME.fullmatch(name) for name in names), names


def test_tracing_writes_anchor_definitions_and_event_files(runner):
    run = runner.script(PRINT)
    assert run.returncode == 0, run.stderr
    directory = run.experiment
    assert (directory / "traces.otf2").is_file()
    assert (directory / "traces.def").is_file()
    assert (directory / "traces").is_dir()
    assert any(name.endswith(".evt") for name in os.listdir(directory / "traces")), entries(directory / "traces")
    assert (directory / "scorep.cfg").is_file()
    assert set(entries(directory)) <= {"scorep.cfg", "traces.otf2", "traces.def", "traces"}, entries(directory)
    run.trace().check_balanced()


def test_scorep_cfg_lists_every_variable_with_effective_values(runner):
    run = runner.script(PRINT)
    assert run.returncode == 0, run.stderr
    cfg = read_cfg(run.experiment)
    names = config_var_names(runner)
    assert sorted(cfg) == sorted(names)
    # the core variables of Score-P are all there
    for name in ["SCOREP_ENABLE_PROFILING", "SCOREP_ENABLE_TRACING", "SCOREP_VERBOSE", "SCOREP_TOTAL_MEMORY",
                 "SCOREP_PAGE_SIZE", "SCOREP_EXPERIMENT_DIRECTORY", "SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY",
                 "SCOREP_MACHINE_NAME", "SCOREP_FORCE_CFG_FILES", "SCOREP_FILTERING_FILE",
                 "SCOREP_PROFILING_MAX_CALLPATH_DEPTH", "SCOREP_PROFILING_BASE_NAME", "SCOREP_PROFILING_FORMAT",
                 "SCOREP_TIMER"]:
        assert name in cfg, name
    # effective values: defaults parsed, the environment applied
    assert cfg["SCOREP_ENABLE_TRACING"] == "true"
    assert cfg["SCOREP_ENABLE_PROFILING"] == "false"
    assert cfg["SCOREP_VERBOSE"] == "false"
    assert cfg["SCOREP_TOTAL_MEMORY"] == "16384000"          # 16000k
    assert cfg["SCOREP_PAGE_SIZE"] == "8192"                 # 8k
    assert cfg["SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY"] == "true"
    assert cfg["SCOREP_FORCE_CFG_FILES"] == "true"
    assert cfg["SCOREP_PROFILING_MAX_CALLPATH_DEPTH"] == "100"
    assert cfg["SCOREP_PROFILING_BASE_NAME"] == "profile"
    assert cfg["SCOREP_EXPERIMENT_DIRECTORY"] == ""


def test_scorep_cfg_shows_values_set_in_the_environment(runner):
    run = runner.script(PRINT, env={"SCOREP_TOTAL_MEMORY": "3M", "SCOREP_PAGE_SIZE": " 16 kB ",
                                    "SCOREP_VERBOSE": "No", "SCOREP_PROFILING_MAX_CALLPATH_DEPTH": "7",
                                    "SCOREP_MACHINE_NAME": "testbox",
                                    "SCOREP_EXPERIMENT_DIRECTORY": "named"})
    assert run.returncode == 0, run.stderr
    cfg = read_cfg(runner.cwd / "named")
    assert cfg["SCOREP_TOTAL_MEMORY"] == str(3 * 1024 * 1024)
    assert cfg["SCOREP_PAGE_SIZE"] == str(16 * 1024)
    assert cfg["SCOREP_VERBOSE"] == "false"
    assert cfg["SCOREP_PROFILING_MAX_CALLPATH_DEPTH"] == "7"
    assert cfg["SCOREP_MACHINE_NAME"] == "testbox"
    assert cfg["SCOREP_EXPERIMENT_DIRECTORY"] == "named"


def test_scorep_cfg_can_be_sourced_by_a_shell(runner):
    # Score-P writes scorep.cfg "suitable for shell consumption"
    run = runner.script(PRINT, env={"SCOREP_MACHINE_NAME": "my machine"})
    assert run.returncode == 0, run.stderr
    cfg_file = run.experiment / "scorep.cfg"
    shell = subprocess.run(["sh", "-c", f'set -e; . "{cfg_file}"; echo "$SCOREP_MACHINE_NAME|$SCOREP_TOTAL_MEMORY"'],
                           capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")})
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout == "my machine|16384000\n"


def test_scorep_cfg_quotes_strings_safely_for_the_shell(runner):
    # Score-P single-quotes string values (escaping ' and !), so sourcing
    # scorep.cfg gives back exactly the value and never runs anything.
    tricky = "it's \"$HOME\" `echo INJECTED` \\ ! $(echo INJECTED)"
    run = runner.script(PRINT, env={"SCOREP_MACHINE_NAME": tricky})
    assert run.returncode == 0, run.stderr
    cfg_file = run.experiment / "scorep.cfg"
    shell = subprocess.run(["sh", "-c", f'. "{cfg_file}" && printf "%s" "$SCOREP_MACHINE_NAME"'],
                           capture_output=True, text=True, env={"PATH": os.environ.get("PATH", ""), "HOME": "/home"})
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout == tricky, (shell.stdout, [line for line in cfg_file.read_text().splitlines()
                                                   if line.startswith("SCOREP_MACHINE_NAME")])


# --------------------------------------------------------------------------
# SCOREP_EXPERIMENT_DIRECTORY

@pytest.mark.parametrize("name", ["exp", "a/b/c", "exp/"])
def test_named_relative_directory(runner, name):
    run = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": name})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "script ran\n"
    assert run.stderr == ""
    directory = runner.cwd / name
    assert directory.is_dir()
    assert not run.experiments(), "no scorep-* directory besides the named one"
    trace = run.trace(directory)
    trace.check_balanced()
    assert trace.enter_counts()["builtins:print"] == 1
    assert read_cfg(directory)["SCOREP_EXPERIMENT_DIRECTORY"] == name


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_directory_name_means_the_default(runner, value):
    run = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": value})
    assert run.returncode == 0, run.stderr
    assert DEFAULT_NAME.fullmatch(run.experiment.name)
    assert not (runner.cwd / "scorep-measurement-tmp").exists()


def test_named_absolute_directory(runner, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "deep" / "exp"
    run = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": str(elsewhere)})
    assert run.returncode == 0, run.stderr
    assert elsewhere.is_dir()
    assert entries(runner.cwd) == ["prog.py"]
    run.trace(elsewhere).check_balanced()


def test_relative_directory_is_relative_to_the_start_directory(runner):
    # the script changing its working directory does not move the experiment
    (runner.cwd / "sub").mkdir()
    for env in ({}, {"SCOREP_EXPERIMENT_DIRECTORY": "rel"}):
        run = runner.script('import os\nos.chdir("sub")\nprint("script ran")\n', env=env)
        assert run.returncode == 0, run.stderr
        assert entries(runner.cwd / "sub") == []
    assert (runner.cwd / "rel" / "traces.otf2").is_file()
    assert len([p for p in runner.cwd.iterdir() if p.name.startswith("scorep-")]) == 1


def test_existing_directory_is_renamed_with_its_modification_time(runner):
    old = runner.cwd / "exp"
    old.mkdir()
    (old / "marker.txt").write_text("old content")
    (old / "scorep.cfg").write_text("# from an earlier run\n")
    when = time.mktime((2001, 2, 3, 4, 5, 6, 0, 0, -1))   # local time
    os.utime(old, (when, when))

    run = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": "exp"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "script ran\n"
    assert run.stderr == ""
    moved = [p for p in runner.cwd.iterdir() if p.name.startswith("exp-")]
    assert len(moved) == 1, entries(runner.cwd)
    assert re.fullmatch(r"exp-20010203_0405_\d+", moved[0].name), moved[0].name
    assert (moved[0] / "marker.txt").read_text() == "old content"
    assert (moved[0] / "scorep.cfg").read_text() == "# from an earlier run\n"
    # a fresh directory with the new results
    assert not (old / "marker.txt").exists()
    run.trace(old).check_balanced()


def test_repeated_runs_keep_every_old_directory(runner):
    runner.write("prog.py", PRINT)
    for _ in range(3):
        run = runner.run("prog.py", env={"SCOREP_EXPERIMENT_DIRECTORY": "exp"})
        assert run.returncode == 0, run.stderr
    moved = sorted(p.name for p in runner.cwd.iterdir() if p.name.startswith("exp-"))
    assert len(moved) == 2, entries(runner.cwd)
    assert all(re.fullmatch(rf"exp-{STAMP}", name) for name in moved), moved
    for name in moved + ["exp"]:
        assert (runner.cwd / name / "traces.otf2").is_file(), name


@pytest.mark.parametrize("overwrite", ["false", "no", "0"])
def test_existing_directory_without_overwrite_is_an_error(runner, overwrite):
    old = runner.cwd / "exp"
    old.mkdir()
    (old / "marker.txt").write_text("old content")
    when = time.time() - 3600
    os.utime(old, (when, when))

    run = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": "exp",
                                    "SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY": overwrite})
    assert run.returncode != 0
    assert run.stdout == "", "the script must not run"
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY" in lines[0]
    assert str(old) in lines[0] or "'exp'" in lines[0], lines[0]
    # untouched
    assert entries(runner.cwd) == ["exp", "prog.py"]
    assert entries(old) == ["marker.txt"]
    assert (old / "marker.txt").read_text() == "old content"
    assert abs(old.stat().st_mtime - when) < 1


def test_named_path_that_is_a_file_is_an_error(runner):
    (runner.cwd / "exp").write_text("not a directory")
    run = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": "exp"})
    assert run.returncode != 0
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert str(runner.cwd / "exp") in lines[0] or "'exp'" in lines[0], lines[0]
    assert (runner.cwd / "exp").read_text() == "not a directory"
    assert entries(runner.cwd) == ["exp", "prog.py"]


def test_named_path_below_a_file_is_an_error(runner):
    (runner.cwd / "afile").write_text("x")
    run = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": "afile/exp"})
    assert run.returncode != 0
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "afile/exp" in lines[0]
    assert "Traceback" not in run.stderr


# --------------------------------------------------------------------------
# Left over from a crashed run

def test_leftover_tmp_directory_is_renamed_to_failed(runner):
    leftover = runner.cwd / "scorep-measurement-tmp"
    leftover.mkdir()
    (leftover / "scorep.cfg").write_text("# crashed\n")
    run = runner.script(PRINT)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "script ran\n"
    failed = [p for p in runner.cwd.iterdir() if p.name.startswith("scorep-failed-")]
    assert len(failed) == 1, entries(runner.cwd)
    # said, not done silently
    assert run.stderr == ("[Score-P] an experiment directory left by a run that did not finish was moved to "
                          f"'{failed[0]}'\n")
    assert re.fullmatch(rf"scorep-failed-{STAMP}", failed[0].name), failed[0].name
    assert (failed[0] / "scorep.cfg").read_text() == "# crashed\n"
    assert not leftover.exists()
    assert DEFAULT_NAME.fullmatch(run.experiment.name)
    run.trace().check_balanced()


def test_killed_run_leaves_tmp_with_cfg_and_next_run_moves_it_away(runner):
    killed = runner.script('import os, signal\nprint("dying", flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n')
    assert killed.returncode == -signal.SIGKILL
    leftover = runner.cwd / "scorep-measurement-tmp"
    assert leftover.is_dir()
    # scorep.cfg is written at the start, so it survives the crash
    assert read_cfg(leftover)["SCOREP_ENABLE_TRACING"] == "true"

    run = runner.script(PRINT, name="second.py")
    assert run.returncode == 0, run.stderr
    assert not leftover.exists()
    failed = [p for p in runner.cwd.iterdir() if p.name.startswith("scorep-failed-")]
    assert len(failed) == 1
    assert (failed[0] / "scorep.cfg").is_file()
    trace = run.trace()
    trace.check_balanced()
    assert trace.enter_counts()["builtins:print"] == 1


# --------------------------------------------------------------------------
# Nothing to write

def test_tracing_and_profiling_off_still_writes_cfg(runner):
    run = runner.script(PRINT, tracing=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "script ran\n"
    directory = run.experiment
    assert DEFAULT_NAME.fullmatch(directory.name)
    assert entries(directory) == ["scorep.cfg"]
    assert read_cfg(directory)["SCOREP_ENABLE_TRACING"] == "false"


def test_force_cfg_files_false_with_nothing_to_write_creates_no_directory(runner):
    for env in ({"SCOREP_FORCE_CFG_FILES": "false"},
                {"SCOREP_FORCE_CFG_FILES": "false", "SCOREP_EXPERIMENT_DIRECTORY": "named"}):
        run = runner.script(PRINT, tracing=False, env=env)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "script ran\n"
        assert run.stderr == ""
        assert entries(runner.cwd) == ["prog.py"]


def test_force_cfg_files_false_with_tracing_still_writes(runner):
    run = runner.script(PRINT, env={"SCOREP_FORCE_CFG_FILES": "false"})
    assert run.returncode == 0, run.stderr
    assert (run.experiment / "traces.otf2").is_file()
    assert (run.experiment / "scorep.cfg").is_file()


# --------------------------------------------------------------------------
# Configuration values

@pytest.mark.parametrize("name,value", [
    ("SCOREP_ENABLE_TRACING", "maybe"),
    ("SCOREP_ENABLE_PROFILING", "tru"),
    ("SCOREP_VERBOSE", "2x"),
    ("SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY", "nope"),
    ("SCOREP_FORCE_CFG_FILES", "1.0"),
    ("SCOREP_FORCE_CFG_FILES", "0x1"),
    ("SCOREP_TOTAL_MEMORY", "12Q"),
    ("SCOREP_TOTAL_MEMORY", "-5M"),
    ("SCOREP_TOTAL_MEMORY", "lots"),
    ("SCOREP_TOTAL_MEMORY", "16000kk"),
    ("SCOREP_TOTAL_MEMORY", "1.5M"),
    ("SCOREP_TOTAL_MEMORY", "16E"),                   # 2**64: too big
    ("SCOREP_TOTAL_MEMORY", "99999999999999999999"),
    ("SCOREP_PAGE_SIZE", "8 k b"),
    ("SCOREP_PROFILING_MAX_CALLPATH_DEPTH", "-1"),
    ("SCOREP_PROFILING_MAX_CALLPATH_DEPTH", "10k"),
    ("SCOREP_PROFILING_MAX_CALLPATH_DEPTH", "deep"),
    ("SCOREP_TIMER", "sundial"),
    ("SCOREP_PROFILING_FORMAT", "xml"),
])
def test_bad_value_is_a_one_line_error_and_nothing_runs(runner, name, value):
    run = runner.script(PRINT, env={name: value})
    assert run.returncode != 0
    assert run.stdout == "", "the script must not run"
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert name in lines[0]
    assert value in lines[0]
    assert "Traceback" not in run.stderr
    assert entries(runner.cwd) == ["prog.py"], "no experiment directory"


@pytest.mark.parametrize("name,value,expected", [
    ("SCOREP_TOTAL_MEMORY", "16000k", 16000 * 1024),
    ("SCOREP_TOTAL_MEMORY", "1 M", 1024 ** 2),
    ("SCOREP_TOTAL_MEMORY", "2Gb", 2 * 1024 ** 3),
    ("SCOREP_TOTAL_MEMORY", "65536", 65536),
    ("SCOREP_TOTAL_MEMORY", "64KB", 65536),
    ("SCOREP_TOTAL_MEMORY", " 3m ", 3 * 1024 ** 2),
    ("SCOREP_TOTAL_MEMORY", "16000 kB", 16000 * 1024),
    ("SCOREP_PAGE_SIZE", "4096b", 4096),
    ("SCOREP_PAGE_SIZE", "4096", 4096),
    ("SCOREP_PAGE_SIZE", "8k", 8192),
    ("SCOREP_PAGE_SIZE", "16 KB", 16384),
])
def test_size_spellings(runner, name, value, expected):
    # (larger spellings, beyond this machine's memory: tests/test_bad_input.py)
    run = runner.script(PRINT, env={name: value})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "script ran\n"
    assert run.stderr == ""
    assert read_cfg(run.experiment)[name] == str(expected)
    run.trace().check_balanced()


@pytest.mark.parametrize("value,expected", [
    ("true", True), ("yes", True), ("ON", True), ("On", True), ("TRUE", True), ("1", True), ("42", True),
    ("false", False), ("no", False), ("off", False), ("OFF", False), ("0", False), ("", False), (" yes ", True),
    # Score-P reads any integer (strtol) as a boolean: non-zero is true
    ("00", False), ("-1", True), ("+1", True),
])
def test_boolean_spellings(runner, value, expected):
    run = runner.script(PRINT, env={"SCOREP_ENABLE_TRACING": value})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "script ran\n"
    assert run.stderr == ""
    directory = run.experiment
    assert read_cfg(directory)["SCOREP_ENABLE_TRACING"] == ("true" if expected else "false")
    assert (directory / "traces.otf2").exists() == expected
    if not expected:
        assert entries(directory) == ["scorep.cfg"]


# --------------------------------------------------------------------------
# The clock

SLEEP = """
import time
time.sleep(0.3)
"""


def check_clock(trace):
    trace.check_balanced()
    (ticks,) = trace.durations("time:sleep")
    assert 0.29 <= trace.seconds(ticks) <= 1.0, trace.seconds(ticks)
    assert trace.trace_length / trace.timer_resolution >= 0.3
    assert trace.trace_length / trace.timer_resolution < 5
    events = trace.events()
    assert events
    for event in events:
        assert trace.global_offset <= event.time, event
        assert event.time <= trace.global_offset + trace.trace_length, event


def test_clock_default_timer(runner):
    run = runner.script(SLEEP)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_clock(trace)
    assert trace.timer_resolution >= 10 ** 6


@pytest.mark.parametrize("timer", ["clock_gettime", "CLOCK_GETTIME", "gettimeofday"])
def test_clock_nanosecond_timers(runner, timer):
    run = runner.script(SLEEP, env={"SCOREP_TIMER": timer})
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    trace = run.trace()
    assert trace.timer_resolution == 10 ** 9
    check_clock(trace)


def test_clock_tsc_when_available(runner):
    run = runner.script(SLEEP, env={"SCOREP_TIMER": "tsc"})
    if run.returncode != 0:
        lines = run.stderr.splitlines()
        assert len(lines) == 1 and "SCOREP_TIMER" in lines[0], run.stderr
        assert entries(runner.cwd) == ["prog.py"]
        pytest.skip("no usable TSC here: " + lines[0])
    trace = run.trace()
    check_clock(trace)
    assert trace.timer_resolution >= 10 ** 8


# --------------------------------------------------------------------------
# Concurrent runs

SLOW = """
import time
def tick(i):
    return i
for i in range(30):
    tick(i)
    time.sleep(0.02)
print("done")
"""


def start(runner, name, env=None):
    return subprocess.Popen([sys.executable, "-m", "scorep", name], cwd=runner.cwd, env=runner.env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_runs_in_one_directory_each_write_their_own(runner):
    runner.write("slow.py", SLOW)
    processes = [start(runner, "slow.py") for _ in range(4)]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, results
    assert all(out == "done\n" and err == "" for out, err in results), results
    done = [p for p in runner.cwd.iterdir() if DEFAULT_NAME.fullmatch(p.name)]
    assert len(done) == 4, entries(runner.cwd)
    assert not [p for p in runner.cwd.iterdir() if p.name.startswith(("scorep-failed-", "scorep-measurement-tmp"))]
    for directory in done:
        trace = read_trace(directory / "traces.otf2")
        trace.check_balanced()
        assert trace.enter_counts()["__main__:tick"] == 30


def test_a_named_directory_a_live_run_writes_is_refused(runner):
    runner.write("slow.py", SLOW)
    first = start(runner, "slow.py", {"SCOREP_EXPERIMENT_DIRECTORY": "exp"})
    for _ in range(200):  # until the first run holds exp
        if (runner.cwd / "exp" / "scorep.cfg").exists():
            break
        time.sleep(0.01)
    second = runner.script(PRINT, env={"SCOREP_EXPERIMENT_DIRECTORY": "exp"})
    out, err = first.communicate(timeout=120)
    assert second.returncode == 1 and second.stdout == ""
    assert second.stderr == (f"scorep: error: experiment directory '{runner.cwd / 'exp'}' is being written by another "
                             "measurement that is still running; set SCOREP_EXPERIMENT_DIRECTORY to another "
                             "directory\n")
    assert first.returncode == 0 and out == "done\n" and err == ""
    assert read_trace(runner.cwd / "exp" / "traces.otf2").enter_counts()["__main__:tick"] == 30
    assert entries(runner.cwd) == ["exp", "prog.py", "slow.py"]


@pytest.mark.parametrize("target", ["cwd", "parent", "project"])
def test_a_directory_that_is_no_experiment_is_left_alone(runner, target):
    project = runner.cwd / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "code.py").write_text("x = 1\n")
    work = project / "src"
    runner.write("project/src/prog.py", PRINT)
    directory = {"cwd": work, "parent": project, "project": project}[target]
    cwd = work if target != "project" else runner.cwd
    done = subprocess.run([sys.executable, "-m", "scorep", str(work / "prog.py")], cwd=cwd,
                          env=runner.env({"SCOREP_EXPERIMENT_DIRECTORY": str(directory)}), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "is not an experiment directory" in done.stderr
    assert f"'{directory}'" in done.stderr
    assert sorted(os.listdir(project / "src")) == ["code.py", "prog.py"]
    assert sorted(os.listdir(project)) == ["src"]
