"""Fault injection: bad input, planted links, full and read-only disks,
crashes and over-long strings (CI runs as root: the tests mount small
tmpfs file systems).  In every case the program's output and exit code are
those of plain Python, what the measurement could not do is one clear
line, and what is left is an experiment that otf2-print, the otf2 reader
and pycubexr read -- or nothing at all.

Bad configuration is refused before the script runs (exit code 1, the
script's output never appears), naming the variable that is wrong.  (About
30 s: every Python runs them, since crashes, signals and names go through
each version's own interpreter.)"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cube_profile import read_profile
from helpers.disks import fill, tmpfs
from helpers.otf2_trace import cross_check, otf2_print

PROGRAM = """
import sys
def work(n):
    return sum(range(n))
for i in range(5):
    work(10)
print("program output")
sys.exit(4)
"""
PROGRAM_STDOUT = "program output\n"
PROGRAM_EXIT = 4
VISITS = {"__main__:work": 5}


def only(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def assert_readable(experiment: Path, visits: dict | None = VISITS, trace: Path | None = None,
                    profile: Path | None = None) -> None:
    """The trace reads with both OTF2 readers (no invalid reference) and the
    profile with pycubexr; both have the visits."""
    anchor = trace or experiment / "traces.otf2"
    if anchor.exists():
        via_python, via_print = cross_check(anchor)
        assert "INVALID" not in otf2_print(anchor)[0]
        for name, count in (visits or {}).items():
            assert via_python.enter_counts()[name] == count, via_python.format_call_tree()
    cubex = profile or experiment / "profile.cubex"
    if cubex.exists():
        read = read_profile(cubex)
        for name, count in (visits or {}).items():
            assert read.region_visits()[name] == count, read.format()


def refused(runner, env: dict, name: str, *expected: str, program: str = PROGRAM) -> str:
    """The run stops before the script with one line naming `name`; nothing
    is left in the working directory."""
    run = runner.script(program, env=env, timeout=30)
    assert run.returncode == 1, run.stderr
    assert run.stdout == "", "the script must not run"
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("scorep: error: "), lines[0]
    assert name in lines[0], lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    left = [entry for entry in only(runner.cwd) if entry.startswith("scorep")]
    assert left == [], left
    return lines[0]


def measured(runner, env: dict, program: str = PROGRAM, **kwargs):
    """Run the program measured and plain: same output, same exit code."""
    plain = runner.script(program, scorep=False, env=env, **kwargs)
    run = runner.script(program, env=env, **kwargs)
    assert run.stdout == plain.stdout
    assert run.returncode == plain.returncode, run.stderr
    return run


# --------------------------------------------------------------------------
# Sizes: each variable alone and in combination

@pytest.mark.parametrize("env,name,text", [
    ({"SCOREP_PAGE_SIZE": "8E"}, "SCOREP_PAGE_SIZE", "more than half of SCOREP_TOTAL_MEMORY ('16000k')"),
    ({"SCOREP_PAGE_SIZE": "0"}, "SCOREP_PAGE_SIZE", "less than the smallest page size, 4k"),
    ({"SCOREP_PAGE_SIZE": "1"}, "SCOREP_PAGE_SIZE", "less than the smallest page size, 4k"),
    ({"SCOREP_PAGE_SIZE": "4095"}, "SCOREP_PAGE_SIZE", "less than the smallest page size, 4k"),
    ({"SCOREP_PAGE_SIZE": "100G"}, "SCOREP_PAGE_SIZE", "'100G' is more than half"),
    ({"SCOREP_PAGE_SIZE": "100G", "SCOREP_TOTAL_MEMORY": "1T"}, "SCOREP_TOTAL_MEMORY", "(1048576 MiB) is more than "
     "this machine's memory"),
    ({"SCOREP_PAGE_SIZE": "100G", "SCOREP_TOTAL_MEMORY": "10G"}, "SCOREP_TOTAL_MEMORY", "'10G' is less than two "
     "pages of SCOREP_PAGE_SIZE ('100G')"),
    ({"SCOREP_TOTAL_MEMORY": "8k"}, "SCOREP_TOTAL_MEMORY", "less than two pages of SCOREP_PAGE_SIZE ('8k')"),
    ({"SCOREP_TOTAL_MEMORY": "0"}, "SCOREP_TOTAL_MEMORY", "'0' is less than two pages"),
    ({"SCOREP_TOTAL_MEMORY": "15E"}, "SCOREP_TOTAL_MEMORY", "(17293822569102704640 MiB)"[:0] + "is more than this "
     "machine's memory"),
    ({"SCOREP_TOTAL_MEMORY": "1t"}, "SCOREP_TOTAL_MEMORY", "'1t' (1048576 MiB)"),
    ({"SCOREP_TOTAL_MEMORY": "16E"}, "SCOREP_TOTAL_MEMORY", "'16E' is not a valid size"),
    ({"SCOREP_PROFILING_MAX_CALLPATH_DEPTH": "0"}, "SCOREP_PROFILING_MAX_CALLPATH_DEPTH", "'0' is less than 1"),
    ({"SCOREP_MACHINE_NAME": "m" * 1025}, "SCOREP_MACHINE_NAME", "1025 bytes long, more than 1024"),
], ids=["page-8E", "page-0", "page-1", "page-4095", "page-100G", "page-100G-total-1T", "page-100G-total-10G",
        "total-8k", "total-0", "total-15E", "total-1t", "total-16E", "depth-0", "machine-name"])
def test_a_wrong_size_is_named(runner, env, name, text):
    refused(runner, env, name, text)


def test_sizes_that_fit_together_run(runner):
    run = measured(runner, {"SCOREP_PAGE_SIZE": "4k", "SCOREP_TOTAL_MEMORY": "8k",
                            "SCOREP_ENABLE_PROFILING": "true"})
    # two pages of 4k hold no thread's buffers beside the definitions: the
    # measurement says so in one line and keeps what it has
    assert len(run.stderr.splitlines()) <= 1, run.stderr
    assert_readable(run.experiment, visits=None)


# --------------------------------------------------------------------------
# Names and paths, checked before anything is made

def test_an_overlong_base_name_is_refused_before_the_run(runner):
    refused(runner, {"SCOREP_PROFILING_BASE_NAME": "x" * 300, "SCOREP_ENABLE_PROFILING": "true"},
            "SCOREP_PROFILING_BASE_NAME", "300 bytes long, more than 231")


@pytest.mark.parametrize("base", ["a/b", "..", ".", "", " "])
def test_a_base_name_that_is_no_file_name_is_refused(runner, base):
    refused(runner, {"SCOREP_PROFILING_BASE_NAME": base, "SCOREP_ENABLE_PROFILING": "true"},
            "SCOREP_PROFILING_BASE_NAME", "is not a file name")


def test_a_path_longer_than_path_max_leaves_no_directories(runner):
    deep = "/".join(["d" * 200] * 25)  # 5025 bytes
    line = refused(runner, {"SCOREP_EXPERIMENT_DIRECTORY": deep}, "SCOREP_EXPERIMENT_DIRECTORY", "bytes long, more than")
    assert only(runner.cwd) == ["prog.py"], line


def test_a_name_too_long_to_be_moved_away_later_is_refused(runner):
    refused(runner, {"SCOREP_EXPERIMENT_DIRECTORY": "sub/" + "n" * 230}, "SCOREP_EXPERIMENT_DIRECTORY",
            "230 bytes long, more than 215")
    assert only(runner.cwd) == ["prog.py"]


@pytest.mark.parametrize("spelling", ["{cwd}/exp/", "{cwd}/exp/.", "exp//", "./exp/./", "{cwd}//exp"])
def test_spellings_of_one_directory_are_that_directory(runner, spelling):
    """Two runs, the second renames the first one's experiment away as
    <name>-<stamp> next to it (never into it)."""
    env = {"SCOREP_EXPERIMENT_DIRECTORY": spelling.format(cwd=runner.cwd), "SCOREP_ENABLE_PROFILING": "true"}
    for _ in range(2):
        run = measured(runner, env)
        assert run.stderr == ""
    entries = only(runner.cwd)
    assert len(entries) == 3 and entries[0] == "exp" and entries[2] == "prog.py", entries
    moved = [name for name in entries if name.startswith("exp-")]
    assert len(moved) == 1 and re.fullmatch(r"exp-\d{8}_\d{4}_\d+", moved[0]), entries
    assert only(runner.cwd / "exp") == only(runner.cwd / moved[0]) == ["profile.cubex", "scorep.cfg", "traces",
                                                                      "traces.def", "traces.otf2"]
    assert_readable(runner.cwd / "exp")
    assert_readable(runner.cwd / moved[0])


# --------------------------------------------------------------------------
# The filter file

def write_filter(path: Path) -> None:
    path.write_text("SCOREP_REGION_NAMES_BEGIN\n  EXCLUDE __main__:work\nSCOREP_REGION_NAMES_END\n")


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory", "missing", "too-large"])
def test_a_filter_file_that_is_no_regular_file_is_refused_at_once(runner, kind):
    path = {"dev-zero": Path("/dev/zero"), "fifo": runner.cwd / "rules.fifo", "directory": runner.cwd,
            "missing": runner.cwd / "absent.filt", "too-large": runner.cwd / "big.filt"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    if kind == "too-large":
        write_filter(path)
        os.truncate(path, 16 * 1024 * 1024 + 1)  # sparse: 16 MiB and one byte
    why = {"dev-zero": "not a regular file", "fifo": "not a regular file", "directory": "not a regular file",
           "missing": "No such file or directory", "too-large": "larger than 16 MiB"}[kind]
    refused(runner, {"SCOREP_FILTERING_FILE": str(path)}, "SCOREP_FILTERING_FILE", f"'{path}': {why}")


def test_a_filter_file_of_16_mib_is_read(runner):
    path = runner.cwd / "big.filt"
    text = "SCOREP_REGION_NAMES_BEGIN\n  EXCLUDE __main__:work\nSCOREP_REGION_NAMES_END\n"
    path.write_text(text + "#" * (16 * 1024 * 1024 - len(text) - 1) + "\n")
    run = measured(runner, {"SCOREP_FILTERING_FILE": str(path), "SCOREP_ENABLE_PROFILING": "true"})
    assert run.stderr == ""
    assert_readable(run.experiment, visits={"__main__:work": 0})


@pytest.mark.parametrize("data,line,byte", [
    (b"SCOREP_REGION_NAMES_BEGIN\nEXCLUDE f\xff\nSCOREP_REGION_NAMES_END\n", 2, "0xff"),
    (b"\xc3\x28", 1, "0xc3"),                      # a broken sequence
    (b"# ok\n# ok\n\xed\xa0\x80\n", 3, "0xed"),      # an encoded surrogate
    (b"# ok\n\x00", 2, "0x00"),                     # a NUL byte
    (b"\xc0\xaf", 1, "0xc0"),                       # an overlong form
])
def test_a_filter_file_that_is_no_utf8_names_file_and_line(runner, data, line, byte):
    path = runner.cwd / "rules.filt"
    path.write_bytes(data)
    refused(runner, {"SCOREP_FILTERING_FILE": str(path)}, "SCOREP_FILTERING_FILE",
            f"{path}:{line}: not UTF-8 text (byte {byte})")


@pytest.mark.parametrize("name", ["scorep.cfg", "profile.cubex", "traces.otf2", "traces.def", "traces",
                                  ".hidden"])
def test_a_filter_copy_never_replaces_the_measurements_files(runner, name):
    rules = runner.cwd / "rules" / name
    rules.parent.mkdir()
    write_filter(rules)
    run = measured(runner, {"SCOREP_FILTERING_FILE": str(rules), "SCOREP_ENABLE_PROFILING": "true"})
    assert run.stderr == ""
    experiment = run.experiment
    assert (experiment / "scorep.filter").read_bytes() == rules.read_bytes()
    assert "SCOREP_FILTERING_FILE=" in (experiment / "scorep.cfg").read_text()
    assert sorted(only(experiment)) == ["profile.cubex", "scorep.cfg", "scorep.filter", "traces", "traces.def",
                                        "traces.otf2"]
    assert_readable(experiment, visits={"__main__:work": 0})


# --------------------------------------------------------------------------
# No link is followed

def victim(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A directory of someone else's files, to point links at."""
    place = tmp_path.parent / (tmp_path.name + "-victim")
    place.mkdir()
    files = {}
    for name in ("a", "b", "c", "d", "e", "f"):
        (place / name).write_bytes(b"someone else's " + name.encode())
        files[name] = (place / name).read_bytes()
    return place, files


