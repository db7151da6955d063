"""``python -m scorep.recover DIRECTORY...``: complete what a killed run left.

A traced run writes its events while it runs; a run ended by SIGKILL (or by
the out-of-memory killer, or a lost node) leaves them in its experiment
directory with the journal of its definitions (``.scorep-journal``). This
command turns that leftover into the experiment the run would have written
had it ended at its last written event: the OTF2 trace and, if the run
profiled too, the CUBE4 profile, with the regions still open there left at
that point. The run's own configuration (its ``scorep.cfg``) is used. A
``scorep-measurement-tmp`` or ``scorep-failed-`` directory then gets the
``scorep-<stamp>`` name a finished run gets; a named one keeps its name.

Prints one line per directory: what was recovered and where it is. An error
(a live run still writes the directory, there is nothing to recover) is one
line naming the directory, the exit status is 1 and the directory is left as
it was."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Dict, List, Optional, Sequence

PROG = "python -m scorep.recover"


def run_configuration(directory: str) -> Dict[str, str]:
    """The SCOREP_* settings of the run, from its scorep.cfg."""
    path = os.path.join(directory, "scorep.cfg")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise OSError(f"'{directory}' is not an experiment directory: cannot read {path}: "
                      f"{error.strerror or error}") from None
    settings = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.startswith("SCOREP_"):
            raise OSError(f"{path}:{number}: not a configuration line: {line[:80]!r}")
        try:
            words = shlex.split(value)
        except ValueError as error:
            raise OSError(f"{path}:{number}: {error}") from None
        settings[name] = words[0] if words else ""
    return settings


def recover(directory: str) -> str:
    """Recover one directory; returns the line to print."""
    from scorep import _native

    settings = run_configuration(directory)
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        final, what = _native.recover(directory)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return f"scorep: {what}: {final}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directories", nargs="+", metavar="DIRECTORY",
                        help="experiment directory a killed run left")
    args = parser.parse_args(argv)
    status = 0
    for directory in args.directories:
        try:
            print(recover(directory), flush=True)
        except OSError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr, flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
