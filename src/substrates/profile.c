#include "profile.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/substrate.h"
#include "cube4.h"

typedef struct profile {
    const substrate_facts *facts;
    uint64_t depth_limit;
    _Atomic uint64_t deepest;   /* the deepest call path met, when beyond depth_limit */
    char notice[400];
    _Atomic uint64_t bytes;     /* all trees together */
    pthread_mutex_t lock;       /* the list of trees */
    profile_tree *first, *last;
    char error[512];
} profile;

static bool out_of_memory(profile_tree *tree)
{
    snprintf(tree->profile->error, sizeof tree->profile->error,
             "out of memory for the call-path profile (location %u)", tree->location_index);
    return false;
}

static void account_bytes(profile_tree *tree, int64_t delta)
{
    tree->bytes += (uint64_t)delta;
    atomic_fetch_add(&tree->profile->bytes, (uint64_t)delta);
}

static uint32_t tree_add(profile_tree *tree, uint32_t parent, uint32_t region)
{
    if (tree->count == tree->capacity) {
        uint32_t capacity = tree->capacity ? 2 * tree->capacity : 8;
        profile_node *nodes = realloc(tree->nodes, capacity * sizeof *nodes);
        if (!nodes)
            return PROFILE_NO_NODE;
        tree->nodes = nodes;
        if (tree->metric_count) {
            uint64_t *sums = realloc(tree->metric_sums, (size_t)capacity * tree->metric_count * sizeof *sums);
            if (!sums)
                return PROFILE_NO_NODE;
            tree->metric_sums = sums;
        }
        account_bytes(tree, (int64_t)(capacity - tree->capacity) *
                                (int64_t)(sizeof(profile_node) + tree->metric_count * sizeof(uint64_t)));
        tree->capacity = capacity;
    }
    if (tree->metric_count)
        memset(tree->metric_sums + (size_t)tree->count * tree->metric_count, 0, tree->metric_count * sizeof(uint64_t));
    uint32_t id = tree->count++;
    profile_node *n = &tree->nodes[id];
    memset(n, 0, sizeof *n);
    n->region = region;
    n->parent = parent;
    n->first_child = n->next_sibling = PROFILE_NO_NODE;
    if (parent != PROFILE_NO_NODE) {
        n->next_sibling = tree->nodes[parent].first_child;
        tree->nodes[parent].first_child = id;
    }
    return id;
}

/* The child of `parent` for `region`, made on first use (a hash lookup:
 * a caller may have thousands of callees). */
static uint32_t tree_child(profile_tree *tree, uint32_t parent, uint32_t region)
{
    const void *key = (const void *)(uintptr_t)((((uint64_t)parent << 32) | region) + 1);
    uint32_t child;
    if (ptrmap_get(&tree->replay->children, key, &child))
        return child;
    uint64_t before = ptrmap_bytes(&tree->replay->children);
    child = tree_add(tree, parent, region);
    if (child == PROFILE_NO_NODE || !ptrmap_put(&tree->replay->children, key, child))
        return PROFILE_NO_NODE;
    account_bytes(tree, (int64_t)(ptrmap_bytes(&tree->replay->children) - before));
    return child;
}

static void replay_free(profile_replay *r)
{
    if (!r)
        return;
    ptrmap_free(&r->children);
    free(r->stack);
    free(r->entered);
    free(r->metric_entered);
    free(r->metric_leave_entered);
    free(r);
}

static void tree_free(profile_tree *tree)
{
    replay_free(tree->replay);
    free(tree->nodes);
    free(tree->metric_sums);
    free(tree);
}

static profile_tree *tree_new(profile *p, uint64_t id, uint32_t index, unsigned metric_count)
{
    profile_tree *tree = calloc(1, sizeof *tree);
    profile_replay *r = tree ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        free(tree);
        return NULL;
    }
    tree->profile = p;
    tree->location_id = id;
    tree->location_index = index;
    tree->metric_count = metric_count;
    tree->replay = r;
    r->metric_enter_pending = r->metric_leave_pending = PROFILE_NO_NODE;
    if ((metric_count && !(r->metric_leave_entered = calloc(metric_count, sizeof(uint64_t)))) ||
        tree_add(tree, PROFILE_NO_NODE, p->facts->program_region) == PROFILE_NO_NODE) {
        atomic_fetch_sub(&p->bytes, tree->bytes);
        tree_free(tree);
        return NULL;
    }
    account_bytes(tree, sizeof *tree + sizeof *r + metric_count * sizeof(uint64_t));
    pthread_mutex_lock(&p->lock);
    if (p->last)
        p->last->next = tree;
    else
        p->first = tree;
    p->last = tree;
    pthread_mutex_unlock(&p->lock);
    return tree;
}

