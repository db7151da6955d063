"""MPI: the ranks of an mpirun job measure into one experiment, and with
--mpp=mpi their MPI calls are regions of the MPI paradigm, recorded by the
C wrapper library the interpreter is started with (LD_PRELOAD).

Real Open MPI (mpirun, oversubscribed on this machine's cores) and mpi4py
built against it; the traces are read with the otf2 reader or otf2-print."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Run

pytestmark = pytest.mark.mpi

MPIRUN = shutil.which("mpirun")


class MpiRun(Run):
    """What mpirun gave, with each rank's own stdout and stderr (mpirun
    interleaves the ranks' output on its own stdout character by character,
    measured or not: --output-filename keeps them apart)."""

    def __init__(self, done, cwd: Path, outputs: Path) -> None:
        super().__init__(done.returncode, done.stdout, done.stderr, cwd)
        self.outputs = outputs

    def rank_output(self, rank: int, stream: str = "stdout") -> str:
        # (Open MPI pads the rank with zeros from 10 ranks on: rank.03)
        found = sorted(path for path in self.outputs.glob(f"*/rank.*/{stream}")
                       if int(path.parent.name.partition(".")[2]) == rank)
        assert len(found) == 1, f"rank {rank}: {found}"
        return found[0].read_text()


def mpirun(runner, ranks: int, *args: str, env: dict | None = None, tracing: bool = True, scorep: bool = True,
           timeout: float = 240, outputs: str = "ranks-out") -> MpiRun:
    assert MPIRUN, "mpirun is missing: scripts/setup.sh installs openmpi-bin"
    environment = runner.env(env, tracing)
    environment.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    where = Path(runner.cwd).parent / f"{Path(runner.cwd).name}-{outputs}-{'scorep' if scorep else 'plain'}"
    shutil.rmtree(where, ignore_errors=True)
    command = [MPIRUN, "-n", str(ranks), "--oversubscribe", "--output-filename", str(where), sys.executable] + \
        (["-m", "scorep"] if scorep else []) + list(args)
    done = subprocess.run(command, cwd=runner.cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    return MpiRun(done, runner.cwd, where)


def groups(trace):
    """Location group name -> its locations."""
    out: dict = {}
    for loc in trace.locations:
        out.setdefault(loc.group, []).append(loc)
    return out


RING = """
import array
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

def step(i):
    data = bytearray(8 * (rank + 1))
    incoming = bytearray(8 * ((rank - 1) % size + 1))
    if rank % 2 == 0:
        comm.Send([data, MPI.BYTE], dest=(rank + 1) % size, tag=i)
        comm.Recv([incoming, MPI.BYTE], source=(rank - 1) % size, tag=i)
    else:
        comm.Recv([incoming, MPI.BYTE], source=(rank - 1) % size, tag=i)
        comm.Send([data, MPI.BYTE], dest=(rank + 1) % size, tag=i)

for i in range(ROUNDS):
    step(i)
