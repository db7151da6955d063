/* The root's part in the end of an experiment of several processes: the
 * processes that ended (processes_collect) become part of its results.
 * The measurement's end does it, and so does recovery when it completes
 * a killed root's experiment. */
#ifndef SCOREP_CORE_UNIFY_H
#define SCOREP_CORE_UNIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "processes.h"
#include "substrate.h"

/* The processes killed by SIGKILL: what their trace had written is
 * delivered to the open substrates as recovery does it (their regions
 * still open at their last written event left there); one without written
 * events is left out (its directory removed).  Both are said in one line. */
void unify_take_killed(process_results *others, int experiment_fd);

/* The locations of the other processes after the root's (*locations,
 * *count: the root's, grown), and every process of the experiment, the
 * root (rank 0, this pid) first (*processes, malloc'd).  Ranks below
 * mpi_ranks are MPI ranks (named so).  False when out of memory. */
bool unify_add_processes(const process_results *others, uint32_t mpi_ranks, location_def **locations,
                         uint32_t *count, process_def **processes, uint32_t *process_count);

/* A time of process p's clock on the root's clock: its clock offsets
 * (defs.h) interpolated as OTF2 readers do, none: the same clock. */
uint64_t unify_root_time(const substrate_process *p, uint64_t time);

/* The experiment's span on the root's clock (*start, *end: the root's,
 * widened by the processes that ended). */
void unify_time_span(const process_results *others, uint64_t *start, uint64_t *end);

#endif
