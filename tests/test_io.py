"""POSIX I/O recording (--io=posix, SCOREP_IO_POSIX=true): the program's
open, read, write, seek, dup and close calls are regions of their own name
with the OTF2 I/O events of their handles, on the Python call path that
made them; the profile has the bytes read and written per call path.

The traces are read with the otf2 reader and otf2-print, the profiles with
pycubexr."""
from __future__ import annotations

import os
import subprocess

import pytest

from conftest import INSTRUMENTERS
from helpers.cube_profile import profiled

PROGRAM = """
import os

def writer():
    with open("data.bin", "wb") as f:
        f.write(b"x" * 1000)

def reader():
    with open("data.bin", "rb", buffering=0) as f:
        f.seek(100)
        first = f.read(50)
        rest = f.read()          # 850 bytes, then the read at the end of the file
    return len(first), len(rest)

def low():
    fd = os.open("data.bin", os.O_RDONLY)
    copy = os.dup(fd)
    part = os.pread(copy, 10, 5)
    os.close(copy)
    os.close(fd)
    return len(part)

def failing():
    try:
        os.read(12345, 4)
    except OSError as error:
        return error.errno

writer()
print(reader(), low(), failing())
"""


def number(value):
    """An OTF2 enum value or an int, as an int."""
    return value if isinstance(value, int) else int(value.value)


def io_events(run, file="data.bin"):
    """The I/O events of the handles of a file, in order, as (kind, handle
    ref, fields); and every handle's definition."""
    import otf2

    events = []
    with otf2.reader.open(str(run.experiment / "traces.otf2")) as reader:
        handles = list(reader.definitions.io_handles)
        for loc, event in reader.events:
            kind = type(event).__name__
            if not kind.startswith("Io"):
                continue
            handle = getattr(event, "handle", None) or getattr(event, "old_handle", None)
            if handle is None or handle.file is None or handle.file.name != file:
                continue
            fields = {name: number(getattr(event, name))
                      for name in ("mode", "bytes_request", "bytes_result", "offset_request", "offset_result", "whence")
                      if hasattr(event, name)}
            if kind == "IoDuplicateHandle":
                fields["new"] = event.new_handle._ref
            events.append((kind, handle._ref, fields))
    return events, handles


def completions(run, keep):
    """(location, event) of every completed I/O operation on a file whose
    name keep(name) accepts, in the trace's order."""
    import otf2

    with otf2.reader.open(str(run.experiment / "traces.otf2")) as reader:
        return [(loc, event) for loc, event in reader.events
                if type(event).__name__ == "IoOperationComplete" and event.handle.file and keep(event.handle.file.name)]


READ, WRITE, FROM_START, FROM_CURRENT = 0, 1, 0, 1