comm.Barrier()
total = array.array("i", [0])
comm.Allreduce([array.array("i", [rank]), MPI.INT], [total, MPI.INT], op=MPI.SUM)
print(f"rank {rank} of {size}: {total[0]}")
"""


@pytest.mark.parametrize("ranks", [2, 4, 8])
def test_mpi_regions_on_every_rank_in_one_experiment(runner, ranks):
    runner.write("ring.py", RING.replace("ROUNDS", "5"))
    plain = mpirun(runner, ranks, "ring.py", scorep=False)
    assert plain.returncode == 0, plain.stderr
    run = mpirun(runner, ranks, "--mpp=mpi", "ring.py")
    assert run.returncode == 0, run.stderr
    # each rank's output is the program's own
    for rank in range(ranks):
        assert run.rank_output(rank) == plain.rank_output(rank) == f"rank {rank} of {ranks}: {sum(range(ranks))}\n"
    trace = run.trace()
    trace.check_balanced()
    by_group = groups(trace)
    assert sorted(by_group) == sorted(f"MPI Rank {r}" for r in range(ranks))
    # one location group per rank, in rank order: the group of location id r is rank r's
    for rank in range(ranks):
        masters = [loc for loc in by_group[f"MPI Rank {rank}"] if loc.name == "Master thread"]
        assert len(masters) == 1
        counts = trace.enter_counts(masters[0])
        assert counts["__main__:step"] == 5
        assert counts["MPI_Send"] == 5 and counts["MPI_Recv"] == 5
        assert counts["MPI_Barrier"] == 1 and counts["MPI_Allreduce"] == 1
        assert counts["MPI_Init_thread"] == 1
    # MPI regions: paradigm MPI, Score-P's roles; each region defined once (by name, file and line)
    keys = [(r.name, r.source_file, r.begin_line) for r in trace.region_definitions]
    assert len(keys) == len(set(keys))
    by_name = {region.name: region for region in trace.region_definitions}
    assert by_name["MPI_Send"].paradigm == "MPI" and by_name["MPI_Send"].role == "POINT2POINT"
    assert by_name["MPI_Barrier"].role == "BARRIER"
    assert by_name["MPI_Allreduce"].role == "COLL_ALL2ALL"
    assert by_name["MPI_Init_thread"].role == "FUNCTION"
    # the MPI call is under the Python call path that made it
    for loc in trace.locations:
        for path, count in trace.call_tree(loc).items():
            if path[-1] == "MPI_Send":
                assert "__main__:step" in path, path


def test_thread_level_warning_once_and_mpi_alias(runner):
    runner.write("ring.py", RING.replace("ROUNDS", "1"))
    run = mpirun(runner, 2, "--mpi", "ring.py")
    assert run.returncode == 0, run.stderr
    stderr = run.rank_output(0, "stderr") + run.rank_output(1, "stderr")
    warnings = [line for line in stderr.splitlines() if "Warning: Support for MPI_THREAD_" in line]
    assert len(warnings) == 1, stderr
    assert run.rank_output(1, "stderr") == ""
    assert warnings[0].startswith("[Score-P] ") and warnings[0].endswith(
        ": Warning: Support for MPI_THREAD_MULTIPLE is currently experimental!")
    trace = run.trace()
    assert sorted(groups(trace)) == ["MPI Rank 0", "MPI Rank 1"]


def test_funneled_gives_no_warning(runner):
    runner.write("funneled.py", """
        import mpi4py
        mpi4py.rc.thread_level = "funneled"
        from mpi4py import MPI
        MPI.COMM_WORLD.Barrier()
    """)
    run = mpirun(runner, 2, "--mpp=mpi", "funneled.py")
    assert run.returncode == 0, run.stderr
    assert "MPI_THREAD" not in run.rank_output(0, "stderr") + run.rank_output(1, "stderr")
    trace = run.trace()
    assert [trace.enter_counts(loc)["MPI_Barrier"] for loc in trace.locations] == [1, 1]


def test_ranks_without_mpp_are_processes_of_one_experiment(runner):
    # no MPI measured: the ranks are the processes of the job, in rank order
    runner.write("noinit.py", """
        import os
        def work(n):
            return n
        rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
        for i in range(rank + 1):
            work(i)
        print("rank", rank)
    """)
    run = mpirun(runner, 4, "noinit.py")
    assert run.returncode == 0, run.stderr
    for rank in range(4):
        assert run.rank_output(rank) == f"rank {rank}\n"
        assert run.rank_output(rank, "stderr") == ""
    trace = run.trace()
    assert len(trace.locations) == 4
    for loc in trace.locations:
        assert loc.group.startswith("Process ")
        # location ids are thread << 32 | rank: the rank in the job
        rank = loc.id & 0xFFFFFFFF
        assert trace.enter_counts(loc)["__main__:work"] == rank + 1
        assert not any(name.startswith("MPI_") for name in trace.enter_counts(loc))


def test_a_program_that_never_initialises_mpi(runner):
    runner.write("never.py", "import os\nprint('rank', os.environ['OMPI_COMM_WORLD_RANK'])\n")
    run = mpirun(runner, 2, "--mpp=mpi", "never.py")
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(2)] == ["rank 0\n", "rank 1\n"]
    trace = run.trace()
    assert sorted(groups(trace)) == ["MPI Rank 0", "MPI Rank 1"]
    assert not any(name.startswith("MPI_") for name in trace.enter_counts())


def test_late_initialisation_and_explicit_finalize(runner):
    """mpi4py with rc.initialize = False: MPI starts when the program says so
    (MPI_Init, not MPI_Init_thread), after Python work, and ends with an
    explicit MPI_Finalize before the program's end."""
    runner.write("late.py", """
import mpi4py
mpi4py.rc.initialize = False
mpi4py.rc.finalize = False
from mpi4py import MPI

def before():
    return sum(range(10))

for _ in range(4):
    before()
assert not MPI.Is_initialized()
MPI.Init()
rank = MPI.COMM_WORLD.Get_rank()
total = MPI.COMM_WORLD.allreduce(rank)
MPI.Finalize()
print(rank, total, MPI.Is_finalized())
""")
    run = mpirun(runner, 2, "--mpp=mpi", "late.py")
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(2)] == ["0 1 True\n", "1 1 True\n"]
    trace = run.trace()
    trace.check_balanced()
    by_group = groups(trace)
    for rank in range(2):
        (master,) = by_group[f"MPI Rank {rank}"]
        counts = trace.enter_counts(master)
        assert counts["__main__:before"] == 4
        assert counts["MPI_Init"] == 1 and counts["MPI_Finalize"] == 1 and "MPI_Init_thread" not in counts
        # MPI_Init comes after the Python work that preceded it
        order = [event.region for event in master.events if event.kind == "enter"]
        assert order.index("MPI_Init") > max(i for i, name in enumerate(order) if name == "__main__:before")


