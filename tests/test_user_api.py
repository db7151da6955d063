"""The user interface (``scorep.user``, ``scorep.instrumenter`` and the
seed-era flat functions of ``scorep``) under ``python -m scorep``, checked on
the OTF2 traces it writes."""
from __future__ import annotations

import re

import pytest

from helpers.otf2_trace import ENTER, LEAVE, MEASUREMENT_ON_OFF, PARAMETER, PROGRAM_BEGIN, otf2_print

# Regions of the measurement itself and of the library code its Python
# parts use: none of them may show up in a trace.
OWN_PREFIXES = ("scorep", "functools", "inspect", "contextlib")

# What `story` keeps of a trace: the script's own functions and the regions
# the user interface creates.
STORY_PREFIXES = ("__main__:", "__main__.", "user:", "user_instrumenter:", "error_region", "helpers_mod:")


def assert_no_own_regions(trace):
    # (what a module the program imports does while it is imported is the
    # program's: threading imports functools on 3.9)
    outside_imports = {path[-1] for path in trace.call_tree()
                       if not any(r.endswith(":<module>") and r != "__main__:<module>" for r in path)}
    for name in outside_imports:
        assert not name.startswith(OWN_PREFIXES), f"measurement region {name!r} in the trace"
        assert "_native" not in name, f"measurement region {name!r} in the trace"


def checked(run, stdout=None):
    """The run succeeded quietly; its trace is balanced and free of the
    measurement's own regions."""
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    if stdout is not None:
        assert run.stdout == stdout
    trace = run.trace()
    trace.check_balanced()
    assert_no_own_regions(trace)
    return trace


def master(trace):
    """The location of the main thread (the one with the program begin)."""
    for loc in trace.locations:
        if any(e.kind == PROGRAM_BEGIN for e in loc.events):
            return loc
    return trace.locations[0]


def locations_entering(trace, region):
    return [loc for loc in trace.locations if trace.enter_counts(loc)[region]]


def story(trace, location=None, skip_module=True):
    """The events of one location (default: the main thread) that concern
    the script and the user interface, as short tuples in recording order."""
    loc = trace.location(location) if location is not None else master(trace)
    result = []
    for e in loc.events:
        if e.kind in (ENTER, LEAVE):
            if e.region.startswith(STORY_PREFIXES) and not (skip_module and e.region == "__main__:<module>"):
                result.append((e.kind, e.region))
        elif e.kind == PARAMETER:
            result.append(("parameter", e.parameter, e.value))
        elif e.kind == MEASUREMENT_ON_OFF:
            result.append(("on_off", e.mode))
    return result


def calls(*names):
    """enter/leave pairs of regions called one after the other."""
    out = []
    for name in names:
        out += [(ENTER, name), (LEAVE, name)]
    return out


# --------------------------------------------------------------------------
# scorep.user.region


def test_region_context_manager_nests_python_calls(runner):
    run = runner.script("""
        import scorep.user

        def work():
            pass

        def main():
            with scorep.user.region("outer"):
                work()
                with scorep.user.region("inner"):
                    work()
                    work()
                work()

        main()
    """)
    trace = checked(run)
    counts = trace.enter_counts()
    assert counts["user:outer"] == 1
    assert counts["user:inner"] == 1
    assert counts["__main__:work"] == 4
    tree = trace.call_tree()
    root = ("__main__:<module>", "__main__:main", "user:outer")
    assert tree[root] == 1
    assert tree[root + ("__main__:work",)] == 2
    assert tree[root + ("user:inner",)] == 1
    assert tree[root + ("user:inner", "__main__:work")] == 2
    region = trace.region("user:outer")
    assert region.source_file == str(runner.cwd / "prog.py")
    assert region.begin_line == 8  # the `with` line
    assert region.paradigm == "USER"


def test_region_context_manager_leaves_on_exception(runner):
    run = runner.script("""
        import scorep.user

        def fail():
            raise KeyError("x")

        for _ in range(2):
            try:
                with scorep.user.region("guarded"):
                    fail()
            except KeyError:
                pass
        print("ok")
    """)
    trace = checked(run, "ok\n")
    assert trace.call_tree()[("__main__:<module>", "user:guarded", "__main__:fail")] == 2


