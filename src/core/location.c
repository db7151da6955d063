#include "location.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "measurement.h"
#include "substrate.h"

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static location *_Atomic list_head;
static location *list_tail;
static uint32_t location_counter;
static _Atomic uint64_t buffered_bytes;
static _Atomic uint64_t released_bytes;  /* ever freed: progress of the replays */

location *location_create(const char *name)
{
    location *loc = calloc(1, sizeof *loc);
    pthread_mutex_init(&loc->lock, NULL);
    pthread_mutex_init(&loc->replay_lock, NULL);
    pthread_mutex_lock(&list_lock);
    loc->index = location_counter++;
    /* globally unique across processes: thread index in the high half,
     * process rank in the low half */
    loc->id = ((uint64_t)loc->index << 32) | measurement.rank;
    snprintf(loc->name, sizeof loc->name, "%s", name);
    loc->last_time = measurement.start_time;
    if (list_tail)
        list_tail->next = loc;
    else
        atomic_store(&list_head, loc);
    list_tail = loc;
    pthread_mutex_unlock(&list_lock);
    return loc;
}

location *location_first(void) { return atomic_load(&list_head); }

uint64_t location_buffered_bytes(void) { return atomic_load(&buffered_bytes); }
uint64_t location_released_bytes(void) { return atomic_load(&released_bytes); }

static event_chunk *chunk_new(uint64_t base_time)
{
    uint64_t bytes = measurement.chunk_bytes ? measurement.chunk_bytes : 65536;
    event_chunk *c = malloc(bytes);
    c->next = NULL;
    c->base_time = base_time;
    c->capacity = (bytes - sizeof *c) / sizeof(uint64_t);
    c->end = c->data;
    atomic_fetch_add(&buffered_bytes, bytes);
    return c;
}

static void chunk_free(event_chunk *c)
{
    uint64_t bytes = measurement.chunk_bytes ? measurement.chunk_bytes : 65536;
    atomic_fetch_sub(&buffered_bytes, bytes);
    atomic_fetch_add(&released_bytes, bytes);
    free(c);
}

static void start_chunk(location *loc)
{
    event_chunk *c = chunk_new(loc->last_time);
    pthread_mutex_lock(&loc->lock);
    bool completed = loc->current != NULL;
    if (completed) {
        loc->current->end = loc->pos;
        loc->current->next = c;
    } else {
        loc->first = c;
    }
    loc->current = c;
    pthread_mutex_unlock(&loc->lock);
    loc->pos = c->data;
    /* leave room so an extended record never straddles two chunks */
    loc->limit = c->data + c->capacity - (2 + EXT_MAX_PAYLOAD);
    if (completed)
        drain_notify(location_buffered_bytes(), measurement_buffer_budget());
}

static void replay_and_free(location *loc, event_chunk *c)
{
    while (c) {
        event_chunk *next = c->next;
        replay_chunk(loc, c);
        chunk_free(c);
        c = next;
    }
}

void location_flush(location *loc)
{
    pthread_mutex_lock(&loc->replay_lock);
    pthread_mutex_lock(&loc->lock);
    event_chunk *all = loc->first;
    if (all)
        loc->current->end = loc->pos;
    loc->first = loc->current = NULL;
    loc->pos = loc->limit = NULL;
    if (all) {
        loc->flush_count++;
        /* rewind marks into these chunks can no longer be rewound to */
        for (size_t i = 0; i < loc->rewind_count; i++)
            loc->rewinds[i].chunk = NULL;
    }
    pthread_mutex_unlock(&loc->lock);
    replay_and_free(loc, all);
    pthread_mutex_unlock(&loc->replay_lock);
}

void location_drain(location *loc)
{
    if (atomic_load(&loc->finished)) {
        location_flush(loc);
        return;
    }
    /* completed chunks only, and none from the earliest rewind mark on:
     * those may still be cut away */
    pthread_mutex_lock(&loc->replay_lock);
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
    replay_and_free(loc, ready);
    pthread_mutex_unlock(&loc->replay_lock);
}

void location_finish(location *loc) { atomic_store(&loc->finished, true); }

/* Without the drain thread: buffers of ended threads are the first to go
 * when memory runs short. */
static void flush_finished_locations(void)
{
    for (location *other = location_first(); other; other = other->next)
        if (atomic_load(&other->finished))
            location_flush(other);
}

/* The owner flushes its own buffer, e.g. when the drain thread cannot
 * make room (it never takes the current chunk). */
static void location_flush_own(location *loc)
{
    if (!drain_running()) {
        location_flush(loc);
        return;
    }
    /* the drain thread may be replaying this location right now: take only
     * what it cannot touch, under the lock, and replay it after the chunks
     * it is working on (location_drain is ordered by the same lock) */
    location_drain(loc);
    location_flush(loc);
}

void location_make_room(location *loc, size_t words)
{
    if (loc->current && loc->pos + words <= loc->current->data + loc->current->capacity)
        return;
    uint64_t chunk = measurement.chunk_bytes ? measurement.chunk_bytes : 65536;
    uint64_t budget = measurement_buffer_budget();
    if (location_buffered_bytes() + chunk > budget && !drain_running())
        flush_finished_locations();
    if (loc->first && location_buffered_bytes() + chunk > budget) {
        /* The buffers are full: the drain thread has fallen behind (this
         * thread waits for it), or there is none (this thread flushes its
         * own buffer).  Either way the program was held up: an event. */
        uint64_t begin = clock_now();
        if (begin < loc->last_time)
            begin = loc->last_time;
        measurement_verbose("flushing the event buffer of location %s (%llu bytes in use)", loc->name,
                            (unsigned long long)location_buffered_bytes());
        if (!drain_wait_below(budget > chunk ? budget - chunk : 0) ||
            location_buffered_bytes() + chunk > budget + chunk)
            location_flush_own(loc);
        start_chunk(loc);
        uint64_t end = clock_now();
        if (end < begin)
            end = begin;
        /* as in Score-P, only a flush that wrote trace data is an event
         * (without tracing, replaying into the profile is cheap) */
        if (measurement.cfg.enable_tracing) {
            uint64_t payload = end;
            location_append_ext(loc, EXT_BUFFER_FLUSH, begin, &payload, 1);
        }
        loc->last_time = end;
        return;
    }
    start_chunk(loc);
}

