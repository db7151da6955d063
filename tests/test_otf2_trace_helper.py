"""Tests for the OTF2 test helper ``otf2_trace``.

Traces are written with the writer of the ``otf2`` package from PyPI.  On
Python versions without an ``otf2`` wheel those tests are skipped, and the
committed copy of the sample trace in ``data/sample-trace`` (regenerate it
with ``python3 tests/test_otf2_trace_helper.py``) still exercises the
``otf2-print`` reader.
"""

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import otf2_trace  # noqa: E402
from helpers.otf2_trace import Event, Location, Region, Trace  # noqa: E402

HERE = Path(__file__).resolve().parent
SAMPLE_TRACE = HERE / "data" / "sample-trace"

needs_otf2 = pytest.mark.skipif(not otf2_trace.otf2_available(),
                                reason="the otf2 package from PyPI is not installed")
needs_otf2_print = pytest.mark.skipif(not otf2_trace.otf2_print_available(),
                                      reason="otf2-print (Debian otf2-tools) is not installed")
BOTH_READERS = [pytest.param("otf2", marks=needs_otf2),
                pytest.param("otf2-print", marks=needs_otf2_print)]

MAIN, WORK, FIB, RUN = "__main__:main", "__main__:work", "__main__:fib", "threading:run"
LABEL = 'say "hi" <1>, then\nbye'  # otf2-print prints this without escaping

M, T = 0, 1  # location ids of the master thread and the second thread
EXPECTED_EVENTS = {
    M: [
        Event("program_begin", 100, M, value="demo.py"),
        Event("enter", 110, M, region=MAIN),
        Event("parameter", 111, M, parameter="iterations", value=-3),
        Event("parameter", 112, M, parameter="label", value=LABEL),
        Event("enter", 120, M, region=WORK),
        Event("enter", 121, M, region=FIB),
        Event("enter", 122, M, region=FIB),
        Event("leave", 123, M, region=FIB),
        Event("leave", 124, M, region=FIB),
        Event("leave", 130, M, region=WORK),
        Event("measurement_on_off", 140, M, mode="OFF"),
        Event("measurement_on_off", 150, M, mode="ON"),
        Event("enter", 160, M, region=WORK),
        Event("leave", 170, M, region=WORK),
        Event("leave", 180, M, region=MAIN),
        Event("program_end", 190, M, value=0),
    ],
    T: [
        Event("enter", 125, T, region=RUN),
        Event("enter", 126, T, region=WORK),
        Event("parameter", 127, T, parameter="size", value=2**64 - 1),
        Event("BufferFlush", 128, T),
        Event("leave", 135, T, region=WORK),
        Event("leave", 136, T, region=RUN),
    ],
}


def write_sample_trace(directory):
    """Write the sample trace (two threads of one process) with the otf2
    writer and return the path of its anchor file."""
    import otf2
    from otf2.enums import MeasurementMode, ParameterType

    with otf2.writer.open(str(directory), timer_resolution=1000000) as trace:
        defs = trace.definitions
        machine = defs.system_tree_node("machine")
        node = defs.system_tree_node("node", parent=machine)
        process = defs.location_group("Python process", system_tree_parent=node)
        main = defs.region(MAIN, source_file="demo.py", begin_line_number=3,
                           end_line_number=20)
        work, fib, run = defs.region(WORK), defs.region(FIB), defs.region(RUN)
        iterations = defs.parameter("iterations", parameter_type=ParameterType.INT64)
        label = defs.parameter("label", parameter_type=ParameterType.STRING)
        size = defs.parameter("size", parameter_type=ParameterType.UINT64)

        m = trace.event_writer("Master thread", group=process)
        t = trace.event_writer("Pthread thread 1", group=process)
        m.program_begin(100, "demo.py", ["demo.py", "--fast"])
        m.enter(110, main)
        m.parameter_int(111, iterations, -3)
        m.parameter_string(112, label, LABEL)
        m.enter(120, work)
        m.enter(121, fib)
        m.enter(122, fib)
        m.leave(123, fib)
        m.leave(124, fib)
        t.enter(125, run)
        t.enter(126, work)
        t.parameter_unsigned_int(127, size, 2**64 - 1)
        t.buffer_flush(128, 129)
        m.leave(130, work)
        t.leave(135, work)
        t.leave(136, run)
        m.measurement_on_off(140, MeasurementMode.OFF)
        m.measurement_on_off(150, MeasurementMode.ON)
        m.enter(160, work)
        m.leave(170, work)
        m.leave(180, main)
        m.program_end(190, 0)
    return Path(directory) / "traces.otf2"


