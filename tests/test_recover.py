"""Recovery after SIGKILL: ``python -m scorep.recover DIR`` turns what a
killed traced run had written (its event chunks and the journal of its
definitions) into an experiment that otf2-print, the otf2 reader and
pycubexr read, with every region still open at a thread's last written
event left there.  What was not yet written is lost, never more: the
recovered visits are bounded by what the program did and by what the
measurement can hold unwritten.  (Runs on every Python: the journal is
written by the interpreter's own threads.)"""
from __future__ import annotations

import pytest

import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.cube_profile import read_profile
from helpers.otf2_trace import cross_check

STAMP = r"\d{8}_\d{4}_\d+"
MASTER_CALLS = 800_000  # far more than the measurement holds unwritten
THREAD_CALLS = 100_000
MEMORY = 1_000_000  # SCOREP_TOTAL_MEMORY of the killed runs
# what may still be unwritten when the master is killed, in calls of work()
# (two events each): the core's buffers (SCOREP_TOTAL_MEMORY at 8 bytes and
# more per event) and OTF2's (its 4 MiB file buffer and a 256 KiB chunk, at
# 10 bytes and more per event: a timestamp record and the event)
UNWRITTEN_CALLS = (MEMORY // 8 + (4 * 2**20 + 2**18) // 10) // 2

KILLED = f"""
import os, signal, threading, time
def work(i):
    return i
def worker(n):
    for i in range(n):
        work(i)
def spin(n):
    worker(n)
threads = [threading.Thread(target=spin, args=({THREAD_CALLS},), name=f"busy-{{k}}") for k in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
time.sleep(1)  # the measurement writes what the ended threads recorded
worker({MASTER_CALLS})
print("killing", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
SMALL = f"""
import os, signal
def work(i):
    return i
for i in range({MASTER_CALLS}):
    work(i)
os.kill(os.getpid(), signal.SIGKILL)
"""
ENV = {"SCOREP_TOTAL_MEMORY": str(MEMORY)}


def recover(cwd: Path, *paths: str):
    return subprocess.run([sys.executable, "-m", "scorep.recover", *paths], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def reader_counts(anchor: Path) -> tuple[collections.Counter, collections.Counter, dict]:
    """Enters and leaves per (location name, region name) through the otf2
    reader, whose events must be in time order per location; and the
    clock properties."""
    import otf2  # as the helpers do: lazily
    enters: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    last: dict = {}
    with otf2.reader.open(str(anchor)) as trace:
        clock = trace.definitions.clock_properties
        for location, event in trace.events:
            assert event.time >= last.get(location.name, 0), (location.name, event)
            last[location.name] = event.time
            if isinstance(event, otf2.events.Enter):
                enters[(location.name, event.region.name)] += 1
            elif isinstance(event, otf2.events.Leave):
                leaves[(location.name, event.region.name)] += 1
        return enters, leaves, {"resolution": clock.timer_resolution, "length": clock.trace_length}


def print_counts(anchor: Path) -> collections.Counter:
    """Enters per (location id, region name) as otf2-print shows them."""
    out = subprocess.run(["otf2-print", str(anchor)], capture_output=True, text=True, check=True).stdout
    assert "INVALID" not in out
    counts: collections.Counter = collections.Counter()
    for line in out.splitlines():
        if line.startswith("ENTER "):
            fields = line.split(None, 3)
            counts[(int(fields[1]), fields[3].split('"')[1])] += 1
    return counts


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.heavy  # recovery is the C core's: the same on every Python
def test_killed_traced_run_is_recovered_into_trace_and_profile(runner):
    run = runner.script(KILLED, env={**ENV, "SCOREP_ENABLE_PROFILING": "true"}, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert run.stdout == "killing\n" and run.stderr == ""
    leftover = runner.cwd / "scorep-measurement-tmp"
    assert ".scorep-journal" in hidden(leftover)
    assert not (leftover / "traces.otf2").exists() and not (leftover / "profile.cubex").exists()

    done = recover(runner.cwd, "scorep-measurement-tmp")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    match = re.fullmatch(r"scorep: recovered (\d+) events of 3 threads, ([\d.]+) s of the run up to the last event "
                         rf"written: ({re.escape(str(runner.cwd))}/scorep-{STAMP})\n", done.stdout)
    assert match, done.stdout
    experiment = Path(match.group(3))
    assert not leftover.exists()
    # nothing of the leftover or of the recovery is left behind
    assert hidden(experiment) == []
    assert sorted(os.listdir(experiment)) == ["profile.cubex", "scorep.cfg", "traces", "traces.def", "traces.otf2"]

    enters, leaves, clock = reader_counts(experiment / "traces.otf2")
    # every region left, at the thread's last written event at the latest
    assert enters == leaves
    names = sorted({name for name, _ in enters})
    assert names == ["Master thread", "busy-0", "busy-1"], names
    # killed while it ran: most of what it did, never more
    assert MASTER_CALLS - UNWRITTEN_CALLS <= enters[("Master thread", "__main__:work")] <= MASTER_CALLS, enters
    for thread in ("busy-0", "busy-1"):
        # ended before the kill: everything
        assert enters[(thread, "__main__:work")] == THREAD_CALLS
        assert enters[(thread, "threading.Thread:run")] == 1
    # otf2-print reads the same; the profile holds what the trace holds
    by_id = print_counts(experiment / "traces.otf2")
    assert sorted(by_id.values()) == sorted(enters.values())
    profile = read_profile(experiment / "profile.cubex")
    for thread in names:
        assert profile.region_visits(location=thread)["__main__:work"] == enters[(thread, "__main__:work")]
        assert profile.region_visits(location=thread)["__main__:worker"] == 1
    assert sum(enters.values()) + sum(leaves.values()) <= int(match.group(1))
    # one time line in seconds, within the run (a few seconds at most)
    seconds = float(match.group(2))
    assert 0.05 < seconds < 120
    assert abs(clock["length"] / clock["resolution"] - seconds) < 0.01


def test_the_next_run_names_the_command_and_the_moved_leftover_recovers(runner):
    killed = runner.script(SMALL, env=ENV, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    second = runner.script("print('second')\n", name="second.py")
    assert second.returncode == 0 and second.stdout == "second\n"
    failed = [p for p in runner.cwd.iterdir() if p.name.startswith("scorep-failed-")]
    assert len(failed) == 1
    assert second.stderr == (f"[Score-P] an experiment directory left by a run that did not finish was moved to "
                             f"'{failed[0]}'; if its trace had written events, 'python -m scorep.recover "
                             f"{failed[0]}' makes a readable experiment of them\n")
    done = recover(runner.cwd, str(failed[0]))
    assert done.returncode == 0, done.stderr
    experiment = Path(done.stdout.rsplit(": ", 1)[1].strip())
    assert re.fullmatch(rf"scorep-{STAMP}", experiment.name)
    assert print_counts(experiment / "traces.otf2")[(0, "__main__:work")] >= MASTER_CALLS - UNWRITTEN_CALLS


def test_a_named_directory_keeps_its_name(runner):
    killed = runner.script(SMALL, env={**ENV, "SCOREP_EXPERIMENT_DIRECTORY": "exp"}, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    done = recover(runner.cwd, "exp")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f": {runner.cwd / 'exp'}\n"), done.stdout
    assert sorted(os.listdir(runner.cwd / "exp")) == ["scorep.cfg", "traces", "traces.def", "traces.otf2"]
    assert print_counts(runner.cwd / "exp" / "traces.otf2")[(0, "__main__:work")] >= MASTER_CALLS - UNWRITTEN_CALLS
    # done once: a second recovery finds results and changes nothing
    again = recover(runner.cwd, "exp")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr == (f"python -m scorep.recover: error: '{runner.cwd / 'exp'}' holds results already "
                            "(traces.otf2, traces/ or profile.cubex): nothing is recovered into it\n")


def test_a_live_run_is_never_recovered(runner):
    runner.write("live.py", "import time\nprint('up', flush=True)\ntime.sleep(3)\nprint('end')\n")
    live = subprocess.Popen([sys.executable, "-m", "scorep", "live.py"], cwd=runner.cwd, env=runner.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert live.stdout.readline() == "up\n"
    done = recover(runner.cwd, "scorep-measurement-tmp")
    out, err = live.communicate(timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"python -m scorep.recover: error: '{runner.cwd / 'scorep-measurement-tmp'}' is being "
                           "written by a measurement that is still running\n")
    assert live.returncode == 0 and out == "end\n" and err == ""
    experiments = [p for p in runner.cwd.iterdir() if p.name.startswith("scorep-")]
    assert len(experiments) == 1 and re.fullmatch(rf"scorep-{STAMP}", experiments[0].name)
    cross_check(experiments[0] / "traces.otf2")


def test_nothing_to_recover_is_one_line_and_changes_nothing(runner):
    # a profile-only run writes nothing while it runs
    killed = runner.script(SMALL, tracing=False, env={"SCOREP_ENABLE_PROFILING": "true"}, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    leftover = runner.cwd / "scorep-measurement-tmp"
    before = sorted(os.listdir(leftover))
    done = recover(runner.cwd, "scorep-measurement-tmp")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"python -m scorep.recover: error: '{leftover}' has no journal of a traced run "
                           "('.scorep-journal'): No such file or directory\n")
    assert sorted(os.listdir(leftover)) == before

    # a traced run killed before its first chunk was written
    early = runner.cwd / "early"
    early.mkdir()
    quick = subprocess.run([sys.executable, "-m", "scorep", "-c", "import os, signal; os.kill(os.getpid(), 9)"],
                           cwd=early, env=runner.env(), capture_output=True, text=True, timeout=60)
    assert quick.returncode == -signal.SIGKILL
    done = recover(early, "scorep-measurement-tmp")
    assert done.returncode == 1
    assert done.stderr.startswith(f"python -m scorep.recover: error: '{early / 'scorep-measurement-tmp'}' holds no "
                                  "event files of the run to recover"), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert (early / "scorep-measurement-tmp" / ".scorep-journal").exists()

    other = runner.cwd / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    done = recover(runner.cwd, "other", "missing")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"python -m scorep.recover: error: 'other' is not an experiment directory: cannot read "
        f"other/scorep.cfg: No such file or directory",
        f"python -m scorep.recover: error: 'missing' is not an experiment directory: cannot read "
        f"missing/scorep.cfg: No such file or directory",
    ]
    assert os.listdir(other) == ["notes.txt"]
