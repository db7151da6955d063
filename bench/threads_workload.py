"""The program that bench/threads.py measures, run as a script (so that its
functions are ``__main__:...`` regions, as in a user's program):

    python bench/threads_workload.py sequential THREADS CALLS
    python bench/threads_workload.py together THREADS CALLS

sequential: THREADS threads one after another (start, join), each calling
``tick`` CALLS times -- many short-lived threads, so the cost of creating and
retiring a location per thread dominates.  together: THREADS threads started
at once, each calling ``tick`` CALLS times -- many threads filling their event
buffers at the same time.  It uses nothing but the threading module, so that
plain Python and scorep run exactly the same program."""
from __future__ import annotations

import sys
import threading


def tick() -> None:
    """The trivial function whose enters bench/threads.py counts in the trace
    (region ``__main__:tick``): empty, so the measurement's own cost is what
    the wall time shows."""


def worker(calls: int) -> None:
    f = tick
    for _ in range(calls):
        f()


def sequential(threads: int, calls: int) -> None:
    for _ in range(threads):
        thread = threading.Thread(target=worker, args=(calls,))
        thread.start()
        thread.join()


def together(threads: int, calls: int) -> None:
    pool = [threading.Thread(target=worker, args=(calls,)) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


MODES = {"sequential": sequential, "together": together}


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in MODES:
        print(__doc__, file=sys.stderr)
        return 2
    MODES[sys.argv[1]](int(sys.argv[2]), int(sys.argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