def test_region_decorator_with_name(runner):
    run = runner.script("""
        import scorep.user

        def leaf():
            pass

        @scorep.user.region("named")
        def decorated(x):
            leaf()
            return x * 2

        print(decorated(2), decorated(3), decorated(x=4), decorated.__name__)
    """)
    trace = checked(run, "4 6 8 decorated\n")
    tree = trace.call_tree()
    assert trace.enter_counts()["user:named"] == 3
    assert tree[("__main__:<module>", "user:named", "__main__:decorated")] == 3
    assert tree[("__main__:<module>", "user:named", "__main__:decorated", "__main__:leaf")] == 3
    # the function runs inside the region, never the other way round
    assert not any(path[-1] == "user:named" and "__main__:decorated" in path for path in tree)


UNNAMED = """
import scorep.user

def leaf():
    pass

@scorep.user.region()
def func(x):
    leaf()
    return x + 1

class Cls:
    @scorep.user.region()
    def meth(self):
        leaf()
        return "m"

print(func(1), func(2), Cls().meth(), Cls().meth(), func.__name__, Cls.meth.__name__)
"""


def test_unnamed_decorator_with_instrumenter_on_records_once(runner):
    trace = checked(runner.script(UNNAMED), "2 3 m m func meth\n")
    counts = trace.enter_counts()
    assert counts["__main__:func"] == 2
    assert counts["__main__.Cls:meth"] == 2
    assert counts["__main__:leaf"] == 4
    tree = trace.call_tree()
    assert tree[("__main__:<module>", "__main__:func")] == 2
    assert tree[("__main__:<module>", "__main__.Cls:meth")] == 2
    assert tree[("__main__:<module>", "__main__:func", "__main__:leaf")] == 2
    assert tree[("__main__:<module>", "__main__.Cls:meth", "__main__:leaf")] == 2
    assert not [name for name in trace.regions if name.startswith("user:")]


def test_unnamed_decorator_with_instrumenter_off_records_function_name(runner):
    trace = checked(runner.script(UNNAMED, options=["--noinstrumenter"]), "2 3 m m func meth\n")
    # only the decorated functions: nothing else is instrumented
    assert trace.enter_counts() == {"__main__:func": 2, "__main__.Cls:meth": 2}
    assert story(trace) == calls("__main__:func", "__main__:func", "__main__.Cls:meth", "__main__.Cls:meth")
    func = trace.region("__main__:func")
    assert func.source_file == str(runner.cwd / "prog.py")
    assert func.role == "FUNCTION"


def test_unnamed_decorator_names_match_the_instrumenter(runner):
    on = checked(runner.script(UNNAMED))
    for path in runner.cwd.glob("scorep-*"):
        path.rename(runner.cwd / ("old-" + path.name))
    off = checked(runner.script(UNNAMED, options=["--noinstrumenter"]))
    for name in ("__main__:func", "__main__.Cls:meth"):
        a, b = on.region(name), off.region(name)
        assert (a.source_file, a.begin_line, a.role) == (b.source_file, b.begin_line, b.role)


@pytest.mark.parametrize("options", [[], ["--noinstrumenter"]], ids=["instrumenter-on", "instrumenter-off"])
def test_decorated_recursive_function(runner, options):
    run = runner.script("""
        import scorep.user

        @scorep.user.region()
        def rec(n):
            return 0 if n == 0 else 1 + rec(n - 1)

        @scorep.user.region("named_rec")
        def named(n):
            return 0 if n == 0 else 1 + named(n - 1)

        print(rec(3), named(2))
    """, options=options)
    trace = checked(run, "3 2\n")
    counts = trace.enter_counts()
    assert counts["__main__:rec"] == 4
    assert counts["user:named_rec"] == 3
    tree = trace.call_tree()
    if options:  # instrumenter off: a named region does not record the function
        assert trace.enter_counts() == {"__main__:rec": 4, "user:named_rec": 3}
        assert tree[("__main__:rec",) * 4] == 1
        assert tree[("user:named_rec",) * 3] == 1
    else:
        assert counts["__main__:named"] == 3
        assert tree[("__main__:<module>",) + ("__main__:rec",) * 4] == 1
        assert tree[("__main__:<module>",) + ("user:named_rec", "__main__:named") * 3] == 1


