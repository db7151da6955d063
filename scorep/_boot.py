"""The start of a measured process (internal).

``python -m scorep`` runs most programs in its own process (``scorep/__main__.py``
sets up what CPython sets up for a program and calls ``_begin`` here).  Where
the program needs a new interpreter (a wrapper library preloaded, a directory,
stdin, ...) the launcher re-executes the interpreter on it, as ``python
[flags] script.py args`` (or ``-m module``, ``-c command``, ``-``) would, with
its options in the environment variable SCOREP_PYTHON_LAUNCH; the processes a
measured program starts get SCOREP_PYTHON_CHILD.  CPython itself then sets
``sys.argv``, ``sys.path[0]``, ``__main__``, ``__spec__``, runs the program,
reports its exceptions and sets the exit code, and no frame of ours is on the
program's stack.

``scorep.pth`` (next to the package) imports this module during ``site``
while one of the variables is set; it is removed at once (from os.environ),
so the program sees the environment it was given.  The measurement starts
when CPython starts running the program (its ``cpython.run_*`` audit event);
the main thread records from the first frame of the ``__main__`` module on.
"""
import os
import sys

LAUNCH_VARIABLE = "SCOREP_PYTHON_LAUNCH"
# In the environment of the processes a measured program starts (not in its
# os.environ): the experiment they join and the options they are measured
# with.  Non-Python children inherit it and ignore it.
CHILD_VARIABLE = "SCOREP_PYTHON_CHILD"


def wraps(wrapper, original):
    """functools.update_wrapper without functools (start-up imports it not)."""
    for name in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, name, getattr(original, name))
        except (AttributeError, TypeError):
            pass
    wrapper.__dict__.update(getattr(original, "__dict__", {}))
    wrapper.__wrapped__ = original
    return wrapper


class _ActingLoader:
    """The loader of a module an action waits for: the module is loaded by
    its own loader (and names it as its loader), then the action runs."""

    def __init__(self, loader, hook: "_AfterImport", name: str) -> None:
        self.loader, self.hook, self.name = loader, hook, name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = self.loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self.loader
        self.loader.exec_module(module)
        self.hook.imported(self.name, module)

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


class _AfterImport:
    """A finder first in sys.meta_path that finds nothing itself: the
    modules actions wait for are found by the finders after it and get an
    _ActingLoader.  It leaves sys.meta_path when no action waits."""

    def __init__(self) -> None:
        self.actions: dict = {}

    def find_spec(self, name, path=None, target=None):
        if name not in self.actions:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None) if finder is not self else None
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module") and hasattr(spec.loader, "create_module"):
            spec.loader = _ActingLoader(spec.loader, self, name)
        return spec

    def imported(self, name: str, module) -> None:
        actions = self.actions.pop(name, ())
        if not self.actions:
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
        from scorep import _native

        _native.suspend()  # the program's import: the measurement's part in it is not recorded
        try:
            for action in actions:
                try:
                    action(module)
                except Exception:  # noqa: B902 - the program's import goes on, whatever happens here
                    pass
        finally:
            _native.resume()


_after_import = _AfterImport()


def after_import(name: str, action) -> None:
    """action(module) once the module is imported: now if it is (start-up
    imports neither threading nor _posixsubprocess: a program that does not
    need them does not pay for them)."""
    module = sys.modules.get(name)
    if module is not None:
        action(module)
        return
    _after_import.actions.setdefault(name, []).append(action)
    if _after_import not in sys.meta_path:
        sys.meta_path.insert(0, _after_import)


class LaunchOptions:
    """What the launcher passes on (a plain class: this runs at start-up)."""

    def __init__(self) -> None:
        self.verbose = False
        self.instrumenter = True
        self.instrumenter_type = ""
        self.instrumenter_file = ""
        self.c_calls = True
        self.children = True
        self.mpi = False        # --mpp=mpi: the MPI wrapper library is preloaded
        self.io = None          # --io=posix (True) or --io=none (False): the I/O wrapper library is preloaded
        self.experiment = ""    # a child process's: the experiment it joins
        self.named = ""         # the SCOREP_EXPERIMENT_DIRECTORY that experiment was started with
        self.noted: list[str] = []

    def encode(self) -> str:
        """One environment value: fields separated by commas, each text as
        the hex digits of its file system encoding (any byte but NUL)."""
        def text(value: str) -> str:
            return os.fsencode(value).hex()

        fields = [f"v={int(self.verbose)}", f"i={int(self.instrumenter)}", f"c={int(self.c_calls)}",
                  f"k={int(self.children)}", f"p={int(self.mpi)}", f"o={int(bool(self.io))}", f"t={text(self.instrumenter_type)}",
                  f"f={text(self.instrumenter_file)}", f"x={text(self.experiment)}", f"d={text(self.named)}"]
        fields += [f"n={text(note)}" for note in self.noted]
        return ",".join(fields)

    @classmethod
    def decode(cls, value: str) -> "LaunchOptions":
        opts = cls()
        for field in value.split(","):
            key, _, data = field.partition("=")
            if key in ("v", "i", "c", "k", "p", "o"):
                setattr(opts, {"v": "verbose", "i": "instrumenter", "c": "c_calls", "k": "children",
                               "p": "mpi", "o": "io"}[key], data == "1")
            elif key in ("t", "f", "x", "d", "n"):
                decoded = os.fsdecode(bytes.fromhex(data))
                if key == "t":
                    opts.instrumenter_type = decoded
                elif key == "f":
                    opts.instrumenter_file = decoded
                elif key == "x":
                    opts.experiment = decoded
                elif key == "d":
                    opts.named = decoded
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


