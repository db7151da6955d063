"""What MPI measurement costs: the wrappers per MPI call, the unification
of N ranks into one experiment, and tracing with every core busy with and
without the drain thread.

    python3 bench/mpi.py [--repeat 5] [--out bench/mpi.md]

1. Per call: 2 ranks run 20,000 8-byte MPI_Allreduce and 20,000 round
   trips of an 8-byte MPI_Send/MPI_Recv ping-pong; the loop is timed with
   MPI.Wtime on rank 0 in plain python, under python -m scorep without
   --mpp=mpi (Python calls only) and with --mpp=mpi; cost per MPI call =
   (measured - plain) / calls.  (Each MPI call from mpi4py is also a C call
   of the Python instrumenter: the difference between the last two rows is
   the wrappers' own part.)
2. Unification: N ranks (2..16, oversubscribed on this machine's cores)
   each call a function 1,000 times and do one MPI_Allreduce; rank 0's
   verbose line gives the time it took to read, unify and write all of
   them after they ended.
3. Cores full: as many ranks as cores, each making 300,000 Python calls
   while tracing (the drain thread replays full buffers during the run, or
   each rank's own threads replay them at the end); whole job wall time.
Runs of one table are interleaved, side by side.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CALLS = 20000

PER_CALL = """
import array, sys
from mpi4py import MPI
comm = MPI.COMM_WORLD
rank = comm.Get_rank()
n = int(sys.argv[1])
a, b = array.array("d", [1.0]), array.array("d", [0.0])
comm.Barrier()
t = MPI.Wtime()
for _ in range(n):
    comm.Allreduce([a, MPI.DOUBLE], [b, MPI.DOUBLE], op=MPI.SUM)
allreduce = MPI.Wtime() - t
comm.Barrier()
t = MPI.Wtime()
for _ in range(n):
    if rank == 0:
        comm.Send([a, MPI.DOUBLE], dest=1, tag=1)
        comm.Recv([b, MPI.DOUBLE], source=1, tag=1)
    else:
        comm.Recv([b, MPI.DOUBLE], source=0, tag=1)
        comm.Send([a, MPI.DOUBLE], dest=0, tag=1)
pingpong = MPI.Wtime() - t
if rank == 0:
    print(f"RESULT {allreduce} {pingpong}")
"""

UNIFY = """
import array
from mpi4py import MPI
def work(i):
    return i
for i in range(1000):
    work(i)
x = array.array("i", [1])
y = array.array("i", [0])
MPI.COMM_WORLD.Allreduce([x, MPI.INT], [y, MPI.INT], op=MPI.SUM)
"""

BUSY = """
def leaf(i):
    return i
def work(n):
    for i in range(n):
        leaf(i)
work(300000)
"""


def mpirun(ranks: int, args: list, env: dict, cwd: str) -> subprocess.CompletedProcess:
    environment = dict(env, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [shutil.which("mpirun"), "-n", str(ranks), "--oversubscribe", sys.executable] + args
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"bench/mpi.py: {' '.join(command)} failed:\n{done.stderr}")
    return done


def clean(cwd: str) -> None:
    for name in os.listdir(cwd):
        if name.startswith("scorep-"):
            shutil.rmtree(os.path.join(cwd, name), ignore_errors=True)


def base_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    return env


def per_call(cwd: str, repeat: int) -> list:
    with open(os.path.join(cwd, "per_call.py"), "w") as f:
        f.write(PER_CALL)
    kinds = {"plain": [], "scorep (Python only)": ["-m", "scorep"], "scorep --mpp=mpi": ["-m", "scorep", "--mpp=mpi"]}
    results = {kind: ([], []) for kind in kinds}
    env = dict(base_env(), SCOREP_ENABLE_TRACING="true", SCOREP_ENABLE_PROFILING="true")
    for _ in range(repeat):
        for kind, prefix in kinds.items():
            done = mpirun(2, prefix + ["per_call.py", str(CALLS)], env, cwd)
            allreduce, pingpong = map(float, re.search(r"RESULT (\S+) (\S+)", done.stdout).groups())
            results[kind][0].append(allreduce)
            results[kind][1].append(pingpong)
            clean(cwd)
    rows = []
    plain = [statistics.median(v) for v in results["plain"]]
    for kind in kinds:
        a, p = (statistics.median(v) for v in results[kind])
        rows.append((kind, a / CALLS * 1e6, (a - plain[0]) / CALLS * 1e9, p / CALLS * 1e6,
                     (p - plain[1]) / (2 * CALLS) * 1e9))
    return rows


INSTRUCTIONS = """
import array, sys
from mpi4py import MPI
comm = MPI.COMM_WORLD
a, b = array.array("d", [1.0]), array.array("d", [0.0])
for _ in range(int(sys.argv[1])):
    comm.Allreduce([a, MPI.DOUBLE], [b, MPI.DOUBLE], op=MPI.SUM)
