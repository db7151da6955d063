#include "measurement.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "defs.h"
#include "drain.h"
#include "experiment.h"
#include "filter.h"
#include "metrics.h"
#include "substrate.h"
#include "../writers/otf2_trace.h"
#include "../writers/profile.h"

volatile int measurement_current_state = MEASUREMENT_STOPPED;
int measurement_fast;
measurement_info measurement;

void measurement_set_state(measurement_state state)
{
    measurement_current_state = state;
    measurement_fast = state == MEASUREMENT_ACTIVE && clock_active_kind == CLOCK_KIND_TSC && !metrics_active;
}

static bool initialized, finalized, tracing_open, profiling_open;
static bool forked_child;
static filter *region_filter;
static char *result_dir;
static pthread_mutex_t finalize_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_line(const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "[Score-P] %s\n", line);
    fflush(stderr);
}

void measurement_verbose(const char *fmt, ...)
{
    if (!measurement.cfg.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}

void measurement_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}

static bool select_clock(char *err, size_t errlen)
{
    const char *want = measurement.cfg.timer;
    bool tsc = clock_tsc_usable();
    clock_kind kind;
    if (!want[0])
        kind = tsc ? CLOCK_KIND_TSC : CLOCK_KIND_CLOCK_GETTIME;
    else if (strcmp(want, "tsc") == 0) {
        if (!tsc) {
            snprintf(err, errlen, "invalid value for SCOREP_TIMER: 'tsc' is not usable here (no invariant time-stamp counter)");
            return false;
        }
        kind = CLOCK_KIND_TSC;
    } else if (strcmp(want, "gettimeofday") == 0)
        kind = CLOCK_KIND_GETTIMEOFDAY;
    else
        kind = CLOCK_KIND_CLOCK_GETTIME;
    clock_init(kind);
    return true;
}

static char **copy_args(int argc, char **argv)
{
    char **out = calloc((size_t)argc + 1, sizeof *out);
    for (int i = 0; i < argc; i++)
        out[i] = strdup(argv[i]);
    return out;
}

/* A forked child inherits the parent's buffers and open files; it must not
 * write into the parent's experiment.  (Measuring children is the job of
 * the multi-process support.) */
static void after_fork_in_child(void)
{
    forked_child = true;
    measurement_set_state(MEASUREMENT_STOPPED);
    drain_forget();
}

bool measurement_init(const char *program_name, int argc, char **argv, bool verbose, char *err, size_t errlen)
{
    if (initialized)
        return true;
    if (!config_load(&measurement.cfg, err, errlen))
        return false;
    if (verbose)
        measurement.cfg.verbose = true;
    if (!select_clock(err, errlen))
        goto fail;
    uint64_t page = measurement.cfg.page_size;
    if (page < 4096)
        page = 4096;
    if (measurement.cfg.total_memory < 2 * page) {
        snprintf(err, errlen, "invalid value for SCOREP_TOTAL_MEMORY: %llu bytes is less than two pages of SCOREP_PAGE_SIZE",
                 (unsigned long long)measurement.cfg.total_memory);
        goto fail;
    }
    measurement.chunk_bytes = page;
    if (!metrics_init(&measurement.cfg, err, errlen))
        goto fail;
    if (measurement.cfg.filtering_file[0]) {
        char why[900];
        region_filter = filter_load(measurement.cfg.filtering_file, why, sizeof why);
        if (!region_filter) {
            snprintf(err, errlen, "invalid value for SCOREP_FILTERING_FILE: %s", why);
            goto fail;
        }
    }
    const char *base = measurement.cfg.profiling_base_name;
    if (!base[0] || strchr(base, '/') || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        snprintf(err, errlen, "invalid value for SCOREP_PROFILING_BASE_NAME: '%s' is not a file name", base);
        goto fail;
    }
    defs_init();
    measurement.start_time = clock_now();
    measurement.program_name = strdup(program_name ? program_name : "python");
    measurement.program_argc = argc;
    measurement.program_args = copy_args(argc, argv);

    bool tracing = measurement.cfg.enable_tracing;
    bool writes = tracing || measurement.cfg.enable_profiling || measurement.cfg.force_cfg_files;
    if (writes) {
        measurement.experiment_dir = experiment_create(&measurement.cfg, err, errlen);
        if (!measurement.experiment_dir)
            goto fail;
        if (!experiment_write_config(measurement.experiment_dir, &measurement.cfg, err, errlen))
            goto fail;
        if (region_filter && !experiment_copy_file(measurement.experiment_dir, measurement.cfg.filtering_file, err,
                                                   errlen))
            goto fail;
        measurement_verbose("experiment directory: %s", measurement.experiment_dir);
        measurement_verbose("timer: %s", clock_kind_name(clock_active_kind));
    }
    substrate_reset();
    if (tracing) {
        if (!otf2_trace_open(measurement.experiment_dir, err, errlen))
            goto fail;
        tracing_open = true;
    }
    if (measurement.cfg.enable_profiling && strcmp(measurement.cfg.profiling_format, "none") != 0) {
        profile_open(measurement.cfg.profiling_max_callpath_depth);
        profiling_open = true;
    }
    /* the program region is named like Score-P's: the executable's base name */
    const char *slash = strrchr(measurement.program_name, '/');
    measurement.program_region = defs_region(slash ? slash + 1 : measurement.program_name, "", "", 0, 0,
                                             REGION_ROLE_ARTIFICIAL, REGION_PARADIGM_MEASUREMENT);
    initialized = true;
    pthread_atfork(NULL, NULL, after_fork_in_child);
    if (measurement.cfg.python_drain_thread && !drain_start())
        measurement_verbose("no drain thread: event buffers are flushed by the program's threads");
    measurement_set_state(MEASUREMENT_ACTIVE);
    return true;
fail:
    filter_free(region_filter);
    region_filter = NULL;
    config_free(&measurement.cfg);
    return false;
}

