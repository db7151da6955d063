/* Recovery of a killed run (scorep.h, scorep_recover): what a SIGKILL left
 * in an experiment directory, the journal (journal.h) and the event files
 * a substrate had written, becomes the experiment the run would have
 * written had it ended at its last written event.
 *
 * The leftover's substrate reads its events back (substrate.h, salvage)
 * into the sink here, which hands them to the substrates this
 * configuration wants, as replay does in a live run: each location's
 * events in order, the regions still open at its last event left there.
 * The results are written with the journal's definitions, and the
 * leftover's files are removed only once they are. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "experiment.h"
#include "journal.h"
#include "log.h"
#include "scorep.h"
#include "substrates.h"

typedef struct {
    uint64_t id;
    uint32_t index;
    unsigned metric_count;
    bool opened;
    void *state[SUBSTRATE_SLOTS];
    uint32_t *open_regions;     /* entered, not yet left */
    uint32_t depth, capacity;
    bool off;                   /* recording off at the last event */
    uint64_t first_time, last_time;
    uint64_t events;
} recovered_location;

typedef struct {
    journal_contents *journal;
    recovered_location *locations;  /* as the journal lists them */
    uint64_t end_time;
    uint32_t off_region;
    bool failed;
} recovery;

/* Deliver one event to every substrate that takes it. */
#define DELIVER(l, op, ...)                                                                         \
    do {                                                                                             \
        for (unsigned i_ = 0; i_ < substrate_instance_count; i_++) {                                \
            substrate_instance *s_ = &substrate_instances[i_];                                      \
            if (!s_->ops->op || atomic_load(&s_->failed) || !(l)->state[i_])                        \
                continue;                                                                            \
            if (!s_->ops->op((l)->state[i_], __VA_ARGS__))                                          \
                substrates_fail(i_);                                                                 \
        }                                                                                            \
    } while (0)

static recovery *current;

static void *sink_location(void *self, uint64_t id)
{
    recovery *r = self;
    for (uint32_t i = 0; i < r->journal->location_count; i++) {
        recovered_location *l = &r->locations[i];
        if (l->id != id)
            continue;
        if (!l->opened) {
            l->opened = true;
            substrate_location where = {.id = l->id, .index = l->index, .metric_count = l->metric_count};
            for (unsigned s = 0; s < substrate_instance_count; s++)
                l->state[s] = substrates_open_location(s, &where);
        }
        return l;
    }
    return NULL;
}

/* Every event: its time, in order per location. */
static void seen(recovered_location *l, uint64_t *time)
{
    if (*time < l->last_time)
        *time = l->last_time;
    if (!l->events++)
        l->first_time = *time;
    l->last_time = *time;
    if (*time > current->end_time)
        current->end_time = *time;
}

/* The results go on while some substrate still writes them. */
static bool writing(void)
{
    for (unsigned i = 0; i < substrate_instance_count; i++)
        if (!atomic_load(&substrate_instances[i].failed))
            return true;
    return false;
}

static bool sink_enter(void *loc, uint64_t time, uint32_t region)
{
    recovered_location *l = loc;
    if (region >= current->journal->defs.region_count)
        return true;  /* a region the journal lost: cannot be written */
    if (l->depth == l->capacity) {
        uint32_t capacity = l->capacity ? 2 * l->capacity : 64;
        uint32_t *grown = realloc(l->open_regions, capacity * sizeof *grown);
        if (!grown)
            return false;
        l->open_regions = grown;
        l->capacity = capacity;
    }
    seen(l, &time);
    l->open_regions[l->depth++] = region;
    DELIVER(l, enter, time, region);
    return writing();
}

static bool sink_leave(void *loc, uint64_t time, uint32_t region)
{
    recovered_location *l = loc;
    if (!l->depth || l->open_regions[l->depth - 1] != region)
        return true;  /* not the innermost open region: nothing to close */
    seen(l, &time);
    l->depth--;
    DELIVER(l, leave, time, region);
    return writing();
}

static bool sink_parameter_int(void *loc, uint64_t time, uint32_t parameter, int64_t value)
{
    recovered_location *l = loc;
    if (parameter >= current->journal->defs.parameter_count)
        return true;
    seen(l, &time);
    DELIVER(l, parameter_int, time, parameter, value);
    return writing();
}