@pytest.mark.parametrize("options", [[], ["--noinstrumenter"]], ids=["instrumenter-on", "instrumenter-off"])
def test_decorated_function_called_from_two_threads(runner, options):
    run = runner.script("""
        import threading
        import scorep.user

        both_inside = threading.Barrier(2)

        def leaf():
            pass

        @scorep.user.region()
        def work(n):
            with scorep.user.region("shared"):
                both_inside.wait()      # both threads are inside the regions at once
                for _ in range(n):
                    leaf()

        threads = [threading.Thread(target=work, args=(3,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("joined")
    """, options=options)
    trace = checked(run, "joined\n")
    workers = locations_entering(trace, "__main__:work")
    assert len(workers) == 2
    assert master(trace) not in workers
    for loc in workers:
        counts = trace.enter_counts(loc)
        assert counts["__main__:work"] == 1
        assert counts["user:shared"] == 1
        assert counts["__main__:leaf"] == (0 if options else 3)
        assert [e for e in story(trace, loc) if e[1] in ("__main__:work", "user:shared")] == [
            (ENTER, "__main__:work"), (ENTER, "user:shared"), (LEAVE, "user:shared"), (LEAVE, "__main__:work")]
    assert trace.enter_counts(master(trace))["__main__:work"] == 0


# --------------------------------------------------------------------------
# region_begin / region_end and the seed-era flat functions


def test_region_begin_end(runner):
    run = runner.script("""
        import scorep.user

        def work():
            pass

        def main():
            scorep.user.region_begin("first")
            work()
            scorep.user.region_begin("second")
            work()
            scorep.user.region_end("second")
            scorep.user.region_end("first")

        main()
        main()
    """)
    trace = checked(run)
    tree = trace.call_tree()
    root = ("__main__:<module>", "__main__:main")
    assert tree[root + ("user:first",)] == 2
    assert tree[root + ("user:first", "__main__:work")] == 2
    assert tree[root + ("user:first", "user:second", "__main__:work")] == 2
    region = trace.region("user:first")
    assert region.source_file == str(runner.cwd / "prog.py")
    assert region.begin_line == 8


def test_seed_era_flat_region_functions(runner):
    run = runner.script("""
        import scorep

        def work():
            pass

        scorep.user_region_begin("flat")
        work()
        scorep.user_region_begin("flat_inner")
        work()
        scorep.user_region_end("flat_inner")
        scorep.user_region_end("flat")
    """, options=["--noinstrumenter"])
    trace = checked(run)
    assert story(trace) == [(ENTER, "user:flat"), (ENTER, "user:flat_inner"),
                            (LEAVE, "user:flat_inner"), (LEAVE, "user:flat")]


def test_user_regions_recorded_with_instrumenter_off(runner):
    run = runner.script("""
        import scorep.user

        def work():
            pass

        with scorep.user.region("cm"):
            work()
        scorep.user.region_begin("be")
        work()
        scorep.user.region_end("be")
    """, options=["--noinstrumenter"])
    trace = checked(run)
    assert story(trace) == calls("user:cm", "user:be")
    assert trace.enter_counts() == {"user:cm": 1, "user:be": 1}


# --------------------------------------------------------------------------
# parameters

PARAMETERS = """
import threading
import scorep
import scorep.user

def in_thread():
    with scorep.user.region("thread_params"):
        scorep.user.parameter_int("thread_int", 11)

def main():
    with scorep.user.region("params"):
        scorep.user.parameter_int("neg", -42)
        scorep.user.parameter_int("int_min", -2**63)
        scorep.user.parameter_uint("big", 2**63 + 5)
        scorep.user.parameter_uint("uint_max", 2**64 - 1)
        scorep.user.parameter_string("text", "h\\u00e9llo w\\u00f6rld \\u2713 \\U0001F40D")
        scorep.user_parameter_int("seed_int", -7)
        scorep.user_parameter_uint("seed_uint", 2**63 + 5)
        scorep.user_parameter_string("seed_string", "\\u00fcber")
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()

main()
"""

EXPECTED_PARAMETERS = [
    ("parameter", "neg", -42),
    ("parameter", "int_min", -2**63),
    ("parameter", "big", 2**63 + 5),
    ("parameter", "uint_max", 2**64 - 1),
    ("parameter", "text", "h\u00e9llo w\u00f6rld \u2713 \U0001F40D"),
    ("parameter", "seed_int", -7),
    ("parameter", "seed_uint", 2**63 + 5),
    ("parameter", "seed_string", "\u00fcber"),
]


