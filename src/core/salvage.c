/* Events a killed process had written (substrate.h, salvage), delivered
 * to the substrates of this process: recovery (recovery.c) and the root
 * of an experiment of several processes taking in a killed child
 * (measurement.c) share it.  Each location's events in order, the regions
 * still open at its last event left there. */
#include "salvage.h"

#include <stdlib.h>
#include <string.h>

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
    salvage_job *job;
    const journal_contents *journal;
    recovered_location *locations;  /* as the journal lists them */
    uint64_t end_time;
    uint32_t off_region;            /* in this process's ids */
} recovery;

/* A journal id in this process's ids. */
#define MAPPED(map, id) (current->job->map ? current->job->map[id] : (id))

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
    DELIVER(l, enter, time, MAPPED(regions, region));
    return writing();
}

static bool sink_leave(void *loc, uint64_t time, uint32_t region)
{
    recovered_location *l = loc;
    if (!l->depth || l->open_regions[l->depth - 1] != region)
        return true;  /* not the innermost open region: nothing to close */
    seen(l, &time);
    l->depth--;
    DELIVER(l, leave, time, MAPPED(regions, region));
    return writing();
}

static bool sink_parameter_int(void *loc, uint64_t time, uint32_t parameter, int64_t value)
{
    recovered_location *l = loc;
    if (parameter >= current->journal->defs.parameter_count)
        return true;
    seen(l, &time);
    DELIVER(l, parameter_int, time, MAPPED(parameters, parameter), value);
    return writing();
}

static bool sink_parameter_uint(void *loc, uint64_t time, uint32_t parameter, uint64_t value)
{
    recovered_location *l = loc;
    if (parameter >= current->journal->defs.parameter_count)
        return true;
    seen(l, &time);
    DELIVER(l, parameter_uint, time, MAPPED(parameters, parameter), value);
    return writing();
}

static bool sink_parameter_string(void *loc, uint64_t time, uint32_t parameter, uint32_t string)
{
    recovered_location *l = loc;
    if (parameter >= current->journal->defs.parameter_count || string >= current->journal->defs.string_count)
        return true;
    seen(l, &time);
    DELIVER(l, parameter_string, time, MAPPED(parameters, parameter), MAPPED(strings, string));
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
            DELIVER(l, leave, l->last_time, current->job->regions ? current->job->regions[region] : region);
        }
        if (l->off && r->off_region != DEFS_NO_ID)
            DELIVER(l, measurement_on_off, l->last_time, true, r->off_region);
    }
}


int64_t salvage_into_substrates(int dir_fd, const char *dir, salvage_job *job, char *err, size_t errlen)
{
    const journal_contents *j = job->journal;
    recovery r = {.job = job, .journal = j, .end_time = j->facts.start_time};
    r.locations = calloc(j->location_count ? j->location_count : 1, sizeof *r.locations);
    if (!r.locations) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < j->location_count; i++)
        r.locations[i] = (recovered_location){
            .id = j->locations[i].id,
            .index = j->locations[i].index,
            .metric_count = j->locations[i].index == 0 ? j->facts.metric_count : j->facts.thread_metric_count,
        };
    uint32_t off = off_region_of(j);
    r.off_region = off == DEFS_NO_ID ? off : job->regions ? job->regions[off] : off;
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
    int64_t events = substrates_salvage(dir_fd, dir, &sink, err, errlen);
    if (events > 0)
        close_locations(&r);
    job->end_time = r.end_time;
    job->threads = 0;
    for (uint32_t i = 0; i < j->location_count; i++) {
        job->threads += r.locations[i].events > 0;
        free(r.locations[i].open_regions);
    }
    free(r.locations);
    current = NULL;
    return events;
}
