"""SCOREP_TOTAL_MEMORY bounds the measurement: event buffers are flushed
when it is used up, so a long run stays flat in memory with a complete
trace; definitions and profile are accounted too."""
from __future__ import annotations

import pytest

import json
import os
import subprocess
import sys

LOOP = """
import sys
def tick():
    pass
for _ in range(int(sys.argv[1])):
    tick()
"""


def peak_rss_kb(runner, calls, extra_env):
    """Run the loop in a child and return (its peak RSS in kB, the run)."""
    runner.write("prog.py", LOOP)
    wrapper = runner.write("measure.py", """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)
""")
    env = runner.env(extra_env)
    done = subprocess.run([sys.executable, str(wrapper), sys.executable, "-m", "scorep", "prog.py", str(calls)],
                          cwd=runner.cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.heavy  # the C core's buffers over a long run: the same on every Python
def test_long_run_stays_flat_and_complete(runner):
    env = {"SCOREP_TOTAL_MEMORY": "1M", "SCOREP_ENABLE_PROFILING": "true"}
    short = peak_rss_kb(runner, 200_000, env)
    for path in runner.cwd.glob("scorep-*"):
        import shutil
        shutil.rmtree(path)
    long_ = peak_rss_kb(runner, 3_000_000, env)
    # 15x the events, the same memory (a little slack for the allocator)
    assert long_ - short < 8 * 1024, (short, long_)
    # the 6 million events are checked in a child process, so that this test
    # process does not grow (later tests measure the peak memory of children)
    check = subprocess.run([sys.executable, "-c", """
import glob, json, sys
sys.path.insert(0, sys.argv[1])
from helpers.otf2_trace import read_trace
trace = read_trace(glob.glob("scorep-2*")[0])
trace.check_balanced()
print(json.dumps([trace.enter_counts()["__main__:tick"], len(trace.events("BufferFlush"))]))
""", os.path.dirname(os.path.abspath(__file__))], cwd=runner.cwd, capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stderr
    ticks, flushes = json.loads(check.stdout)
    assert ticks == 3_000_000
    assert flushes >= 10


def test_definitions_beyond_the_budget_stop_recording_cleanly(runner):
    run = runner.script("""
src = "\\n".join(f"def f{i}():\\n    return {i}\\n" for i in range(20000))
ns = {"__name__": "generated"}
exec(src, ns)
print(sum(ns[f"f{i}"]() for i in range(20000)))
""", env={"SCOREP_TOTAL_MEMORY": "512k", "SCOREP_ENABLE_PROFILING": "true"})
    assert run.returncode == 0
    assert run.stdout == "199990000\n"
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "SCOREP_TOTAL_MEMORY" in lines[0] and "recording stopped" in lines[0]
    trace = run.trace()
    trace.check_balanced()
    counts = trace.enter_counts()
    recorded = sum(n for name, n in counts.items() if name.startswith("generated:f"))
    assert 100 < recorded < 20000
    assert (run.experiment / "profile.cubex").is_file()
    assert not list(run.experiment.glob("*.tmp"))