def test_a_known_file_read_and_written(runner):
    plain = runner.run_plain("-c", PROGRAM)
    run = runner.run("--io=posix", "-c", PROGRAM)
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout == "(50, 850) 10 9\n"
    assert run.stderr == plain.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    events, handles = io_events(run)
    # every open and every dup is a handle of its own, of the file data.bin, named as Score-P names it
    ours = [h for h in handles if h.file and h.file.name == "data.bin"]
    assert [h.name for h in ours] == ["[POSIX I/O] data.bin"] * 4
    writer, reader, opened, copy = (h._ref for h in ours)

    def of(handle):
        return [(kind, fields) for kind, ref, fields in events if ref == handle]

    # writer: open (CPython asks where it is), one write of 1000 bytes, close
    assert of(writer) == [("IoCreateHandle", {"mode": WRITE}),
                          ("IoSeek", {"offset_request": 0, "whence": FROM_CURRENT, "offset_result": 0}),
                          ("IoOperationBegin", {"mode": WRITE, "bytes_request": 1000}),
                          ("IoOperationComplete", {"bytes_result": 1000}),
                          ("IoDestroyHandle", {})]
    # reader: unbuffered, so the reads are the program's own; the rest is read to the end (a read of 0 bytes)
    seen = of(reader)
    assert seen[:4] == [("IoCreateHandle", {"mode": READ}),
                        ("IoSeek", {"offset_request": 100, "whence": FROM_START, "offset_result": 100}),
                        ("IoOperationBegin", {"mode": READ, "bytes_request": 50}),
                        ("IoOperationComplete", {"bytes_result": 50})]
    assert seen[-1] == ("IoDestroyHandle", {})
    rest = [fields["bytes_result"] for kind, fields in seen[4:-1] if kind == "IoOperationComplete"]
    assert sum(rest) == 850 and rest[-1] == 0
    # low: os.open, os.dup (a duplicate handle), os.pread on the copy, both closed
    assert of(opened) == [("IoCreateHandle", {"mode": READ}), ("IoDuplicateHandle", {"new": copy}),
                          ("IoDestroyHandle", {})]
    assert of(copy) == [("IoOperationBegin", {"mode": READ, "bytes_request": 10}),
                        ("IoOperationComplete", {"bytes_result": 10}), ("IoDestroyHandle", {})]
    # the regions are the functions CPython called, each under the Python call that made it; a read of a
    # descriptor that is not open is its region alone
    paths = trace.call_tree()

    def under(*tail):
        return sum(count for path, count in paths.items() if path[-len(tail):] == tail)

    assert under("__main__:<module>", "__main__:low", "posix:pread", "pread64") == 1
    assert under("__main__:<module>", "__main__:low", "posix:dup", "fcntl64") == 1
    assert under("__main__:<module>", "__main__:low", "posix:close", "close") == 2
    assert under("__main__:<module>", "__main__:failing", "posix:read", "read") == 1
    regions = {r.name: r for r in trace.region_definitions}
    assert regions["read"].role == "FILE_IO" and regions["open64"].role == "FILE_IO_METADATA"


def test_the_standard_streams_are_pre_created_handles(runner):
    import otf2

    run = runner.run("--io=posix", "-c", "import os, sys\nos.write(1, b'hello\\n')\nsys.stderr.write('e\\n')")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "hello\n" and run.stderr == "e\n"
    with otf2.reader.open(str(run.experiment / "traces.otf2")) as reader:
        states = {s.io_handle.name: (number(s.io_access_mode), number(s.io_handle.io_handle_flags))
                  for s in reader.definitions.io_pre_created_handle_states}
        writes = [(event.handle.name, event.bytes_request) for _, event in reader.events
                  if type(event).__name__ == "IoOperationBegin"]
    assert states["[POSIX I/O] stdout"] == (1, 1)  # write only, pre-created
    assert states["[POSIX I/O] stderr"] == (1, 1)
    assert ("[POSIX I/O] stdout", 6) in writes and ("[POSIX I/O] stderr", 2) in writes


