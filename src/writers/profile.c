#include "profile.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../core/defs.h"
#include "../core/measurement.h"
#include "../core/metrics.h"
#include "../core/substrate.h"
#include "cube4.h"

static int slot = -1;
static _Atomic uint64_t bytes_used;

uint64_t profile_bytes(void) { return bytes_used; }
static uint64_t depth_limit = 100;
static uint32_t region_measurement_off = UINT32_MAX, region_buffer_flush = UINT32_MAX;

static uint32_t tree_add(profile_tree *tree, uint32_t parent, uint32_t region)
{
    if (tree->count == tree->capacity) {
        tree->capacity = tree->capacity ? 2 * tree->capacity : 64;
        tree->nodes = realloc(tree->nodes, tree->capacity * sizeof *tree->nodes);
        if (tree->metric_count)
            tree->metric_sums = realloc(tree->metric_sums, tree->capacity * tree->metric_count * sizeof(uint64_t));
    }
    if (tree->metric_count)
        memset(tree->metric_sums + (size_t)tree->count * tree->metric_count, 0, tree->metric_count * sizeof(uint64_t));
    uint32_t id = tree->count++;
    bytes_used += sizeof(profile_node) + tree->metric_count * sizeof(uint64_t) + 2 * sizeof(ptrmap_slot);
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
    if (ptrmap_get(&tree->children, key, &child))
        return child;
    child = tree_add(tree, parent, region);
    ptrmap_put(&tree->children, key, child);
    return child;
}

static profile_tree *tree_for(location *loc, uint64_t time)
{
    profile_tree *tree = loc->substrate_data[slot];
    if (!tree) {
        tree = calloc(1, sizeof *tree);
        tree->metric_count = metrics_count(loc);
        tree->metric_enter_pending = tree->metric_leave_pending = PROFILE_NO_NODE;
        if (tree->metric_count)
            tree->metric_leave_entered = calloc(tree->metric_count, sizeof(uint64_t));
        tree_add(tree, PROFILE_NO_NODE, measurement.program_region);
        loc->substrate_data[slot] = tree;
    }
    if (!tree->started) {
        /* the master location lives from the start of the measurement,
         * other threads from their first event */
        tree->first_time = loc->index == 0 ? measurement.start_time : time;
        tree->started = true;
    }
    tree->last_time = time;
    return tree;
}

profile_tree *profile_tree_of(location *loc) { return slot >= 0 ? loc->substrate_data[slot] : NULL; }