void location_append_wide(location *loc, unsigned kind, uint32_t region, uint64_t now)
{
    if (now < loc->last_time)
        now = loc->last_time;
    uint64_t delta = now - loc->last_time;
    if (event_fits(region, delta)) {
        if (!loc->pos || loc->pos >= loc->limit)
            location_make_room(loc, 1 + 2 + EXT_MAX_PAYLOAD);
        if (now < loc->last_time)  /* a flush happened: the event follows it */
            now = loc->last_time;
        *loc->pos++ = event_pack(kind, region, now - loc->last_time);
        loc->last_time = now;
        return;
    }
    uint64_t payload = region;
    location_append_ext(loc, kind == EVENT_ENTER ? EXT_ENTER : EXT_LEAVE, now, &payload, 1);
}

void location_append_ext(location *loc, enum event_ext_type type, uint64_t now,
                         const uint64_t *payload, unsigned payload_words)
{
    if (!loc->pos || loc->pos + 2 + payload_words > loc->current->data + loc->current->capacity)
        location_make_room(loc, 2 + payload_words);
    if (now < loc->last_time)
        now = loc->last_time;
    *loc->pos++ = event_ext_header(type, payload_words);
    *loc->pos++ = now;
    for (unsigned i = 0; i < payload_words; i++)
        *loc->pos++ = payload[i];
    loc->last_time = now;
}

void location_rewind_mark(location *loc, uint32_t name, uint64_t now)
{
    if (!loc->pos)
        start_chunk(loc);
    pthread_mutex_lock(&loc->lock);  /* the drain thread reads the marks */
    if (loc->rewind_count == loc->rewind_capacity) {
        loc->rewind_capacity = loc->rewind_capacity ? 2 * loc->rewind_capacity : 4;
        loc->rewinds = realloc(loc->rewinds, loc->rewind_capacity * sizeof *loc->rewinds);
    }
    loc->rewinds[loc->rewind_count++] = (rewind_mark){
        .name = name,
        .chunk = loc->current,
        .pos = loc->pos,
        .time = loc->last_time,
        .flushes = loc->flush_count,
        .mark_time = now < loc->last_time ? loc->last_time : now,
    };
    pthread_mutex_unlock(&loc->lock);
}

int location_rewind(location *loc, uint32_t name, bool discard, uint64_t now)
{
    /* under the list lock: the drain thread stops at the earliest mark, so
     * everything from the mark on is still here */
    pthread_mutex_lock(&loc->lock);
    size_t i = loc->rewind_count;
    while (i > 0 && loc->rewinds[i - 1].name != name)
        i--;
    if (i == 0) {
        pthread_mutex_unlock(&loc->lock);
        return 0;
    }
    rewind_mark mark = loc->rewinds[i - 1];
    loc->rewind_count = i - 1;  /* drops this mark and every inner one */
    if (!discard || mark.flushes != loc->flush_count || !mark.chunk) {
        pthread_mutex_unlock(&loc->lock);
        return discard ? -1 : 1;
    }
    /* Leaves of regions entered before the mark must survive the cut, or
     * those regions would stay open and swallow everything after. */
    size_t kept = 0, kept_capacity = 0;
    struct { uint32_t region; uint64_t time; } *leaves = NULL;
    loc->current->end = loc->pos;
    uint64_t t = mark.time;
    uint32_t depth = 0;
    for (event_chunk *c = mark.chunk; c; c = c->next) {
        const uint64_t *p = c == mark.chunk ? mark.pos : c->data;
        if (c != mark.chunk)
            t = c->base_time;
        decoded_event e;
        while (p < c->end) {
            event_decode(&p, &t, &e);
            if (e.kind == EVENT_ENTER) {
                depth++;
            } else if (e.kind == EVENT_LEAVE) {
                if (depth > 0) {
                    depth--;
                } else {
                    if (kept == kept_capacity) {
                        kept_capacity = kept_capacity ? 2 * kept_capacity : 8;
                        leaves = realloc(leaves, kept_capacity * sizeof *leaves);
                    }
                    leaves[kept].region = e.region;
                    leaves[kept].time = t;
                    kept++;
                }
            } else if (e.ext == EXT_BUFFER_FLUSH) {
                t = e.payload[0];
            }
        }
    }
    for (event_chunk *c = mark.chunk->next; c;) {
        event_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    mark.chunk->next = NULL;
    loc->current = mark.chunk;
    loc->pos = mark.pos;
    loc->limit = mark.chunk->data + mark.chunk->capacity - (2 + EXT_MAX_PAYLOAD);
    loc->last_time = mark.time;
    pthread_mutex_unlock(&loc->lock);
    location_append_ext(loc, EXT_MEASUREMENT_OFF, mark.mark_time, NULL, 0);
    for (size_t i = 0; i < kept; i++) {
        uint64_t region = leaves[i].region;
        location_append_ext(loc, EXT_LEAVE, leaves[i].time, &region, 1);
    }
    free(leaves);
    location_append_ext(loc, EXT_MEASUREMENT_ON, now, NULL, 0);
    return 1;
}

