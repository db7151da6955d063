"""Regions recorded by the instrumenter: names, exact counts, nesting."""
from __future__ import annotations

import sys

import pytest

from conftest import EVAL_ONLY, HAS_EVAL

PROGRAM = """
import time

class Shape:
    def area(self):
        return 0

    @staticmethod
    def unit():
        return 1

    @classmethod
    def make(cls):
        return cls()

    class Inner:
        def deep(self):
            return 2

class Square(Shape):
    def area(self):
        return super().area() + 4

def outer():
    def inner():
        return 3
    return inner() + inner()

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def countdown(n):
    while n:
        yield n
        n -= 1

def main():
    for _ in range(7):
        Square().area()
    Shape.unit()
    Shape.make()
    Shape.Inner().deep()
    outer()
    fib(5)
    assert list(countdown(4)) == [4, 3, 2, 1]
    square = lambda x: x * x
    square(3)
    time.sleep(0.001)

main()
print("finished")
"""


@pytest.fixture
def trace(runner):
    run = runner.script(PROGRAM)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "finished\n"
    assert run.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    return trace


def test_function_and_method_names_and_counts(trace):
    counts = trace.enter_counts()
    assert counts["__main__:<module>"] == 1
    assert counts["__main__:main"] == 1
    assert counts["__main__.Square:area"] == 7
    assert counts["__main__.Shape:area"] == 7
    assert counts["__main__.Shape:unit"] == 1
    assert counts["__main__.Shape:make"] == 1
    assert counts["__main__:outer"] == 1
    assert counts["__main__:inner"] == 2
    assert counts["__main__:fib"] == 15
    assert counts["__main__:<lambda>"] == 1


@pytest.mark.skipif(sys.version_info < (3, 11), reason="nested class names need co_qualname; see legacy test")
def test_nested_class_method_named_by_qualified_name(trace):
    assert trace.enter_counts()["__main__.Shape.Inner:deep"] == 1


def test_nested_class_method_legacy_lookup(trace):
    # on every version the method is named after its defining classes
    assert trace.enter_counts()["__main__.Shape.Inner:deep"] == 1


def test_generator_resume_and_suspend_are_balanced_pairs(trace):
    # four values and the final StopIteration: five resumes, five suspends
    assert trace.enter_counts()["__main__:countdown"] == 5
    leaves = [e for e in trace.events("leave") if e.region == "__main__:countdown"]
    assert len(leaves) == 5


def test_nesting_of_call_paths(trace):
    tree = trace.call_tree()
    root = ("__main__:<module>", "__main__:main")
    assert tree[root + ("__main__.Square:area", "__main__.Shape:area")] == 7
    assert tree[root + ("__main__:outer", "__main__:inner")] == 2
    assert tree[root + ("__main__:fib", "__main__:fib", "__main__:fib", "__main__:fib", "__main__:fib")] == 2
    assert tree[root + ("time:sleep",)] == 1


def test_c_functions_are_regions(trace):
    counts = trace.enter_counts()
    assert counts["time:sleep"] == 1
    assert counts["builtins:print"] == 1
    sleep = trace.region("time:sleep")
    assert sleep.role == "FUNCTION"


def test_region_definitions_carry_file_and_line(runner, trace):
    fib = trace.region("__main__:fib")
    assert fib.source_file == str(runner.cwd / "prog.py")
    assert fib.begin_line == PROGRAM.splitlines().index("def fib(n):") + 1
    assert fib.role == "FUNCTION"
    assert fib.paradigm == "USER"


def test_sleep_duration_reads_as_real_seconds(trace):
    (ticks,) = trace.durations("time:sleep")
    assert 0.001 <= trace.seconds(ticks) < 0.5


def test_measurement_frames_never_appear(trace):
    for name in trace.regions:
        assert not name.startswith("scorep"), name
        assert "_native" not in name, name
        assert not name.startswith("runpy"), name


def test_c_calls_can_be_switched_off(runner):
    run = runner.script(PROGRAM, options=["--no-c-calls"])
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    counts = trace.enter_counts()
    assert counts["__main__:fib"] == 15
    assert "time:sleep" not in counts
    assert not any(name.startswith("builtins:") for name in counts)


def test_c_calls_switched_off_by_environment(runner):
    run = runner.script(PROGRAM, env={"SCOREP_PYTHON_C_CALLS": "false"})
    assert run.returncode == 0, run.stderr
    counts = run.trace().enter_counts()
    assert counts["__main__:fib"] == 15
    assert "time:sleep" not in counts


@pytest.mark.parametrize("kind", ["trace", "cTrace"])
def test_trace_instrumenter_records_python_calls_only(runner, kind):
    run = runner.script(PROGRAM, options=[f"--instrumenter-type={kind}"])
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    trace.check_balanced()
    counts = trace.enter_counts()
    assert counts["__main__:fib"] == 15
    assert counts["__main__.Square:area"] == 7
    assert counts["__main__:countdown"] == 5
    assert "time:sleep" not in counts