def test_otf2_print_shows_the_handles(runner):
    run = runner.run("--io=posix", "-c", PROGRAM)
    assert run.returncode == 0, run.stderr
    done = subprocess.run(["otf2-print", str(run.experiment / "traces.otf2")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = [line for line in done.stdout.splitlines() if '"[POSIX I/O] data.bin"' in line]
    kinds = [line.split()[0] for line in lines]
    assert kinds[:5] == ["IO_CREATE_HANDLE", "IO_SEEK", "IO_OPERATION_BEGIN", "IO_OPERATION_COMPLETE",
                         "IO_DESTROY_HANDLE"]
    assert "Bytes Request: 1000" in lines[2] and "Bytes Result: 1000" in lines[3]
    assert kinds.count("IO_CREATE_HANDLE") == 3 and kinds.count("IO_DUPLICATE_HANDLE") == 1
    assert kinds.count("IO_DESTROY_HANDLE") == 4


def test_profile_has_io_bytes_per_call_path(runner):
    run = runner.run("--io=posix", "-c", PROGRAM, env={"SCOREP_ENABLE_PROFILING": "true"}, tracing=False)
    assert run.returncode == 0, run.stderr
    profile = profiled(run)
    from pycubexr import CubexParser

    with CubexParser(str(run.experiment / "profile.cubex")) as cube:
        names = [m.name for m in cube.get_metrics()]
        assert names[-2:] == ["io_bytes_read", "io_bytes_written"]
        values = {name: cube.get_metric_values(cube.get_metric_by_name(name)) for name in names[-2:]}

        def by_path(metric):
            out = {}
            for cnode in cube.all_cnodes():
                value = int(sum(values[metric].cnode_values(cnode)))
                if value:
                    path, node = [], cnode
                    while node:
                        path.append(cube.get_region(node).name)
                        node = node.parent
                    out[tuple(reversed(path))] = value
            return out

        read = by_path("io_bytes_read")
        written = by_path("io_bytes_written")
    def under(values, *tail):
        return sum(v for path, v in values.items() if path[-len(tail):] == tail)

    # both reads of the reader (50 bytes, then the 850 left) on one call path; the pread on its own
    assert under(read, "__main__:reader", "_io.FileIO:read", "read") == 900
    assert under(read, "__main__:low", "posix:pread", "pread64") == 10
    # (imports the interpreter makes during the run read their .pyc: the program's I/O too, elsewhere)
    assert sum(v for path, v in read.items() if "__main__:reader" in path or "__main__:low" in path) == 910
    # the writer's buffered write reaches the file when the file is closed
    assert sum(v for path, v in written.items() if "__main__:writer" in path) == 1000
    assert sum(v for path, v in written.items() if "builtins:print" in path) == len("(50, 850) 10 9\n")
    assert profile is not None


def test_switched_on_by_the_variable_and_off_without(runner):
    import shutil

    on = runner.run("-c", PROGRAM, env={"SCOREP_IO_POSIX": "true"})
    assert on.returncode == 0, on.stderr
    assert [kind for kind, _, _ in io_events(on)[0]].count("IoCreateHandle") == 3
    shutil.rmtree(on.experiment)
    off = runner.run("-c", PROGRAM)
    assert off.returncode == 0, off.stderr
    assert "open64" not in off.trace().enter_counts()
    shutil.rmtree(off.experiment)
    none = runner.run("--io=none", "-c", PROGRAM, env={"SCOREP_IO_POSIX": "true"})
    assert none.returncode == 0, none.stderr
    assert "open64" not in none.trace().enter_counts()


def test_the_program_does_not_see_the_preload(runner):
    code = "import os\nprint(os.environ.get('LD_PRELOAD', '-'), os.environ.get('SCOREP_IO_POSIX', '-'))"
    plain = runner.run_plain("-c", code)
    run = runner.run("--io=posix", "-c", code)
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout == "- -\n"


def test_recording_off_and_filters(runner, tmp_path):
    program = """
import scorep.user
def quiet():
    with open("off.txt", "w") as f:
        f.write("not recorded")
with scorep.user.region("on"):
    with open("on.txt", "w") as f:
        f.write("recorded")
scorep.user.disable_recording()
quiet()
scorep.user.enable_recording()
"""
    rules = tmp_path / "io.filter"
    rules.write_text("SCOREP_REGION_NAMES_BEGIN\nEXCLUDE lseek64\nSCOREP_REGION_NAMES_END\n")
    run = runner.run("--io=posix", "-c", program, env={"SCOREP_FILTERING_FILE": str(rules)})
    assert run.returncode == 0, run.stderr
    import otf2

    with otf2.reader.open(str(run.experiment / "traces.otf2")) as reader:
        files = {h.file.name for h in reader.definitions.io_handles if h.file}
        seeks = [e for _, e in reader.events if type(e).__name__ == "IoSeek"]
    assert "on.txt" in files and "off.txt" not in files
    counts = run.trace().enter_counts()
    assert "lseek64" not in counts and counts["open64"] >= 1
    assert seeks == []
    # the measurement's own files never appear as handles
    assert not any(name.endswith((".evt", ".def", ".otf2", ".cubex", "scorep.cfg", ".scorep-journal"))
                   for name in files)


FILTERED_EXTENTS = """
import os

def inner():
    with open("inner.txt", "wb", buffering=0) as f:
        f.write(b"i")

def quiet():
    with open("quiet.txt", "wb", buffering=0) as f:
        f.write(b"q" * 3)
    inner()

def quiet_lines():
    with open("gen.txt", "wb", buffering=0) as f:
        yield 1
        f.write(b"g")
        yield 2

def loud():
    with open("loud.txt", "wb", buffering=0) as f:
        f.write(b"l" * 2)
        for _ in quiet_lines():
            f.write(b"L")
        os.fsync(f.fileno())

quiet()
loud()
print(sorted(os.path.getsize(n) for n in ("inner.txt", "quiet.txt", "gen.txt", "loud.txt")))
"""


@pytest.mark.parametrize("kind", INSTRUMENTERS)
def test_no_io_inside_a_filtered_functions_extent(runner, tmp_path, kind):
    """I/O while a filtered Python function runs (its own, its callees',
    a filtered generator's between its resumptions and yields) is not
    recorded; nor in a filtered C function (posix:fsync), where the
    instrumenter sees C calls; the I/O around them is."""
    rules = tmp_path / "extent.filter"
    rules.write_text("SCOREP_REGION_NAMES_BEGIN\nEXCLUDE __main__:quiet* posix:fsync\nSCOREP_REGION_NAMES_END\n")
    plain = runner.run_plain("-c", FILTERED_EXTENTS)
    run = runner.run("--io=posix", f"--instrumenter-type={kind}", "-c", FILTERED_EXTENTS,
                     env={"SCOREP_FILTERING_FILE": str(rules)})
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout == "[1, 1, 3, 4]\n"
    done = [(event.handle.file.name, number(event.bytes_result))
            for _, event in completions(run, lambda name: name.endswith(".txt"))]
    sees_c_calls = kind in ("monitoring", "profile")
    # loud's own writes, the two between the generator's resumptions; its fsync only where C calls are unseen
    assert done == [("loud.txt", 2), ("loud.txt", 1), ("loud.txt", 1)] + ([] if sees_c_calls else [("loud.txt", 0)])
    trace = run.trace()
    counts = trace.enter_counts()
    assert counts["__main__:inner"] == 1 and "__main__:quiet" not in counts  # inner is recorded, its I/O not
    paths = trace.call_tree()
    assert sum(n for path, n in paths.items() if path[-1] == "write" and "__main__:loud" in path) == 3
    io_regions = {r.name for r in trace.region_definitions if r.role in ("FILE_IO", "FILE_IO_METADATA")}
    assert {"open64", "write", "close"} <= io_regions
    assert not any(n for path, n in paths.items() if "__main__:inner" in path and path[-1] in io_regions)
    assert counts.get("fsync", 0) == (0 if sees_c_calls else 1)


def test_bad_io_value(runner):
    run = runner.run("--io=mpiio", "-c", "pass")
    assert run.returncode == 2
    assert run.stderr == "scorep: error: invalid --io 'mpiio' (choose from posix, none) (see python -m scorep --help)\n"


def test_threads_record_on_their_own_location(runner):
    program = """
import threading
def work(i):
    with open(f"t{i}.txt", "wb", buffering=0) as f:
        f.write(b"y" * (i + 1))
threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""
    run = runner.run("--io=posix", "-c", program)
    assert run.returncode == 0, run.stderr
    written = {event.handle.file.name: (loc.name, event.bytes_result)
               for loc, event in completions(run, lambda name: name.startswith("t"))}
    assert sorted(written) == ["t0.txt", "t1.txt", "t2.txt"]
    assert {name: size for name, (_, size) in written.items()} == {"t0.txt": 1, "t1.txt": 2, "t2.txt": 3}
    assert all(loc != "Master thread" for loc, _ in written.values())


def test_a_forked_child_records_its_io(runner):
    program = """
import os
pid = os.fork()
if pid == 0:
    with open("child.txt", "wb", buffering=0) as f:
        f.write(b"c" * 7)
    os._exit(0)
os.waitpid(pid, 0)
with open("parent.txt", "wb", buffering=0) as f:
    f.write(b"p" * 3)
"""
    run = runner.run("--io=posix", "-c", program)
    assert run.returncode == 0, run.stderr
    written = {event.handle.file.name: (loc.group.name, event.bytes_result)
               for loc, event in completions(run, lambda name: name.endswith(".txt"))}
    assert written["parent.txt"][1] == 3 and written["child.txt"][1] == 7
    assert written["parent.txt"][0] != written["child.txt"][0]


def test_spawned_and_subprocess_children_record_their_io(runner):
    """A process the program starts with spawn, or as a Python subprocess,
    starts again with the I/O wrapper library before anything of it runs."""
    program = """
import multiprocessing, os, subprocess, sys

def work(n):
    with open(f"spawned{n}.txt", "wb", buffering=0) as f:
        f.write(b"s" * n)
    return os.environ.get("LD_PRELOAD", "-")

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        print(pool.map(work, [3, 5]))
    code = "import os; f = open('sub.txt', 'wb', buffering=0); f.write(b'q' * 11); f.close(); print(os.environ.get('LD_PRELOAD', '-'))"
    print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip())
"""
    plain = runner.script(program, scorep=False)
    run = runner.script(program, options=["--io=posix"])
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout == "['-', '-']\n-\n"
    written = {event.handle.file.name: (loc.group.name, event.bytes_result)
               for loc, event in completions(run, lambda name: name.endswith(".txt"))}
    assert {name: size for name, (_, size) in written.items()} == {"spawned3.txt": 3, "spawned5.txt": 5,
                                                                    "sub.txt": 11}


def test_report_summarises_io_per_call_path_and_per_file(runner):
    import re
    import sys

    run = runner.run("--io=posix", "-c", PROGRAM, env={"SCOREP_ENABLE_PROFILING": "true"})
    assert run.returncode == 0, run.stderr
    done = subprocess.run([sys.executable, "-m", "scorep.report", str(run.experiment)], capture_output=True,
                          text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    # (the total has what imports made during the run read, too: 3.13 imports linecache then)
    assert re.search(r"^POSIX I/O: .* in \d+ calls, .* read, 1015 B written$", text, re.M), text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    # per file (from the trace): data.bin's reads (50 + 850 + the 0 at its end + 10) and its write
    assert rows["data.bin"][-4:] == ["910", "B", "1000", "B"], text
    assert rows["stdout"][-2:] == ["15", "B"], text
    # per Python call path
    line = next(line for line in text.splitlines() if line.startswith("__main__:<module> > __main__:low > posix:pread"))
    assert line.split()[-4:] == ["10", "B", "0", "B"]


def test_register_records_io_with_the_library_preloaded(runner):
    """scorep.register() cannot preload the library itself; a program
    started with it in LD_PRELOAD records its I/O from register() on."""
    import scorep

    library = os.path.join(os.path.dirname(scorep.__file__), "libscorep_io.so")
    runner.write("reg.py", """
import scorep
with open("before.txt", "wb", buffering=0) as f:
    f.write(b"not measured yet")
scorep.register()
def w():
    with open("reg.txt", "wb", buffering=0) as f:
        f.write(b"abc")
w()
""")
    run = runner.run_plain("reg.py", env={"LD_PRELOAD": library})
    assert run.returncode == 0, run.stderr
    written = {event.handle.file.name: event.bytes_result
               for _, event in completions(run, lambda name: name.endswith(".txt"))}
    assert written == {"reg.txt": 3}


STDIO = """
import ctypes

libc = ctypes.CDLL(None)
FILE = ctypes.c_void_p
libc.fopen.restype = FILE
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
for name in ("fwrite", "fread"):
    getattr(libc, name).argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, FILE]
