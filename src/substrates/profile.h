/* The profiling substrate: a call-path tree per location, aggregated from
 * the replayed events (bounded by the number of distinct call paths, not by
 * the length of the run), written as a CUBE4 profile (cube4.h) at the end. */
#ifndef SCOREP_SUBSTRATES_PROFILE_H
#define SCOREP_SUBSTRATES_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/ptrmap.h"

#define PROFILE_NO_NODE UINT32_MAX

typedef struct {
    uint32_t region;
    uint32_t parent;
    uint32_t first_child, next_sibling;
    uint64_t visits;
    uint64_t inclusive;         /* ticks */
    uint64_t minimum, maximum;  /* inclusive ticks of one visit */
    uint64_t bytes_sent, bytes_received;  /* MPI messages of this call path itself (exclusive) */
    uint64_t io_bytes_read, io_bytes_written;  /* POSIX I/O of this call path itself (exclusive) */
} profile_node;

/* What only the replay of a live location needs; freed when the location
 * closes (its thread ended), so that an ended thread keeps just its nodes. */
typedef struct {
    uint32_t *stack;            /* node of each open call */
    uint64_t *entered;          /* enter time of each open call */
    uint32_t depth, stack_capacity;
    uint32_t clipped;           /* open calls below the depth limit */
    bool off_clipped;           /* recording went off below the depth limit */
    ptrmap children;            /* (parent, region) -> child node */
    /* metrics: values at each open call's enter, and the node whose leave
     * awaits its metric record */
    uint64_t *metric_entered;   /* depth * metric_count */
    uint32_t metric_enter_pending, metric_leave_pending;
    uint64_t *metric_leave_entered;
} profile_replay;

typedef struct profile_tree {
    struct profile *profile;
    uint64_t location_id;
    uint32_t location_index;
    profile_node *nodes;        /* nodes[0] is the root: the program region */
    uint32_t count, capacity;
    unsigned metric_count;
    uint64_t *metric_sums;      /* inclusive sums per node: node * metric_count */
    uint64_t first_time, last_time;
    bool started;
    uint64_t bytes;             /* what this tree holds */
    profile_replay *replay;     /* NULL once the location closed */
    bool merged;                /* another process's, complete (its root closed) */
    bool mpi;                   /* it has MPI bytes */
    struct profile_tree *next;  /* every tree of the profile */
} profile_tree;

#endif
