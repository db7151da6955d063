/* Timestamps for events: the cheapest accurate clock of the machine.
 *
 * On x86-64 with an invariant TSC the raw cycle counter is used (a few ns per
 * read); elsewhere CLOCK_MONOTONIC in nanoseconds.  Ticks are converted to
 * seconds only when the results are written, with a resolution calibrated
 * over the whole run. */
#ifndef SCOREP_CORE_CLOCK_H
#define SCOREP_CORE_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "export.h"
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SCOREP_HAVE_TSC 1
#endif

typedef enum {
    CLOCK_KIND_TSC,            /* rdtsc, needs constant_tsc + nonstop_tsc */
    CLOCK_KIND_CLOCK_GETTIME,  /* CLOCK_MONOTONIC, ns */
    CLOCK_KIND_GETTIMEOFDAY    /* gettimeofday, scaled to ns */
} clock_kind;

/* The clock in use (read inline by every timestamp; set by clock_init). */
extern SCOREP_API clock_kind scorep_clock_kind;

/* clock_now() for clocks other than the TSC. */
SCOREP_API uint64_t scorep_clock_read_slow(void);

static inline uint64_t clock_now(void)
{
#ifdef SCOREP_HAVE_TSC
    if (__builtin_expect(scorep_clock_kind == CLOCK_KIND_TSC, 1))
        return __rdtsc();
#endif
    return scorep_clock_read_slow();
}

/* The TSC itself, for paths that have checked clock_active_kind already
 * (scorep_fast): no test, no call. */
static inline uint64_t clock_now_tsc(void)
{
#ifdef SCOREP_HAVE_TSC
    return __rdtsc();
#else
    return scorep_clock_read_slow();
#endif
}

/* True if this machine has an invariant TSC the measurement may use. */
bool clock_tsc_usable(void);

/* Select the clock and take the starting calibration point. */
void clock_init(clock_kind kind);

/* Take the final calibration point (with wait, waits a few ms for very
 * short runs so the TSC frequency is still accurate) and return ticks per
 * second.  Without: a further process of an experiment, whose ticks are
 * read on the root's calibration of the same clock. */
uint64_t clock_finish(bool wait);

/* Ticks per second, valid after clock_finish(). */
uint64_t clock_resolution(void);

/* Wall-clock time (ns since epoch) that corresponds to tick value t. */
uint64_t clock_ticks_to_epoch_ns(uint64_t t);

/* The starting calibration point (clock_init): ticks, CLOCK_MONOTONIC and
 * wall-clock nanoseconds; and a reading of the clock with CLOCK_MONOTONIC
 * now (a later point of the calibration, for the journal). */
void clock_start_point(uint64_t *ticks, uint64_t *mono_ns, uint64_t *epoch_ns);
void clock_reading(uint64_t *ticks, uint64_t *mono_ns);

/* Ticks per second from two points (ticks, CLOCK_MONOTONIC ns) of one
 * clock kind: what clock_finish computes, for a run that is over. */
uint64_t clock_resolution_between(clock_kind kind, uint64_t ticks0, uint64_t mono0, uint64_t ticks1, uint64_t mono1);

const char *clock_kind_name(clock_kind kind);

/* Nanoseconds one read of that clock costs here (measured now, ~20 ms). */
double clock_cost_ns(clock_kind kind);

#endif
