"""``python -m scorep.report``: the terminal summary of a profile."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.pardir, "shared",
                       "reference", "samples")

PROGRAM = """
import threading, time

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def hot():
    spin(0.15)

def cold():
    spin(0.01)

def worker():
    for _ in range(3):
        hot()

for _ in range(2):
    hot()
cold()
t = threading.Thread(target=worker, name="worker")
t.start(); t.join()
"""


def report(*args):
    # run outside the checkout, so that the installed package is used
    return subprocess.run([sys.executable, "-m", "scorep.report", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir())


def rows(text, header):
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header)) + 2
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


def test_summary_of_a_profile(runner):
    run = runner.script(PROGRAM, env={"SCOREP_ENABLE_PROFILING": "true"}, tracing=False, options=["--no-c-calls"])
    assert run.returncode == 0, run.stderr
    # the program imports threading while measured: its import's many regions come first by
    # exclusive time, before cold (which only calls spin)
    done = report(run.experiment, "--top", "1000", "--threads")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    text = done.stdout
    assert "locations: 2" in text
    top = rows(text, "Top ")
    # spin() does the work; it is reached from hot (5x) and cold (1x)
    name, visits = top[0].split()[:2]
    assert name == "__main__:spin" and visits == "6"
    by_name = {line.split()[0]: line for line in top}
    assert by_name["__main__:hot"].split()[1] == "5"
    assert by_name["__main__:cold"].split()[1] == "1"
    # the call tree shows the hot path and hides the cold one below 1%... of its share
    tree = text.split("Call tree")[1].split("Process /")[0]
    assert "__main__:hot" in tree and "threading.Thread:run" in tree
    # per-thread sections
    assert "Process / Master thread" in text
    assert "Process / worker" in text  # the location carries the Thread.name
    worker = text.split("Process / worker")[1]
    assert "__main__:worker" in worker and "__main__:cold" not in worker


def test_reads_score_p_profiles():
    if not os.path.isdir(SAMPLES):
        pytest.skip("the Score-P sample profiles (shared/reference/samples) are not beside this checkout")
    done = report(os.path.join(SAMPLES, "scorep-8.4-serial-profile.cubex"), "--top", "3")
    assert done.returncode == 0, done.stderr
    top = rows(done.stdout, "Top 3 regions")
    assert [line.split()[0] for line in top] == ["a3", "a2", "a1"]
    assert top[0].split()[1] == "3"
    assert "30.000 s" in top[0]
    done = report(os.path.join(SAMPLES, "scorep-9.0-mpi4-profile.cubex"), "--top", "1")
    assert done.returncode == 0, done.stderr
    assert "locations: 4" in done.stdout
    assert rows(done.stdout, "Top 1 regions")[0].startswith("MPI_Init ")


def test_errors_are_one_line(tmp_path):
    done = report(tmp_path / "missing")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "missing" in done.stderr
    (tmp_path / "empty").mkdir()
    done = report(tmp_path / "empty")
    assert done.returncode == 1 and "no .cubex profile" in done.stderr
    (tmp_path / "bad.cubex").write_text("not a tar")
    done = report(tmp_path / "bad.cubex")
    assert done.returncode == 1 and "not a CUBE4 profile" in done.stderr