/* Every event: the master location lives from the start of the
 * measurement, other threads from their first event. */
static profile_tree *touch(profile_tree *tree, uint64_t time)
{
    if (!tree->started) {
        tree->first_time = tree->location_index == 0 ? tree->profile->facts->start_time : time;
        tree->started = true;
    }
    tree->last_time = time;
    return tree;
}

static bool push(profile_tree *tree, uint32_t node, uint64_t time)
{
    if (node == PROFILE_NO_NODE)
        return out_of_memory(tree);
    if (tree->replay->depth == tree->replay->stack_capacity) {
        uint32_t capacity = tree->replay->stack_capacity ? 2 * tree->replay->stack_capacity : 16;
        uint32_t *stack = realloc(tree->replay->stack, capacity * sizeof *stack);
        if (stack)
            tree->replay->stack = stack;
        uint64_t *entered = stack ? realloc(tree->replay->entered, capacity * sizeof *entered) : NULL;
        if (entered)
            tree->replay->entered = entered;
        uint64_t *metric_entered = entered;
        if (entered && tree->metric_count) {
            metric_entered = realloc(tree->replay->metric_entered, (size_t)capacity * tree->metric_count * sizeof(uint64_t));
            if (metric_entered)
                tree->replay->metric_entered = metric_entered;
        }
        if (!metric_entered)
            return out_of_memory(tree);
        account_bytes(tree, (int64_t)(capacity - tree->replay->stack_capacity) *
                                (int64_t)(sizeof(uint32_t) + sizeof(uint64_t) + tree->metric_count * sizeof(uint64_t)));
        tree->replay->stack_capacity = capacity;
    }
    if (tree->metric_count) {
        /* until its metric record comes, the enter values are unknown */
        memset(tree->replay->metric_entered + (size_t)tree->replay->depth * tree->metric_count, 0,
               tree->metric_count * sizeof(uint64_t));
        tree->replay->metric_enter_pending = tree->replay->depth;
        tree->replay->metric_leave_pending = PROFILE_NO_NODE;
    }
    tree->replay->stack[tree->replay->depth] = node;
    tree->replay->entered[tree->replay->depth] = time;
    tree->replay->depth++;
    return true;
}

static void account(profile_node *n, uint64_t duration)
{
    if (n->visits == 0 || duration < n->minimum)
        n->minimum = duration;
    if (duration > n->maximum)
        n->maximum = duration;
    n->visits++;
    n->inclusive += duration;
}

static bool profile_enter(void *state, uint64_t time, uint32_t region)
{
    profile_tree *tree = touch(state, time);
    /* calls below the limit are not lost: their time stays in the deepest
     * kept node, as exclusive time */
    if (tree->replay->clipped > 0 || tree->replay->depth >= tree->profile->depth_limit) {
        tree->replay->clipped++;
        uint64_t depth = tree->replay->depth + tree->replay->clipped;
        uint64_t deepest = atomic_load_explicit(&tree->profile->deepest, memory_order_relaxed);
        while (depth > deepest &&
               !atomic_compare_exchange_weak_explicit(&tree->profile->deepest, &deepest, depth,
                                                      memory_order_relaxed, memory_order_relaxed)) {
        }
        return true;
    }
    uint32_t parent = tree->replay->depth ? tree->replay->stack[tree->replay->depth - 1] : 0;
    return push(tree, tree_child(tree, parent, region), time);
}

