/* The public interface of the measurement core, libscorep_measurement.so:
 * what event sources use to record into the measurement of their process
 * (the CPython extension, the MPI and I/O wrapper libraries, any C code).
 * There is one measurement per process, shared by every library that links
 * this one: one clock, one set of definitions, one location per thread.
 *
 * Every function is safe to call from any thread at any time; before the
 * measurement starts and after it ends they do nothing (and return
 * NULL/false/DEFS_NO_ID).  Event sources call only what is declared here;
 * the headers included below are for the types and the inline fast path. */
#ifndef SCOREP_CORE_SCOREP_H
#define SCOREP_CORE_SCOREP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "defs.h"
#include "events.h"
#include "export.h"
#include "location.h"
#include "state.h"

typedef location scorep_location;

/* ---- the measurement ---- */

typedef struct {
    const char *program;      /* the executable: the program region's name */
    int argc;                 /* the program's arguments, for the trace */
    char **argv;
    bool verbose;             /* as SCOREP_VERBOSE=true */
    /* Crash signals (SIGSEGV, SIGABRT, ...) are caught while their action
     * is the default one, and also when it is a handler that hands the
     * signal on once it is done (Python's faulthandler): the results are
     * written first.  Any other handler is the program's own business
     * (some runtimes use SIGSEGV routinely). */
    bool crash_handlers_hand_on;
    /* this process joins the experiment in this directory (whose root is
     * running), as a further process of it (processes.h); NULL: it starts
     * an experiment of its own, as the root */
    const char *join;
    bool no_children;          /* as SCOREP_PYTHON_CHILDREN=false */
    /* The ranks of a parallel job (mpirun, srun: by its environment)
     * measure into one experiment, whose root is the job's rank 0
     * (processes.h); with mpi_ranks (--mpp=mpi) they are named
     * "MPI Rank <n>", otherwise as processes. */
    bool mpi_ranks;
} scorep_start_info;

/* Read the configuration (SCOREP_* variables), create the experiment
 * directory and open the substrates; the calling thread becomes the master
 * location.  False with a one-line message in err (nothing is written then).
 * Starting a running measurement does nothing and returns true. */
SCOREP_API bool scorep_measurement_start(const scorep_start_info *info, char *err, size_t errlen);

/* End the measurement: stop recording, replay every buffer into the
 * substrates, write the results and give the experiment directory its
 * final name.  False when some result could not be written (each failure
 * was reported on stderr in one line).  Safe to call twice. */
SCOREP_API bool scorep_measurement_finish(void);

/* The process ends at once, with the other processes of the experiment
 * (MPI_Abort): scorep_measurement_finish() without waiting for them (the
 * root takes in those that have ended; the others are not in the
 * experiment). */
SCOREP_API bool scorep_measurement_finish_now(void);

/* Stop recording now (every source's events end here; the end of the
 * measurement's time line is now), but write nothing yet: a later
 * scorep_measurement_finish() writes the results, e.g. once the exit
 * status is known.  Does nothing unless running. */
SCOREP_API void scorep_measurement_stop(void);

/* After scorep_measurement_finish(): this process may start a measurement
 * of its own again (scorep_measurement_start), with the definitions it
 * has (event sources keep their ids).  Only the calling thread records in
 * the new one unless others call scorep_location_current() anew.  False
 * unless finished. */
SCOREP_API bool scorep_measurement_reset(void);

typedef enum { SCOREP_NOT_STARTED, SCOREP_RUNNING, SCOREP_FINISHED } scorep_phase;
SCOREP_API scorep_phase scorep_measurement_phase(void);

/* Complete what a killed run (SIGKILL) left in the experiment directory
 * `path`, in another process that measures nothing, with the
 * configuration of the SCOREP_* variables (those of the run's scorep.cfg):
 * the events its trace had written and the journal of its definitions
 * become the experiment the run would have written had it ended at its
 * last written event.  The leftover's own files are removed once the
 * results are written; a scorep-measurement-tmp or scorep-failed-
 * directory then gets its scorep-<stamp> name.  True with the final path
 * (malloc'd) in *result and one line about what was recovered in message;
 * false with a one-line reason in err (the leftover's own files are kept;
 * a directory that holds results already is refused). */