@pytest.mark.parametrize("options", [[], ["--noinstrumenter"]], ids=["instrumenter-on", "instrumenter-off"])
def test_parameters_exact_values_in_their_region(runner, options):
    trace = checked(runner.script(PARAMETERS, options=options))
    events = story(trace)
    start = events.index((ENTER, "user:params"))
    end = events.index((LEAVE, "user:params"))
    assert events[start + 1:end] == EXPECTED_PARAMETERS
    assert [e for e in events if e[0] == "parameter"] == EXPECTED_PARAMETERS
    (worker,) = locations_entering(trace, "user:thread_params")
    assert worker is not master(trace)
    thread_events = story(trace, worker)
    start = thread_events.index((ENTER, "user:thread_params"))
    assert thread_events[start:start + 3] == [
        (ENTER, "user:thread_params"), ("parameter", "thread_int", 11), (LEAVE, "user:thread_params")]
    assert all(e.location == worker.id for e in trace.events(PARAMETER) if e.parameter == "thread_int")


def test_parameter_definitions_have_otf2_parameter_types(runner):
    run = runner.script(PARAMETERS)
    assert run.returncode == 0, run.stderr
    stdout, stderr, code = otf2_print(run.experiment, "-G")
    assert code == 0 and stderr == ""
    types = dict(re.findall(r'^PARAMETER +\d+ +Name: "([^"]*)" <\d+>, Type: (\S+)', stdout, re.M))
    assert types == {"neg": "INT64", "int_min": "INT64", "big": "UINT64", "uint_max": "UINT64",
                     "text": "STRING", "seed_int": "INT64", "seed_uint": "UINT64",
                     "seed_string": "STRING", "thread_int": "INT64"}, stdout


# --------------------------------------------------------------------------
# recording on / off

RECORDING = """
import scorep
import scorep.user

def before():
    pass

def between():
    pass

def after():
    pass

def spans():
    before()
    {disable}
    between()

spans()
between()
with scorep.user.region("while_off"):
    between()
scorep.user.parameter_int("while_off", 1)
{enable}
after()
"""


@pytest.mark.parametrize("disable,enable", [
    ("scorep.user.disable_recording()", "scorep.user.enable_recording()"),
    ("scorep.user_disable_recording()", "scorep.user_enable_recording()"),
], ids=["user", "seed-era"])
def test_disable_and_enable_recording(runner, disable, enable):
    trace = checked(runner.script(RECORDING.format(disable=disable, enable=enable)))
    assert story(trace) == [
        (ENTER, "__main__:spans"), (ENTER, "__main__:before"), (LEAVE, "__main__:before"),
        ("on_off", "OFF"),
        (LEAVE, "__main__:spans"),          # entered before recording went off
        ("on_off", "ON"),
        (ENTER, "__main__:after"), (LEAVE, "__main__:after"),
    ]
    counts = trace.enter_counts()
    assert "__main__:between" not in counts
    assert "user:while_off" not in counts
    assert [e.mode for e in trace.events(MEASUREMENT_ON_OFF)] == ["OFF", "ON"]
    assert not trace.events(PARAMETER)


# --------------------------------------------------------------------------
# region exit without an enter

ERROR_LINES = ('SCOREP_BINDING_PYTHON ERROR: There was a region exit without an enter!\n'
               'SCOREP_BINDING_PYTHON ERROR: For details look for "error_region" in the trace or profile.\n')


def error_regions(trace, location=None):
    """For each error_region of a location: the parameters recorded inside it."""
    result = []
    current = None
    for kind, *rest in story(trace, location):
        if kind == ENTER and rest[0] == "error_region":
            current = []
        elif kind == LEAVE and rest[0] == "error_region":
            result.append(current)
            current = None
        elif kind == "parameter" and current is not None:
            current.append(tuple(rest))
    return result


