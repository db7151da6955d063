"""Many processes, one experiment: the processes a measured program starts
(multiprocessing with each start method, os.fork, Python subprocesses)
are measured into its experiment.  Each test runs a real program, checks
that its output and exit status are those of plain python, then reads the
merged trace with both OTF2 readers and the profile with pycubexr: one
location group per process, the threads of each, the exact visits of the
worker functions summed over processes, balanced nesting per location and
one definition per region."""
from __future__ import annotations

import collections
import os
import re
import shutil
import sys

import pytest

from helpers.cube_profile import read_profile
from helpers.otf2_trace import cross_check

BOTH = {"SCOREP_ENABLE_PROFILING": "true"}


def groups(trace) -> collections.Counter:
    """Locations per location group."""
    return collections.Counter(loc.group for loc in trace.locations)


def visits(trace, suffix: str) -> collections.Counter:
    """Enters of regions named ...suffix, per location group."""
    counts = collections.Counter()
    for loc in trace.locations:
        for event in loc.events:
            if event.kind == "enter" and event.region.endswith(suffix):
                counts[loc.group] += 1
    return counts


def check_experiment(run, processes: int, work: str, calls: int, threads: dict | None = None):
    """The merged experiment: `processes` location groups, `calls` visits of
    `work` in all, nesting balanced, each region defined once; the profile
    agrees.  Returns the trace."""
    trace, _ = cross_check(run.experiment / "traces.otf2")
    per_group = groups(trace)
    assert len(per_group) == processes, (per_group, run.stderr)
    if processes > 1:
        assert all(re.fullmatch(r"Process \d+(\.\d+)?", name) for name in per_group), per_group
    for name, count in (threads or {}).items():
        assert per_group[name] == count
    trace.check_balanced()
    keys = [(r.name, r.source_file, r.begin_line) for r in trace.region_definitions]
    assert len(keys) == len(set(keys)), [k for k, n in collections.Counter(keys).items() if n > 1]
    assert sum(visits(trace, work).values()) == calls, visits(trace, work)
    # every process's master thread begins and ends its program
    for name in per_group:
        masters = [loc for loc in trace.locations if loc.group == name and loc.name == "Master thread"]
        assert len(masters) == 1, name
        kinds = [e.kind for e in masters[0].events]
        assert kinds[0] == "program_begin" and kinds[-1] == "program_end", (name, kinds[:3], kinds[-3:])
    profile = read_profile(run.experiment / "profile.cubex")
    masters = [loc for loc in profile.locations if loc.name == "Master thread"]
    assert len(masters) == processes
    total = sum(int(node.visits.sum()) for path, node in profile.nodes.items() if path[-1].endswith(work))
    assert total == calls
    return trace


def remove_experiments(runner):
    """Before the next run of a test that runs its program more than once."""
    for old in runner.cwd.glob("scorep-*"):
        shutil.rmtree(old)


def same_as_plain(runner, name: str, *args: str, env=None, options=()):
    plain = runner.run_plain(name, *args, env=env)
    run = runner.run(*options, name, *args, env=dict(BOTH, **(env or {})))
    assert (run.returncode, run.stdout, run.stderr) == (plain.returncode, plain.stdout, plain.stderr), run.stderr
    return run


POOL = """
import multiprocessing as mp, sys

def work(x):
    return x * x

class Squarer:  # a class of __main__, pickled to the workers
    def __call__(self, x):
        return work(x)

if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    pool = ctx.Pool(3)
    print(sum(pool.map(Squarer(), range(300), chunksize=7)))
    print(pool.apply(work, (12,)))
    pool.close()
    pool.join()
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_with_each_start_method(runner, method):
    runner.write("pool.py", POOL)
    run = same_as_plain(runner, "pool.py", method)
    assert run.stdout == f"{sum(x * x for x in range(300))}\n144\n"
    trace = check_experiment(run, 4, ":work", 301)
    # the root: its master and the Pool's three threads; a worker: its master
    root = [name for name, n in groups(trace).items() if n == 4]
    assert len(root) == 1 and sorted(groups(trace).values()) == [1, 1, 1, 4]
    assert set(visits(trace, ":work")) <= set(groups(trace)) - set(root)
    # one region for the function of __main__, also in spawned workers (__mp_main__ there)
    assert [r.name for r in trace.region_definitions if r.name.endswith(":work")] == ["__main__:work"]


EXECUTOR = """
import concurrent.futures as cf, multiprocessing as mp, sys

def work(x):
    return -x

