/* Recording an event of a Python thread: the fast path every instrumenter
 * tries first, and the full path of the core for everything else. */
#ifndef SCOREP_CPYTHON_RECORDING_H
#define SCOREP_CPYTHON_RECORDING_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/scorep.h"
#include "regions.h"
#include "thread_state.h"

/* Calls of C functions are regions (off with --no-c-calls or
 * SCOREP_PYTHON_C_CALLS=false). */
extern bool record_c_calls;

/* The I/O wrapper library is in the process: the instrumenters follow the
 * extents of filtered functions (scorep_filtered_enter/leave: no I/O is
 * recorded in them) instead of switching their events off. */
extern bool record_filtered_extents;
static inline bool filtered_extent(uint32_t region)
{
    return __builtin_expect(record_filtered_extents, 0) && region == REGION_FILTERED;
}

/* Records the event and returns true in the common case (recording with
 * the TSC, no metrics, a thread that runs its program, a region named
 * before that fits a one-word record); otherwise returns false and the
 * caller takes its full path. */
static inline bool record_fast(thread_state *t, unsigned kind, uint32_t region)
{
    return __builtin_expect(scorep_fast != 0, 1) && __builtin_expect(t != NULL, 1) &&
           __builtin_expect(t->suspended == 0, 1) && scorep_append_fast(t->loc, kind, region);
}

/* The measurement is stopped (before its start, after its end). */
static inline bool record_stopped(void) { return scorep_state == MEASUREMENT_STOPPED; }

/* The calling thread's state if it records now (running its program, not
 * in the measurement's own code), else NULL. */
static inline thread_state *record_thread(void)
{
    if (record_stopped())
        return NULL;
    thread_state *t = thread_current();
    return t && !t->suspended ? t : NULL;
}

#endif
