"""``python -m scorep [options] [--] script.py [args]``: run a Python program
under measurement, exactly as ``python script.py`` would run it."""
from __future__ import annotations

import os
import sys
from typing import NoReturn, Optional

USAGE = """\
Usage: python -m scorep [options] [--] <script.py> [script arguments]

Runs <script.py> under Score-P measurement.  Results go to a Score-P
experiment directory (SCOREP_EXPERIMENT_DIRECTORY, or scorep-<date>_<ticks>):
a CUBE4 profile (SCOREP_ENABLE_PROFILING) and an OTF2 trace (SCOREP_ENABLE_TRACING).

Options:
  -h, --help                 show this help and exit
  --version                  show the version and exit
  -v, --verbose              report what the measurement does on stderr
  --noinstrumenter, --nopython
                             start with the Python instrumenter off; switch it on
                             with scorep.instrumenter.enable()
  --instrumenter-type=TYPE   monitoring, profile, trace, eval, cProfile, cTrace or dummy:
                             monitoring (default on Python 3.12+) uses sys.monitoring,
                             profile/cProfile (default before 3.12) the profile hook
                             (both: Python and C calls), trace/cTrace the trace hook
                             (Python calls), eval the frame evaluation hook of
                             Python 3.9-3.11 (Python calls, lowest overhead there),
                             dummy records nothing
  --instrumenter-file=FILE   execute FILE before the script (not measured)
  --no-c-calls               do not record calls of C functions (builtins, extensions)
  --keep-files               keep temporary files (accepted for compatibility)
  --config-vars              list the SCOREP_* configuration variables and exit
  --                         end of options

Score-P instrumentation flags are accepted for compatibility:
  --mpp=<mpi|none>, --mpi, --thread=<...>, --compiler, --nocompiler, --io=<...>, --user
"""

INSTRUMENTER_TYPES = ("monitoring", "profile", "trace", "eval", "cProfile", "cTrace", "dummy")
SCOREP_VALUE_FLAGS = ("--mpp", "--thread", "--io")
SCOREP_PLAIN_FLAGS = ("--mpi", "--compiler", "--nocompiler", "--user", "--nouser", "--noopenmp", "--openmp")


class UsageError(Exception):
    pass


class Options:
    """The parsed command line (a plain class: importing dataclasses would
    add to every measured program's start-up)."""

    def __init__(self) -> None:
        self.verbose = False
        self.instrumenter = True
        self.instrumenter_type = ""
        self.instrumenter_file: Optional[str] = None
        self.c_calls = True
        self.noted: list[str] = []
        self.script: Optional[str] = None
        self.args: list[str] = []


def _eval_available() -> bool:
    from scorep import _native

    return bool(_native.features().get("eval"))


def parse_args(argv: list[str]) -> Options:
    """Parse options up to the script name; everything after it belongs to the script."""
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            i -= 1
            break
        name, has_value, value = arg.partition("=")
        if arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            raise SystemExit(0)
        if arg == "--version":
            from scorep import __version__

            print(f"scorep {__version__}")
            raise SystemExit(0)
        if arg == "--config-vars":
            print_config_vars()
            raise SystemExit(0)
        if arg in ("-v", "--verbose"):
            opts.verbose = True
        elif arg in ("--noinstrumenter", "--nopython"):
            opts.instrumenter = False
        elif arg == "--no-c-calls":
            opts.c_calls = False
        elif arg == "--keep-files":
            opts.noted.append("--keep-files: this implementation writes no temporary files")
        elif name == "--instrumenter-type":
            if not has_value:
                raise UsageError("option --instrumenter-type needs a value, e.g. --instrumenter-type=profile")
            if value not in INSTRUMENTER_TYPES:
                raise UsageError(f"invalid --instrumenter-type '{value}' (choose from {', '.join(INSTRUMENTER_TYPES)})")
            if value == "monitoring" and sys.version_info < (3, 12):
                raise UsageError("--instrumenter-type=monitoring needs Python 3.12 or newer (sys.monitoring)")
            if value == "eval" and not _eval_available():
                raise UsageError("--instrumenter-type=eval needs Python 3.9, 3.10 or 3.11 (PEP 523 frame evaluation; "
                                 "on 3.11 built with CPython's internal headers); use monitoring on 3.12+")
            opts.instrumenter_type = value
        elif name == "--instrumenter-file":
            if not has_value or not value:
                raise UsageError("option --instrumenter-file needs a file, e.g. --instrumenter-file=setup.py")
            opts.instrumenter_file = value
        elif name in SCOREP_VALUE_FLAGS and has_value:
            opts.noted.append(f"{arg}: accepted for compatibility, no effect yet")
        elif arg in SCOREP_PLAIN_FLAGS:
            opts.noted.append(f"{arg}: accepted for compatibility, no effect yet")
        else:
            raise UsageError(f"unknown option '{arg}'")
    if i >= len(argv):
        raise UsageError("no script to run was given")
    opts.script = argv[i]
    opts.args = argv[i + 1:]
    return opts


