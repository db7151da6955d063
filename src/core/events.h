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
    /* MPI (the MPI wrapper library): payload as mpi_record_pack writes it */
    EXT_MPI_SEND = 10,
    EXT_MPI_ISEND = 11,
    EXT_MPI_ISEND_COMPLETE = 12,
    EXT_MPI_IRECV_REQUEST = 13,
    EXT_MPI_RECV = 14,
    EXT_MPI_IRECV = 15,
    EXT_MPI_REQUEST_TEST = 16,
    EXT_MPI_REQUEST_CANCELLED = 17,
    EXT_MPI_COLLECTIVE_BEGIN = 18,
    EXT_MPI_COLLECTIVE_END = 19,
};

static inline int event_ext_is_mpi(enum event_ext_type t) { return t >= EXT_MPI_SEND && t <= EXT_MPI_COLLECTIVE_END; }

/* Collective operations (OTF2's list, in its order). */
typedef enum {
    MPI_COLL_BARRIER, MPI_COLL_BCAST, MPI_COLL_GATHER, MPI_COLL_GATHERV, MPI_COLL_SCATTER, MPI_COLL_SCATTERV,
    MPI_COLL_ALLGATHER, MPI_COLL_ALLGATHERV, MPI_COLL_ALLTOALL, MPI_COLL_ALLTOALLV, MPI_COLL_ALLTOALLW,
    MPI_COLL_ALLREDUCE, MPI_COLL_REDUCE, MPI_COLL_REDUCE_SCATTER, MPI_COLL_SCAN, MPI_COLL_EXSCAN,
    MPI_COLL_REDUCE_SCATTER_BLOCK,
} mpi_collective;

/* No root (a collective without one). */
#define MPI_RECORD_NO_ROOT UINT32_MAX

/* One MPI event: which fields mean something depends on the kind
 * (point-to-point: peer, comm, tag, bytes, request; collective end: comm,
 * op, root, sent, received; request events: request). */
typedef struct {
    enum event_ext_type kind;
    uint32_t comm;          /* the communicator's id (defs_comm) */
    uint32_t peer;          /* its rank in the communicator */
    uint32_t tag;
    uint32_t op;            /* mpi_collective */
    uint32_t root;          /* rank in the communicator, or MPI_RECORD_NO_ROOT */
    uint64_t bytes;         /* point-to-point */
    uint64_t sent, received;  /* collective */
    uint64_t request;       /* the request's id, unique in its process */
} mpi_record;

#define MPI_RECORD_WORDS 4

/* The payload of an MPI record (MPI_RECORD_WORDS words). */
static inline void mpi_record_pack(const mpi_record *r, uint64_t out[MPI_RECORD_WORDS])
{
    if (r->kind == EXT_MPI_COLLECTIVE_END || r->kind == EXT_MPI_COLLECTIVE_BEGIN) {
        out[0] = (uint64_t)r->comm << 32 | r->root;
        out[1] = r->op;
        out[2] = r->sent;
        out[3] = r->received;
    } else {
        out[0] = (uint64_t)r->comm << 32 | r->peer;
        out[1] = r->tag;
        out[2] = r->bytes;
        out[3] = r->request;
    }
}

static inline mpi_record mpi_record_unpack(enum event_ext_type kind, const uint64_t *in)
{
    mpi_record r = {.kind = kind, .comm = (uint32_t)(in[0] >> 32)};
    if (kind == EXT_MPI_COLLECTIVE_END || kind == EXT_MPI_COLLECTIVE_BEGIN) {
        r.root = (uint32_t)in[0];
        r.op = (uint32_t)in[1];
        r.sent = in[2];
        r.received = in[3];
    } else {
        r.peer = (uint32_t)in[0];
        r.tag = (uint32_t)in[1];
        r.bytes = in[2];
        r.request = in[3];
    }
    return r;
}

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