static bool profile_leave(void *state, uint64_t time, uint32_t region)
{
    profile_tree *tree = touch(state, time);
    if (tree->replay->clipped > 0) {
        tree->replay->clipped--;
        return true;
    }
    /* Replay nests the program's regions properly; only the profile's own
     * MEASUREMENT OFF region can be open above the region being left (a
     * region entered before recording went off, left while it was off). */
    uint32_t k = tree->replay->depth;
    while (k > 0 && tree->nodes[tree->replay->stack[k - 1]].region != region)
        k--;
    if (k == 0)
        return true;
    while (tree->replay->depth >= k) {
        tree->replay->depth--;
        account(&tree->nodes[tree->replay->stack[tree->replay->depth]], time - tree->replay->entered[tree->replay->depth]);
        if (tree->metric_count) {
            /* the metric record after this leave gives the node its share */
            tree->replay->metric_leave_pending = tree->replay->stack[tree->replay->depth];
            tree->replay->metric_enter_pending = PROFILE_NO_NODE;
            memcpy(tree->replay->metric_leave_entered, tree->replay->metric_entered + (size_t)tree->replay->depth * tree->metric_count,
                   tree->metric_count * sizeof(uint64_t));
        }
    }
    return true;
}

static bool profile_metric(void *state, uint64_t time, const uint64_t *values, unsigned count)
{
    profile_tree *tree = touch(state, time);
    unsigned n = count < tree->metric_count ? count : tree->metric_count;
    if (tree->replay->metric_enter_pending != PROFILE_NO_NODE) {
        memcpy(tree->replay->metric_entered + (size_t)tree->replay->metric_enter_pending * tree->metric_count, values,
               n * sizeof(uint64_t));
        tree->replay->metric_enter_pending = PROFILE_NO_NODE;
    } else if (tree->replay->metric_leave_pending != PROFILE_NO_NODE) {
        uint64_t *sums = tree->metric_sums + (size_t)tree->replay->metric_leave_pending * tree->metric_count;
        for (unsigned i = 0; i < n; i++)
            if (values[i] >= tree->replay->metric_leave_entered[i])
                sums[i] += values[i] - tree->replay->metric_leave_entered[i];
        tree->replay->metric_leave_pending = PROFILE_NO_NODE;
    }
    return true;
}

/* Recording off is a MEASUREMENT OFF node under the current call path.
 * Below the depth limit there is no node for it; that is remembered apart
 * from the clipped calls, whose count only real regions may use. */
static bool profile_on_off(void *state, uint64_t time, bool on, uint32_t off_region)
{
    profile_tree *tree = touch(state, time);
    if (!on) {
        if (tree->replay->clipped > 0 || tree->replay->depth >= tree->profile->depth_limit) {
            tree->replay->off_clipped = true;
            return true;
        }
        uint32_t parent = tree->replay->depth ? tree->replay->stack[tree->replay->depth - 1] : 0;
        return push(tree, tree_child(tree, parent, off_region), time);
    }
    if (tree->replay->off_clipped) {
        tree->replay->off_clipped = false;
        return true;
    }
    /* closes the MEASUREMENT OFF node if it is still open */
    uint32_t saved = tree->replay->clipped;
    tree->replay->clipped = 0;
    profile_leave(tree, time, off_region);
    tree->replay->clipped = saved;
    return true;
}

static bool profile_buffer_flush(void *state, uint64_t time, uint64_t end_time, uint32_t flush_region)
{
    return profile_enter(state, time, flush_region) && profile_leave(state, end_time, flush_region);
}

/* ---- life ---- */

static bool profile_wanted(const measurement_config *cfg)
{
    return cfg->enable_profiling && strcmp(cfg->profiling_format, "none") != 0;
}

static void *profile_open(const substrate_facts *facts, char *err, size_t errlen)
{
    profile *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory for the call-path profile");
        return NULL;
    }
    p->facts = facts;
    p->depth_limit = facts->cfg->profiling_max_callpath_depth;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void *profile_location_open(void *self, const substrate_location *where)
{
    profile *p = self;
    profile_tree *tree = tree_new(p, where->id, where->index, where->metric_count);
    if (!tree)
        snprintf(p->error, sizeof p->error, "out of memory for the call-path profile (location %u)", where->index);
    return tree;
}

/* The thread ended: what only replay needs goes, the nodes stay, trimmed
 * to their number.  They are results now, waiting to be written: they no
 * longer count against SCOREP_TOTAL_MEMORY, whose budget is for what grows
 * while the program runs. */
static bool profile_location_close(void *self, void *state, uint64_t end_time)
{
    (void)end_time;
    profile *p = self;
    profile_tree *tree = state;
    replay_free(tree->replay);
    tree->replay = NULL;
    profile_node *nodes = realloc(tree->nodes, tree->count * sizeof *nodes);
    if (nodes) {
        tree->nodes = nodes;
        tree->capacity = tree->count;
        if (tree->metric_count) {
            uint64_t *sums = realloc(tree->metric_sums, (size_t)tree->count * tree->metric_count * sizeof *sums);
            if (sums)
                tree->metric_sums = sums;
        }
    }
    atomic_fetch_sub(&p->bytes, tree->bytes);
    tree->bytes = 0;
    return true;
}

