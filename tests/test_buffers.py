"""Event buffers: SCOREP_TOTAL_MEMORY bounds the memory of the per-thread
event buffers; when it is used up, a thread's buffer is flushed to the trace
and the measurement goes on.  Nothing may be lost or reordered by a flush,
and each flush is marked in the trace by an OTF2 BufferFlush record."""
from __future__ import annotations

import os

import pytest

FLUSH = "BufferFlush"   # kind of the OTF2 BufferFlush record in the trace model
# the program's threads flush their own buffers (without the drain thread,
# which would otherwise empty them in the background)
SMALL = {"SCOREP_TOTAL_MEMORY": "64k", "SCOREP_PAGE_SIZE": "8k", "SCOREP_PYTHON_DRAIN_THREAD": "false"}

CALLS = """
def f():
    pass

for _ in range(300000):
    f()
print("done")
"""


def flushes(trace, location=None):
    return [e for e in trace.events(FLUSH, location)]


def check_complete(trace):
    trace.check_balanced()   # nesting and monotonic timestamps on every location
    for loc in trace.locations:
        assert loc.number_of_events == len(loc.events), loc
        for event in loc.events:
            assert trace.global_offset <= event.time <= trace.global_offset + trace.trace_length, (loc, event)


def test_small_memory_flushes_and_loses_nothing(runner):
    run = runner.script(CALLS, env=SMALL)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    assert run.stderr == ""
    trace = run.trace()
    check_complete(trace)
    assert len(trace.locations) == 1
    counts = trace.enter_counts()
    assert counts["__main__:f"] == 300000
    assert trace.call_tree()[("__main__:<module>", "__main__:f")] == 300000
    leaves = sum(1 for e in trace.events("leave") if e.region == "__main__:f")
    assert leaves == 300000
    # 600000 events cannot fit into 64 KiB: the buffer was flushed many times
    # (at 8 bytes per event at least 600000 * 8 / 65536 = 73 times)
    assert len(flushes(trace)) >= 10, len(flushes(trace))
    # the program's own begin/end frame the whole trace
    events = trace.location(0).events
    assert events[0].kind == "program_begin" and events[-1].kind == "program_end"


@pytest.mark.heavy  # the C core's flushes: the same on every Python
def test_flush_count_follows_total_memory(runner):
    small = runner.script(CALLS, env=SMALL)
    assert small.returncode == 0, small.stderr
    small_flushes = len(flushes(small.trace()))
    default = runner.script(CALLS, env={"SCOREP_EXPERIMENT_DIRECTORY": "default-memory",
                                        "SCOREP_PYTHON_DRAIN_THREAD": "false"})
    assert default.returncode == 0, default.stderr
    default_trace = default.trace(runner.cwd / "default-memory")
    check_complete(default_trace)
    assert default_trace.enter_counts()["__main__:f"] == 300000
    assert small_flushes > len(flushes(default_trace)) + 5, (small_flushes, len(flushes(default_trace)))


def test_small_memory_with_threads(runner):
    run = runner.script("""
        import threading

        def f():
            pass

        def worker():
            for _ in range(100000):
                f()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("done")
    """, env=SMALL)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    trace = run.trace()
    check_complete(trace)
    assert len(trace.locations) == 3
    workers = [loc for loc in trace.locations if loc.name != "Master thread"]
    for loc in workers:
        assert trace.enter_counts(loc)["__main__:f"] == 100000, loc
        assert trace.call_tree(loc)[("threading.Thread:run", "__main__:worker", "__main__:f")] == 100000
        assert len(flushes(trace, loc)) >= 1, f"{loc} was never flushed"
    assert trace.enter_counts()["__main__:f"] == 200000


def test_open_regions_survive_flushes(runner):
    # a deep stack stays open while the buffer is flushed again and again
    run = runner.script("""
        import sys
        sys.setrecursionlimit(1000)

        def leaf():
            pass

        def down(n):
            if n:
                down(n - 1)
            else:
                for _ in range(60000):
                    leaf()

        down(150)
    """, env=SMALL)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_complete(trace)
    assert len(flushes(trace)) >= 2
    path = ("__main__:<module>",) + ("__main__:down",) * 151
    tree = trace.call_tree()
    assert tree[path + ("__main__:leaf",)] == 60000
    assert trace.enter_counts()["__main__:down"] == 151