static void push(profile_tree *tree, uint32_t node, uint64_t time)
{
    if (tree->depth == tree->stack_capacity) {
        tree->stack_capacity = tree->stack_capacity ? 2 * tree->stack_capacity : 64;
        tree->stack = realloc(tree->stack, tree->stack_capacity * sizeof *tree->stack);
        tree->entered = realloc(tree->entered, tree->stack_capacity * sizeof *tree->entered);
        if (tree->metric_count)
            tree->metric_entered = realloc(tree->metric_entered,
                                           tree->stack_capacity * tree->metric_count * sizeof(uint64_t));
    }
    if (tree->metric_count) {
        /* until its metric record comes, the enter values are unknown */
        memset(tree->metric_entered + (size_t)tree->depth * tree->metric_count, 0,
               tree->metric_count * sizeof(uint64_t));
        tree->metric_enter_pending = tree->depth;
        tree->metric_leave_pending = PROFILE_NO_NODE;
    }
    tree->stack[tree->depth] = node;
    tree->entered[tree->depth] = time;
    tree->depth++;
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

static void profile_enter(location *loc, uint64_t time, uint32_t region)
{
    profile_tree *tree = tree_for(loc, time);
    /* calls below the limit are not lost: their time stays in the deepest
     * kept node, as exclusive time */
    if (tree->clipped > 0 || tree->depth >= depth_limit) {
        tree->clipped++;
        return;
    }
    uint32_t parent = tree->depth ? tree->stack[tree->depth - 1] : 0;
    push(tree, tree_child(tree, parent, region), time);
}

static void profile_leave(location *loc, uint64_t time, uint32_t region)
{
    profile_tree *tree = tree_for(loc, time);
    if (tree->clipped > 0) {
        tree->clipped--;
        return;
    }
    /* Replay nests the program's regions properly; only the profile's own
     * MEASUREMENT OFF region can be open above the region being left (a
     * region entered before recording went off, left while it was off). */
    uint32_t k = tree->depth;
    while (k > 0 && tree->nodes[tree->stack[k - 1]].region != region)
        k--;
    if (k == 0)
        return;
    while (tree->depth >= k) {
        tree->depth--;
        account(&tree->nodes[tree->stack[tree->depth]], time - tree->entered[tree->depth]);
        if (tree->metric_count) {
            /* the metric record after this leave gives the node its share */
            tree->metric_leave_pending = tree->stack[tree->depth];
            tree->metric_enter_pending = PROFILE_NO_NODE;
            memcpy(tree->metric_leave_entered, tree->metric_entered + (size_t)tree->depth * tree->metric_count,
                   tree->metric_count * sizeof(uint64_t));
        }
    }
}

static void profile_metric(location *loc, uint64_t time, const uint64_t *values, unsigned count)
{
    profile_tree *tree = tree_for(loc, time);
    unsigned n = count < tree->metric_count ? count : tree->metric_count;
    if (tree->metric_enter_pending != PROFILE_NO_NODE) {
        memcpy(tree->metric_entered + (size_t)tree->metric_enter_pending * tree->metric_count, values,
               n * sizeof(uint64_t));
        tree->metric_enter_pending = PROFILE_NO_NODE;
    } else if (tree->metric_leave_pending != PROFILE_NO_NODE) {
        uint64_t *sums = tree->metric_sums + (size_t)tree->metric_leave_pending * tree->metric_count;
        for (unsigned i = 0; i < n; i++)
            if (values[i] >= tree->metric_leave_entered[i])
                sums[i] += values[i] - tree->metric_leave_entered[i];
        tree->metric_leave_pending = PROFILE_NO_NODE;
    }
}

/* Recording off is a MEASUREMENT OFF node under the current call path.
 * Below the depth limit there is no node for it; that is remembered apart
 * from the clipped calls, whose count only real regions may use. */
static void profile_on_off(location *loc, uint64_t time, bool on)
{
    if (region_measurement_off == UINT32_MAX)
        region_measurement_off = defs_region("MEASUREMENT OFF", "", "", 0, 0, REGION_ROLE_ARTIFICIAL,
                                             REGION_PARADIGM_USER);
    profile_tree *tree = tree_for(loc, time);
    if (!on) {
        if (tree->clipped > 0 || tree->depth >= depth_limit) {
            tree->off_clipped = true;
            return;
        }
        uint32_t parent = tree->depth ? tree->stack[tree->depth - 1] : 0;
        push(tree, tree_child(tree, parent, region_measurement_off), time);
        return;
    }
    if (tree->off_clipped) {
        tree->off_clipped = false;
        return;
    }
    /* closes the MEASUREMENT OFF node if it is still open */
    uint32_t saved = tree->clipped;
    tree->clipped = 0;
    profile_leave(loc, time, region_measurement_off);
    tree->clipped = saved;
}

static void profile_buffer_flush(location *loc, uint64_t time, uint64_t end_time)
{
    if (region_buffer_flush == UINT32_MAX)
        region_buffer_flush = defs_region("TRACE BUFFER FLUSH", "", "", 0, 0, REGION_ROLE_ARTIFICIAL,
                                          REGION_PARADIGM_MEASUREMENT);
    profile_enter(loc, time, region_buffer_flush);
    profile_leave(loc, end_time, region_buffer_flush);
}

static const substrate_ops profile_ops = {
    .name = "profiling",
    .enter = profile_enter,
    .leave = profile_leave,
    .measurement_on_off = profile_on_off,
    .buffer_flush = profile_buffer_flush,
    .metric = profile_metric,
};

void profile_open(uint64_t max_depth)
{
    depth_limit = max_depth;
    slot = substrate_register(&profile_ops);
}

bool profile_write(const char *dir, const char *base_name, char *err, size_t errlen)
{
    for (location *loc = location_first(); loc; loc = loc->next) {
        profile_tree *tree = profile_tree_of(loc);
        if (!tree) {
            if (loc->index != 0)
                continue;
            tree = tree_for(loc, measurement.end_time);
        }
        /* the root spans the location's life; for the master thread the
         * whole measurement */
        uint64_t end = loc->index == 0 ? measurement.end_time : tree->last_time;
        account(&tree->nodes[0], end - tree->first_time);
        /* the root has no metric values of its own: it gets the sum of its
         * children, so that inclusive values never shrink towards the root */
        for (uint32_t c = tree->nodes[0].first_child; tree->metric_count && c != PROFILE_NO_NODE;
             c = tree->nodes[c].next_sibling)
            for (unsigned i = 0; i < tree->metric_count; i++)
                tree->metric_sums[i] += tree->metric_sums[(size_t)c * tree->metric_count + i];
    }
    bool ok = cube4_write(dir, base_name, err, errlen);
    for (location *loc = location_first(); loc; loc = loc->next) {
        profile_tree *tree = profile_tree_of(loc);
        if (!tree)
            continue;
        free(tree->nodes);
        free(tree->metric_sums);
        free(tree->metric_entered);
        free(tree->metric_leave_entered);
        ptrmap_free(&tree->children);
        free(tree->stack);
        free(tree->entered);
        free(tree);
        loc->substrate_data[slot] = NULL;
    }
    return ok;
}