static bool sink_parameter_uint(void *loc, uint64_t time, uint32_t parameter, uint64_t value)
{
    recovered_location *l = loc;
    if (parameter >= current->journal->defs.parameter_count)
        return true;
    seen(l, &time);
    DELIVER(l, parameter_uint, time, parameter, value);
    return writing();
}

static bool sink_parameter_string(void *loc, uint64_t time, uint32_t parameter, uint32_t string)
{
    recovered_location *l = loc;
    if (parameter >= current->journal->defs.parameter_count || string >= current->journal->defs.string_count)
        return true;
    seen(l, &time);
    DELIVER(l, parameter_string, time, parameter, string);
    return writing();
}

static bool sink_on_off(void *loc, uint64_t time, bool on)
{
    recovered_location *l = loc;
    if (current->off_region == DEFS_NO_ID || l->off == !on)
        return true;
    seen(l, &time);
    l->off = !on;
    DELIVER(l, measurement_on_off, time, on, current->off_region);
    return writing();
}

static bool sink_metric(void *loc, uint64_t time, const uint64_t *values, unsigned count)
{
    recovered_location *l = loc;
    if (count != l->metric_count)
        return true;
    seen(l, &time);
    DELIVER(l, metric, time, values, count);
    return writing();
}

/* The region the measurement records recording-off intervals as. */
static uint32_t off_region_of(const journal_contents *j)
{
    for (uint32_t i = 0; i < j->defs.region_count; i++) {
        const region_def *r = &j->defs.regions[i];
        if (r->role == REGION_ROLE_ARTIFICIAL && strcmp(j->defs.strings[r->name], "MEASUREMENT OFF") == 0)
            return i;
    }
    return DEFS_NO_ID;
}

/* Ticks per second of the killed run's clock: from its first and last
 * journal readings; for a run too short for that (the TSC), calibrated
 * here, which is the same clock on the same machine. */
static uint64_t resolution_of(const journal_contents *j)
{
    uint64_t span = j->last_mono_ns > j->start_mono_ns ? j->last_mono_ns - j->start_mono_ns : 0;
    if (j->clock_kind != CLOCK_KIND_TSC)
        return 1000000000ull;
    if (span >= 20000000ull)
        return clock_resolution_between(CLOCK_KIND_TSC, j->start_ticks, j->start_mono_ns, j->last_ticks,
                                        j->last_mono_ns);
    clock_init(CLOCK_KIND_TSC);
    return clock_finish();
}

/* Leave what is open at each location's last event, as the end of a run
 * does (the substrates close the locations with the results, as they do
 * the master's in a live run). */
