"""The benchmark suite: one command, one Markdown table.

    python3 bench/run.py                 # every Python >= 3.9 found, 5 repetitions
    python3 bench/run.py --quick         # fewer repetitions, smaller workloads
    python3 bench/run.py --pythons 3.11 3.13 --out bench/results.md

For each Python it prepares a virtualenv under bench/.venvs/<version> with
this project, cProfile (stdlib), VizTracer and yappi, builds the empty-hook
floor, and runs every (tool, workload) pair in a fresh process, interleaved
and repeated; the figures are medians.  Times are measured inside the
program around the workload (bench/harness.py).  Callgrind instruction
counts per call for the call loop are stable across noisy runs.
"""
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
import time
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TOOLS = ["plain", "floor", "scorep-trace", "scorep-profile", "scorep-both", "cprofile", "viztracer", "yappi"]
WORKLOADS = {  # name -> argument (full, quick)
    "calls": (1_000_000, 300_000),
    "fib": (25, 22),
    "mixed": (300, 100),
    "builtins": (300_000, 100_000),
    "threads": (250_000, 80_000),
}
EXTRA = [("scorep-filtered", "calls"), ("scorep-noinstrumenter", "calls")]


def tools_for(version: str) -> List[str]:
    """TOOLS, plus the PEP 523 instrumenter where it exists (3.9-3.11)."""
    if tuple(map(int, version.split(".")[:2])) < (3, 12):
        return TOOLS[:5] + ["scorep-eval"] + TOOLS[5:]
    return list(TOOLS)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def find_pythons(wanted: Optional[List[str]]) -> List[str]:
    found = {}
    candidates = glob.glob("/root/.pyenv/versions/*/bin/python3") + [sys.executable]
    for exe in candidates:
        try:
            version = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                     capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            continue
        if not version or tuple(map(int, version.split("."))) < (3, 9):
            continue
        if wanted and version not in wanted:
            continue
        found.setdefault(version, exe)
    return [found[v] for v in sorted(found, key=lambda v: tuple(map(int, v.split("."))))]


def prepare(python: str) -> Tuple[str, str]:
    """A venv with scorep, viztracer, yappi and the floor extension."""
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    venv = os.path.join(HERE, ".venvs", version)
    exe = os.path.join(venv, "bin", "python")
    if not os.path.exists(exe):
        log(f"creating {venv}")
        subprocess.run([python, "-m", "venv", venv], check=True)
    log(f"installing scorep, viztracer and yappi for Python {version}")
    subprocess.run([exe, "-m", "pip", "install", "-q", "viztracer", "yappi", "setuptools", "wheel"], check=True)
    subprocess.run([exe, "-m", "pip", "install", "-q", ROOT], check=True)
    build = os.path.join(venv, "floor")
    os.makedirs(build, exist_ok=True)
    code = ("import sysconfig, sys; print(sysconfig.get_paths()['include']); "
            "print(sysconfig.get_config_var('EXT_SUFFIX'))")
    include, suffix = subprocess.run([exe, "-c", code], capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", f"-I{include}", os.path.join(HERE, "emptyhook.c"),
                    "-o", os.path.join(build, "emptyhook" + suffix)], check=True)
    return exe, build