SCOREP_API bool scorep_recover(const char *path, char **result, char *message, size_t messagelen, char *err,
                               size_t errlen);

/* The directory being written (its final name once finished); NULL if none. */
SCOREP_API const char *scorep_experiment_directory(void);

/* Before a fork of the program (e.g. os.register_at_fork): the
 * measurement's own thread stops, so the program forks a process with only
 * its own threads; it starts again by itself with the next buffer chunk a
 * program thread fills (after fork() has returned: Python counts threads
 * for its fork warning after the parent's fork hooks). */
SCOREP_API void scorep_fork_prepare(void);
/* While signo's action is the default (ending the process), catch it: the
 * measurement's own thread then writes the results at once, whatever the
 * program's threads do, and ends the process by that signal.  False if it
 * cannot (another handler is set, or no drain thread runs). */
SCOREP_API bool scorep_catch_termination(int signo);

/* After fork(), in the child (e.g. os.register_at_fork(after_in_child)):
 * measure it as a further process of the experiment, from here on, with
 * the forking thread as its master location; the parent's buffered events
 * are not its.  False when it is not measured (children are not followed,
 * or the experiment has ended): it then records nothing. */
SCOREP_API bool scorep_fork_child_start(void);

/* The experiment directory further processes join (to be passed on to
 * programs this one starts), or NULL when they are not measured. */
SCOREP_API const char *scorep_children_experiment(void);

/* The program's exit status, for the end of the trace. */
SCOREP_API void scorep_set_exit_status(int status);

/* The configuration in effect (NULL before the start). */
SCOREP_API const measurement_config *scorep_configuration(void);

/* ---- threads ---- */

/* The calling thread's location, made on its first call (the first
 * location is the master thread's); NULL when not running. */
SCOREP_API scorep_location *scorep_location_current(void);

/* Name the location as the program names its thread. */
SCOREP_API void scorep_location_set_name(scorep_location *loc, const char *name);

/* ---- definitions ---- */

/* A region (unique by name, file and first line; user regions by name);
 * DEFS_NO_ID when out of memory. */
SCOREP_API uint32_t scorep_region_define(const char *name, const char *group, const char *file, uint32_t first_line,
                                         region_role role, region_paradigm paradigm);
/* Is this region excluded by SCOREP_FILTERING_FILE?  (Sources ask once per
 * region and cache the answer.) */
SCOREP_API bool scorep_region_filtered(const char *name, const char *file);

/* The region of a function a wrapper library wraps (MPI_Send, write,
 * fopen, ...), defined at its first recorded call and kept in *slot (one
 * per function, zero at first): DEFS_NO_ID while the filter excludes it
 * (asked once) or it cannot be defined (not running: asked again). */
#define SCOREP_WRAPPED_FILTERED UINT32_MAX
SCOREP_API uint32_t scorep_wrapped_region_define(_Atomic uint32_t *slot, const char *name, const char *group,
                                                 region_role role, region_paradigm paradigm);
static inline uint32_t scorep_wrapped_region(_Atomic uint32_t *slot, const char *name, const char *group,
                                             region_role role, region_paradigm paradigm)
{
    uint32_t known = atomic_load_explicit(slot, memory_order_relaxed);  /* id + 1, 0: not yet */
    if (__builtin_expect(known != 0 && known != SCOREP_WRAPPED_FILTERED, 1))
        return known - 1;
    return known ? DEFS_NO_ID : scorep_wrapped_region_define(slot, name, group, role, paradigm);
}
SCOREP_API uint32_t scorep_region_count(void);
/* String id of a region's name. */
SCOREP_API uint32_t scorep_region_name(uint32_t region);
SCOREP_API uint32_t scorep_string_define(const char *text);
SCOREP_API uint32_t scorep_parameter_define(const char *name, parameter_type type);

/* ---- events of the calling thread's location ---- */

/* Enter and leave a region: while recording is off only the nesting is
 * kept (a region entered before it went off still gets its leave). */
SCOREP_API void scorep_enter(scorep_location *loc, uint32_t region);
SCOREP_API void scorep_leave(scorep_location *loc, uint32_t region);

/* The shortest path of an enter or leave, for sources that have checked
 * scorep_fast (recording, TSC clock, no metrics): records and returns true
 * in the common case, else returns false and the caller takes the full
 * path (scorep_enter/scorep_leave). */
