"""Starting and finishing the measurement of this process (internal)."""
from __future__ import annotations

import atexit
import os
import signal
import sys
import threading

from scorep import _native

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# sys.monitoring (PEP 669) where the interpreter has it, else the profile hook
DEFAULT_INSTRUMENTER = "monitoring" if sys.version_info >= (3, 12) else "profile"

_state = {"instrumenter": DEFAULT_INSTRUMENTER, "exit_with_sigint": False}


class ConfigurationError(Exception):
    """A configuration value or option that cannot be used."""


def start(instrumenter_type: str = DEFAULT_INSTRUMENTER, c_calls: bool | None = None, verbose: bool = False,
          program: str | None = None, argv: list[str] | None = None) -> bool:
    """Initialise the measurement (config, experiment directory).

    Returns False if it was already running.  Raises ConfigurationError for
    bad configuration; nothing is written then."""
    try:
        started = _native.init(_PACKAGE_DIR, program or sys.executable or "python",
                               [str(a) for a in (argv if argv is not None else sys.argv)], verbose)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if not started:
        return False
    _native.configure(instrumenter_type, True if c_calls is None else c_calls)
    _state["instrumenter"] = instrumenter_type
    atexit.register(_at_exit)
    _install_sigterm_handler()
    return True


def enable_instrumenter(all_threads: bool = False) -> None:
    """Install the hook in this thread, for new threads, and optionally in
    every thread already running."""
    if _native.state() != "running" or _state["instrumenter"] == "dummy":
        return
    if _state["instrumenter"] in ("trace", "cTrace"):
        threading.settrace(_native.thread_start)
    else:
        # with sys.monitoring too: it marks where a new thread's program starts
        threading.setprofile(_native.thread_start)
    # last: nothing of ours after this point shows up in the measurement
    _native.instrumenter_enable(all_threads)


def disable_instrumenter() -> None:
    _native.instrumenter_disable()
    _reset_thread_hooks()


def _reset_thread_hooks() -> None:
    if _state["instrumenter"] in ("trace", "cTrace"):
        threading.settrace(None)  # type: ignore[arg-type]
    else:
        threading.setprofile(None)  # type: ignore[arg-type]


def finalize() -> str | None:
    """Finish the measurement now; returns the experiment directory."""
    if _native.state() != "running":
        return _native.experiment_dir()
    _native.instrumenter_disable()
    directory = _native.finalize()
    _reset_thread_hooks()
    return directory


class unmeasured:
    """Suspend recording in this thread while the measurement's own Python
    code calls library functions (a class, not a contextlib generator, so
    that entering it runs no library code)."""

    def __enter__(self) -> None:
        _native.suspend()

    def __exit__(self, *exc_info: object) -> None:
        _native.resume()


def exit_with_sigint() -> None:
    """Make the process end as Python does after an uncaught KeyboardInterrupt."""
    _state["exit_with_sigint"] = True


def _at_exit() -> None:
    # results that cannot be written are reported by the core, one line each
    finalize()
    if _state["exit_with_sigint"]:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


def _on_sigterm(signum, frame) -> None:
    _native.set_exit_status(128 + signum)
    try:
        finalize()
    finally:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass
