"""scorep: Score-P compatible performance measurement for Python.

Run a program under measurement with ``python -m scorep script.py``, or start
it from inside with :func:`register`.  Results go to a Score-P experiment
directory: an OTF2 trace and a CUBE4 profile.
"""
from __future__ import annotations

__version__ = "0.1.0"

# scorep.user and scorep.instrumenter are usable after import scorep (or
# import scorep.user), as with the original bindings; they are imported on
# first use, so that python -m scorep (which only starts the program) and
# every measured process start without them


def __getattr__(name: str):
    if name in ("user", "instrumenter", "_measurement"):
        import importlib

        return importlib.import_module("scorep." + name)
    raise AttributeError(f"module 'scorep' has no attribute {name!r}")


def register() -> None:
    """Start measuring from here on (the seed interface); the experiment is
    finalized when the interpreter exits.  A no-op when already measuring,
    except in a process measured into the experiment of the program that
    started it that has set a SCOREP_EXPERIMENT_DIRECTORY of its own since:
    its part of that experiment ends here, and it measures on into its own."""
    from scorep import _measurement

    if _measurement.start():
        _measurement.enable_instrumenter(all_threads=True)
    elif _measurement.wants_experiment_of_its_own() and _measurement.restart_in_experiment_of_its_own():
        _measurement.enable_instrumenter(all_threads=True)


# Seed-era flat functions, kept for scripts written against the original bindings.

def user_region_begin(name: str) -> None:
    from scorep import user

    user.region_begin(name)


def user_region_end(name: str) -> None:
    from scorep import user

    user.region_end(name)


def user_enable_recording() -> None:
    from scorep import user

    user.enable_recording()


def user_disable_recording() -> None:
    from scorep import user

    user.disable_recording()


def user_parameter_int(name: str, val: int) -> None:
    from scorep import user

    user.parameter_int(name, val)


def user_parameter_uint(name: str, val: int) -> None:
    from scorep import user

    user.parameter_uint(name, val)


def user_parameter_string(name: str, string: str) -> None:
    from scorep import user

    user.parameter_string(name, string)
