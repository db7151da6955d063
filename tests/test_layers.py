"""The layers of the C code, read from the tree: event sources
(src/sources) -> measurement core (src/core) <- substrates (src/substrates).

Calls are read from the object files (which file's undefined symbols another
file defines), includes from the sources.  Neither graph may have a cycle;
the core calls and includes only itself; substrates reach the core only to
register themselves; event sources call only the core's public interface
(scorep_*, src/core/scorep.h)."""
from __future__ import annotations

import collections
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the C sources' layers: the same on every Python
pytestmark = pytest.mark.heavy

SRC = os.path.join(ROOT, "src")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# plain data structures without measurement state: the extension keeps a
# copy of its own
SHARED_UTILITIES = {"core/ptrmap.c"}


def layer(path: str) -> str:
    return path.split("/")[0]


def sources() -> list[str]:
    return sorted(os.path.relpath(p, SRC) for p in glob.glob(os.path.join(SRC, "**", "*.c"), recursive=True))


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> dict[str, set[str]]:
    """file -> the files whose functions or data it uses."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    nm = shutil.which("nm")
    assert compiler and nm
    out = tmp_path_factory.mktemp("objects")
    include = sysconfig.get_paths()["include"]
    otf2 = subprocess.run(["otf2-config", "--cflags"], capture_output=True, text=True, check=True).stdout.split()
    defined: dict[str, set[str]] = collections.defaultdict(set)
    undefined: dict[str, set[str]] = collections.defaultdict(set)
    # the MPI wrappers: generated from the mpi.h of the MPI mpicc names (setup.py does the same)
    mpi = subprocess.run(["mpicc", "--showme:compile"], capture_output=True, text=True, check=True).stdout.split()
    header = next(os.path.join(flag[2:], "mpi.h") for flag in mpi
                  if flag.startswith("-I") and os.path.isfile(os.path.join(flag[2:], "mpi.h")))
    generated = out / "mpi_generated"
    generated.mkdir()
    subprocess.run([sys.executable, os.path.join(SRC, "sources", "mpi", "generate.py"), header,
                    str(generated / "wrappers_generated.c"), str(generated / "wrappers_generated.h"),
                    str(generated / "functions_generated.c")], check=True)
    units = {source: os.path.join(SRC, source) for source in sources()}
    for name in ("wrappers_generated.c", "functions_generated.c"):
        units[f"sources/mpi/{name}"] = str(generated / name)
    for source, path in sorted(units.items()):
        obj = out / (source.replace("/", "_") + ".o")
        extra = [*mpi, "-I" + str(generated), "-I" + os.path.join(SRC, "sources", "mpi")] \
            if source.startswith("sources/mpi/") else []
        build = subprocess.run([compiler, "-std=gnu11", "-D_GNU_SOURCE", '-DSCOREP_VERSION="0"', "-fvisibility=hidden",
                                "-I" + include, *otf2, *extra,
                                "-c", path, "-o", str(obj)], capture_output=True, text=True)
        assert build.returncode == 0, build.stderr
        for line in subprocess.run([nm, str(obj)], capture_output=True, text=True, check=True).stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRCV":
                # the I/O wrappers are the C library's open, read, write, ... for the whole process:
                # a call of write() is the C library's interface, not a call into them
                if not source.startswith("sources/io/"):
                    defined[parts[2]].add(source)
            elif len(parts) == 2 and parts[0] == "U":
                undefined[source].add(parts[1])
    graph: dict[str, set[str]] = collections.defaultdict(set)
    symbols: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for source, names in undefined.items():
        for name in names:
            for target in defined.get(name, ()):
                if target != source and target not in SHARED_UTILITIES:
                    graph[source].add(target)
                    symbols[(source, target)].add(name)
    graph_symbols.update(symbols)
    return graph


graph_symbols: dict[tuple[str, str], set[str]] = {}


def includes() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = collections.defaultdict(set)
    for path in glob.glob(os.path.join(SRC, "**", "*.[ch]"), recursive=True):
        with open(path) as handle:
            text = handle.read()
        here = os.path.relpath(path, SRC)
        for name in INCLUDE.findall(text):
            target = os.path.normpath(os.path.join(os.path.dirname(here), name))
            if os.path.exists(os.path.join(SRC, target)):
                graph[here].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {t for targets in graph.values() for t in targets}):
        if node not in index:
            visit(node)
    return found


def test_no_file_calls_back_into_a_file_that_calls_it(calls):
    assert cycles(calls) == []


def test_no_include_cycles():
    assert cycles(includes()) == []


def test_the_core_uses_only_the_core(calls):
    for source, targets in calls.items():
        if layer(source) == "core":
            assert {layer(t) for t in targets} <= {"core"}, (source, targets)
    for source, targets in includes().items():
        if layer(source) == "core":
            assert {layer(t) for t in targets} <= {"core"}, (source, targets)


def test_substrates_reach_the_core_only_to_register(calls):
    for source, targets in calls.items():
        if layer(source) != "substrates":
            continue
        for target in targets:
            if layer(target) == "core":
                assert graph_symbols[(source, target)] == {"substrate_register"}, (source, target)
            else:
                assert layer(target) == "substrates", (source, target)


def test_event_sources_call_only_the_public_interface(calls):
    for source, targets in calls.items():
        if layer(source) != "sources":
            continue
        for target in targets:
            if layer(target) == "core":
                used = graph_symbols[(source, target)]
                assert all(name.startswith("scorep_") for name in used), (source, target, used)
            else:
                # an event source calls within its own folder
                assert target.split("/")[:2] == source.split("/")[:2], (source, target)
    outside = [(s, t) for s, targets in calls.items() for t in targets
               if layer(t) == "substrates" and layer(s) != "substrates"]
    assert outside == [], "nothing outside the substrates calls one by name"


def test_instrumenters_do_not_call_the_module(calls):
    for source, targets in calls.items():
        if source.startswith("sources/cpython/") and source != "sources/cpython/module.c":
            assert "sources/cpython/module.c" not in targets, source