def print_config_vars() -> None:
    from scorep import _native

    for name, kind, default, help_text, long_help in _native.config_vars():
        print(f"{name}\n  [{kind}, default: {default!r}] {help_text}\n  {long_help}\n")


def usage_error(message: str) -> NoReturn:
    sys.stderr.write(USAGE)
    sys.stderr.write(f"scorep: error: {message}\n")
    raise SystemExit(2)


def check_script(path: str) -> str:
    """The script's absolute path; exit 2 as Python does if it cannot be read."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        sys.stderr.write(f"scorep: error: can't open file {os.path.abspath(path)!r}: "
                         f"[Errno {error.errno}] {error.strerror}\n")
        raise SystemExit(2)
    return os.path.abspath(path)


def make_main_module(absolute: str):
    import importlib.machinery
    import types

    module = types.ModuleType("__main__")
    module.__dict__.update({
        "__package__": None,
        "__loader__": importlib.machinery.SourceFileLoader("__main__", absolute),
        "__spec__": None,
        "__annotations__": {},
        "__builtins__": __builtins__,
        "__file__": absolute,
        "__cached__": None,
    })
    return module


def run_instrumenter_file(path: str) -> None:
    absolute = check_script(path)
    with open(absolute, "rb") as handle:
        code = compile(handle.read(), absolute, "exec", dont_inherit=True)
    exec(code, {"__name__": "__scorep_instrumenter_file__", "__file__": absolute, "__builtins__": __builtins__})


def print_exception(exc: BaseException) -> None:
    """Print an uncaught exception as Python's top level does, without the
    measurement's own frames."""
    tb = exc.__traceback__
    package_dir = os.path.dirname(os.path.abspath(__file__)) + os.sep
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(package_dir):
        tb = tb.tb_next
    exc.__traceback__ = tb
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        import traceback  # only here: it would add to every program's start-up

        traceback.print_exception(type(exc), exc, tb)


def exit_code_of(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code
    return 1


def main(argv: Optional[list[str]] = None) -> None:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        usage_error(str(error))

    from scorep import _measurement, _native

    absolute = check_script(opts.script)
    try:
        _measurement.start(opts.instrumenter_type or _measurement.DEFAULT_INSTRUMENTER, c_calls=opts.c_calls,
                           verbose=opts.verbose, argv=[opts.script] + opts.args)
    except _measurement.ConfigurationError as error:
        sys.stderr.write(f"scorep: error: {error}\n")
        raise SystemExit(1)
    for note in opts.noted:
        _native.verbose(note)

    main_module = make_main_module(absolute)
    sys.modules["__main__"] = main_module
    sys.argv[:] = [opts.script] + opts.args
    sys.path[0] = os.path.dirname(os.path.realpath(opts.script))
    if opts.instrumenter_file:
        run_instrumenter_file(opts.instrumenter_file)

    if opts.instrumenter:
        _measurement.enable_instrumenter()
    try:
        _native.run(absolute, main_module.__dict__)
    except SystemExit as exc:
        _native.set_exit_status(exit_code_of(exc))
        raise
    except BaseException as exc:  # noqa: B902 - uncaught in the script: report like Python
        print_exception(exc)
        if isinstance(exc, KeyboardInterrupt):
            _native.set_exit_status(128 + 2)
            _measurement.exit_with_sigint()
        else:
            _native.set_exit_status(1)
        raise SystemExit(1)
    _native.set_exit_status(0)


if __name__ == "__main__":
    main()
