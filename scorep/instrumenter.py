"""Switching the Python instrumenter on and off (``scorep.instrumenter``).

``register()`` and ``unregister()`` are the plain calls; ``enable()`` and
``disable()`` work as context managers and as decorators (as in the
original bindings, calling ``enable()`` alone switches nothing).  Each
thread keeps its own state of a ``with`` block or decorated function.
With a region name, a region ``user_instrumenter:<name>`` marks the part of
the program where the call really changed the instrumenter's state.
"""
# the annotations' names (Any, Callable, Optional) are for type checkers only: typing is not
# imported at start-up, which every measured process would pay for

from scorep import _measurement, _native


def has_c_instrumenter() -> bool:
    """The instrumenter is implemented in C (always, in this package)."""
    return True


def register() -> None:
    """Switch the instrumenter on for this thread and new threads."""
    _measurement.enable_instrumenter()


def unregister() -> None:
    """Switch the instrumenter off for this thread and new threads."""
    _measurement.disable_instrumenter()


class _Switch:
    """Common part of enable and disable."""

    _target_state = True

    def __init__(self, region_name: "Optional[str]" = None) -> None:
        self.region_name = region_name
        self._changed = _measurement.PerThreadStack()  # did each open block change the state?

    def __enter__(self) -> "_Switch":
        changed = _native.state() == "running" and _native.instrumenter_enabled() != self._target_state
        self._changed.items.append(changed)
        if not changed:
            return self
        full_name = f"user_instrumenter:{self.region_name}" if self.region_name is not None else None
        if self._target_state:
            if full_name:
                file_name, line = _native.caller_location()
                _native.region_begin(full_name, "user_instrumenter", file_name, line)
            _measurement.enable_instrumenter()
        else:
            _measurement.disable_instrumenter()
            if full_name:
                file_name, line = _native.caller_location()
                _native.region_begin(full_name, "user_instrumenter", file_name, line)
        return self

    def __exit__(self, exc_type: "Any", exc_value: "Any", traceback: "Any") -> bool:
        stack = self._changed.items
        if not stack or not stack.pop():
            return False
        full_name = f"user_instrumenter:{self.region_name}" if self.region_name is not None else None
        if self._target_state:
            _measurement.disable_instrumenter()
            if full_name:
                _native.region_end(full_name)
        else:
            if full_name:
                _native.region_end(full_name)
            _measurement.enable_instrumenter()
        return False

    def __call__(self, func: "Callable[..., Any]") -> "Callable[..., Any]":
        def switched(*args: "Any", **kwargs: "Any") -> "Any":
            with self:
                return func(*args, **kwargs)

        with _measurement.unmeasured():
            import functools

            return functools.wraps(func)(switched)


class enable(_Switch):
    """Switch the instrumenter on inside a ``with`` block or a decorated
    function (overrides ``--noinstrumenter``)."""

    _target_state = True


class disable(_Switch):
    """Switch the instrumenter off inside a ``with`` block or a decorated
    function."""

    _target_state = False
