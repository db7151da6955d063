"""Benchmark workloads.  Each is a function ``run()`` doing the measured
work; the harness times it from inside the program."""
from __future__ import annotations

import re
import threading


def trivial():
    pass


def identity(x):
    return x


def mixed_sites(n: int = 500_000) -> None:
    """Call sites that call a Python function and a C function in turn
    (n of each): sys.monitoring may not disable such a site."""
    fns = (identity, len)
    for _ in range(n):
        for fn in fns:
            fn("ab")


def calls(n: int = 1_000_000) -> None:
    """A loop of trivial Python calls: the pure per-call cost."""
    f = trivial
    for _ in range(n):
        f()


def fib(n: int = 25) -> int:
    """Recursive fibonacci: deep, call-heavy."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Account:
    def __init__(self, name: str) -> None:
        self.name = name
        self.balance = 0

    def deposit(self, amount: int) -> None:
        self.balance += amount

    @property
    def rich(self) -> bool:
        return self.balance > 1000


LINE = re.compile(r"(\w+)=(\d+)")


def parse(text: str):
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            yield match.group(1), int(match.group(2))


def mixed(rounds: int = 300) -> int:
    """A realistic mix: parsing with a regex and a generator, objects,
    properties, dict work, sorting."""
    text = "\n".join(f"user{i % 37}={i}" for i in range(200))
    rich = 0
    for _ in range(rounds):
        accounts = {}
        for name, amount in parse(text):
            account = accounts.get(name)
            if account is None:
                account = accounts[name] = Account(name)
            account.deposit(amount)
        rich += sum(1 for a in sorted(accounts.values(), key=lambda a: a.balance) if a.rich)
    return rich


def builtins_heavy(n: int = 300_000) -> int:
    """C calls: builtins and methods of built-in types."""
    out = []
    total = 0
    for i in range(n):
        out.append(i)
        total += len(out) + abs(-i)
        if len(out) > 100:
            out.clear()
    return total


def threads(n: int = 250_000, workers: int = 4) -> None:
    """The trivial call loop in 4 threads at once."""
    pool = [threading.Thread(target=calls, args=(n,)) for _ in range(workers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def filtered(n: int = 1_000_000) -> None:
    """The call loop with `trivial` filtered out (SCOREP_FILTERING_FILE)."""
    calls(n)


WORKLOADS = {
    "calls": calls,
    "fib": fib,
    "mixed": mixed,
    "builtins": builtins_heavy,
    "threads": threads,
}