def assert_untouched(place: Path, files: dict[str, bytes]) -> None:
    assert {p.name: p.read_bytes() for p in place.iterdir()} == files


def test_a_link_at_the_temporary_name_is_left_alone(runner, tmp_path):
    place, files = victim(tmp_path)
    os.symlink(place, runner.cwd / "scorep-measurement-tmp")
    run = measured(runner, {"SCOREP_ENABLE_PROFILING": "true"})
    assert run.stderr == ""
    assert os.readlink(runner.cwd / "scorep-measurement-tmp") == str(place)
    assert_untouched(place, files)
    assert_readable(run.experiment)


@pytest.mark.parametrize("target", ["dir", "file", "dangling"])
def test_a_link_at_the_named_directory_is_refused(runner, tmp_path, target):
    place, files = victim(tmp_path)
    pointed = {"dir": place, "file": place / "a", "dangling": place / "nowhere"}[target]
    os.symlink(pointed, runner.cwd / "exp")
    run = runner.script(PROGRAM, env={"SCOREP_EXPERIMENT_DIRECTORY": "exp"})
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == f"scorep: error: invalid value for SCOREP_EXPERIMENT_DIRECTORY: '{runner.cwd}/exp' exists " \
                         f"and is not a directory\n"
    assert_untouched(place, files)
    assert os.readlink(runner.cwd / "exp") == str(pointed)


