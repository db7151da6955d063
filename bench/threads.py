"""Memory bound and cost of many threads: one command, one Markdown table.

    python3 bench/threads.py                  # full sizes, 3 repetitions
    python3 bench/threads.py --quick --repeat 1
    python3 bench/threads.py --only many --python /path/to/python3

Scenarios (each run under plain Python and under `python -m scorep` with
SCOREP_ENABLE_TRACING=true and profiling on, as by default):

  short   10^4 short-lived threads one after another, 50 calls each:
          wall time <= 3 x plain, peak RSS over plain <= SCOREP_TOTAL_MEMORY + 32 MiB
  many    10^5 short-lived threads, 50 calls each: wall time, peak RSS, and every
          call of the worker's function counted in the OTF2 trace
  budget  32 threads at once, 2*10^5 calls each, SCOREP_TOTAL_MEMORY=1M:
          peak RSS over plain <= 1 MiB + 32 MiB, and every call in the trace

Every run is a fresh process in a fresh temporary working directory (the
experiment directory scorep-* lands there) that is removed afterwards.  Wall
time is the whole process, measured from outside, so interpreter start and
writing the results at the end are part of it: that is what a user waits for.
Peak RSS is the child's ru_maxrss from wait4, exact per process (a delta of
RUSAGE_CHILDREN cannot be: it is the maximum over all children reaped so far),
taken by a small helper (threads_spawn.py) because the forking process's own
size would otherwise be part of it.
Calls are counted in the trace by bench/count_enters.c, built once per run
into a temporary directory with cc and otf2-config; it reads one location at
a time (otf2-print opens all 10^5 event files of "many" at once, past the
open-file limit).  If it cannot be built, otf2-print counts the small traces.
Plain and scorep runs are interleaved so that drift of the machine hits both;
the figures are the median wall time and the maximum peak RSS of the
repetitions.  A run that fails (exit code, signal, timeout, missing trace) is
reported in the table instead of stopping the suite.
"""
from __future__ import annotations

import argparse
import glob
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "threads_workload.py")
SPAWN = os.path.join(HERE, "threads_spawn.py")
REGION = "__main__:tick"  # the function every worker thread calls (threads_workload.py)
MIB = 1024 * 1024
SLACK_BYTES = 32 * MIB  # allowed on top of SCOREP_TOTAL_MEMORY: interpreter, libraries, definitions
DEFAULT_TOTAL_MEMORY = "16000k"  # src/core/config_vars.def


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    """A SCOREP size (number, optional K/M/G/T/P/E in powers of 1024, optional B)
    in bytes, as the measurement reads it, so the target is the real budget."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgtpe]?)b?\s*", text, re.I)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(match.group(1)) * 1024 ** " kmgtpe".index(match.group(2).lower() or " ")


@dataclass
class Scenario:
    name: str  # for --only
    mode: str  # threads_workload.py: sequential or together
    threads: int
    calls: int  # per thread
    total_memory: Optional[str] = None  # SCOREP_TOTAL_MEMORY for the scorep run; None: the default
    wall_target: Optional[float] = None  # max scorep / plain wall time ratio; None: reported only
    count_calls: bool = False  # count the worker's enters in the trace
    rss_bound: bool = True  # check the peak RSS against SCOREP_TOTAL_MEMORY + 32 MiB

    @property
    def label(self) -> str:
        if self.mode == "sequential":
            text = f"{self.threads:,} short-lived threads x {self.calls:,} calls"
        else:
            text = f"{self.threads} threads at once x {self.calls:,} calls"
        return text + (f", SCOREP_TOTAL_MEMORY={self.total_memory}" if self.total_memory else "")

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.total_memory or DEFAULT_TOTAL_MEMORY)

    @property
    def rss_target_mib(self) -> float:
        return (self.memory_bytes + SLACK_BYTES) / MIB

    @property
    def expected_calls(self) -> int:
        return self.threads * self.calls


def scenarios(quick: bool) -> List[Scenario]:
    """The three scenarios; --quick divides thread counts and calls by 10."""
    scale = 10 if quick else 1
    return [
        Scenario("short", "sequential", 10_000 // scale, 50 // scale, wall_target=3.0),
        # the issue asks only that 10^5 threads complete with every call: each
        # ended thread keeps its definition and profile values
        Scenario("many", "sequential", 100_000 // scale, 50 // scale, count_calls=True, rss_bound=False),
        Scenario("budget", "together", 32 // scale, 200_000 // scale, total_memory="1M", count_calls=True),
    ]


@dataclass
class Run:
    seconds: float = 0.0
    rss_kib: int = 0
    error: str = ""  # empty when the run worked
    recorded: Optional[int] = None  # enters of REGION in the trace, when counted
    note: str = ""  # first line the program wrote on stderr (the measurement reports there)


def child_env(scorep: bool, total_memory: Optional[str]) -> Dict[str, str]:
    """The environment without any SCOREP_* of the caller, so that only what the
    scenario sets applies; the experiment directory is left to its default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    if scorep:
        env["SCOREP_ENABLE_TRACING"] = "true"
        env["SCOREP_ENABLE_PROFILING"] = "true"
        if total_memory:
            env["SCOREP_TOTAL_MEMORY"] = total_memory
    return env


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def first_line(path: str) -> str:
    try:
        with open(path, errors="replace") as handle:
            for line in handle:
                if line.strip():
                    return line.strip()[:160]
    except OSError:
        pass
    return ""