def measure(exe: str, floor_dir: str, tool: str, workload: str, arg: int) -> Optional[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    env["PYTHONPATH"] = floor_dir
    done = subprocess.run([exe, os.path.join(HERE, "harness.py"), tool, workload, str(arg)], capture_output=True,
                          text=True, env=env, cwd=tempfile.gettempdir(), timeout=900)
    if done.returncode != 0:
        log(f"{tool} {workload} failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "scorep-bench-*")):
        shutil.rmtree(path, ignore_errors=True)
    return result


def count_calls(exe: str, workload: str, arg: int) -> Tuple[int, int]:
    """Python calls and C calls of a workload (counted once, with a profile hook)."""
    script = f"""
import sys, threading
sys.path.insert(0, {HERE!r})
import workloads
counts = {{"call": 0, "c_call": 0}}
def hook(frame, event, arg):
    if event in counts:
        counts[event] += 1
work = workloads.WORKLOADS[{workload!r}]
threading.setprofile(hook)
sys.setprofile(hook)
work({arg})
sys.setprofile(None)
print(counts["call"], counts["c_call"])
"""
    out = subprocess.run([exe, "-c", script], capture_output=True, text=True, timeout=900).stdout.split()
    return int(out[0]), int(out[1])


def callgrind(exe: str, floor_dir: str, tools: List[str]) -> Dict[str, Tuple[float, float]]:
    """Instructions per call of the call loop (counted only while the
    workload runs), from the difference of two runs: (the program's own
    thread, all threads).  The difference between the two is scorep's drain
    thread, which runs on another core."""
    if not shutil.which("valgrind"):
        return {}
    per_call = {}
    small, large = 20_000, 60_000
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    env["PYTHONPATH"] = floor_dir
    env["BENCH_CALLGRIND"] = "1"
    for tool in tools:
        totals = []
        for n in (small, large):
            prefix = os.path.join(tempfile.mkdtemp(prefix="callgrind-"), "out")
            subprocess.run(["valgrind", "--tool=callgrind", "--separate-threads=yes", "--collect-atstart=no",
                            f"--callgrind-out-file={prefix}", exe, os.path.join(HERE, "harness.py"), tool, "calls",
                            str(n)], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), timeout=1800)
            threads = []
            for path in sorted(glob.glob(prefix + "-*")):  # one file per thread
                with open(path) as handle:
                    match = re.search(r"^(?:summary|totals):\s*(\d+)", handle.read(), re.M)
                threads.append(int(match.group(1)) if match else 0)
            shutil.rmtree(os.path.dirname(prefix), ignore_errors=True)
            totals.append((threads[0] if threads else 0, sum(threads)))
        main_thread = (totals[1][0] - totals[0][0]) / (large - small)
        everything = (totals[1][1] - totals[0][1]) / (large - small)
        per_call[tool] = (main_thread, everything)
    return per_call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 repetitions and smaller workloads")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions per measurement (default 5, quick 3)")
    parser.add_argument("--pythons", nargs="*", help="versions to run, e.g. 3.11 3.13 (default: all >= 3.9)")
    parser.add_argument("--out", default=os.path.join(HERE, "results.md"), help="Markdown file to write")
    parser.add_argument("--no-callgrind", action="store_true", help="skip the callgrind instruction counts")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 5)
    pythons = find_pythons(args.pythons)
    if not pythons:
        log("no Python >= 3.9 found")
        return 1
    sections = [f"# scorep benchmark\n\n{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
                f"{repeat} repetitions, medians. Overhead per call = (time with the tool - plain time) / "
                f"calls; for profile-hook tools C calls count as calls too.\n"]
    for python in pythons:
        exe, floor_dir = prepare(python)
        version = subprocess.run([exe, "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True).stdout.strip()
        log(f"Python {version}")
        clocks = subprocess.run([exe, "-c", "from scorep import _native; print(_native.clock_cost())"],
                                capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout.strip()
        rows = []
        for workload, (full, quick) in WORKLOADS.items():
            arg = quick if args.quick else full
            py_calls, c_calls = count_calls(exe, workload, arg)
            runs: Dict[str, List[dict]] = {tool: [] for tool in tools_for(version)}
            extras = [tool for tool, w in EXTRA if w == workload]
            for tool in extras:
                runs[tool] = []
            for _ in range(repeat):
                for tool in list(runs):  # interleaved: drift hits all tools alike
                    result = measure(exe, floor_dir, tool, workload, arg)
                    if result:
                        runs[tool].append(result)
            plain = statistics.median(r["seconds"] for r in runs["plain"])
            for tool, results in runs.items():
                if not results:
                    continue
                seconds = statistics.median(r["seconds"] for r in results)
                write = statistics.median(r["write_seconds"] for r in results)
                rss = statistics.median(r["peak_rss_kb"] for r in results)
                size = statistics.median(r["bytes"] for r in results)
                memory = statistics.median(r.get("record_bytes_per_event", 0) for r in results)
                calls = py_calls + c_calls
                events = 2 * (py_calls + c_calls)
                rows.append({
                    "workload": workload, "tool": tool, "seconds": seconds,
                    "overhead_ns": (seconds - plain) / max(calls, 1) * 1e9,
                    "ratio": seconds / plain, "write": write, "write_share": write / seconds if seconds else 0,
                    "rss_mb": rss / 1024, "bytes_per_event": size / events if size and tool != "plain" else 0,
                    "memory_bytes_per_event": memory,
                    "calls": py_calls, "c_calls": c_calls,
                })
        grind_tools = [t for t in tools_for(version) if t not in ("scorep-both", "yappi")]
        grind = {} if args.no_callgrind else callgrind(exe, floor_dir, grind_tools)
        sections.append(render(version, rows, grind))
        sections.append(targets(rows))
        sections.append(f"Cost of one timestamp (ns per read): {clocks}; scorep takes two per call.\n")
    text = "\n".join(sections)
    with open(args.out, "w") as handle:
        handle.write(text)
    print(text)
    log(f"written to {args.out}")
    return 0


def targets(rows: List[dict]) -> str:
    """The performance targets, checked on this run's medians."""
    by = {(r["workload"], r["tool"]): r for r in rows}
    lines = ["Targets on this run (trace = scorep-trace; limit = 1.25 x floor + 15 ns):", "",
             "| workload | trace ns/call | limit | met | 0.5 x VizTracer | met | profile / trace | "
             "below cProfile (trace, profile) | writing share (trace) |",
             "|---|---:|---:|---|---:|---|---:|---|---:|"]
    for workload in WORKLOADS:
        trace, floor = by.get((workload, "scorep-trace")), by.get((workload, "floor"))
        viz, prof, cprof = (by.get((workload, t)) for t in ("viztracer", "scorep-profile", "cprofile"))
        if not (trace and floor):
            continue
        limit = 1.25 * floor["overhead_ns"] + 15
        half_viz = 0.5 * viz["overhead_ns"] if viz else float("nan")
        ratio = prof["overhead_ns"] / trace["overhead_ns"] if prof and trace["overhead_ns"] > 0 else float("nan")
        below = cprof and trace["seconds"] < cprof["seconds"] and prof and prof["seconds"] < cprof["seconds"]
        def row(label: str, r: dict, ratio_cell: str, below_cell: str) -> str:
            return (f"| {label} | {r['overhead_ns']:.1f} | {limit:.1f} | "
                    f"{'yes' if r['overhead_ns'] <= limit else 'no'} | {half_viz:.1f} | "
                    f"{'yes' if r['overhead_ns'] <= half_viz else 'no'} | {ratio_cell} | {below_cell} | "
                    f"{100 * r['write_share']:.1f}% |")

        lines.append(row(workload, trace, f"{ratio:.2f}", "yes" if below else "no"))
        evaluated = by.get((workload, "scorep-eval"))
        if evaluated:
            lines.append(row(f"{workload} (eval instrumenter, Python calls only)", evaluated, "", ""))
    return "\n".join(lines) + "\n"


def render(version: str, rows: List[dict], grind: Dict[str, Tuple[float, float]]) -> str:
    lines = [f"\n## Python {version}\n",
             "| workload | tool | time (s) | slowdown | overhead/call (ns) | writing at end (s) | "
             "writing share | peak RSS (MB) | output bytes/event | buffer bytes/event |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        memory = f"{r['memory_bytes_per_event']:.2f}" if r["memory_bytes_per_event"] else ""
        lines.append(f"| {r['workload']} | {r['tool']} | {r['seconds']:.4f} | {r['ratio']:.2f}x | "
                     f"{r['overhead_ns']:.1f} | {r['write']:.4f} | {100 * r['write_share']:.1f}% | "
                     f"{r['rss_mb']:.1f} | {r['bytes_per_event']:.1f} | {memory} |")
    calls = {r["workload"]: (r["calls"], r["c_calls"]) for r in rows}
    lines.append("")
    lines.append("Calls per workload (Python, C): " +
                 ", ".join(f"{w} {p:,}/{c:,}" for w, (p, c) in calls.items()) + ".")
    if grind:
        base = grind.get("plain", (0, 0))[0]
        lines.append("")
        lines.append("Callgrind, call loop: instructions per call in the program's thread (over plain Python), "
                     "and in all threads (with scorep's drain thread, which runs on the other core)")
        lines.append("")
        lines.append("| tool | instructions/call | over plain | all threads |")
        lines.append("|---|---:|---:|---:|")
        for tool, (own, everything) in grind.items():
            lines.append(f"| {tool} | {own:.0f} | {own - base:+.0f} | {everything:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