libc.fclose.argtypes = libc.fflush.argtypes = [FILE]
libc.fprintf.argtypes = [FILE, ctypes.c_char_p, ctypes.c_int]
libc.fgets.argtypes = [ctypes.c_char_p, ctypes.c_int, FILE]
libc.fgets.restype = ctypes.c_char_p
libc.fseek.argtypes = [FILE, ctypes.c_long, ctypes.c_int]
libc.fputc.argtypes = [ctypes.c_int, FILE]
libc.fgetc.argtypes = [FILE]

def write():
    f = libc.fopen(b"s.txt", b"w")
    done = libc.fwrite(b"abcdefghij", 1, 10, f), libc.fprintf(f, b"\\nn=%d\\n", 42), libc.fputc(ord("z"), f)
    libc.fflush(f)
    libc.fclose(f)
    return done

def read():
    f = libc.fopen(b"s.txt", b"r")
    buf = ctypes.create_string_buffer(64)
    libc.fseek(f, 2, 0)
    items = libc.fread(buf, 2, 3, f)
    lines = libc.fgets(buf, 64, f), libc.fgets(buf, 64, f), libc.fgetc(f), libc.fgetc(f)
    libc.fclose(f)
    return items, lines

def missing():
    return libc.fopen(b"no/such/file", b"r")

