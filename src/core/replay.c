/* Decoding of buffered records and delivery to the substrates.
 *
 * Replay also sanitises nesting, so that every substrate sees properly
 * nested regions whatever the event sources did: a leave that matches no
 * open region is dropped (e.g. returns from frames entered before the
 * measurement started), a leave of a region further down the stack first
 * closes the regions above it, and replay_close() closes what is still open
 * at the end. */
#include <stdlib.h>

#include "events.h"
#include "substrate.h"

static const substrate_ops *substrates[SUBSTRATE_SLOTS];
static int substrate_total;

int substrate_register(const substrate_ops *ops)
{
    if (substrate_total == SUBSTRATE_SLOTS)
        return -1;
    substrates[substrate_total] = ops;
    return substrate_total++;
}

void substrate_reset(void) { substrate_total = 0; }

#define FOR_EACH_SUBSTRATE(call)                          \
    for (int s_ = 0; s_ < substrate_total; s_++) {        \
        const substrate_ops *ops = substrates[s_];        \
        call;                                             \
    }

static void push(replay_stack *stack, uint32_t region)
{
    if (stack->depth == stack->capacity) {
        stack->capacity = stack->capacity ? 2 * stack->capacity : 64;
        stack->regions = realloc(stack->regions, stack->capacity * sizeof *stack->regions);
    }
    stack->regions[stack->depth++] = region;
}

static void deliver_enter(location *loc, uint64_t t, uint32_t region)
{
    push(&loc->replay, region);
    loc->event_count++;
    FOR_EACH_SUBSTRATE(if (ops->enter) ops->enter(loc, t, region));
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
        FOR_EACH_SUBSTRATE(if (ops->leave) ops->leave(loc, t, top));
        if (stack->depth == k - 1)
            break;
    }
}

void replay_chunk(location *loc, const event_chunk *chunk)
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
            FOR_EACH_SUBSTRATE(if (ops->parameter_int) ops->parameter_int(loc, t, (uint32_t)payload[0], (int64_t)payload[1]));
            break;
        case EXT_PARAMETER_UINT:
            loc->event_count++;
            FOR_EACH_SUBSTRATE(if (ops->parameter_uint) ops->parameter_uint(loc, t, (uint32_t)payload[0], payload[1]));
            break;
        case EXT_PARAMETER_STRING:
            loc->event_count++;
            FOR_EACH_SUBSTRATE(if (ops->parameter_string) ops->parameter_string(loc, t, (uint32_t)payload[0], (uint32_t)payload[1]));
            break;
        case EXT_MEASUREMENT_ON:
        case EXT_MEASUREMENT_OFF:
            loc->event_count++;
            FOR_EACH_SUBSTRATE(if (ops->measurement_on_off) ops->measurement_on_off(loc, t, e.ext == EXT_MEASUREMENT_ON));
            break;
        case EXT_METRIC:
            FOR_EACH_SUBSTRATE(if (ops->metric) ops->metric(loc, t, payload, e.payload_words));
            break;
        case EXT_BUFFER_FLUSH:
            loc->event_count++;
            FOR_EACH_SUBSTRATE(if (ops->buffer_flush) ops->buffer_flush(loc, t, payload[0]));
            t = payload[0];
            break;
        default:
            break;
        }
    }
    if (t > loc->last_replayed_time)
        loc->last_replayed_time = t;
}

void replay_close(location *loc, uint64_t final_time)
{
    uint64_t t = final_time > loc->last_replayed_time ? final_time : loc->last_replayed_time;
    replay_stack *stack = &loc->replay;
    while (stack->depth > 0) {
        uint32_t top = stack->regions[--stack->depth];
        loc->event_count++;
        FOR_EACH_SUBSTRATE(if (ops->leave) ops->leave(loc, t, top));
    }
    loc->last_replayed_time = t;
}
