"""``python -m scorep [options] [--] script.py [args]``: run a Python program
under measurement, exactly as ``python script.py`` would run it."""
from __future__ import annotations

import os
import sys
# (NoReturn, Optional: names for type checkers; the launcher does not import typing)

from scorep._boot import LAUNCH_VARIABLE, LaunchOptions

USAGE = """\
Usage: python -m scorep [options] [--] <script.py | directory | app.pyz> [args]
       python -m scorep [options] -m <module> [args]
       python -m scorep [options] -c <command> [args]
       python -m scorep [options] - [args]          (the program from stdin)

Runs the program under Score-P measurement, exactly as python would run it
(the interpreter's own flags, e.g. python -X dev -m scorep ..., carry over).
Results go to a Score-P experiment directory (SCOREP_EXPERIMENT_DIRECTORY,
or scorep-<date>_<ticks>): a CUBE4 profile (SCOREP_ENABLE_PROFILING) and an
OTF2 trace (SCOREP_ENABLE_TRACING).

Options:
  -h, --help                 show this help and exit
  --version                  show the version and exit
  -v, --verbose              report what the measurement does on stderr
  --noinstrumenter, --nopython
                             start with the Python instrumenter off; the program
                             switches it on with scorep.instrumenter.register()
                             (and off with scorep.instrumenter.unregister()), or
                             for a block or function with scorep.instrumenter.enable()
                             as a context manager or decorator
  --instrumenter-type=TYPE   monitoring, profile, trace, eval, cProfile, cTrace or dummy:
                             monitoring (default on Python 3.12+) uses sys.monitoring,
                             profile/cProfile (default before 3.12) the profile hook
                             (both: Python and C calls), trace/cTrace the trace hook
                             (Python calls), eval the frame evaluation hook of
                             Python 3.9-3.11 (Python calls, lowest overhead there),
                             dummy records nothing
  --instrumenter-file=FILE   execute FILE before the program (not measured)
  --no-c-calls               do not record calls of C functions (builtins, extensions)
  --no-children              do not measure the processes the program starts
                             (by default multiprocessing workers, forked processes
                             and Python subprocesses join the experiment)
  --mpp=mpi, --mpi           record MPI: the program runs with the MPI wrapper
                             library preloaded (mpirun -n N python -m scorep --mpp=mpi
                             app.py); every rank joins one experiment; --mpp=none: not
  --io=posix                 record POSIX I/O (open, read, write, seek, close, dup, ...)
                             of the program: the I/O wrapper library is preloaded; the
                             same as SCOREP_IO_POSIX=true; --io=none: not
  --keep-files               keep temporary files (accepted for compatibility)
  --config-vars              list the SCOREP_* configuration variables and exit
  --                         end of options: the next argument is the script

Score-P instrumentation flags are accepted for compatibility:
  --thread=<...>, --compiler, --nocompiler, --io=<...>, --user
"""

INSTRUMENTER_TYPES = ("monitoring", "profile", "trace", "eval", "cProfile", "cTrace", "dummy")
SCOREP_VALUE_FLAGS = ("--thread", "--io")
SCOREP_PLAIN_FLAGS = ("--compiler", "--nocompiler", "--user", "--nouser", "--noopenmp", "--openmp")


class UsageError(Exception):
    pass


class Options(LaunchOptions):
    """The parsed command line: what the launched program gets (encoded
    into its environment) and what python runs."""

    def __init__(self) -> None:
        super().__init__()
        # what python runs: ("file", path), ("module", name), ("command", code) or ("stdin", "-")
        self.kind = ""
        self.target = ""
        self.args: list[str] = []
        self.written = 0


def _eval_available() -> bool:
    from scorep import _native

    return bool(_native.features().get("eval"))


def _target(opts: Options, kind: str, target: str, rest: list[str], written: int) -> Options:
    """written: how many of the command line's last arguments name the
    program and its arguments (as python would be given them)."""
    opts.kind, opts.target, opts.args, opts.written = kind, target, rest, written
    return opts


