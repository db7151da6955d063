"""Results that cannot be written: a full disk (a small tmpfs, mounted by
the test: CI runs as root), a vanished experiment directory.  The program's
output and exit code stay those of plain Python; each substrate that cannot
write says so in one line naming the file and the cause, stops, and leaves
no half-written files; the others still write theirs."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cube_profile import read_profile
from helpers.disks import fill, tmpfs

PROGRAM = """
import sys
def f(i):
    return i
def main():
    for i in range(300000):
        f(i)
    print("done", flush=True)
main()
sys.stdout.write("buffered output at the end\\n")
sys.exit(3)
"""
PLAIN_STDOUT = "done\nbuffered output at the end\n"
TRACE_FAILED = re.compile(r"^\[Score-P\] error: cannot write the OTF2 trace file '(?P<file>[^']+/traces/\d+\.evt)': "
                          r"No space left on device; the incomplete trace is removed; tracing stopped, the other "
                          r"results are still written$")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: room for scorep.cfg and a profile, not for the trace."""
    with tmpfs(tmp_path / "disk", "2m") as mount:
        yield mount


def run_on(disk: Path, env: dict, runner) -> subprocess.CompletedProcess:
    script = runner.write("prog.py", PROGRAM)
    return subprocess.run([sys.executable, "-m", "scorep", str(script)], cwd=disk, env=runner.env(env),
                          capture_output=True, text=True, timeout=120)


def experiment(disk: Path) -> Path:
    (found,) = [p for p in disk.iterdir() if p.name.startswith("scorep-")]
    return found


def test_a_full_disk_stops_the_trace_and_keeps_the_profile(small_disk, runner):
    plain = subprocess.run([sys.executable, str(runner.write("prog.py", PROGRAM))], capture_output=True, text=True)
    assert (plain.returncode, plain.stdout, plain.stderr) == (3, PLAIN_STDOUT, "")
    done = run_on(small_disk, {"SCOREP_ENABLE_PROFILING": "true"}, runner)
    assert done.returncode == 3 and done.stdout == PLAIN_STDOUT
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and TRACE_FAILED.match(lines[0]), done.stderr
    directory = experiment(small_disk)
    # the incomplete trace is gone, the profile is complete
    assert sorted(p.name for p in directory.iterdir()) == ["profile.cubex", "scorep.cfg"]
    profile = read_profile(directory / "profile.cubex")
    assert profile.visits("__main__:<module>", "__main__:main", "__main__:f") == 300000


def test_a_full_disk_with_tracing_alone(small_disk, runner):
    done = run_on(small_disk, {}, runner)
    assert done.returncode == 3 and done.stdout == PLAIN_STDOUT
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and TRACE_FAILED.match(lines[0]), done.stderr
    assert sorted(p.name for p in experiment(small_disk).iterdir()) == ["scorep.cfg"]


def test_a_disk_too_full_for_the_profile(small_disk, runner):
    fill(small_disk, 8192)  # scorep.cfg fits, the profile does not
    done = run_on(small_disk, {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "false"}, runner)
    assert done.returncode == 3 and done.stdout == PLAIN_STDOUT
    assert re.fullmatch(r"\[Score-P\] error: cannot write '[^']+/profile\.cubex': No space left on device\n",
                        done.stderr), done.stderr
    assert sorted(p.name for p in experiment(small_disk).iterdir()) == ["scorep.cfg"]


def test_the_experiment_directory_vanishes_while_the_program_runs(runner, tmp_path):
    program = """
import shutil, sys
def f(i):
    return i
for i in range(100000):
    f(i)
shutil.rmtree("scorep-measurement-tmp")
for i in range(300000):
    f(i)
print("done")
"""
    runner.write("vanish.py", program)
    done = runner.run("vanish.py", env={"SCOREP_ENABLE_PROFILING": "true"})
    assert done.returncode == 0 and done.stdout == "done\n"
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    # (the trace's open event file still takes what is written; the first
    # file it cannot create names the missing directory; written by the
    # drain thread while the program ends, the line says that tracing stopped)
    assert re.fullmatch(r"\[Score-P\] error: cannot write the OTF2 trace file '[^']+/scorep-measurement-tmp/traces/"
                        r"\d+\.(evt|def)': File or directory does not exist; the incomplete trace is removed"
                        r"(; tracing stopped, the other results are still written)?", lines[0]), lines
    assert re.fullmatch(r"\[Score-P\] error: cannot write '[^']+/scorep-measurement-tmp/profile\.cubex': No such file "
                        r"or directory", lines[1]), lines
    # nothing is left behind or written elsewhere
    assert not any(p.name.startswith("scorep-") for p in tmp_path.iterdir())


def test_a_message_with_a_file_name_that_is_not_utf8(runner, tmp_path):
    """A C message reaches Python intact even when a file name in it is not
    UTF-8 (no codec error instead of the message)."""
    name = os.fsdecode(b"exp-\xff")
    (tmp_path / name).write_text("a file, not a directory")
    runner.write("prog.py", "print('never')\n")
    done = runner.run("prog.py", env={"SCOREP_EXPERIMENT_DIRECTORY": name})
    assert done.returncode == 1 and done.stdout == ""
    assert re.fullmatch(r"scorep: error: invalid value for SCOREP_EXPERIMENT_DIRECTORY: '[^']+/exp-\\xff' exists and "
                        r"is not a directory\n", done.stderr), done.stderr
