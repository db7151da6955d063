"""User instrumentation (``scorep.user``): regions, parameters, recording
on/off, rewind, and instrumenting functions and modules.

Every function is a harmless no-op while no measurement runs.
"""
from types import FunctionType, ModuleType
# the annotations' names (Any, Callable, Optional) are for type checkers only: typing is not
# imported at start-up, which every measured process would pay for

from scorep import _measurement, _native


def region_begin(name: str, file_name: "Optional[str]" = None, line_number: "Optional[int]" = None) -> None:
    """Enter the user region ``user:<name>``."""
    if _native.state() != "running":
        return
    if file_name is None or line_number is None:
        file_name, line_number = _native.caller_location()
    _native.region_begin(f"user:{name}", "user", str(file_name), int(line_number))


def region_end(name: str) -> None:
    """Leave the user region ``user:<name>`` (an exit without an enter is
    reported and marked by an ``error_region``)."""
    _native.region_end(f"user:{name}")


class region:
    """A user region as a context manager or a decorator.

    ``with region("name"):`` records ``user:name``.  ``@region()`` without a
    name records the function under its own region name even while the
    instrumenter is off (while it is on, the instrumenter records it anyway).
    """

    def __init__(self, region_name: str = "") -> None:
        self.region_name = region_name
        self.func: "Optional[Callable[..., Any]]" = None
        self._entered = _measurement.PerThreadStack()  # what each open block entered

    def __call__(self, func: "Callable[..., Any]") -> "Callable[..., Any]":
        self.func = func

        def instrumented(*args: "Any", **kwargs: "Any") -> "Any":
            token = self._begin()
            try:
                return func(*args, **kwargs)
            finally:
                self._end(token)

        with _measurement.unmeasured():
            import functools

            return functools.wraps(func)(instrumented)

    def _begin(self) -> "Optional[int]":
        """Enter the region; returns what _end needs to leave it."""
        if self.region_name:
            region_begin(self.region_name)
            return None
        if self.func is None:
            raise RuntimeError("A region name needs to be specified.")
        target = self.func
        while hasattr(target, "__wrapped__"):
            target = target.__wrapped__
        if isinstance(target, FunctionType) and _native.state() == "running" and not _native.instrumenter_enabled():
            region_id = _native.function_region(target)
            _native.region_enter_id(region_id)
            return region_id
        return -1

    def _end(self, token: "Optional[int]") -> None:
        if token is None:
            region_end(self.region_name)
        elif token >= 0:
            _native.region_leave_id(token)

    def __enter__(self) -> "region":
        self._entered.items.append(self._begin())
        return self

    def __exit__(self, exc_type: "Any", exc_value: "Any", traceback: "Any") -> bool:
        stack = self._entered.items
        if stack:
            self._end(stack.pop())
        return False


def rewind_begin(name: str, file_name: "Optional[str]" = None, line_number: "Optional[int]" = None) -> None:
    """Mark a point the measurement can be rewound to."""
    _native.rewind_begin(f"user:{name}")


def rewind_end(name: str, value: bool) -> None:
    """With ``value`` true, discard every event since ``rewind_begin(name)``."""
    _native.rewind_end(f"user:{name}", bool(value))


def enable_recording() -> None:
    """Record events again (a MEASUREMENT_ON_OFF ``ON`` event)."""
    _native.set_recording(True)


def disable_recording() -> None:
    """Stop recording events (a MEASUREMENT_ON_OFF ``OFF`` event)."""
    _native.set_recording(False)


def parameter_int(name: str, val: int) -> None:
    _native.parameter_int(name, val)


def parameter_uint(name: str, val: int) -> None:
    _native.parameter_uint(name, val)


def parameter_string(name: str, string: str) -> None:
    _native.parameter_string(name, string)


def force_finalize() -> None:
    """End the measurement here; the rest of the program runs unmeasured."""
    _measurement.finalize()


def instrument_function(fun: "Callable[..., Any]", instrumenter_fun: "Callable[..., Any]" = region) -> "Callable[..., Any]":
    """Wrap one function so it is recorded even while the instrumenter is off."""
    return instrumenter_fun()(fun)


def instrument_module(module: "ModuleType", instrumenter_fun: "Callable[..., Any]" = region) -> None:
    """Wrap every function defined in a module (see instrument_function)."""
    for name, value in list(vars(module).items()):
        if isinstance(value, FunctionType):
            setattr(module, name, instrument_function(value, instrumenter_fun))