def parse_args(argv: list[str]) -> Options:
    """Parse options up to the program; everything after it belongs to the program."""
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            if i >= len(argv):
                raise UsageError("no script after '--'")
            return _target(opts, "file", argv[i], argv[i + 1:], len(argv) - i + 1)
        if arg == "-":
            return _target(opts, "stdin", "-", argv[i:], len(argv) - i + 1)
        if not arg.startswith("-"):
            return _target(opts, "file", arg, argv[i:], len(argv) - i + 1)
        if arg in ("-m", "-c") or (arg[:2] in ("-m", "-c") and not arg.startswith("--")):
            kind = "module" if arg[1] == "m" else "command"
            if len(arg) > 2:
                return _target(opts, kind, arg[2:], argv[i:], len(argv) - i + 1)
            if i >= len(argv):
                raise UsageError(f"option {arg} needs an argument ({'a module name' if kind == 'module' else 'code'})")
            return _target(opts, kind, argv[i], argv[i + 1:], len(argv) - i + 1)
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
        elif arg == "--no-children":
            opts.children = False
        elif arg == "--mpi":
            opts.mpi = True
        elif name == "--mpp":
            if value not in ("mpi", "none"):
                raise UsageError(f"invalid --mpp '{value}' (choose from mpi, none)" if has_value else
                                 "option --mpp needs a value, e.g. --mpp=mpi")
            opts.mpi = value == "mpi"
        elif name == "--io":
            if value not in ("posix", "none"):
                raise UsageError(f"invalid --io '{value}' (choose from posix, none)" if has_value else
                                 "option --io needs a value, e.g. --io=posix")
            opts.io = value == "posix"
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
    raise UsageError("no program to run was given (a script, -m module, -c command or - for stdin)")


def print_config_vars() -> None:
    from scorep import _native

    for name, kind, default, help_text, long_help in _native.config_vars():
        print(f"{name}\n  [{kind}, default: {default!r}] {help_text}\n  {long_help}\n")


def fail(message: str, status: int = 2) -> NoReturn:
    sys.stderr.write(f"scorep: error: {message}\n")
    raise SystemExit(status)


def usage_error(message: str) -> NoReturn:
    fail(f"{message} (see python -m scorep --help)")


# Interpreter options that take a value in the next argument.
_VALUE_OPTIONS = ("-X", "-W", "--check-hash-based-pycs")


def interpreter_flags() -> list[str]:
    """The options the interpreter was started with, before ``-m scorep``."""
    orig = list(getattr(sys, "orig_argv", None) or [])
    names = ("scorep", "scorep.__main__")
    i = 1
    while i < len(orig):
        arg = orig[i]
        if arg in _VALUE_OPTIONS:
            i += 2
            continue
        if arg.startswith("--") or not arg.startswith("-") or arg == "-":
            break
        if arg[:2] in ("-X", "-W"):
            i += 1
            continue
        # a cluster of one-letter flags, possibly ending in m (+ module)
        position = arg.find("m")
        if position > 0:
            module = arg[position + 1:] or (orig[i + 1] if i + 1 < len(orig) else "")
            if module in names:
                flags = orig[1:i]
                if position > 1:
                    flags.append(arg[:position])
                return flags
            break
        if "c" in arg:
            break
        i += 1
    import subprocess

    return subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]


def check_startup_hook() -> None:
    """The launched interpreter starts the measurement from scorep.pth in a
    site-packages directory (next to the installed package)."""
    import site

    if sys.flags.no_site:
        fail("python -S skips the site module, which starts the measurement in the launched program", 1)
    site_dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        site_dirs.append(site.getusersitepackages())
    for directory in site_dirs:
        if os.path.isfile(os.path.join(directory, "scorep.pth")) and \
                os.path.isdir(os.path.join(directory, "scorep")):
            return
    fail("scorep is not installed in a site-packages directory of this Python (no start-up hook scorep.pth "
         f"in {', '.join(site_dirs) or 'any'}); install it with pip install .", 1)


def mpi_library() -> str:
    import scorep
    from scorep._boot import MPI_LIBRARY

    return os.path.join(os.path.dirname(os.path.abspath(scorep.__file__)), MPI_LIBRARY)


def io_wanted(opts: Options, env: dict) -> bool:
    """--io=posix, or SCOREP_IO_POSIX true (as the core reads booleans; a
    value it cannot read is its to report)."""
    if opts.io is not None:
        return opts.io
    return env.get("SCOREP_IO_POSIX", "").strip().lower() in ("true", "yes", "on", "1")