PLANTER = """
import os, sys
experiment = os.environ["SCOREP_EXPERIMENT_DIRECTORY"]
victim = sys.argv[1]
for name, target in zip(sys.argv[2::2], sys.argv[3::2]):
    os.symlink(os.path.join(victim, target), os.path.join(experiment, name))
""" + PROGRAM


def test_links_at_the_temporary_names_are_passed_by(runner, tmp_path):
    """Links planted while the program runs at the names of the temporary
    files: the measurement makes other ones, the results are complete."""
    place, files = victim(tmp_path)
    experiment = runner.cwd / "exp"
    links = ["profile.cubex.tmp", "a", "profile.cubex.tmp-1", "b"]
    runner.write("prog.py", PLANTER)
    env = {"SCOREP_EXPERIMENT_DIRECTORY": str(experiment), "SCOREP_ENABLE_PROFILING": "true"}
    run = runner.run("prog.py", str(place), *links, env=env)
    assert run.stdout == PROGRAM_STDOUT and run.returncode == PROGRAM_EXIT, run.stderr
    assert run.stderr == ""
    assert_untouched(place, files)
    assert only(experiment) == ["profile.cubex", "profile.cubex.tmp", "profile.cubex.tmp-1", "scorep.cfg", "traces",
                                "traces.def", "traces.otf2"]
    assert os.path.islink(experiment / "profile.cubex.tmp")
    assert_readable(experiment)


