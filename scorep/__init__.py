"""scorep: Score-P compatible performance measurement for Python.

Run a program under measurement with ``python -m scorep script.py``, or start
it from inside with :func:`register`.  Results go to a Score-P experiment
directory: an OTF2 trace and a CUBE4 profile.
"""
__version__ = "0.1.0"

# scorep.user and scorep.instrumenter are usable after import scorep (or
# import scorep.user), as with the original bindings (imported here, before
# anything is measured: an import the program's first use made would be
# recorded)
from scorep import _measurement, instrumenter, user  # noqa: E402,F401


def register() -> None:
    """Start measuring from here on (the seed interface); the experiment is
    finalized when the interpreter exits.  A no-op when already measuring,
    except in a process measured into the experiment of the program that
    started it that has set a SCOREP_EXPERIMENT_DIRECTORY of its own since:
    its part of that experiment ends here, and it measures on into its own."""
    if _measurement.start():
        _measurement.enable_instrumenter(all_threads=True)
    elif _measurement.wants_experiment_of_its_own() and _measurement.restart_in_experiment_of_its_own():
        _measurement.enable_instrumenter(all_threads=True)


# Seed-era flat functions, kept for scripts written against the original bindings.

def user_region_begin(name: str) -> None:
    user.region_begin(name)


def user_region_end(name: str) -> None:
    user.region_end(name)


def user_enable_recording() -> None:
    user.enable_recording()


def user_disable_recording() -> None:
    user.disable_recording()


def user_parameter_int(name: str, val: int) -> None:
    user.parameter_int(name, val)


def user_parameter_uint(name: str, val: int) -> None:
    user.parameter_uint(name, val)


def user_parameter_string(name: str, string: str) -> None:
    user.parameter_string(name, string)
