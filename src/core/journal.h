/* The journal: what a trace cut short by SIGKILL needs besides its event
 * files, kept on disk while the program runs.
 *
 * A traced run appends to `.scorep-journal` in its experiment directory
 * every definition (string, region, parameter), every location and now
 * and then a clock reading, always before the events that use them are
 * replayed into the substrates, and so before any of those events can
 * reach a file.  A run that ends normally removes it; after a SIGKILL it
 * stays, and `python -m scorep.recover` (recovery.h) reads it back to
 * complete what the substrates had written.
 *
 * Records are appended with write(2) as a whole and never rewritten: a
 * reader takes every complete record and ignores a cut last one.  A failed
 * write (a full disk) stops the journal quietly: the run itself goes on
 * and ends as it would have; only recovery would then say the journal is
 * incomplete. */
#ifndef SCOREP_CORE_JOURNAL_H
#define SCOREP_CORE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "defs.h"
#include "metrics.h"
#include "substrate.h"

#define JOURNAL_NAME ".scorep-journal"

/* What the run starts with. */
typedef struct {
    uint32_t rank;
    uint64_t start_time;       /* ticks */
    uint32_t clock_kind;       /* clock_kind */
    uint32_t program_region;   /* the root of every call path */
    uint32_t program_name;     /* string ids */
    const uint32_t *program_args;
    uint32_t program_argc;
    const metric_def *metrics;
    unsigned metric_count, thread_metric_count;
    const char *host_name;
} journal_start;

/* Start the journal in the directory dir_fd; false (and no journal) when
 * it cannot be made. */
bool journal_open(int dir_fd, const journal_start *start);

/* Append what is new since the last call: definitions, locations, a clock
 * reading now and then.  Cheap when there is nothing new (a few loads);
 * call it before replaying events. */
void journal_sync(void);

/* The run ended with its results written: remove the journal. */
void journal_remove(void);

/* A forked child: the journal is the parent's. */
void journal_forget(void);

/* ---- reading it back ---- */

typedef struct {
    journal_start start;
    uint32_t *args;             /* start.program_args */
    metric_def *metrics;        /* start.metrics */
    char *host_name;
    uint64_t start_ticks, start_mono_ns, start_epoch_ns;
    uint64_t last_ticks, last_mono_ns;  /* the latest clock reading */
    definitions defs;
    location_def *locations;
    uint32_t location_count;
    bool complete;              /* no record was cut or missing */
} journal_contents;

/* Read dir_fd's journal; false with a one-line reason in err. */
bool journal_load(int dir_fd, const char *dir, journal_contents *out, char *err, size_t errlen);
void journal_contents_free(journal_contents *contents);

#endif
