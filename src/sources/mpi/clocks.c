/* Clock offsets of the ranks to rank 0, measured in MPI_Init and in
 * MPI_Finalize (both collective: every rank is there, so the exchange
 * adds no collective a rank could miss) and handed to the measurement
 * core, whose trace writes them as OTF2 clock offsets.
 *
 * Ranks on one host read one clock (the TSC and CLOCK_MONOTONIC are the
 * host's): they share one offset, measured by the lowest rank of the host
 * (its leader) against rank 0; the host of rank 0 has none.  Hosts are
 * told apart by their boot id.  With SCOREP_PYTHON_CLOCK_OFFSETS=rank
 * every rank measures its own, as Score-P does; with none, nothing is
 * measured.
 *
 * One measurement: the leader sends an empty message to rank 0 and rank
 * 0 answers with its clock; of CLOCK_ROUNDS such round trips the shortest
 * gives offset = rank 0's time - the middle of the round trip, with half
 * of it as the uncertainty.  Rank 0 serves the leaders one after the
 * other.
 *
 * Every rank takes part whether its measurement runs or not (the others
 * wait for it), so the decision depends on the configuration only, which
 * is the experiment's, and on what the launcher tells every rank alike:
 * a job on one host (every rank on rank 0's clock) exchanges nothing, so
 * that ranks outside the measurement (a part of an MPMD job run without
 * it) make no one wait; a job of several hosts needs every rank measured
 * (or SCOREP_PYTHON_CLOCK_OFFSETS=none). */
#include <fcntl.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_clocks.h"

#define CLOCK_ROUNDS 10
#define CLOCK_TAG 1

/* The communicators of the exchange, made in MPI_Init, freed in
 * MPI_Finalize: the ranks of each host, and the leaders of all hosts. */
static MPI_Comm host_comm = MPI_COMM_NULL, leaders_comm = MPI_COMM_NULL;
static bool measuring;

/* What tells this host apart: its boot id, else its name. */
static uint64_t host_key(void)
{
    char id[256] = "";
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, id, sizeof id - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        gethostname(id, sizeof id - 1);
    id[sizeof id - 1] = '\0';
    uint64_t h = UINT64_C(1469598103934665603);
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
    return h;
}

/* Whether every rank of the job runs on this host, as its launcher says
 * (each rank reads the same): then no rank needs an offset. */
static bool one_host_job(int world_size)
{
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!local)
        local = getenv("MPI_LOCALNRANKS");  /* MPICH's Hydra */
    if (local)
        return atoi(local) == world_size;
    const char *nodes = getenv("SLURM_STEP_NUM_NODES");
    if (!nodes)
        nodes = getenv("SLURM_NNODES");
    return nodes && strcmp(nodes, "1") == 0;
}

/* One offset: rank 0 (leader 0) serves every other leader in turn, each
 * leader measures and tells the ranks of its host. */
static void exchange(void)
{
    int leader = -1, leaders = 0;
    if (leaders_comm != MPI_COMM_NULL) {
        PMPI_Comm_rank(leaders_comm, &leader);
        PMPI_Comm_size(leaders_comm, &leaders);
    }
    /* time, offset, deviation (bits), and whether there is an offset at all */
    uint64_t result[4] = {0, 0, 0, 0};
    if (leader == 0) {
        for (int peer = 1; peer < leaders; peer++)
            for (int round = 0; round < CLOCK_ROUNDS; round++) {
                char ping;
                PMPI_Recv(&ping, 0, MPI_BYTE, peer, CLOCK_TAG, leaders_comm, MPI_STATUS_IGNORE);
                uint64_t now = scorep_clock_now();
                PMPI_Send(&now, 1, MPI_UINT64_T, peer, CLOCK_TAG, leaders_comm);
            }
    } else if (leader > 0) {
        uint64_t best = UINT64_MAX;
        for (int round = 0; round < CLOCK_ROUNDS; round++) {
            char ping = 0;
            uint64_t there = 0, before = scorep_clock_now();
            PMPI_Send(&ping, 0, MPI_BYTE, 0, CLOCK_TAG, leaders_comm);
            PMPI_Recv(&there, 1, MPI_UINT64_T, 0, CLOCK_TAG, leaders_comm, MPI_STATUS_IGNORE);
            uint64_t after = scorep_clock_now();
            if (after - before < best) {
                best = after - before;
                uint64_t middle = before + best / 2;
                int64_t offset = (int64_t)(there - middle);
                double deviation = (double)best / 2;
                result[0] = middle;
                memcpy(&result[1], &offset, sizeof offset);
                memcpy(&result[2], &deviation, sizeof deviation);
                result[3] = 1;
            }
        }
    }
    if (host_comm != MPI_COMM_NULL)
        PMPI_Bcast(result, 4, MPI_UINT64_T, 0, host_comm);
    if (result[3]) {
        int64_t offset;
        double deviation;
        memcpy(&offset, &result[1], sizeof offset);
        memcpy(&deviation, &result[2], sizeof deviation);
        scorep_clock_offset(result[0], offset, deviation);
    }
}

void mpi_clocks_init(int world_rank, int world_size)
{
    const measurement_config *cfg = scorep_configuration();
    const char *mode = cfg && cfg->python_clock_offsets ? cfg->python_clock_offsets : "host";
    /* every rank takes part whatever its measurement's state: the others wait for it */
    if (strcmp(mode, "none") == 0 || (strcmp(mode, "host") == 0 && one_host_job(world_size)))
        return;
    /* the ranks of a host: split by its key (in two halves: a color is an int) */
    uint64_t key = strcmp(mode, "rank") == 0 ? (uint64_t)world_rank : host_key();
    MPI_Comm half = MPI_COMM_NULL;
    if (PMPI_Comm_split(MPI_COMM_WORLD, (int)(key & 0x7fffffff), world_rank, &half) != MPI_SUCCESS)
        return;
    int split = PMPI_Comm_split(half, (int)((key >> 32) & 0x7fffffff), world_rank, &host_comm);
    PMPI_Comm_free(&half);
    int host_rank = -1;
    if (split != MPI_SUCCESS || PMPI_Comm_rank(host_comm, &host_rank) != MPI_SUCCESS)
        return;
    if (PMPI_Comm_split(MPI_COMM_WORLD, host_rank == 0 ? 0 : MPI_UNDEFINED, world_rank, &leaders_comm) !=
        MPI_SUCCESS) {
        PMPI_Comm_free(&host_comm);
        return;
    }
    measuring = true;
    exchange();
}

void mpi_clocks_finalize(void)
{
    if (!measuring)
        return;
    measuring = false;
    exchange();  /* (recorded only while the measurement runs) */
    if (leaders_comm != MPI_COMM_NULL)
        PMPI_Comm_free(&leaders_comm);
    if (host_comm != MPI_COMM_NULL)
        PMPI_Comm_free(&host_comm);
}