def test_children_of_a_rank_come_after_the_ranks(runner):
    runner.write("pool.py", """
        import multiprocessing as mp, os
        def task(x):
            return x * 2
        if __name__ == "__main__":
            rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
            if rank == 1:
                with mp.get_context("fork").Pool(2) as pool:
                    print(sum(pool.map(task, range(10))))
    """)
    run = mpirun(runner, 2, "--mpp=mpi", "pool.py")
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(2)] == ["", "90\n"]
    trace = run.trace()
    names = sorted(groups(trace))
    assert names[:2] == ["MPI Rank 0", "MPI Rank 1"]
    assert len(names) == 4 and all(name.startswith("Process ") for name in names[2:])
    ranks = sorted({loc.id & 0xFFFFFFFF for loc in trace.locations})
    assert ranks == [0, 1, 2, 3]
    assert sum(trace.enter_counts(loc)["__main__:task"] for loc in trace.locations) == 10


def test_bad_mpp_value(runner):
    runner.write("prog.py", "print('hi')\n")
    run = runner.run("--mpp=shmem", "prog.py")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == "scorep: error: invalid --mpp 'shmem' (choose from mpi, none) (see python -m scorep --help)\n"
    assert run.experiments() == []


def test_mpi4py_of_another_mpi_is_refused_before_the_program_starts(runner, tmp_path):
    # an mpi4py whose extension module needs MPICH's libmpi.so.12: a stand-in
    # built here (a library of that soname, a module linked against it)
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler"
    fake = tmp_path / "fake"
    package = fake / "mpi4py"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (fake / "stub.c").write_text("int stub_function(void) { return 0; }\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(fake / "libmpi.so.12"), "-Wl,-soname,libmpi.so.12",
                    str(fake / "stub.c")], check=True)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(package / "MPI.cpython-test.so"), str(fake / "stub.c"),
                    "-Wl,--no-as-needed", str(fake / "libmpi.so.12")], check=True)
    runner.write("prog.py", "print('ran')\n")
    run = runner.run("--mpp=mpi", "prog.py", env={"PYTHONPATH": str(fake)})
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"scorep: error: --mpp=mpi: mpi4py ({package}) uses libmpi.so.12, but scorep's MPI "
                               "wrappers were built for libmpi.so.40")
    assert run.experiments() == []


def test_an_installation_without_the_mpi_wrappers_is_refused_before_the_program_starts(runner, tmp_path):
    # the installed package as a build without an MPI (no mpicc) leaves it: without libscorep_mpi.so
    import scorep

    copy = tmp_path / "without-mpi"
    shutil.copytree(Path(scorep.__file__).parent, copy / "scorep",
                    ignore=shutil.ignore_patterns("libscorep_mpi.so", "__pycache__"))
    assert not (copy / "scorep" / "libscorep_mpi.so").exists()
    runner.write("prog.py", "print('ran')\n")
    run = runner.run("--mpp=mpi", "prog.py", env={"PYTHONPATH": str(copy)})
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr == ("scorep: error: --mpp=mpi: scorep was installed without its MPI wrapper library (no mpicc "
                          "was found when it was built); install an MPI (Debian: apt-get install openmpi-bin "
                          "libopenmpi-dev) and reinstall scorep\n")
    assert run.experiments() == []
    # without --mpp=mpi that installation measures as ever
    run = runner.run("prog.py", env={"PYTHONPATH": str(copy)})
    assert run.returncode == 0 and run.stdout == "ran\n", run.stderr
    assert len(run.experiments()) == 1


def test_the_program_does_not_see_the_preload(runner):
    runner.write("env.py", """
        import os, subprocess
        print(os.environ.get("LD_PRELOAD", "none"))
        print(subprocess.run(["sh", "-c", "echo ${LD_PRELOAD:-none}"], capture_output=True, text=True).stdout.strip())
    """)
    run = mpirun(runner, 2, "--mpp=mpi", "env.py")
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(2)] == ["none\nnone\n"] * 2


# ---- MPI events, read with the otf2 reader ----

def mpi_events(run):
    """[(rank, kind, fields)] of every MPI record, per location in order; and
    the communicators: name -> [(members' location ids), ...]."""
    import otf2

    events, comms = [], {}
    anchor = str(run.experiment / "traces.otf2")
    with otf2.reader.open(anchor) as reader:
        for comm in reader.definitions.comms:
            comms.setdefault(comm.name, []).append(tuple(loc._ref for loc in comm.group.members))
        for loc, event in reader.events:
            kind = type(event).__name__
            if not kind.startswith("Mpi"):
                continue
            fields = {name: getattr(event, name) for name in dir(event)
                      if not name.startswith("_") and name not in ("time", "attributes")}
            if "communicator" in fields:
                comm = fields["communicator"]
                fields["communicator"] = (comm.name, tuple(member._ref for member in comm.group.members))
            events.append((loc._ref & 0xFFFFFFFF, kind, fields))
    return events, comms


