"""Cost at exit against the number of distinct call paths.

    python3 bench/finalize.py [--counts 25000 100000 200000] [--repeat 3] [--out bench/finalize.md]

A generated program defines N distinct functions and calls each once from
its module: N call paths side by side under one parent (the worst case for
a writer that searches siblings).  The program prints the wall clock as
its last act; the time from there to the end of the process is the exit
cost: the measurement's finalisation (trace definitions, profile) plus
the interpreter's own teardown, which the plain run has as well and which
is subtracted.  Medians of --repeat runs, interleaved.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROGRAM = """
import sys, time
n = int(sys.argv[1])
namespace = {}
exec(compile("\\n".join(f"def f{i}(): pass" for i in range(n)), "generated", "exec"), namespace)
for i in range(n):
    namespace[f"f{i}"]()
print(repr(time.time()), flush=True)
"""

CONFIGS = {  # name -> (command prefix, environment)
    "plain": ([], {}),
    "scorep-profile": (["-m", "scorep"], {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "false"}),
    "scorep-trace": (["-m", "scorep"], {"SCOREP_ENABLE_PROFILING": "false", "SCOREP_ENABLE_TRACING": "true"}),
    "scorep-both": (["-m", "scorep"], {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "true"}),
}


def exit_cost(python: str, script: str, n: int, config: str, cwd: str) -> float:
    prefix, extra = CONFIGS[config]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    # room for every definition and call path: nothing is cut short
    env.update(extra, SCOREP_TOTAL_MEMORY="1G")
    done = subprocess.run([python, *prefix, script, str(n)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    end = time.time()
    if done.returncode != 0 or done.stderr:
        raise SystemExit(f"bench: {config} with {n} functions failed: {done.stderr.strip()}")
    return end - float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[25_000, 100_000, 200_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "functions.py")
        with open(script, "w") as handle:
            handle.write(PROGRAM)
        times = {(n, c): [] for n in args.counts for c in CONFIGS}
        for _ in range(args.repeat):
            for n in args.counts:
                for config in CONFIGS:
                    times[n, config].append(exit_cost(args.python, script, n, config, work))
                    for entry in os.listdir(work):  # keep the disk free
                        if entry.startswith("scorep-"):
                            subprocess.run(["rm", "-rf", os.path.join(work, entry)], check=True)
    version = subprocess.run([args.python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    lines = [f"# Exit cost against distinct call paths (Python {version})", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, medians of {args.repeat}. "
             "Added at exit = exit cost with the measurement - exit cost of plain Python "
             "(interpreter teardown included in both).", "",
             "| functions (call paths) | tool | added at exit (s) | per call path (µs) | growth vs previous row |",
             "|---:|---|---:|---:|---:|"]
    for config in list(CONFIGS)[1:]:
        previous = None
        for n in args.counts:
            added = statistics.median(times[n, config]) - statistics.median(times[n, "plain"])
            growth = f"{added / previous[1] / (n / previous[0]):.2f}x per call path" if previous and previous[1] > 0 \
                else ""
            lines.append(f"| {n:,} | {config} | {added:.3f} | {added / n * 1e6:.2f} | {growth} |")
            previous = (n, added)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