def last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except OSError:
        return ""
    return lines[-1][:160] if lines else ""


# Counting enters in the trace.  The "many" trace has 10^5 locations (one per
# thread): otf2-print and the otf2 Python reader open every location's event
# file at once, each with a 256 KiB buffer, which fails on the open-file limit
# (and would need 25 GB).  bench/count_enters.c reads one location at a time
# with the OTF2 reader library; it is compiled once per run of the benchmark.
# Where it cannot be built, otf2-print (or the otf2 Python reader) counts the
# traces small enough for them.
COUNTER_SOURCE = os.path.join(HERE, "count_enters.c")
FALLBACK_MAX_LOCATIONS = 16_384  # otf2-print: 4 GiB of buffers at 256 KiB per location
FALLBACK_FILE_SLACK = 64  # descriptors otf2-print needs besides one per location


@dataclass
class Counter:
    """How enters are counted in this run: program is the built count_enters,
    or None with build_error saying why (then the fallback counts)."""
    program: Optional[str] = None
    build_error: str = ""
    attempted: bool = True  # False: no selected scenario counts calls

    @property
    def description(self) -> str:
        if not self.attempted:
            return "nothing (no scenario here counts them)"
        if self.program:
            return "`bench/count_enters.c` (the OTF2 reader library, one location at a time)"
        return (f"otf2-print (or the otf2 Python reader), for traces of at most {fallback_max_locations():,} "
                f"locations (`bench/count_enters.c` could not be built: {self.build_error})")


def build_counter(directory: str) -> Counter:
    """cc -O2 with the flags of otf2-config, into `directory`."""
    compiler, config = shutil.which("cc"), shutil.which("otf2-config")
    if not compiler or not config:
        return Counter(build_error="no " + " and no ".join(
            name for name, path in (("cc", compiler), ("otf2-config", config)) if not path))
    program = os.path.join(directory, "count_enters")
    try:
        flags = {}
        for option in ("--cflags", "--ldflags", "--libs"):
            done = subprocess.run([config, option], capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                return Counter(build_error=f"otf2-config {option} {describe_exit(done.returncode)}: "
                                           f"{done.stderr.strip()[:200]}")
            flags[option] = shlex.split(done.stdout)
        command = ([compiler, "-O2"] + flags["--cflags"] + ["-o", program, COUNTER_SOURCE]
                   + flags["--ldflags"] + flags["--libs"])
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as error:
        return Counter(build_error=str(error))
    if done.returncode != 0 or not os.access(program, os.X_OK):
        messages = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in messages if "error" in line.lower()] or messages
        return Counter(build_error=f"`{shlex.join(command)}` {describe_exit(done.returncode)}: "
                                   + " / ".join(errors[:3])[:400])
    return Counter(program=program)


def count_enters(trace: str, region: str, timeout: float, counter: Counter) -> Tuple[Optional[int], str]:
    """Enters of `region` in an OTF2 trace: (count, error).  The profile's
    visit counts would not do: they are aggregated and could hide lost events
    in a flush."""
    if counter.program:
        return count_with_program(counter.program, trace, region, timeout)
    if shutil.which("otf2-print"):
        locations, problem = otf2_print_locations(trace, timeout)
        if problem:
            return None, problem
        if locations > fallback_max_locations():
            return None, (f"{locations:,} locations are too many for otf2-print (a file and a 256 KiB buffer "
                          f"each, at most {fallback_max_locations():,}), and bench/count_enters.c could not be "
                          f"built: {counter.build_error}")
        return count_with_otf2_print(trace, region, timeout)
    return count_with_reader(trace, region, counter)


