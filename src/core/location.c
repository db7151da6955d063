#include "location.h"

#include <stdlib.h>
#include <string.h>

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static location *_Atomic all_head;
static location *all_tail;
static location *_Atomic live_head;
static location *live_tail;
static uint32_t location_counter;
static uint32_t process_rank;
static uint64_t chunk_bytes = 65536;
static _Atomic uint64_t buffered_bytes;
static _Atomic uint64_t released_bytes;  /* ever freed: progress of the replays */

void locations_configure(uint64_t bytes, uint32_t rank)
{
    chunk_bytes = bytes;
    process_rank = rank;
}

void locations_forget(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    list_lock = fresh;
    atomic_store(&all_head, NULL);
    atomic_store(&live_head, NULL);
    all_tail = live_tail = NULL;
    location_counter = 0;
    atomic_store(&buffered_bytes, 0);
    atomic_store(&released_bytes, 0);
}

uint64_t locations_chunk_bytes(void) { return chunk_bytes; }
uint64_t locations_buffered_bytes(void) { return atomic_load(&buffered_bytes); }
uint64_t locations_released_bytes(void) { return atomic_load(&released_bytes); }

location *location_create(uint32_t name, uint64_t start_time)
{
    location *loc = calloc(1, sizeof *loc);
    if (!loc)
        return NULL;
    pthread_mutex_init(&loc->lock, NULL);
    pthread_mutex_init(&loc->replay_lock, NULL);
    atomic_init(&loc->name, name);
    atomic_init(&loc->phase, LOCATION_LIVE);
    loc->last_time = start_time;
    pthread_mutex_lock(&list_lock);
    loc->index = location_counter++;
    loc->id = ((uint64_t)loc->index << 32) | process_rank;
    if (all_tail)
        atomic_store(&all_tail->next, loc);
    else
        atomic_store(&all_head, loc);
    all_tail = loc;
    loc->prev_live = live_tail;
    if (live_tail)
        atomic_store(&live_tail->next_live, loc);
    else
        atomic_store(&live_head, loc);
    live_tail = loc;
    pthread_mutex_unlock(&list_lock);
    return loc;
}

location *locations_first(void) { return atomic_load(&all_head); }
location *locations_first_live(void) { return atomic_load(&live_head); }

void location_unlink_live(location *loc)
{
    pthread_mutex_lock(&list_lock);
    location *next = atomic_load(&loc->next_live);
    if (loc->prev_live)
        atomic_store(&loc->prev_live->next_live, next);
    else if (atomic_load(&live_head) == loc)
        atomic_store(&live_head, next);
    if (next)
        next->prev_live = loc->prev_live;
    if (live_tail == loc)
        live_tail = loc->prev_live;
    loc->prev_live = NULL;
    pthread_mutex_unlock(&list_lock);
}

static event_chunk *chunk_new(uint64_t base_time)
{
    event_chunk *c = malloc(chunk_bytes);
    if (!c)
        return NULL;
    c->next = NULL;
    c->base_time = base_time;
    c->capacity = (chunk_bytes - sizeof *c) / sizeof(uint64_t);
    c->end = c->data;
    atomic_fetch_add(&buffered_bytes, chunk_bytes);
    return c;
}

void chunks_free(event_chunk *c)
{
    while (c) {
        event_chunk *next = c->next;
        atomic_fetch_sub(&buffered_bytes, chunk_bytes);
        atomic_fetch_add(&released_bytes, chunk_bytes);
        free(c);
        c = next;
    }
}

bool location_start_chunk(location *loc)
{
    event_chunk *c = chunk_new(loc->last_time);
    if (!c)
        return false;
    pthread_mutex_lock(&loc->lock);
    if (loc->current) {
        loc->current->end = loc->pos;
        loc->current->next = c;
    } else {
        loc->first = c;
    }
    loc->current = c;
    loc->pos = c->data;
    loc->limit = c->data + c->capacity - EVENT_EXT_MAX_WORDS;
    pthread_mutex_unlock(&loc->lock);
    return true;
}

event_chunk *location_take_all(location *loc)
{
    pthread_mutex_lock(&loc->lock);
    event_chunk *all = loc->first;
    if (all) {
        loc->current->end = loc->pos;
        loc->take_count++;
        /* rewind marks into these chunks can no longer be rewound to */
        for (size_t i = 0; i < loc->rewind_count; i++)
            loc->rewinds[i].chunk = NULL;
    }
    loc->first = loc->current = NULL;
    loc->pos = loc->limit = NULL;
    pthread_mutex_unlock(&loc->lock);
    return all;
}

event_chunk *location_take_completed(location *loc)
{
    /* completed chunks only, and none from the earliest rewind mark on:
     * those may still be cut away */
    pthread_mutex_lock(&loc->lock);
    event_chunk *stop = loc->current;
    for (size_t i = 0; i < loc->rewind_count; i++)
        if (loc->rewinds[i].chunk) {  /* the earliest mark still in the buffer */
            stop = loc->rewinds[i].chunk;
            break;
        }
    event_chunk *ready = NULL;
    if (loc->first && loc->first != stop) {
        ready = loc->first;
        event_chunk *last = ready;
        while (last->next != stop)
            last = last->next;
        last->next = NULL;
        loc->first = stop;
    }
    pthread_mutex_unlock(&loc->lock);
    return ready;
}

