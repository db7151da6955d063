#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
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
 * a caller may have thousands of callees).  Every event takes this path:
 * the lookup is inline, making a child is not. */
static __attribute__((noinline)) uint32_t tree_new_child(profile_tree *tree, uint32_t parent, uint32_t region,
                                                         const void *key);

static inline uint32_t tree_child(profile_tree *tree, uint32_t parent, uint32_t region)
{
    const void *key = (const void *)(uintptr_t)((((uint64_t)parent << 32) | region) + 1);
    uint32_t child;
    if (__builtin_expect(ptrmap_get(&tree->replay->children, key, &child), 1))
        return child;
    return tree_new_child(tree, parent, region, key);
}

static uint32_t tree_new_child(profile_tree *tree, uint32_t parent, uint32_t region, const void *key)
{
    uint32_t child;
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
static inline profile_tree *touch(profile_tree *tree, uint64_t time)
{
    if (!tree->started) {
        tree->first_time = tree->location_index == 0 ? tree->profile->facts->start_time : time;
        tree->started = true;
    }
    tree->last_time = time;
    return tree;
}

/* The replay stack grows (false: out of memory). */
static __attribute__((noinline)) bool stack_grow(profile_tree *tree)
{
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
    return true;
}

/* Every enter: inline, growing the stack is not. */
static inline bool push(profile_tree *tree, uint32_t node, uint64_t time)
{
    if (__builtin_expect(node == PROFILE_NO_NODE, 0))
        return out_of_memory(tree);
    if (__builtin_expect(tree->replay->depth == tree->replay->stack_capacity, 0) && !stack_grow(tree))
        return false;
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

static inline void account(profile_node *n, uint64_t duration)
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
/* MPI bytes go to the call path the event is in (the MPI function's). */
static bool profile_mpi(void *state, uint64_t time, const mpi_record *r)
{
    profile_tree *tree = touch(state, time);
    uint32_t node = tree->replay->depth ? tree->replay->stack[tree->replay->depth - 1] : 0;
    profile_node *n = &tree->nodes[node];
    switch (r->kind) {
    case EXT_MPI_SEND:
    case EXT_MPI_ISEND: n->bytes_sent += r->bytes; break;
    case EXT_MPI_RECV:
    case EXT_MPI_IRECV: n->bytes_received += r->bytes; break;
    case EXT_MPI_COLLECTIVE_END:
        n->bytes_sent += r->sent;
        n->bytes_received += r->received;
        break;
    default: return true;
    }
    tree->mpi = true;
    return true;
}

/* I/O bytes, likewise (the I/O function's call path): what a read or write did. */
static bool profile_io(void *state, uint64_t time, const io_record *r)
{
    profile_tree *tree = touch(state, time);
    if (r->kind != EXT_IO_OPERATION_COMPLETE || r->bytes == IO_RECORD_FAILED)
        return true;
    uint32_t node = tree->replay->depth ? tree->replay->stack[tree->replay->depth - 1] : 0;
    profile_node *n = &tree->nodes[node];
    if (r->mode == IO_OPERATION_READ)
        n->io_bytes_read += r->bytes;
    else if (r->mode == IO_OPERATION_WRITE)
        n->io_bytes_written += r->bytes;
    return true;
}

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

/* By process, then by thread. */
static int by_location_index(const void *a, const void *b)
{
    const profile_tree *s = *(profile_tree *const *)a, *t = *(profile_tree *const *)b;
    uint32_t rs = location_rank(s->location_id), rt = location_rank(t->location_id);
    if (rs != rt)
        return rs < rt ? -1 : 1;
    uint32_t x = s->location_index, y = t->location_index;
    return x < y ? -1 : x > y;
}

/* ---- another process's trees: written by it (a part file), merged by the root ---- */

#define PART_NAME "profile.part"
static const char part_magic[8] = "SPPART3";

typedef struct {
    uint64_t location_id;
    uint32_t index, count;
    uint64_t first_time, last_time;
    uint32_t metric_count, mpi;
} part_tree;

typedef struct {
    uint32_t region, parent;
    uint64_t visits, inclusive, minimum, maximum;
    uint64_t bytes_sent, bytes_received;
    uint64_t io_bytes_read, io_bytes_written;
} part_node;

static bool write_part(profile *p, profile_tree *const *trees, uint32_t n, char *err, size_t errlen)
{
    const substrate_facts *f = p->facts;
    int fd = openat(f->experiment_fd, PART_NAME ".tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!out) {
        snprintf(err, errlen, "cannot write '%s/%s': %s", f->experiment_dir, PART_NAME, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    uint32_t header[2] = {f->metric_count, n};
    fwrite(part_magic, sizeof part_magic, 1, out);
    fwrite(header, sizeof header, 1, out);
    for (uint32_t i = 0; i < n; i++) {
        const profile_tree *t = trees[i];
        part_tree pt = {t->location_id, t->location_index, t->count, t->first_time, t->last_time, t->metric_count,
                        t->mpi};
        fwrite(&pt, sizeof pt, 1, out);
        for (uint32_t k = 0; k < t->count; k++) {
            const profile_node *x = &t->nodes[k];
            part_node pn = {x->region,     x->parent,         x->visits,        x->inclusive,
                            x->minimum,    x->maximum,        x->bytes_sent,    x->bytes_received,
                            x->io_bytes_read, x->io_bytes_written};
            fwrite(&pn, sizeof pn, 1, out);
        }
        if (t->metric_count)
            fwrite(t->metric_sums, sizeof(uint64_t), (size_t)t->count * t->metric_count, out);
    }
    int error = ferror(out) ? (errno ? errno : EIO) : 0;
    if (fclose(out) != 0 && !error)
        error = errno ? errno : EIO;
    if (!error && renameat(f->experiment_fd, PART_NAME ".tmp", f->experiment_fd, PART_NAME) != 0)
        error = errno;
    if (error) {
        unlinkat(f->experiment_fd, PART_NAME ".tmp", 0);
        snprintf(err, errlen, "cannot write '%s/%s': %s", f->experiment_dir, PART_NAME, strerror(error));
        return false;
    }
    return true;
}

static bool read_exact(FILE *in, void *out, size_t n) { return fread(out, 1, n, in) == n; }

static bool merge_failed(profile *p, const substrate_process *proc, const char *why)
{
    snprintf(p->error, sizeof p->error, "cannot read the profile of process %ld ('%s/%s'): %s", proc->pid, proc->dir,
             PART_NAME, why);
    return false;
}

/* One tree of the part file, its regions mapped; NULL on a bad file. */
static profile_tree *import_tree(profile *p, const substrate_process *proc, FILE *in, const char **why)
{
    part_tree pt;
    *why = "it is cut short";
    if (!read_exact(in, &pt, sizeof pt))
        return NULL;
    if (pt.metric_count != p->facts->metric_count || location_rank(pt.location_id) != proc->rank || !pt.count) {
        *why = "it is not one this experiment's process wrote";
        return NULL;
    }
    profile_tree *tree = calloc(1, sizeof *tree);
    if (!tree) {
        *why = "out of memory";
        return NULL;
    }
    tree->profile = p;
    tree->location_id = pt.location_id;
    tree->location_index = pt.index;
    tree->metric_count = pt.metric_count;
    tree->first_time = pt.first_time;
    tree->last_time = pt.last_time;
    tree->started = tree->merged = true;
    tree->mpi = pt.mpi != 0;
    for (uint32_t k = 0; k < pt.count; k++) {
        part_node pn;
        if (!read_exact(in, &pn, sizeof pn) || (k > 0 && pn.parent >= k) || (k == 0 && pn.parent != PROFILE_NO_NODE)) {
            *why = "it is cut short or damaged";
            tree_free(tree);
            return NULL;
        }
        uint32_t region = pn.region < proc->region_count ? proc->regions[pn.region] : p->facts->program_region;
        uint32_t id = tree_add(tree, pn.parent, region);
        if (id == PROFILE_NO_NODE) {
            *why = "out of memory";
            tree_free(tree);
            return NULL;
        }
        profile_node *x = &tree->nodes[id];
        x->visits = pn.visits;
        x->inclusive = pn.inclusive;
        x->minimum = pn.minimum;
        x->maximum = pn.maximum;
        x->bytes_sent = pn.bytes_sent;
        x->bytes_received = pn.bytes_received;
        x->io_bytes_read = pn.io_bytes_read;
        x->io_bytes_written = pn.io_bytes_written;
    }
    if (tree->metric_count &&
        !read_exact(in, tree->metric_sums, (size_t)pt.count * tree->metric_count * sizeof(uint64_t))) {
        tree_free(tree);
        return NULL;
    }
    /* results now: not part of SCOREP_TOTAL_MEMORY */
    atomic_fetch_sub(&p->bytes, tree->bytes);
    tree->bytes = 0;
    return tree;
}

static bool profile_merge(void *self, const substrate_process *proc)
{
    profile *p = self;
    int fd = openat(proc->dir_fd, PART_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    FILE *in = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!in) {
        if (fd >= 0)
            close(fd);
        return errno == ENOENT ? true : merge_failed(p, proc, strerror(errno));
    }
    char magic[8];
    uint32_t header[2];
    bool ok = read_exact(in, magic, sizeof magic) && memcmp(magic, part_magic, sizeof magic) == 0 &&
              read_exact(in, header, sizeof header) && header[0] == p->facts->metric_count;
    const char *why = "it is not one this experiment's process wrote";
    profile_tree *first = NULL, *last = NULL;
    for (uint32_t i = 0; ok && i < header[1]; i++) {
        profile_tree *tree = import_tree(p, proc, in, &why);
        if (!tree) {
            ok = false;
            break;
        }
        if (last)
            last->next = tree;
        else
            first = tree;
        last = tree;
    }
    fclose(in);
    if (!ok) {
        for (profile_tree *t = first; t;) {
            profile_tree *next = t->next;
            tree_free(t);
            t = next;
        }
        return merge_failed(p, proc, why);
    }
    /* all of the process, or nothing of it */
    pthread_mutex_lock(&p->lock);
    if (first) {
        if (p->last)
            p->last->next = first;
        else
            p->first = first;
        p->last = last;
    }
    pthread_mutex_unlock(&p->lock);
    return true;
}

static bool write_profile(profile *p, const substrate_summary *summary, char *err, size_t errlen)
{
    bool has_master = false;
    for (profile_tree *t = p->first; t; t = t->next)
        has_master = has_master || (t->location_index == 0 && location_rank(t->location_id) == p->facts->rank);
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
        if (!trees[i]->merged)
            close_root(trees[i], summary->end_time);
    bool ok;
    if (p->facts->child) {
        ok = write_part(p, trees, n, err, errlen);
    } else {
        cube4_profile input = {.facts = p->facts, .summary = summary, .trees = trees, .tree_count = n};
        ok = cube4_write(&input, p->facts->experiment_dir, p->facts->cfg->profiling_base_name, err, errlen);
    }
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
    .mpi = profile_mpi,
    .io = profile_io,
    .merge = profile_merge,
};

SUBSTRATE_REGISTER(profile_ops)
