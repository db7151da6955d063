"""Builds the C unit tests of the measurement core (tests/core/test_core.c)
with AddressSanitizer and UndefinedBehaviorSanitizer, and runs them."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def otf2_link_flags() -> list[str]:
    config = shutil.which("otf2-config")
    if not config:
        pytest.fail("otf2-config not found: install libotf2-trace-dev")
    flags = []
    for option in ("--cflags", "--ldflags", "--libs"):
        flags += subprocess.run([config, option], check=True, capture_output=True, text=True).stdout.split()
    return flags


def test_core_unit_tests(tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is required"
    sources = sorted(glob.glob(os.path.join(ROOT, "src", "core", "*.c")) +
                     glob.glob(os.path.join(ROOT, "src", "writers", "*.c")))
    binary = tmp_path / "test_core"
    command = [compiler, "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
               "-Wno-missing-field-initializers", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
               os.path.join(ROOT, "tests", "core", "test_core.c"), *sources, "-o", str(binary),
               *otf2_link_flags(), "-lpthread"]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    passed, failed = run.stdout.split()[0], run.stdout.split()[2]
    assert failed == "0" and int(passed) >= 100, run.stdout


def test_filter_parser_fuzz(tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc")
    binary = tmp_path / "fuzz_filter"
    command = [compiler, "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
               "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
               os.path.join(ROOT, "tests", "core", "fuzz_filter.c"), os.path.join(ROOT, "src", "core", "filter.c"),
               "-o", str(binary)]
    build = subprocess.run(command, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(binary), "300000"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "300001 passed, 0 failed"