void location_release(location *loc)
{
    free(loc->replay.regions);
    loc->replay = (replay_stack){0};
    pthread_mutex_lock(&loc->lock);
    free(loc->rewinds);
    loc->rewinds = NULL;
    loc->rewind_count = loc->rewind_capacity = 0;
    pthread_mutex_unlock(&loc->lock);
}

void location_put(location *loc, unsigned kind, uint32_t region, uint64_t now)
{
    if (now < loc->last_time)
        now = loc->last_time;
    uint64_t delta = now - loc->last_time;
    if (event_fits(region, delta)) {
        *loc->pos++ = event_pack(kind, region, delta);
        loc->last_time = now;
        return;
    }
    uint64_t payload = region;
    location_put_ext(loc, kind == EVENT_ENTER ? EXT_ENTER : EXT_LEAVE, now, &payload, 1);
}

void location_put_ext(location *loc, enum event_ext_type type, uint64_t now, const uint64_t *payload,
                      unsigned payload_words)
{
    if (now < loc->last_time)
        now = loc->last_time;
    *loc->pos++ = event_ext_header(type, payload_words);
    *loc->pos++ = now;
    for (unsigned i = 0; i < payload_words; i++)
        *loc->pos++ = payload[i];
    loc->last_time = now;
}

bool location_rewind_mark(location *loc, uint32_t name, uint64_t now)
{
    pthread_mutex_lock(&loc->lock);  /* the replaying thread reads the marks */
    if (loc->rewind_count == loc->rewind_capacity) {
        size_t capacity = loc->rewind_capacity ? 2 * loc->rewind_capacity : 4;
        rewind_mark *grown = realloc(loc->rewinds, capacity * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&loc->lock);
            return false;
        }
        loc->rewinds = grown;
        loc->rewind_capacity = capacity;
    }
    loc->rewinds[loc->rewind_count++] = (rewind_mark){
        .name = name,
        .chunk = loc->current,
        .pos = loc->pos,
        .time = loc->last_time,
        .takes = loc->take_count,
        .mark_time = now < loc->last_time ? loc->last_time : now,
    };
    pthread_mutex_unlock(&loc->lock);
    return true;
}

/* The leaves after the mark of regions entered before it. */
static bool collect_kept_leaves(const rewind_mark *mark, kept_leave **out, size_t *count)
{
    size_t kept = 0, capacity = 0;
    kept_leave *leaves = NULL;
    uint64_t t = mark->time;
    uint32_t depth = 0;
    for (event_chunk *c = mark->chunk; c; c = c->next) {
        const uint64_t *p = c == mark->chunk ? mark->pos : c->data;
        if (c != mark->chunk)
            t = c->base_time;
        decoded_event e;
        while (p < c->end) {
            event_decode(&p, &t, &e);
            if (e.kind == EVENT_ENTER) {
                depth++;
            } else if (e.kind == EVENT_LEAVE) {
                if (depth > 0) {
                    depth--;
                    continue;
                }
                if (kept == capacity) {
                    capacity = capacity ? 2 * capacity : 8;
                    kept_leave *grown = realloc(leaves, capacity * sizeof *grown);
                    if (!grown) {
                        free(leaves);
                        return false;
                    }
                    leaves = grown;
                }
                leaves[kept++] = (kept_leave){e.region, t};
            } else if (e.ext == EXT_BUFFER_FLUSH) {
                t = e.payload[0];
            }
        }
    }
    *out = leaves;
    *count = kept;
    return true;
}

rewind_result location_rewind_cut(location *loc, uint32_t name, bool discard, uint64_t *mark_time,
                                  kept_leave **leaves, size_t *count)
{
    /* under the list lock: the replaying thread stops at the earliest mark,
     * so everything from the mark on is still here */
    pthread_mutex_lock(&loc->lock);
    size_t i = loc->rewind_count;
    while (i > 0 && loc->rewinds[i - 1].name != name)
        i--;
    if (i == 0) {
        pthread_mutex_unlock(&loc->lock);
        return REWIND_NO_MARK;
    }
    rewind_mark mark = loc->rewinds[i - 1];
    loc->rewind_count = i - 1;  /* drops this mark and every inner one */
    if (!discard || mark.takes != loc->take_count || !mark.chunk) {
        pthread_mutex_unlock(&loc->lock);
        return discard ? REWIND_TOO_LATE : REWIND_KEPT;
    }
    loc->current->end = loc->pos;
    if (!collect_kept_leaves(&mark, leaves, count)) {
        pthread_mutex_unlock(&loc->lock);
        return REWIND_TOO_LATE;  /* out of memory: keep the events */
    }
    chunks_free(mark.chunk->next);
    mark.chunk->next = NULL;
    loc->current = mark.chunk;
    loc->pos = mark.pos;
    loc->limit = mark.chunk->data + mark.chunk->capacity - EVENT_EXT_MAX_WORDS;
    loc->last_time = mark.time;
    pthread_mutex_unlock(&loc->lock);
    *mark_time = mark.mark_time;
    return REWIND_CUT;
}