uint64_t measurement_buffer_budget(void)
{
    static bool reported;
    uint64_t fixed = defs_bytes() + (profiling_open ? profile_bytes() : 0);
    /* the event buffers always get at least two chunks to work with */
    uint64_t minimum = 2 * measurement.chunk_bytes;
    if (fixed + minimum <= measurement.cfg.total_memory)
        return measurement.cfg.total_memory - fixed;
    if (fixed <= measurement.cfg.total_memory)
        return minimum;
    if (!reported && measurement_current_state != MEASUREMENT_STOPPED) {
        reported = true;
        measurement_set_state(MEASUREMENT_STOPPED);
        measurement_warning("SCOREP_TOTAL_MEMORY=%llu bytes is used up by definitions and the profile (%llu bytes): "
                            "recording stopped here, the results up to this point are written; increase "
                            "SCOREP_TOTAL_MEMORY", (unsigned long long)measurement.cfg.total_memory,
                            (unsigned long long)fixed);
    }
    return minimum;
}

bool measurement_is_initialized(void) { return initialized; }
bool measurement_is_finalized(void) { return finalized; }

location *measurement_location_create(const char *name)
{
    location *loc = location_create(name);
    loc->last_time = clock_now();
    return loc;
}

void measurement_set_recording(location *loc, bool on)
{
    if (measurement_current_state == MEASUREMENT_STOPPED)
        return;
    bool currently_on = measurement_current_state == MEASUREMENT_ACTIVE;
    if (on == currently_on)
        return;
    location_append_ext(loc, on ? EXT_MEASUREMENT_ON : EXT_MEASUREMENT_OFF, clock_now(), NULL, 0);
    loc->off_depth = 0;
    measurement_set_state(on ? MEASUREMENT_ACTIVE : MEASUREMENT_RECORDING_OFF);
}

void measurement_set_exit_status(int status)
{
    measurement.exit_status = status;
    measurement.has_exit_status = true;
}

bool measurement_finalize(char *err, size_t errlen)
{
    pthread_mutex_lock(&finalize_lock);
    if (!initialized || finalized || forked_child) {
        finalized = finalized || forked_child;
        pthread_mutex_unlock(&finalize_lock);
        return true;
    }
    finalized = true;
    measurement_set_state(MEASUREMENT_STOPPED);
    measurement.end_time = clock_now();
    drain_stop();
    bool ok = true;
    for (location *loc = location_first(); loc; loc = loc->next) {
        location_flush(loc);
        replay_close(loc, measurement.end_time);
        if (loc->last_replayed_time > measurement.end_time)
            measurement.end_time = loc->last_replayed_time;
    }
    clock_finish();
    if (tracing_open && !otf2_trace_close(err, errlen))
        ok = false;
    char profile_err[1024];
    if (profiling_open &&
        !profile_write(measurement.experiment_dir, measurement.cfg.profiling_base_name, profile_err, sizeof profile_err)) {
        if (ok)
            snprintf(err, errlen, "%s", profile_err);
        ok = false;
    }
    if (measurement.experiment_dir) {
        result_dir = experiment_finish(measurement.experiment_dir, &measurement.cfg);
        measurement_verbose("results written to %s", result_dir);
    }
    pthread_mutex_unlock(&finalize_lock);
    return ok;
}

const char *measurement_result_dir(void) { return result_dir; }

bool measurement_region_filtered(const char *name, const char *file)
{
    return region_filter && filter_excludes(region_filter, name, file);
}
