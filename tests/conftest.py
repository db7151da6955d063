"""Shared fixtures: run real scripts through ``python -m scorep`` (or plain
``python``) in a temporary directory and find the experiment they wrote."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from helpers.otf2_trace import Trace, read_trace  # noqa: E402

# The eval instrumenter (PEP 523 frame evaluation) exists on these versions only.
HAS_EVAL = (3, 9) <= sys.version_info < (3, 12)
EVAL_ONLY = pytest.mark.skipif(not HAS_EVAL, reason="PEP 523 instrumenter: 3.9-3.11")

# Every instrumenter this Python has, as --instrumenter-type values.
INSTRUMENTERS = (["monitoring"] if sys.version_info >= (3, 12) else []) + ["profile", "trace"] + \
    (["eval"] if HAS_EVAL else [])

# Variables of the test environment that would change what the measurement does.
_SCOREP_VARS = [name for name in os.environ if name.startswith("SCOREP_")]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    cwd: Path

    def experiments(self) -> list[Path]:
        """Experiment directories in the working directory, oldest first."""
        found = [p for p in self.cwd.iterdir() if p.is_dir() and p.name.startswith("scorep-")]
        return sorted(found, key=lambda p: p.stat().st_mtime)

    @property
    def experiment(self) -> Path:
        found = [p for p in self.experiments() if p.name != "scorep-measurement-tmp"
                 and not p.name.startswith("scorep-failed-")]
        assert len(found) == 1, f"expected one experiment directory, found {found}\nstderr:\n{self.stderr}"
        return found[0]

    def trace(self, directory: Optional[Path] = None) -> Trace:
        directory = directory or self.experiment
        anchor = directory / "traces.otf2"
        assert anchor.is_file(), f"no trace in {directory}: {sorted(os.listdir(directory))}\nstderr:\n{self.stderr}"
        return read_trace(anchor)


class Runner:
    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path

    def write(self, name: str, text: str) -> Path:
        path = self.cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def env(self, extra: Optional[dict] = None, tracing: bool = True) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _SCOREP_VARS}
        env["SCOREP_ENABLE_TRACING"] = "true" if tracing else "false"
        env["SCOREP_ENABLE_PROFILING"] = "false"
        env.update(extra or {})
        return env

    def run(self, *args: str, env: Optional[dict] = None, tracing: bool = True, timeout: float = 120,
            python: Optional[str] = None, scorep: bool = True, input: Optional[str] = None) -> Run:
        command = [python or sys.executable] + (["-m", "scorep"] if scorep else []) + list(args)
        done = subprocess.run(command, cwd=self.cwd, env=self.env(env, tracing), capture_output=True,
                              text=True, timeout=timeout, input=input)
        return Run(done.returncode, done.stdout, done.stderr, self.cwd)

    def run_plain(self, *args: str, **kwargs) -> Run:
        """The same command line under plain ``python``, for comparison."""
        return self.run(*args, scorep=False, **kwargs)

    def script(self, text: str, *args: str, name: str = "prog.py", **kwargs) -> Run:
        """Write a script and run it under ``python -m scorep [options]``;
        options go before the script name via ``options=[...]``."""
        options = kwargs.pop("options", [])
        self.write(name, text)
        return self.run(*options, name, *args, **kwargs)


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)
