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
        found = sorted(self.outputs.glob(f"*/rank.{rank}/{stream}"))
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


def test_the_program_does_not_see_the_preload(runner):
    runner.write("env.py", """
        import os, subprocess
        print(os.environ.get("LD_PRELOAD", "none"))
        print(subprocess.run(["sh", "-c", "echo ${LD_PRELOAD:-none}"], capture_output=True, text=True).stdout.strip())
    """)
    run = mpirun(runner, 2, "--mpp=mpi", "env.py")
    assert run.returncode == 0, run.stderr
    assert [run.rank_output(rank) for rank in range(2)] == ["none\nnone\n"] * 2
