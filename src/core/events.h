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
    /* POSIX I/O (the I/O wrapper library): payload as io_record_pack writes it */
    EXT_IO_CREATE_HANDLE = 20,
    EXT_IO_DESTROY_HANDLE = 21,
    EXT_IO_DUPLICATE_HANDLE = 22,
    EXT_IO_SEEK = 23,
    EXT_IO_OPERATION_BEGIN = 24,
    EXT_IO_OPERATION_COMPLETE = 25,
};

static inline int event_ext_is_mpi(enum event_ext_type t) { return t >= EXT_MPI_SEND && t <= EXT_MPI_COLLECTIVE_END; }
static inline int event_ext_is_io(enum event_ext_type t)
{
    return t >= EXT_IO_CREATE_HANDLE && t <= EXT_IO_OPERATION_COMPLETE;
}

/* I/O modes and flags, with OTF2's values (IoAccessMode, IoCreationFlag,
 * IoStatusFlag, IoOperationMode, IoSeekOption). */
enum { IO_ACCESS_READ_ONLY = 0, IO_ACCESS_WRITE_ONLY = 1, IO_ACCESS_READ_WRITE = 2 };
enum {
    IO_CREATE_CREATE = 1 << 0, IO_CREATE_TRUNCATE = 1 << 1, IO_CREATE_DIRECTORY = 1 << 2,
    IO_CREATE_EXCLUSIVE = 1 << 3, IO_CREATE_NO_CONTROLLING_TERMINAL = 1 << 4, IO_CREATE_NO_FOLLOW = 1 << 5,
    IO_CREATE_PATH = 1 << 6, IO_CREATE_TEMPORARY_FILE = 1 << 7, IO_CREATE_LARGEFILE = 1 << 8,
};
enum {
    IO_STATUS_CLOSE_ON_EXEC = 1 << 0, IO_STATUS_APPEND = 1 << 1, IO_STATUS_NON_BLOCKING = 1 << 2,
    IO_STATUS_ASYNC = 1 << 3, IO_STATUS_SYNC = 1 << 4, IO_STATUS_DATA_SYNC = 1 << 5,
    IO_STATUS_AVOID_CACHING = 1 << 6, IO_STATUS_NO_ACCESS_TIME = 1 << 7,
};
enum { IO_OPERATION_READ = 0, IO_OPERATION_WRITE = 1, IO_OPERATION_FLUSH = 2 };
/* bytes done of a failed operation, the result of a failed seek */
#define IO_RECORD_FAILED UINT64_MAX

/* One I/O event: handle (defs_io_handle) and, by kind: the new handle
 * (duplicate); access mode, creation and status flags (create); status
 * flags (duplicate); operation mode, bytes requested and the matching id
 * (begin); bytes done, mode and matching id (complete); offset asked,
 * whence and resulting offset (seek). */
typedef struct {
    enum event_ext_type kind;
    uint32_t handle, new_handle;
    uint32_t mode;          /* access mode (create) or operation mode (begin, complete) */
    uint32_t creation, status;
    uint32_t whence;
    uint64_t bytes;         /* requested (begin), done (complete) */
    int64_t offset;         /* asked (seek) */
    uint64_t result;        /* the resulting offset (seek) */
    uint64_t matching;      /* ties a begin to its complete */
} io_record;

#define IO_RECORD_WORDS 4

static inline void io_record_pack(const io_record *r, uint64_t out[IO_RECORD_WORDS])
{
    out[0] = (uint64_t)r->handle | (uint64_t)r->new_handle << 32;
    out[1] = (uint64_t)(r->mode & 0xffff) | (uint64_t)(r->creation & 0xffff) << 16 |
             (uint64_t)(r->status & 0xffff) << 32 | (uint64_t)(r->whence & 0xffff) << 48;
    out[2] = r->kind == EXT_IO_SEEK ? (uint64_t)r->offset : r->bytes;
    out[3] = r->kind == EXT_IO_SEEK ? r->result : r->matching;
}

static inline io_record io_record_unpack(enum event_ext_type kind, const uint64_t *in)
{
    io_record r = {.kind = kind, .handle = (uint32_t)in[0], .new_handle = (uint32_t)(in[0] >> 32),
                   .mode = (uint32_t)(in[1] & 0xffff), .creation = (uint32_t)((in[1] >> 16) & 0xffff),
                   .status = (uint32_t)((in[1] >> 32) & 0xffff), .whence = (uint32_t)(in[1] >> 48)};
    if (kind == EXT_IO_SEEK) {
        r.offset = (int64_t)in[2];
        r.result = in[3];
    } else {
        r.bytes = in[2];
        r.matching = in[3];
    }
    return r;
}

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
