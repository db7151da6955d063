/* The measurement of one process: configuration, experiment directory,
 * substrates, locations and the global recording state. */
#ifndef SCOREP_CORE_MEASUREMENT_H
#define SCOREP_CORE_MEASUREMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "location.h"

typedef enum {
    MEASUREMENT_ACTIVE = 0,        /* events are recorded */
    MEASUREMENT_RECORDING_OFF = 1, /* user_disable_recording(): only nesting is tracked */
    MEASUREMENT_STOPPED = 2,       /* before init or after finalize: sources do nothing */
} measurement_state;

/* Read by every event source on every event; written under the GIL/lock
 * through measurement_set_state(). */
extern volatile int measurement_current_state;

/* Nonzero when an event may take the shortest path: recording, timestamps
 * from the TSC, no metrics to sample.  Event sources test this one flag
 * first and take their full path when it is 0. */
extern int measurement_fast;

void measurement_set_state(measurement_state state);

typedef struct {
    measurement_config cfg;
    char *experiment_dir;      /* absolute path of the directory being written */
    uint32_t rank;             /* process rank in the experiment (0 without MPI) */
    uint64_t chunk_bytes;      /* size of one event buffer chunk */
    uint64_t start_time, end_time;
    uint32_t program_region;   /* the artificial program region */
    char *program_name;
    char **program_args;
    int program_argc;
    int exit_status;
    bool has_exit_status;
} measurement_info;

extern measurement_info measurement;

/* Load the configuration from the environment and create the experiment
 * directory with scorep.cfg.  Returns false with a one-line message in err. */
bool measurement_init(const char *program_name, int argc, char **argv, bool verbose, char *err, size_t errlen);

bool measurement_is_initialized(void);
bool measurement_is_finalized(void);

/* Create a location for a new thread (thread safe). */
location *measurement_location_create(const char *name);

void measurement_set_recording(location *loc, bool on);

/* Bytes of SCOREP_TOTAL_MEMORY left for event buffers after definitions
 * and profile.  When those have used it up, recording stops (once, with a
 * message) and the results so far are kept. */
uint64_t measurement_buffer_budget(void);

/* Log a message on stderr when SCOREP_VERBOSE is true. */
void measurement_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log a warning on stderr (always). */
void measurement_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void measurement_set_exit_status(int status);

/* Stop recording, flush every location into the substrates, write the
 * definitions and move the experiment directory to its final name.  Returns
 * false with a message in err if writing failed; the state is STOPPED
 * either way.  Safe to call twice. */
bool measurement_finalize(char *err, size_t errlen);

/* Is a region filtered out by SCOREP_FILTERING_FILE?  (Asked once per
 * region by the event sources, which cache the answer.) */
bool measurement_region_filtered(const char *name, const char *file);

/* Final directory name after finalize (NULL before). */
const char *measurement_result_dir(void);

#endif
