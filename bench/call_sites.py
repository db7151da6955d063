"""The cost of recording every call at mixed call sites, before and after
(issue: sys.monitoring disabled a call site that had called a Python
function, losing the C calls it made later).

    python bench/call_sites.py [--before REV] [--python PY ...] [--repeat N]

Builds the package at REV (default: the last commit before the change) and
at the working tree into two virtualenvs per Python (bench/.venvs/sites-*),
then runs, side by side in one run, the call loop (1e6 calls of a Python
function), the same with that function filtered out, and a loop over a
mixed call site (a Python function and len in turn), under plain Python and
both builds; plus callgrind instructions per call of the call loop.  Writes
bench/call_sites.md."""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BEFORE = "6f78c86"

CASES = [  # (label, tool, workload, argument, calls per argument unit)
    ("call loop", "scorep-trace", "calls", 1_000_000, 1),
    ("call loop, function filtered", "scorep-filtered", "calls", 1_000_000, 1),
    ("mixed call site (Python + C)", "scorep-trace", "mixed_sites", 500_000, 2),
    ("mixed call site, Python function filtered", "scorep-filtered", "mixed_sites", 500_000, 2),
]


def log(message: str) -> None:
    print(f"call_sites: {message}", file=sys.stderr, flush=True)


def version_of(python: str) -> str:
    return subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def build_venv(python: str, name: str, source: str) -> Tuple[str, str]:
    venv = os.path.join(HERE, ".venvs", name)
    exe = os.path.join(venv, "bin", "python")
    if not os.path.exists(exe):
        subprocess.run([python, "-m", "venv", venv], check=True)
    subprocess.run([exe, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", source], check=True)
    floor = os.path.join(venv, "floor")
    os.makedirs(floor, exist_ok=True)
    code = "import sysconfig; print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX'))"
    include, suffix = subprocess.run([exe, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", f"-I{include}", os.path.join(HERE, "emptyhook.c"), "-o",
                    os.path.join(floor, "emptyhook" + suffix)], check=True)
    return exe, floor


def env_for(floor: str, callgrind: bool = False) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    env["PYTHONPATH"] = floor
    if callgrind:
        env["BENCH_CALLGRIND"] = "1"
    return env


def run_once(exe: str, floor: str, tool: str, workload: str, arg: int) -> float:
    done = subprocess.run([exe, os.path.join(HERE, "harness.py"), tool, workload, str(arg)], capture_output=True,
                          text=True, env=env_for(floor), cwd=tempfile.gettempdir(), timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"call_sites: {tool} {workload} failed: {done.stderr.strip()[-500:]}")
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "scorep-bench-*")):
        shutil.rmtree(path, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def instructions(exe: str, floor: str, tool: str) -> float:
    """Callgrind instructions per call of the call loop in the program's thread."""
    totals = []
    for n in (20_000, 60_000):
        prefix = os.path.join(tempfile.mkdtemp(prefix="callgrind-"), "out")
        subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes", "--collect-atstart=no",
                        f"--callgrind-out-file={prefix}", exe, os.path.join(HERE, "harness.py"), tool, "calls", str(n)],
                       capture_output=True, text=True, env=env_for(floor, True), cwd=tempfile.gettempdir(),
                       timeout=1800)
        files = sorted(glob.glob(prefix + "-*"))
        with open(files[0]) as handle:
            match = re.search(r"^(?:summary|totals):\s*(\d+)", handle.read(), re.M)
        totals.append(int(match.group(1)) if match else 0)
        shutil.rmtree(os.path.dirname(prefix), ignore_errors=True)
    return (totals[1] - totals[0]) / 40_000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--python", action="append")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pythons = args.python or [p for p in (f"/root/.pyenv/versions/{v}/bin/python" for v in ("3.11.7", "3.12.1", "3.13.0"))
                              if os.path.exists(p)]
    worktree = tempfile.mkdtemp(prefix="scorep-before-")
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", worktree, args.before], check=True,
                   capture_output=True)
    sections = []
    try:
        for python in pythons:
            version = version_of(python)
            log(f"Python {version}: building {args.before} and the working tree")
            builds = {"before": build_venv(python, f"sites-{version}-before", worktree),
                      "after": build_venv(python, f"sites-{version}-after", ROOT)}
            rows = []
            for label, tool, workload, arg, per in CASES:
                times: Dict[str, List[float]] = {"plain": [], "before": [], "after": []}
                for _ in range(args.repeat):  # interleaved: the same machine state for all three
                    times["plain"].append(run_once(builds["after"][0], builds["after"][1], "plain", workload, arg))
                    for which in ("before", "after"):
                        exe, floor = builds[which]
                        times[which].append(run_once(exe, floor, tool, workload, arg))
                med = {k: statistics.median(v) for k, v in times.items()}
                calls = arg * per
                ns = {k: (med[k] - med["plain"]) / calls * 1e9 for k in ("before", "after")}
                rows.append(f"| {label} | {med['plain']:.4f} | {med['before']:.4f} | {med['after']:.4f} | "
                            f"{ns['before']:.1f} | {ns['after']:.1f} |")
                log(f"{version} {label}: {ns['before']:.1f} -> {ns['after']:.1f} ns/call")
            grind = []
            if shutil.which("valgrind"):
                for tool in ("scorep-trace", "scorep-filtered"):
                    counts = {which: instructions(*builds[which], tool) for which in ("before", "after")}
                    grind.append(f"| {tool} | {counts['before']:.0f} | {counts['after']:.0f} |")
            section = [f"## Python {version}", "",
                       "| case | plain (s) | before (s) | after (s) | before ns/call | after ns/call |",
                       "|---|---:|---:|---:|---:|---:|", *rows, ""]
            if grind:
                section += ["Callgrind, call loop, instructions per call in the program's thread:", "",
                            "| tool | before | after |", "|---|---:|---:|", *grind, ""]
            sections.append("\n".join(section))
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", worktree], capture_output=True)
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    text = "\n".join([
        "# Mixed call sites: the cost of recording every call", "",
        f"`python bench/call_sites.py`: before = {args.before} (sys.monitoring disabled a call site once it had called "
        f"a Python function), after = the working tree at {head} (a site is disabled only in the measurement's own "
        f"code). Medians of {args.repeat} interleaved runs; ns/call = (time - plain) / calls, where the mixed site "
        "counts its Python and its C calls; tracing on (scorep-trace) or with the Python function filtered out "
        "(scorep-filtered). Before 3.12 the profile hook is the instrumenter (the change there: the C call that runs "
        "is remembered, two stores per C call).", "", *sections])
    with open(os.path.join(HERE, "call_sites.md"), "w") as out:
        out.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