def preload_io(env: dict) -> None:
    """POSIX I/O recording: the launched interpreter starts with the I/O
    wrapper library preloaded."""
    import scorep
    from scorep._boot import IO_LIBRARY

    library = os.path.join(os.path.dirname(os.path.abspath(scorep.__file__)), IO_LIBRARY)
    if not os.path.isfile(library):
        fail(f"POSIX I/O recording: scorep was installed without its I/O wrapper library ({library}); reinstall "
             "scorep", 1)
    previous = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = library + (":" + previous if previous else "")


def preload_mpi(env: dict) -> None:
    """--mpp=mpi: the launched interpreter starts with the MPI wrapper
    library preloaded, which must fit the MPI that mpi4py uses."""
    library = mpi_library()
    if not os.path.isfile(library):
        fail("--mpp=mpi: scorep was installed without its MPI wrapper library (no mpicc was found when it was "
             "built); install an MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) and reinstall scorep", 1)
    from scorep._elf import needed

    ours = [name for name in needed(library) if name.startswith("libmpi")]
    import ctypes

    try:
        ctypes.CDLL(library)
    except OSError as error:
        fail(f"--mpp=mpi: the MPI library cannot be loaded: {error}", 1)
    import importlib.util

    try:
        spec = importlib.util.find_spec("mpi4py")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations and ours:
        directory = list(spec.submodule_search_locations)[0]
        modules = [os.path.join(directory, name) for name in sorted(os.listdir(directory))
                   if name.startswith("MPI.") and name.endswith(".so")]
        theirs = sorted({name for module in modules for name in needed(module) if name.startswith("libmpi")})
        if theirs and ours[0] not in theirs:
            fail(f"--mpp=mpi: mpi4py ({directory}) uses {' or '.join(theirs)}, but scorep's MPI wrappers were built "
                 f"for {ours[0]}: rebuild one of them against the other's MPI (e.g. pip install --no-binary=mpi4py "
                 "--force-reinstall mpi4py)", 1)
    previous = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = library + (":" + previous if previous else "")


def _main_module(kind: str, filename: str):
    """A new __main__ module, as CPython makes it for a program (and for a
    script, with its file and loader)."""
    import builtins
    import _frozen_importlib
    import _frozen_importlib_external

    main = type(sys)("__main__")
    names = main.__dict__
    names["__annotations__"] = {}
    names["__builtins__"] = builtins
    names["__loader__"] = _frozen_importlib.BuiltinImporter
    if kind == "file":
        names["__file__"] = filename
        names["__cached__"] = None
        names["__loader__"] = _frozen_importlib_external.SourceFileLoader("__main__", filename)
    return main