def write_events(directory, regions_and_events):
    """Write a one-location trace from ("enter"|"leave", time, region) tuples."""
    import otf2

    with otf2.writer.open(str(directory), timer_resolution=1000) as trace:
        node = trace.definitions.system_tree_node("machine")
        group = trace.definitions.location_group("process", system_tree_parent=node)
        writer = trace.event_writer("Master thread", group=group)
        for kind, time, name in regions_and_events:
            getattr(writer, kind)(time, trace.definitions.region(name))
    return Path(directory) / "traces.otf2"


@pytest.fixture
def sample_trace(tmp_path):
    return write_sample_trace(tmp_path / "trace")


def check_sample(trace):
    assert trace.timer_resolution == 1000000
    assert trace.global_offset == 100
    assert trace.trace_length == 90
    assert trace.seconds(trace.trace_length) == pytest.approx(90e-6)
    assert trace.regions == [MAIN, WORK, FIB, RUN]
    assert trace.region(MAIN) == Region(0, MAIN, MAIN, "demo.py", 3, 20, "FUNCTION", "NONE")
    assert trace.region(FIB).source_file is None
    assert trace.parameters == ["iterations", "label", "size"]
    assert [(loc.id, loc.name, loc.type, loc.group, loc.group_type, loc.number_of_events)
            for loc in trace.locations] == [
        (M, "Master thread", "CPU_THREAD", "Python process", "PROCESS", 16),
        (T, "Pthread thread 1", "CPU_THREAD", "Python process", "PROCESS", 6),
    ]
    assert {loc.id: loc.events for loc in trace.locations} == EXPECTED_EVENTS


@pytest.mark.parametrize("reader", BOTH_READERS)
@needs_otf2
def test_reads_written_trace(sample_trace, reader):
    trace = otf2_trace.read_trace(sample_trace, reader)
    assert trace.reader == reader
    check_sample(trace)


@pytest.mark.parametrize("reader", BOTH_READERS)
def test_reads_committed_sample_trace(reader):
    check_sample(otf2_trace.read_trace(SAMPLE_TRACE, reader))


@needs_otf2
@needs_otf2_print
def test_readers_agree(sample_trace):
    by_otf2, by_print = otf2_trace.cross_check(sample_trace)
    assert (by_otf2.reader, by_print.reader) == ("otf2", "otf2-print")


@pytest.mark.parametrize("reader", BOTH_READERS)
def test_analysis_helpers(reader):
    trace = otf2_trace.read_trace(SAMPLE_TRACE, reader)
    trace.check_balanced()
    assert trace.enter_counts() == Counter({WORK: 3, FIB: 2, MAIN: 1, RUN: 1})
    assert trace.enter_counts("Pthread thread 1") == Counter({RUN: 1, WORK: 1})
    assert trace.enter_counts(M) == Counter({WORK: 2, FIB: 2, MAIN: 1})
    assert trace.call_tree() == Counter({
        (MAIN,): 1,
        (MAIN, WORK): 2,
        (MAIN, WORK, FIB): 1,
        (MAIN, WORK, FIB, FIB): 1,
        (RUN,): 1,
        (RUN, WORK): 1,
    })
    assert trace.call_tree(T) == Counter({(RUN,): 1, (RUN, WORK): 1})
    assert trace.format_call_tree(M).splitlines() == [
        "__main__:main  x1",
        "  __main__:work  x2",
        "    __main__:fib  x1",
        "      __main__:fib  x1",
    ]
    assert trace.durations(WORK) == [10, 10, 9]
    assert trace.durations(FIB, M) == [1, 3]
    assert [e.time for e in trace.events("enter")] == [110, 120, 121, 122, 125, 126, 160]
    assert trace.events("parameter", T) == [EXPECTED_EVENTS[T][2]]
    assert [e.mode for e in trace.events("measurement_on_off")] == ["OFF", "ON"]


