#include "substrates.h"

#include <stdio.h>

#include "log.h"
#include "metrics.h"

#define REGISTRY_SIZE 8

static void close_all_silently(void);

static const substrate_ops *registry[REGISTRY_SIZE];
static unsigned registered;

substrate_instance substrate_instances[SUBSTRATE_SLOTS];
unsigned substrate_instance_count;

void substrate_register(const substrate_ops *ops)
{
    if (registered < REGISTRY_SIZE)
        registry[registered++] = ops;
}

void substrates_discard(void) { close_all_silently(); }

static void close_all_silently(void)
{
    for (unsigned i = 0; i < substrate_instance_count; i++) {
        char ignored[256];
        substrate_instances[i].ops->close(substrate_instances[i].self, NULL, ignored, sizeof ignored);
    }
    substrate_instance_count = 0;
}

bool substrates_open(const substrate_facts *facts, char *err, size_t errlen)
{
    substrate_instance_count = 0;
    for (unsigned r = 0; r < registered; r++) {
        const substrate_ops *ops = registry[r];
        if (ops->wanted && !ops->wanted(facts->cfg))
            continue;
        if (substrate_instance_count == SUBSTRATE_SLOTS) {
            snprintf(err, errlen, "more than %d substrates", SUBSTRATE_SLOTS);
            close_all_silently();
            return false;
        }
        void *self = ops->open(facts, err, errlen);
        if (!self) {
            close_all_silently();
            return false;
        }
        substrate_instance *s = &substrate_instances[substrate_instance_count++];
        s->ops = ops;
        s->self = self;
        atomic_init(&s->failed, false);
    }
    return true;
}

void substrates_fail(unsigned i)
{
    substrate_instance *s = &substrate_instances[i];
    if (atomic_exchange(&s->failed, true))
        return;
    const char *why = s->ops->error ? s->ops->error(s->self) : NULL;
    log_warning("error: %s; %s stopped, the other results are still written", why && why[0] ? why : "failed",
                s->ops->name);
}

void *substrates_location_state(location *loc, unsigned i)
{
    substrate_instance *s = &substrate_instances[i];
    if (loc->substrate_state[i] || atomic_load(&s->failed))
        return loc->substrate_state[i];
    substrate_location where = {
        .id = loc->id,
        .index = loc->index,
        .metric_count = metrics_count(loc->index),
    };
    return loc->substrate_state[i] = substrates_open_location(i, &where);
}

void *substrates_open_location(unsigned i, const substrate_location *where)
{
    substrate_instance *s = &substrate_instances[i];
    if (atomic_load(&s->failed))
        return NULL;
    void *state = s->ops->location_open(s->self, where);
    if (!state)
        substrates_fail(i);
    return state;
}

void substrates_location_close(location *loc, uint64_t end_time)
{
    for (unsigned i = 0; i < substrate_instance_count; i++) {
        substrate_instance *s = &substrate_instances[i];
        void *state = loc->substrate_state[i];
        if (!state || atomic_load(&s->failed) || !s->ops->location_close)
            continue;
        if (!s->ops->location_close(s->self, state, end_time))
            substrates_fail(i);
    }
}

uint64_t substrates_memory(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < substrate_instance_count; i++)
        if (substrate_instances[i].ops->memory)
            total += substrate_instances[i].ops->memory(substrate_instances[i].self);
    return total;
}

bool substrates_close(const substrate_summary *summary)
{
    bool ok = true;
    /* failed substrates first: they remove what they half wrote, which may
     * free the space the others need */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < substrate_instance_count; i++) {
            substrate_instance *s = &substrate_instances[i];
            bool failed = atomic_load(&s->failed);
            if (failed != (pass == 0))
                continue;
            char err[1024] = "";
            const char *notice = !failed && summary && s->ops->notice ? s->ops->notice(s->self) : NULL;
            if (notice)
                log_warning("%s", notice);
            /* a failed substrate is closed too, to release what it holds; it
             * was reported already */
            bool written = s->ops->close(s->self, failed ? NULL : summary, err, sizeof err);
            if (!failed && !written)
                log_warning("error: %s", err[0] ? err : "writing the results failed");
            ok = ok && !failed && written;
        }
    }
    substrate_instance_count = 0;
    return ok;
}

void substrates_forget(void) { substrate_instance_count = 0; }

bool substrates_merge(const substrate_process *p)
{
    bool all = true;
    for (unsigned i = 0; i < substrate_instance_count; i++) {
        substrate_instance *s = &substrate_instances[i];
        if (atomic_load(&s->failed))
            continue;
        if (!s->ops->merge) {
            all = false;
            continue;
        }
        if (!s->ops->merge(s->self, p)) {
            const char *why = s->ops->error ? s->ops->error(s->self) : NULL;
            log_warning("error: %s; the %s results of process %ld (rank %u) are left out", why && why[0] ? why : "failed",
                        s->ops->name, p->pid, p->rank);
            all = false;
        }
    }
    return all;
}

static const substrate_ops *salvager;

int64_t substrates_salvage(int dir_fd, const char *dir, const salvage_sink *sink, char *err, size_t errlen)
{
    err[0] = '\0';
    for (unsigned r = 0; r < registered; r++) {
        if (!registry[r]->salvage)
            continue;
        int64_t n = registry[r]->salvage(dir_fd, dir, sink, err, errlen);
        if (n != 0 || err[0]) {
            salvager = registry[r];
            return n;
        }
    }
    return 0;
}

void substrates_salvaged(int dir_fd)
{
    /* each substrate removes what it left there, if anything (a leftover
     * without events too) */
    for (unsigned r = 0; r < registered; r++)
        if (registry[r]->salvaged)
            registry[r]->salvaged(dir_fd);
    salvager = NULL;
}
