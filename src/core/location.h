/* A location is one thread of one process: it owns an event buffer that only
 * its thread appends to.  The buffer is a list of chunks; full chunks wait
 * until a flush replays them into the substrates (trace writer, profile). */
#ifndef SCOREP_CORE_LOCATION_H
#define SCOREP_CORE_LOCATION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "events.h"

#define SUBSTRATE_SLOTS 4

typedef struct event_chunk {
    struct event_chunk *next;
    uint64_t base_time;   /* time the first delta in this chunk is relative to */
    uint64_t *end;        /* one past the last record written */
    uint64_t capacity;    /* words in data[] */
    uint64_t data[];
} event_chunk;

/* Where a rewind_begin() was called: enough to cut the buffer back to it. */
typedef struct rewind_mark {
    uint32_t name;          /* string id of the rewind region name */
    event_chunk *chunk;
    uint64_t *pos;
    uint64_t time;
    uint64_t flushes;       /* location->flush_count when marked */
    uint64_t mark_time;
} rewind_mark;

/* Sanitising replay state: the stack of regions entered and not yet left,
 * kept across flushes so nesting stays exact over the whole run. */
typedef struct replay_stack {
    uint32_t *regions;
    size_t depth, capacity;
} replay_stack;

typedef struct location {
    /* hot: touched on every event */
    uint64_t *pos;
    uint64_t *limit;          /* end of the current chunk's space */
    uint64_t last_time;
    uint32_t off_depth;       /* calls entered while recording was off */

    /* The chunk list: the owner appends records to `current` without a
     * lock; `lock` guards the list itself (taken once per chunk) against
     * the drain thread, which takes completed chunks from the front. */
    event_chunk *first, *current;
    pthread_mutex_t lock;
    /* held while chunks are taken and replayed: replays of one location
     * never overlap and keep the order of the chunks */
    pthread_mutex_t replay_lock;
    uint64_t id;              /* globally unique location id */
    uint32_t index;           /* index within the process (0 = master) */
    char name[64];
    uint64_t event_count;     /* events handed to the substrates */
    uint64_t record_bytes;    /* bytes of buffered records replayed */
    uint64_t flush_count;
    uint64_t last_replayed_time;
    replay_stack replay;
    rewind_mark *rewinds;
    size_t rewind_count, rewind_capacity;
    void *substrate_data[SUBSTRATE_SLOTS];
    _Atomic bool finished;    /* its thread has ended: nothing more is appended */
    struct location *next;    /* process-wide list, append only */
} location;

/* Create a location and link it into the process list (thread safe). */
location *location_create(const char *name);

/* Iterate all locations ever created (safe while others are added). */
location *location_first(void);

/* Slow path of appends: make room for `words` more words. */
void location_make_room(location *loc, size_t words);

/* Replay everything buffered into the substrates and free the chunks
 * (the owner's own thread, or anyone once the owner appends no more). */
void location_flush(location *loc);

/* Drain thread: replay and free the completed chunks (all chunks of a
 * location whose thread ended). */
void location_drain(location *loc);

/* Mark a location whose thread ended (callable from a thread-exit
 * destructor); its buffer is flushed at the next memory shortage. */
void location_finish(location *loc);

/* Total bytes currently held by event chunks in this process. */
uint64_t location_buffered_bytes(void);

/* Total bytes of event chunks replayed and freed so far (only grows). */
uint64_t location_released_bytes(void);

/* ---- appends (the hot path) ---- */

void location_append_wide(location *loc, unsigned kind, uint32_t region, uint64_t now);

/* The shortest append, for a region id the caller knows to be below
 * EVENT_REGION_LIMIT: false (nothing stored) when the record needs the
 * general path, i.e. the gap since the last event is too long, the clock
 * went backwards or the chunk is full. */
static inline bool location_append_short(location *loc, unsigned kind, uint32_t region, uint64_t now)
{
    uint64_t delta = now - loc->last_time;
    uint64_t *pos = loc->pos;
    if (__builtin_expect((delta >> EVENT_DELTA_BITS) == 0 && pos < loc->limit, 1)) {
        *pos = event_pack(kind, region, delta);
        loc->pos = pos + 1;
        loc->last_time = now;
        return true;
    }
    return false;
}

static inline void location_append(location *loc, unsigned kind, uint32_t region, uint64_t now)
{
    if (__builtin_expect(region < EVENT_REGION_LIMIT, 1) && location_append_short(loc, kind, region, now))
        return;
    location_append_wide(loc, kind, region, now);
}

/* Append an extended record with up to EXT_MAX_PAYLOAD payload words. */
void location_append_ext(location *loc, enum event_ext_type type, uint64_t now,
                         const uint64_t *payload, unsigned payload_words);

/* Rewind support (user API). */
void location_rewind_mark(location *loc, uint32_t name, uint64_t now);
/* Returns 1 if rewound, 0 if no mark of that name, -1 if the events were
 * already flushed and cannot be discarded any more. */
int location_rewind(location *loc, uint32_t name, bool discard, uint64_t now);

#endif
