"""Threads: every Python thread records into its own OTF2 location.

All locations are CPU_THREAD locations of the one PROCESS location group; the
thread that runs the script is the location named "Master thread".  A worker
started through ``threading`` has ``threading.Thread:run`` (or the run method
of a Thread subclass) as the outer region of its work.
"""
from __future__ import annotations

import collections

import sys

import pytest

from conftest import EVAL_ONLY

MASTER = "Master thread"


def check_trace(trace):
    """Checks every threaded trace must pass: balanced, monotonic, one
    process, CPU_THREAD locations, declared event counts right, every event
    inside the clock properties' interval."""
    trace.check_balanced()
    assert len({loc.group for loc in trace.locations}) == 1, trace.locations
    assert sum(loc.name == MASTER for loc in trace.locations) == 1, trace.locations
    names = [loc.name for loc in trace.locations]
    assert len(set(names)) == len(names), f"location names not unique: {names}"
    for loc in trace.locations:
        assert loc.type == "CPU_THREAD", loc
        assert loc.group_type == "PROCESS", loc
        assert loc.number_of_events == len(loc.events), loc
        for event in loc.events:
            assert trace.global_offset <= event.time <= trace.global_offset + trace.trace_length, (loc, event)


def workers(trace):
    return [loc for loc in trace.locations if loc.name != MASTER]


def paths_ending_in(trace, region, location=None):
    return {path: n for path, n in trace.call_tree(location).items() if path[-1] == region}


CONCURRENT = """
import threading

COUNTS = (3, 5, 7, 11)
barrier = threading.Barrier(len(COUNTS))

def work(n):
    return n * 2

def worker(k):
    barrier.wait()          # all threads alive at once
    for i in range(k):
        work(i)
    barrier.wait()

threads = [threading.Thread(target=worker, args=(k,)) for k in COUNTS]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
"""


@pytest.mark.parametrize("options", [[], ["--instrumenter-type=trace"],
                                     pytest.param(["--instrumenter-type=eval"], marks=EVAL_ONLY)],
                         ids=["default", "trace", "eval"])
def test_each_thread_has_its_own_location_with_exact_counts(runner, options):
    run = runner.script(CONCURRENT, options=options)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    assert run.stderr == ""
    trace = run.trace()
    check_trace(trace)

    # master + one location per thread, nothing else
    assert len(trace.locations) == 1 + 4, [loc.name for loc in trace.locations]
    master = trace.location(MASTER)
    assert trace.locations[0] is master
    assert trace.enter_counts(master)["__main__:work"] == 0
    assert trace.enter_counts(master)["__main__:<module>"] == 1

    per_location = sorted(trace.enter_counts(loc)["__main__:work"] for loc in workers(trace))
    assert per_location == [3, 5, 7, 11]
    for loc in workers(trace):
        counts = trace.enter_counts(loc)
        k = counts["__main__:work"]
        tree = trace.call_tree(loc)
        assert counts["threading.Thread:run"] == 1, trace.format_call_tree(loc)
        assert counts["__main__:worker"] == 1
        # run is an outer region; worker nested in it, work in worker
        assert tree[("threading.Thread:run",)] == 1, trace.format_call_tree(loc)
        assert tree[("threading.Thread:run", "__main__:worker")] == 1
        assert tree[("threading.Thread:run", "__main__:worker", "__main__:work")] == k
        assert paths_ending_in(trace, "__main__:work", loc) == {
            ("threading.Thread:run", "__main__:worker", "__main__:work"): k}
        # the script's module frame belongs to the master only
        assert counts["__main__:<module>"] == 0
    assert trace.enter_counts()["__main__:work"] == 26


def test_sequential_threads_each_get_a_new_location(runner):
    # Threads started one after the other may be given the same thread ident
    # (pthread_t) by the C library: still, each is a thread of its own.
    run = runner.script("""
        import threading

        def work():
            pass

        def worker(k):
            for _ in range(k):
                work()

        idents = []
        for k in (1, 2, 3, 4):
            t = threading.Thread(target=worker, args=(k,))
            t.start()
            t.join()
            idents.append(t.ident)
        print(len(set(idents)), "distinct idents")
    """)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_trace(trace)
    summary = [(loc.name, trace.enter_counts(loc)["__main__:work"], trace.enter_counts(loc)["threading.Thread:run"])
               for loc in trace.locations]
    assert len(trace.locations) == 5, f"{run.stdout.strip()}; locations (name, work calls, runs): {summary}"
    assert sorted(trace.enter_counts(loc)["__main__:work"] for loc in workers(trace)) == [1, 2, 3, 4], summary
    for loc in workers(trace):
        assert trace.enter_counts(loc)["threading.Thread:run"] == 1, summary