P2P = """
import array
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
right, left = (rank + 1) % size, (rank - 1) % size

# blocking: every rank sends rank+1 ints to the right, tag 10 + rank
out = array.array("i", [rank] * (rank + 1))
got = array.array("i", [0] * (left + 1))
if rank % 2 == 0:
    comm.Send([out, MPI.INT], dest=right, tag=10 + rank)
    comm.Recv([got, MPI.INT], source=left, tag=10 + left)
else:
    comm.Recv([got, MPI.INT], source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG)
    comm.Send([out, MPI.INT], dest=right, tag=10 + rank)
assert list(got) == [left] * (left + 1)

# non-blocking both ways, completed by Waitall
send_buf = array.array("d", [1.0] * 3)
recv_buf = array.array("d", [0.0] * 3)
requests = [comm.Irecv([recv_buf, MPI.DOUBLE], source=left, tag=99),
            comm.Isend([send_buf, MPI.DOUBLE], dest=right, tag=99)]
MPI.Request.Waitall(requests)

# collectives on the world and on a split communicator
comm.Barrier()
value = array.array("q", [rank])
total = array.array("q", [0])
comm.Allreduce([value, MPI.INT64_T], [total, MPI.INT64_T], op=MPI.SUM)
data = array.array("b", [7] * 16) if rank == 0 else array.array("b", [0] * 16)
comm.Bcast([data, MPI.BYTE], root=0)
half = comm.Split(color=rank % 2, key=rank)
part = array.array("q", [0])
half.Allreduce([value, MPI.INT64_T], [part, MPI.INT64_T], op=MPI.SUM)
copy = comm.Dup()
copy.Barrier()
print(rank, total[0], part[0], list(data)[:2])
"""


@pytest.mark.parametrize("ranks", [2, 4])
def test_point_to_point_collectives_and_communicators(runner, ranks):
    runner.write("p2p.py", P2P)
    run = mpirun(runner, ranks, "--mpp=mpi", "p2p.py")
    assert run.returncode == 0, run.stderr
    for rank in range(ranks):
        halves = sum(r for r in range(ranks) if r % 2 == rank % 2)
        assert run.rank_output(rank) == f"{rank} {sum(range(ranks))} {halves} [7, 7]\n"
    events, comms = mpi_events(run)
    world = tuple(range(ranks))
    assert comms["MPI_COMM_WORLD"] == [world]
    assert sorted(comms["MPI_COMM_SELF"]) == [(r,) for r in range(ranks)]
    # the split: one communicator per color, with its members in key order; the duplicate of the world
    unnamed = sorted(comms[""])
    evens, odds = tuple(range(0, ranks, 2)), tuple(range(1, ranks, 2))
    assert unnamed == sorted([evens, odds, world])

    def of(rank, kind):
        return [fields for r, k, fields in events if r == rank and k == kind]

    for rank in range(ranks):
        right, left = (rank + 1) % ranks, (rank - 1) % ranks
        # blocking: each send has the receive that matches it in communicator, tag and bytes
        assert of(rank, "MpiSend") == [{"receiver": right, "communicator": ("MPI_COMM_WORLD", world),
                                        "msg_tag": 10 + rank, "msg_length": 4 * (rank + 1)}]
        assert of(rank, "MpiRecv") == [{"sender": left, "communicator": ("MPI_COMM_WORLD", world),
                                        "msg_tag": 10 + left, "msg_length": 4 * (left + 1)}]
        # non-blocking: the request events, tied by request id
        (irecv_request,) = of(rank, "MpiIrecvRequest")
        (isend,) = of(rank, "MpiIsend")
        (isend_complete,) = of(rank, "MpiIsendComplete")
        (irecv,) = of(rank, "MpiIrecv")
        assert isend["receiver"] == right and isend["msg_tag"] == 99 and isend["msg_length"] == 24
        assert isend_complete["request_id"] == isend["request_id"]
        assert irecv == {"sender": left, "communicator": ("MPI_COMM_WORLD", world), "msg_tag": 99,
                         "msg_length": 24, "request_id": irecv_request["request_id"]}
        assert irecv_request["request_id"] != isend["request_id"]
        # collectives: begin/end pairs, in program order
        ends = of(rank, "MpiCollectiveEnd")
        assert len(of(rank, "MpiCollectiveBegin")) == len(ends)
        summary = [(str(e["collective_op"]).rpartition(".")[2], e["communicator"][1], e["root"], e["size_sent"],
                    e["size_received"]) for e in ends]
        mine = evens if rank % 2 == 0 else odds
        no_root = 2**32 - 1
        program = [("BARRIER", world, no_root, 0, 0), ("ALLREDUCE", world, no_root, 8, 8),
                   ("BCAST", world, 0, 16 * ranks if rank == 0 else 0, 16), ("ALLREDUCE", mine, no_root, 8, 8),
                   ("BARRIER", world, no_root, 0, 0)]
        # mpi4py and the communicators' making add collectives of their own (e.g. the split's); the program's are there in order
        it = iter(summary)
        assert all(any(step == seen for seen in it) for step in program), summary