def test_location_lookup():
    trace = otf2_trace.parse_otf2_print(PRINTED)
    loc = trace.location("Master thread")
    assert trace.location(0) is loc and trace.location(loc) is loc
    with pytest.raises(KeyError, match="no location 'nope'"):
        trace.location("nope")
    with pytest.raises(KeyError, match="no region"):
        trace.region("nope")


# ---------------------------------------------------------------------------
# check_balanced and call_tree on broken traces

def make_trace(*events):
    """A one-location Trace from ("enter"|"leave", time, region) tuples."""
    loc = Location(0, "Master thread", "CPU_THREAD", "process", "PROCESS")
    loc.events = [Event(kind, time, 0, region=region) for kind, time, region in events]
    return Trace("", "test", 1000, 0, 0, [], [], [loc])


def test_check_balanced_accepts_recursion_and_equal_times():
    make_trace(("enter", 1, "a"), ("enter", 1, "a"), ("leave", 1, "a"),
               ("leave", 2, "a"), ("enter", 2, "b"), ("leave", 3, "b")).check_balanced()


@pytest.mark.parametrize("events, message", [
    ([("enter", 1, "a"), ("enter", 2, "b"), ("leave", 3, "a"), ("leave", 4, "b")],
     r"location 'Master thread' \(id 0\): event #2 leaves region 'a' at time 3 "
     r"but the innermost open region is 'b' \(entered at event #1\)"),
    ([("enter", 1, "a"), ("leave", 2, "a"), ("leave", 3, "a")],
     r"event #2 leaves region 'a' at time 3 but no region is open"),
    ([("enter", 1, "a"), ("enter", 2, "b"), ("leave", 3, "b")],
     r"1 region\(s\) still open at the end of the trace: 'a' \(entered at event #0\)"),
    ([("enter", 5, "a"), ("leave", 4, "a")],
     r"timestamp decreases at event #1 \(leave 'a'\): 4 < 5"),
])
def test_check_balanced_rejects(events, message):
    trace = make_trace(*events)
    with pytest.raises(AssertionError, match=message):
        trace.check_balanced()


def test_call_tree_rejects_bad_nesting_but_counts_open_regions():
    with pytest.raises(AssertionError, match="innermost open region is 'b'"):
        make_trace(("enter", 1, "a"), ("enter", 2, "b"), ("leave", 3, "a")).call_tree()
    assert make_trace(("enter", 1, "a"), ("enter", 2, "b")).call_tree() == \
        Counter({("a",): 1, ("a", "b"): 1})


@pytest.mark.parametrize("reader", BOTH_READERS)
@needs_otf2
def test_check_balanced_rejects_written_trace(tmp_path, reader):
    anchor = write_events(tmp_path / "bad", [
        ("enter", 1, "outer"), ("enter", 2, "inner"), ("leave", 3, "outer")])
    trace = otf2_trace.read_trace(anchor, reader)
    with pytest.raises(AssertionError,
                       match=r"location 'Master thread' \(id 0\): event #2 leaves region "
                             r"'outer' at time 3 but the innermost open region is 'inner'"):
        trace.check_balanced()

    anchor = write_events(tmp_path / "open", [("enter", 1, "outer"), ("enter", 2, "inner"),
                                              ("leave", 3, "inner")])
    with pytest.raises(AssertionError, match="still open.*'outer'"):
        otf2_trace.read_trace(anchor, reader).check_balanced()


# ---------------------------------------------------------------------------
# Reader selection, locating traces, otf2-print

