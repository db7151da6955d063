"""Run one command and report its wall time and its own peak RSS:

    python -I -S bench/threads_spawn.py RESULT_FILE TIMEOUT -- COMMAND...

writes one line to RESULT_FILE: exit code (negative: signal), ru_maxrss of the
command in KiB, wall seconds, 1 if it was killed at TIMEOUT seconds else 0,
and this helper's own peak RSS in KiB at the fork.

Why a helper: Linux folds the memory of the process that forks into the
child's ru_maxrss (exec keeps the old address space's high-water mark), so a
child forked by the benchmark driver, which grows while it counts trace
events, would report at least the driver's size.  This helper is a bare
interpreter (-I -S, only builtin modules and resource), smaller than any
Python program it runs; a ru_maxrss above its own peak is the command's own.

The soft limit of open files (RLIMIT_NOFILE) is raised to the hard limit
before the fork, so that the command inherits it: a measured process that
keeps a file per thread open must not fail on a low default soft limit.
"""
import os
import resource
import signal
import sys
import time


def own_peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def raise_open_files_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit (a no-op where they are equal)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # e.g. a hard limit above the kernel's nr_open
            pass


def main() -> int:
    result, timeout, separator, command = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    raise_open_files_limit()  # before measuring the helper's own peak, and inherited by the command
    helper_kib = own_peak_kib()
    timed_out = []
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)

    def expire(signum, frame):
        timed_out.append(1)
        os.kill(pid, signal.SIGKILL)  # the child is not reaped before the alarm is off: its pid is still its own

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # wait, but leave the zombie
    seconds = time.perf_counter() - start
    signal.setitimer(signal.ITIMER_REAL, 0)
    _, status, usage = os.wait4(pid, 0)
    with open(result, "w") as handle:
        handle.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {seconds:.6f} "
                     f"{1 if timed_out else 0} {helper_kib}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
