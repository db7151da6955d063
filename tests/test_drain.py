"""The drain thread: full event buffers are replayed into trace and profile
in the background while the program runs.  Whatever the timing between the
program's threads and the drain thread, nothing is lost, reordered or
replayed twice."""
from __future__ import annotations

import pytest

from helpers.cube_profile import profiled

SMALL = {"SCOREP_TOTAL_MEMORY": "64k", "SCOREP_PAGE_SIZE": "8k", "SCOREP_ENABLE_PROFILING": "true"}


# the smallest budget holds the definitions and the profile of the program's import of threading
@pytest.mark.parametrize("memory", ["256k", "1M", "16000k"])
def test_complete_under_any_budget(runner, memory):
    run = runner.script("""
import threading
def leaf(i):
    return i
def branch(n):
    for i in range(n):
        leaf(i)
def worker():
    for _ in range(200):
        branch(300)
threads = [threading.Thread(target=worker) for _ in range(3)]
for t in threads:
    t.start()
worker()
for t in threads:
    t.join()
""", env={**SMALL, "SCOREP_TOTAL_MEMORY": memory})
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    trace.check_balanced()
    assert len(trace.locations) == 4
    for loc in trace.locations:
        assert loc.number_of_events == len(loc.events)
        counts = trace.enter_counts(loc)
        assert counts["__main__:branch"] == 200
        assert counts["__main__:leaf"] == 200 * 300
    profile = profiled(run)
    assert profile.region_visits()["__main__:leaf"] == 4 * 200 * 300
    assert profile.region_visits()["__main__:branch"] == 4 * 200


def test_rewind_across_many_chunks_while_draining(runner):
    run = runner.script("""
import scorep.user
def kept():
    pass
def dropped():
    pass
for round in range(20):
    scorep.user.rewind_begin("attempt")
    for _ in range(5000):          # far more than one 8k chunk
        dropped()
    scorep.user.rewind_end("attempt", True)
    kept()
""", env={**SMALL, "SCOREP_TOTAL_MEMORY": "1M"})
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    counts = trace.enter_counts()
    assert counts["__main__:kept"] == 20
    assert "__main__:dropped" not in counts
    modes = [e.mode for e in trace.events("measurement_on_off")]
    assert modes == ["OFF", "ON"] * 20


def test_rewind_of_more_than_fits_keeps_the_events(runner):
    run = runner.script("""
import scorep.user
def dropped():
    pass
scorep.user.rewind_begin("attempt")
for _ in range(20000):             # 40000 events: more than 64 KiB
    dropped()
scorep.user.rewind_end("attempt", True)
print("done")
""", env=SMALL)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    assert "the buffer was flushed since rewind_begin, events are kept" in run.stderr
    trace = run.trace()
    trace.check_balanced()
    assert trace.enter_counts()["__main__:dropped"] == 20000


def test_drain_thread_can_be_switched_off(runner):
    run = runner.script("""
def f():
    pass
for _ in range(100000):
    f()
""", env={**SMALL, "SCOREP_PYTHON_DRAIN_THREAD": "false", "SCOREP_VERBOSE": "true"})
    assert run.returncode == 0, run.stderr
    # the program's own thread had to flush its buffer many times
    assert run.stderr.count("flushing the event buffer") >= 10
    assert run.trace().enter_counts()["__main__:f"] == 100000