@needs_otf2_print
def test_falls_back_to_otf2_print_without_otf2(monkeypatch):
    def missing():
        raise ImportError("no otf2 here")
    monkeypatch.setattr(otf2_trace, "_import_otf2", missing)
    monkeypatch.delenv("OTF2_TRACE_READER", raising=False)
    assert not otf2_trace.otf2_available()
    trace = otf2_trace.read_trace(SAMPLE_TRACE)
    assert trace.reader == "otf2-print"
    check_sample(trace)


@needs_otf2_print
def test_reader_can_be_forced_by_environment(monkeypatch):
    monkeypatch.setenv("OTF2_TRACE_READER", "otf2-print")
    assert otf2_trace.read_trace(SAMPLE_TRACE).reader == "otf2-print"
    with pytest.raises(ValueError, match="unknown reader"):
        otf2_trace.read_trace(SAMPLE_TRACE, "nope")


def test_find_trace(tmp_path):
    assert otf2_trace.find_trace(SAMPLE_TRACE) == SAMPLE_TRACE / "traces.otf2"
    anchor = SAMPLE_TRACE / "traces.otf2"
    assert otf2_trace.find_trace(anchor) == anchor
    for age, name in enumerate(["scorep-20240101_1200_2", "scorep-20240101_1200_1"]):
        (tmp_path / name).mkdir()
        (tmp_path / name / "traces.otf2").write_text("")
        os.utime(tmp_path / name / "traces.otf2", (1000, 1000))
        os.utime(tmp_path / name, (1000 + age, 1000 + age))
    (tmp_path / "scorep-without-trace").mkdir()
    assert otf2_trace.find_trace(tmp_path) == tmp_path / "scorep-20240101_1200_1" / "traces.otf2"
    with pytest.raises(FileNotFoundError, match="no traces.otf2 in"):
        otf2_trace.find_trace(tmp_path / "scorep-without-trace")
    with pytest.raises(FileNotFoundError, match="no such trace"):
        otf2_trace.read_trace(tmp_path / "missing")


@needs_otf2_print
def test_otf2_print_runs_the_tool(tmp_path):
    stdout, stderr, returncode = otf2_trace.otf2_print(SAMPLE_TRACE)
    assert returncode == 0, stderr
    assert "=== Events ===" in stdout and "Global Definitions" not in stdout
    events = otf2_trace.parse_otf2_print(stdout).events()
    assert len(events) == 22

    stdout, stderr, returncode = otf2_trace.otf2_print(tmp_path / "missing.otf2")
    assert returncode != 0 and stderr


@needs_otf2_print
def test_otf2_print_failure_is_reported(tmp_path):
    broken = tmp_path / "traces.otf2"
    broken.write_bytes(b"not an anchor file")
    with pytest.raises(RuntimeError, match="otf2-print -A .* failed"):
        otf2_trace.read_trace(broken, "otf2-print")