def test_links_at_the_final_names_are_never_replaced(runner, tmp_path):
    """Links planted at the results' own names: the results stay complete
    under their temporary names, one line each says where."""
    place, files = victim(tmp_path)
    experiment = runner.cwd / "exp"
    links = ["profile.cubex", "a", "traces.otf2", "b", "traces.def", "c", "traces", "d"]
    runner.write("prog.py", PLANTER)
    env = {"SCOREP_EXPERIMENT_DIRECTORY": str(experiment), "SCOREP_ENABLE_PROFILING": "true"}
    run = runner.run("prog.py", str(place), *links, env=env)
    assert run.stdout == PROGRAM_STDOUT and run.returncode == PROGRAM_EXIT, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 2, run.stderr
    exists = "a file of that name exists that this measurement did not make"
    staging = re.fullmatch(rf"\[Score-P\] error: cannot name the OTF2 trace file '{experiment}/traces' \({exists}\): "
                           rf"the trace is left in '({experiment}/\.scorep-traces-\d+-0)'", lines[0])
    assert staging, lines
    assert lines[1] == f"[Score-P] error: cannot name the profile '{experiment}/profile.cubex' ({exists}): it is left " \
                       f"in '{experiment}/profile.cubex.tmp'"
    assert_untouched(place, files)
    for name in ("profile.cubex", "traces.otf2", "traces.def", "traces"):
        assert os.path.islink(experiment / name)
    assert_readable(experiment, trace=Path(staging.group(1)) / "traces.otf2",
                    profile=experiment / "profile.cubex.tmp")


