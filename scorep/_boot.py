"""The start of a program that ``python -m scorep`` launched (internal).

The launcher (``scorep/__main__.py``) does not run the program itself: it
re-executes the interpreter on it, as ``python [flags] script.py args`` (or
``-m module``, ``-c command``, ``-``) would, with its options in the
environment variable SCOREP_PYTHON_LAUNCH.  So CPython itself sets
``sys.argv``, ``sys.path[0]``, ``__main__``, ``__spec__``, runs the program,
reports its exceptions and sets the exit code, and no frame of ours is on
the program's stack.

``scorep.pth`` (next to the package) imports this module during ``site``
while the variable is set; the variable is removed at once, so the program
sees the environment it was given.  The measurement starts when CPython
starts running the program (its ``cpython.run_*`` audit event); the main
thread records from the first frame of the ``__main__`` module on.
"""
from __future__ import annotations

import os
import sys

LAUNCH_VARIABLE = "SCOREP_PYTHON_LAUNCH"


class LaunchOptions:
    """What the launcher passes on (a plain class: this runs at start-up)."""

    def __init__(self) -> None:
        self.verbose = False
        self.instrumenter = True
        self.instrumenter_type = ""
        self.instrumenter_file = ""
        self.c_calls = True
        self.noted: list[str] = []

    def encode(self) -> str:
        """One environment value: fields separated by commas, each text as
        the hex digits of its file system encoding (any byte but NUL)."""
        def text(value: str) -> str:
            return os.fsencode(value).hex()

        fields = [f"v={int(self.verbose)}", f"i={int(self.instrumenter)}", f"c={int(self.c_calls)}",
                  f"t={text(self.instrumenter_type)}", f"f={text(self.instrumenter_file)}"]
        fields += [f"n={text(note)}" for note in self.noted]
        return ",".join(fields)

    @classmethod
    def decode(cls, value: str) -> "LaunchOptions":
        opts = cls()
        for field in value.split(","):
            key, _, data = field.partition("=")
            if key in ("v", "i", "c"):
                setattr(opts, {"v": "verbose", "i": "instrumenter", "c": "c_calls"}[key], data == "1")
            elif key in ("t", "f", "n"):
                decoded = os.fsdecode(bytes.fromhex(data))
                if key == "t":
                    opts.instrumenter_type = decoded
                elif key == "f":
                    opts.instrumenter_file = decoded
                else:
                    opts.noted.append(decoded)
        return opts


def _fail(message: str, status: int) -> None:
    """End the process before the program ran: one line, nothing written."""
    try:
        sys.stderr.write(f"scorep: error: {message}\n")
        sys.stderr.flush()
    finally:
        os._exit(status)


def _program_argv(kind: str, args: tuple) -> list[str]:
    """The program's arguments for the trace, as the user wrote them."""
    argv = [str(a) for a in sys.argv]
    target = {"file": lambda: os.fsdecode(args[0]), "module": lambda: "-m " + str(args[0]),
              "command": lambda: "-c", "stdin": lambda: "-"}[kind]()
    return [target] + argv[1:]


def _run_instrumenter_file(path: str) -> None:
    with open(path, "rb") as handle:
        code = compile(handle.read(), path, "exec", dont_inherit=True)
    exec(code, {"__name__": "__scorep_instrumenter_file__", "__file__": path, "__builtins__": __builtins__})


def _begin(opts: LaunchOptions, kind: str, args: tuple) -> None:
    """CPython starts running the program: start the measurement."""
    from scorep import _measurement, _native

    if opts.instrumenter:
        # the interpreter's own way to the program (runpy) is no part of it;
        # without the instrumenter no frame would say where the program starts
        _native.await_main()
    try:
        _measurement.start(opts.instrumenter_type or _measurement.DEFAULT_INSTRUMENTER, c_calls=opts.c_calls,
                           verbose=opts.verbose, argv=_program_argv(kind, args))
    except _measurement.ConfigurationError as error:
        _fail(str(error), 1)
    for note in opts.noted:
        _native.verbose(note)
    if opts.instrumenter_file:
        try:
            _run_instrumenter_file(opts.instrumenter_file)
        except BaseException:  # noqa: B902 - the user's setup file failed: report it as Python would
            import traceback

            traceback.print_exc()
            _measurement.finalize()
            sys.stderr.flush()
            os._exit(1)
    if opts.instrumenter:
        _measurement.enable_instrumenter()


def boot() -> None:
    value = os.environ.pop(LAUNCH_VARIABLE, None)
    if value is None:
        return
    try:
        opts = LaunchOptions.decode(value)
    except ValueError:
        _fail(f"{LAUNCH_VARIABLE} is set by python -m scorep, not by hand (its value cannot be read)", 1)
        return
    from scorep import _native

    _native.on_main_start(lambda kind, args: _begin(opts, kind, args))


boot()