# ---- MPMD jobs ----

MPMD = """
from mpi4py import MPI
comm = MPI.COMM_WORLD
rank = comm.Get_rank()
def part():
    return PART
half = comm.Split(rank % 2, rank)
total = comm.allreduce(rank)
half.Barrier()
print(part(), rank, half.Get_size(), total)
"""


def mpmd(runner, second_measured: bool, env: dict) -> MpiRun:
    """mpirun of a.py on ranks 0-1, measured, and b.py on ranks 2-3, measured or not."""
    runner.write("a.py", MPMD.replace("PART", "'a'"))
    runner.write("b.py", MPMD.replace("PART", "'b'"))
    environment = runner.env(env, True)
    environment.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    where = Path(runner.cwd).parent / f"{Path(runner.cwd).name}-mpmd-out"
    shutil.rmtree(where, ignore_errors=True)
    measured = ["-m", "scorep", "--mpp=mpi"]
    command = [MPIRUN, "--oversubscribe", "--output-filename", str(where), "-n", "2", sys.executable, *measured,
               "a.py", ":", "-n", "2", sys.executable, *(measured if second_measured else []), "b.py"]
    done = subprocess.run(command, cwd=runner.cwd, env=environment, capture_output=True, text=True, timeout=240)
    return MpiRun(done, runner.cwd, where)


def test_mpmd_job_of_two_measured_programs(runner):
    run = mpmd(runner, True, {})
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(4)] == ["a 0 2 6\n", "a 1 2 6\n", "b 2 2 6\n", "b 3 2 6\n"]
    trace = run.trace()
    trace.check_balanced()
    by_group = groups(trace)
    assert sorted(by_group) == [f"MPI Rank {r}" for r in range(4)]
    for rank in range(4):
        (master,) = by_group[f"MPI Rank {rank}"]
        counts = trace.enter_counts(master)
        assert counts["__main__:part"] == 1 and counts["MPI_Comm_split"] == 1, (rank, counts)
    events, comms = mpi_events(run)
    # the split's two halves, one communicator each (mpi4py makes a duplicate of the world of its own)
    assert sorted(c for c in comms[""] if len(c) == 2) == [(0, 2), (1, 3)]


def test_mpmd_job_with_a_part_outside_the_measurement(runner):
    """Ranks 2 and 3 run without scorep: the measured ranks neither wait
    for them in MPI (communicators are made without a message of ours, a
    job on one host exchanges no clocks) nor longer than
    SCOREP_PYTHON_CHILDREN_WAIT at the end; the trace has the measured
    ranks' events and the other two ranks as empty locations."""
    run = mpmd(runner, False, {"SCOREP_PYTHON_CHILDREN_WAIT": "2"})
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(4)] == ["a 0 2 6\n", "a 1 2 6\n", "b 2 2 6\n", "b 3 2 6\n"]
    assert "[Score-P] 2 ranks of the job never joined its experiment within SCOREP_PYTHON_CHILDREN_WAIT=2 s " \
           "(they are not measured): left out" in run.rank_output(0, "stderr")
    trace = run.trace()
    trace.check_balanced()
    by_group = groups(trace)
    assert sorted(by_group) == [f"MPI Rank {r}" for r in range(4)]
    for rank in range(4):
        (master,) = by_group[f"MPI Rank {rank}"]
        counts = trace.enter_counts(master)
        if rank < 2:
            assert counts["__main__:part"] == 1 and counts["MPI_Comm_split"] == 1, (rank, counts)
        else:
            assert counts == {}, (rank, counts)


# ---- one timeline: clock offsets to rank 0 ----

PING_PONG = """
import array
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
buf = array.array("b", [0])
# latency-bound: every even rank plays ping-pong with the odd one after it
peer = rank + 1 if rank % 2 == 0 else rank - 1
for i in range(200):
    if rank % 2 == 0:
        comm.Send([buf, MPI.BYTE], dest=peer, tag=i)
        comm.Recv([buf, MPI.BYTE], source=peer, tag=i)
    else:
        comm.Recv([buf, MPI.BYTE], source=peer, tag=i)
        comm.Send([buf, MPI.BYTE], dest=peer, tag=i)
comm.Barrier()
"""


