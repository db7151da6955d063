"""What processes cost: the fixed cost of a measured process, a Pool of
short tasks, and the unification of many processes into one experiment.

    python3 bench/processes.py [--repeat 5] [--out bench/processes.md]

1. Fixed cost: an empty script, the whole process (start-up, measurement
   start and finalisation, interpreter teardown), `python -m scorep` and a
   measured child process (the way multiprocessing's spawned workers and
   Python subprocesses are measured: the start-up hook, no launcher)
   against plain python; medians of --repeat runs, interleaved.
2. Pool: 4 workers (fork, and spawn) run 2,000 tiny tasks; wall time of the
   whole program under `python -m scorep` (profile, and trace) against plain,
   and against the floor: plain python with an empty C hook in every process
   (bench/emptyhook.c from sitecustomize, the events scorep's default
   instrumenter uses), what any deterministic tracer's calls cost at least.
3. Unification: N processes (oversubscribed: the machine has 2 cores) each
   call a function 1,000 times; the root's verbose line gives the time it
   took to read, unify and write all of them (after they ended).
All runs in one go, side by side.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

POOL = """
import multiprocessing as mp, sys

def task(x):
    return x + 1

if __name__ == "__main__":
    with mp.get_context(sys.argv[1]).Pool(4) as pool:
        assert sum(pool.map(task, range(2000), chunksize=1)) == sum(range(1, 2001))
        pool.close()
        pool.join()
"""

MANY = """
import multiprocessing as mp, sys

def work(i):
    return i

def child():
    for i in range(1000):
        work(i)

if __name__ == "__main__":
    ps = [mp.get_context("fork").Process(target=child) for _ in range(int(sys.argv[1]))]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
"""


def environment(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    env.update(extra)
    return env


def timed(command: list, cwd: str, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: {command} failed: {done.stderr.strip()}")
    return elapsed


def fixed_cost(python: str, cwd: str, repeat: int) -> list:
    empty = os.path.join(cwd, "empty.py")
    open(empty, "w").close()
    profile = environment({"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "false"})
    # a live experiment for the children to join: a measured program that waits
    holder = os.path.join(cwd, "holder.py")
    with open(holder, "w") as f:
        f.write("import subprocess, sys\nprint(subprocess.run(['sh', '-c', 'echo $SCOREP_PYTHON_CHILD'], "
                "capture_output=True, text=True).stdout.strip(), flush=True)\nsys.stdin.read()\n")
    root = subprocess.Popen([python, "-m", "scorep", holder], cwd=cwd, env=profile, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    variable = root.stdout.readline().strip()
    child = dict(profile, SCOREP_PYTHON_CHILD=variable)
    runs = {"plain": [], "python -m scorep": [], "measured child": []}
    try:
        for _ in range(repeat):
            runs["plain"].append(timed([python, empty], cwd, profile))
            runs["python -m scorep"].append(timed([python, "-m", "scorep", empty], cwd, profile))
            runs["measured child"].append(timed([python, empty], cwd, child))
    finally:
        root.communicate("", timeout=120)
    plain = statistics.median(runs["plain"])
    return [(name, statistics.median(times), statistics.median(times) - plain) for name, times in runs.items()]


FLOOR_SITECUSTOMIZE = """
import sys
import emptyhook
if sys.version_info < (3, 12):
    import threading
    threading.setprofile(emptyhook.thread_hook)
