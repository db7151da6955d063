"""One measurement core per process: a second native library, preloaded
before Python starts (as the MPI and I/O wrappers will be), records through
the core's public interface (src/core/scorep.h) into the same measurement as
the Python events.  tests/core/probe.c is that library; the trace must show
one clock, one set of definitions and one set of locations."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import scorep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(os.path.abspath(scorep.__file__))


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> str:
    library = os.path.join(PACKAGE, "libscorep_measurement.so")
    assert os.path.isfile(library), f"the installed package has no {library}"
    compiler = shutil.which("cc") or shutil.which("gcc")
    target = str(tmp_path_factory.mktemp("probe") / "libprobe.so")
    build = subprocess.run([compiler, "-std=gnu11", "-D_GNU_SOURCE", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror",
                            os.path.join(ROOT, "tests", "core", "probe.c"), "-o", target, "-L" + PACKAGE,
                            "-lscorep_measurement", "-Wl,-rpath," + PACKAGE, "-lpthread"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return target


PROGRAM = """
import ctypes, sys
probe = ctypes.CDLL(None)   # the preloaded library's symbols are global
def python_side(n):
    return probe.probe_work(n)
def main():
    print("before start:", probe.probe_loaded_before_start())
    print("work:", python_side(5))
    print("thread:", probe.probe_thread(3))
main()
"""


def test_a_preloaded_library_records_into_the_python_measurement(runner, probe):
    plain = runner.script(PROGRAM, scorep=False, env={"LD_PRELOAD": probe})
    assert plain.returncode == 0, plain.stderr
    # without a measurement the interface does nothing
    assert plain.stdout == "before start: 1\nwork: -1\nthread: -1\n"

    run = runner.script(PROGRAM, env={"LD_PRELOAD": probe})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "before start: 1\nwork: 5\nthread: 3\n"
    assert run.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    # one set of definitions: each region once, Python's and the probe's
    names = [r.name for r in trace.region_definitions]
    assert names.count("probe:work") == 1 and names.count("probe:step") == 1
    assert names.count("__main__:python_side") == 1
    # the probe's events nest under the Python call that made them, on the
    # same location
    tree = trace.call_tree("Master thread")
    assert tree[("__main__:<module>", "__main__:main", "__main__:python_side", "probe:work")] == 1
    assert tree[("__main__:<module>", "__main__:main", "__main__:python_side", "probe:work", "probe:step")] == 5
    # the thread Python never saw is a location of the same process
    assert sorted(loc.name for loc in trace.locations) == ["Master thread", "probe thread"]
    thread = trace.location("probe thread")
    assert trace.call_tree(thread) == {("probe:work",): 1, ("probe:work", "probe:step"): 3}
    # one clock: the thread's events lie within the main thread's call of
    # probe_thread, on the same time line
    master = trace.location("Master thread")
    main_enter = next(e.time for e in master.events if e.kind == "enter" and e.region == "__main__:main")
    main_leave = next(e.time for e in master.events if e.kind == "leave" and e.region == "__main__:main")
    assert all(main_enter <= e.time <= main_leave for e in thread.events), thread.events