static inline bool scorep_append_fast(scorep_location *loc, unsigned kind, uint32_t region)
{
    return __builtin_expect(region < EVENT_REGION_LIMIT, 1) &&
           location_append_short(loc, kind, region, clock_now_tsc());
}

SCOREP_API void scorep_parameter_int(scorep_location *loc, uint32_t parameter, int64_t value);
SCOREP_API void scorep_parameter_uint(scorep_location *loc, uint32_t parameter, uint64_t value);
SCOREP_API void scorep_parameter_string(scorep_location *loc, uint32_t parameter, uint32_t string);

/* Switch recording on or off for the whole process (MEASUREMENT_ON_OFF). */
SCOREP_API void scorep_recording_set(scorep_location *loc, bool on);

/* Rewind regions: scorep_rewind_end(..., true) drops what the location
 * recorded since the scorep_rewind_begin of that name. */
SCOREP_API void scorep_rewind_begin(scorep_location *loc, uint32_t name);
SCOREP_API rewind_result scorep_rewind_end(scorep_location *loc, uint32_t name, bool discard);

/* ---- MPI (the MPI wrapper library) ---- */

/* A communicator (defs.h, comm_def): its id for MPI events; DEFS_NO_ID
 * when not running or out of memory.  The key must be the same in every
 * process that is a member: the root unifies communicators by it. */
SCOREP_API uint32_t scorep_comm_define(uint64_t key, const char *name, uint32_t parent, uint32_t size,
                                       const uint32_t *members);

/* An MPI event of the calling thread's location (events.h), recorded
 * while recording is on. */
SCOREP_API void scorep_mpi_event(scorep_location *loc, const mpi_record *record);

/* ---- POSIX I/O (the I/O wrapper library) ---- */

/* Whether the calling thread's I/O is the program's and recorded now: the
 * measurement runs and records, and the thread is not doing the
 * measurement's own work (writing its results). */
SCOREP_API bool scorep_io_recorded(void);

/* The calling thread enters (leaves) the extent of a region the filter
 * excludes (a Python function, a C function): I/O there is not recorded
 * (scorep_io_recorded() is false until it has left every such extent).
 * The CPython instrumenters follow these extents only when the I/O
 * wrapper library is in the process. */
SCOREP_API void scorep_filtered_enter(void);
SCOREP_API void scorep_filtered_leave(void);

/* A new I/O handle (defs.h, io_handle_def); DEFS_NO_ID when not running. */
SCOREP_API uint32_t scorep_io_handle_define(const char *name, const char *file, uint32_t flags, uint32_t mode,
                                            uint32_t status);

/* The name of the file of an I/O handle ("" if there is none such). */
SCOREP_API const char *scorep_io_handle_file(uint32_t handle);

/* An I/O event of the calling thread's location (events.h). */
SCOREP_API void scorep_io_event(scorep_location *loc, const io_record *record);

/* This process's clock at local time (clock_now() ticks) was offset ticks
 * behind the experiment's clock (rank 0's), measured with the given
 * uncertainty (defs.h, clock_offset_def); ignored when not running. */
SCOREP_API void scorep_clock_offset(uint64_t time, int64_t offset, double deviation);

/* The clock's current reading in ticks, as events get it. */
SCOREP_API uint64_t scorep_clock_now(void);

/* This process's rank in the experiment (MPI_COMM_WORLD's rank for a job's
 * rank), 0 before the start. */
SCOREP_API uint32_t scorep_process_rank(void);

/* ---- messages and facts ---- */

SCOREP_API void scorep_log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
SCOREP_API void scorep_log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Events replayed into the substrates and the bytes their buffered records
 * took, over all locations. */
SCOREP_API void scorep_buffer_statistics(uint64_t *events, uint64_t *record_bytes);

SCOREP_API bool scorep_clock_tsc_usable(void);
SCOREP_API double scorep_clock_cost_ns(clock_kind kind);
SCOREP_API const char *scorep_clock_name(clock_kind kind);

/* The configuration variables (SCOREP_*), for --config-vars. */
SCOREP_API const config_var_info *scorep_config_variables(int *count);
SCOREP_API const char *scorep_config_type_name(config_type type);

SCOREP_API bool scorep_has_papi(void);

#endif
