/* The drain thread: replays full event chunks into the substrates (OTF2
 * encoding, profile aggregation) while the program runs, on another core,
 * so that the threads of the program only ever append records.  It holds
 * no Python lock; chunks are handed over under a short per-location lock
 * once per chunk.  It wakes every millisecond or so by itself, or when the
 * buffers fill up. */
#ifndef SCOREP_CORE_DRAIN_H
#define SCOREP_CORE_DRAIN_H

#include <stdbool.h>
#include <stdint.h>

/* Start the thread (false if it cannot be started: callers then flush
 * inline). */
bool drain_start(void);

/* Stop it after one last pass; safe to call when it is not running. */
void drain_stop(void);

bool drain_running(void);

/* A location completed a chunk: wake the thread if it sleeps and the
 * buffered bytes have reached 1/16 of the budget (below that, the
 * thread's own periodic passes keep up). */
void drain_notify(uint64_t buffered, uint64_t budget);

/* Wait until the buffered bytes are at most `limit` or the thread can make
 * no more progress; false if it is not running. */
bool drain_wait_below(uint64_t limit);

/* Forget the thread in a forked child (it does not exist there). */
void drain_forget(void);

#endif