# Output of "otf2-print -A" in the format of otf2-print 3.0: strings are
# printed without escaping, additional attributes go on indented lines, and a
# region's paradigm shows the name of its PARADIGM definition if there is one
# (as in traces written by scorep) or else the enum word.
PRINTED = '''
=== OTF2-PRINT ===

Content of OTF2 anchor file:
Version                        3.2.0
Number of locations            2

=== Global Definitions =========================================================

Definition                            ID  Attributes
--------------------------------------------------------------------------------
CLOCK_PROPERTIES                          Ticks per Seconds: 1000, Global Offset: 7, Length: 13, Date: 2024-01-01 00:00:00.0 +0000
STRING                                 0  ""
STRING                                 1  "we" <3>, (Aka. x
second line"
STRING                                 2  "machine"
SYSTEM_TREE_NODE                       0  Name: "machine" <2>, Class: "" <0>, Parent: UNDEFINED
STRING                                 3  "P"
LOCATION_GROUP                         0  Name: "P" <3>, Type: PROCESS, Parent: "::machine" <0>, Creator: UNDEFINED
STRING                                 4  "Master thread"
LOCATION                               0  Name: "Master thread" <4>, Type: CPU_THREAD, # Events: 5, Group: "P" <0>
LOCATION                              12  Name: "" <0>, Type: GPU, # Events: 0, Group: UNDEFINED
REGION                                 0  Name: "we" <3>, (Aka. x
second line" <1> (Aka. "we" <3>, (Aka. x
second line" <1>), Descr.: "" <0>, Role: FUNCTION, Paradigm: USER, Flags: NONE, File: "machine" <2>, Begin: 4, End: 9
STRING                                 5  "v"
PARAMETER                              0  Name: "v" <5>, Type: STRING
STRING                                 6  "User"
PARADIGM                               1  USER, Name: "User" <6>, Class: PROCESS
STRING                                 7  "mod:f"
REGION                                 1  Name: "mod:f" <7> (Aka. "mod:f" <7>), Descr.: "" <0>, Role: FUNCTION, Paradigm: "User" <1>, Flags: NONE, File: "" <0>, Begin: 3, End: 0
=== Events =====================================================================
Event                                   Location            Timestamp  Attributes
--------------------------------------------------------------------------------
ENTER                                          0                    7  Region: "we" <3>, (Aka. x
second line" <0>
                                                                       ADDITIONAL ATTRIBUTES: ("myattr" <0>; INT64; 5)
PARAMETER_STRING                               0                    8  Parameter: "v" <0>, Value: "machine" <2>
THREAD_FORK                                    0                    9  Model: PTHREAD, # Requested Threads: 2
IO_CHANGE_FLAGS                                0                   10
LEAVE                                          0                   20  Region: "we" <3>, (Aka. x
second line" <0>
'''
WEIRD = 'we" <3>, (Aka. x\nsecond line'


def test_parse_otf2_print_text():
    """Strings containing quotes, '" <N>' and newlines are resolved through
    the definitions; indented attribute lines continue their event."""
    trace = otf2_trace.parse_otf2_print(PRINTED, path="x")
    assert (trace.timer_resolution, trace.global_offset, trace.trace_length) == (1000, 7, 13)
    assert trace.region_definitions == [Region(0, WEIRD, WEIRD, "machine", 4, 9, "FUNCTION", "USER"),
                                        Region(1, "mod:f", "mod:f", "", 3, 0, "FUNCTION", "USER")]
    assert trace.parameters == ["v"]
    assert [(loc.id, loc.name, loc.type, loc.group, loc.group_type, loc.number_of_events)
            for loc in trace.locations] == [(0, "Master thread", "CPU_THREAD", "P", "PROCESS", 5),
                                            (12, "", "GPU", "", "", 0)]
    assert trace.locations[0].events == [
        Event("enter", 7, 0, region=WEIRD),
        Event("parameter", 8, 0, parameter="v", value="machine"),
        Event("ThreadFork", 9, 0),
        Event("IoChangeStatusFlags", 10, 0),
        Event("leave", 20, 0, region=WEIRD),
    ]


def test_parse_plain_otf2_print_events():
    """Events-only output (no -A) still yields events, with region names
    taken from the event lines."""
    text = PRINTED.split("=== Events")[1]
    trace = otf2_trace.parse_otf2_print("=== Events" + text.replace(WEIRD, "plain"))
    assert trace.regions == ["plain"]
    assert trace.timer_resolution == 1
    assert [(e.kind, e.region, e.value) for e in trace.events()] == [
        ("enter", "plain", None), ("parameter", None, "machine"), ("ThreadFork", None, None),
        ("IoChangeStatusFlags", None, None), ("leave", "plain", None)]
    assert trace.location(0).name == ""


if __name__ == "__main__":
    # Regenerate the committed sample trace (needs the otf2 package).
    import shutil
    shutil.rmtree(SAMPLE_TRACE, ignore_errors=True)
    SAMPLE_TRACE.parent.mkdir(parents=True, exist_ok=True)
    print(write_sample_trace(SAMPLE_TRACE))