def test_threads_started_by_threads(runner):
    run = runner.script("""
        import threading

        def leaf():
            return 1

        def inner():
            leaf()

        def outer():
            t = threading.Thread(target=inner)
            t.start()
            t.join()
            leaf()

        t = threading.Thread(target=outer)
        t.start()
        t.join()
    """)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_trace(trace)
    assert len(trace.locations) == 3
    tree = trace.call_tree()
    assert tree[("threading.Thread:run", "__main__:outer", "__main__:leaf")] == 1, trace.format_call_tree()
    assert tree[("threading.Thread:run", "__main__:inner", "__main__:leaf")] == 1
    (outer,) = [loc for loc in workers(trace) if trace.enter_counts(loc)["__main__:outer"]]
    (inner,) = [loc for loc in workers(trace) if trace.enter_counts(loc)["__main__:inner"]]
    assert outer is not inner
    assert trace.enter_counts(outer)["__main__:inner"] == 0
    assert trace.enter_counts(inner)["__main__:outer"] == 0


def test_force_finalize_with_threads(runner):
    # threads after force_finalize run unmeasured; the experiment is complete
    run = runner.script("""
        import threading, scorep.user

        def work():
            return 1

        def worker():
            work()

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        scorep.user.force_finalize()
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        print("after")
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "after\n"
    assert run.stderr == ""
    trace = run.trace()
    check_trace(trace)
    assert len(trace.locations) == 2
    assert trace.enter_counts()["__main__:work"] == 1


def test_thread_subclass_run_method_is_the_outer_region(runner):
    run = runner.script("""
        import threading

        class Worker(threading.Thread):
            def run(self):
                for _ in range(3):
                    self.step()

            def step(self):
                return 1

        w = Worker()
        w.start()
        w.join()
    """)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_trace(trace)
    (loc,) = workers(trace)
    tree = trace.call_tree(loc)
    assert tree[("__main__.Worker:run",)] == 1, trace.format_call_tree(loc)
    assert tree[("__main__.Worker:run", "__main__.Worker:step")] == 3
    assert trace.enter_counts(MASTER)["__main__.Worker:step"] == 0


def test_thread_pool_executor(runner):
    run = runner.script("""
        from concurrent.futures import ThreadPoolExecutor

        def square(x):
            return x * x

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(square, range(250)))
        print(sum(results))
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{sum(x * x for x in range(250))}\n"
    trace = run.trace()
    check_trace(trace)
    pool_locations = workers(trace)
    assert 1 <= len(pool_locations) <= 4, [loc.name for loc in trace.locations]
    # every pool thread ran Python code, so it has a location, and ran square
    # only below threading.Thread:run
    assert trace.enter_counts(MASTER)["__main__:square"] == 0
    total = 0
    for loc in pool_locations:
        counts = trace.enter_counts(loc)
        assert counts["threading.Thread:run"] == 1, trace.format_call_tree(loc)
        for path in paths_ending_in(trace, "__main__:square", loc):
            assert path[0] == "threading.Thread:run", path
        total += counts["__main__:square"]
    assert total == 250
    assert trace.enter_counts()["__main__:square"] == 250


