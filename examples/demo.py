"""A small program to try scorep on.

    SCOREP_ENABLE_TRACING=true python3 -m scorep examples/demo.py

It has plain functions, a class with methods, a generator, a recursive
function, two worker threads and a short sleep.
"""

import threading
import time


class Inventory:
    """Counts items by name."""

    def __init__(self):
        self.items = {}

    def add(self, name, count=1):
        self.items[name] = self.items.get(name, 0) + count

    def total(self):
        return sum(self.items.values())


def fibonacci(n):
    """Naive recursion on purpose: it produces a deep call tree."""
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


def squares(limit):
    for i in range(limit):
        yield i * i


def checksum(values):
    total = 0
    for value in values:
        total = (total * 31 + value) % 1000003
    return total


def worker(index, results):
    inventory = Inventory()
    for i in range(6):
        inventory.add("item-%d" % (i % 3), index + 1)
    results[index] = inventory.total() + fibonacci(10)


def main():
    results = [0, 0]
    threads = [threading.Thread(target=worker, args=(i, results), name="worker-%d" % i)
               for i in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.01)
    fib = fibonacci(12)
    check = checksum(squares(100))
    for thread in threads:
        thread.join()
    print("demo: fibonacci(12)=%d checksum=%d workers=%s" % (fib, check, results))


if __name__ == "__main__":
    main()