emptyhook.install()
"""


def floor(python: str, cwd: str) -> str:
    """A directory with the empty C hook built for python and a
    sitecustomize that installs it (PYTHONPATH: every process has it)."""
    directory = os.path.join(cwd, "floor")
    os.makedirs(directory, exist_ok=True)
    code = ("import sysconfig; print(sysconfig.get_paths()['include']); "
            "print(sysconfig.get_config_var('EXT_SUFFIX'))")
    include, suffix = subprocess.run([python, "-c", code], capture_output=True, text=True,
                                     check=True).stdout.split()
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", f"-I{include}", os.path.join(HERE, "emptyhook.c"), "-o",
                    os.path.join(directory, "emptyhook" + suffix)], check=True)
    with open(os.path.join(directory, "sitecustomize.py"), "w") as f:
        f.write(FLOOR_SITECUSTOMIZE)
    return directory


def pool(python: str, cwd: str, repeat: int) -> list:
    script = os.path.join(cwd, "pool.py")
    with open(script, "w") as f:
        f.write(POOL)
    hook = floor(python, cwd)
    rows = []
    for method in ("fork", "spawn"):
        configs = {
            "plain": ([python, script, method], environment({})),
            "empty C hook (floor)": ([python, script, method], environment({"PYTHONPATH": hook})),
            "scorep profile": ([python, "-m", "scorep", script, method],
                               environment({"SCOREP_ENABLE_PROFILING": "true"})),
            "scorep trace": ([python, "-m", "scorep", script, method],
                             environment({"SCOREP_ENABLE_PROFILING": "false", "SCOREP_ENABLE_TRACING": "true"})),
        }
        times = {name: [] for name in configs}
        for _ in range(repeat):
            for name, (command, env) in configs.items():
                times[name].append(timed(command, cwd, env))
        plain = statistics.median(times["plain"])
        rows += [(method, name, statistics.median(t), statistics.median(t) / plain) for name, t in times.items()]
    return rows


def unification(python: str, cwd: str, counts: list) -> list:
    script = os.path.join(cwd, "many.py")
    with open(script, "w") as f:
        f.write(MANY)
    rows = []
    for n in counts:
        for mode, extra in (("profile", {"SCOREP_ENABLE_PROFILING": "true"}),
                            ("profile+trace", {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "true"})):
            done = subprocess.run([python, "-m", "scorep", "-v", script, str(n)], cwd=cwd, env=environment(extra),
                                  capture_output=True, text=True, timeout=600)
            found = re.search(r"(\d+) processes of the experiment unified and written in ([\d.]+) ms", done.stderr)
            if done.returncode != 0 or not found or int(found.group(1)) != n + 1:
                raise SystemExit(f"bench: {n} processes: {done.stderr[-2000:]}")
            rows.append((n + 1, mode, float(found.group(2))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--counts", type=int, nargs="+", default=[3, 15, 63])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--out")
    args = parser.parse_args()
    version = subprocess.run([args.python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as cwd:
        fixed = fixed_cost(args.python, cwd, args.repeat)
        pools = pool(args.python, cwd, args.repeat)
        merged = unification(args.python, cwd, args.counts)
    lines = [f"# Processes (Python {version})", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {platform.machine()}, medians of "
             f"{args.repeat} (`python3 bench/processes.py`).", "",
             "## Fixed cost of a measured process (empty script, whole process, profiling)", "",
             "| run | wall (ms) | over plain (ms) |", "|---|---:|---:|"]
    lines += [f"| {name} | {wall * 1e3:.1f} | {extra * 1e3:+.1f} |" for name, wall, extra in fixed]
    lines += ["", "## Pool(4), 2,000 tiny tasks (chunksize 1), whole program", "",
              "| start method | run | wall (s) | × plain |", "|---|---|---:|---:|"]
    lines += [f"| {method} | {name} | {wall:.3f} | {ratio:.2f} |" for method, name, wall, ratio in pools]
    walls = {name: wall for name, wall, _ in fixed}
    launcher = walls["python -m scorep"] - walls["measured child"]
    plain = {method: wall for method, name, wall, _ in pools if name == "plain"}
    lines += ["", f"The launcher's own start in this run (`python -m scorep` − measured child, empty script): "
              f"{launcher * 1e3:.1f} ms; without it: " +
              ", ".join(f"{method} {name} {(wall - launcher) / plain[method]:.2f}×"
                        for method, name, wall, _ in pools if name.startswith("scorep")) + "."]
    lines += ["", "## Unification: N processes (forked, 1,000 calls each) into one experiment", "",
              "Time the root takes, after every process ended, to read their journals, unify the definitions, "
              "merge the profiles and trace files and write the experiment (its verbose line).", "",
              "| processes | results | unify and write (ms) | per process (ms) |", "|---:|---|---:|---:|"]
    lines += [f"| {n} | {mode} | {ms:.1f} | {ms / n:.2f} |" for n, mode, ms in merged]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