def test_thread_running_before_instrumenter_is_switched_on(runner):
    """--noinstrumenter, then ``with scorep.instrumenter.enable()`` in the
    main thread.  As in the original bindings (sys.setprofile +
    threading.setprofile), switching the instrumenter on covers the calling
    thread and threads started from then on; a thread that was already
    running is not instrumented, so its calls are not recorded and it gets no
    location.  (``scorep.register()`` differs: see the next test.)"""
    run = runner.script("""
        import threading
        import scorep.instrumenter

        started = threading.Event()
        go = threading.Event()

        def work(n):
            return n + 1

        def early():
            started.set()
            go.wait()
            for i in range(4):
                work(i)

        def late():
            for i in range(2):
                work(i)

        t = threading.Thread(target=early)
        t.start()
        started.wait()
        with scorep.instrumenter.enable():
            go.set()
            t.join()
            l = threading.Thread(target=late)
            l.start()
            l.join()
            work(0)
        work(1)       # instrumenter off again
        print("ok")
    """, options=["--noinstrumenter"])
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ok\n"
    assert run.stderr == ""
    trace = run.trace()
    check_trace(trace)
    assert trace.enter_counts(MASTER)["__main__:work"] == 1
    assert trace.enter_counts(MASTER)["__main__:<module>"] == 0
    assert "__main__:early" not in trace.enter_counts()
    # the thread started while the instrumenter was on is recorded in full
    (late,) = workers(trace)
    tree = trace.call_tree(late)
    assert tree[("threading.Thread:run", "__main__:late", "__main__:work")] == 2, trace.format_call_tree(late)
    assert trace.enter_counts()["__main__:work"] == 3


