"""The user interface without ``python -m scorep``: harmless no-ops under
plain ``python``, and ``scorep.register()`` (the seed interface) starting the
measurement from inside a script."""
from __future__ import annotations

from helpers.otf2_trace import ENTER, PROGRAM_BEGIN

OWN_PREFIXES = ("scorep", "functools", "inspect", "contextlib")


def plain(runner, text, *args, **kwargs):
    """Write prog.py and run it with plain python (SCOREP_ENABLE_TRACING=true
    is in its environment)."""
    runner.write("prog.py", text)
    return runner.run("prog.py", *args, scorep=False, **kwargs)


def experiments(runner):
    return sorted(p.name for p in runner.cwd.iterdir() if p.name.startswith("scorep-"))


def master(trace):
    for loc in trace.locations:
        if any(e.kind == PROGRAM_BEGIN for e in loc.events):
            return loc
    return trace.locations[0]


def assert_no_own_regions(trace):
    # (what a module the program imports does while it is imported is the
    # program's: threading imports functools on 3.9)
    outside_imports = {path[-1] for path in trace.call_tree()
                       if not any(r.endswith(":<module>") and r != "__main__:<module>" for r in path)}
    for name in outside_imports:
        assert not name.startswith(OWN_PREFIXES), f"measurement region {name!r} in the trace"
        assert "_native" not in name, f"measurement region {name!r} in the trace"


def main_thread_enters(trace):
    """Regions entered on the main thread, in order."""
    return [e.region for e in master(trace).events if e.kind == ENTER]


# --------------------------------------------------------------------------
# without a measurement every call is a no-op

EVERYTHING = """
import sys
import scorep
import scorep.user as user
import scorep.instrumenter as instrumenter
import helpers_mod

def f(x):
    return x + 1

with user.region("a"):
    print("cm", f(1))

@user.region("b")
def named():
    return f(2)

@user.region()
def unnamed():
    return f(3)

class C:
    @user.region()
    def meth(self):
        return "m"

print("decorated", named(), unnamed(), C().meth(), named.__name__, unnamed.__name__, C.meth.__name__)
user.region_begin("c")
user.region_end("c")
user.region_end("never_entered")
scorep.user_region_begin("d")
scorep.user_region_end("d")
scorep.user_region_end("never_entered")
user.parameter_int("i", -1)
user.parameter_uint("u", 2**63 + 5)
user.parameter_string("s", "\\u00e9")
scorep.user_parameter_int("i", -1)
scorep.user_parameter_uint("u", 1)
scorep.user_parameter_string("s", "x")
user.disable_recording()
user.enable_recording()
scorep.user_disable_recording()
scorep.user_enable_recording()
user.rewind_begin("r")
user.rewind_end("r", True)
user.rewind_begin("r")
user.rewind_end("r", False)
with instrumenter.disable("x"):
    with instrumenter.enable("y"):
        print("switches", f(4))
with instrumenter.disable():
    with instrumenter.enable():
        pass

@instrumenter.disable("z")
def off():
    return 5

@instrumenter.enable()
def on():
    return 6

print("switched", off(), on(), off.__name__, instrumenter.has_c_instrumenter())
wrapped = user.instrument_function(f)
user.instrument_module(helpers_mod)
print("instrumented", wrapped(10), wrapped.__name__, helpers_mod.m1())
user.force_finalize()
user.force_finalize()
print("end")
sys.stdout.flush()
"""

EVERYTHING_OUTPUT = ("cm 2\n"
                     "decorated 3 4 m named unnamed meth\n"
                     "switches 5\n"
                     "switched 5 6 off True\n"
                     "instrumented 11 f 3\n"
                     "end\n")

HELPERS_MOD = """
def m1():
    return m2() + 1

def m2():
    return 2
"""


def test_user_interface_is_a_no_op_under_plain_python(runner):
    runner.write("helpers_mod.py", HELPERS_MOD)
    run = plain(runner, EVERYTHING)
    assert run.returncode == 0, run.stderr
    assert run.stdout == EVERYTHING_OUTPUT
    assert run.stderr == ""
    assert experiments(runner) == []


def test_user_interface_no_op_output_matches_measured_run(runner):
    runner.write("helpers_mod.py", HELPERS_MOD)
    unmeasured = plain(runner, EVERYTHING)
    measured = runner.run("prog.py")
    assert unmeasured.returncode == 0, unmeasured.stderr
    assert measured.returncode == 0, measured.stderr
    assert measured.stdout == unmeasured.stdout == EVERYTHING_OUTPUT


def test_importing_scorep_alone_does_nothing(runner):
    run = plain(runner, """
        import scorep, scorep.user, scorep.instrumenter
        print("imported")
    """)
    assert (run.returncode, run.stdout, run.stderr) == (0, "imported\n", "")
    assert experiments(runner) == []


# --------------------------------------------------------------------------
# scorep.register()

REGISTER = """
import scorep

def pre():
    pass

def post():
    pass

def nested():
    post()
    return "n"

pre()
pre()
{register}
post()
post()
post()
print("output", nested())
"""


def test_register_records_calls_after_it(runner):
    run = plain(runner, REGISTER.format(register="scorep.register()"))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "output n\n"
    assert run.stderr == ""
    trace = run.trace()      # exactly one, finalized experiment directory
    trace.check_balanced()
    assert_no_own_regions(trace)
    counts = trace.enter_counts()
    assert counts["__main__:post"] == 4
    assert counts["__main__:nested"] == 1
    assert "__main__:pre" not in counts
    assert trace.call_tree()[("__main__:nested", "__main__:post")] == 1
    assert main_thread_enters(trace)[:3] == ["__main__:post"] * 3