@EVAL_ONLY
def test_eval_instrumenter_records_python_calls_with_exact_nesting(runner):
    run = runner.script(PROGRAM, options=["--instrumenter-type=eval"])
    assert run.returncode == 0, run.stderr
    assert run.stdout == "finished\n"
    trace = run.trace()
    trace.check_balanced()
    counts = trace.enter_counts()
    assert counts["__main__:fib"] == 15
    assert counts["__main__.Square:area"] == 7
    assert counts["__main__.Shape:area"] == 7
    assert counts["__main__.Shape:unit"] == 1
    assert counts["__main__.Shape:make"] == 1
    assert counts["__main__.Shape.Inner:deep"] == 1
    assert counts["__main__:outer.<locals>.inner"] == 2 or counts["__main__:inner"] == 2
    # a generator: its first run and one resumption per value (the call
    # that only makes the generator object is not one)
    assert counts["__main__:countdown"] == 5
    assert counts["__main__:<lambda>"] == 1
    # Python frames only: no C functions, nothing of the measurement
    assert "time:sleep" not in counts
    assert not any(name.startswith("builtins") or "scorep" in name for name in counts)
    tree = trace.call_tree(trace.locations[0])
    main = ("__main__:<module>", "__main__:main")
    assert tree[main + ("__main__.Square:area",)] == 7
    assert tree[main + ("__main__.Square:area", "__main__.Shape:area")] == 7
    assert tree[main + ("__main__:fib", "__main__:fib", "__main__:fib", "__main__:fib")] == 6


@EVAL_ONLY
def test_eval_instrumenter_exceptions_and_switching(runner):
    run = runner.script("""
        import scorep.instrumenter

        def fails():
            raise ValueError("x")

        def catches():
            try:
                fails()
            except ValueError:
                return 1

        def hidden():
            return 2

        catches()
        with scorep.instrumenter.disable():
            hidden()
        hidden()
    """, options=["--instrumenter-type=eval"])
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    trace.check_balanced()
    counts = trace.enter_counts()
    assert counts["__main__:catches"] == 1
    assert counts["__main__:fails"] == 1
    assert counts["__main__:hidden"] == 1
    tree = trace.call_tree(trace.locations[0])
    assert tree[("__main__:<module>", "__main__:catches", "__main__:fails")] == 1


@pytest.mark.skipif(HAS_EVAL, reason="the eval instrumenter exists here")
def test_eval_instrumenter_elsewhere_is_a_usage_error(runner):
    runner.write("prog.py", "print('ran')")
    run = runner.run("--instrumenter-type=eval", "prog.py")
    assert run.returncode == 2
    assert "--instrumenter-type=eval needs Python 3.9, 3.10 or 3.11" in run.stderr.splitlines()[-1]
    assert run.stdout == ""
    assert run.experiments() == []


@pytest.mark.parametrize("kind", ["profile", "cProfile"])
def test_profile_instrumenter_types(runner, kind):
    run = runner.script(PROGRAM, options=[f"--instrumenter-type={kind}"])
    assert run.returncode == 0, run.stderr
    counts = run.trace().enter_counts()
    assert counts["__main__:fib"] == 15
    assert counts["time:sleep"] == 1


def test_dummy_instrumenter_records_nothing_but_makes_the_directory(runner):
    run = runner.script(PROGRAM, options=["--instrumenter-type=dummy"])
    assert run.returncode == 0, run.stderr
    assert run.stdout == "finished\n"
    trace = run.trace()
    assert trace.enter_counts() == {}
    assert (run.experiment / "scorep.cfg").is_file()


@pytest.mark.parametrize("options", [[], pytest.param(["--instrumenter-type=eval"], marks=EVAL_ONLY)],
                         ids=["default", "eval"])
def test_coroutines_resume_and_suspend(runner, options):
    run = runner.script("""
        import asyncio

        async def tick(n):
            for _ in range(n):
                await asyncio.sleep(0)
            return n

        async def main():
            return await asyncio.gather(tick(2), tick(3))

        print(asyncio.run(main()))
    """, options=options)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "[2, 3]\n"
    trace = run.trace()
    trace.check_balanced()
    counts = trace.enter_counts()
    # each coroutine runs once plus once per await that suspended it
    assert counts["__main__:tick"] == (2 + 1) + (3 + 1)
    assert counts["__main__:main"] >= 2


def test_exceptions_unwind_regions(runner):
    run = runner.script("""
        def fail():
            raise KeyError("x")

        def guard():
            try:
                fail()
            except KeyError:
                return "caught"

        for _ in range(3):
            guard()
    """)
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    trace.check_balanced()
    tree = trace.call_tree()
    assert tree[("__main__:<module>", "__main__:guard", "__main__:fail")] == 3


def test_module_functions_of_imported_modules(runner):
    runner.write("helpers/__init__.py", "")
    runner.write("helpers/geometry.py", """
        class Point:
            def norm(self):
                return 1.0

        def distance(a, b):
            return a.norm() + b.norm()
    """)
    run = runner.script("""
        from helpers.geometry import Point, distance
        distance(Point(), Point())
    """)
    assert run.returncode == 0, run.stderr
    counts = run.trace().enter_counts()
    assert counts["helpers.geometry:distance"] == 1
    assert counts["helpers.geometry.Point:norm"] == 2
    region = run.trace().region("helpers.geometry:distance")
    assert region.source_file == str(runner.cwd / "helpers" / "geometry.py")


def test_otf2_print_reads_the_trace_cleanly_and_both_readers_agree(runner):
    run = runner.script(PROGRAM + """
import threading
threads = [threading.Thread(target=fib, args=(4,)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
""")
    assert run.returncode == 0, run.stderr
    from helpers.otf2_trace import cross_check, otf2_available, otf2_print

    out, err, code = otf2_print(run.experiment / "traces.otf2")
    assert code == 0 and err == ""
    assert out.count("ENTER") == out.count("LEAVE") > 0
    if otf2_available():
        cross_check(run.experiment / "traces.otf2")
