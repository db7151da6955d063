/* A location is one thread of one process: it owns an event buffer that
 * only its thread appends to.  The buffer is a list of chunks; completed
 * chunks are taken from the front and replayed into the substrates.
 *
 * This file is the data structure only: how much memory the buffers may
 * use, and who replays them when, is the buffer policy's (buffers.h). */
#ifndef SCOREP_CORE_LOCATION_H
#define SCOREP_CORE_LOCATION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    event_chunk *chunk;     /* NULL once the chunk was taken for replay */
    uint64_t *pos;
    uint64_t time;
    uint64_t takes;         /* location->take_count when marked */
    uint64_t mark_time;
} rewind_mark;

/* Replay state: the stack of regions entered and not yet left, kept across
 * chunks so nesting stays exact over the whole run. */
typedef struct replay_stack {
    uint32_t *regions;
    size_t depth, capacity;
} replay_stack;

typedef enum {
    LOCATION_LIVE,      /* its thread may append */
    LOCATION_FINISHED,  /* its thread ended: nothing more is appended */
    LOCATION_CLOSED,    /* finished, replayed, and released by the substrates */
} location_phase;

typedef struct location {
    /* hot: the owner's append cursor, touched on every event */
    uint64_t *pos;
    uint64_t *limit;          /* end of the current chunk's space for records */
    uint64_t last_time;
    uint32_t off_depth;       /* calls entered while recording was off */

    /* The chunk list: the owner appends to `current` without a lock;
     * `lock` guards the list (taken once per chunk) against the thread
     * that takes completed chunks from the front. */
    event_chunk *first, *current;
    pthread_mutex_t lock;
    /* held while chunks are taken and replayed: replays of one location
     * never overlap and keep the order of the chunks */
    pthread_mutex_t replay_lock;
    uint64_t take_count;      /* takes that emptied the whole buffer */

    uint64_t id;              /* globally unique: thread index << 32 | rank */
    uint32_t index;           /* index within the process (0 = master) */
    _Atomic uint32_t name;    /* string id of its name */

    /* replay state (under replay_lock) */
    uint64_t event_count;     /* events handed to the substrates */
    uint64_t record_bytes;    /* bytes of buffered records replayed */
    uint64_t last_replayed_time;
    replay_stack replay;
    void *substrate_state[SUBSTRATE_SLOTS];

    rewind_mark *rewinds;     /* under lock */
    size_t rewind_count, rewind_capacity;

    _Atomic int phase;        /* location_phase */
    struct location *_Atomic next;       /* every location, in creation order */
    struct location *_Atomic next_live;  /* the live list (see locations_first_live) */
    struct location *prev_live;
} location;

/* Chunk size and the process rank that goes into location ids; before the
 * first location is made. */
void locations_configure(uint64_t chunk_bytes, uint32_t rank);
/* A forked child that measures on as a process of its own: the parent's
 * locations are not its (their memory is left as it is). */
void locations_forget(void);

/* A new location, linked into both lists; NULL when out of memory. */
location *location_create(uint32_t name, uint64_t start_time);

/* Every location ever made, in creation order (safe while others are
 * added). */
location *locations_first(void);

/* The locations not yet closed.  A location taken off this list keeps its
 * next_live pointer, so a walk that is on it goes on safely. */
location *locations_first_live(void);
void location_unlink_live(location *loc);

/* Bytes held by chunks now, and released so far (only grows). */
uint64_t locations_buffered_bytes(void);
uint64_t locations_released_bytes(void);
uint64_t locations_chunk_bytes(void);

/* Begin a new current chunk (the previous one is completed).  False when
 * no memory is left for it; the buffer is unchanged then. */
bool location_start_chunk(location *loc);

/* Take the completed chunks (never the current one, nor any from the
 * earliest rewind mark on), or all of them; the caller replays them in
 * order and frees them with chunks_free().  Callers hold replay_lock. */
event_chunk *location_take_completed(location *loc);
event_chunk *location_take_all(location *loc);
void chunks_free(event_chunk *chunks);

/* Drop the replay state of a closed location (what stays is its
 * definition: id, index, name, counts). */
void location_release(location *loc);

static inline location_phase location_phase_of(const location *loc)
{
    return (location_phase)atomic_load_explicit(&loc->phase, memory_order_acquire);
}

/* ---- appends into room the chunk has ---- */

/* Words an extended record may take: header, time, payload. */
#define EVENT_EXT_MAX_WORDS (2 + EXT_MAX_PAYLOAD)

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

/* Room for a record of `words` words in the current chunk?  (limit keeps
 * EVENT_EXT_MAX_WORDS free below the chunk's end, so that a record never
 * straddles two chunks.) */
static inline bool location_has_room(const location *loc, size_t words)
{
    return loc->pos && loc->pos + words <= loc->limit + EVENT_EXT_MAX_WORDS;
}

/* Store an enter/leave or an extended record; the caller checked the room. */
void location_put(location *loc, unsigned kind, uint32_t region, uint64_t now);
void location_put_ext(location *loc, enum event_ext_type type, uint64_t now, const uint64_t *payload,
                      unsigned payload_words);

/* ---- rewind (user API) ---- */

/* Remember the current position under `name` (the buffer has a chunk);
 * false when out of memory. */
bool location_rewind_mark(location *loc, uint32_t name, uint64_t now);

/* The leaves a cut must keep: regions entered before the mark and left
 * after it. */
typedef struct {
    uint32_t region;
    uint64_t time;
} kept_leave;

typedef enum { REWIND_NO_MARK, REWIND_KEPT, REWIND_TOO_LATE, REWIND_CUT } rewind_result;

/* Undo to the innermost mark of that name: REWIND_NO_MARK if there is none;
 * without discard, or when its events were already taken for replay, the
 * mark is dropped (REWIND_KEPT / REWIND_TOO_LATE).  REWIND_CUT: the events
 * since the mark are gone; *mark_time is when it was set and *leaves
 * (malloc'd, *count of them) the leaves to append again. */
rewind_result location_rewind_cut(location *loc, uint32_t name, bool discard, uint64_t *mark_time,
                                  kept_leave **leaves, size_t *count);

#endif
