"""Child processes of a measured program are measured into its experiment
(internal).

The processes the program starts get SCOREP_PYTHON_CHILD (scorep._boot) in
their environment: a Python with this package that starts with it joins
the experiment.  It is put into the process's environment with putenv, not
into os.environ, so the program sees the environment it was given; the
ways of starting a program with an environment of its own (os.execve,
os.posix_spawn, subprocess with env=, multiprocessing) get it added.  A
forked child needs none of this (scorep._measurement, _forked).
"""
import os
import sys

from scorep._boot import CHILD_VARIABLE, after_import, wraps

_KEY = CHILD_VARIABLE.encode()
_state = {"value": None}


def _env_mapping(env):
    if env is None or _state["value"] is None:
        return env
    try:
        copy = dict(env)
    except (TypeError, ValueError):
        return env
    if CHILD_VARIABLE in copy or _KEY in copy:
        return env
    if copy and isinstance(next(iter(copy)), bytes):
        copy[_KEY] = os.fsencode(_state["value"])
    else:
        copy[CHILD_VARIABLE] = _state["value"]
    return copy


def _env_list(env):
    """_posixsubprocess's environment: a list of b"NAME=value"."""
    if env is None or _state["value"] is None:
        return env
    try:
        if any(bytes(item).startswith(_KEY + b"=") for item in env):
            return env
        return list(env) + [_KEY + b"=" + os.fsencode(_state["value"])]
    except TypeError:
        return env


def _wrap(module, name: str, position: int, adapt) -> None:
    original = getattr(module, name, None)
    if original is None or getattr(original, "__scorep_child__", False):
        return

    def wrapper(*args, **kwargs):
        if len(args) > position:
            args = args[:position] + (adapt(args[position]),) + args[position + 1:]
        elif "env" in kwargs:
            kwargs["env"] = adapt(kwargs["env"])
        return original(*args, **kwargs)

    wraps(wrapper, original)
    wrapper.__scorep_child__ = True  # type: ignore[attr-defined]
    setattr(module, name, wrapper)


def follow(value: str) -> None:
    """From now on the processes this one starts join the experiment."""
    _state["value"] = value
    os.putenv(CHILD_VARIABLE, value)
    for name in ("execve", "posix_spawn", "posix_spawnp"):
        _wrap(os, name, 2, _env_mapping)
    after_import("_posixsubprocess", _follow_subprocess)


def _follow_subprocess(_posixsubprocess) -> None:
    # fork_exec(args, executable_list, close_fds, pass_fds, cwd, env, ...)
    _wrap(_posixsubprocess, "fork_exec", 5, _env_list)
    subprocess = sys.modules.get("subprocess")
    if subprocess is not None and hasattr(subprocess, "_fork_exec"):
        subprocess._fork_exec = _posixsubprocess.fork_exec