static uint64_t profile_memory(void *self) { return atomic_load(&((profile *)self)->bytes); }

static const char *profile_error(void *self) { return ((profile *)self)->error; }


/* The root of each tree spans the location's life (the master's: the
 * whole measurement); it has no metric values of its own and gets the sum
 * of its children's, so that inclusive values never shrink towards the
 * root. */
static void close_root(profile_tree *tree, uint64_t end_time)
{
    uint64_t end = tree->location_index == 0 ? end_time : tree->last_time;
    account(&tree->nodes[0], end - tree->first_time);
    for (uint32_t c = tree->nodes[0].first_child; tree->metric_count && c != PROFILE_NO_NODE;
         c = tree->nodes[c].next_sibling)
        for (unsigned i = 0; i < tree->metric_count; i++)
            tree->metric_sums[i] += tree->metric_sums[(size_t)c * tree->metric_count + i];
}

static int by_location_index(const void *a, const void *b)
{
    uint32_t x = (*(profile_tree *const *)a)->location_index, y = (*(profile_tree *const *)b)->location_index;
    return x < y ? -1 : x > y;
}

static bool write_profile(profile *p, const substrate_summary *summary, char *err, size_t errlen)
{
    bool has_master = false;
    for (profile_tree *t = p->first; t; t = t->next)
        has_master = has_master || t->location_index == 0;
    /* the master is in every profile, even if it recorded nothing */
    if (!has_master && summary->location_count > 0) {
        profile_tree *master = tree_new(p, summary->locations[0].id, 0, p->facts->metric_count);
        if (master)
            touch(master, summary->end_time);
    }
    uint32_t count = 0;
    for (profile_tree *t = p->first; t; t = t->next)
        count++;
    profile_tree **trees = calloc((size_t)count + 1, sizeof *trees);
    if (!trees) {
        snprintf(err, errlen, "out of memory for the call-path profile: it was not written");
        return false;
    }
    uint32_t n = 0;
    for (profile_tree *t = p->first; t; t = t->next)
        trees[n++] = t;
    qsort(trees, n, sizeof *trees, by_location_index);
    for (uint32_t i = 0; i < n; i++)
        close_root(trees[i], summary->end_time);
    cube4_profile input = {.facts = p->facts, .summary = summary, .trees = trees, .tree_count = n};
    bool ok = cube4_write(&input, p->facts->experiment_dir, p->facts->cfg->profiling_base_name, err, errlen);
    free(trees);
    return ok;
}

static const char *profile_notice(void *self)
{
    profile *p = self;
    uint64_t deepest = atomic_load(&p->deepest);
    if (!deepest)
        return NULL;
    snprintf(p->notice, sizeof p->notice,
             "calls nested %llu deep, deeper than SCOREP_PROFILING_MAX_CALLPATH_DEPTH=%llu: the profile counts "
             "the time of the deeper calls in the deepest call path it keeps, not their visits (the trace "
             "has every call); increase SCOREP_PROFILING_MAX_CALLPATH_DEPTH",
             (unsigned long long)deepest, (unsigned long long)p->depth_limit);
    return p->notice;
}

static bool profile_close(void *self, const substrate_summary *summary, char *err, size_t errlen)
{
    profile *p = self;
    bool ok = summary ? write_profile(p, summary, err, errlen) : true;
    for (profile_tree *t = p->first; t;) {
        profile_tree *next = t->next;
        tree_free(t);
        t = next;
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
    return ok;
}

static const substrate_ops profile_ops = {
    .name = "profiling",
    .wanted = profile_wanted,
    .open = profile_open,
    .location_open = profile_location_open,
    .location_close = profile_location_close,
    .memory = profile_memory,
    .close = profile_close,
    .notice = profile_notice,
    .error = profile_error,
    .enter = profile_enter,
    .leave = profile_leave,
    .measurement_on_off = profile_on_off,
    .buffer_flush = profile_buffer_flush,
    .metric = profile_metric,
};

SUBSTRATE_REGISTER(profile_ops)
