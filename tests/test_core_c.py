"""Builds the C unit tests of the measurement core (tests/core/test_core.c:
the core alone, against a test substrate, without libotf2) with
AddressSanitizer and UndefinedBehaviorSanitizer, and with ThreadSanitizer,
and runs them; the allocation fault injection and the filter parser's fuzz
test likewise."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

# the C core does not depend on the Python version: scripts/test.sh runs
# these with its main Python only
pytestmark = pytest.mark.heavy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers"]
SANITIZERS = {
    "address,undefined": ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
    "thread": ["-fsanitize=thread"],
}


def compiler() -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is required"
    return cc


def core_sources() -> list[str]:
    return sorted(glob.glob(os.path.join(ROOT, "src", "core", "*.c")))


@pytest.mark.parametrize("sanitizer", sorted(SANITIZERS))
def test_core_unit_tests(tmp_path, sanitizer):
    binary = tmp_path / "test_core"
    command = [compiler(), "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-g", *WARNINGS, *SANITIZERS[sanitizer],
               os.path.join(ROOT, "tests", "core", "test_core.c"), *core_sources(), "-o", str(binary), "-lpthread"]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    # halt_on_error: the first report of a race or leak fails the run
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1",
               ASAN_OPTIONS="detect_leaks=1")
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING: ThreadSanitizer" not in run.stderr and "ERROR: AddressSanitizer" not in run.stderr, run.stderr
    passed, failed = run.stdout.split()[0], run.stdout.split()[2]
    assert failed == "0" and int(passed) >= 160, run.stdout


def test_core_builds_without_python_or_otf2(tmp_path):
    """The core includes neither Python.h nor OTF2 nor a substrate header."""
    for source in core_sources() + glob.glob(os.path.join(ROOT, "src", "core", "*.h")):
        with open(source) as handle:
            text = handle.read()
        for forbidden in ("Python.h", "otf2/", "substrates/", "sources/"):
            assert forbidden not in text, f"{source} includes {forbidden}"
    objects = []
    for source in core_sources():
        target = tmp_path / (os.path.basename(source) + ".o")
        build = subprocess.run([compiler(), "-std=gnu11", "-D_GNU_SOURCE", "-c", *WARNINGS, source, "-o", str(target)],
                               capture_output=True, text=True)
        assert build.returncode == 0, build.stderr
        objects.append(str(target))


def test_every_allocation_of_the_core_can_fail(tmp_path):
    """Fault injection (tests/core/alloc_failures.c): in run N the core's
    N-th allocation and all later ones fail; no run may crash, a failed
    start must say why."""
    binary = tmp_path / "alloc_failures"
    wrap = "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup"
    command = [compiler(), "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-g", *WARNINGS, *SANITIZERS["address,undefined"],
               os.path.join(ROOT, "tests", "core", "alloc_failures.c"), *core_sources(), "-o", str(binary),
               "-lpthread", wrap]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    # the runs that fail leave what they had allocated: no leak check
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert run.returncode == 0, run.stdout + run.stderr
    runs, crashed = run.stdout.split()[0], run.stdout.split()[2]
    assert crashed == "0" and int(runs) >= 50, run.stdout


def test_filter_parser_fuzz(tmp_path):
    binary = tmp_path / "fuzz_filter"
    command = [compiler(), "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-g", *WARNINGS, *SANITIZERS["address,undefined"],
               os.path.join(ROOT, "tests", "core", "fuzz_filter.c"), os.path.join(ROOT, "src", "core", "filter.c"),
               "-o", str(binary)]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(binary), "300000"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "300001 passed, 0 failed"