def test_parameters_and_user_regions_across_flushes(runner):
    # extended records (parameters, user regions) around chunk boundaries
    run = runner.script("""
        import scorep.user

        for i in range(20000):
            with scorep.user.region("step"):
                scorep.user.parameter_int("i", i)
                scorep.user.parameter_string("s", "x" * (i % 3))
    """, env=SMALL, options=["--noinstrumenter"])
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_complete(trace)
    assert len(flushes(trace)) >= 2
    assert trace.enter_counts()["user:step"] == 20000
    values = [e.value for e in trace.events("parameter") if e.parameter == "i"]
    assert values == list(range(20000))
    strings = [e.value for e in trace.events("parameter") if e.parameter == "s"]
    assert strings == ["x" * (i % 3) for i in range(20000)]


@pytest.mark.parametrize("memory,page", [
    ("8k", None),          # default page size 8k: needs at least 16k
    ("15k", None),
    ("1k", None),
    ("0", None),
    ("32k", "32k"),
    ("100000", "64k"),
])
def test_total_memory_below_two_pages_is_an_error(runner, memory, page):
    env = {"SCOREP_TOTAL_MEMORY": memory}
    if page:
        env["SCOREP_PAGE_SIZE"] = page
    run = runner.script(CALLS, env=env)
    assert run.returncode != 0
    assert run.stdout == "", "the script must not run"
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "SCOREP_TOTAL_MEMORY" in lines[0]
    assert "Traceback" not in run.stderr
    assert sorted(os.listdir(runner.cwd)) == ["prog.py"], "no experiment directory"


@pytest.mark.parametrize("memory,page", [("16k", None), ("64k", "32k")])
def test_total_memory_of_exactly_two_pages_works(runner, memory, page):
    env = {"SCOREP_TOTAL_MEMORY": memory, "SCOREP_PYTHON_DRAIN_THREAD": "false"}
    if page:
        env["SCOREP_PAGE_SIZE"] = page
    run = runner.script(CALLS.replace("300000", "30000"), env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    trace = run.trace()
    check_complete(trace)
    assert trace.enter_counts()["__main__:f"] == 30000
    assert len(flushes(trace)) >= 1


def test_many_threads_share_small_memory(runner):
    # more threads than the budget has pages: every thread still gets its
    # events into the trace, exactly
    run = runner.script("""
        import threading

        def f():
            pass

        def worker():
            for _ in range(5000):
                f()

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    """, env=SMALL)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_complete(trace)
    workers = [loc for loc in trace.locations if loc.name != "Master thread"]
    assert len(workers) == 20
    assert [trace.enter_counts(loc)["__main__:f"] for loc in workers] == [5000] * 20
    assert len(flushes(trace)) >= 1


def test_flushes_are_reported_only_when_verbose(runner):
    quiet = runner.script(CALLS.replace("300000", "50000"), env=SMALL)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    loud = runner.script(CALLS.replace("300000", "50000"), env=dict(SMALL, SCOREP_VERBOSE="true"))
    assert loud.returncode == 0, loud.stderr
    assert loud.stdout == "done\n"
    assert any("flush" in line.lower() for line in loud.stderr.splitlines()), loud.stderr


def test_a_buffered_enter_or_leave_takes_eight_bytes(runner):
    # the in-memory record of the hot path: one 64-bit word per event
    run = runner.script("""
        import scorep.user
        from scorep import _native

        def f():
            pass

        for _ in range(20000):
            f()
        scorep.user.force_finalize()
        stats = _native.buffer_stats()
        print(stats["events"], stats["record_bytes"])
    """)
    assert run.returncode == 0, run.stderr
    events, record_bytes = map(int, run.stdout.split())
    trace_events = sum(len(loc.events) for loc in run.trace().locations)
    assert events >= 2 * 20000
    # a few records are longer (program start, flushes); the calls are 8 bytes each
    assert 8 * 2 * 20000 <= record_bytes <= 8 * events + 64, (events, record_bytes)
    assert record_bytes / events < 8.05
    assert trace_events >= events
