"""Read an OTF2 trace into a small, test-friendly Python model.

Two independent readers produce the same model:

* ``"otf2"``: the ``otf2`` package from PyPI (ctypes bindings that ship their
  own copy of the OTF2 library).  It is imported lazily, so this module also
  works on Python versions for which no ``otf2`` wheel exists.
* ``"otf2-print"``: runs the ``otf2-print`` command line tool (Debian package
  ``otf2-tools``) and parses its text output.

``read_trace(path)`` picks ``"otf2"`` when it can be imported and falls back to
``"otf2-print"`` otherwise; the environment variable ``OTF2_TRACE_READER``
(``otf2`` / ``otf2-print``) forces one of them.  ``cross_check(path)`` reads
with both and asserts that they agree.

Typical use in a test::

    trace = read_trace(find_trace(tmp_path))
    trace.check_balanced()
    assert trace.enter_counts()["__main__:foo"] == 3
    assert trace.call_tree()[("__main__:main", "__main__:foo")] == 3

Events are plain tuples (:class:`Event`) so that whole event lists can be
compared with ``==``.  Times are raw timer ticks; ``Trace.seconds`` converts.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import (Counter, Dict, Iterator, List, NamedTuple, Optional,
                    Tuple, Union)

__all__ = [
    "ENTER", "LEAVE", "PARAMETER", "MEASUREMENT_ON_OFF", "PROGRAM_BEGIN",
    "PROGRAM_END", "Event", "Region", "Location", "Trace", "read_trace",
    "find_trace", "cross_check", "otf2_available", "otf2_print_available",
    "otf2_print", "parse_otf2_print",
]

# Event kinds with a dedicated short name.  All other events keep the name of
# their OTF2 record class, e.g. "ThreadFork", "Metric", "BufferFlush".
ENTER = "enter"
LEAVE = "leave"
PARAMETER = "parameter"
MEASUREMENT_ON_OFF = "measurement_on_off"
PROGRAM_BEGIN = "program_begin"
PROGRAM_END = "program_end"

READERS = ("otf2", "otf2-print")

LocationKey = Union[int, str, "Location"]


class Event(NamedTuple):
    """One trace record.  Fields that do not apply to a kind stay ``None``.

    * ``enter`` / ``leave``: ``region`` is the region name.
    * ``parameter``: ``parameter`` is the parameter name, ``value`` an ``int``
      (INT64/UINT64 parameters) or a ``str`` (string parameters).
    * ``measurement_on_off``: ``mode`` is ``"ON"`` or ``"OFF"``.
    * ``program_begin``: ``value`` is the program name.
    * ``program_end``: ``value`` is the exit status (``None`` if undefined).
    """
    kind: str
    time: int
    location: int
    region: Optional[str] = None
    parameter: Optional[str] = None
    value: Union[int, str, None] = None
    mode: Optional[str] = None


class Region(NamedTuple):
    """A region definition."""
    id: int
    name: str
    canonical_name: Optional[str]
    source_file: Optional[str]
    begin_line: int
    end_line: int
    role: str        # e.g. "FUNCTION"
    paradigm: str    # e.g. "NONE", "USER", "PYTHON"


@dataclass
class Location:
    """A location (thread) with its events in recording order."""
    id: int
    name: str
    type: str                 # e.g. "CPU_THREAD"
    group: str                # name of the location group (process)
    group_type: str = ""      # e.g. "PROCESS"
    number_of_events: Optional[int] = None  # as declared in the definition
    events: List[Event] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        return "location {!r} (id {})".format(self.name, self.id)


@dataclass
class Trace:
    """The model of one OTF2 archive."""
    path: str
    reader: str
    timer_resolution: int
    global_offset: int
    trace_length: int
    region_definitions: List[Region]
    parameters: List[str]
    locations: List[Location]

    @property
    def regions(self) -> List[str]:
        """Names of all defined regions, in definition order."""
        return [r.name for r in self.region_definitions]

    def seconds(self, ticks: int) -> float:
        """Convert a number of timer ticks (a duration) to seconds."""
        return ticks / self.timer_resolution

    def region(self, name: str) -> Region:
        """The definition of the region called ``name``."""
        for region in self.region_definitions:
            if region.name == name:
                return region
        raise KeyError("no region {!r}; regions: {}".format(name, self.regions))

    def location(self, key: LocationKey) -> Location:
        """A location by id (int), by name (str), or the Location itself."""
        if isinstance(key, Location):
            return key
        if isinstance(key, int):
            for loc in self.locations:
                if loc.id == key:
                    return loc
        else:
            matches = [loc for loc in self.locations if loc.name == key]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise KeyError("location name {!r} is ambiguous: ids {}".format(
                    key, [loc.id for loc in matches]))
        raise KeyError("no location {!r}; locations: {}".format(
            key, [(loc.id, loc.name) for loc in self.locations]))

    def _selected(self, location: Optional[LocationKey]) -> List[Location]:
        return list(self.locations) if location is None else [self.location(location)]

    def events(self, kind: Optional[str] = None,
               location: Optional[LocationKey] = None) -> List[Event]:
        """Events of all (or one) location(s), optionally of one kind only,
        ordered by time (stable, so each location keeps its own order)."""
        result = [event for loc in self._selected(location) for event in loc.events
                  if kind is None or event.kind == kind]
        result.sort(key=lambda event: event.time)
        return result

    def enter_counts(self, location: Optional[LocationKey] = None) -> Counter[str]:
        """How often each region was entered (all locations, or one)."""
        return collections.Counter(
            event.region for loc in self._selected(location)
            for event in loc.events if event.kind == ENTER)

    def check_balanced(self, location: Optional[LocationKey] = None) -> None:
        """Assert that on every (or the given) location the enter/leave
        events nest properly, no region is left open at the end and the
        timestamps never decrease.  Raises AssertionError naming the
        location, the event index (within ``location.events``) and region."""
        for loc in self._selected(location):
            still_open: List[int] = []
            for _, _, still_open in _walk(loc):
                pass
            if still_open:
                open_regions = ", ".join(
                    "{!r} (entered at event #{})".format(loc.events[i].region, i)
                    for i in still_open)
                raise AssertionError(
                    "{}: {} region(s) still open at the end of the trace: {}".format(
                        loc, len(still_open), open_regions))

    def call_tree(self, location: Optional[LocationKey] = None) -> Counter[Tuple[str, ...]]:
        """Count call paths: for each enter event the tuple of region names
        from the outermost open region down to the entered one, e.g.
        ``("__main__:main", "__main__:foo")``.  Counts of all locations are
        summed unless ``location`` is given.  Raises AssertionError on an
        improperly nested trace (see ``check_balanced``)."""
        paths: Counter[Tuple[str, ...]] = collections.Counter()
        for loc in self._selected(location):
            for _, event, still_open in _walk(loc):
                if event.kind == ENTER:
                    paths[tuple(loc.events[i].region for i in still_open)] += 1
        return paths

    def format_call_tree(self, location: Optional[LocationKey] = None) -> str:
        """The call tree as indented text with counts, handy in assertion
        messages and for debugging."""
        lines = []
        paths = self.call_tree(location)
        for path, count in sorted(paths.items(), key=lambda item: [str(r) for r in item[0]]):
            lines.append("{}{}  x{}".format("  " * (len(path) - 1), path[-1], count))
        return "\n".join(lines)

    def durations(self, region: str,
                  location: Optional[LocationKey] = None) -> List[int]:
        """Inclusive durations in ticks of every completed call of
        ``region`` (enter to its matching leave), in order of the leave."""
        result = []
        for loc in self._selected(location):
            open_times: List[int] = []
            for event in loc.events:
                if event.kind == ENTER:
                    open_times.append(event.time)
                elif event.kind == LEAVE and open_times:
                    start = open_times.pop()
                    if event.region == region:
                        result.append(event.time - start)
        return result

    def __str__(self) -> str:
        return "Trace({!r}, reader={}, {} locations, {} events, {} regions)".format(
            self.path, self.reader, len(self.locations),
            sum(len(loc.events) for loc in self.locations), len(self.region_definitions))


def _walk(loc: Location) -> Iterator[Tuple[int, Event, List[int]]]:
    """Yield ``(index, event, still_open)`` for each event of ``loc``, where
    ``still_open`` lists the indices of the enter events still open after
    it, outermost first (the same list object each time: copy it to keep
    it).  Raises AssertionError on a decreasing timestamp or a leave that
    does not match the innermost open enter."""
    still_open: List[int] = []
    previous_time = None
    for index, event in enumerate(loc.events):
        if previous_time is not None and event.time < previous_time:
            raise AssertionError(
                "{}: timestamp decreases at event #{} ({} {!r}): {} < {} of the "
                "previous event".format(loc, index, event.kind, event.region,
                                        event.time, previous_time))
        previous_time = event.time
        if event.kind == ENTER:
            still_open.append(index)
        elif event.kind == LEAVE:
            if not still_open:
                raise AssertionError(
                    "{}: event #{} leaves region {!r} at time {} but no region "
                    "is open".format(loc, index, event.region, event.time))
            innermost = loc.events[still_open[-1]].region
            if event.region != innermost:
                raise AssertionError(
                    "{}: event #{} leaves region {!r} at time {} but the innermost "
                    "open region is {!r} (entered at event #{}); open: {}".format(
                        loc, index, event.region, event.time, innermost,
                        still_open[-1], [loc.events[i].region for i in still_open]))
            still_open.pop()
        yield index, event, still_open


# --------------------------------------------------------------------------
# Locating traces and choosing a reader

def find_trace(path: Union[str, os.PathLike]) -> Path:
    """The anchor file ``traces.otf2`` for ``path``, which may be the anchor
    file itself, an experiment directory containing it, or a directory
    containing ``scorep-*`` experiment directories (the newest one wins)."""
    path = Path(path)
    if path.is_file():
        return path
    if (path / "traces.otf2").is_file():
        return path / "traces.otf2"
    if path.is_dir():
        experiments = [p for p in path.glob("scorep-*") if (p / "traces.otf2").is_file()]
        if experiments:
            newest = max(experiments, key=lambda p: (p.stat().st_mtime, p.name))
            return newest / "traces.otf2"
        listing = sorted(p.name for p in path.iterdir())
        raise FileNotFoundError("no traces.otf2 in {} or its scorep-* directories; "
                                "it contains: {}".format(path, listing))
    raise FileNotFoundError("no such trace: {}".format(path))


def _import_otf2():
    import otf2  # noqa: deliberately lazy, the wheel is missing on some Pythons
    return otf2


def otf2_available() -> bool:
    """Whether the ``otf2`` package from PyPI can be imported."""
    try:
        _import_otf2()
    except (ImportError, OSError):  # OSError: its bundled library fails to load
        return False
    return True


def _otf2_print_command() -> Optional[str]:
    return os.environ.get("OTF2_PRINT") or shutil.which("otf2-print")


def otf2_print_available() -> bool:
    """Whether the ``otf2-print`` tool is installed."""
    return _otf2_print_command() is not None


def read_trace(path: Union[str, os.PathLike], reader: Optional[str] = None) -> Trace:
    """Read a trace (see ``find_trace`` for what ``path`` may be).

    ``reader`` is ``"otf2"``, ``"otf2-print"`` or ``None``/``"auto"``: then
    ``$OTF2_TRACE_READER`` if set, else ``"otf2"`` if importable, else
    ``"otf2-print"``."""
    anchor = find_trace(path)
    if reader in (None, "auto"):
        reader = os.environ.get("OTF2_TRACE_READER") or (
            "otf2" if otf2_available() else "otf2-print")
    if reader == "otf2":
        return _read_with_otf2(anchor)
    if reader == "otf2-print":
        stdout, stderr, returncode = otf2_print(anchor, "-A")
        if returncode != 0:
            raise RuntimeError("otf2-print -A {} failed with exit code {}:\n{}".format(
                anchor, returncode, stderr))
        return parse_otf2_print(stdout, path=str(anchor))
    raise ValueError("unknown reader {!r}; choose one of {}".format(reader, READERS))


def cross_check(path: Union[str, os.PathLike]) -> Tuple[Trace, Trace]:
    """Read the trace with both readers, assert that they agree on clock
    properties, regions, parameters, locations and every event, and return
    both traces (``otf2`` first)."""
    a = read_trace(path, "otf2")
    b = read_trace(path, "otf2-print")
    for attr in ("timer_resolution", "global_offset", "trace_length",
                 "region_definitions", "parameters"):
        assert getattr(a, attr) == getattr(b, attr), "{} differs: otf2 {!r} != otf2-print {!r}".format(
            attr, getattr(a, attr), getattr(b, attr))
    summary = [(loc.id, loc.name, loc.type, loc.group, loc.group_type, loc.number_of_events)
               for loc in a.locations]
    summary_b = [(loc.id, loc.name, loc.type, loc.group, loc.group_type, loc.number_of_events)
                 for loc in b.locations]
    assert summary == summary_b, "locations differ: otf2 {} != otf2-print {}".format(
        summary, summary_b)
    for loc_a, loc_b in zip(a.locations, b.locations):
        for index, (ev_a, ev_b) in enumerate(zip(loc_a.events, loc_b.events)):
            assert ev_a == ev_b, "{}: event #{} differs: otf2 {} != otf2-print {}".format(
                loc_a, index, ev_a, ev_b)
        assert len(loc_a.events) == len(loc_b.events), \
            "{}: otf2 read {} events, otf2-print {}".format(
                loc_a, len(loc_a.events), len(loc_b.events))
    return a, b


# --------------------------------------------------------------------------
# Reader 1: the otf2 package from PyPI

def _enum_name(value) -> str:
    # The otf2 enums print as "LocationType.CPU_THREAD"; keep the last part,
    # which is also what otf2-print shows.
    return "" if value is None else str(value).rpartition(".")[2]


def _name(definition) -> Optional[str]:
    return None if definition is None else definition.name


def _convert_event(event, location_id: int) -> Event:
    kind = type(event).__name__
    time = event.time
    if kind == "Enter":
        return Event(ENTER, time, location_id, region=_name(event.region))
    if kind == "Leave":
        return Event(LEAVE, time, location_id, region=_name(event.region))
    if kind == "ParameterString":
        return Event(PARAMETER, time, location_id, parameter=_name(event.parameter),
                     value=event.string)
    if kind in ("ParameterInt", "ParameterUnsignedInt"):
        return Event(PARAMETER, time, location_id, parameter=_name(event.parameter),
                     value=event.value)
    if kind == "MeasurementOnOff":
        return Event(MEASUREMENT_ON_OFF, time, location_id,
                     mode=_enum_name(event.measurement_mode))
    if kind == "ProgramBegin":
        return Event(PROGRAM_BEGIN, time, location_id, value=event.program_name)
    if kind == "ProgramEnd":
        # OTF2_UNDEFINED_INT64 (the status was not known) reads as None
        status = None if event.exit_status == -2**63 else event.exit_status
        return Event(PROGRAM_END, time, location_id, value=status)
    return Event(kind, time, location_id)


def _read_with_otf2(anchor: Path) -> Trace:
    otf2 = _import_otf2()
    with otf2.reader.open(str(anchor), batch_events=10000) as reader:
        defs = reader.definitions
        clock = defs.clock_properties
        regions = [Region(r._ref, r.name, r.canonical_name, r.source_file,
                          r.begin_line_number, r.end_line_number,
                          _enum_name(r.region_role), _enum_name(r.paradigm))
                   for r in sorted(defs.regions, key=lambda r: r._ref)]
        locations = {}
        for loc in defs.locations:
            group = loc.group
            locations[loc._ref] = Location(
                id=loc._ref, name=loc.name, type=_enum_name(loc.type),
                group=_name(group) or "",
                group_type=_enum_name(group.location_group_type) if group else "",
                number_of_events=loc.number_of_events)
        # The global event reader merges all locations by time; each
        # location's own order is preserved.  It can be iterated only once.
        for loc, event in reader.events:
            locations[loc._ref].events.append(_convert_event(event, loc._ref))
        return Trace(
            path=str(anchor), reader="otf2",
            timer_resolution=clock.timer_resolution,
            global_offset=clock.global_offset, trace_length=clock.trace_length,
            region_definitions=regions,
            parameters=[p.name for p in sorted(defs.parameters, key=lambda p: p._ref)],
            locations=sorted(locations.values(), key=lambda loc: loc.id))


# --------------------------------------------------------------------------
# Reader 2: otf2-print

def otf2_print(path: Union[str, os.PathLike], *args: str,
               timeout: float = 600) -> Tuple[str, str, int]:
    """Run ``otf2-print [args...] <anchor>`` and return (stdout, stderr,
    returncode).  ``path`` is resolved with ``find_trace`` when it exists;
    ``$OTF2_PRINT`` may name the tool."""
    command = _otf2_print_command()
    if command is None:
        raise FileNotFoundError("otf2-print not found (Debian package otf2-tools)")
    try:
        path = find_trace(path)
    except FileNotFoundError:
        pass  # let otf2-print report it
    proc = subprocess.run([command, *args, str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    return (proc.stdout.decode("utf-8", errors="replace"),
            proc.stderr.decode("utf-8", errors="replace"), proc.returncode)


# Record names of otf2-print whose OTF2 class name is not simply CamelCase.
_KIND_BY_PRINT_NAME = {
    "ENTER": ENTER,
    "LEAVE": LEAVE,
    "PARAMETER_STRING": PARAMETER,
    "PARAMETER_INT64": PARAMETER,
    "PARAMETER_UINT64": PARAMETER,
    "MEASUREMENT_ON_OFF": MEASUREMENT_ON_OFF,
    "PROGRAM_BEGIN": PROGRAM_BEGIN,
    "PROGRAM_END": PROGRAM_END,
    "IO_CHANGE_FLAGS": "IoChangeStatusFlags",
}

_SECTION = re.compile(r"^=== (.*?) =*$")
_DEFINITION = re.compile(r"^(?P<kind>[A-Z][A-Z0-9_]*) +(?:(?P<id>\d+)  )?(?P<rest>.*)$")
_EVENT = re.compile(r"^(?P<kind>[A-Z][A-Z0-9_]*) +(?P<location>\d+) +(?P<time>\d+)(?:  (?P<rest>.*))?$")
_REF_END = re.compile(r'" <(\d+)>')


class _Cursor:
    """Sequential scanner over one otf2-print record."""

    def __init__(self, text: str, record: str):
        self.text = text
        self.pos = 0
        self.record = record

    def error(self, what: str) -> ValueError:
        return ValueError("cannot parse otf2-print record (expected {} at offset {}): {!r}".format(
            what, self.pos, self.record))

    def skip_to(self, label: str) -> None:
        """Move past the next occurrence of ``label``."""
        index = self.text.find(label, self.pos)
        if index < 0:
            raise self.error(repr(label))
        self.pos = index + len(label)

    def match(self, pattern: str) -> "re.Match[str]":
        found = re.compile(pattern).match(self.text, self.pos)
        if not found:
            raise self.error(pattern)
        self.pos = found.end()
        return found

    def reference(self, names: Optional[Dict[int, str]]) -> Tuple[Optional[str], Optional[int]]:
        """Read ``"text" <ref>`` or ``UNDEFINED``.  otf2-print does not escape
        quotes or newlines, so among the candidate ends ``" <N>`` the first
        whose N maps to exactly the text read is taken (without ``names``
        simply the first)."""
        if self.text.startswith("UNDEFINED", self.pos):
            self.pos += len("UNDEFINED")
            return None, None
        if not self.text.startswith('"', self.pos):
            raise self.error('a quoted string')
        start = self.pos + 1
        first = None
        for end in _REF_END.finditer(self.text, start):
            text, ref = self.text[start:end.start()], int(end.group(1))
            if names is None or names.get(ref) == text:
                self.pos = end.end()
                return text, ref
            if first is None:
                first = (text, ref, end.end())
        if first is not None and names is not None:
            # Unknown ref (e.g. output without definitions): best effort.
            text, ref, self.pos = first
            return text, ref
        raise self.error('a string reference "..." <N>')


def _records(lines: List[str], start: "re.Pattern[str]") -> Iterator[Tuple["re.Match[str]", str]]:
    """Group lines into records: a record starts at a line matching
    ``start``; any other line continues the previous record (otf2-print
    prints strings with embedded newlines verbatim and puts additional
    attributes on indented lines)."""
    first: Optional["re.Match[str]"] = None
    current: List[str] = []
    for line in lines:
        found = start.match(line)
        if found:
            if first is not None:
                yield first, "\n".join(current)
            first, current = found, [line]
        elif first is not None:
            current.append(line)
    if first is not None:
        yield first, "\n".join(current)


def _sections(text: str) -> Dict[str, List[str]]:
    sections: Dict[str, List[str]] = {}
    name = None
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            name = header.group(1)
            sections.setdefault(name, [])
        elif name is not None:
            sections[name].append(line)
    if not sections:  # output without any header: treat it as events
        sections["Events"] = text.splitlines()
    return sections


def _table_body(lines: List[str]) -> List[str]:
    """Lines of a table after its dashed separator line."""
    for index, line in enumerate(lines):
        if line.startswith("-----"):
            return lines[index + 1:]
    return [line for line in lines if line.strip()]


def _kind_from_print_name(name: str) -> str:
    if name in _KIND_BY_PRINT_NAME:
        return _KIND_BY_PRINT_NAME[name]
    return "".join(part.capitalize() for part in name.split("_"))


def parse_otf2_print(text: str, path: str = "") -> Trace:
    """Build a Trace from the output of ``otf2-print -A`` (global definitions
    and events).  Plain ``otf2-print`` output (events only) works too: then
    locations carry only their id, and regions only names seen in events."""
    sections = _sections(text)
    strings: Dict[int, str] = {}
    groups: Dict[int, Tuple[str, str]] = {}
    locations: Dict[int, Location] = {}
    regions: Dict[int, Region] = {}
    parameters: Dict[int, str] = {}
    paradigms: Dict[int, Tuple[str, str]] = {}  # id -> (enum word, name)
    clock = (1, 0, 0)
    have_definitions = "Global Definitions" in sections

    for found, record in _records(_table_body(sections.get("Global Definitions", [])), _DEFINITION):
        kind = found.group("kind")
        ref = int(found.group("id")) if found.group("id") is not None else None
        cur = _Cursor(record[found.start("rest"):], record)
        if kind == "CLOCK_PROPERTIES":
            m = cur.match(r"Ticks per Seconds: (\d+), Global Offset: (\d+), Length: (\d+)")
            clock = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif kind == "STRING":
            body = cur.text
            if not (len(body) >= 2 and body[0] == '"' and body[-1] == '"'):
                raise cur.error("a quoted string")
            strings[ref] = body[1:-1]
        elif kind == "LOCATION_GROUP":
            cur.skip_to("Name: ")
            name, _ = cur.reference(strings)
            group_type = cur.match(r", Type: (\w+)").group(1)
            groups[ref] = (name or "", group_type)
        elif kind == "LOCATION":
            cur.skip_to("Name: ")
            name, _ = cur.reference(strings)
            m = cur.match(r", Type: (\w+), # Events: (\d+), Group: ")
            group_name, group_ref = cur.reference({k: v[0] for k, v in groups.items()})
            group_type = groups.get(group_ref, ("", ""))[1]
            locations[ref] = Location(ref, name or "", m.group(1), group_name or "",
                                      group_type, int(m.group(2)))
        elif kind == "REGION":
            cur.skip_to("Name: ")
            name, _ = cur.reference(strings)
            cur.skip_to(" (Aka. ")
            canonical, _ = cur.reference(strings)
            cur.skip_to("Descr.: ")
            cur.reference(strings)
            role = cur.match(r", Role: (\w+), Paradigm: ").group(1)
            if cur.text.startswith('"', cur.pos):
                # With a PARADIGM definition otf2-print shows its name.
                _, paradigm_ref = cur.reference(
                    {k: v[1] for k, v in paradigms.items()})
                paradigm = paradigms.get(paradigm_ref, ("", ""))[0]
            else:
                paradigm = cur.match(r"\w+").group(0)
            cur.match(r", Flags: [^,]*, File: ")
            source_file, _ = cur.reference(strings)
            lines = cur.match(r", Begin: (\d+), End: (\d+)")
            regions[ref] = Region(ref, name or "", canonical, source_file,
                                  int(lines.group(1)), int(lines.group(2)),
                                  role, paradigm)
        elif kind == "PARADIGM":
            # PARADIGM <id>  USER, Name: "User" <string>, Class: PROCESS
            word = cur.match(r"(\w+), Name: ").group(1)
            name, _ = cur.reference(strings)
            paradigms[ref] = (word, name or "")
        elif kind == "PARAMETER":
            cur.skip_to("Name: ")
            name, _ = cur.reference(strings)
            parameters[ref] = name or ""

    region_names = {ref: region.name for ref, region in regions.items()} if have_definitions else None
    parameter_names = parameters if have_definitions else None
    string_names = strings if have_definitions else None
    seen_regions: Dict[int, str] = {}

    for found, record in _records(_table_body(sections.get("Events", [])), _EVENT):
        name = found.group("kind")
        kind = _kind_from_print_name(name)
        location_id = int(found.group("location"))
        time = int(found.group("time"))
        rest = record[found.start("rest"):] if found.group("rest") is not None else ""
        cur = _Cursor(rest, record)
        if kind in (ENTER, LEAVE):
            cur.skip_to("Region: ")
            region, ref = cur.reference(region_names)
            if ref is not None and region is not None:
                seen_regions.setdefault(ref, region)
            event = Event(kind, time, location_id, region=region)
        elif kind == PARAMETER:
            cur.skip_to("Parameter: ")
            parameter, _ = cur.reference(parameter_names)
            cur.skip_to(", Value: ")
            if name == "PARAMETER_STRING":
                value = cur.reference(string_names)[0]
            else:
                value = int(cur.match(r"-?\d+").group(0))
            event = Event(kind, time, location_id, parameter=parameter, value=value)
        elif kind == MEASUREMENT_ON_OFF:
            event = Event(kind, time, location_id, mode=cur.match(r"Mode: (\w+)").group(1))
        elif kind == PROGRAM_BEGIN:
            cur.skip_to("Name: ")
            event = Event(kind, time, location_id, value=cur.reference(string_names)[0])
        elif kind == PROGRAM_END:
            status = cur.match(r"Exit status: (-?\d+|UNDEFINED)").group(1)
            event = Event(kind, time, location_id, value=None if status == "UNDEFINED" else int(status))
        else:
            event = Event(kind, time, location_id)
        if location_id not in locations:
            locations[location_id] = Location(location_id, "", "", "")
        locations[location_id].events.append(event)

    if not have_definitions:
        regions = {ref: Region(ref, name, name, None, 0, 0, "", "")
                   for ref, name in sorted(seen_regions.items())}
    return Trace(
        path=path, reader="otf2-print",
        timer_resolution=clock[0], global_offset=clock[1], trace_length=clock[2],
        region_definitions=[regions[ref] for ref in sorted(regions)],
        parameters=[parameters[ref] for ref in sorted(parameters)],
        locations=sorted(locations.values(), key=lambda loc: loc.id))
