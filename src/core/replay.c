#include "replay.h"

#include <stdlib.h>

#include "defs.h"
#include "events.h"
#include "substrates.h"

/* False when out of memory: the enter is then not delivered (and its leave
 * will match nothing), so nesting stays consistent. */
static bool push(replay_stack *stack, uint32_t region)
{
    if (stack->depth == stack->capacity) {
        size_t capacity = stack->capacity ? 2 * stack->capacity : 16;
        uint32_t *grown = realloc(stack->regions, capacity * sizeof *grown);
        if (!grown)
            return false;
        stack->regions = grown;
        stack->capacity = capacity;
    }
    stack->regions[stack->depth++] = region;
    return true;
}

static void deliver_enter(location *loc, uint64_t t, uint32_t region)
{
    if (!push(&loc->replay, region))
        return;
    loc->event_count++;
    SUBSTRATES_DELIVER(loc, enter, t, region);
}

static void deliver_leave(location *loc, uint64_t t, uint32_t region)
{
    replay_stack *stack = &loc->replay;
    size_t k = stack->depth;
    while (k > 0 && stack->regions[k - 1] != region)
        k--;
    if (k == 0)
        return;  /* never entered (as far as the measurement saw) */
    while (stack->depth >= k) {
        uint32_t top = stack->regions[--stack->depth];
        loc->event_count++;
        SUBSTRATES_DELIVER(loc, leave, t, top);
        if (stack->depth == k - 1)
            break;
    }
}

static void replay_chunk(location *loc, const event_chunk *chunk)
{
    uint64_t t = chunk->base_time;
    const uint64_t *p = chunk->data;
    decoded_event e;
    loc->record_bytes += (uint64_t)(chunk->end - chunk->data) * sizeof *chunk->data;
    while (p < chunk->end) {
        event_decode(&p, &t, &e);
        if (e.kind == EVENT_ENTER) {
            deliver_enter(loc, t, e.region);
            continue;
        }
        if (e.kind == EVENT_LEAVE) {
            deliver_leave(loc, t, e.region);
            continue;
        }
        const uint64_t *payload = e.payload;
        switch (e.ext) {
        case EXT_PARAMETER_INT:
            loc->event_count++;
            SUBSTRATES_DELIVER(loc, parameter_int, t, (uint32_t)payload[0], (int64_t)payload[1]);
            break;
        case EXT_PARAMETER_UINT:
            loc->event_count++;
            SUBSTRATES_DELIVER(loc, parameter_uint, t, (uint32_t)payload[0], payload[1]);
            break;
        case EXT_PARAMETER_STRING:
            loc->event_count++;
            SUBSTRATES_DELIVER(loc, parameter_string, t, (uint32_t)payload[0], (uint32_t)payload[1]);
            break;
        case EXT_MEASUREMENT_ON:
        case EXT_MEASUREMENT_OFF:
            loc->event_count++;
            SUBSTRATES_DELIVER(loc, measurement_on_off, t, e.ext == EXT_MEASUREMENT_ON,
                               defs_artificial(ARTIFICIAL_MEASUREMENT_OFF));
            break;
        case EXT_METRIC:
            SUBSTRATES_DELIVER(loc, metric, t, payload, e.payload_words);
            break;
        case EXT_BUFFER_FLUSH:
            loc->event_count++;
            SUBSTRATES_DELIVER(loc, buffer_flush, t, payload[0], defs_artificial(ARTIFICIAL_BUFFER_FLUSH));
            t = payload[0];
            break;
        default:
            if (event_ext_is_mpi(e.ext) && e.payload_words >= MPI_RECORD_WORDS) {
                mpi_record record = mpi_record_unpack(e.ext, payload);
                loc->event_count++;
                SUBSTRATES_DELIVER(loc, mpi, t, &record);
            } else if (event_ext_is_io(e.ext) && e.payload_words >= IO_RECORD_WORDS) {
                io_record record = io_record_unpack(e.ext, payload);
                loc->event_count++;
                SUBSTRATES_DELIVER(loc, io, t, &record);
            }
            break;
        }
    }
    if (t > loc->last_replayed_time)
        loc->last_replayed_time = t;
}

void replay_chunks(location *loc, const event_chunk *chunks)
{
    for (const event_chunk *c = chunks; c; c = c->next)
        replay_chunk(loc, c);
}

void replay_close(location *loc, uint64_t final_time)
{
    uint64_t t = final_time > loc->last_replayed_time ? final_time : loc->last_replayed_time;
    replay_stack *stack = &loc->replay;
    while (stack->depth > 0) {
        uint32_t top = stack->regions[--stack->depth];
        loc->event_count++;
        SUBSTRATES_DELIVER(loc, leave, t, top);
    }
    loc->last_replayed_time = t;
}
