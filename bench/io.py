"""What POSIX I/O recording costs per call (--io=posix).

    python3 bench/io.py [--repeat 5] [--out bench/io.md]

Two loops, timed inside the program (time.perf_counter around the loop
alone): 20,000 unbuffered writes of 4 bytes (os.write on a file opened
with os.open), and 200 reads of 1 MiB (os.pread of a 1 MiB file, from the
page cache).  Runs: plain python, python -m scorep (profile, no I/O
recording: the os.write call is still a C call of the Python instrumenter)
and python -m scorep --io=posix; cost per call = (measured - plain) /
calls.  The difference between the last two rows is the I/O wrappers' own
part.  Runs of one table are interleaved, side by side; medians.
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

WRITES = 20000
READS = 200

PROGRAM = """
import os, sys, time
writes, reads = int(sys.argv[1]), int(sys.argv[2])
fd = os.open("small.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
t = time.perf_counter()
for _ in range(writes):
    os.write(fd, b"abcd")
small = time.perf_counter() - t
os.close(fd)
with open("big.bin", "wb") as f:
    f.write(b"z" * (1 << 20))
fd = os.open("big.bin", os.O_RDONLY)
os.pread(fd, 1 << 20, 0)
t = time.perf_counter()
for _ in range(reads):
    os.pread(fd, 1 << 20, 0)
big = time.perf_counter() - t
os.close(fd)
print(f"RESULT {small} {big}")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "io.md"))
    args = parser.parse_args()
    cwd = tempfile.mkdtemp(prefix="scorep-bench-io-")
    with open(os.path.join(cwd, "io_loops.py"), "w") as f:
        f.write(PROGRAM)
    kinds = {"plain": [], "scorep (no I/O recording)": ["-m", "scorep"],
             "scorep --io=posix": ["-m", "scorep", "--io=posix"]}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOREP_")}
    env.update(SCOREP_ENABLE_PROFILING="true", SCOREP_ENABLE_TRACING="false")
    results = {kind: ([], []) for kind in kinds}
    for _ in range(args.repeat):
        for kind, prefix in kinds.items():
            done = subprocess.run([sys.executable] + prefix + ["io_loops.py", str(WRITES), str(READS)], cwd=cwd,
                                  env=env, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                sys.exit(f"bench/io.py: {kind} failed:\n{done.stderr}")
            small, big = map(float, re.search(r"RESULT (\S+) (\S+)", done.stdout).groups())
            results[kind][0].append(small)
            results[kind][1].append(big)
            for name in os.listdir(cwd):
                if name.startswith("scorep-"):
                    shutil.rmtree(os.path.join(cwd, name), ignore_errors=True)
    plain = [statistics.median(v) for v in results["plain"]]
    lines = [f"# POSIX I/O (Python {platform.python_version()})", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {platform.machine()}, medians of "
             f"{args.repeat} (`python3 bench/io.py`), profiling.", "",
             f"| run | 4-byte os.write (us/call) | over plain (ns/call) | 1 MiB os.pread (us/call) | over plain (ns/call) |",
             "|---|---:|---:|---:|---:|"]
    for kind in kinds:
        small, big = (statistics.median(v) for v in results[kind])
        lines.append(f"| {kind} | {small / WRITES * 1e6:.2f} | {(small - plain[0]) / WRITES * 1e9:+.0f} | "
                     f"{big / READS * 1e6:.1f} | {(big - plain[1]) / READS * 1e9:+.0f} |")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    shutil.rmtree(cwd, ignore_errors=True)


if __name__ == "__main__":
    main()