"""


def instructions(cwd: str) -> list:
    """Callgrind instructions per 8-byte MPI_Allreduce of one rank (MPI's
    singleton start, no mpirun: nothing waits for another rank), the whole
    Python process from start to end (the end's writing of the events
    included), the difference of 22,000 and 2,000 calls / 20,000; without
    the drain thread, so that every instruction is counted in one process."""
    with open(os.path.join(cwd, "instructions.py"), "w") as f:
        f.write(INSTRUCTIONS)
    if not shutil.which("valgrind"):
        sys.exit("bench/mpi.py: valgrind is missing (apt-get install valgrind)")
    kinds = {"plain": [], "scorep (Python only)": ["-m", "scorep"], "scorep --mpp=mpi": ["-m", "scorep", "--mpp=mpi"]}
    env = dict(base_env(), SCOREP_ENABLE_TRACING="true", SCOREP_ENABLE_PROFILING="true",
               SCOREP_PYTHON_DRAIN_THREAD="false")
    counts = {}
    for kind, prefix in kinds.items():
        totals = []
        for n in (2000, 22000):
            out = tempfile.mkdtemp(prefix="callgrind-", dir=cwd)
            subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                            f"--callgrind-out-file={out}/cg.%p", sys.executable] + prefix + ["instructions.py", str(n)],
                           cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=True)
            total = 0
            for name in os.listdir(out):
                with open(os.path.join(out, name)) as f:
                    text = f.read()
                if re.search(r"^cmd:.*python", text, re.M):  # not mpirun's orted
                    total += int(re.search(r"^summary: (\d+)", text, re.M).group(1))
            totals.append(total)
            shutil.rmtree(out, ignore_errors=True)
            clean(cwd)
        counts[kind] = (totals[1] - totals[0]) / 20000
    return [(kind, n, n - counts["plain"]) for kind, n in counts.items()]


def unify(cwd: str, ranks_list: list, repeat: int) -> list:
    with open(os.path.join(cwd, "unify.py"), "w") as f:
        f.write(UNIFY)
    rows = []
    for ranks in ranks_list:
        for results, extra in (("profile", {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "false"}),
                               ("profile+trace", {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_ENABLE_TRACING": "true"})):
            times, waits = [], []
            for _ in range(repeat):
                env = dict(base_env(), SCOREP_VERBOSE="true", **extra)
                done = mpirun(ranks, ["-m", "scorep", "--mpp=mpi", "unify.py"], env, cwd)
                found = re.search(r"(\d+) processes of the experiment unified and written in ([\d.]+) ms "
                                  r"\(after waiting ([\d.]+) ms", done.stderr)
                assert found and int(found.group(1)) == ranks, done.stderr
                times.append(float(found.group(2)))
                waits.append(float(found.group(3)))
                clean(cwd)
            t = statistics.median(times)
            rows.append((ranks, results, t, t / ranks, statistics.median(waits)))
    return rows


def busy(cwd: str, repeat: int) -> list:
    with open(os.path.join(cwd, "busy.py"), "w") as f:
        f.write(BUSY)
    cores = os.cpu_count() or 1
    kinds = {"plain": ([], {}), "trace, drain thread": (["-m", "scorep"], {"SCOREP_PYTHON_DRAIN_THREAD": "true"}),
             "trace, no drain thread": (["-m", "scorep"], {"SCOREP_PYTHON_DRAIN_THREAD": "false"}),
             "trace, default (auto)": (["-m", "scorep"], {})}
    times = {kind: [] for kind in kinds}
    for _ in range(repeat):
        for kind, (prefix, extra) in kinds.items():
            env = dict(base_env(), SCOREP_ENABLE_TRACING="true", SCOREP_ENABLE_PROFILING="false", **extra)
            start = time.perf_counter()
            mpirun(cores, prefix + ["busy.py"], env, cwd)
            times[kind].append(time.perf_counter() - start)
            clean(cwd)
    plain = statistics.median(times["plain"])
    return [(kind, cores, statistics.median(v), statistics.median(v) / plain) for kind, v in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi.md"))
    parser.add_argument("--ranks", default="2,4,8,16")
    args = parser.parse_args()
    cwd = tempfile.mkdtemp(prefix="scorep-bench-mpi-")
    version = subprocess.run([shutil.which("mpirun"), "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    lines = [f"# MPI (Python {platform.python_version()}, {version})", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {platform.machine()}, medians of "
             f"{args.repeat} (`python3 bench/mpi.py`).", "",
             f"## Per MPI call (2 ranks, {CALLS:,} calls each)", "",
             "| run | Allreduce 8 B (us/call) | over plain (ns/call) | Send/Recv round trip (us) | over plain (ns/MPI call) |",
             "|---|---:|---:|---:|---:|"]
    for kind, a, da, p, dp in per_call(cwd, args.repeat):
        lines.append(f"| {kind} | {a:.2f} | {da:+.0f} | {p:.2f} | {dp:+.0f} |")
    lines += ["", "## Instructions per MPI call (callgrind, one rank, trace and profile, no drain thread)", "",
              "| run | instructions per Allreduce | over plain |", "|---|---:|---:|"]
    for kind, n, over in instructions(cwd):
        lines.append(f"| {kind} | {n:.0f} | {over:+.0f} |")
    lines += ["", "## Unification: N ranks (oversubscribed) into one experiment", "",
              "Time rank 0 takes, after every rank ended, to read their journals, unify definitions and communicators, "
              "merge profiles and trace files and write the experiment (its verbose line).", "",
              "| ranks | results | unify and write (ms) | per rank (ms) | waited for the ranks to end (ms) |",
              "|---:|---|---:|---:|---:|"]
    for ranks, results, t, per, waited in unify(cwd, [int(r) for r in args.ranks.split(",")], args.repeat):
        lines.append(f"| {ranks} | {results} | {t:.1f} | {per:.2f} | {waited:.1f} |")
    lines += ["", "## Every core busy: one rank per core, 300,000 Python calls each, tracing", "",
              "| run | ranks | wall (s) | × plain |", "|---|---:|---:|---:|"]
    for kind, cores, t, ratio in busy(cwd, args.repeat):
        lines.append(f"| {kind} | {cores} | {t:.3f} | {ratio:.2f} |")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    shutil.rmtree(cwd, ignore_errors=True)


if __name__ == "__main__":
    main()
