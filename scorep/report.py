"""``python -m scorep.report <experiment directory | profile.cubex>``: the
profile summarised in the terminal.

Prints the regions with the most exclusive time (visits, exclusive and
inclusive time, time per visit, share of the total), the call tree cut to the
hot paths; for an experiment of several processes the time and visits of
each process, and with ``--processes`` its regions; with ``--threads`` the
same figures per thread."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from scorep._cube import CallNode, CubeError, Profile


@dataclass
class RegionSummary:
    name: str
    visits: int = 0
    exclusive: float = 0.0
    inclusive: float = 0.0


def find_profile(path: str) -> str:
    """The .cubex of an experiment directory (or the file itself)."""
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        found = sorted(name for name in os.listdir(path) if name.endswith(".cubex"))
        if not found:
            raise CubeError(f"{path}: no .cubex profile in this directory (was SCOREP_ENABLE_PROFILING false?)")
        return os.path.join(path, "profile.cubex" if "profile.cubex" in found else found[0])
    raise CubeError(f"{path}: no such file or directory")


class Summary:
    """Per-call-path and per-region figures for a set of locations."""

    def __init__(self, profile: Profile, locations: Sequence[int]) -> None:
        self.profile = profile
        visits = profile.values("visits") if "visits" in profile.metrics else {}
        time = profile.values("time")
        self.visits: Dict[int, int] = {n: int(sum(visits[n][l] for l in locations)) if visits else 0
                                       for n in time}
        self.inclusive: Dict[int, float] = {n: sum(time[n][l] for l in locations) for n in time}
        self.exclusive: Dict[int, float] = {}
        for node in profile.nodes():
            children = sum(self.inclusive[c.id] for c in node.children)
            self.exclusive[node.id] = max(0.0, self.inclusive[node.id] - children)
        self.total = sum(self.inclusive[root.id] for root in profile.roots)

    def regions(self) -> List[RegionSummary]:
        by_name: Dict[str, RegionSummary] = {}
        for node in self.profile.nodes():
            entry = by_name.setdefault(node.region.name, RegionSummary(node.region.name))
            entry.visits += self.visits[node.id]
            entry.exclusive += self.exclusive[node.id]
            # inclusive time counts only the outermost call of a recursion
            if not _has_ancestor(node, node.region.name):
                entry.inclusive += self.inclusive[node.id]
        measured = [r for r in by_name.values() if r.visits or r.inclusive > 0]
        return sorted(measured, key=lambda r: r.exclusive, reverse=True)


def _has_ancestor(node: CallNode, name: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.region.name == name:
            return True
        parent = parent.parent
    return False


def _seconds(value: float) -> str:
    if value >= 100:
        return f"{value:.1f} s"
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    if value >= 1e-6:
        return f"{value * 1e6:.3f} us"
    return f"{value * 1e9:.0f} ns"


def _share(value: float, total: float) -> str:
    return f"{100.0 * value / total:5.1f}%" if total > 0 else "    -"


NAME_WIDTH = 70


def _clip(name: str) -> str:
    return name if len(name) <= NAME_WIDTH else name[:NAME_WIDTH - 3] + "..."


def print_regions(summary: Summary, top: int, out) -> None:
    rows = summary.regions()[:top]
    width = max([len("region")] + [len(_clip(r.name)) for r in rows])
    print(f"{'region':<{width}}  {'visits':>10}  {'exclusive':>12}  {'inclusive':>12}  {'per visit':>12}  {'share':>6}",
          file=out)
    for r in rows:
        per_visit = r.inclusive / r.visits if r.visits else 0.0
        print(f"{_clip(r.name):<{width}}  {r.visits:>10}  {_seconds(r.exclusive):>12}  {_seconds(r.inclusive):>12}  "
              f"{_seconds(per_visit):>12}  {_share(r.exclusive, summary.total):>6}", file=out)


def print_tree(summary: Summary, min_percent: float, max_depth: int, out) -> None:
    threshold = summary.total * min_percent / 100.0

    def walk(node: CallNode, depth: int) -> None:
        hidden = 0
        print(f"{'  ' * depth}{_share(summary.inclusive[node.id], summary.total)}  "
              f"{_seconds(summary.inclusive[node.id]):>12}  {summary.visits[node.id]:>8}x  {node.region.name}",
              file=out)
        if depth >= max_depth:
            return
        for child in sorted(node.children, key=lambda c: summary.inclusive[c.id], reverse=True):
            if summary.inclusive[child.id] >= threshold and summary.inclusive[child.id] > 0:
                walk(child, depth + 1)
            else:
                hidden += 1
        if hidden:
            print(f"{'  ' * (depth + 1)}... {hidden} more call path(s) below {min_percent:g}%", file=out)

    for root in summary.profile.roots:
        walk(root, 0)


def print_processes(profile: Profile, top: int, regions: bool, out) -> None:
    """Per process (location group): threads, visits, time, its hottest region."""
    by_process: Dict[str, List[int]] = {}
    for location in profile.locations:
        by_process.setdefault(location.process, []).append(location.id)
    width = max(len("process"), *(len(name) for name in by_process))
    print(f"{'process':<{width}}  {'threads':>7}  {'visits':>10}  {'time':>12}  hottest region (exclusive time)", file=out)
    summaries = {}
    for name, locations in by_process.items():
        per = summaries[name] = Summary(profile, locations)
        hottest = per.regions()[:1]
        what = f"{hottest[0].name} ({_seconds(hottest[0].exclusive)})" if hottest else "-"
        print(f"{name:<{width}}  {len(locations):>7}  {sum(per.visits.values()):>10}  {_seconds(per.total):>12}  {what}",
              file=out)
    if regions:
        for name, per in summaries.items():
            print(file=out)
            print(f"{name}: {_seconds(per.total)}", file=out)
            print_regions(per, top, out)


def _bytes(value: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{int(value)} B"


def print_io(profile: Profile, summary: Summary, top: int, out) -> None:
    """POSIX I/O (--io=posix): the time of the I/O calls and their bytes,
    per Python call path that made them."""
    read, written = profile.values("io_bytes_read"), profile.values("io_bytes_written")
    paths: Dict[Tuple[str, ...], List[float]] = {}
    for node in profile.nodes():
        if node.region.paradigm != "io" or (node.parent is not None and node.parent.region.paradigm == "io"):
            continue
        caller = tuple(node.path()[:-1])
        entry = paths.setdefault(caller, [0.0, 0, 0.0, 0.0])
        entry[0] += summary.inclusive[node.id]
        entry[1] += summary.visits[node.id]
        entry[2] += sum(read[node.id])
        entry[3] += sum(written[node.id])
    total = [sum(e[i] for e in paths.values()) for i in range(4)]
    print(f"POSIX I/O: {_seconds(total[0])} in {int(total[1])} calls, {_bytes(total[2])} read, "
          f"{_bytes(total[3])} written", file=out)
    print(f"{'Python call path':<60}{'calls':>8}{'time':>14}{'read':>12}{'written':>12}", file=out)
    for caller, (time, calls, got, put) in sorted(paths.items(), key=lambda item: item[1][0], reverse=True)[:top]:
        shown = " > ".join(caller[-3:]) if caller else "(outside any region)"
        print(f"{_clip(shown):<60}{int(calls):>8}{_seconds(time):>14}{_bytes(got):>12}{_bytes(put):>12}", file=out)


def print_io_files(trace: str, top: int, out) -> None:
    """Per file, from the trace: operations, their time and bytes."""
    try:
        import otf2
    except ImportError:
        print("(per file: the trace is read with the otf2 Python package: pip install otf2)", file=out)
        return
    files: Dict[str, List[float]] = {}
    begun: Dict[Tuple[int, int], Tuple[int, str]] = {}
    with otf2.reader.open(trace) as reader:
        resolution = reader.timer_resolution or 1
        for location, event in reader.events:
            kind = type(event).__name__
            if kind not in ("IoOperationBegin", "IoOperationComplete"):
                continue
            handle = event.handle
            name = handle.file.name if handle is not None and handle.file is not None else "?"
            entry = files.setdefault(name, [0, 0.0, 0.0, 0.0])
            key = (location._ref, event.matching_id)
            if kind == "IoOperationBegin":
                mode = event.mode if isinstance(event.mode, int) else int(event.mode.value)
                begun[key] = (event.time, {0: "READ", 1: "WRITE"}.get(mode, ""))
                entry[0] += 1
                continue
            start, mode = begun.pop(key, (None, ""))
            if start is not None:
                entry[1] += (event.time - start) / resolution
            done = event.bytes_result
            if done is not None and done < (1 << 63) and mode in ("READ", "WRITE"):
                entry[2 if mode == "READ" else 3] += done
    print(f"{'file':<60}{'operations':>11}{'time':>14}{'read':>12}{'written':>12}", file=out)
    for name, entry in sorted(files.items(), key=lambda item: item[1][1], reverse=True)[:top]:
        print(f"{_clip(name):<60}{int(entry[0]):>11}{_seconds(entry[1]):>14}{_bytes(entry[2]):>12}"
              f"{_bytes(entry[3]):>12}", file=out)


def report(path: str, top: int = 20, min_percent: float = 1.0, max_depth: int = 12, threads: bool = False,
           out=None, processes: bool = False) -> None:
    out = out or sys.stdout
    with Profile(find_profile(path)) as profile:
        everything = Summary(profile, range(len(profile.locations)))
        process_count = len({location.process for location in profile.locations})
        print(f"profile: {profile.path}", file=out)
        print(f"{f'processes: {process_count}, ' if process_count > 1 else ''}locations: {len(profile.locations)}, "
              f"call paths: {len(profile.nodes())}, total time (all locations): {_seconds(everything.total)}",
              file=out)
        print(file=out)
        if process_count > 1 or processes:
            print("Per process", file=out)
            print_processes(profile, top, processes, out)
            print(file=out)
        print(f"Top {top} regions by exclusive time", file=out)
        print_regions(everything, top, out)
        print(file=out)
        print(f"Call tree (paths with at least {min_percent:g}% of the total time)", file=out)
        print_tree(everything, min_percent, max_depth, out)
        if "io_bytes_read" in profile.metrics and any(node.region.paradigm == "io" for node in profile.nodes()):
            print(file=out)
            print_io(profile, everything, top, out)
            trace = os.path.join(os.path.dirname(profile.path), "traces.otf2")
            if os.path.isfile(trace):
                print(file=out)
                print_io_files(trace, top, out)
        if threads:
            for location in profile.locations:
                per = Summary(profile, [location.id])
                print(file=out)
                print(f"{location.process} / {location.name}: {_seconds(per.total)}", file=out)
                print_regions(per, top, out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scorep.report",
                                     description="Summarise a CUBE4 profile written by scorep (or Score-P).")
    parser.add_argument("path", help="experiment directory or .cubex file")
    parser.add_argument("--top", type=int, default=20, help="number of regions to list (default 20)")
    parser.add_argument("--min-percent", type=float, default=1.0,
                        help="hide call paths below this share of the total time (default 1)")
    parser.add_argument("--depth", type=int, default=12, help="deepest call-tree level shown (default 12)")
    parser.add_argument("--threads", action="store_true", help="also list the regions of every thread")
    parser.add_argument("--processes", action="store_true", help="also list the regions of every process")
    args = parser.parse_args(argv)
    try:
        report(args.path, args.top, args.min_percent, args.depth, args.threads, processes=args.processes)
    except CubeError as error:
        print(f"scorep.report: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader (e.g. `| head`) has gone: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
