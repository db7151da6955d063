/* The buffer policy: how much memory the event buffers of all locations
 * may use together (SCOREP_TOTAL_MEMORY less the definitions and what the
 * substrates hold), who replays completed chunks into the substrates (the
 * drain thread, or the thread that needs room when there is none), and
 * what becomes of a location whose thread ended (replayed, closed in the
 * substrates, its memory released). */
#ifndef SCOREP_CORE_BUFFERS_H
#define SCOREP_CORE_BUFFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "location.h"

typedef struct {
    uint64_t total_memory;   /* SCOREP_TOTAL_MEMORY */
    bool flush_events;       /* record a BUFFER_FLUSH when the program had to wait */
    bool drain_thread;       /* a background thread: it runs the drain pass's hook (buffers_on_drain_pass) */
    bool drain_events;       /* and it replays full buffers while the program runs (else each thread
                              * replays its own when they are full) */
    bool drain_defers;       /* its own passes wait while the machine has no CPU to spare */
} buffers_policy;

/* Recording has ended (the program is finishing): the drain thread
 * replays what it can now, while the interpreter ends, instead of leaving
 * it all to the end. */
void buffers_recording_ended(void);

/* Start with this policy (and the drain thread, if asked for and possible). */
void buffers_start(const buffers_policy *policy);

/* Room for a record of `words` words in the location's buffer: the slow
 * path of every append.  False when there is none (memory exhausted:
 * recording has stopped, with a message). */
bool buffers_make_room(location *loc, size_t words);

/* Replay everything the location has buffered (its own thread, or anyone
 * once its thread appends no more). */
void buffers_flush(location *loc);

/* Stop the drain thread, replay what every location still holds and close
 * the regions still open at end_time.  Returns the latest time replayed. */
uint64_t buffers_finish(uint64_t end_time);

/* Bytes SCOREP_TOTAL_MEMORY leaves for event buffers now. */
uint64_t buffers_budget(void);

/* In a forked child: the drain thread does not exist there. */
void buffers_forget(void);

/* Stop the drain thread for a while (a fork: the program's process then
 * has no thread of the measurement, as CPython's fork warning counts
 * threads); it starts again with the next chunk a program thread fills. */
void buffers_pause_drain(void);
bool buffers_drain_running(void);

/* A function the drain thread runs before each pass (the measurement's
 * end on a termination signal: it may never return). */
void buffers_on_drain_pass(void (*hook)(void));

#endif