if __name__ == "__main__":
    with cf.ProcessPoolExecutor(2, mp_context=mp.get_context(sys.argv[1])) as ex:
        print(sum(ex.map(work, range(50))))
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool_executor(runner, method):
    runner.write("ex.py", EXECUTOR)
    run = same_as_plain(runner, "ex.py", method)
    assert run.stdout == f"{-sum(range(50))}\n"
    trace = check_experiment(run, 3, ":work", 50)
    assert sum(1 for g in groups(trace) if visits(trace, ":work")[g]) >= 1


PROCESSES = """
import multiprocessing as mp, os, sys

def work(i):
    return i

def child(n, code):
    for i in range(n):
        work(i)
    print("child", n, flush=True)
    sys.exit(code)

def nested(n):
    # a Pool started inside a worker process
    with mp.get_context("fork").Pool(2) as pool:
        print("nested", sum(pool.map(work, range(n))), flush=True)
        pool.close()
        pool.join()

if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1])
    ps = [ctx.Process(target=child, args=(100 * (k + 1), k)) for k in range(3)]
    for p in ps:
        p.start()
        p.join()
    print([p.exitcode for p in ps])
    q = ctx.Process(target=nested, args=(40,))
    q.start()
    q.join()
    print(q.exitcode)
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes_exit_codes_and_a_pool_in_a_worker(runner, method):
    runner.write("procs.py", PROCESSES)
    run = same_as_plain(runner, "procs.py", method)
    assert run.stdout == "child 100\nchild 200\nchild 300\n[0, 1, 2]\nnested 780\n0\n"
    # root, three children, the nested Pool's parent and its two workers
    check_experiment(run, 7, ":work", 100 + 200 + 300 + 40)


FORK = """
import os, sys

def work(i):
    return i

def main():
    pids = []
    for k in range(3):
        pid = os.fork()
        if pid == 0:
            for i in range(1000):
                work(i)
            os._exit(7)
        pids.append(pid)
    for i in range(10):
        work(i)
    print([os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids])

main()
"""


def test_os_fork_and_os_exit(runner):
    runner.write("fork.py", FORK)
    run = same_as_plain(runner, "fork.py")
    assert run.stdout == "[7, 7, 7]\n"
    trace = check_experiment(run, 4, ":work", 3010)
    # the parent's buffered events are not recorded again by the children
    counts = visits(trace, ":work")
    assert sorted(counts.values()) == [10, 1000, 1000, 1000]
    # a child's call path goes on from where it was forked
    for loc in trace.locations:
        if counts[loc.group] == 1000 and loc.name == "Master thread":
            paths = trace.call_tree(loc)
            assert max(paths[p] for p in paths if p[-1] == "__main__:work") == 1000
            assert any(p[-2:] == ("__main__:main", "__main__:work") for p in paths), list(paths)[:5]
            exits = [e.value for e in loc.events if e.kind == "program_end"]
            assert exits == [7]


SUBPROCESSES = """
import os, subprocess, sys

child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
subprocess.run([sys.executable, child, "100"], check=True)
subprocess.run([sys.executable, child, "200"], env=dict(os.environ, EXTRA="1"), check=True)
subprocess.run([sys.executable, "-m", "child", "300"], cwd=os.path.dirname(child), check=True)
pid = os.posix_spawn(sys.executable, [sys.executable, child, "400"], os.environ)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(subprocess.run(["sh", "-c", "echo shell; exit 3"], capture_output=True, text=True))
print("SCOREP_PYTHON_CHILD" in os.environ)
"""
CHILD = """
import os, sys

def child_work(i):
    return i

for i in range(int(sys.argv[1])):
    child_work(i)
print("child", sys.argv[1], os.environ.get("EXTRA"), "SCOREP_PYTHON_CHILD" in os.environ, flush=True)
"""


def test_python_subprocesses_and_a_shell(runner):
    runner.write("subs.py", SUBPROCESSES)
    runner.write("child.py", CHILD)
    run = same_as_plain(runner, "subs.py")
    assert run.stdout.splitlines()[:5] == ["child 100 None False", "child 200 1 False", "child 300 None False",
                                           "child 400 None False", "0"]
    assert "stdout='shell\\n'" in run.stdout and "returncode=3" in run.stdout
    assert run.stdout.splitlines()[-1] == "False"
    trace = check_experiment(run, 5, ":child_work", 1000)
    assert sorted(visits(trace, ":child_work").values()) == [100, 200, 300, 400]


def test_children_switched_off(runner):
    runner.write("pool.py", POOL)
    for options, env in (((), {"SCOREP_PYTHON_CHILDREN": "false"}), (("--no-children",), {})):
        remove_experiments(runner)
        run = same_as_plain(runner, "pool.py", "spawn", env=env, options=options)
        trace, _ = cross_check(run.experiment / "traces.otf2")
        assert list(groups(trace)) == ["Process"]
        assert sum(visits(trace, ":work").values()) == 0
        assert not (run.experiment / ".scorep-processes").exists()


TERMINATED = """
import os, signal, sys, time

