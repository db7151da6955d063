"""The call-path profile (``profile.cubex``, CUBE4), read with the independent
reader ``pycubexr``.

A profile is turned into a dict of call paths: the tuple of region names from
the root (the artificial program region, depth 0) down to a cnode, e.g.
``(root, "__main__:<module>", "__main__:main", "__main__:foo")``, each with
per-location arrays of visits, inclusive and exclusive time, min and max time.
"""
from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import List

import pytest
from pycubexr import CubexParser

from conftest import Run  # noqa: E402
from helpers.cube_profile import (ARTIFICIAL, EPS, MASTER, Node, Profile, _array,  # noqa: E402,F401
                                  check_invariants, cubex_files, profiled, read_profile)

SAMPLE = Path("/work/shared/reference/samples/scorep-8.4-serial-profile.cubex")
PROFILING = {"SCOREP_ENABLE_PROFILING": "true"}


# --------------------------------------------------------------------------
# Call paths and visits

CALLERS = """
import time

def foo():
    pass

def bar():
    foo()

def main():
    for _ in range(3):
        foo()
    for _ in range(2):
        bar()
    for _ in range(5):
        baz = lambda: foo()
        baz()

main()
main()
"""


def test_a_function_reached_by_two_paths_is_two_cnodes_with_exact_visits(runner):
    run = runner.script(CALLERS, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    m = ("__main__:<module>", "__main__:main")
    assert profile.visits("__main__:<module>") == 1, profile.format()
    assert profile.visits(*m) == 2
    assert profile.visits(*m, "__main__:foo") == 6
    assert profile.visits(*m, "__main__:bar") == 4
    assert profile.visits(*m, "__main__:bar", "__main__:foo") == 4
    assert profile.visits(*m, "__main__:<lambda>") == 10
    assert profile.visits(*m, "__main__:<lambda>", "__main__:foo") == 10
    foo_paths = {p[1:]: int(n.visits.sum()) for p, n in profile.ending_in("__main__:foo").items()}
    assert foo_paths == {m + ("__main__:foo",): 6,
                         m + ("__main__:bar", "__main__:foo"): 4,
                         m + ("__main__:<lambda>", "__main__:foo"): 10}
    # all of them on the one location
    assert [loc.name for loc in profile.locations] == [MASTER]


def test_two_functions_of_the_same_name_are_two_cnodes(runner):
    run = runner.script("""
        def main():
            first = lambda: 1
            second = lambda: 2
            for _ in range(3):
                first()
            second()

        main()
    """, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    path = (profile.root_name, "__main__:<module>", "__main__:main", "__main__:<lambda>")
    assert profile.cnodes[path] == 2, profile.format()
    assert profile.nodes[path].visits.tolist() == [4]
    lines = sorted(r.begin for r in profile.regions if r.name == "__main__:<lambda>")
    assert lines == [3, 4]


def test_region_definitions(runner):
    run = runner.script(CALLERS, env=PROFILING)
    profile = profiled(run)
    script = str(run.cwd / "prog.py")
    lines = CALLERS.splitlines()
    for name, header in [("__main__:foo", "def foo():"), ("__main__:bar", "def bar():"),
                         ("__main__:main", "def main():")]:
        region = profile.node("__main__:<module>", "__main__:main", *([name] if name != "__main__:main" else [])).region
        assert region.name == name
        assert region.mangled_name == name
        assert os.path.realpath(region.mod) == os.path.realpath(script), region
        assert region.begin == lines.index(header) + 1, region
        assert region.paradigm == "user", region      # as Score-P's user adapter records them
        assert region.role == "function", region
    module = profile.node("__main__:<module>").region
    assert os.path.realpath(module.mod) == os.path.realpath(script)
    # one definition per function, however often and from wherever it was called
    names = [r.name for r in profile.regions]
    for name in ("__main__:<module>", "__main__:main", "__main__:foo", "__main__:bar", "__main__:<lambda>"):
        assert names.count(name) == 1, name
    assert len({r.id for r in profile.regions}) == len(profile.regions)
    # the root is the program region, named after the program
    root = profile.root
    assert root.region.role == "artificial"
    assert root.region.paradigm == "measurement"
    assert root.path[0], "program region without a name"


def test_inclusive_exclusive_and_min_max_invariants_hold_everywhere(runner):
    run = runner.script("""
        import threading, time

        def leaf(d):
            time.sleep(d)

        def middle(n):
            for i in range(n):
                leaf(0.001 * (i % 3))
            [x * x for x in range(100)]

        def worker():
            middle(5)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        middle(10)
        for t in threads:
            t.join()
    """, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    assert len(profile.locations) == 4


def test_root_time_is_the_program_duration(runner):
    started = time.monotonic()
    run = runner.script("""
        import time
        t0 = time.perf_counter()
        def main():
            time.sleep(0.3)
        main()
        print(time.perf_counter() - t0)
    """, env=PROFILING)
    wall = time.monotonic() - started
    profile = profiled(run)
    check_invariants(profile)
    measured_in_script = float(run.stdout)
    root = profile.root
    module = profile.node("__main__:<module>")
    master = profile.location_index(MASTER)
    assert module.inclusive[master] >= measured_in_script - 1e-3
    assert root.inclusive[master] >= module.inclusive[master]
    assert root.inclusive[master] <= wall
    # the measurement's own start and end are a small part of it
    assert root.inclusive[master] - module.inclusive[master] < 0.5, profile.format()
    assert root.visits[master] == 1


def test_sleep_time_bounds(runner):
    run = runner.script("""
        import time
        def caller():
            time.sleep(0.2)
        caller()
    """, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    sleep = profile.node("__main__:<module>", "__main__:caller", "time:sleep")
    caller = profile.node("__main__:<module>", "__main__:caller")
    assert sleep.visits.tolist() == [1]
    assert 0.19 <= sleep.inclusive[0] <= 1.0
    assert sleep.exclusive[0] == pytest.approx(sleep.inclusive[0])
    assert 0.19 <= sleep.minimum[0] == sleep.maximum[0] <= 1.0
    assert caller.inclusive[0] >= sleep.inclusive[0]
    assert profile.root.inclusive[0] >= caller.inclusive[0]


def test_min_and_max_time_of_a_call_path(runner):
    run = runner.script("""
        import time
        def nap(d):
            time.sleep(d)
        nap(0.05)
        nap(0.01)
        nap(0.03)
    """, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    nap = profile.node("__main__:<module>", "__main__:nap")
    assert nap.visits.tolist() == [3]
    assert 0.009 <= nap.minimum[0] <= 0.03, nap
    assert 0.049 <= nap.maximum[0] <= 0.5, nap
    assert nap.minimum[0] < nap.maximum[0]
    assert 0.089 <= nap.inclusive[0] <= 1.0


# --------------------------------------------------------------------------
# Threads

THREADS = """
import threading

def work():
    return 1

def worker():
    for _ in range(1000):
        work()

threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_values_per_thread_location(runner):
    run = runner.script(THREADS, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    names = [loc.name for loc in profile.locations]
    assert len(names) == 5, names
    assert names[0] == MASTER, names
    assert len(set(names)) == 5, names
    assert all(loc.type == "thread" for loc in profile.locations)
    assert sorted(int(loc.rank) for loc in profile.locations) == list(range(5))

    work = profile.region_visits()["__main__:work"]
    assert work == 4000, profile.format()
    assert profile.visits("__main__:<module>", location=MASTER) == 1
    assert profile.region_visits(MASTER)["__main__:work"] == 0
    for name in names[1:]:
        counts = profile.region_visits(name)
        assert counts["__main__:work"] == 1000, name
        assert counts["__main__:worker"] == 1, name
        assert counts["__main__:<module>"] == 0, name
        # each thread's tree has its own root visit
        assert profile.root.visits[profile.location_index(name)] == 1
    # every thread's work hangs below its run method
    (path,) = {p for p in profile.ending_in("__main__:work")}
    assert path[1:] == ("threading.Thread:run", "__main__:worker", "__main__:work")


def anchor_xml(path) -> ElementTree.Element:
    with tarfile.open(path) as tar:
        return ElementTree.fromstring(tar.extractfile("anchor.xml").read())


def system_tree(path) -> list:
    """The system tree of anchor.xml as nested (level, name, details) tuples
    (pycubexr does not read the <class> element of system tree nodes)."""
    def walk(element):
        if element.tag == "systemtreenode":
            attrs = sorted((a.get("key"), a.get("value")) for a in element.findall("attr"))
            details = (element.findtext("class"), attrs)
        elif element.tag == "locationgroup":
            details = (element.findtext("type"), element.findtext("rank"))
        else:
            details = (element.findtext("type"), element.findtext("rank"))
        children = [walk(child) for child in element
                    if child.tag in ("systemtreenode", "locationgroup", "location")]
        return (element.tag, element.findtext("name"), details, children)
    return [walk(node) for node in anchor_xml(path).find("system").findall("systemtreenode")]


def test_system_tree_levels(runner):
    run = runner.script(THREADS, env=PROFILING)
    profile = profiled(run)
    (machine,) = system_tree(profile.path)
    tag, name, (klass, attrs), (node,) = machine
    assert (tag, klass) == ("systemtreenode", "machine")
    assert name.startswith("machine ") and dict(attrs).get("platform"), machine
    tag, name, (klass, attrs), (process,) = node
    assert (tag, klass, name) == ("systemtreenode", "node", "node " + socket.gethostname())
    tag, name, (kind, rank), locations = process
    assert (tag, name, kind, rank) == ("locationgroup", "Process", "process", "0")
    assert [(tag, kind) for tag, _, (kind, _), _ in locations] == [("location", "thread")] * 5
    assert locations[0][1] == MASTER
    assert [loc.name for loc in profile.locations] == [loc[1] for loc in locations]


def test_machine_name(runner):
    run = runner.script("pass\n", env={**PROFILING, "SCOREP_MACHINE_NAME": "my <cluster> & co"})
    profile = profiled(run)
    (machine,) = system_tree(profile.path)
    assert machine[1] == "machine my <cluster> & co"


# --------------------------------------------------------------------------
# Depth limit and recursion

RECURSION = """
import time

def rec(n):
    if n:
        rec(n - 1)
    else:
        time.sleep(0.2)

def after():
    pass

rec({depth})
after()
"""


def _script_nodes(profile: Profile) -> List[Node]:
    """Nodes of the script's own call tree (not of interpreter shutdown)."""
    return [n for n in profile.nodes.values() if n.path[1:2] == ("__main__:<module>",)]


def _chain(profile: Profile) -> Node:
    """The deepest node of the script's call tree; asserts it is unique."""
    nodes = _script_nodes(profile)
    deepest = max(n.depth for n in nodes)
    (node,) = [n for n in nodes if n.depth == deepest]
    return node


def test_depth_limit_keeps_time_and_drops_deeper_visits(runner):
    run = runner.script(RECURSION.format(depth=49), env={**PROFILING, "SCOREP_PROFILING_MAX_CALLPATH_DEPTH": "5"})
    profile = profiled(run)
    check_invariants(profile)
    deepest = _chain(profile)
    assert len(deepest.path) == 6, profile.format()
    assert deepest.path[1:] == ("__main__:<module>",) + ("__main__:rec",) * 4
    # every kept node of the recursion visited once; the 46 deeper calls are not counted
    assert profile.region_visits()["__main__:rec"] == 4, profile.format()
    assert "time:sleep" not in profile.region_visits()
    # their time stays in the deepest kept node, as its exclusive time
    assert 0.19 <= deepest.exclusive[0] <= 1.0, profile.format()
    assert deepest.inclusive[0] >= 0.19
    assert profile.root.inclusive[0] >= deepest.inclusive[0]
    # after the recursion, shallow calls are recorded again
    assert profile.visits("__main__:<module>", "__main__:after") == 1, profile.format()

    unlimited = runner.script(RECURSION.format(depth=49), env={**PROFILING, "SCOREP_EXPERIMENT_DIRECTORY": "unlimited"})
    assert unlimited.returncode == 0, unlimited.stderr
    full = read_profile(runner.cwd / "unlimited" / "profile.cubex")
    assert max(n.depth for n in _script_nodes(full)) == 1 + 50 + 1   # <module>, 50 rec, sleep
    assert full.region_visits()["__main__:rec"] == 50
    assert profile.root.inclusive[0] == pytest.approx(full.root.inclusive[0], abs=0.15)
    assert profile.node("__main__:<module>").inclusive[0] == pytest.approx(
        full.node("__main__:<module>").inclusive[0], abs=0.15)


def test_depth_limit_with_repeated_and_two_level_recursion(runner):
    # mutual recursion clipped twice; the kept nodes add up and calls after
    # each clipped stretch land at the right place again
    run = runner.script("""
        def ping(n):
            if n:
                pong(n - 1)

        def pong(n):
            if n:
                ping(n - 1)

        def main():
            for _ in range(3):
                ping(30)
                leaf()

        def leaf():
            pass

        main()
    """, env={**PROFILING, "SCOREP_PROFILING_MAX_CALLPATH_DEPTH": "4"})
    profile = profiled(run)
    check_invariants(profile)
    m = ("__main__:<module>", "__main__:main")
    assert profile.visits(*m) == 1
    assert profile.visits(*m, "__main__:ping") == 3
    assert profile.visits(*m, "__main__:ping", "__main__:pong") == 3
    assert profile.visits(*m, "__main__:leaf") == 3, profile.format()
    assert max(n.depth for n in profile.nodes.values()) == 4
    script = {name: n for name, n in profile.region_visits().items() if name.startswith("__main__:")}
    assert script == {"__main__:<module>": 1, "__main__:main": 1, "__main__:ping": 3,
                      "__main__:pong": 3, "__main__:leaf": 3}, profile.format()


def test_depth_limit_of_one_keeps_only_the_module(runner):
    run = runner.script(RECURSION.format(depth=3), env={**PROFILING, "SCOREP_PROFILING_MAX_CALLPATH_DEPTH": "1"})
    profile = profiled(run)
    check_invariants(profile)
    assert max(n.depth for n in profile.nodes.values()) == 1, profile.format()
    module = profile.node("__main__:<module>")
    assert module.visits.tolist() == [1]
    assert 0.19 <= module.exclusive[0] <= 1.0


def test_depth_limit_with_recording_switched_off_below_it(runner):
    # Recording goes off in a call below the limit and on again after the
    # clipped calls returned: calls made afterwards within the limit are kept.
    source = """
        import scorep.user

        def g():
            scorep.user.disable_recording()

        def f():
            g()

        def after():
            pass

        def main():
            f()
            scorep.user.enable_recording()
            after()

        main()
    """
    run = runner.script(source, env={**PROFILING, "SCOREP_PROFILING_MAX_CALLPATH_DEPTH": "3"}, tracing=True)
    profile = profiled(run)
    check_invariants(profile)
    trace = run.trace()
    assert trace.call_tree()[("__main__:<module>", "__main__:main", "__main__:after")] == 1
    m = ("__main__:<module>", "__main__:main")
    assert profile.visits(*m, "__main__:f") == 1, profile.format()
    assert profile.visits(*m, "__main__:after") == 1, profile.format()
    assert profile.visits(*m, "__main__:f", "__main__:after") == 0, profile.format()


def test_default_depth_limit_is_100(runner):
    run = runner.script(RECURSION.format(depth=149), env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    deepest = _chain(profile)
    assert deepest.depth == 100, profile.format()
    assert deepest.path[1:] == ("__main__:<module>",) + ("__main__:rec",) * 99
    assert profile.region_visits()["__main__:rec"] == 99
    for k in range(2, 101):
        assert profile.nodes[deepest.path[:k + 1]].visits.tolist() == [1]
    assert 0.19 <= deepest.exclusive[0] <= 1.0
    assert profile.visits("__main__:<module>", "__main__:after") == 1


def test_deep_recursion_below_the_limit_is_complete(runner):
    run = runner.script(RECURSION.format(depth=20), env={**PROFILING, "SCOREP_PROFILING_MAX_CALLPATH_DEPTH": "100"})
    profile = profiled(run)
    check_invariants(profile)
    deepest = _chain(profile)
    assert deepest.path[1:] == ("__main__:<module>",) + ("__main__:rec",) * 21 + ("time:sleep",)
    assert profile.region_visits()["__main__:rec"] == 21
    assert 0.19 <= deepest.inclusive[0] <= 1.0


# --------------------------------------------------------------------------
# Names

SPECIAL = '''
import scorep.user

def größe(x):
    return x

class Ä:
    def méthode(self):
        return größe(1)

def main():
    square = lambda x: x * x
    for i in range(3):
        square(i)
    total = sum(größe(i) for i in range(4))
    Ä().méthode()
    with scorep.user.region('a<b & "c"'):
        größe(2)
    with scorep.user.region("it's > 1 ünïcödé ✓ 𝄞"):
        pass
    return total

main()
'''


def test_xml_special_and_unicode_names_survive(runner):
    run = runner.script(SPECIAL, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    m = ("__main__:<module>", "__main__:main")
    assert profile.visits("__main__:<module>") == 1, profile.format()
    assert profile.visits(*m, "__main__:<lambda>") == 3
    assert profile.visits(*m, "__main__.Ä:méthode") == 1
    assert profile.visits(*m, "__main__.Ä:méthode", "__main__:größe") == 1
    assert profile.visits(*m, 'user:a<b & "c"') == 1
    assert profile.visits(*m, 'user:a<b & "c"', "__main__:größe") == 1
    assert profile.visits(*m, "user:it's > 1 ünïcödé ✓ 𝄞") == 1
    genexpr = {p[1:]: int(n.visits.sum()) for p, n in profile.ending_in("__main__:<genexpr>").items()}
    assert set(genexpr) == {m + ("builtins:sum", "__main__:<genexpr>")}, profile.format()
    assert profile.region_visits()["__main__:größe"] == 4 + 1 + 1
    names = {r.name for r in profile.regions}
    assert {"__main__:<module>", "__main__:<lambda>", "__main__:<genexpr>", "__main__:größe",
            "__main__.Ä:méthode", 'user:a<b & "c"'} <= names


def test_whitespace_control_characters_in_names_survive(runner):
    # XML parsers turn a literal carriage return into a line feed: it has to
    # be written as a character reference
    run = runner.script("""
        import scorep.user
        for name in ["tab\\there", "line\\nbreak", "cr\\rx", "crlf\\r\\ny", "]]>", "&amp;", " padded "]:
            with scorep.user.region(name):
                pass
    """, env=PROFILING)
    profile = profiled(run)
    names = {name for name in profile.region_visits() if name.startswith("user:")}
    assert names == {"user:tab\there", "user:line\nbreak", "user:cr\rx", "user:crlf\r\ny", "user:]]>",
                     "user:&amp;", "user: padded "}


def test_special_names_in_file_names(runner):
    runner.write("mod_ä&<b>.py", """
        def f():
            return 1
    """)
    run = runner.script("""
        import importlib
        mod = importlib.import_module("mod_ä&<b>")
        mod.f()
    """, env=PROFILING)
    profile = profiled(run)
    (path,) = profile.ending_in("mod_ä&<b>:f")
    region = profile.nodes[path].region
    assert os.path.basename(region.mod) == "mod_ä&<b>.py", region


# --------------------------------------------------------------------------
# Profile and trace together

AGREEMENT = """
import threading, scorep.user

def leaf(i):
    return i

def branch(n):
    for i in range(n):
        leaf(i)

def worker(n):
    branch(n)
    with scorep.user.region("in_thread"):
        leaf(0)

def rec(n):
    return leaf(n) if n == 0 else rec(n - 1)

def main():
    threads = [threading.Thread(target=worker, args=(k,)) for k in (10, 20, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    branch(7)
    rec(12)
    sorted(range(100), key=lambda x: -x)

main()
"""


def test_profile_and_trace_agree(runner):
    run = runner.script(AGREEMENT, env=PROFILING, tracing=True)
    profile = profiled(run)
    check_invariants(profile)
    trace = run.trace()
    trace.check_balanced()

    def without_artificial(counter):
        return collections.Counter({k: v for k, v in counter.items()
                                    if not (set(k if isinstance(k, tuple) else (k,)) & set(ARTIFICIAL))})

    assert without_artificial(profile.region_visits()) == trace.enter_counts()
    assert without_artificial(profile.call_paths()) == trace.call_tree()
    # per location, matched by name
    assert sorted(loc.name for loc in profile.locations) == sorted(loc.name for loc in trace.locations)
    for loc in trace.locations:
        assert without_artificial(profile.call_paths(loc.name)) == trace.call_tree(loc), loc
    assert profile.region_visits()["__main__:leaf"] == 60 + 3 + 7 + 1


def test_profile_and_trace_agree_with_a_small_buffer(runner):
    # buffer flushes while both substrates record
    run = runner.script("""
        def f():
            pass
        def g():
            f()
        for _ in range(100000):
            g()
    """, env={**PROFILING, "SCOREP_TOTAL_MEMORY": "600k", "SCOREP_PYTHON_DRAIN_THREAD": "false"}, tracing=True)
    profile = profiled(run)
    check_invariants(profile)
    trace = run.trace()
    assert profile.region_visits()["TRACE BUFFER FLUSH"] >= 1, "no buffer flush happened"
    assert profile.visits("__main__:<module>", "__main__:g") == 100000
    assert profile.visits("__main__:<module>", "__main__:g", "__main__:f") == 100000
    counts = profile.region_visits()
    for name in ARTIFICIAL:
        counts.pop(name, None)
    assert counts == trace.enter_counts()


# --------------------------------------------------------------------------
# Configuration

def test_profiling_base_name(runner):
    run = runner.script("def f(): pass\nf()\n", env={**PROFILING, "SCOREP_PROFILING_BASE_NAME": "myprof"})
    assert run.returncode == 0, run.stderr
    assert cubex_files(run.experiment) == ["myprof.cubex"]
    profile = read_profile(run.experiment / "myprof.cubex")
    assert profile.visits("__main__:<module>", "__main__:f") == 1


@pytest.mark.parametrize("tracing", [False, True], ids=["no-trace", "trace"])
@pytest.mark.parametrize("env", [
    {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_PROFILING_FORMAT": "none"},
    {"SCOREP_ENABLE_PROFILING": "false"},
], ids=["format-none", "profiling-off"])
def test_no_profile(runner, env, tracing):
    run = runner.script("def f(): pass\nf()\n", env=env, tracing=tracing)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert cubex_files(run.experiment) == []


@pytest.mark.parametrize("value", ["cube4", "default", "CUBE4"])
def test_profiling_format_cube4(runner, value):
    run = runner.script("def f(): pass\nf()\n", env={**PROFILING, "SCOREP_PROFILING_FORMAT": value})
    assert run.returncode == 0, run.stderr
    assert cubex_files(run.experiment) == ["profile.cubex"]


def test_profiling_is_on_by_default(runner):
    runner.write("prog.py", "def f(): pass\nf()\n")
    env = runner.env(tracing=False)
    del env["SCOREP_ENABLE_PROFILING"]
    done = subprocess.run([sys.executable, "-m", "scorep", "prog.py"], cwd=runner.cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    newest = Run(0, "", "", runner.cwd).experiment
    assert sorted(os.listdir(newest)) == ["profile.cubex", "scorep.cfg"]   # and no trace
    assert read_profile(newest / "profile.cubex").visits("__main__:<module>", "__main__:f") == 1


# --------------------------------------------------------------------------
# User regions and recording on/off

def test_user_region_is_a_cnode(runner):
    run = runner.script("""
        import scorep.user

        def work():
            pass

        def main():
            with scorep.user.region("myregion"):
                work()
                work()
            scorep.user.region_begin("begun")
            work()
            scorep.user.region_end("begun")

        @scorep.user.region("decorated")
        def deco():
            work()

        for _ in range(2):
            main()
            deco()
    """, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    m = ("__main__:<module>", "__main__:main")
    assert profile.visits(*m, "user:myregion") == 2, profile.format()
    assert profile.visits(*m, "user:myregion", "__main__:work") == 4
    assert profile.visits(*m, "user:begun") == 2
    assert profile.visits(*m, "user:begun", "__main__:work") == 2
    region = profile.node(*m, "user:myregion").region
    assert region.name == "user:myregion"
    assert os.path.realpath(region.mod) == os.path.realpath(run.cwd / "prog.py")
    decorated = profile.ending_in("user:decorated")
    assert sum(int(n.visits.sum()) for n in decorated.values()) == 2, profile.format()
    ((path, _),) = decorated.items()
    assert path[1] == "__main__:<module>"
    assert profile.region_visits()["__main__:deco"] == 2


def test_user_region_used_in_two_places_is_one_region(runner):
    # The original bindings know a user region by its name alone; a region
    # entered from two places is one region, so one cnode per call path.
    run = runner.script("""
        import scorep.user

        @scorep.user.region("decorated")
        def deco():
            pass

        def main():
            with scorep.user.region("shared"):
                pass
            with scorep.user.region("shared"):
                pass
            scorep.user.region_begin("shared")
            scorep.user.region_end("shared")
            deco()
            deco()

        main()
    """, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    m = ("__main__:<module>", "__main__:main")
    assert profile.visits(*m, "user:shared") == 3, profile.format()
    assert profile.visits(*m, "user:decorated") == 2, profile.format()
    assert [r.name for r in profile.regions].count("user:shared") == 1
    assert [r.name for r in profile.regions].count("user:decorated") == 1
    assert profile.cnodes[(profile.root_name,) + m + ("user:shared",)] == 1
    assert profile.cnodes[(profile.root_name,) + m + ("user:decorated",)] == 1


def test_recording_off_interval_is_a_measurement_off_cnode(runner):
    run = runner.script("""
        import time, scorep.user

        def between():
            pass

        def main():
            scorep.user.disable_recording()
            between()
            time.sleep(0.1)
            scorep.user.enable_recording()
            between()

        main()
    """, env=PROFILING)
    profile = profiled(run)
    check_invariants(profile)
    m = ("__main__:<module>", "__main__:main")
    off = profile.node(*m, "MEASUREMENT OFF")
    assert off.visits.tolist() == [1]
    assert 0.09 <= off.inclusive[0] <= 1.0, profile.format()
    assert off.region.role == "artificial"
    assert profile.visits(*m, "__main__:between") == 1, profile.format()
    assert profile.visits(*m, "MEASUREMENT OFF", "__main__:between") == 0
    assert profile.region_visits()["time:sleep"] == 0
    assert profile.node(*m).inclusive[0] >= off.inclusive[0]


# --------------------------------------------------------------------------
# Abnormal ends

def test_profile_written_on_sys_exit(runner):
    run = runner.script("""
        import sys
        def dive(n):
            if n == 0:
                sys.exit(3)
            dive(n - 1)
        dive(20)
    """, env=PROFILING)
    assert run.returncode == 3
    profile = read_profile(run.experiment / "profile.cubex")
    check_invariants(profile)
    assert profile.region_visits()["__main__:dive"] == 21, profile.format()
    assert max(n.depth for n in _script_nodes(profile)) >= 22


def test_profile_written_on_uncaught_exception(runner):
    run = runner.script("""
        def fail():
            raise ValueError("boom")
        def main():
            fail()
        main()
    """, env=PROFILING)
    assert run.returncode == 1
    assert "ValueError: boom" in run.stderr
    profile = read_profile(run.experiment / "profile.cubex")
    check_invariants(profile)
    assert profile.visits("__main__:<module>", "__main__:main", "__main__:fail") == 1, profile.format()


def test_profile_written_on_sigterm(runner):
    runner.write("prog.py", """
import time
def wait():
    print("ready", flush=True)
    time.sleep(60)
wait()
""")
    proc = subprocess.Popen([sys.executable, "-m", "scorep", "prog.py"], cwd=runner.cwd,
                            env=runner.env(PROFILING, tracing=False),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    assert err == ""
    experiment = Run(proc.returncode, out, err, runner.cwd).experiment
    profile = read_profile(experiment / "profile.cubex")
    check_invariants(profile)
    assert profile.visits("__main__:<module>", "__main__:wait") == 1, profile.format()
    sleep = profile.node("__main__:<module>", "__main__:wait", "time:sleep")
    assert sleep.visits.tolist() == [1]
    assert 0.25 <= sleep.inclusive[0] <= 30


def test_profile_written_at_force_finalize(runner):
    run = runner.script("""
        import scorep.user
        def work():
            pass
        work()
        scorep.user.force_finalize()
        work()
        print("after")
    """, env=PROFILING)
    assert run.stdout == "after\n"
    profile = profiled(run)
    check_invariants(profile)
    assert profile.region_visits()["__main__:work"] == 1, profile.format()


# --------------------------------------------------------------------------
# File format

def test_cubex_is_a_tar_with_anchor_and_four_metrics(runner):
    run = runner.script(CALLERS, env=PROFILING)
    assert run.returncode == 0, run.stderr
    path = run.experiment / "profile.cubex"
    assert tarfile.is_tarfile(path)
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names[0] == "anchor.xml"
        assert sorted(names) == sorted(["anchor.xml"] + [f"{i}.{kind}" for i in range(4) for kind in ("index", "data")])
        assert all(m.isfile() for m in members)
        anchor = tar.extractfile("anchor.xml").read()
        for i in range(4):
            assert tar.extractfile(f"{i}.index").read().startswith(b"CUBEX.INDEX")
            assert tar.extractfile(f"{i}.data").read().startswith(b"CUBEX.DATA")
    assert anchor.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(anchor)
    assert root.tag == "cube"
    assert root.find("metrics") is not None and root.find("program") is not None
    assert root.find("system") is not None
    # no temporary file left behind
    assert sorted(p.name for p in run.experiment.iterdir() if "cubex" in p.name) == ["profile.cubex"]


def test_structure_matches_score_p(runner):
    if not SAMPLE.is_file():
        pytest.skip("Score-P sample profile not available")
    run = runner.script(CALLERS, env=PROFILING)
    ours = profiled(run)
    sample = read_profile(SAMPLE)

    def describe(profile):
        return [(m.name, m.metric_type, m.data_type, m.units) for m in profile.metrics[:4]]

    assert describe(ours) == describe(sample)
    assert [m.name for m in ours.metrics[:4]] == ["visits", "time", "min_time", "max_time"]

    def levels(path):
        """class/type of each level of a one-process, one-thread system tree"""
        (machine,) = system_tree(path)
        (node,) = machine[3]
        (group,) = node[3]
        location = group[3][0]
        return [machine[2][0], [key for key, _ in machine[2][1]], node[2][0], group[1], group[2][0],
                location[1], location[2][0]]

    assert levels(ours.path) == levels(sample.path)
    # the root of both call trees is the artificial program region
    for profile in (ours, sample):
        assert profile.root.region.role == "artificial"
        assert profile.root.region.paradigm == "measurement"
        assert profile.root.visits.tolist() == [1]
    # same value types
    assert ours.root.visits.dtype == sample.root.visits.dtype
    assert ours.root.inclusive.dtype == sample.root.inclusive.dtype
    with CubexParser(run.experiment / "profile.cubex") as p, CubexParser(SAMPLE) as s:
        for name in ("visits", "time", "min_time", "max_time"):
            a = p.get_metric_values(p.get_metric_by_name(name))
            b = s.get_metric_values(s.get_metric_by_name(name))
            assert type(a.values) is type(b.values), name
            assert _array(a.values).dtype == _array(b.values).dtype, name
        assert p._anchor_result.attrs["CUBE_CT_AGGR"] == s._anchor_result.attrs["CUBE_CT_AGGR"]


# --------------------------------------------------------------------------
# Long runs

def test_long_run_visits_exact_and_memory_bounded(runner):
    n = 666667   # 3 functions: 2,000,001 calls
    runner.write("prog.py", f"""
        def a():
            pass
        def b():
            pass
        def c():
            pass
        for _ in range({n}):
            a()
            b()
            c()
    """)
    # The child is started from a small intermediate Python: a child forked
    # straight from this (large) test process would inherit its peak RSS.
    runner.write("measure.py", """
        import os, subprocess, sys
        proc = subprocess.Popen(sys.argv[1:])
        _, status, usage = os.wait4(proc.pid, 0)
        print(usage.ru_maxrss)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    with open(runner.cwd / "out.txt", "w") as out, open(runner.cwd / "err.txt", "w") as err:
        proc = subprocess.run([sys.executable, "measure.py", sys.executable, "-m", "scorep", "prog.py"],
                              cwd=runner.cwd, env=runner.env(PROFILING, tracing=False), stdout=out, stderr=err)

    class usage:
        ru_maxrss = int((runner.cwd / "out.txt").read_text().split()[-1])
    stderr = (runner.cwd / "err.txt").read_text()
    assert proc.returncode == 0, stderr
    profile = profiled(Run(proc.returncode, "", stderr, runner.cwd))
    check_invariants(profile)
    for name in ("a", "b", "c"):
        assert profile.visits("__main__:<module>", f"__main__:{name}") == n, profile.format()
        assert profile.region_visits()[f"__main__:{name}"] == n
    # a handful of cnodes, not one per call
    assert len(profile.nodes) < 100
    # ru_maxrss of this child, in KiB on Linux
    assert usage.ru_maxrss < 150 * 1024, usage.ru_maxrss
