/* The processes of one experiment: the root (the process that started the
 * measurement, rank 0) and every process it or its children start that
 * is measured too (fork, exec of a Python with this package).
 *
 * Each further process joins the root's experiment: it takes the next rank
 * under a lock in <experiment>/.scorep-processes/ranks and makes its own
 * directory there, <rank>/, which it holds locked (flock) while it lives
 * and in which it measures as a process alone would (its journal, its
 * substrates' files, all with its own definition ids).  At its end its
 * substrates leave their results there unpublished and its journal gets
 * an end record.
 *
 * The root, at its end, closes the experiment to newcomers, waits (a
 * bounded time) for the processes still alive, reads each ended one's
 * journal, maps its definitions onto its own (unification: strings by
 * text, regions by name, file and line, parameters by name and type) and
 * has its substrates merge that process's results (substrate.h, merge).
 * A process that is still running after the wait is left out (said in one
 * line); it finds the experiment closed at its end and removes its own
 * directory. */
#ifndef SCOREP_CORE_PROCESSES_H
#define SCOREP_CORE_PROCESSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "substrate.h"

#define PROCESSES_DIR ".scorep-processes"

/* The processes of a parallel job (mpirun, srun) are started side by side,
 * not by one another: each rank's measurement joins the experiment of the
 * job's rank 0, which is its root, under its rank in the job; ranks
 * 0..size-1 are theirs, the processes they start come after them.  The
 * root's experiment is found by its path (the same for every rank of the
 * job: SCOREP_EXPERIMENT_DIRECTORY, or a temporary name made of the job's
 * id) and is the job's once it holds <experiment>/.scorep-processes/job
 * with the job's id. */
typedef struct {
    char id[64];                /* the job's id, as a part of a file name */
    uint32_t rank, size;
    uint32_t local_size;        /* its ranks on this host (0: not known) */
} job_info;

/* Is this process a rank of a job, by its environment (Open MPI's
 * OMPI_COMM_WORLD_RANK/SIZE and job id, or Slurm's SLURM_PROCID/NTASKS,
 * job and step)?  size > 1 only. */
bool processes_job_from_environment(job_info *job);

/* Whether the CPUs this process may run on have one to spare beside the
 * job's ranks on this host that share them (a drain thread would take a
 * rank's core otherwise). */
bool processes_job_spare_cpu(const job_info *job);

/* The root of a job, its experiment created: ranks below the job's size
 * are reserved, and the experiment is marked as the job's. */
bool processes_job_open(int experiment_fd, const job_info *job, bool mpi, char *err, size_t errlen);

/* The experiment is a job's: its size and whether its ranks are MPI ranks. */
bool processes_job_of(int experiment_fd, uint32_t *size, bool *mpi);

/* A further rank: wait (at most wait_s seconds) until the experiment at
 * dir is the job's, with its root running.  False when it is not. */
bool processes_job_wait(const char *dir, const job_info *job, double wait_s);

/* A further process: join the experiment in root_dir (whose root must be
 * running) as the next process, or with the rank it is given (a job's
 * rank: fixed_rank < UINT32_MAX).  Returns its own directory's path
 * (malloc'd), locked and held as this process's experiment directory
 * (experiment_hold), with its rank; NULL with a one-line reason in err. */
char *processes_join(const char *root_dir, uint32_t fixed_rank, uint32_t *rank, char *err, size_t errlen);

/* A further process at its end, its results written: let go of its
 * directory.  Returns whether the root takes them; if not (it finished
 * without this process), the directory is emptied and removed. */
bool processes_leave(void);

/* An ended process, as the root takes it in. */
typedef struct {
    substrate_process p;        /* what the substrates get */
    journal_contents journal;
    uint32_t *maps;             /* strings, regions, parameters (p points into it) */
    location_def *locations;
    char *dir;
    int dir_fd;
    bool killed;                /* it ended without its end record (SIGKILL): only its written events remain */
    bool merged;
} process_result;

/* Define r's journal's definitions in this process and map its ids to
 * them (r->p); false when out of memory. */
bool processes_map(process_result *r);

/* Free what a process_result holds, and close its directory. */
void process_result_free(process_result *r);

typedef struct {
    process_result *ended;      /* ranks in order, the killed ones too */
    uint32_t ended_count;
    uint32_t left_out;          /* still running after the wait, or unreadable */
    uint32_t absent;            /* ranks of the job that never joined */
    double waited_s;            /* for those still running */
} process_results;

/* The root at its end: close the experiment to newcomers, wait up to
 * wait_s seconds for the processes still running (and for the ranks of
 * its job below job_size that have not joined yet), and read every ended
 * one, its definitions mapped onto this process's (defs.h).  Nothing is
 * collected when no other process joined. */
void processes_collect(int experiment_fd, const char *experiment_dir, uint32_t job_size, double wait_s,
                       process_results *out);

/* Remove the directory of the process of this rank. */
void processes_remove(int experiment_fd, uint32_t rank);

/* Remove a merged process's directory; free everything. */
void processes_release(int experiment_fd, process_results *results);

#endif