CLOSER = """
import os, sys
def work(n):
    return sum(range(n))
for i in range(3):
    work(10)
os.closerange(3, 4096)
# the numbers again, for directories of the program's own
held = [os.open(sys.argv[1], os.O_RDONLY) for _ in range(32)]
for i in range(2):
    work(10)
print("program output")
sys.exit(4)
"""


def test_a_program_that_closes_every_descriptor(runner, tmp_path):
    """os.closerange(3, ...) closes the experiment directory's descriptor too,
    and the program opens a directory of its own under those numbers: the
    measurement finds its directory again by its path, writes there, and
    never into the program's directory."""
    place, files = victim(tmp_path)
    runner.write("prog.py", CLOSER)
    run = runner.run("prog.py", str(place), env={"SCOREP_ENABLE_PROFILING": "true"})
    assert run.stdout == PROGRAM_STDOUT and run.returncode == PROGRAM_EXIT, run.stderr
    assert run.stderr == ""
    assert_untouched(place, files)
    assert only(run.experiment) == ["profile.cubex", "scorep.cfg", "traces", "traces.def", "traces.otf2"]
    assert_readable(run.experiment)


REPLACER = """
import os, sys
experiment = os.environ.get("SCOREP_EXPERIMENT_DIRECTORY") or "scorep-measurement-tmp"
def work(n):
    return sum(range(n))
for i in range(3):
    work(10)
os.rename(experiment, "moved")
os.symlink(sys.argv[1], experiment)
for i in range(2):
    work(10)
print("program output")
sys.exit(4)
"""


@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
def test_a_directory_replaced_by_a_link_while_the_program_runs(runner, tmp_path, named):
    """The program moves the experiment directory away and puts a link at
    its name: the link and what it points at are left alone, the results
    that can be written go where the directory went, one line says where."""
    place, files = victim(tmp_path)
    runner.write("prog.py", REPLACER)
    env = {"SCOREP_ENABLE_PROFILING": "true"}
    if named:
        env["SCOREP_EXPERIMENT_DIRECTORY"] = "exp"
    run = runner.run("prog.py", str(place), env=env)
    assert run.stdout == PROGRAM_STDOUT and run.returncode == PROGRAM_EXIT, run.stderr
    name = runner.cwd / ("exp" if named else "scorep-measurement-tmp")
    # OTF2 opens its files by path: they are not found through the link,
    # and the trace is given up; the profile is written where the directory is
    assert run.stderr.splitlines() == [
        f"[Score-P] error: cannot write the OTF2 trace file '{name}/traces/0.evt': File or directory does not "
        f"exist; the incomplete trace is removed",
        f"[Score-P] the experiment directory '{name}' was moved or replaced while the program ran: its results are "
        f"in '{runner.cwd / 'moved'}'"], run.stderr
    assert os.readlink(name) == str(place)
    assert_untouched(place, files)
    assert only(runner.cwd / "moved") == ["profile.cubex", "scorep.cfg"]
    assert_readable(runner.cwd / "moved")


# --------------------------------------------------------------------------
# Full and read-only disks

@pytest.fixture
def disk(tmp_path):
    with tmpfs(tmp_path / "disk", "1m") as mount:
        yield mount