def work(i):
    return i

r, w = os.pipe()
pid = os.fork()
if pid == 0:
    for i in range(5000):
        work(i)
    os.write(w, b"x")
    while True:
        time.sleep(0.01)
os.read(r, 1)
os.kill(pid, signal.SIGTERM)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_a_terminated_child_delivers_what_it_recorded(runner):
    runner.write("term.py", TERMINATED)
    run = same_as_plain(runner, "term.py")
    assert run.stdout == f"{-15}\n"
    trace = check_experiment(run, 2, ":work", 5000)
    (child,) = [loc for loc in trace.locations if visits(trace, ":work")[loc.group] and loc.name == "Master thread"]
    assert [e.value for e in child.events if e.kind == "program_end"] == [128 + 15]


def test_configuration_is_the_experiments(runner):
    # a child whose environment lacks the variables is measured as the root is
    runner.write("child.py", CHILD)
    runner.write("cfg.py", """
import os, subprocess, sys
env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
env["SCOREP_TOTAL_MEMORY"] = "nonsense"  # not read: the experiment's configuration is
subprocess.run([sys.executable, "child.py", "50"], env=env, check=True)
""")
    run = same_as_plain(runner, "cfg.py")
    check_experiment(run, 2, ":child_work", 50)
    assert "nonsense" not in run.stderr


def test_a_child_outliving_the_program_is_left_out(runner):
    runner.write("child.py", CHILD)
    runner.write("late.py", """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
subprocess.run([sys.executable, "child.py", "20"])
""")
    run = runner.run("late.py", env=dict(BOTH, SCOREP_PYTHON_CHILDREN_WAIT="1"))
    assert run.returncode == 0
    assert run.stderr.count("left out") == 1, run.stderr
    assert "1 process of the experiment was still running after SCOREP_PYTHON_CHILDREN_WAIT=1 s" in run.stderr
    check_experiment(run, 2, ":child_work", 20)
    # the late one removes its own files when it ends
    import time

    time.sleep(3)
    for _ in range(50):
        if not (run.experiment / ".scorep-processes").exists():
            break
        time.sleep(0.1)
    assert sorted(os.listdir(run.experiment)) == ["profile.cubex", "scorep.cfg", "traces", "traces.def",
                                                 "traces.otf2"]


@pytest.mark.parametrize("master", ["unmeasured", "registered"])
def test_seed_manual_way_one_experiment_per_process(runner, master):
    # the seed README: the master registers; each sub-process sets its own
    # directory before register()
    runner.write("seed.py", ("import scorep; scorep.register()\n" if master == "registered" else "") + """
import multiprocessing as mp, os

def work(i):
    return i

def child(k):
    os.environ["SCOREP_EXPERIMENT_DIRECTORY"] = f"exp-{k}"
    import scorep
    scorep.register()
    for i in range(10 * (k + 1)):
        work(i)

if __name__ == "__main__":
    ps = [mp.get_context("spawn").Process(target=child, args=(k,)) for k in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    print([p.exitcode for p in ps])
""")
    run = runner.run_plain("seed.py", env={"SCOREP_ENABLE_TRACING": "true"})
    assert run.stdout == "[0, 0]\n" and run.stderr == "", run.stderr
    for k in range(2):
        trace, _ = cross_check(runner.cwd / f"exp-{k}" / "traces.otf2")
        assert list(groups(trace)) == ["Process"]
        assert sum(visits(trace, ":work").values()) == 10 * (k + 1)
        trace.check_balanced()
    if master == "registered":
        # the master's experiment: itself and the workers up to their register()
        trace, _ = cross_check(run.experiment / "traces.otf2")
        assert len(groups(trace)) == 3
        assert sum(visits(trace, ":work").values()) == 0
        trace.check_balanced()


@pytest.mark.skipif(sys.platform != "linux", reason="Linux only")
def test_forked_child_of_unfollowed_run_records_nothing(runner):
    runner.write("fork.py", FORK)
    run = runner.run("--no-children", "fork.py", env=BOTH)
    assert run.stdout == "[7, 7, 7]\n"
    trace, _ = cross_check(run.experiment / "traces.otf2")
    assert sum(visits(trace, ":work").values()) == 10


def test_report_per_process(runner):
    import subprocess

    runner.write("pool.py", POOL)
    run = same_as_plain(runner, "pool.py", "fork")
    done = subprocess.run([sys.executable, "-m", "scorep.report", str(run.experiment), "--processes", "--top", "100000"],
                          capture_output=True, text=True, cwd=runner.cwd)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("processes: 4, locations: 7,"), lines[:2]
    table = lines[lines.index("Per process") + 2:][:4]
    rows = [re.match(r"(Process \d+)\s+(\d+)\s+(\d+)\s", line) for line in table]
    assert all(rows), table
    assert sorted(int(m.group(2)) for m in rows) == [1, 1, 1, 4]
    # each process's own region table: the workers' work visits add up to the tasks
    for m in rows:
        assert any(line.startswith(m.group(1) + ": ") for line in lines), m.group(1)
    work = 0
    for line in lines:
        hit = re.match(r"__main__:work\s+(\d+)\s", line)
        if hit:
            work += int(hit.group(1))
    # once per process section (three workers at most), once in the overall table
    assert work == 2 * 301, done.stdout


KILLED_CHILD = """
import os, signal, sys

def work(i):
    return i

def child(calls, kill):
    for i in range(calls):
        work(i)
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(0)

pids = []
for calls, kill in ((400_000, True), (1000, False)):
    pid = os.fork()
    if pid == 0:
        child(calls, kill)
    pids.append(pid)
print([os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids])
"""