def test_register_picks_up_threads_already_running(runner):
    """``scorep.register()`` in a plain ``python`` run starts the measurement
    and instruments every thread, including one that was already running."""
    runner.write("prog.py", """
import threading

started = threading.Event()
go = threading.Event()

def work(n):
    return n + 1

def early():
    started.set()
    go.wait()
    for i in range(4):
        work(i)

t = threading.Thread(target=early)
t.start()
started.wait()

import scorep
scorep.register()
go.set()
t.join()
work(0)
print("ok")
""")
    run = runner.run("prog.py", scorep=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ok\n"
    trace = run.trace()
    check_trace(trace)
    assert trace.enter_counts(MASTER)["__main__:work"] == 1
    (early,) = workers(trace)
    assert trace.enter_counts(early)["__main__:work"] == 4


THREAD_USER_API = """
import threading
import scorep.user

N = 3
barrier = threading.Barrier(N)

def work():
    pass

def worker(idx):
    barrier.wait()
    with scorep.user.region(f"job{idx}"):
        PARAMETERS
        for _ in range(idx + 1):
            work()
    barrier.wait()

threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with scorep.user.region("main"):
    PARAMETERS_MAIN
"""


def _job_location(trace, idx):
    owners = [loc for loc in trace.locations if trace.enter_counts(loc)[f"user:job{idx}"]]
    assert len(owners) == 1, f"user:job{idx} on {[loc.name for loc in owners]}"
    return owners[0]


def test_user_regions_from_threads_land_on_their_thread(runner):
    script = THREAD_USER_API.replace("PARAMETERS_MAIN", "work()").replace("PARAMETERS", "pass")
    run = runner.script(script)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    trace = run.trace()
    check_trace(trace)
    assert len(trace.locations) == 4
    assert trace.enter_counts(MASTER)["user:main"] == 1
    seen = set()
    for idx in range(3):
        loc = _job_location(trace, idx)
        assert loc.name != MASTER
        seen.add(loc.id)
        tree = trace.call_tree(loc)
        assert tree[("threading.Thread:run", "__main__:worker", f"user:job{idx}")] == 1, trace.format_call_tree(loc)
        assert tree[("threading.Thread:run", "__main__:worker", f"user:job{idx}", "__main__:work")] == idx + 1
    assert len(seen) == 3


def test_user_regions_from_threads_with_instrumenter_off(runner):
    # user regions are recorded without the instrumenter; each thread still
    # gets its own location
    script = THREAD_USER_API.replace("PARAMETERS_MAIN", "work()").replace("PARAMETERS", "pass")
    run = runner.script(script, options=["--noinstrumenter"])
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_trace(trace)
    assert len(trace.locations) == 4
    assert trace.enter_counts()["__main__:work"] == 0
    locations = {_job_location(trace, idx).id for idx in range(3)}
    assert len(locations) == 3 and trace.location(MASTER).id not in locations
    for loc in workers(trace):
        assert set(trace.enter_counts(loc)) <= {"user:job0", "user:job1", "user:job2"}


def test_parameters_from_threads_land_on_their_thread(runner):
    script = (THREAD_USER_API
              .replace("PARAMETERS_MAIN", 'scorep.user.parameter_int("idx", -1)')
              .replace("PARAMETERS", 'scorep.user.parameter_int("idx", idx); '
                                     'scorep.user.parameter_uint("uidx", 10 * idx); '
                                     'scorep.user.parameter_string("tag", f"t{idx}")'))
    run = runner.script(script)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_trace(trace)
    assert sorted(trace.parameters) == ["idx", "tag", "uidx"]
    master_params = [(e.parameter, e.value) for e in trace.events("parameter", MASTER)]
    assert master_params == [("idx", -1)]
    for idx in range(3):
        loc = _job_location(trace, idx)
        params = [(e.parameter, e.value) for e in trace.events("parameter", loc)]
        assert params == [("idx", idx), ("uidx", 10 * idx), ("tag", f"t{idx}")]


def test_daemon_threads_still_running_at_exit(runner):
    run = runner.script("""
        import threading, time

        ready = threading.Barrier(3)

        def spin():
            return 1

        def forever():
            ready.wait()
            while True:
                spin()
                time.sleep(0.0002)

        for _ in range(2):
            threading.Thread(target=forever, daemon=True).start()
        ready.wait()
        time.sleep(0.05)
        print("main done")
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "main done\n"
    assert run.stderr == ""
    trace = run.trace()
    check_trace(trace)
    daemons = workers(trace)
    assert len(daemons) == 2
    for loc in daemons:
        counts = trace.enter_counts(loc)
        assert counts["__main__:spin"] >= 1
        # still inside run/forever at the end: closed at the end of the measurement
        assert counts["threading.Thread:run"] == 1
        assert counts["__main__:forever"] == 1
        assert loc.events[-1].kind == "leave" and loc.events[-1].region == "threading.Thread:run"


def test_busy_daemon_threads_at_exit(runner):
    # no sleeping: the daemons keep recording while the measurement ends
    run = runner.script("""
        import threading, time

        ready = threading.Barrier(3)

        def spin():
            return 1

        def forever():
            ready.wait()
            while True:
                spin()

        for _ in range(2):
            threading.Thread(target=forever, daemon=True).start()
        ready.wait()
        time.sleep(0.01)
    """)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    trace = run.trace()
    check_trace(trace)
    assert len(workers(trace)) == 2
    for loc in workers(trace):
        # each daemon got as far as forever(); which of them the GIL let spin
        # before the end is up to the scheduler
        assert trace.enter_counts(loc)["__main__:forever"] == 1, trace.format_call_tree(loc)
    assert trace.enter_counts()["__main__:spin"] >= 1


def test_exception_in_thread(runner):
    run = runner.script("""
        import threading

        def boom():
            raise ValueError("boom")

        t = threading.Thread(target=boom)
        t.start()
        t.join()
        print("end")
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "end\n"
    assert "ValueError: boom" in run.stderr
    trace = run.trace()
    check_trace(trace)
    (loc,) = workers(trace)
    assert trace.call_tree(loc)[("threading.Thread:run", "__main__:boom")] == 1


def test_no_bootstrap_leftovers_in_thread_locations(runner):
    # The thread's bootstrap frames (_bootstrap, _bootstrap_inner) were
    # entered before the hook was installed: neither they nor a leave of
    # them may show up (check_balanced rejects a leave without an enter).
    run = runner.script(CONCURRENT)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    check_trace(trace)
    for loc in workers(trace):
        counts = trace.enter_counts(loc)
        assert counts["threading.Thread:_bootstrap"] == 0
        assert counts["threading.Thread:_bootstrap_inner"] == 0
        assert not any(name.startswith("scorep") for name in counts), counts
        leaves = collections.Counter(e.region for e in loc.events if e.kind == "leave")
        assert leaves == counts, loc


SEES_ALL_THREADS = pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring (default on 3.12+)")


@pytest.mark.parametrize("options", [pytest.param([], marks=SEES_ALL_THREADS),
                                     pytest.param(["--instrumenter-type=eval"], marks=EVAL_ONLY)],
                         ids=["monitoring", "eval"])
def test_low_level_threads_are_recorded_with_instrumenters_that_see_every_thread(runner, options):
    run = runner.script("""
        import _thread
        import threading

        def work(n):
            return n

        def body(done, count):
            for i in range(count):
                work(i)
            done.release()

        locks = []
        for count in (3, 5):
            done = _thread.allocate_lock()
            done.acquire()
            _thread.start_new_thread(body, (done, count))
            locks.append(done)
        for done in locks:
            done.acquire()
        t = threading.Thread(target=body, args=(threading.Lock(), 7))
        t.start()
        t.join()
        print("done")
    """, options=options)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    trace = run.trace()
    check_trace(trace)
    master = trace.location(MASTER)
    assert trace.enter_counts(master)["__main__:work"] == 0
    per_location = {}
    for loc in workers(trace):
        tree = trace.call_tree(loc)
        counts = trace.enter_counts(loc)
        if counts["threading.Thread:run"]:
            # a threading thread: from Thread.run on, as always
            assert tree[("threading.Thread:run", "__main__:body", "__main__:work")] == 7, trace.format_call_tree(loc)
        else:
            # a low-level thread: from its function on
            assert tree[("__main__:body",)] == 1, trace.format_call_tree(loc)
            assert not any(name.startswith("threading") for name in counts if counts[name]), counts
        per_location[loc.name] = counts["__main__:work"]
    assert sorted(per_location.values()) == [3, 5, 7], per_location


NAMED = """
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

def work(n):
    return n

class Reader(threading.Thread):
    def __init__(self):
        super().__init__(name="reader-thread")
    def run(self):
        work(1)

threads = [threading.Thread(target=work, args=(2,), name="Wörker ✓"), Reader(),
           threading.Thread(target=work, args=(3,))]
for t in threads:
    t.start()
    t.join()
with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool") as pool:
    pool.submit(work, 4).result()
print(threads[2].name)
"""


@pytest.mark.parametrize("options", [[], ["--instrumenter-type=trace"],
                                     pytest.param(["--instrumenter-type=eval"], marks=EVAL_ONLY)],
                         ids=["default", "trace", "eval"])
def test_locations_carry_the_thread_names(runner, options):
    """A thread's location is named after its Thread.name, in the trace and
    the profile; the main thread's stays "Master thread"."""
    run = runner.script(NAMED, options=options, env={"SCOREP_ENABLE_PROFILING": "true"})
    assert run.returncode == 0, run.stderr
    default_name = run.stdout.strip()  # "Thread-3 (work)", or "Thread-3" before 3.10
    assert default_name.startswith("Thread-"), run.stdout
    expected = sorted([MASTER, "Wörker ✓", "reader-thread", default_name, "pool_0"])
    trace = run.trace()
    check_trace(trace)
    assert sorted(loc.name for loc in trace.locations) == expected
    assert trace.enter_counts("reader-thread")["__main__:work"] == 1
    assert trace.enter_counts("pool_0")["__main__:work"] == 1
    from helpers.cube_profile import read_profile

    profile = read_profile(run.experiment / "profile.cubex")
    assert sorted(loc.name for loc in profile.locations) == expected
    assert profile.visits("threading.Thread:run", "__main__:work", location="Wörker ✓") == 1


def test_threads_beyond_the_open_trace_writers_are_exact(runner):
    """Only a few live threads have an OTF2 writer at once (OTF2 buffers up
    to 4 MiB per open file); the others' events wait in a spill file and
    are written when their thread ends.  Nothing of them may change."""
    run = runner.script("""
        import threading
        import scorep.user

        barrier = threading.Barrier(8)

        def work(n):
            return n * 2

        def worker(k):
            barrier.wait()          # all eight alive at once
            scorep.user.parameter_int("k", k)
            with scorep.user.region("phase"):
                for i in range(20000 + k):
                    work(i)
            scorep.user.parameter_string("done", str(k))
            barrier.wait()

        threads = [threading.Thread(target=worker, args=(k,), name=f"w{k}") for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("done")
    """, env={"SCOREP_TOTAL_MEMORY": "1M"})   # two open writers, the master's and one
    assert run.returncode == 0, run.stderr
    assert (run.stdout, run.stderr) == ("done\n", "")
    from helpers.otf2_trace import cross_check

    trace, _ = cross_check(run.experiment / "traces.otf2")
    check_trace(trace)
    assert sorted(loc.name for loc in workers(trace)) == [f"w{k}" for k in range(8)]
    for k in range(8):
        loc = trace.location(f"w{k}")
        tree = trace.call_tree(loc)
        assert tree[("threading.Thread:run", "__main__:worker", "user:phase", "__main__:work")] == 20000 + k
        parameters = [(e.parameter, e.value) for e in loc.events if e.kind == "parameter"]
        assert parameters == [("k", k), ("done", str(k))]
