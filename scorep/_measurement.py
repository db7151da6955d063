"""Starting and finishing the measurement of this process (internal)."""
import _signal  # the signal module's C part: no enum, nothing for start-up to import
import atexit
import os
import sys
from _thread import _local

from scorep import _children, _native
from scorep._boot import after_import, wraps

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# sys.monitoring (PEP 669) where the interpreter has it, else the profile hook
DEFAULT_INSTRUMENTER = "monitoring" if sys.version_info >= (3, 12) else "profile"

_state = {"instrumenter": DEFAULT_INSTRUMENTER, "program_thread_hook": None}


class ConfigurationError(Exception):
    """A configuration value or option that cannot be used."""


def start(instrumenter_type: str = DEFAULT_INSTRUMENTER, c_calls: "bool | None" = None, verbose: bool = False,
          program: "str | None" = None, argv: "list[str] | None" = None, join: "str | None" = None,
          children: bool = True, instrumenter_on: bool = True, named: "str | None" = None,
          mpi: bool = False) -> bool:
    """Initialise the measurement (config, experiment directory); join: the
    experiment of another process this one is a further process of.

    Returns False if it was already running.  Raises ConfigurationError for
    bad configuration; nothing is written then."""
    try:
        started = _native.init(_PACKAGE_DIR, program or sys.executable or "python",
                               [str(a) for a in (argv if argv is not None else sys.argv)], verbose,
                               join or "", not children, mpi)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if not started:
        return False
    c_calls = True if c_calls is None else c_calls
    _native.configure(instrumenter_type, c_calls)
    _state.update(instrumenter=instrumenter_type, c_calls=c_calls, verbose=verbose, instrumenter_on=instrumenter_on,
                  children=children, joined_named=named if join else None)
    if not _state.get("process_hooks"):  # once per process, whatever number of measurements
        _state["process_hooks"] = True
        _share_hooks_with_the_program(instrumenter_type)
        atexit.register(_at_exit)
        # the measurement's thread is not there while the program forks (Python
        # 3.12+ warns about forking a multi-threaded process)
        # (it starts again by itself with the next full buffer chunk); a forked
        # child is a process of the experiment of its own, or not measured
        os.register_at_fork(before=_native.fork_prepare, after_in_child=_forked)
        _install_sigterm_handler()
        _install_exit_wrapper()
    experiment = _native.children_experiment()
    if experiment is not None:
        from scorep._boot import LaunchOptions

        opts = LaunchOptions()
        opts.verbose, opts.c_calls, opts.instrumenter_type = verbose, c_calls, instrumenter_type
        opts.instrumenter = instrumenter_on
        opts.experiment = experiment
        opts.io = _native.io_wrappers_loaded()  # the processes it starts record their I/O too
        # a child given a SCOREP_EXPERIMENT_DIRECTORY of its own measures into it
        opts.named = os.environ.get("SCOREP_EXPERIMENT_DIRECTORY", "") if named is None else named
        _children.follow(opts.encode())
    return True


def wants_experiment_of_its_own() -> bool:
    """A process measured into the experiment of the program that started
    it, which has since been given a SCOREP_EXPERIMENT_DIRECTORY of its own
    (the seed's manual way: set it, then register())."""
    named = _state.get("joined_named")
    if named is None or _native.state() != "running":
        return False
    with unmeasured():  # (os.environ and threading are Python code: not the program's)
        own = os.environ.get("SCOREP_EXPERIMENT_DIRECTORY", "")
        threading = sys.modules.get("threading")
        return own not in ("", named) and (threading is None or threading.active_count() == 1)


def restart_in_experiment_of_its_own() -> bool:
    """End this process's part of the program's experiment here and measure
    on into an experiment of its own (SCOREP_EXPERIMENT_DIRECTORY)."""
    finalize()
    if not _native.reset():
        return False
    return start(_state["instrumenter"], c_calls=_state["c_calls"], verbose=_state["verbose"],
                 children=_state["children"], instrumenter_on=_state["instrumenter_on"])


