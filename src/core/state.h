/* The recording state that every event source reads on every event. */
#ifndef SCOREP_CORE_STATE_H
#define SCOREP_CORE_STATE_H

#include <stdbool.h>

#include "export.h"

typedef enum {
    MEASUREMENT_ACTIVE = 0,        /* events are recorded */
    MEASUREMENT_RECORDING_OFF = 1, /* recording switched off: only nesting is tracked */
    MEASUREMENT_STOPPED = 2,       /* before start or after the end: sources do nothing */
} measurement_state;

/* A measurement_state. */
extern SCOREP_API _Atomic int scorep_state;

/* Nonzero when an event may take the shortest path: recording, timestamps
 * from the TSC, no metrics to sample.  Event sources test this one flag
 * first and take their full path when it is 0. */
extern SCOREP_API _Atomic int scorep_fast;

void state_set(measurement_state state);

/* Whether the shortest path fits this measurement (its clock and metrics);
 * takes effect with the next state_set(). */
void state_allow_fast(bool allowed);

static inline measurement_state state_get(void) { return (measurement_state)scorep_state; }

/* Nonzero while the calling thread does the measurement's own work
 * (replaying events into the substrates, writing the results; the drain
 * thread always): what it does then is not the program's, and the I/O
 * wrappers leave it out. */
extern __thread unsigned state_own_work;
static inline void state_own_work_begin(void) { state_own_work++; }
static inline void state_own_work_end(void) { state_own_work--; }

#endif
