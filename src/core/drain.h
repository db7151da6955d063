/* The drain thread: runs the buffer policy's pass (replaying full event
 * chunks into the substrates: OTF2 encoding, profile aggregation) while the
 * program runs, on another core, so that the program's threads only ever
 * append records.  It knows nothing of what a pass does; it wakes by itself
 * every millisecond or so, or when woken. */
#ifndef SCOREP_CORE_DRAIN_H
#define SCOREP_CORE_DRAIN_H

#include <stdbool.h>

/* A pass returns whether it made progress (released memory); the thread
 * backs off while it does not. */
typedef bool (*drain_pass)(void);

/* Start the thread (false if it cannot be started: callers then replay
 * inline). */
bool drain_start(drain_pass pass);

/* Stop it; safe to call when it is not running, and from a pass (the
 * thread then ends after it). */
void drain_stop(void);

bool drain_running(void);

/* Wake the thread if it sleeps (costs a system call: callers use it
 * sparingly). */
void drain_wake(void);

/* Ask for a pass at the thread's next look (no system call, no lock:
 * safe where a signal may come). */
void drain_ask_pass(void);

/* Ask for a pass and wait until one has run (at most 200 ms); false if the
 * thread is not running. */
bool drain_wait_pass(void);

/* While the machine has no CPU to spare, the thread's own periodic passes
 * wait: they replay nothing (passes asked for with drain_wake or
 * drain_wait_pass still do). */
void drain_defer_when_busy(bool defer);

/* Whether its passes wait now. */
bool drain_deferring(void);

/* In a pass: whether it replays (it was asked for, or the machine has a
 * CPU to spare); one that waits runs only the policy's hook. */
bool drain_pass_replays(void);

/* Forget the thread in a forked child (it does not exist there). */
void drain_forget(void);

#endif