def _script_code(path: str):
    """The script's code as CPython would compile it, or None where this
    process cannot run it as CPython would (a directory or zip application,
    compiled code, code that does not compile: CPython itself says why)."""
    import _frozen_importlib_external

    for hook in sys.path_hooks:
        try:
            hook(path)
        except ImportError:
            continue
        except Exception:  # noqa: B902 - a hook of the environment's that fails: CPython's way decides
            return None
        return None  # a directory or an archive: its __main__ module runs
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        if path.endswith(".pyc") or source[:2] == _frozen_importlib_external.MAGIC_NUMBER[:2]:
            return None
        return compile(source, path, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return None


# Modules that python -m scorep imported for itself, not the program: the
# launcher's annotations, and CPython's -m machinery (on 3.9/3.10 with
# pkgutil and typing), which a -m program's interpreter imports as well; a
# module a .pth file imported during site stays.  (The general modules
# runpy needs on 3.9, re, enum, functools, ..., stay.)
_LAUNCHER_MODULES = ("__future__",)
_MINUS_M_MODULES = ("runpy", "pkgutil", "importlib", "importlib._bootstrap", "importlib._bootstrap_external",
                    "importlib._abc", "importlib.abc", "importlib.machinery", "importlib.util", "typing", "typing.io",
                    "typing.re")


def _forget_launcher_modules(kind: str) -> None:
    """The program's sys.modules as python would start it: without what
    only the launcher imported."""
    names = list(sys.modules)
    after_site = set(names[names.index("site") + 1:]) if "site" in names else set()
    for name in _LAUNCHER_MODULES + (() if kind == "module" else _MINUS_M_MODULES):
        if name in after_site:
            del sys.modules[name]


def run_here(opts: Options, env: dict) -> bool:
    """Run the program in this process, as the interpreter would have run
    it (``python script.py``, ``-m module``, ``-c code``), measured from its
    first frame; no second interpreter starts.  False where one must: the
    wrapper libraries are preloaded into a new one (--mpp=mpi, --io=posix),
    stdin, directories and archives, ``python -i``, or a process that is
    measured already (a child of a measured program)."""
    if opts.kind not in ("file", "module", "command") or opts.mpi or io_wanted(opts, env) or sys.flags.inspect \
            or "scorep._native" in sys.modules:
        return False
    filename = code = None
    if opts.kind == "file":
        filename = os.path.join(os.getcwd(), opts.target)
        code = _script_code(filename)
        if code is None:
            return False
        sys.path_importer_cache.setdefault(filename, None)
    elif opts.kind == "command":
        try:
            code = compile(opts.target, "<string>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    from scorep import _boot, _native

    main = _main_module(opts.kind, filename)
    sys.argv = [{"file": opts.target, "module": "-m", "command": "-c"}[opts.kind]] + opts.args
    if hasattr(sys, "orig_argv"):
        sys.orig_argv = sys.orig_argv[:1] + interpreter_flags() + sys.orig_argv[len(sys.orig_argv) - opts.written:]
    if not (sys.flags.isolated or getattr(sys.flags, "safe_path", False)) and opts.kind != "module":
        # python -m scorep put the working directory first, as -m does
        sys.path[0] = os.path.dirname(os.path.realpath(filename)) if filename else ""
    sys.modules["__main__"] = main
    _forget_launcher_modules(opts.kind)
    what = {"file": filename, "module": opts.target, "command": opts.target}[opts.kind]
    sys.audit(f"cpython.run_{opts.kind}", what)
    _boot._begin(LaunchOptions.decode(opts.encode()), opts.kind, (what,))
    if code is not None:
        _native.run_program(code, main.__dict__, opts.kind)
    else:
        import runpy

        _native.run_program(runpy._run_module_as_main, (opts.target, True), opts.kind)
    return True


def launch(opts: Options) -> None:
    """Run the program: in this process, or by replacing this process with
    the interpreter running it."""
    executable = sys.executable
    if not executable:
        fail("the Python interpreter's path (sys.executable) is unknown: cannot launch the program", 1)
    if opts.kind == "module":
        program = ["-m", opts.target]
    elif opts.kind == "command":
        program = ["-c", opts.target]
    elif opts.kind == "stdin":
        program = ["-"]
    else:
        program = ["--", opts.target] if opts.target.startswith("-") else [opts.target]
    env = dict(os.environ)
    measured = True
    if opts.kind == "file":
        try:
            if not os.path.isdir(opts.target):
                with open(opts.target, "rb"):
                    pass
        except OSError:
            measured = False  # python itself says why it cannot run it, as without scorep
    elif opts.kind == "module":
        # a top-level name is looked up without importing anything; if there
        # is none, python says so itself and nothing is measured
        import importlib.util

        try:
            measured = importlib.util.find_spec(opts.target.partition(".")[0]) is not None
        except (ImportError, ValueError):
            measured = False
    if measured:
        check_startup_hook()
        if opts.instrumenter_file:
            opts.instrumenter_file = os.path.abspath(opts.instrumenter_file)
        if run_here(opts, env):
            return
        if opts.mpi:
            preload_mpi(env)
        if io_wanted(opts, env):
            opts.io = True
            preload_io(env)
        env[LAUNCH_VARIABLE] = opts.encode()
    argv = [executable] + interpreter_flags() + program + opts.args
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        os.execve(executable, argv, env)
    except OSError as error:
        fail(f"cannot run {executable}: {error.strerror}", 1)
    raise SystemExit(1)  # not reached


def main(argv: Optional[list[str]] = None) -> None:
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as error:
        usage_error(str(error))
    if opts.instrumenter_file:
        try:
            with open(opts.instrumenter_file, "rb"):
                pass
        except OSError as error:
            fail(f"can't open --instrumenter-file {os.path.abspath(opts.instrumenter_file)!r}: "
                 f"[Errno {error.errno}] {error.strerror}")
    launch(opts)


if __name__ == "__main__":
    main()
