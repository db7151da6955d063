"""scorep: Score-P compatible performance measurement for Python.

Run a program under measurement with ``python -m scorep script.py``, or start
it from inside with :func:`register`.  Results go to a Score-P experiment
directory: an OTF2 trace and a CUBE4 profile.
"""
__version__ = "0.1.0"

# scorep.user and scorep.instrumenter are usable after import scorep (or
# import scorep.user), as with the original bindings.  They are imported on
# first use, so that the launcher (python -m scorep, which only starts the
# program) loads no native part; a measured process imports them before
# anything is measured (scorep._boot, register()), so that no import of
# theirs is recorded as the program's.
_SUBMODULES = ("_measurement", "instrumenter", "user")


def _submodule(name: str):
    """scorep.<name>, imported now if it is not yet (without the import
    system's Python functions when it is: they would be recorded)."""
    module = globals().get(name)
    if module is None:
        __import__(f"scorep.{name}")
        module = globals()[name]
    return module


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _submodule(name)
    raise AttributeError(f"module 'scorep' has no attribute '{name}'")


def register() -> None:
    """Start measuring from here on (the seed interface); the experiment is
    finalized when the interpreter exits.  A no-op when already measuring,
    except in a process measured into the experiment of the program that
    started it that has set a SCOREP_EXPERIMENT_DIRECTORY of its own since:
    its part of that experiment ends here, and it measures on into its own."""
    for name in _SUBMODULES:  # (before the measurement starts)
        _submodule(name)
    _measurement = _submodule("_measurement")
    if _measurement.start():
        _measurement.enable_instrumenter(all_threads=True)
    elif _measurement.wants_experiment_of_its_own() and _measurement.restart_in_experiment_of_its_own():
        _measurement.enable_instrumenter(all_threads=True)


# Seed-era flat functions, kept for scripts written against the original bindings.

def user_region_begin(name: str) -> None:
    _submodule("user").region_begin(name)


def user_region_end(name: str) -> None:
    _submodule("user").region_end(name)


def user_enable_recording() -> None:
    _submodule("user").enable_recording()


def user_disable_recording() -> None:
    _submodule("user").disable_recording()


def user_parameter_int(name: str, val: int) -> None:
    _submodule("user").parameter_int(name, val)


def user_parameter_uint(name: str, val: int) -> None:
    _submodule("user").parameter_uint(name, val)


def user_parameter_string(name: str, string: str) -> None:
    _submodule("user").parameter_string(name, string)
