"""One benchmark measurement in this interpreter:

    python bench/harness.py TOOL WORKLOAD [ARG]

prints one JSON line: seconds of the workload (timed inside the program),
seconds spent writing results at the end, peak memory, bytes written.
TOOL: plain, floor, scorep-profile, scorep-trace, scorep-both,
scorep-filtered, scorep-noinstrumenter, scorep-eval (trace mode with the PEP 523
instrumenter, Python 3.9-3.11), cprofile, viztracer, yappi."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import workloads  # noqa: E402


def peak_rss_kb() -> int:
    """VmHWM: the peak resident memory of this process (since its exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def tree_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def main() -> None:
    tool, name = sys.argv[1], sys.argv[2]
    arg = int(sys.argv[3]) if len(sys.argv) > 3 else None
    work = workloads.WORKLOADS.get(name) or getattr(workloads, name)
    call = (lambda: work(arg)) if arg is not None else work
    out_dir = tempfile.mkdtemp(prefix="scorep-bench-")
    result = {"tool": tool, "workload": name, "python": sys.version.split()[0]}
    stop = lambda: None  # noqa: E731
    write = lambda: None  # noqa: E731

    if tool == "floor":
        import emptyhook

        if sys.version_info < (3, 12):  # sys.monitoring covers all threads by itself
            threading.setprofile(emptyhook.thread_hook)
        emptyhook.install()
    elif tool.startswith("scorep"):
        os.environ["SCOREP_EXPERIMENT_DIRECTORY"] = os.path.join(out_dir, "experiment")
        os.environ["SCOREP_ENABLE_PROFILING"] = "true" if tool in ("scorep-profile", "scorep-both") else "false"
        os.environ["SCOREP_ENABLE_TRACING"] = "false" if tool == "scorep-profile" else "true"
        if tool == "scorep-filtered":
            rules = os.path.join(out_dir, "filter")
            with open(rules, "w") as handle:
                handle.write("SCOREP_REGION_NAMES_BEGIN\n EXCLUDE workloads:trivial workloads:identity\nSCOREP_REGION_NAMES_END\n")
            os.environ["SCOREP_FILTERING_FILE"] = rules
        from scorep import _measurement

        if tool == "scorep-eval":
            _measurement.start("eval")
        else:
            _measurement.start()
        if tool != "scorep-noinstrumenter":
            _measurement.enable_instrumenter()
        stop = _measurement.disable_instrumenter
        write = _measurement.finalize
    elif tool == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
        threading.setprofile(lambda *a: None)  # cProfile does not follow threads
        profiler.enable()
        stop = profiler.disable
        write = lambda: profiler.dump_stats(os.path.join(out_dir, "prof"))  # noqa: E731
    elif tool == "viztracer":
        from viztracer import VizTracer

        tracer = VizTracer(output_file=os.path.join(out_dir, "trace.json"), verbose=0, tracer_entries=5_000_000)
        tracer.start()
        stop = tracer.stop
        write = tracer.save
    elif tool == "yappi":
        import yappi

        yappi.set_clock_type("wall")
        yappi.start()
        stop = yappi.stop
        write = lambda: yappi.get_func_stats().save(os.path.join(out_dir, "yappi.prof"), type="pstat")  # noqa: E731
    elif tool != "plain":
        raise SystemExit(f"unknown tool {tool}")

    counting = os.environ.get("BENCH_CALLGRIND") == "1"
    if counting:
        import emptyhook
    start = time.perf_counter()
    if counting:
        emptyhook.toggle_collect()
    call()
    if counting:
        emptyhook.toggle_collect()
    result["seconds"] = time.perf_counter() - start
    stop()
    start = time.perf_counter()
    write()
    result["write_seconds"] = time.perf_counter() - start
    result["peak_rss_kb"] = peak_rss_kb()
    result["bytes"] = tree_bytes(out_dir)
    if tool.startswith("scorep"):
        from scorep import _native

        stats = _native.buffer_stats()
        result["record_bytes_per_event"] = stats["record_bytes"] / max(stats["events"], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