def run_in(directory: Path, runner, env: dict) -> subprocess.CompletedProcess:
    script = runner.write("prog.py", PROGRAM)
    return subprocess.run([sys.executable, "-m", "scorep", str(script)], cwd=directory, env=runner.env(env),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("named", ["", "a/b/c"], ids=["unnamed", "named-with-parents"])
def test_a_completely_full_disk_at_the_start(disk, runner, named):
    """Nothing fits: one line, and nothing left (the parents made for a named
    directory are removed again)."""
    fill(disk)
    run = run_in(disk, runner, {"SCOREP_ENABLE_PROFILING": "true", "SCOREP_EXPERIMENT_DIRECTORY": named})
    assert run.stdout == ""
    assert run.returncode == 1
    assert re.fullmatch(r"scorep: error: cannot (create experiment directory|write) '[^']+': No space left on "
                        r"device\n", run.stderr), run.stderr
    assert only(disk) == ["filler"]


def test_parents_made_before_the_directory_failed_are_removed(runner, tmp_path):
    """Room for two more directories only: the run makes a/ and a/b/, cannot
    make the rest, and removes both again."""
    with tmpfs(tmp_path / "small", "1m", inodes=3) as place:
        run = run_in(place, runner, {"SCOREP_EXPERIMENT_DIRECTORY": "a/b/c/d"})
        assert run.stdout == "" and run.returncode == 1
        assert run.stderr == f"scorep: error: invalid value for SCOREP_EXPERIMENT_DIRECTORY: cannot create experiment " \
                             f"directory '{place}/a/b/c/d': No space left on device\n"
        assert only(place) == []


def test_a_full_disk_puts_the_previous_experiment_back(disk, runner):
    """The named directory's previous experiment was moved away for this
    run; the run is refused, and the previous one has its name again."""
    (disk / "exp").mkdir()
    (disk / "exp" / "scorep.cfg").write_text("# the previous run\n")
    fill(disk)
    run = run_in(disk, runner, {"SCOREP_EXPERIMENT_DIRECTORY": "exp"})
    assert run.stdout == "" and run.returncode == 1
    assert run.stderr == f"scorep: error: cannot write '{disk}/exp/scorep.cfg': No space left on device\n"
    assert only(disk) == ["exp", "filler"]
    assert (disk / "exp" / "scorep.cfg").read_text() == "# the previous run\n"


def test_a_read_only_working_directory(disk, runner):
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    run = run_in(disk, runner, {})
    assert run.stdout == "" and run.returncode == 1
    assert run.stderr == f"scorep: error: cannot create experiment directory '{disk}/scorep-measurement-tmp': " \
                         f"Read-only file system\n"
    assert only(disk) == []


# --------------------------------------------------------------------------
# Crashes

CRASHER = """
import ctypes, os, sys, threading
def work(n):
    return sum(range(n))
def crash(how):
    if how == "segv":
        ctypes.string_at(0)
    elif how == "abort":
        os.abort()
    elif how == "kill-segv":
        os.kill(os.getpid(), 11)
    elif how == "fpe":
        os.kill(os.getpid(), 8)
for i in range(5):
    work(10)
print("before the crash", flush=True)
how, where = sys.argv[1], sys.argv[2]
if where == "thread":
    t = threading.Thread(target=crash, args=(how,))
    t.start()
    t.join()
else:
    crash(how)
print("never")
"""


@pytest.mark.parametrize("how,signo", [("segv", signal.SIGSEGV), ("abort", signal.SIGABRT),
                                       ("kill-segv", signal.SIGSEGV), ("fpe", signal.SIGFPE)])
@pytest.mark.parametrize("where", ["main", "thread"])
def test_a_crash_leaves_a_readable_experiment(runner, how, signo, where):
    env = {"SCOREP_ENABLE_PROFILING": "true"}
    runner.write("prog.py", CRASHER)
    plain = runner.run_plain("prog.py", how, where, env=env)
    run = runner.run("prog.py", how, where, env=env)
    assert plain.returncode == run.returncode == -signo
    assert run.stdout == plain.stdout == "before the crash\n"
    assert run.stderr == plain.stderr
    experiment = run.experiment  # renamed from scorep-measurement-tmp: finished
    trace, _ = cross_check(experiment / "traces.otf2")
    trace.check_balanced()
    assert trace.enter_counts()["__main__:work"] == 5
    assert trace.enter_counts()["__main__:crash"] == 1
    profile = read_profile(experiment / "profile.cubex")
    assert profile.region_visits()["__main__:work"] == 5
    assert profile.region_visits()["__main__:crash"] == 1


ENDER = """
import os, signal, sys
def work(n):
    return sum(range(n))
for i in range(5):
    work(10)
print("before the signal", flush=True)
os.kill(os.getpid(), getattr(signal, sys.argv[1]))
signal.pause()
"""


@pytest.mark.parametrize("name", ["SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGPROF", "SIGXCPU",
                                  "SIGTRAP", "SIGSYS", "SIGHUP", "SIGTERM"])  # (Python ignores SIGXFSZ, SIGPIPE)
def test_every_signal_that_ends_the_program_by_default_leaves_its_results(runner, name):
    env = {"SCOREP_ENABLE_PROFILING": "true"}
    runner.write("prog.py", ENDER)
    plain = runner.run_plain("prog.py", name, env=env)
    run = runner.run("prog.py", name, env=env)
    assert plain.returncode == run.returncode == -getattr(signal, name)
    assert run.stdout == plain.stdout == "before the signal\n"
    assert run.stderr == plain.stderr == ""
    trace, _ = cross_check(run.experiment / "traces.otf2")
    trace.check_balanced()
    assert trace.enter_counts()["__main__:work"] == 5
    assert read_profile(run.experiment / "profile.cubex").region_visits()["__main__:work"] == 5


def test_a_crash_under_faulthandler_keeps_its_report(runner):
    env = {"SCOREP_ENABLE_PROFILING": "true"}
    runner.write("prog.py", CRASHER)
    env = {"SCOREP_ENABLE_PROFILING": "true", "PYTHONFAULTHANDLER": "1"}
    plain = runner.run_plain("prog.py", "segv", "main", env=env)
    run = runner.run("prog.py", "segv", "main", env=env)
    assert plain.returncode == run.returncode == -signal.SIGSEGV

    def report(text):
        # thread addresses differ; faulthandler lists the extension modules it finds
        lines = [re.sub(r"0x[0-9a-f]+", "0x", line) for line in text.splitlines()]
        return [line for line in lines if not line.startswith("Extension modules:") and line]
    assert report(run.stderr) == report(plain.stderr)
    assert "Fatal Python error: Segmentation fault" in run.stderr
    assert_readable(run.experiment, visits={"__main__:work": 5, "__main__:crash": 1})


# --------------------------------------------------------------------------
# Strings of any length

LONG_STRINGS = """
import threading
import scorep.user
scorep.user.parameter_string("query", "x" * 300000)
def f():
    pass
f.__code__ = f.__code__.replace(co_name="n" * 300000{qualname})
f()
t = threading.Thread(target=f, name="t" * 300000)
t.start()
t.join()
print("done")
"""


def test_strings_longer_than_an_otf2_chunk_are_cut_with_a_marker(runner):
    program = LONG_STRINGS.format(qualname=', co_qualname="q" * 300000' if sys.version_info >= (3, 11) else "")
    run = measured(runner, {"SCOREP_ENABLE_PROFILING": "true"}, program=program)
    assert run.stderr == ""
    experiment = run.experiment
    trace, _ = cross_check(experiment / "traces.otf2")
    assert "INVALID" not in otf2_print(experiment / "traces.otf2")[0]
    text = otf2_print(experiment / "traces.otf2")[0]
    letter = "q" if sys.version_info >= (3, 11) else "n"
    cut = "__main__:" + letter * (32768 - len("__main__:") - len("...[truncated]")) + "...[truncated]"
    assert len(cut.encode()) == 32768
    assert trace.enter_counts()[cut] == 2, sorted(len(name) for name in trace.enter_counts())
    assert "x" * (32768 - 14) + "...[truncated]" in text
    definitions = otf2_print(experiment / "traces.otf2", "-G")[0]
    assert 'Name: "' + "t" * (32768 - 14) + '...[truncated]"' in definitions
    profile = read_profile(experiment / "profile.cubex")
    assert profile.region_visits()[cut] == 2


def test_a_cut_never_splits_a_character(runner):
    program = 'import scorep.user\nscorep.user.parameter_string("p", "a" + "\\u20ac" * 20000)\nprint("done")\n'
    run = measured(runner, {}, program=program)
    text = otf2_print(run.experiment / "traces.otf2")[0]
    # 3 bytes each: the last whole character that fits before the marker
    keep = (32768 - 14 - 1) // 3
    assert "a" + "\u20ac" * keep + "...[truncated]" in text
    assert "\u20ac" * (keep + 1) not in text