# multiprocessing's own helper processes are not the program's work: they
# are not measured (the fork server's children, the workers, are)
_HELPERS = ("from multiprocessing.resource_tracker import main", "from multiprocessing.semaphore_tracker import main",
            "from multiprocessing.forkserver import main")


def _helper(kind: str, args: tuple) -> str:
    if kind != "command" or not args:
        return ""
    code = str(args[0]).lstrip()
    return next((helper for helper in _HELPERS if code.startswith(helper)), "")


def _begin(opts: LaunchOptions, kind: str, args: tuple) -> None:
    """CPython starts running the program: start the measurement."""
    from scorep import _measurement, _native
    from scorep import instrumenter, user  # noqa: F401 (the program may use them: imported before it is measured)

    child = bool(opts.experiment)
    if child and _helper(kind, args):
        if "forkserver" in _helper(kind, args):
            os.register_at_fork(after_in_child=lambda: _begin_forked(opts))
        return
    if opts.instrumenter:
        # the interpreter's own way to the program (runpy) is no part of it;
        # without the instrumenter no frame would say where the program starts
        _native.await_main()
    try:
        started = _measurement.start(opts.instrumenter_type or _measurement.DEFAULT_INSTRUMENTER,
                                     c_calls=opts.c_calls, verbose=opts.verbose, argv=_program_argv(kind, args),
                                     join=opts.experiment or None, children=opts.children,
                                     instrumenter_on=opts.instrumenter, named=opts.named if child else None,
                                     mpi=opts.mpi and not child)
    except _measurement.ConfigurationError as error:
        if child:
            # the experiment this process was to join is gone or full: it runs
            # unmeasured (the root has reported any configuration problem)
            return
        _fail(str(error), 1)
        return
    if child:
        if started and opts.instrumenter:
            _measurement.enable_instrumenter()
        return
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


def _begin_forked(opts: LaunchOptions) -> None:
    """A child forked by an unmeasured process (the fork server): measured
    from here on."""
    from scorep import _measurement

    try:
        started = _measurement.start(opts.instrumenter_type or _measurement.DEFAULT_INSTRUMENTER,
                                     c_calls=opts.c_calls, verbose=opts.verbose, join=opts.experiment,
                                     children=opts.children, instrumenter_on=opts.instrumenter, named=opts.named)
    except _measurement.ConfigurationError:
        return
    if started and opts.instrumenter:
        _measurement.enable_instrumenter()


def _hide(name: str) -> None:
    """Out of os.environ, still in the process's environment (so that the
    processes it starts have it): the program sees what it was given."""
    try:
        del os.environ._data[os.environ.encodekey(name)]  # type: ignore[attr-defined]
    except (AttributeError, KeyError):
        pass


MPI_LIBRARY = "libscorep_mpi.so"
IO_LIBRARY = "libscorep_io.so"


def _unpreload() -> None:
    """--mpp=mpi, --io=posix: the wrapper libraries are loaded; the program
    and the processes it starts get the LD_PRELOAD they were given."""
    value = os.environ.get("LD_PRELOAD", "")
    kept = [entry for entry in value.replace(" ", ":").split(":")
            if entry and os.path.basename(entry) not in (MPI_LIBRARY, IO_LIBRARY)]
    if kept:
        os.environ["LD_PRELOAD"] = ":".join(kept)
    else:
        os.environ.pop("LD_PRELOAD", None)


IO_RESTARTED = "SCOREP_PYTHON_IO_RESTARTED"


def _restart_with_io(value: str) -> None:
    """A process started by a program whose I/O is recorded: it records its
    own too, so it starts again, before anything ran, with the I/O wrapper
    library preloaded (exec: the same process, the same arguments)."""
    from scorep import _native

    if os.environ.get(IO_RESTARTED) or _native.io_wrappers_loaded():
        return
    library = os.path.join(os.path.dirname(os.path.abspath(__file__)), IO_LIBRARY)
    argv = getattr(sys, "orig_argv", None)
    if not argv:
        try:
            with open("/proc/self/cmdline", "rb") as f:
                argv = [os.fsdecode(a) for a in f.read().split(b"\0")[:-1]]
        except OSError:
            return
    if not os.path.isfile(library) or not sys.executable or not argv:
        return
    env = dict(os.environ)
    env[CHILD_VARIABLE] = value
    env[IO_RESTARTED] = "1"
    previous = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = library + (":" + previous if previous else "")
    try:
        os.execve(sys.executable, argv, env)
    except OSError:
        return


def boot() -> None:
    value = os.environ.pop(LAUNCH_VARIABLE, None)
    if value is None:
        value = os.environ.get(CHILD_VARIABLE)
        if value is None:
            return
        _hide(CHILD_VARIABLE)
        try:
            opts = LaunchOptions.decode(value)
        except ValueError:
            return
        if not opts.experiment:
            return
        if opts.io:
            _restart_with_io(value)
            if os.environ.pop(IO_RESTARTED, None):
                _unpreload()
        own = os.environ.get("SCOREP_EXPERIMENT_DIRECTORY", "")
        if own and own != opts.named:
            # given an experiment directory of its own: measured into it, as a
            # process alone (the root of an experiment of its own)
            opts.experiment = ""
        from scorep import _native

        _native.on_main_start(lambda kind, args: _begin(opts, kind, args))
        return
    try:
        opts = LaunchOptions.decode(value)
    except ValueError:
        _fail(f"{LAUNCH_VARIABLE} is set by python -m scorep, not by hand (its value cannot be read)", 1)
        return
    if opts.mpi or opts.io:
        _unpreload()
    from scorep import _native

    _native.on_main_start(lambda kind, args: _begin(opts, kind, args))


boot()