def clock_offsets(run):
    """Location id -> [(time, offset, deviation)] as otf2-print -C shows them."""
    import re

    done = subprocess.run(["otf2-print", "-C", str(run.experiment / "traces.otf2")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out: dict = {}
    for line in done.stdout.splitlines():
        if line.startswith("CLOCK_OFFSET"):
            m = re.fullmatch(r"CLOCK_OFFSET\s+(\d+)\s+Time: (\d+), Offset: ([+-]?\d+), StdDev: ([0-9.e+-]+)", line)
            assert m, line
            out.setdefault(int(m[1]), []).append((int(m[2]), int(m[3]), float(m[4])))
    return out


def message_delays(run):
    """For every message: its receive's time minus its send's time (ticks,
    as the otf2 reader gives them: corrected by the clock offsets), with the
    ranks of sender and receiver."""
    import otf2

    sends, recvs = {}, {}
    with otf2.reader.open(str(run.experiment / "traces.otf2")) as reader:
        for loc, event in reader.events:
            rank = loc._ref & 0xFFFFFFFF
            kind = type(event).__name__
            if kind == "MpiSend":
                sends.setdefault((rank, event.receiver, event.msg_tag), []).append(event.time)
            elif kind == "MpiRecv":
                recvs.setdefault((event.sender, rank, event.msg_tag), []).append(event.time)
    assert sorted(sends) == sorted(recvs) and sends
    return [(sender, receiver, received - sent) for (sender, receiver, tag), times in sends.items()
            for sent, received in zip(times, recvs[(sender, receiver, tag)])]


def test_ranks_of_one_host_share_its_clock(runner):
    """The ranks of one host read one clock: no offsets, and no message is
    received before it was sent."""
    runner.write("pp.py", PING_PONG)
    run = mpirun(runner, 4, "--mpp=mpi", "pp.py")
    assert run.returncode == 0, run.stderr
    assert clock_offsets(run) == {}
    delays = message_delays(run)
    assert len(delays) == 4 * 200
    assert min(delay for _, _, delay in delays) > 0


def test_clock_offsets_per_rank(runner):
    """SCOREP_PYTHON_CLOCK_OFFSETS=rank: every rank but rank 0 measures its
    offset in MPI_Init and in MPI_Finalize; on one host the true offset is
    0, so each measured one is within its uncertainty (half the shortest
    round trip) of 0, and the corrected times keep every message within
    the two ranks' uncertainties of causal."""
    runner.write("pp.py", PING_PONG)
    run = mpirun(runner, 4, "--mpp=mpi", "pp.py", env={"SCOREP_PYTHON_CLOCK_OFFSETS": "rank"})
    assert run.returncode == 0, run.stderr
    offsets = clock_offsets(run)
    assert sorted(offsets) == [1, 2, 3]
    worst = {0: 0.0}
    for rank, records in offsets.items():
        assert len(records) == 2, records
        (t0, o0, d0), (t1, o1, d1) = records
        assert t0 < t1
        assert abs(o0) <= d0 + 1 and abs(o1) <= d1 + 1
        assert 0 < d0 and 0 < d1
        worst[rank] = max(d0, d1)
    for sender, receiver, delay in message_delays(run):
        assert delay > -(worst[sender] + worst[receiver]) - 2


def test_no_clock_offsets_when_switched_off(runner):
    runner.write("pp.py", PING_PONG)
    run = mpirun(runner, 2, "--mpp=mpi", "pp.py",
                 env={"SCOREP_PYTHON_CLOCK_OFFSETS": "none"})
    assert run.returncode == 0, run.stderr
    assert clock_offsets(run) == {}


def test_bad_clock_offsets_value(runner):
    runner.write("pp.py", PING_PONG)
    run = mpirun(runner, 2, "--mpp=mpi", "pp.py", env={"SCOREP_PYTHON_CLOCK_OFFSETS": "sometimes"})
    assert run.returncode != 0
    assert "SCOREP_PYTHON_CLOCK_OFFSETS" in run.stderr and "'sometimes'" in run.stderr


# ---- cores full: the drain thread ----

def test_no_drain_thread_when_the_ranks_fill_the_cores(runner):
    """SCOREP_PYTHON_DRAIN_THREAD=auto (the default): as many ranks as this
    process may use CPUs leave none to spare, so the ranks flush their own
    buffers; asked for, they have it; a process outside a job has it."""
    runner.write("pp.py", PING_PONG)
    cpus = len(os.sched_getaffinity(0))
    ranks = max(2, cpus + cpus % 2)  # the ping-pong pairs ranks
    run = mpirun(runner, ranks, "--mpp=mpi", "pp.py", env={"SCOREP_VERBOSE": "true"})
    assert run.returncode == 0, run.stderr
    for rank in range(ranks):
        assert "[Score-P] drain thread: no (no CPU to spare" in run.rank_output(rank, "stderr")
    run = mpirun(runner, ranks, "--mpp=mpi", "pp.py", env={"SCOREP_VERBOSE": "true", "SCOREP_PYTHON_DRAIN_THREAD": "true"},
                 outputs="asked")
    assert run.returncode == 0, run.stderr
    for rank in range(ranks):
        assert "[Score-P] drain thread: yes\n" in run.rank_output(rank, "stderr")
    alone = runner.run("-c", "pass", env={"SCOREP_VERBOSE": "true"})
    assert alone.returncode == 0, alone.stderr
    assert "[Score-P] drain thread: yes\n" in alone.stderr


def test_profile_has_mpi_regions_and_bytes_per_rank(runner):
    runner.write("p2p.py", P2P)
    run = mpirun(runner, 2, "--mpp=mpi", "p2p.py", tracing=False, env={"SCOREP_ENABLE_PROFILING": "true"})
    assert run.returncode == 0, run.stderr
    from pycubexr import CubexParser

    with CubexParser(str(run.experiment / "profile.cubex")) as cube:
        names = [m.name for m in cube.get_metrics()]
        assert names == ["visits", "time", "min_time", "max_time", "bytes_sent", "bytes_received"]
        assert [loc.name for loc in cube.get_locations()] == ["Master thread", "Master thread"]
        values = {name: cube.get_metric_values(cube.get_metric_by_name(name)) for name in names}

        def per_rank(metric, region, parent="__main__:<module>"):
            total = [0, 0]
            for cnode in cube.all_cnodes():
                if cube.get_region(cnode).name == region and cnode.parent and \
                        cube.get_region(cnode.parent).name == parent:
                    for rank, value in enumerate(values[metric].cnode_values(cnode)[:2]):
                        total[rank] += int(value)
            return total

        # rank r sends 4 * (r + 1) bytes and receives its left neighbour's
        assert per_rank("visits", "MPI_Send") == [1, 1]
        assert per_rank("bytes_sent", "MPI_Send") == [4, 8]
        assert per_rank("bytes_received", "MPI_Recv") == [8, 4]
        assert per_rank("bytes_sent", "MPI_Isend") == [24, 24]
        assert per_rank("bytes_received", "MPI_Waitall") == [24, 24]
        # two Allreduces of 8 bytes (the world's and the split's), on the same call path
        assert per_rank("visits", "MPI_Allreduce") == [2, 2]
        assert per_rank("bytes_sent", "MPI_Allreduce") == [16, 16]
        assert per_rank("bytes_received", "MPI_Allreduce") == [16, 16]
        # the root of the broadcast sends its 16 bytes to each of the 2 ranks
        assert per_rank("bytes_sent", "MPI_Bcast") == [32, 0]
        assert per_rank("bytes_received", "MPI_Bcast") == [16, 16]


def test_readme_lists_exactly_the_wrapped_functions():
    root = Path(__file__).resolve().parent.parent
    listed = subprocess.run([sys.executable, str(root / "src" / "sources" / "mpi" / "generate.py"), "--list"],
                            capture_output=True, text=True, check=True).stdout.split()[::2]
    readme = (root / "README.md").read_text()
    section = readme.split("\n### MPI\n")[1].split("\n### ")[0]
    shown = section.split("The wrapped functions (")[1]
    count, _, rest = shown.partition(")")
    import re

    names = re.findall(r"`(MPI_\w+)`", rest)
    assert names == listed and int(count) == len(listed)
    # and the library built here has exactly these
    library = Path(subprocess.run([sys.executable, "-c", "import scorep, os; print(os.path.dirname(scorep.__file__))"],
                                  capture_output=True, text=True, cwd="/", check=True).stdout.strip()) / \
        "libscorep_mpi.so"
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True,
                             check=True).stdout.split()
    assert sorted(s for s in symbols if s.startswith("MPI_")) == sorted(listed)


THREADS = """
import array, threading
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
assert MPI.Query_thread() == MPI.THREAD_MULTIPLE

def talk(t):
    buf, got, peer = array.array("i", [t] * 4), array.array("i", [0] * 4), 1 - rank
    for i in range(10):
        if rank == 0:
            comm.Send([buf, MPI.INT], dest=peer, tag=100 * t + i)
            comm.Recv([got, MPI.INT], source=peer, tag=100 * t + i)
        else:
            comm.Recv([got, MPI.INT], source=peer, tag=100 * t + i)
            comm.Send([buf, MPI.INT], dest=peer, tag=100 * t + i)
        assert list(got) == [t] * 4

threads = [threading.Thread(target=talk, args=(t,), name=f"talker-{t}") for t in range(3)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
comm.Barrier()
print(rank, "done")
"""


def test_mpi_from_several_threads(runner):
    runner.write("threads.py", THREADS)
    run = mpirun(runner, 2, "--mpp=mpi", "threads.py")
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(2)] == ["0 done\n", "1 done\n"]
    trace = run.trace()
    trace.check_balanced()
    events, _ = mpi_events(run)
    by_name = {loc.id: loc for loc in trace.locations}
    for rank in range(2):
        group = groups(trace)[f"MPI Rank {rank}"]
        assert sorted(loc.name for loc in group) == ["Master thread", "talker-0", "talker-1", "talker-2"]
    for loc_id, loc in by_name.items():
        if not loc.name.startswith("talker-"):
            continue
        t = int(loc.name[-1])
        sends = [fields for r, kind, fields in events if kind == "MpiSend" and r == loc_id & 0xFFFFFFFF]
        # each thread's messages are on its own location, with its tags
        mine = [e for e in sends if e["msg_tag"] // 100 == t]
        assert len(mine) == 10
        assert trace.enter_counts(loc)["MPI_Send"] == 10 and trace.enter_counts(loc)["MPI_Recv"] == 10


def test_mpi4py_futures(runner):
    runner.write("futures.py", """
        from mpi4py.futures import MPIPoolExecutor
        def square(x):
            return x * x
        if __name__ == "__main__":
            with MPIPoolExecutor() as executor:
                print(sum(executor.map(square, range(20))))
    """)
    run = mpirun(runner, 3, "--mpp=mpi", "-m", "mpi4py.futures", "futures.py")
    assert run.returncode == 0, run.stderr
    assert run.rank_output(0) == "2470\n"
    trace = run.trace()
    assert sorted(groups(trace)) == ["MPI Rank 0", "MPI Rank 1", "MPI Rank 2"]
    # the workers ran every task, each exactly once (mpi4py.futures runs the script there as __worker__)
    assert sum(trace.enter_counts(loc)["__worker__:square"] for loc in trace.locations) == 20
    assert trace.enter_counts(trace.locations[0])["__worker__:square"] == 0


FAILS = """
from mpi4py import MPI
import time
comm = MPI.COMM_WORLD
rank = comm.Get_rank()
def work():
    return rank
for _ in range(3):
    work()
comm.Barrier()
if rank == 1:
    raise RuntimeError("rank 1 fails")
time.sleep(SLEEP)
"""


@pytest.mark.parametrize("how", ["abort", "exception"])
@pytest.mark.parametrize("ranks", [3, 4])
def test_a_failing_rank_leaves_a_complete_experiment(runner, how, ranks):
    """Rank 1 fails: with python -m mpi4py its exception becomes MPI_Abort;
    without, it ends with exit status 1. Either way mpirun ends the other
    ranks (SIGTERM, and SIGKILL as soon as one of them ends): each writes
    its results, the ranks wait for rank 0 to take them in, and rank 0
    finishes the experiment with every rank's events. (Without MPI_Abort,
    Open MPI's MPI_Finalize in rank 1's exit waits for the other ranks,
    which end by themselves after 2 s.)"""
    runner.write("fails.py", FAILS.replace("SLEEP", "30" if how == "abort" else "2"))
    args = ["-m", "mpi4py", "fails.py"] if how == "abort" else ["fails.py"]
    run = mpirun(runner, ranks, "--mpp=mpi", *args, timeout=120)
    assert run.returncode != 0
    assert "RuntimeError: rank 1 fails" in run.rank_output(1, "stderr")
    assert [p.name.startswith("scorep-measurement-tmp") for p in run.experiments()] == [False], run.experiments()
    trace = run.trace()
    trace.check_balanced()
    by_group = groups(trace)
    assert sorted(by_group) == [f"MPI Rank {r}" for r in range(ranks)]
    for rank in range(ranks):
        (master,) = by_group[f"MPI Rank {rank}"]
        counts = trace.enter_counts(master)
        assert counts["__main__:work"] == 3 and counts["MPI_Barrier"] == 1, (rank, counts)
    # no rank left its directory behind
    assert not (run.experiment / ".scorep-processes").exists()


def test_posix_io_of_every_rank(runner):
    """--mpp=mpi with --io=posix: each rank's I/O is on its own location
    group, its handles mapped to the experiment's."""
    runner.write("ranks_io.py", """
from mpi4py import MPI
rank = MPI.COMM_WORLD.Get_rank()
with open(f"rank{rank}.txt", "wb", buffering=0) as f:
    f.write(b"r" * (rank + 4))
MPI.COMM_WORLD.Barrier()
""")
    run = mpirun(runner, 3, "--mpp=mpi", "--io=posix", "ranks_io.py")
    assert run.returncode == 0, run.stderr
    from test_io import completions

    written = {event.handle.file.name: (loc.group.name, event.handle.name, event.bytes_result)
               for loc, event in completions(run, lambda name: name.startswith("rank"))}
    assert written == {f"rank{r}.txt": (f"MPI Rank {r}", f"[POSIX I/O] rank{r}.txt", r + 4) for r in range(3)}