static void close_locations(recovery *r)
{
    for (uint32_t i = 0; i < r->journal->location_count; i++) {
        recovered_location *l = &r->locations[i];
        if (!l->opened)
            continue;
        while (l->depth) {
            uint32_t region = l->open_regions[--l->depth];
            DELIVER(l, leave, l->last_time, region);
        }
        if (l->off && r->off_region != DEFS_NO_ID)
            DELIVER(l, measurement_on_off, l->last_time, true, r->off_region);
    }
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool scorep_recover(const char *path, char **result, char *message, size_t messagelen, char *err, size_t errlen)
{
    *result = NULL;
    message[0] = err[0] = '\0';
    if (scorep_measurement_phase() == SCOREP_RUNNING) {
        snprintf(err, errlen, "cannot recover an experiment while this process is measured");
        return false;
    }
    measurement_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!config_load(&cfg, err, errlen))
        return false;
    log_set_verbose(cfg.verbose);
    char *dir = experiment_adopt(path, err, errlen);
    if (!dir) {
        config_free(&cfg);
        return false;
    }
    journal_contents journal;
    memset(&journal, 0, sizeof journal);
    char results[PATH_MAX];
    snprintf(results, sizeof results, "%s.cubex", cfg.profiling_base_name);
    bool ok = true;
    if (faccessat(experiment_fd(), "traces.otf2", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
        faccessat(experiment_fd(), results, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
        faccessat(experiment_fd(), "traces", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        snprintf(err, errlen, "'%s' holds results already (traces.otf2, traces/ or %s): nothing is recovered into "
                 "it", dir, results);
        ok = false;
    }
    ok = ok && journal_load(experiment_fd(), dir, &journal, err, errlen);
    recovery r = {.journal = &journal, .off_region = DEFS_NO_ID};
    if (ok) {
        r.locations = calloc(journal.location_count ? journal.location_count : 1, sizeof *r.locations);
        r.off_region = off_region_of(&journal);
        r.end_time = journal.facts.start_time;
        ok = r.locations != NULL;
        if (!ok)
            snprintf(err, errlen, "out of memory");
        for (uint32_t i = 0; ok && i < journal.location_count; i++)
            r.locations[i] = (recovered_location){
                .id = journal.locations[i].id,
                .index = journal.locations[i].index,
                .metric_count = journal.locations[i].index == 0 ? journal.facts.metric_count
                                                                : journal.facts.thread_metric_count,
            };
    }
    /* the killed run's facts (all zero if its journal could not be read) */
    substrate_facts facts = journal.facts;
    facts.cfg = &cfg;
    facts.experiment_dir = dir;
    facts.experiment_fd = experiment_fd();
    facts.salvaging = true;
    ok = ok && substrates_open(&facts, err, errlen);
    int64_t events = -1;
    uint64_t resolution = 1000000000ull;
    if (ok) {
        current = &r;
        salvage_sink sink = {
            .self = &r,
            .location = sink_location,
            .enter = sink_enter,
            .leave = sink_leave,
            .parameter_int = sink_parameter_int,
            .parameter_uint = sink_parameter_uint,
            .parameter_string = sink_parameter_string,
            .measurement_on_off = sink_on_off,
            .metric = sink_metric,
        };
        char why[1024];
        events = substrates_salvage(experiment_fd(), dir, &sink, why, sizeof why);
        if (events <= 0) {
            if (events == 0)
                snprintf(err, errlen, "'%s' holds no event files of the run to recover (a run writes them only "
                         "with SCOREP_ENABLE_TRACING=true, a chunk of 256 KiB per thread at a time)", dir);
            else
                snprintf(err, errlen, "cannot recover '%s': %s", dir, why);
            substrates_discard();
            ok = false;
        }
    }
    if (ok) {
        close_locations(&r);
        resolution = resolution_of(&journal);
        double since = ((double)journal.facts.start_time - (double)journal.start_ticks) * 1e9 / (double)resolution;
        substrate_summary summary = {
            .start_time = journal.facts.start_time,
            .end_time = r.end_time,
            .clock_resolution = resolution,
            .start_epoch_ns = journal.start_epoch_ns + (uint64_t)(since > 0 ? since : 0),
            .has_exit_status = false,
            .host_name = journal.host_name,
            .defs = journal.defs,
            .locations = journal.locations,
            .location_count = journal.location_count,
            .processes = &(process_def){journal.facts.rank, journal.pid},
            .process_count = 1,
        };
        ok = substrates_close(&summary);
        if (!ok)
            snprintf(err, errlen, "the recovered results of '%s' could not all be written (see above); the "
                     "leftover's own files are kept", dir);
    }
    if (ok) {
        substrates_salvaged(experiment_fd());
        unlinkat(experiment_fd(), JOURNAL_NAME, 0);
        uint32_t threads = 0;
        for (uint32_t i = 0; i < journal.location_count; i++)
            threads += r.locations[i].events > 0;
        snprintf(message, messagelen,
                 "recovered %lld events of %u thread%s, %.3f s of the run up to the last event written%s",
                 (long long)events, threads, threads == 1 ? "" : "s",
                 (double)(r.end_time - journal.facts.start_time) / (double)resolution,
                 journal.complete ? "" : " (the journal's last record was cut off)");
    }
    /* a killed unnamed run's directory gets the name its end would have
     * given it; any other keeps its name */
    const char *name = base_name(dir);
    bool unnamed = strncmp(name, "scorep-measurement-tmp", 22) == 0 || strncmp(name, "scorep-failed-", 14) == 0;
    if (!ok || !unnamed) {
        free(cfg.experiment_directory);
        cfg.experiment_directory = strdup(dir);
    } else {
        cfg.experiment_directory[0] = '\0';
    }
    *result = experiment_finish(dir, &cfg);
    if (r.locations)
        for (uint32_t i = 0; i < journal.location_count; i++)
            free(r.locations[i].open_regions);
    free(r.locations);
    journal_contents_free(&journal);
    current = NULL;
    free(dir);
    config_free(&cfg);
    if (!ok) {
        free(*result);
        *result = NULL;
    }
    return ok;
}