def test_a_killed_child_loses_only_what_it_had_not_written(runner):
    runner.write("killed.py", KILLED_CHILD)
    memory = 1_000_000
    env = dict(BOTH, SCOREP_TOTAL_MEMORY=str(memory))
    plain = runner.run_plain("killed.py", env=env)
    run = runner.run("killed.py", env=env)
    assert run.stdout == plain.stdout == "[-9, 0]\n"
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"\[Score-P\] process \d+ \(rank \d\) of the experiment was killed: the \d+ events its trace had written "
        r"are in the experiment, up to its last written event", lines[0]), run.stderr
    trace, _ = cross_check(run.experiment / "traces.otf2")
    assert len(groups(trace)) == 3
    trace.check_balanced()
    counts = sorted(visits(trace, ":work").values())
    # as in recovery: the core's buffers and OTF2's file buffer and chunk may be unwritten
    unwritten = (memory // 8 + (4 * 2**20 + 2**18) // 10) // 2
    assert counts[0] == 1000 and 400_000 - unwritten <= counts[1] < 400_000, counts
    profile = read_profile(run.experiment / "profile.cubex")
    total = sum(int(node.visits.sum()) for path, node in profile.nodes.items() if path[-1] == "__main__:work")
    assert total == sum(counts)
    assert sorted(os.listdir(run.experiment)) == ["profile.cubex", "scorep.cfg", "traces", "traces.def",
                                                 "traces.otf2"]


def test_a_child_given_its_own_experiment_directory_measures_into_it(runner):
    runner.write("child.py", CHILD)
    runner.write("own.py", """
import os, subprocess, sys
for k in range(2):
    subprocess.run([sys.executable, "child.py", str(10 * (k + 1))], env=dict(os.environ, SCOREP_EXPERIMENT_DIRECTORY=f"exp-{k}"),
                   check=True)
subprocess.run([sys.executable, "child.py", "5"], check=True)
""")
    run = same_as_plain(runner, "own.py")
    check_experiment(run, 2, ":child_work", 5)
    for k in range(2):
        trace, _ = cross_check(runner.cwd / f"exp-{k}" / "traces.otf2")
        assert list(groups(trace)) == ["Process"]
        assert sum(visits(trace, ":child_work").values()) == 10 * (k + 1)


TERMINATE = """
import multiprocessing as mp, time

def work(i):
    if i >= 20:
        time.sleep(60)  # still running when the pool is terminated
    return i

if __name__ == "__main__":
    pool = mp.get_context("fork").Pool(2)
    results = pool.imap(work, range(40))
    print(sum(next(results) for _ in range(20)))
    pool.terminate()
    pool.join()
    print("terminated")
"""


def check_terminated_pool(run):
    """TERMINATE's experiment: the root and its two workers, every task
    done, the workers ended by SIGTERM."""
    assert run.stdout == f"{sum(range(20))}\nterminated\n"
    trace, _ = cross_check(run.experiment / "traces.otf2")
    assert len(groups(trace)) == 3
    trace.check_balanced()
    # the 20 tasks done, and those the two workers had begun when SIGTERM came
    # (left open at its end)
    assert 20 <= sum(visits(trace, ":work").values()) <= 22
    for loc in trace.locations:
        if loc.name == "Master thread" and visits(trace, ":work")[loc.group]:
            assert [e.value for e in loc.events if e.kind == "program_end"] == [128 + 15]


def test_pool_terminate(runner):
    runner.write("term.py", TERMINATE)
    check_terminated_pool(same_as_plain(runner, "term.py"))


def test_pool_terminate_while_every_cpu_is_busy(runner):
    """With every CPU taken (busy loops beside the program) the drain
    thread's own passes replay nothing, but they still answer the SIGTERM
    that Pool.terminate() sends: the workers deliver what they recorded."""
    import subprocess

    runner.write("term.py", TERMINATE.replace('"fork"', '"spawn"'))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        run = same_as_plain(runner, "term.py")
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    check_terminated_pool(run)


def test_exec_writes_the_results_first(runner):
    runner.write("child.py", CHILD)
    runner.write("execs.py", """
import os, sys

def work(i):
    return i

pid = os.fork()
if pid == 0:
    for i in range(30):
        work(i)
    os.execv(sys.executable, [sys.executable, "child.py", "7"])
for i in range(3):
    work(i)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
""")
    run = same_as_plain(runner, "execs.py")
    assert run.stdout == "child 7 None False\n0\n"
    # the root, the forked child up to its exec, the program it exec'd
    trace = check_experiment(run, 3, ":child_work", 7)
    assert sorted(visits(trace, "__main__:work").values()) == [3, 30]


def test_a_console_script(runner):
    # what pip installs for an entry point: a script whose #! line is this Python
    tool = runner.write("tool", f"#!{sys.executable}\n" + CHILD)
    tool.chmod(0o755)
    runner.write("calls.py", """
import subprocess
subprocess.run(["./tool", "25"], check=True)
""")
    run = same_as_plain(runner, "calls.py")
    assert run.stdout == "child 25 None False\n"
    check_experiment(run, 2, ":child_work", 25)


def test_per_process_rules_filter_and_instrumenter_state(runner):
    # the filter and --noinstrumenter apply in every process as in the program's own
    runner.write("sub/f.filt", """
SCOREP_REGION_NAMES_BEGIN
  EXCLUDE *:skipme
SCOREP_REGION_NAMES_END
""")
    runner.write("rules.py", """
import multiprocessing as mp, sys

def skipme(i):
    return i

def keep(i):
    return skipme(i)

def switched(i):
    import scorep.instrumenter
    with scorep.instrumenter.enable():
        return keep(i)

if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        print(sum(pool.map(keep if sys.argv[1] == "on" else switched, range(30))))
        pool.close()
        pool.join()
""")
    for state, options in (("on", ()), ("off", ("--noinstrumenter",))):
        remove_experiments(runner)
        run = same_as_plain(runner, "rules.py", state, env={"SCOREP_FILTERING_FILE": "sub/f.filt"},
                            options=options)
        trace, _ = cross_check(run.experiment / "traces.otf2")
        assert len(groups(trace)) == 3
        assert sum(visits(trace, ":keep").values()) == 30
        assert sum(visits(trace, ":skipme").values()) == 0
        if state == "off":
            # with the instrumenter off, the workers record only what the program switched on
            assert sum(visits(trace, "multiprocessing.pool:worker").values()) == 0


CRASHING_CHILD = """
import faulthandler, multiprocessing as mp, os, sys

def work(i):
    return i

def child():
    for i in range(500):
        work(i)
    sys.stderr.flush()
    os.abort()

if __name__ == "__main__":
    p = mp.get_context("fork").Process(target=child)
    p.start()
    p.join()
    print(p.exitcode)
"""


def test_a_crashing_child_delivers_what_it_recorded(runner):
    runner.write("crash.py", CRASHING_CHILD)
    run = same_as_plain(runner, "crash.py")
    assert run.stdout == "-6\n"
    trace = check_experiment(run, 2, ":work", 500)
    (child,) = [loc for loc in trace.locations if visits(trace, ":work")[loc.group] and loc.name == "Master thread"]
    assert [e.value for e in child.events if e.kind == "program_end"] == [128 + 6]