def test_register_output_matches_unregistered_script(runner):
    registered = plain(runner, REGISTER.format(register="scorep.register()"))
    unregistered = plain(runner, REGISTER.format(register="pass"))
    assert registered.returncode == unregistered.returncode == 0
    assert registered.stdout == unregistered.stdout
    assert registered.stderr == unregistered.stderr == ""


def test_register_twice_is_harmless(runner):
    run = plain(runner, REGISTER.format(register="scorep.register()\nscorep.register()"))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "output n\n"
    assert run.stderr == ""
    assert len(experiments(runner)) == 1
    trace = run.trace()
    trace.check_balanced()
    assert_no_own_regions(trace)
    counts = trace.enter_counts()
    assert counts["__main__:post"] == 4
    assert "__main__:pre" not in counts


def test_second_register_records_nothing_of_its_own(runner):
    run = plain(runner, REGISTER.format(register="scorep.register()\nscorep.register()"))
    assert run.returncode == 0, run.stderr
    trace = run.trace()
    # the first thing recorded on the main thread is the script's own call
    assert main_thread_enters(trace)[:3] == ["__main__:post"] * 3, main_thread_enters(trace)[:10]
    assert not [name for name in trace.regions if "importlib" in name]


def test_register_under_python_m_scorep_is_harmless(runner):
    run = runner.script(REGISTER.format(register="scorep.register()"))
    assert run.returncode == 0, run.stderr
    assert run.stdout == "output n\n"
    assert run.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    assert_no_own_regions(trace)
    counts = trace.enter_counts()
    assert counts["__main__:pre"] == 2
    assert counts["__main__:post"] == 4
    assert not [name for name in trace.regions if "importlib" in name]


def test_register_with_user_regions_and_parameters(runner):
    run = plain(runner, """
        import scorep
        import scorep.user

        def work():
            pass

        scorep.user.region_begin("before_register")     # no-op: nothing measures yet
        scorep.register()
        with scorep.user.region("after"):
            work()
            scorep.user.parameter_int("p", -3)
        scorep.user.region_end("before_register")       # never entered as far as the measurement knows
    """)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ('SCOREP_BINDING_PYTHON ERROR: There was a region exit without an enter!\n'
                          'SCOREP_BINDING_PYTHON ERROR: For details look for "error_region" in the trace or profile.\n')
    trace = run.trace()
    trace.check_balanced()
    assert trace.call_tree()[("user:after", "__main__:work")] == 1
    assert [(e.parameter, e.value) for e in trace.events("parameter")] == [
        ("p", -3), ("leave-region", "user:before_register")]
    assert "user:before_register" not in trace.enter_counts()


THREADS = """
import threading, time
import scorep

def pre():
    pass

def post():
    pass

def t_pre():
    pass

def t_post():
    pass

def late_work():
    for _ in range(2):
        t_post()

registered = threading.Event()
early_done = threading.Event()
finish = threading.Event()

def early_work():
    t_pre()
    registered.wait()
    for _ in range(3):
        t_post()
    early_done.set()
    finish.wait()       # still alive while the late thread runs

early = threading.Thread(target=early_work)
early.start()
pre()
time.sleep(0.05)
scorep.register()
registered.set()
post()
early_done.wait()
late = threading.Thread(target=late_work)
late.start()
late.join()
finish.set()
early.join()
print("done")
"""


def test_register_records_threads_on_their_own_locations(runner):
    run = plain(runner, THREADS)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    assert run.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    assert_no_own_regions(trace)
    main = master(trace)
    assert trace.enter_counts(main)["__main__:post"] == 1
    early = [loc for loc in trace.locations if loc is not main and trace.enter_counts(loc)["__main__:t_post"] == 3]
    late = [loc for loc in trace.locations if trace.enter_counts(loc)["__main__:late_work"] == 1]
    assert len(early) == 1, [(loc.name, trace.enter_counts(loc)) for loc in trace.locations]
    assert len(late) == 1, [(loc.name, trace.enter_counts(loc)) for loc in trace.locations]
    (early,), (late,) = early, late
    assert early is not late and late is not main
    # the thread that was running already: only its calls after register()
    assert "__main__:t_pre" not in trace.enter_counts(early)
    assert trace.enter_counts(early)["__main__:t_post"] == 3
    assert trace.enter_counts(late)["__main__:t_post"] == 2
    assert sum(n for path, n in trace.call_tree(late).items()
               if path[-2:] == ("__main__:late_work", "__main__:t_post")) == 2
    counts = trace.enter_counts()
    assert "__main__:pre" not in counts
    assert counts["__main__:t_post"] == 5


def test_register_then_sys_exit(runner):
    run = plain(runner, """
        import sys
        import scorep

        def post():
            pass

        scorep.register()
        post()
        print("exiting")
        sys.exit(5)
    """)
    assert run.returncode == 5
    assert run.stdout == "exiting\n"
    assert run.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    assert trace.enter_counts()["__main__:post"] == 1


def test_register_then_uncaught_exception(runner):
    text = """
        import scorep

        def fail():
            raise ValueError("boom")

        {register}
        fail()
    """
    measured = plain(runner, text.format(register="scorep.register()"))
    experiment = measured.experiment
    unmeasured = plain(runner, text.format(register="pass"))
    assert measured.returncode == unmeasured.returncode == 1
    assert measured.stderr.endswith("ValueError: boom\n")
    assert measured.stderr.count("\n") == unmeasured.stderr.count("\n")
    trace = measured.trace(experiment)
    trace.check_balanced()
    assert trace.enter_counts()["__main__:fail"] == 1