def count_with_program(program: str, trace: str, region: str, timeout: float) -> Tuple[Optional[int], str]:
    try:
        done = subprocess.run([program, trace, region], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"count_enters timed out after {timeout:g} s"
    except OSError as error:
        return None, f"count_enters: {error}"
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        return None, f"{describe_exit(done.returncode)}: {lines[-1][:200] if lines else 'no message'}"
    try:
        return int(done.stdout.strip()), ""
    except ValueError:
        return None, f"count_enters printed {done.stdout.strip()[:80]!r}, not a count"


def open_files_limit() -> int:
    """The hard RLIMIT_NOFILE, which a child can raise its soft limit to."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return hard if hard != resource.RLIM_INFINITY else 1 << 20


def raise_open_files_limit() -> None:  # preexec_fn of otf2-print
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def fallback_max_locations() -> int:
    return min(FALLBACK_MAX_LOCATIONS, open_files_limit() - FALLBACK_FILE_SLACK)


def otf2_print_locations(trace: str, timeout: float) -> Tuple[int, str]:
    """Number of locations from the anchor file (otf2-print -I reads nothing else)."""
    try:
        done = subprocess.run(["otf2-print", "-I", trace], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as error:
        return 0, f"otf2-print -I: {error}"
    match = re.search(r"^Number of locations\s+(\d+)", done.stdout, re.M)
    if done.returncode != 0 or not match:
        lines = done.stderr.strip().splitlines()
        return 0, f"otf2-print -I {describe_exit(done.returncode)}: {lines[-1][:120] if lines else 'no location count'}"
    return int(match.group(1)), ""


def count_with_otf2_print(trace: str, region: str, timeout: float) -> Tuple[Optional[int], str]:
    """otf2-print streamed line by line keeps the driver's memory flat for 10^7
    events (otf2-print's own grows with the locations)."""
    needle = f'Region: "{region}" '.encode()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(["otf2-print", trace], stdout=subprocess.PIPE, stderr=errors,
                                   preexec_fn=raise_open_files_limit)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        count = 0
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(b"ENTER ") and needle in line:
                    count += 1
            code = process.wait()
        finally:
            timer.cancel()
        if code != 0:
            errors.seek(0)
            text = errors.read().decode(errors="replace").strip().splitlines()
            return None, f"otf2-print {describe_exit(code)}: {text[-1][:120] if text else ''}"
    return count, ""


def count_with_reader(trace: str, region: str, counter: Counter) -> Tuple[Optional[int], str]:
    """The otf2 Python reader, where otf2-print is missing too; it opens every
    location at once like otf2-print, hence the same limit."""
    try:
        import otf2
    except ImportError:
        return None, f"bench/count_enters.c could not be built ({counter.build_error}) and neither otf2-print nor the otf2 Python package is available"
    count = 0
    try:
        with otf2.reader.open(trace) as reader:
            locations = sum(1 for _ in reader.definitions.locations)
            if locations > fallback_max_locations():
                return None, (f"{locations:,} locations are too many for the otf2 Python reader (at most "
                              f"{fallback_max_locations():,}), and bench/count_enters.c could not be built: "
                              f"{counter.build_error}")
            for _, event in reader.events:
                if isinstance(event, otf2.events.Enter) and event.region.name == region:
                    count += 1
    except Exception as error:  # a broken trace is a result, not a crash of the suite
        return None, f"otf2 reader: {error}"
    return count, ""


def spawn(command: List[str], workdir: str, env: Dict[str, str], timeout: float) -> Tuple[int, int, float, bool, int]:
    """(exit code, ru_maxrss KiB, wall seconds, timed out, helper's peak KiB) of one
    command, run through bench/threads_spawn.py so that the driver's own size
    does not leak into the child's ru_maxrss (see there)."""
    result = os.path.join(workdir, "rusage.txt")
    out, err = os.path.join(workdir, "stdout.txt"), os.path.join(workdir, "stderr.txt")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        helper = subprocess.run([sys.executable, "-I", "-S", SPAWN, result, str(timeout), "--"] + command,
                                cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                timeout=timeout + 120)
    if helper.returncode != 0 or not os.path.exists(result):
        raise RuntimeError(f"threads_spawn.py {describe_exit(helper.returncode)}: {last_line(err)}")
    with open(result) as handle:
        code, rss, seconds, timed_out, helper_kib = handle.read().split()
    return int(code), int(rss), float(seconds), timed_out == "1", int(helper_kib)


# Where the working directories go.  A trace of 10^4 threads is 2*10^4
# files (an event and a definitions file per thread, as OTF2 writes them);
# on this machine's ext4 creating them right after the previous run deleted
# as many takes seconds (the kernel avoids reusing recently deleted inodes),
# which would measure the file system.  tmpfs has no such effect.
WORK_ROOT = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def run_once(python: str, scenario: Scenario, scorep: bool, timeout: float, root: Optional[str],
             counter: Counter) -> Run:
    """One fresh process in a fresh working directory under `root`, removed
    afterwards."""
    workdir = tempfile.mkdtemp(prefix="scorep-threads-bench-", dir=root)
    try:
        command = [python] + (["-m", "scorep"] if scorep else []) + [
            WORKLOAD, scenario.mode, str(scenario.threads), str(scenario.calls)]
        try:
            code, rss_kib, seconds, timed_out, helper_kib = spawn(
                command, workdir, child_env(scorep, scenario.total_memory), timeout)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            return Run(error=f"could not run: {error}")
        err = os.path.join(workdir, "stderr.txt")
        run = Run(seconds=seconds, rss_kib=rss_kib, note=first_line(err))
        if timed_out:
            run.error = f"timed out after {timeout:g} s"
        elif code != 0:
            run.error = f"{describe_exit(code)}: {last_line(err)}"
        elif rss_kib <= helper_kib:  # cannot tell the child's peak from the helper's
            run.error = f"peak RSS {rss_kib} KiB not above the spawn helper's {helper_kib} KiB"
        elif scorep:
            experiments = sorted(glob.glob(os.path.join(workdir, "scorep-*")))
            trace = os.path.join(experiments[-1], "traces.otf2") if experiments else ""
            if not experiments:
                run.error = "no experiment directory scorep-*"
            elif not os.path.exists(trace):
                run.error = "no traces.otf2 in the experiment directory"
            elif scenario.count_calls:
                run.recorded, problem = count_enters(trace, REGION, timeout, counter)
                if problem:
                    run.error = f"counting calls: {problem}"
        return run
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(python: str, scenario: Scenario, repeat: int, timeout: float,
            root: Optional[str], counter: Counter) -> Dict[str, List[Run]]:
    """Plain and scorep runs, interleaved, `repeat` times."""
    runs: Dict[str, List[Run]] = {"plain": [], "scorep": []}
    for index in range(repeat):
        for tool in runs:
            log(f"{scenario.name}: {tool} run {index + 1}/{repeat} ({scenario.label})")
            run = run_once(python, scenario, tool == "scorep", timeout, root, counter)
            if run.error:
                log(f"{scenario.name}: {tool} failed: {run.error}")
            else:
                log(f"{scenario.name}: {tool} {run.seconds:.2f} s, {run.rss_kib / 1024:.1f} MiB"
                    + (f", {run.recorded:,} calls recorded" if run.recorded is not None else ""))
            runs[tool].append(run)
    return runs


@dataclass
class Row:
    scenario: Scenario
    plain_s: Optional[float] = None
    scorep_s: Optional[float] = None
    plain_mib: Optional[float] = None
    scorep_mib: Optional[float] = None
    recorded: Optional[int] = None  # the fewest over the repetitions: one lossy run is a loss
    problems: List[str] = field(default_factory=list)


def summarize(scenario: Scenario, runs: Dict[str, List[Run]]) -> Row:
    """Median wall time and maximum peak RSS of the runs that worked; every
    distinct failure and stderr message of the others goes into the notes."""
    row = Row(scenario)
    for tool, results in runs.items():
        good = [r for r in results if not r.error]
        for message in dict.fromkeys(r.error for r in results if r.error):
            failed = sum(1 for r in results if r.error == message)
            row.problems.append(f"{tool} failed ({failed} of {len(results)}): {message}")
        for note in dict.fromkeys(r.note for r in good if r.note):
            row.problems.append(f"{tool} stderr: {note}")
        if not good:
            continue
        seconds = statistics.median(r.seconds for r in good)
        mib = max(r.rss_kib for r in good) / 1024
        if tool == "plain":
            row.plain_s, row.plain_mib = seconds, mib
        else:
            row.scorep_s, row.scorep_mib = seconds, mib
            counted = [r.recorded for r in good if r.recorded is not None]
            row.recorded = min(counted) if counted else None
    return row


def number(value: Optional[float], digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def verdict(ok: Optional[bool]) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def render_row(row: Row) -> str:
    s = row.scenario
    ratio = row.scorep_s / row.plain_s if row.scorep_s is not None and row.plain_s else None
    wall_ok = None if ratio is None or s.wall_target is None else ratio <= s.wall_target
    delta = row.scorep_mib - row.plain_mib if row.scorep_mib is not None and row.plain_mib is not None else None
    rss_ok = None if delta is None or not s.rss_bound else delta <= s.rss_target_mib
    if not s.count_calls:
        calls = "–"
    elif row.recorded is None:
        calls = "not counted"
    else:
        missing = s.expected_calls - row.recorded
        calls = f"{row.recorded:,} of {s.expected_calls:,}" + (" (all)" if missing == 0 else
                                                              f" (**{missing:,} missing**)" if missing > 0 else
                                                              f" (**{-missing:,} extra**)")
    wall_target = f"≤ {s.wall_target:g}x" if s.wall_target is not None else "–"
    notes = "; ".join(row.problems).replace("|", "\\|") or "ok"
    return (f"| {s.name}: {s.label} | {number(row.plain_s)} | {number(row.scorep_s)} | "
            f"{number(ratio)}{'x' if ratio is not None else ''} | {wall_target} | {verdict(wall_ok)} | "
            f"{number(row.plain_mib, 1)} | {number(row.scorep_mib, 1)} | {number(delta, 1)} | "
            f"{f'≤ {s.rss_target_mib:.1f}' if s.rss_bound else '–'} | {verdict(rss_ok)} | {calls} | {notes} |")


def render(rows: List[Row], python: str, version: str, repeat: int, quick: bool, root: Optional[str],
           counting: str) -> str:
    lines = [
        "# scorep with many threads",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, Python {version} ({python}), {platform.platform()}, "
        f"{os.cpu_count()} CPUs, {repeat} repetition{'s' if repeat != 1 else ''}"
        f"{', quick sizes (threads and calls / 10)' if quick else ''}.",
        "",
        "Each row is one scenario of `bench/threads_workload.py`, run in a fresh process and a fresh "
        "working directory under plain Python and under `python -m scorep` with "
        "`SCOREP_ENABLE_TRACING=true` (profiling on, as by default). Wall time: the whole process "
        "from outside (start, run, writing trace and profile), median of the repetitions; "
        "ratio = scorep / plain. Peak RSS: the child's `ru_maxrss` (wait4, in `bench/threads_spawn.py`), maximum of the "
        "repetitions; delta = scorep - plain, against the row's `SCOREP_TOTAL_MEMORY` (default 16000k = "
        "16,384,000 bytes) + 32 MiB. The wall target applies where one is given. Calls recorded: ENTER events of `__main__:tick` in the OTF2 "
        f"trace, counted with {counting}, the fewest of the repetitions, against threads x calls. "
        "short-lived threads run one after another (start, join); threads at once are all started "
        "before the first is joined. Working directories (and so the experiments) are in "
        f"{root or tempfile.gettempdir()}.",
        "",
        "| scenario | plain wall (s) | scorep wall (s) | ratio | wall target | met | plain RSS (MiB) | "
        "scorep RSS (MiB) | RSS delta (MiB) | RSS target (MiB) | met | calls recorded | notes |",
        "|---|---:|---:|---:|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    lines += [render_row(row) for row in rows]
    return "\n".join(lines) + "\n"


def interpreter_version(python: str) -> str:
    done = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="thread counts and calls divided by 10")
    parser.add_argument("--only", choices=[s.name for s in scenarios(False)], help="run one scenario")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (default 3)")
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure (default: this one)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run before it is killed")
    parser.add_argument("--out", default=os.path.join(HERE, "threads.md"), help="Markdown file to write")
    parser.add_argument("--workdir", default=WORK_ROOT,
                        help="where the runs' working directories go (default: /dev/shm, a tmpfs)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    version = interpreter_version(args.python)
    log(f"Python {version} ({args.python})")
    selected = [s for s in scenarios(args.quick) if not args.only or s.name == args.only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="scorep-threads-bench-counter-") as tools:
        counter = Counter(attempted=False)
        if any(s.count_calls for s in selected):
            counter = build_counter(tools)
            if counter.program:
                log(f"built {counter.program} from {COUNTER_SOURCE}")
            else:
                log(f"ERROR: could not build {COUNTER_SOURCE}: {counter.build_error}")
                log(f"counting calls with otf2-print instead, only in traces of at most "
                    f"{fallback_max_locations():,} locations")
        for scenario in selected:
            rows.append(summarize(scenario, measure(args.python, scenario, args.repeat, args.timeout,
                                                    args.workdir, counter)))
    text = render(rows, args.python, version, args.repeat, args.quick, args.workdir, counter.description)
    with open(args.out, "w") as handle:
        handle.write(text)
    print(text)
    log(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
