/* Delivering what a killed process had written to this process's
 * substrates (salvage.c). */
#ifndef SCOREP_CORE_SALVAGE_H
#define SCOREP_CORE_SALVAGE_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

typedef struct {
    const journal_contents *journal;  /* the killed process's definitions */
    /* its ids -> this process's (NULL: the same ids, as in recovery) */
    const uint32_t *strings, *regions, *parameters;
    uint64_t end_time;                /* out: its last event (at least its start) */
    uint32_t threads;                 /* out: its locations with events */
} salvage_job;

/* Find what a substrate wrote of the killed process in dir_fd (dir names
 * it) and deliver its events to the open substrates, each location opened
 * as it comes and left at its last event.  Returns the number of events,
 * 0 when there are none (err empty), -1 with a one-line reason. */
int64_t salvage_into_substrates(int dir_fd, const char *dir, salvage_job *job, char *err, size_t errlen);

#endif