def _forked() -> None:
    if _native.fork_child():
        return
    _reset_thread_hooks()


def _install_exit_wrapper() -> None:
    """os._exit ends the process without atexit (multiprocessing's workers
    end so): the results are written first, with that exit status."""
    if getattr(os._exit, "__wrapped__", None) is _original_exit:
        return

    def _exit(status):
        try:
            if _native.state() == "running":
                _native.set_exit_status(int(status) & 0xFF)
                finalize()
        except BaseException:  # noqa: B902 - the process ends as asked, whatever happens here
            pass
        _original_exit(status)

    os._exit = wraps(_exit, _original_exit)
    # exec replaces the process without its exit: the results are written first
    for name in ("execv", "execve"):
        original = getattr(os, name, None)
        if original is not None and not getattr(original, "__scorep_exec__", False):
            setattr(os, name, _finishing_before(original))


def _finishing_before(original):
    def exec_function(*args, **kwargs):
        try:
            if _native.state() == "running":
                finalize()
        except Exception:  # noqa: B902 - the exec goes ahead as asked
            pass
        return original(*args, **kwargs)

    wrapper = wraps(exec_function, original)
    wrapper.__scorep_exec__ = True
    return wrapper


_original_exit = os._exit


def _share_hooks_with_the_program(instrumenter_type: str) -> None:
    """The program keeps sys.setprofile/getprofile (settrace/gettrace with
    the trace instrumenter) and threading.setprofile/getprofile: its hooks
    run after the measurement's, as they would alone."""
    trace = instrumenter_type in ("trace", "cTrace")
    slot = "trace" if trace else "profile"
    functions = _native.program_hook_functions(getattr(sys, "set" + slot), getattr(sys, "get" + slot))
    if functions is not None:
        sys_set, sys_get = functions
        setattr(sys, "set" + slot, sys_set)
        setattr(sys, "get" + slot, sys_get)
    # the measurement's thread-start hook stands in for the program's
    original_set = getattr(sys, "setprofile") if functions is None or trace else None
    after_import("threading", lambda threading: _share_thread_hooks(threading, slot, original_set))


def _share_thread_hooks(threading, slot: str, original_set) -> None:
    """threading is imported (at the start, or later by the program)."""
    with unmeasured():
        threading_set = getattr(threading, "set" + slot)

        def set_hook(func):
            _state["program_thread_hook"] = _native.program_thread_hook(func, original_set)

        def get_hook():
            return _state["program_thread_hook"]

        for wrapper, original in ((set_hook, threading_set), (get_hook, getattr(threading, "get" + slot, None))):
            if original is not None:
                setattr(threading, original.__name__, wraps(wrapper, original))
        _state["threading_set"] = threading_set
        # a hook the program gave threading before register() stays the program's
        existing = getattr(threading, "_trace_hook" if slot == "trace" else "_profile_hook", None)
        if existing is not None and existing is not _native.thread_start:
            set_hook(existing)
        if _state.get("thread_start") and _native.state() == "running":
            threading_set(_native.thread_start)


def enable_instrumenter(all_threads: bool = False) -> None:
    """Install the hook in this thread, for new threads, and optionally in
    every thread already running."""
    if _native.state() != "running" or _state["instrumenter"] == "dummy":
        return
    # with sys.monitoring too: it marks where a new thread's program starts
    _state["thread_start"] = True
    setter = _state.get("threading_set")
    if setter is not None:
        setter(_native.thread_start)
    # last: nothing of ours after this point shows up in the measurement
    _native.instrumenter_enable(all_threads)


def disable_instrumenter() -> None:
    _native.instrumenter_disable()
    _reset_thread_hooks()


def _reset_thread_hooks() -> None:
    # new threads get the program's own hook again
    _state["thread_start"] = False
    setter = _state.get("threading_set")
    if setter is not None:
        setter(_state["program_thread_hook"])