def test_region_exit_without_enter(runner):
    run = runner.script("""
        import scorep
        import scorep.user

        def work():
            pass

        scorep.user.region_end("never_entered")
        work()
        scorep.user.region_end("never_entered")
        scorep.user.region_begin("once")
        scorep.user.region_end("once")
        scorep.user.region_end("once")
        scorep.user_region_end("flat_never")
        print("still running")
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "still running\n"
    assert run.stderr == ERROR_LINES
    trace = run.trace()
    trace.check_balanced()
    assert_no_own_regions(trace)
    assert trace.enter_counts()["error_region"] == 4
    assert trace.enter_counts()["__main__:work"] == 1
    assert error_regions(trace) == [
        [("leave-region", "user:never_entered")],
        [("leave-region", "user:never_entered")],
        [("leave-region", "user:once")],
        [("leave-region", "user:flat_never")],
    ]
    assert trace.call_tree()[("__main__:<module>", "error_region")] == 4


def test_region_exit_without_enter_reported_once_per_process_with_threads(runner):
    run = runner.script("""
        import threading
        import scorep.user

        def bad():
            scorep.user.region_end("in_thread")

        scorep.user.region_end("in_main")
        threads = [threading.Thread(target=bad) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # a region begun in one thread cannot be ended in another
        scorep.user.region_begin("main_only")
        t = threading.Thread(target=scorep.user.region_end, args=("main_only",))
        t.start()
        t.join()
        scorep.user.region_end("main_only")
    """, options=["--noinstrumenter"])
    assert run.returncode == 0, run.stderr
    assert run.stderr == ERROR_LINES
    trace = run.trace()
    trace.check_balanced()
    assert error_regions(trace) == [[("leave-region", "user:in_main")]]
    assert story(trace)[-2:] == calls("user:main_only")
    in_threads = sorted(region for loc in trace.locations if loc is not master(trace)
                        for region in error_regions(trace, loc))
    assert in_threads == [[("leave-region", "user:in_thread")], [("leave-region", "user:in_thread")],
                          [("leave-region", "user:main_only")]]


SEQUENTIAL_THREADS = """
import threading, time
import scorep.user

idents = []

def remember():
    idents.append(threading.get_ident())

{body}

for target in targets:
    t = threading.Thread(target=target)
    t.start()
    t.join()
    time.sleep(0.05)     # let the thread end completely: its ident may be reused
print("threads:", len(idents), "distinct idents:", len(set(idents)))
"""


def test_threads_run_one_after_another_get_a_location_each(runner):
    run = runner.script(SEQUENTIAL_THREADS.format(body="""
@scorep.user.region()
def work():
    remember()

targets = [work] * 3
"""), options=["--noinstrumenter"])
    trace = checked(run)
    workers = locations_entering(trace, "__main__:work")
    assert len(workers) == 3, (run.stdout, [(loc.name, trace.enter_counts(loc)) for loc in workers])
    assert all(trace.enter_counts(loc)["__main__:work"] == 1 for loc in workers)


def test_region_left_open_by_a_finished_thread_is_not_ended_by_a_later_thread(runner):
    run = runner.script(SEQUENTIAL_THREADS.format(body="""
def first():
    remember()
    scorep.user.region_begin("left_open")

def second():
    remember()
    scorep.user.region_end("left_open")

targets = [first, second]
"""), options=["--noinstrumenter"])
    assert run.returncode == 0, run.stderr
    # the second thread never entered the region: an exit without an enter
    assert run.stderr == ERROR_LINES, run.stdout
    trace = run.trace()
    trace.check_balanced()
    (opener,) = locations_entering(trace, "user:left_open")
    (closer,) = locations_entering(trace, "error_region")
    assert opener is not closer
    assert error_regions(trace, closer) == [[("leave-region", "user:left_open")]]
    assert story(trace, opener) == calls("user:left_open")


# --------------------------------------------------------------------------
# rewind


def test_rewind_true_drops_the_calls_in_between(runner):
    run = runner.script("""
        import scorep.user

        def dropped():
            pass

        def kept():
            pass

        def main():
            kept()
            scorep.user.rewind_begin("rw")
            dropped()
            with scorep.user.region("dropped_region"):
                dropped()
            scorep.user.parameter_int("dropped_parameter", 1)
            scorep.user.rewind_end("rw", True)
            kept()

        main()
    """)
    trace = checked(run)
    assert story(trace) == [
        (ENTER, "__main__:main"),
        (ENTER, "__main__:kept"), (LEAVE, "__main__:kept"),
        ("on_off", "OFF"), ("on_off", "ON"),
        (ENTER, "__main__:kept"), (LEAVE, "__main__:kept"),
        (LEAVE, "__main__:main"),
    ]
    counts = trace.enter_counts()
    assert "__main__:dropped" not in counts
    assert "user:dropped_region" not in counts
    assert not trace.events(PARAMETER)
    off, on = trace.events(MEASUREMENT_ON_OFF)
    assert (off.mode, on.mode) == ("OFF", "ON") and off.time <= on.time


def test_rewind_false_keeps_the_calls(runner):
    run = runner.script("""
        import scorep.user

        def kept():
            pass

        def main():
            scorep.user.rewind_begin("rw")
            kept()
            with scorep.user.region("kept_region"):
                kept()
            scorep.user.rewind_end("rw", False)

        main()
    """)
    trace = checked(run)
    assert story(trace) == [
        (ENTER, "__main__:main"),
        (ENTER, "__main__:kept"), (LEAVE, "__main__:kept"),
        (ENTER, "user:kept_region"), (ENTER, "__main__:kept"), (LEAVE, "__main__:kept"), (LEAVE, "user:kept_region"),
        (LEAVE, "__main__:main"),
    ]
    assert not trace.events(MEASUREMENT_ON_OFF)


def test_nested_rewinds(runner):
    run = runner.script("""
        import scorep.user

        def a():
            pass

        def b():
            pass

        scorep.user.rewind_begin("outer")
        a()
        scorep.user.rewind_begin("inner")
        b()
        scorep.user.rewind_end("inner", True)
        a()
        scorep.user.rewind_end("outer", False)
    """, options=["--noinstrumenter"])
    trace = checked(run)
    assert trace.enter_counts() == {}
    assert [e.mode for e in trace.events(MEASUREMENT_ON_OFF)] == ["OFF", "ON"]


# --------------------------------------------------------------------------
# scorep.instrumenter


def test_instrumenter_disable_enable_context_managers(runner):
    run = runner.script("""
        import scorep.instrumenter
        import scorep.user

        def f():
            pass

        def main():
            f()
            with scorep.instrumenter.disable("quiet"):
                f()
                with scorep.user.region("visible"):
                    f()
                with scorep.instrumenter.disable("no_change_off"):
                    f()
                with scorep.instrumenter.enable("loud"):
                    f()
                    with scorep.instrumenter.enable("no_change_on"):
                        f()
                f()
            f()
            with scorep.instrumenter.disable():
                f()
            f()

        main()
        print(scorep.instrumenter.has_c_instrumenter())
    """)
    trace = checked(run, "True\n")
    assert story(trace) == [
        (ENTER, "__main__:main"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (ENTER, "user_instrumenter:quiet"),
        (ENTER, "user:visible"), (LEAVE, "user:visible"),
        (ENTER, "user_instrumenter:loud"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (LEAVE, "user_instrumenter:loud"),
        (LEAVE, "user_instrumenter:quiet"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (LEAVE, "__main__:main"),
    ]
    assert "user_instrumenter:no_change_off" not in trace.regions
    assert "user_instrumenter:no_change_on" not in trace.regions


def test_instrumenter_enable_under_noinstrumenter(runner):
    run = runner.script("""
        import scorep.instrumenter

        def f():
            pass

        f()
        with scorep.instrumenter.enable("on"):
            f()
            with scorep.instrumenter.disable("off"):
                f()
            with scorep.instrumenter.disable():
                f()
            f()
        with scorep.instrumenter.enable():
            f()
        f()
    """, options=["--noinstrumenter"])
    trace = checked(run)
    assert story(trace) == [
        (ENTER, "user_instrumenter:on"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (ENTER, "user_instrumenter:off"), (LEAVE, "user_instrumenter:off"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (LEAVE, "user_instrumenter:on"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
    ]


DECORATED_SWITCHES = """
import scorep.instrumenter

def f():
    pass

@scorep.instrumenter.disable("deco_off")
def hidden(n):
    f()
    if n:
        hidden(n - 1)

@scorep.instrumenter.disable()
def hidden_unnamed():
    f()
    return "h"

@scorep.instrumenter.enable("deco_on")
def shown(n):
    f()
    if n:
        shown(n - 1)
    return "s"

hidden(2)
print(hidden_unnamed(), shown(1), hidden.__name__, shown.__name__)
"""


def test_instrumenter_decorators_with_instrumenter_on(runner):
    trace = checked(runner.script(DECORATED_SWITCHES), "h s hidden shown\n")
    assert story(trace) == [
        (ENTER, "user_instrumenter:deco_off"), (LEAVE, "user_instrumenter:deco_off"),
        (ENTER, "__main__:shown"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (ENTER, "__main__:shown"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (LEAVE, "__main__:shown"),
        (LEAVE, "__main__:shown"),
    ]
    assert "user_instrumenter:deco_on" not in trace.regions


def test_instrumenter_decorators_with_instrumenter_off(runner):
    trace = checked(runner.script(DECORATED_SWITCHES, options=["--noinstrumenter"]), "h s hidden shown\n")
    assert story(trace) == [
        (ENTER, "user_instrumenter:deco_on"),
        (ENTER, "__main__:shown"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (ENTER, "__main__:shown"),
        (ENTER, "__main__:f"), (LEAVE, "__main__:f"),
        (LEAVE, "__main__:shown"),
        (LEAVE, "__main__:shown"),
        (LEAVE, "user_instrumenter:deco_on"),
    ]
    assert "user_instrumenter:deco_off" not in trace.regions


def test_has_c_instrumenter(runner):
    run = runner.script("""
        import scorep.instrumenter
        print(scorep.instrumenter.has_c_instrumenter() is True)
    """)
    checked(run, "True\n")


# --------------------------------------------------------------------------
# instrument_function / instrument_module

HELPERS_MOD = """
def m1():
    return m2() + 1

def m2():
    return 2

class K:
    def km(self):
        return 3
"""


def test_instrument_function_and_module_under_noinstrumenter(runner):
    runner.write("helpers_mod.py", HELPERS_MOD)
    run = runner.script("""
        import scorep.user
        import helpers_mod

        def plain(x):
            return x + 1

        def other():
            return 0

        wrapped = scorep.user.instrument_function(plain)
        scorep.user.instrument_module(helpers_mod)
        print(wrapped(1), wrapped(x=2), other(), helpers_mod.m1(), helpers_mod.K().km(),
              wrapped.__name__, helpers_mod.m1.__name__)
    """, options=["--noinstrumenter"])
    trace = checked(run, "2 3 0 3 3 plain m1\n")
    assert trace.enter_counts() == {"__main__:plain": 2, "helpers_mod:m1": 1, "helpers_mod:m2": 1}
    assert story(trace) == [
        (ENTER, "__main__:plain"), (LEAVE, "__main__:plain"),
        (ENTER, "__main__:plain"), (LEAVE, "__main__:plain"),
        (ENTER, "helpers_mod:m1"), (ENTER, "helpers_mod:m2"), (LEAVE, "helpers_mod:m2"), (LEAVE, "helpers_mod:m1"),
    ]
    assert trace.region("helpers_mod:m1").source_file == str(runner.cwd / "helpers_mod.py")


def test_instrument_function_with_instrumenter_on_records_once(runner):
    runner.write("helpers_mod.py", HELPERS_MOD)
    run = runner.script("""
        import scorep.user
        import helpers_mod

        def plain():
            return 1

        wrapped = scorep.user.instrument_function(plain)
        scorep.user.instrument_module(helpers_mod)
        wrapped()
        helpers_mod.m1()
    """)
    trace = checked(run)
    counts = trace.enter_counts()
    assert counts["__main__:plain"] == 1
    assert counts["helpers_mod:m1"] == 1
    assert counts["helpers_mod:m2"] == 1
    assert trace.call_tree()[("__main__:<module>", "helpers_mod:m1", "helpers_mod:m2")] == 1


# --------------------------------------------------------------------------
# force_finalize

FORCE_FINALIZE = """
import os, sys
import scorep.user

def copy_tree(source, target):
    # not shutil: its imports would call functools and blur the check for measurement regions
    for directory, _, files in os.walk(source):
        os.makedirs(os.path.join(target, os.path.relpath(directory, source)), exist_ok=True)
        for name in files:
            with open(os.path.join(directory, name), "rb") as src:
                data = src.read()
            with open(os.path.join(target, os.path.relpath(directory, source), name), "wb") as dst:
                dst.write(data)

def before():
    pass

def after():
    pass

def main():
    before()
    with scorep.user.region("open_at_finalize"):
        before()
        scorep.user.force_finalize()
        experiments = sorted(d for d in os.listdir(".") if d.startswith("scorep-"))
        print("experiments", len(experiments), experiments[0] != "scorep-measurement-tmp")
        copy_tree(experiments[0], "snapshot")
        after()
    after()

main()
after()
scorep.user.region_begin("late")
scorep.user.region_end("late")
scorep.user.region_end("never_entered")
scorep.user.parameter_int("late", 1)
scorep.user.disable_recording()
scorep.user.enable_recording()
scorep.user.rewind_begin("late")
scorep.user.rewind_end("late", True)
with scorep.user.region("late_cm"):
    after()
scorep.user.force_finalize()
print("done")
sys.stderr.write("program's own stderr\\n")
sys.exit(3)
"""


def test_force_finalize_completes_the_experiment(runner):
    from helpers.otf2_trace import read_trace

    run = runner.script(FORCE_FINALIZE)
    assert run.returncode == 3
    assert run.stdout == "experiments 1 True\ndone\n"
    assert run.stderr == "program's own stderr\n"
    # the experiment as it was right after force_finalize()
    snapshot = read_trace(runner.cwd / "snapshot" / "traces.otf2")
    snapshot.check_balanced()
    assert_no_own_regions(snapshot)
    assert story(snapshot) == [
        (ENTER, "__main__:main"),
        (ENTER, "__main__:before"), (LEAVE, "__main__:before"),
        (ENTER, "user:open_at_finalize"),
        (ENTER, "__main__:before"), (LEAVE, "__main__:before"),
        (LEAVE, "user:open_at_finalize"),
        (LEAVE, "__main__:main"),
    ]
    assert not snapshot.events(PARAMETER) and not snapshot.events(MEASUREMENT_ON_OFF)
    # nothing was added after it
    final = run.trace()
    assert [loc.events for loc in final.locations] == [loc.events for loc in snapshot.locations]
    assert final.regions == snapshot.regions


def test_force_finalize_output_matches_plain_python(runner):
    script = """
        import sys
        import scorep.user

        def f(x):
            return x * 2

        print(f(1))
        scorep.user.force_finalize()
        print(f(2))
        sys.stderr.write("err\\n")
        raise SystemExit(4)
    """
    measured = runner.script(script)
    unmeasured = runner.run("prog.py", scorep=False)
    assert measured.returncode == unmeasured.returncode == 4
    assert measured.stdout == unmeasured.stdout == "2\n4\n"
    assert measured.stderr == unmeasured.stderr == "err\n"
    trace = measured.trace()
    trace.check_balanced()
    assert trace.enter_counts()["__main__:f"] == 1


def test_force_finalize_while_another_thread_is_inside_a_region(runner):
    run = runner.script("""
        import threading
        import scorep.user

        inside = threading.Event()
        release = threading.Event()

        def leaf():
            pass

        def worker():
            with scorep.user.region("worker_region"):
                leaf()
                inside.set()
                release.wait()
                leaf()
            for _ in range(3):
                leaf()

        t = threading.Thread(target=worker)
        t.start()
        inside.wait()
        scorep.user.force_finalize()
        release.set()
        t.join()
        leaf()
        print("done")
    """)
    trace = checked(run, "done\n")
    (worker,) = locations_entering(trace, "user:worker_region")
    assert trace.enter_counts(worker)["__main__:leaf"] == 1
    assert trace.enter_counts(master(trace))["__main__:leaf"] == 0


# --------------------------------------------------------------------------
# the measurement's own functions never show up


def test_whole_user_interface_leaves_no_measurement_regions(runner):
    runner.write("helpers_mod.py", HELPERS_MOD)
    run = runner.script("""
        import scorep
        import scorep.user as user
        import scorep.instrumenter as instrumenter
        import helpers_mod

        def f():
            pass

        user.instrument_module(helpers_mod)
        user.instrument_function(f)()

        @user.region()
        def d():
            f()

        @user.region("named")
        def d2():
            f()

        class C:
            @user.region()
            def m(self):
                f()

        d(); d2(); C().m()
        with user.region("cm"):
            f()
        user.region_begin("be"); user.region_end("be")
        scorep.user_region_begin("flat"); scorep.user_region_end("flat")
        user.parameter_int("i", 1); user.parameter_uint("u", 2); user.parameter_string("s", "x")
        scorep.user_parameter_int("i", 1); scorep.user_parameter_uint("u", 2); scorep.user_parameter_string("s", "x")
        user.disable_recording(); user.enable_recording()
        scorep.user_disable_recording(); scorep.user_enable_recording()
        user.rewind_begin("r"); f(); user.rewind_end("r", True)
        user.rewind_begin("r"); f(); user.rewind_end("r", False)
        with instrumenter.disable("q"):
            with instrumenter.enable("p"):
                f()

        @instrumenter.disable()
        def e():
            f()

        @instrumenter.enable("x")
        def e2():
            f()

        e(); e2()
        helpers_mod.m1()
        print(instrumenter.has_c_instrumenter())
        user.force_finalize()
    """)
    trace = checked(run, "True\n")
    assert trace.enter_counts()["__main__:f"] == 8
