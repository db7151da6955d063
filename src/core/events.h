/* The in-memory event record: what the hot path stores.
 *
 * An enter or leave is one 64-bit word:
 *     bits 63..62  kind (EVENT_ENTER, EVENT_LEAVE)
 *     bits 61..40  region id (22 bits)
 *     bits 39..0   ticks since the previous event of the same location
 * Everything else (larger ids or gaps, parameters, on/off markers, buffer
 * flushes) is an extended record: a header word of kind EVENT_EXT with a
 * subtype and payload length, then the absolute timestamp, then the payload.
 * Records are decoded off the hot path by replay.c. */
#ifndef SCOREP_CORE_EVENTS_H
#define SCOREP_CORE_EVENTS_H

#include <stdint.h>

enum { EVENT_ENTER = 0, EVENT_LEAVE = 1, EVENT_EXT = 2 };

enum event_ext_type {
    EXT_NONE = 0,
    EXT_ENTER = 1,          /* payload: region */
    EXT_LEAVE = 2,          /* payload: region */
    EXT_PARAMETER_INT = 3,  /* payload: parameter, int64 value */
    EXT_PARAMETER_UINT = 4, /* payload: parameter, uint64 value */
    EXT_PARAMETER_STRING = 5, /* payload: parameter, string id */
    EXT_MEASUREMENT_ON = 6, /* no payload */
    EXT_MEASUREMENT_OFF = 7,
    EXT_BUFFER_FLUSH = 8,   /* payload: end time of the flush */
    EXT_METRIC = 9,         /* payload: the location's metric values (metrics.h) */
};

#define EVENT_KIND_SHIFT 62
#define EVENT_REGION_SHIFT 40
#define EVENT_REGION_BITS 22
#define EVENT_DELTA_BITS 40
#define EVENT_DELTA_MASK ((UINT64_C(1) << EVENT_DELTA_BITS) - 1)
#define EVENT_REGION_MASK ((UINT64_C(1) << EVENT_REGION_BITS) - 1)
/* region ids below this fit the one-word record */
#define EVENT_REGION_LIMIT (UINT32_C(1) << EVENT_REGION_BITS)

#define EXT_TYPE_SHIFT 54
#define EXT_LENGTH_SHIFT 38
#define EXT_MAX_PAYLOAD 40

static inline uint64_t event_pack(unsigned kind, uint32_t region, uint64_t delta)
{
    return ((uint64_t)kind << EVENT_KIND_SHIFT) | ((uint64_t)region << EVENT_REGION_SHIFT) | delta;
}

/* True when (region, delta) fit the one-word form. */
static inline int event_fits(uint32_t region, uint64_t delta)
{
    return ((delta >> EVENT_DELTA_BITS) | ((uint64_t)region >> EVENT_REGION_BITS)) == 0;
}

static inline uint64_t event_ext_header(enum event_ext_type type, unsigned payload_words)
{
    return ((uint64_t)EVENT_EXT << EVENT_KIND_SHIFT) | ((uint64_t)type << EXT_TYPE_SHIFT) |
           ((uint64_t)payload_words << EXT_LENGTH_SHIFT);
}

static inline unsigned event_kind(uint64_t w) { return (unsigned)(w >> EVENT_KIND_SHIFT); }
static inline uint32_t event_region(uint64_t w) { return (uint32_t)((w >> EVENT_REGION_SHIFT) & EVENT_REGION_MASK); }
static inline uint64_t event_delta(uint64_t w) { return w & EVENT_DELTA_MASK; }
static inline enum event_ext_type event_ext_type(uint64_t w) { return (enum event_ext_type)((w >> EXT_TYPE_SHIFT) & 0xff); }
static inline unsigned event_ext_length(uint64_t w) { return (unsigned)((w >> EXT_LENGTH_SHIFT) & 0xffff); }

/* One decoded record.  Wide enters/leaves are reported as EVENT_ENTER /
 * EVENT_LEAVE like the compact ones; other extended records as EVENT_EXT. */
typedef struct {
    unsigned kind;
    enum event_ext_type ext;
    uint32_t region;
    const uint64_t *payload;
    unsigned payload_words;
} decoded_event;

/* Decode the record at *p: advances *p and the running timestamp *t. */
static inline void event_decode(const uint64_t **p, uint64_t *t, decoded_event *e)
{
    uint64_t w = *(*p)++;
    e->kind = event_kind(w);
    if (e->kind != EVENT_EXT) {
        *t += event_delta(w);
        e->region = event_region(w);
        e->ext = 0;
        e->payload = NULL;
        e->payload_words = 0;
        return;
    }
    e->ext = event_ext_type(w);
    e->payload_words = event_ext_length(w);
    *t = *(*p)++;
    e->payload = *p;
    *p += e->payload_words;
    if (e->ext == EXT_ENTER || e->ext == EXT_LEAVE) {
        e->kind = e->ext == EXT_ENTER ? EVENT_ENTER : EVENT_LEAVE;
        e->region = (uint32_t)e->payload[0];
    }
}

#endif