def finalize() -> "str | None":
    """Finish the measurement now; returns the experiment directory."""
    if _native.state() != "running":
        return _native.experiment_dir()
    _native.instrumenter_disable()
    directory = _native.finalize()
    _reset_thread_hooks()
    return directory


class PerThreadStack(_local):  # threading.local, without importing threading
    """A list of its own in every thread (``items``): what each open
    ``with`` block of a shared context manager or decorator did."""

    def __init__(self) -> None:
        self.items: list = []


class unmeasured:
    """Suspend recording in this thread while the measurement's own Python
    code calls library functions (a class, not a contextlib generator, so
    that entering it runs no library code)."""

    def __enter__(self) -> None:
        _native.suspend()

    def __exit__(self, *exc_info: object) -> None:
        _native.resume()


def _uncaught_keyboard_interrupt() -> bool:
    """The program ends with an uncaught KeyboardInterrupt: CPython then
    kills itself with SIGINT after its finalization, so exit() never runs."""
    last = getattr(sys, "last_exc", None) if sys.version_info >= (3, 12) else getattr(sys, "last_value", None)
    return isinstance(last, KeyboardInterrupt)


def _at_exit() -> None:
    # Runs after the program's own atexit handlers (registered later, run
    # earlier).  Recording stops here; the results are written when the
    # process exits, with its exit status (results that cannot be written
    # are reported by the core, one line each).  A Ctrl-C in between is
    # not the program's: the work is done all the same, without a traceback.
    for _ in range(5):
        try:
            if _native.state() != "running":
                return
            if _uncaught_keyboard_interrupt():
                _native.set_exit_status(128 + _signal.SIGINT)
                finalize()
            elif _native.stop_until_exit():
                _reset_thread_hooks()
            else:
                finalize()
            return
        except KeyboardInterrupt:
            continue


# Signals whose default action ends the process: while the program leaves
# them at SIG_DFL, the measurement's own thread writes the results when one
# arrives (also while the program is in a long C call) and then ends the
# process by it.  signal.getsignal() still says SIG_DFL.
_TERMINATION_SIGNALS = tuple(getattr(_signal, name) for name in (
    "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGXCPU",
    "SIGTRAP", "SIGSYS") if hasattr(_signal, name))


def _on_sigterm(signum, frame) -> None:
    """Fallback without the drain thread: at the next bytecode."""
    _native.set_exit_status(128 + signum)
    try:
        finalize()
    finally:
        _original_signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _catch(signum: int) -> None:
    if not _native.catch_termination(signum) and signum == _signal.SIGTERM:
        _original_signal(signum, _on_sigterm)  # (ValueError outside the main thread)


_original_signal = getattr(_signal.signal, "__wrapped__", _signal.signal)


def _signal_signal(signalnum, handler):  # what signal.signal calls
    previous = _original_signal(signalnum, handler)
    # a program that gives a signal back to SIG_DFL (e.g. to re-raise it
    # from its own handler) still ends with its results written
    try:
        if handler == _signal.SIG_DFL and int(signalnum) in (_signal.SIGINT,) + _TERMINATION_SIGNALS \
                and _native.state() == "running":
            _native.catch_termination(int(signalnum))
    except (TypeError, ValueError):
        pass
    return previous


def _install_sigterm_handler() -> None:
    threading = sys.modules.get("threading")  # (without it, this is the main thread)
    if threading is not None and threading.current_thread() is not threading.main_thread():
        return
    for signum in _TERMINATION_SIGNALS:
        try:
            if _signal.getsignal(signum) == _signal.SIG_DFL:
                _catch(signum)
        except (ValueError, OSError):
            pass
    # signal.signal (imported now or later) calls _signal.signal: the
    # program's signal module is left as it is
    if _signal.signal is _original_signal:
        _signal.signal = wraps(_signal_signal, _original_signal)