print(write(), read(), missing())
libc.printf(b"printf %d\\n", 7)
libc.puts(b"puts")
"""


def test_stdio_streams_are_iso_c_handles(runner):
    """fopen, fwrite, fprintf, fputc, fflush, fseek, fread, fgets, fgetc,
    fclose, printf and puts of a C library caller (ctypes here, as a C
    extension would call them): ISO C I/O handles with exact bytes."""
    import otf2

    plain = runner.run_plain("-c", STDIO)
    run = runner.run("--io=posix", "-c", STDIO, env={"SCOREP_ENABLE_PROFILING": "true"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == plain.stdout == "(10, 6, 122) (3, (b'ij\\n', b'n=42\\n', 122, -1)) None\nprintf 7\nputs\n"
    assert run.stderr == plain.stderr == ""
    trace = run.trace()
    trace.check_balanced()
    events, handles = io_events(run, "s.txt")
    ours = [h for h in handles if h.file and h.file.name == "s.txt"]
    assert [h.name for h in ours] == ["[ISO C I/O] s.txt"] * 2
    assert {h.io_paradigm.name for h in ours} == {"ISO C I/O"}
    written, read = (h._ref for h in ours)

    def of(handle):
        return [(kind, fields) for kind, ref, fields in events if ref == handle]

    FLUSH, UNKNOWN = 2, 2**64 - 1
    assert of(written) == [("IoCreateHandle", {"mode": WRITE}),
                           ("IoOperationBegin", {"mode": WRITE, "bytes_request": 10}),
                           ("IoOperationComplete", {"bytes_result": 10}),
                           ("IoOperationBegin", {"mode": WRITE, "bytes_request": UNKNOWN}),  # fprintf
                           ("IoOperationComplete", {"bytes_result": 6}),
                           ("IoOperationBegin", {"mode": WRITE, "bytes_request": 1}),
                           ("IoOperationComplete", {"bytes_result": 1}),
                           ("IoOperationBegin", {"mode": FLUSH, "bytes_request": 0}),
                           ("IoOperationComplete", {"bytes_result": 0}),
                           ("IoDestroyHandle", {})]
    assert of(read) == [("IoCreateHandle", {"mode": READ}),
                        ("IoSeek", {"offset_request": 2, "whence": FROM_START, "offset_result": 2}),
                        ("IoOperationBegin", {"mode": READ, "bytes_request": 6}),
                        ("IoOperationComplete", {"bytes_result": 6}),
                        ("IoOperationBegin", {"mode": READ, "bytes_request": 63}),
                        ("IoOperationComplete", {"bytes_result": 3}),
                        ("IoOperationBegin", {"mode": READ, "bytes_request": 63}),
                        ("IoOperationComplete", {"bytes_result": 5}),
                        ("IoOperationBegin", {"mode": READ, "bytes_request": 1}),
                        ("IoOperationComplete", {"bytes_result": 1}),   # "z"
                        ("IoOperationBegin", {"mode": READ, "bytes_request": 1}),
                        ("IoOperationComplete", {"bytes_result": 0}),   # end of file
                        ("IoDestroyHandle", {})]
    # printf and puts write stdout's stream (pre-created); the POSIX handles are the descriptors'
    with otf2.reader.open(str(run.experiment / "traces.otf2")) as reader:
        states = {s.io_handle.name: number(s.io_access_mode) for s in reader.definitions.io_pre_created_handle_states}
        stdout = [(event.bytes_result) for _, event in reader.events
                  if type(event).__name__ == "IoOperationComplete" and event.handle.name == "[ISO C I/O] stdout"]
    assert states["[ISO C I/O] stdout"] == states["[POSIX I/O] stdout"] == 1
    assert stdout == [len("printf 7\n"), len("puts\n")]
    # each call is a region of its own name, under the Python function that made it
    counts = trace.enter_counts()
    for name, count in {"fopen": 3, "fwrite": 1, "fprintf": 1, "fputc": 1, "fflush": 1, "fclose": 2, "fseek": 1,
                        "fread": 1, "fgets": 2, "fgetc": 2, "printf": 1, "puts": 1}.items():
        assert counts[name] == count, name
    regions = {r.name: r for r in trace.region_definitions}
    assert regions["fwrite"].role == "FILE_IO" and regions["fopen"].role == "FILE_IO_METADATA"
    paths = trace.call_tree()
    assert sum(n for path, n in paths.items() if path[-1] == "fgets" and "__main__:read" in path) == 2
    assert sum(n for path, n in paths.items() if path[-1] == "fopen" and "__main__:missing" in path) == 1
    # the profile counts their bytes where the program asked (the C library's own writes are not seen)
    from pycubexr import CubexParser

    with CubexParser(str(run.experiment / "profile.cubex")) as cube:
        def under(metric, function):
            values = cube.get_metric_values(cube.get_metric_by_name(metric))
            total = 0
            for cnode in cube.all_cnodes():
                path, node = [], cnode
                while node:
                    path.append(cube.get_region(node).name)
                    node = node.parent
                if f"__main__:{function}" in path:
                    total += int(sum(values.cnode_values(cnode)))
            return total

        assert under("io_bytes_written", "write") == 17
        assert under("io_bytes_read", "read") == 15


def test_a_forked_child_shares_the_handles_it_inherited(runner):
    """A descriptor opened before a fork is one handle in the experiment:
    the child's writes to it refer to the parent's handle, and the child
    defines no copies of the parent's handles."""
    import otf2

    program = """
import os
fd = os.open("shared.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"p" * 2)
pid = os.fork()
if pid == 0:
    os.write(fd, b"c" * 5)
    os._exit(0)
os.waitpid(pid, 0)
os.write(fd, b"q" * 3)
os.close(fd)
"""
    run = runner.run("--io=posix", "-c", program)
    assert run.returncode == 0, run.stderr
    with otf2.reader.open(str(run.experiment / "traces.otf2")) as reader:
        names = [h.name for h in reader.definitions.io_handles]
    assert names.count("[POSIX I/O] shared.txt") == 1
    assert names.count("[POSIX I/O] stdout") == 1 and names.count("[ISO C I/O] stdout") == 1
    # the measurement's own look at its threads at the fork (fopen of /proc/self/stat) is not the program's I/O
    # (CPython 3.12+ reads that file itself in os.fork, with fopen64: that read is the program's)
    assert "fopen" not in run.trace().enter_counts()
    done = [(loc.group.name, event.handle.name, event.bytes_result)
            for loc, event in completions(run, lambda name: name == "shared.txt")]
    assert [(handle, size) for _, handle, size in done] == [("[POSIX I/O] shared.txt", n) for n in (2, 5, 3)]
    assert done[0][0] == done[2][0] != done[1][0]  # the parent's, the child's, the parent's
