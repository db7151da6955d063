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

/* Start the journal in the experiment directory (facts->experiment_fd)
 * with the facts the run starts with, the clock it uses and the host; false
 * (and no journal) when it cannot be made. */
bool journal_open(const substrate_facts *facts, uint32_t clock_kind, const char *host_name);

/* Append what is new since the last call: definitions, locations, a clock
 * reading now and then.  Cheap when there is nothing new (a few loads);
 * call it before replaying events. */
void journal_sync(void);

/* A process of a multi-process experiment (not its root) ended with its
 * results written in its directory: the journal, which is the export of
 * its definitions, gets its last record and stays for the root. */
void journal_end(uint64_t end_time, bool has_exit_status, int exit_status);

/* Whether every record so far reached the file. */
bool journal_is_live(void);

/* The run ended with its results written: remove the journal. */
void journal_remove(void);

/* A forked child: the journal is the parent's. */
void journal_forget(void);

/* ---- reading it back ---- */

typedef struct {
    /* the run's facts as it started: rank, start time, program, metrics
     * (cfg, experiment directory and descriptor are not the journal's) */
    substrate_facts facts;
    uint32_t clock_kind;        /* clock_kind */
    uint32_t *args;             /* facts.program_args */
    metric_def *metrics;        /* facts.metrics */
    char *host_name;
    uint64_t start_ticks, start_mono_ns, start_epoch_ns;
    uint64_t last_ticks, last_mono_ns;  /* the latest clock reading */
    definitions defs;
    location_def *locations;
    uint32_t location_count;
    long pid;                   /* the process that wrote it */
    bool complete;              /* no record was cut or missing */
    bool ended;                 /* it has its end record (journal_end) */
    uint64_t end_time;
    bool has_exit_status;
    int exit_status;
} journal_contents;

/* Read dir_fd's journal; false with a one-line reason in err. */
bool journal_load(int dir_fd, const char *dir, journal_contents *out, char *err, size_t errlen);
void journal_contents_free(journal_contents *contents);

#endif
