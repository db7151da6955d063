/* The tracing substrate: replayed events become OTF2 events, definitions
 * OTF2 global definitions (through Debian's libotf2).
 *
 * Every OTF2 call's result is checked.  The first failure (a full disk, a
 * vanished directory, no memory) ends the trace: the substrate reports it
 * in one line naming the file and the cause, writes nothing more, and at
 * the end removes the incomplete archive, whose files no reader could use.
 *
 * Memory: OTF2 buffers up to 4 MiB per open event file (beside the chunk
 * of each writer), so only a few locations get a writer while they are
 * live (max_writers, from SCOREP_TOTAL_MEMORY): the events of further live
 * threads wait in a compact spill file (spill.h) and are written when their
 * thread ends, one location at a time.  Sequential short threads never
 * wait: each ended one frees its writer for the next.
 *
 * Threads: OTF2's locking callbacks guard the archive (writers of
 * different locations are made, flushed and closed by whichever thread
 * replays them); one location's writer is only used by the thread that
 * replays that location (the core's replay lock). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <otf2/OTF2_Pthread_Locks.h>
#include <otf2/otf2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/substrate.h"
#include "spill.h"

typedef struct trace_location {
    struct trace *trace;
    OTF2_EvtWriter *writer;     /* NULL while waiting in the spill, and once closed */
    bool waiting;               /* its events go to the spill until it closes */
    bool closed;
    spill_stream spill;
    uint64_t id;
    uint32_t index;
    uint64_t last_time;         /* newest timestamp handed to the writer */
    uint64_t events;            /* taken when the writer is closed */
    bool broken;                /* a call on its writer failed: OTF2 must not touch its file again */
    struct trace_location *next;
} trace_location;

typedef struct trace {
    const substrate_facts *facts;
    OTF2_Archive *archive;
    pthread_mutex_t lock;       /* the location list, the writer count, the spill file, the error */
    trace_location *first, *last;
    unsigned open_writers, max_writers;  /* of live locations */
    spill_file *spill;
    atomic_bool failed;
    char error[1024];
    OTF2_ErrorCallback previous_error_callback;
    /* OTF2 writes into a directory of this run's own inside the experiment
     * (OTF2 opens its files by path and would follow links at their
     * names); its files are moved to their names when the archive is
     * complete */
    /* the locations of other processes (merge): their event files moved
     * into this archive */
    struct merged_location { uint64_t id; uint64_t events; } *merged;
    size_t merged_count, merged_capacity;
    bool filled;                /* fill_missing_ranks() added locations */
    char staging[64];           /* its name */
    char staging_path[PATH_MAX];
    struct stat staging_id;     /* which directory it is */
} trace;

static int open_staging(trace *t);

#define STAGING_PREFIX ".scorep-traces-"
#define SALVAGING_PREFIX ".scorep-salvage-"
#define FLUSHED_NAME "flushed"

/* ---- errors ---- */

/* What OTF2 said first about the error of the call under way in this
 * thread (its error callback writes here instead of printing on stderr):
 * the innermost report, e.g. "POSIX: '<path>'", names the file. */
static __thread char otf2_message[512];
static __thread OTF2_ErrorCode otf2_first_code;

static OTF2_ErrorCode capture_error(void *user, const char *file, uint64_t line, const char *function,
                                    OTF2_ErrorCode code, const char *fmt, va_list va)
{
    (void)user;
    (void)file;
    (void)line;
    (void)function;
    if (!otf2_message[0]) {
        vsnprintf(otf2_message, sizeof otf2_message, fmt ? fmt : "", va);
        otf2_first_code = code;
    }
    return code;
}

/* Remember the first failure; returns false for the caller to pass on. */
static bool fail(trace *t, OTF2_ErrorCode code, const char *doing)
{
    pthread_mutex_lock(&t->lock);
    if (!atomic_load(&t->failed)) {
        /* for I/O errors OTF2's innermost report names the file:
         * "POSIX: '<path>'" or "POSIX: <path>" */
        const char *path = strncmp(otf2_message, "POSIX: ", 7) == 0 ? otf2_message + 7 : NULL;
        /* the innermost code says why (e.g. ENOSPC), the outer ones what failed */
        if (otf2_message[0])
            code = otf2_first_code;
        size_t n = path ? strlen(path) : 0;
        if (n > 1 && path[0] == '\'' && path[n - 1] == '\'') {
            path++;
            n -= 2;
        }
        /* named as it would be in the experiment directory */
        size_t staged = strlen(t->staging_path);
        const char *dir = "";
        if (path && n > staged && strncmp(path, t->staging_path, staged) == 0 && path[staged] == '/') {
            dir = t->facts->experiment_dir;
            path += staged;
            n -= staged;
        }
        if (path && n)
            snprintf(t->error, sizeof t->error, "cannot write the OTF2 trace file '%s%.*s': %s; the incomplete trace "
                     "is removed", dir, (int)n, path, OTF2_Error_GetDescription(code));
        else
            snprintf(t->error, sizeof t->error, "cannot write the OTF2 trace in '%s' (%s): %s%s%s; the incomplete "
                     "trace is removed", t->facts->experiment_dir, doing,
                     OTF2_Error_GetDescription(code), otf2_message[0] ? ": " : "", otf2_message);
        atomic_store(&t->failed, true);
    }
    pthread_mutex_unlock(&t->lock);
    return false;
}

#define CHECK(t, call, doing)                                 \
    do {                                                      \
        otf2_message[0] = '\0';                               \
        OTF2_ErrorCode rc_ = (call);                          \
        if (rc_ != OTF2_SUCCESS)                              \
            return fail((t), rc_, (doing));                   \
    } while (0)

/* A failed call on a location's writer leaves its file in a state that
 * OTF2 crashes on when it closes it: such a writer is never closed. */
#define CHECK_WRITER(tl, call, doing)                         \
    do {                                                      \
        otf2_message[0] = '\0';                               \
        OTF2_ErrorCode rc_ = (call);                          \
        if (rc_ != OTF2_SUCCESS) {                            \
            (tl)->broken = true;                              \
            return fail((tl)->trace, rc_, (doing));           \
        }                                                     \
    } while (0)

static const char *trace_error(void *self) { return ((trace *)self)->error; }

/* ---- OTF2 callbacks ---- */

/* After a failure nothing more is written: OTF2 then drops its buffers
 * instead of writing them (it would write through a broken file). */
static void note_flushed(trace *t, OTF2_LocationRef loc, OTF2_EvtWriter *writer, bool final);

static OTF2_FlushType pre_flush(void *user, OTF2_FileType type, OTF2_LocationRef loc, void *caller, bool final)
{
    (void)final;
    trace *t = user;
    if (atomic_load(&t->failed))
        return OTF2_NO_FLUSH;
    if (type == OTF2_FILETYPE_EVENTS && caller && loc != OTF2_UNDEFINED_LOCATION && !t->facts->salvaging)
        note_flushed(t, loc, caller, final);
    return OTF2_FLUSH;
}

/* OTF2 stamps the end of its own buffer flushes with this value.  Events are
 * replayed after the fact, so "now" would lie in their future; the newest
 * replayed timestamp keeps every location's time line monotonic. */
static __thread uint64_t replay_time __attribute__((tls_model("initial-exec")));

static OTF2_TimeStamp post_flush(void *user, OTF2_FileType type, OTF2_LocationRef loc)
{
    (void)user; (void)type; (void)loc;
    return replay_time;
}

static OTF2_FlushCallbacks flush_callbacks = {pre_flush, post_flush};

/* OTF2 keeps every chunk it fills in memory unless its allocator says no.
 * An event writer gets one chunk of OTF2's smallest size: when it is full,
 * OTF2 writes it to the file and starts over, so a live thread's writer
 * holds at most OTF2_CHUNK_SIZE_MIN and a finished thread's writer is
 * closed (and its chunk given back) once its events are replayed.
 * Definition writers are not limited.
 *
 * Chunks are mapped pages of their own (a heap would keep the freed
 * chunks of ten thousand short threads as fragments), and a few freed ones
 * are kept for the next writer: OTF2 fills the unused rest of a chunk when
 * it writes it, so a fresh one would cost all its page faults per thread. */
#define EVENT_CHUNKS_PER_LOCATION 1
#define SPARE_CHUNKS 8

typedef struct {
    void **chunks;
    size_t count, capacity;
    uint64_t size;              /* of each of its chunks */
} chunk_list;

static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static void *spare_chunks[SPARE_CHUNKS];
static unsigned spare_count;

static void *chunk_map(uint64_t size)
{
    if (size == OTF2_CHUNK_SIZE_MIN) {
        pthread_mutex_lock(&spare_lock);
        void *chunk = spare_count ? spare_chunks[--spare_count] : NULL;
        pthread_mutex_unlock(&spare_lock);
        if (chunk)
            return chunk;
    }
    void *chunk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return chunk == MAP_FAILED ? NULL : chunk;
}

static void chunk_unmap(void *chunk, uint64_t size)
{
    if (size == OTF2_CHUNK_SIZE_MIN) {
        pthread_mutex_lock(&spare_lock);
        bool kept = spare_count < SPARE_CHUNKS;
        if (kept)
            spare_chunks[spare_count++] = chunk;
        pthread_mutex_unlock(&spare_lock);
        if (kept)
            return;
    }
    munmap(chunk, size);
}

static void *chunk_allocate(void *user, OTF2_FileType type, OTF2_LocationRef loc, void **per_buffer, uint64_t size)
{
    (void)user;
    (void)loc;
    chunk_list *list = *per_buffer;
    if (!list) {
        list = calloc(1, sizeof *list);
        if (!list)
            return NULL;
        list->size = size;
        *per_buffer = list;
    }
    if (type == OTF2_FILETYPE_EVENTS && list->count >= EVENT_CHUNKS_PER_LOCATION)
        return NULL;  /* OTF2 flushes and frees, then asks again */
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 4;
        void **grown = realloc(list->chunks, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        list->chunks = grown;
        list->capacity = capacity;
    }
    void *chunk = chunk_map(size);
    if (chunk)
        list->chunks[list->count++] = chunk;
    return chunk;
}

static void chunk_free_all(void *user, OTF2_FileType type, OTF2_LocationRef loc, void **per_buffer, bool final)
{
    (void)user;
    (void)type;
    (void)loc;
    chunk_list *list = *per_buffer;
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        chunk_unmap(list->chunks[i], list->size);
    list->count = 0;
    if (final) {
        free(list->chunks);
        free(list);
        *per_buffer = NULL;
    }
}

static OTF2_MemoryCallbacks memory_callbacks = {chunk_allocate, chunk_free_all};

/* ---- locations ---- */

/* Give the location its writer (the master's begins with the program). */
static bool open_writer(trace_location *tl)
{
    trace *t = tl->trace;
    otf2_message[0] = '\0';
    tl->writer = OTF2_Archive_GetEvtWriter(t->archive, tl->id);
    if (!tl->writer)
        return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "the event writer of a new location");
    if (tl->index == 0) {
        const substrate_facts *f = t->facts;
        replay_time = tl->last_time = f->start_time;
        CHECK_WRITER(tl,
                     OTF2_EvtWriter_ProgramBegin(tl->writer, NULL, f->start_time, f->program_name, f->program_argc,
                                                 f->program_args),
                     "the program begin");
    }
    return true;
}

static void *trace_location_open(void *self, const substrate_location *where)
{
    trace *t = self;
    trace_location *tl = calloc(1, sizeof *tl);
    if (!tl) {
        fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "a new location");
        return NULL;
    }
    tl->trace = t;
    tl->id = where->id;
    tl->index = where->index;
    pthread_mutex_lock(&t->lock);
    if (t->last)
        t->last->next = tl;
    else
        t->first = tl;
    t->last = tl;
    /* the master always gets a writer: it carries the program begin */
    tl->waiting = where->index != 0 && t->open_writers >= t->max_writers;
    if (!tl->waiting)
        t->open_writers++;
    pthread_mutex_unlock(&t->lock);
    if (!tl->waiting && !open_writer(tl))
        return NULL;
    return tl;
}

/* Write the location's local definitions file (OTF2 readers expect one per
 * location) and close its event file. */
static bool close_writer(trace_location *tl)
{
    trace *t = tl->trace;
    if (!tl->writer)
        return true;
    OTF2_EvtWriter *writer = tl->writer;
    tl->writer = NULL;
    tl->closed = true;
    pthread_mutex_lock(&t->lock);
    t->open_writers--;
    pthread_mutex_unlock(&t->lock);
    CHECK(t, OTF2_EvtWriter_GetNumberOfEvents(writer, &tl->events), "counting events");
    CHECK(t, OTF2_Archive_CloseEvtWriter(t->archive, writer), "closing an event file");
    if (t->facts->child)
        return true;  /* the root writes its local definitions, with the mappings (trace_merge) */
    otf2_message[0] = '\0';
    OTF2_DefWriter *local = OTF2_Archive_GetDefWriter(t->archive, tl->id);
    if (!local)
        return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "a local definitions file");
    CHECK(t, OTF2_Archive_CloseDefWriter(t->archive, local), "a local definitions file");
    return true;
}

static bool write_spilled(trace_location *tl);

/* The thread ended: a location that waited gets its writer now, for its
 * spilled events, and gives it back at once. */
static bool finish_location(trace_location *tl)
{
    if (tl->waiting) {
        trace *t = tl->trace;
        pthread_mutex_lock(&t->lock);
        t->open_writers++;
        pthread_mutex_unlock(&t->lock);
        tl->waiting = false;
        if (!open_writer(tl) || !write_spilled(tl))
            return false;
    }
    return close_writer(tl);
}

static bool trace_location_close(void *self, void *state, uint64_t end_time)
{
    (void)self;
    (void)end_time;
    return finish_location(state);
}

/* ---- events ---- */

/* The writer for an event at `time`: events of one location never go back
 * in time (OTF2 requires it; replay keeps it except around flushes). */
static inline OTF2_EvtWriter *event_writer(trace_location *tl, uint64_t *time)
{
    if (__builtin_expect(*time < tl->last_time, 0))
        *time = tl->last_time;
    replay_time = tl->last_time = *time;
    return tl->writer;
}

/* ---- events of a location that waits: into the spill ---- */

static bool spill_failed(trace *t, const char *why)
{
    pthread_mutex_lock(&t->lock);
    if (!atomic_load(&t->failed)) {
        snprintf(t->error, sizeof t->error, "%s; the incomplete trace is removed", why);
        atomic_store(&t->failed, true);
    }
    pthread_mutex_unlock(&t->lock);
    return false;
}

static spill_file *spill_of(trace *t, char *err, size_t errlen)
{
    pthread_mutex_lock(&t->lock);
    if (!t->spill) {
        int staging = open_staging(t);
        t->spill = spill_open(staging, t->facts->experiment_dir, err, errlen);
        if (staging >= 0)
            close(staging);
    }
    spill_file *spill = t->spill;
    pthread_mutex_unlock(&t->lock);
    return spill;
}

static bool spill_event(trace_location *tl, unsigned kind, uint32_t region, uint64_t time)
{
    char err[512];
    spill_file *spill = spill_of(tl->trace, err, sizeof err);
    if (!spill || !spill_put(spill, &tl->spill, kind, region, time, err, sizeof err))
        return spill_failed(tl->trace, err);
    return true;
}

static bool spill_record(trace_location *tl, enum event_ext_type type, uint64_t time, const uint64_t *payload,
                         unsigned words)
{
    char err[512];
    spill_file *spill = spill_of(tl->trace, err, sizeof err);
    if (!spill || !spill_put_ext(spill, &tl->spill, type, time, payload, words, err, sizeof err))
        return spill_failed(tl->trace, err);
    return true;
}

/* ---- events ---- */

static bool trace_enter(void *state, uint64_t time, uint32_t region)
{
    trace_location *tl = state;
    if (tl->waiting)
        return spill_event(tl, EVENT_ENTER, region, time);
    CHECK_WRITER(tl, OTF2_EvtWriter_Enter(event_writer(tl, &time), NULL, time, region), "an enter event");
    return true;
}

static bool trace_leave(void *state, uint64_t time, uint32_t region)
{
    trace_location *tl = state;
    if (tl->waiting)
        return spill_event(tl, EVENT_LEAVE, region, time);
    CHECK_WRITER(tl, OTF2_EvtWriter_Leave(event_writer(tl, &time), NULL, time, region), "a leave event");
    return true;
}

static bool trace_parameter_int(void *state, uint64_t time, uint32_t parameter, int64_t value)
{
    trace_location *tl = state;
    if (tl->waiting)
        return spill_record(tl, EXT_PARAMETER_INT, time, (uint64_t[]){parameter, (uint64_t)value}, 2);
    CHECK_WRITER(tl, OTF2_EvtWriter_ParameterInt(event_writer(tl, &time), NULL, time, parameter, value),
                 "a parameter event");
    return true;
}

static bool trace_parameter_uint(void *state, uint64_t time, uint32_t parameter, uint64_t value)
{
    trace_location *tl = state;
    if (tl->waiting)
        return spill_record(tl, EXT_PARAMETER_UINT, time, (uint64_t[]){parameter, value}, 2);
    CHECK_WRITER(tl, OTF2_EvtWriter_ParameterUnsignedInt(event_writer(tl, &time), NULL, time, parameter, value),
                 "a parameter event");
    return true;
}

static bool trace_parameter_string(void *state, uint64_t time, uint32_t parameter, uint32_t string)
{
    trace_location *tl = state;
    if (tl->waiting)
        return spill_record(tl, EXT_PARAMETER_STRING, time, (uint64_t[]){parameter, string}, 2);
    CHECK_WRITER(tl, OTF2_EvtWriter_ParameterString(event_writer(tl, &time), NULL, time, parameter, string),
                 "a parameter event");
    return true;
}

static bool trace_on_off(void *state, uint64_t time, bool on, uint32_t region)
{
    trace_location *tl = state;
    if (tl->waiting)
        return spill_record(tl, on ? EXT_MEASUREMENT_ON : EXT_MEASUREMENT_OFF, time, &(uint64_t){region}, 1);
    CHECK_WRITER(tl,
                 OTF2_EvtWriter_MeasurementOnOff(event_writer(tl, &time), NULL, time,
                                                 on ? OTF2_MEASUREMENT_ON : OTF2_MEASUREMENT_OFF),
                 "a measurement on/off event");
    return true;
}

static bool trace_buffer_flush(void *state, uint64_t time, uint64_t end_time, uint32_t region)
{
    trace_location *tl = state;
    if (tl->waiting)
        return spill_record(tl, EXT_BUFFER_FLUSH, time, (uint64_t[]){end_time, region}, 2);
    CHECK_WRITER(tl, OTF2_EvtWriter_BufferFlush(event_writer(tl, &time), NULL, time, end_time),
                 "a buffer flush event");
    event_writer(tl, &end_time);
    return true;
}

/* Metric classes: 0 holds the per-thread metrics, 1 (the master thread's)
 * the per-thread and the per-process ones. */
static OTF2_MetricRef metric_class_of(const trace_location *tl)
{
    const substrate_facts *f = tl->trace->facts;
    return tl->index == 0 && f->metric_count > f->thread_metric_count ? 1 : 0;
}

static bool trace_metric(void *state, uint64_t time, const uint64_t *values, unsigned count)
{
    trace_location *tl = state;
    if (count > METRICS_MAX)
        count = METRICS_MAX;
    if (tl->waiting)
        return spill_record(tl, EXT_METRIC, time, values, count);
    OTF2_Type types[METRICS_MAX];
    OTF2_MetricValue converted[METRICS_MAX];
    for (unsigned i = 0; i < count; i++) {
        types[i] = OTF2_TYPE_UINT64;
        converted[i].unsigned_int = values[i];
    }
    CHECK_WRITER(tl,
                 OTF2_EvtWriter_Metric(event_writer(tl, &time), NULL, time, metric_class_of(tl), (uint8_t)count,
                                       types, converted),
                 "a metric event");
    return true;
}

static OTF2_CollectiveOp collective_otf2(uint32_t op)
{
    static const OTF2_CollectiveOp ops[] = {
        [MPI_COLL_BARRIER] = OTF2_COLLECTIVE_OP_BARRIER,
        [MPI_COLL_BCAST] = OTF2_COLLECTIVE_OP_BCAST,
        [MPI_COLL_GATHER] = OTF2_COLLECTIVE_OP_GATHER,
        [MPI_COLL_GATHERV] = OTF2_COLLECTIVE_OP_GATHERV,
        [MPI_COLL_SCATTER] = OTF2_COLLECTIVE_OP_SCATTER,
        [MPI_COLL_SCATTERV] = OTF2_COLLECTIVE_OP_SCATTERV,
        [MPI_COLL_ALLGATHER] = OTF2_COLLECTIVE_OP_ALLGATHER,
        [MPI_COLL_ALLGATHERV] = OTF2_COLLECTIVE_OP_ALLGATHERV,
        [MPI_COLL_ALLTOALL] = OTF2_COLLECTIVE_OP_ALLTOALL,
        [MPI_COLL_ALLTOALLV] = OTF2_COLLECTIVE_OP_ALLTOALLV,
        [MPI_COLL_ALLTOALLW] = OTF2_COLLECTIVE_OP_ALLTOALLW,
        [MPI_COLL_ALLREDUCE] = OTF2_COLLECTIVE_OP_ALLREDUCE,
        [MPI_COLL_REDUCE] = OTF2_COLLECTIVE_OP_REDUCE,
        [MPI_COLL_REDUCE_SCATTER] = OTF2_COLLECTIVE_OP_REDUCE_SCATTER,
        [MPI_COLL_SCAN] = OTF2_COLLECTIVE_OP_SCAN,
        [MPI_COLL_EXSCAN] = OTF2_COLLECTIVE_OP_EXSCAN,
        [MPI_COLL_REDUCE_SCATTER_BLOCK] = OTF2_COLLECTIVE_OP_REDUCE_SCATTER_BLOCK,
    };
    return op < sizeof ops / sizeof ops[0] ? ops[op] : OTF2_COLLECTIVE_OP_BARRIER;
}

static bool trace_mpi(void *state, uint64_t time, const mpi_record *r)
{
    trace_location *tl = state;
    if (tl->waiting) {
        uint64_t payload[MPI_RECORD_WORDS];
        mpi_record_pack(r, payload);
        return spill_record(tl, r->kind, time, payload, MPI_RECORD_WORDS);
    }
    OTF2_EvtWriter *w = event_writer(tl, &time);
    OTF2_ErrorCode rc = OTF2_SUCCESS;
    switch (r->kind) {
    case EXT_MPI_SEND: rc = OTF2_EvtWriter_MpiSend(w, NULL, time, r->peer, r->comm, r->tag, r->bytes); break;
    case EXT_MPI_ISEND:
        rc = OTF2_EvtWriter_MpiIsend(w, NULL, time, r->peer, r->comm, r->tag, r->bytes, r->request);
        break;
    case EXT_MPI_ISEND_COMPLETE: rc = OTF2_EvtWriter_MpiIsendComplete(w, NULL, time, r->request); break;
    case EXT_MPI_IRECV_REQUEST: rc = OTF2_EvtWriter_MpiIrecvRequest(w, NULL, time, r->request); break;
    case EXT_MPI_RECV: rc = OTF2_EvtWriter_MpiRecv(w, NULL, time, r->peer, r->comm, r->tag, r->bytes); break;
    case EXT_MPI_IRECV:
        rc = OTF2_EvtWriter_MpiIrecv(w, NULL, time, r->peer, r->comm, r->tag, r->bytes, r->request);
        break;
    case EXT_MPI_REQUEST_TEST: rc = OTF2_EvtWriter_MpiRequestTest(w, NULL, time, r->request); break;
    case EXT_MPI_REQUEST_CANCELLED: rc = OTF2_EvtWriter_MpiRequestCancelled(w, NULL, time, r->request); break;
    case EXT_MPI_COLLECTIVE_BEGIN: rc = OTF2_EvtWriter_MpiCollectiveBegin(w, NULL, time); break;
    case EXT_MPI_COLLECTIVE_END:
        rc = OTF2_EvtWriter_MpiCollectiveEnd(w, NULL, time, collective_otf2(r->op), r->comm,
                                             r->root == MPI_RECORD_NO_ROOT ? OTF2_UNDEFINED_UINT32 : r->root,
                                             r->sent, r->received);
        break;
    default: break;
    }
    CHECK_WRITER(tl, rc, "an MPI event");
    return true;
}

/* The core's I/O values are OTF2's (events.h). */
_Static_assert((int)IO_ACCESS_READ_WRITE == (int)OTF2_IO_ACCESS_MODE_READ_WRITE &&
                   (int)IO_OPERATION_FLUSH == (int)OTF2_IO_OPERATION_MODE_FLUSH &&
                   (int)IO_CREATE_LARGEFILE == (int)OTF2_IO_CREATION_FLAG_LARGEFILE &&
                   (int)IO_STATUS_NO_ACCESS_TIME == (int)OTF2_IO_STATUS_FLAG_NO_ACCESS_TIME,
               "I/O flags differ from OTF2's");

static bool trace_io(void *state, uint64_t time, const io_record *r)
{
    trace_location *tl = state;
    if (tl->waiting) {
        uint64_t payload[IO_RECORD_WORDS];
        io_record_pack(r, payload);
        return spill_record(tl, r->kind, time, payload, IO_RECORD_WORDS);
    }
    OTF2_EvtWriter *w = event_writer(tl, &time);
    OTF2_ErrorCode rc = OTF2_SUCCESS;
    switch (r->kind) {
    case EXT_IO_CREATE_HANDLE:
        rc = OTF2_EvtWriter_IoCreateHandle(w, NULL, time, r->handle, (OTF2_IoAccessMode)r->mode,
                                           (OTF2_IoCreationFlag)r->creation, (OTF2_IoStatusFlag)r->status);
        break;
    case EXT_IO_DESTROY_HANDLE: rc = OTF2_EvtWriter_IoDestroyHandle(w, NULL, time, r->handle); break;
    case EXT_IO_DUPLICATE_HANDLE:
        rc = OTF2_EvtWriter_IoDuplicateHandle(w, NULL, time, r->handle, r->new_handle, (OTF2_IoStatusFlag)r->status);
        break;
    case EXT_IO_SEEK:
        rc = OTF2_EvtWriter_IoSeek(w, NULL, time, r->handle, r->offset, (OTF2_IoSeekOption)r->whence,
                                   r->result == IO_RECORD_FAILED ? OTF2_UNDEFINED_UINT64 : r->result);
        break;
    case EXT_IO_OPERATION_BEGIN:
        rc = OTF2_EvtWriter_IoOperationBegin(w, NULL, time, r->handle, (OTF2_IoOperationMode)r->mode,
                                             OTF2_IO_OPERATION_FLAG_NONE, r->bytes, r->matching);
        break;
    case EXT_IO_OPERATION_COMPLETE:
        rc = OTF2_EvtWriter_IoOperationComplete(w, NULL, time, r->handle,
                                                r->bytes == IO_RECORD_FAILED ? OTF2_UNDEFINED_UINT64 : r->bytes,
                                                r->matching);
        break;
    default: break;
    }
    CHECK_WRITER(tl, rc, "an I/O event");
    return true;
}

/* One spilled record, now through the location's writer. */
static bool write_spilled_event(void *context, uint64_t time, const decoded_event *e)
{
    trace_location *tl = context;
    const uint64_t *p = e->payload;
    if (e->kind == EVENT_ENTER)
        return trace_enter(tl, time, e->region);
    if (e->kind == EVENT_LEAVE)
        return trace_leave(tl, time, e->region);
    switch (e->ext) {
    case EXT_PARAMETER_INT: return trace_parameter_int(tl, time, (uint32_t)p[0], (int64_t)p[1]);
    case EXT_PARAMETER_UINT: return trace_parameter_uint(tl, time, (uint32_t)p[0], p[1]);
    case EXT_PARAMETER_STRING: return trace_parameter_string(tl, time, (uint32_t)p[0], (uint32_t)p[1]);
    case EXT_MEASUREMENT_ON:
    case EXT_MEASUREMENT_OFF: return trace_on_off(tl, time, e->ext == EXT_MEASUREMENT_ON, (uint32_t)p[0]);
    case EXT_BUFFER_FLUSH: return trace_buffer_flush(tl, time, p[0], (uint32_t)p[1]);
    case EXT_METRIC: return trace_metric(tl, time, p, e->payload_words);
    default:
        if (event_ext_is_mpi(e->ext) && e->payload_words >= MPI_RECORD_WORDS) {
            mpi_record r = mpi_record_unpack(e->ext, p);
            return trace_mpi(tl, time, &r);
        }
        if (event_ext_is_io(e->ext) && e->payload_words >= IO_RECORD_WORDS) {
            io_record r = io_record_unpack(e->ext, p);
            return trace_io(tl, time, &r);
        }
        return true;
    }
}

static bool write_spilled(trace_location *tl)
{
    char err[512] = "";
    if (spill_replay(tl->trace->spill, &tl->spill, write_spilled_event, tl, err, sizeof err))
        return true;
    return err[0] ? spill_failed(tl->trace, err) : false;
}

/* ---- open ---- */

static bool trace_wanted(const measurement_config *cfg) { return cfg->enable_tracing; }

static bool setup_archive(trace *t)
{
    OTF2_Archive *a = t->archive;
    CHECK(t, OTF2_Archive_SetFlushCallbacks(a, &flush_callbacks, t), "setting it up");
    CHECK(t, OTF2_Archive_SetMemoryCallbacks(a, &memory_callbacks, NULL), "setting it up");
    CHECK(t, OTF2_Archive_SetSerialCollectiveCallbacks(a), "setting it up");
    CHECK(t, OTF2_Pthread_Archive_SetLockingCallbacks(a, NULL), "setting it up");
    CHECK(t, OTF2_Archive_SetCreator(a, "scorep (Python measurement) " SCOREP_VERSION), "setting it up");
    CHECK(t, OTF2_Archive_SetMachineName(a, t->facts->cfg->machine_name), "setting it up");
    CHECK(t, OTF2_Archive_OpenEvtFiles(a), "opening the event files");
    CHECK(t, OTF2_Archive_OpenDefFiles(a), "opening the definition files");
    return true;
}

static void remove_archive(trace *t);

/* The staging directory, made here (mkdirat never follows a link), for
 * this user only. */
static bool make_staging(trace *t, char *err, size_t errlen)
{
    int dir = t->facts->experiment_fd;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(t->staging, sizeof t->staging, "%s%ld-%d",
                 t->facts->salvaging ? SALVAGING_PREFIX : STAGING_PREFIX, (long)getpid(), attempt);
        if (mkdirat(dir, t->staging, 0700) == 0) {
            if (fstatat(dir, t->staging, &t->staging_id, AT_SYMLINK_NOFOLLOW) != 0)
                break;
            snprintf(t->staging_path, sizeof t->staging_path, "%s/%s", t->facts->experiment_dir, t->staging);
            /* the notes' file exists from the start: no name appears in
             * the directory later (a program removing it meets no race) */
            int staging = t->facts->salvaging ? -1 : open_staging(t);
            int notes = staging >= 0 ? openat(staging, FLUSHED_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                              O_CLOEXEC, 0600)
                                     : -1;
            if (notes >= 0)
                close(notes);
            if (staging >= 0)
                close(staging);
            return true;
        }
        if (errno != EEXIST)
            break;
    }
    snprintf(err, errlen, "cannot create the OTF2 trace in '%s': %s", t->facts->experiment_dir, strerror(errno));
    return false;
}

/* The staging directory, opened now: the one made at the start, never
 * something put at its name since (-1 then). */
static int open_staging(trace *t)
{
    int fd = openat(t->facts->experiment_fd, t->staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != t->staging_id.st_dev || st.st_ino != t->staging_id.st_ino)) {
        close(fd);
        errno = ESTALE;
        fd = -1;
    }
    return fd;
}

/* (rmdir removes an empty directory only, never a link put at its name) */
static void remove_staging(trace *t)
{
    int staging = open_staging(t);
    if (staging >= 0) {
        unlinkat(staging, FLUSHED_NAME, 0);
        close(staging);
    }
    unlinkat(t->facts->experiment_fd, t->staging, AT_REMOVEDIR);
}

/* ---- what a SIGKILL leaves: the flushed event counts ---- */

/* OTF2 writes an event file in whole chunks of OTF2_CHUNK_SIZE_MIN bytes,
 * each begun with a chunk header, and only the last one of a closed file
 * is marked as the end: a reader of a file that was never closed reads
 * past its last chunk.  So each chunk handed to the file is noted in
 * FLUSHED_NAME as (location, events in all its chunks so far); chunk k of
 * a location (k counted from 1 in the file as it is found) then holds the
 * events up to its k-th note.  Notes reach the file before the chunk they
 * count (OTF2 holds up to 4 MiB before it writes).  The last chunk of a
 * closed writer is written as far as it is filled, after a final note: a
 * file with that one complete holds all the events of its final note. */
static void note_flushed(trace *t, OTF2_LocationRef loc, OTF2_EvtWriter *writer, bool final)
{
    uint64_t note[3] = {loc, 0, final};
    if (OTF2_EvtWriter_GetNumberOfEvents(writer, &note[1]) != OTF2_SUCCESS)
        return;
    int staging = open_staging(t);
    int fd = staging >= 0 ? openat(staging, FLUSHED_NAME, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd >= 0) {
        if (write(fd, note, sizeof note) != (ssize_t)sizeof note)
            ftruncate(fd, 0);  /* a note cut short: the counts are unusable */
        close(fd);
    }
    if (staging >= 0)
        close(staging);
}

/* The complete archive under its names: traces/, traces.def, and the
 * anchor file last; never over files of those names it did not make. */
static bool publish_archive(trace *t, char *err, size_t errlen)
{
    static const char *const names[] = {"traces", "traces.def", "traces.otf2"};
    int staging = open_staging(t);
    for (int i = 0; i < 3; i++) {
        if (staging < 0 || renameat2(staging, names[i], t->facts->experiment_fd, names[i], RENAME_NOREPLACE) != 0) {
            snprintf(err, errlen, "cannot name the OTF2 trace file '%s/%s' (%s): the trace is left in '%s/%s'",
                     t->facts->experiment_dir, names[i],
                     errno == EEXIST ? "a file of that name exists that this measurement did not make" : strerror(errno),
                     t->facts->experiment_dir, t->staging);
            if (staging >= 0)
                close(staging);
            return false;
        }
    }
    close(staging);
    remove_staging(t);
    return true;
}

static void *trace_open(const substrate_facts *facts, char *err, size_t errlen)
{
    trace *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory for the OTF2 trace");
        return NULL;
    }
    t->facts = facts;
    if (!make_staging(t, err, errlen)) {
        free(t);
        return NULL;
    }
    /* each open writer may hold 4 MiB (OTF2's file buffer) and a chunk:
     * about as many as SCOREP_TOTAL_MEMORY holds, at least two */
    uint64_t per_writer = 4u << 20;
    uint64_t fit = (facts->cfg->total_memory + per_writer - 1) / per_writer;
    t->max_writers = fit < 2 ? 2 : fit > 64 ? 64 : (unsigned)fit;
    pthread_mutex_init(&t->lock, NULL);
    t->previous_error_callback = OTF2_Error_RegisterCallback(capture_error, NULL);
    otf2_message[0] = '\0';
    /* definition chunks of OTF2's smallest size: the library touches a
     * whole chunk per definition file, and 4 MiB (its default) made closing
     * the archive cost 3 ms more whatever the size of the trace */
    t->archive = OTF2_Archive_Open(t->staging_path, "traces", OTF2_FILEMODE_WRITE, OTF2_CHUNK_SIZE_MIN,
                                   OTF2_CHUNK_SIZE_MIN, OTF2_SUBSTRATE_POSIX, OTF2_COMPRESSION_NONE);
    bool ok = t->archive ? setup_archive(t) : fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "creating the archive");
    if (!ok) {
        snprintf(err, errlen, "%s", t->error);
        if (t->archive)
            OTF2_Archive_Close(t->archive);
        remove_archive(t);
        OTF2_Error_RegisterCallback(t->previous_error_callback, NULL);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
    }
    return t;
}

/* ---- close ---- */

static OTF2_RegionRole region_role_otf2(region_role role)
{
    switch (role) {
    case REGION_ROLE_FUNCTION: return OTF2_REGION_ROLE_FUNCTION;
    case REGION_ROLE_USER: return OTF2_REGION_ROLE_CODE;
    case REGION_ROLE_ARTIFICIAL: return OTF2_REGION_ROLE_ARTIFICIAL;
    case REGION_ROLE_POINT2POINT: return OTF2_REGION_ROLE_POINT2POINT;
    case REGION_ROLE_COLL_ONE2ALL: return OTF2_REGION_ROLE_COLL_ONE2ALL;
    case REGION_ROLE_COLL_ALL2ONE: return OTF2_REGION_ROLE_COLL_ALL2ONE;
    case REGION_ROLE_COLL_ALL2ALL: return OTF2_REGION_ROLE_COLL_ALL2ALL;
    case REGION_ROLE_COLL_OTHER: return OTF2_REGION_ROLE_COLL_OTHER;
    case REGION_ROLE_BARRIER: return OTF2_REGION_ROLE_BARRIER;
    case REGION_ROLE_FILE_IO: return OTF2_REGION_ROLE_FILE_IO;
    case REGION_ROLE_FILE_IO_METADATA: return OTF2_REGION_ROLE_FILE_IO_METADATA;
    }
    return OTF2_REGION_ROLE_UNKNOWN;
}

static OTF2_Paradigm region_paradigm_otf2(region_paradigm paradigm)
{
    switch (paradigm) {
    case REGION_PARADIGM_USER: return OTF2_PARADIGM_USER;
    case REGION_PARADIGM_COMPILER: return OTF2_PARADIGM_COMPILER;
    case REGION_PARADIGM_MEASUREMENT: return OTF2_PARADIGM_MEASUREMENT_SYSTEM;
    case REGION_PARADIGM_MPI: return OTF2_PARADIGM_MPI;
    case REGION_PARADIGM_IO: return OTF2_PARADIGM_UNKNOWN;  /* (OTF2 has no region paradigm for I/O: its IoParadigm) */
    }
    return OTF2_PARADIGM_UNKNOWN;
}

static OTF2_ParameterType parameter_type_otf2(parameter_type type)
{
    switch (type) {
    case PARAMETER_INT: return OTF2_PARAMETER_TYPE_INT64;
    case PARAMETER_UINT: return OTF2_PARAMETER_TYPE_UINT64;
    case PARAMETER_STRING: return OTF2_PARAMETER_TYPE_STRING;
    }
    return OTF2_PARAMETER_TYPE_STRING;
}

/* Strings the trace needs beyond the measurement's own (system tree,
 * paradigm and metric names) get the ids after them. */
typedef struct {
    OTF2_GlobalDefWriter *writer;
    uint32_t next;
} string_table;

static OTF2_ErrorCode extra_string(string_table *s, const char *text, uint32_t *id)
{
    *id = s->next++;
    return OTF2_GlobalDefWriter_WriteString(s->writer, *id, text);
}

static trace_location *location_state(trace *t, uint64_t id)
{
    for (trace_location *tl = t->first; tl; tl = tl->next)
        if (tl->id == id)
            return tl;
    return NULL;
}

static bool write_metrics(trace *t, OTF2_GlobalDefWriter *defs, string_table *strings)
{
    const substrate_facts *f = t->facts;
    if (!f->metric_count)
        return true;
    OTF2_MetricMemberRef members[METRICS_MAX];
    for (unsigned i = 0; i < f->metric_count; i++) {
        const metric_def *m = &f->metrics[i];
        char name[128];
        /* a process-wide getrusage field gets its own name beside the per-thread one */
        snprintf(name, sizeof name, "%s%s", m->name, m->scope == METRIC_SCOPE_PROCESS ? " (process)" : "");
        uint32_t name_id, unit_id, description_id;
        CHECK(t, extra_string(strings, name, &name_id), "the definitions");
        CHECK(t, extra_string(strings, m->unit, &unit_id), "the definitions");
        CHECK(t, extra_string(strings, m->description, &description_id), "the definitions");
        CHECK(t,
              OTF2_GlobalDefWriter_WriteMetricMember(
                  defs, i, name_id, description_id, OTF2_METRIC_TYPE_OTHER,
                  m->accumulated ? OTF2_METRIC_ACCUMULATED_START : OTF2_METRIC_ABSOLUTE_POINT, OTF2_TYPE_UINT64,
                  OTF2_BASE_DECIMAL, 0, unit_id),
              "the definitions");
        members[i] = i;
    }
    CHECK(t,
          OTF2_GlobalDefWriter_WriteMetricClass(defs, 0, (uint8_t)f->thread_metric_count, members,
                                                OTF2_METRIC_SYNCHRONOUS_STRICT, OTF2_RECORDER_KIND_CPU),
          "the definitions");
    if (f->metric_count > f->thread_metric_count)
        CHECK(t,
              OTF2_GlobalDefWriter_WriteMetricClass(defs, 1, (uint8_t)f->metric_count, members,
                                                    OTF2_METRIC_SYNCHRONOUS_STRICT, OTF2_RECORDER_KIND_CPU),
              "the definitions");
    return true;
}

/* The size of MPI_COMM_WORLD: the largest rank a communicator names, + 1. */
static uint32_t world_size(const substrate_summary *s)
{
    uint32_t world = 0;
    for (uint32_t i = 0; i < s->defs.comm_count; i++) {
        const comm_def *c = &s->defs.comms[i];
        if (!c->members && c->size > world)
            world = c->size;
        for (uint32_t k = 0; c->members && k < c->size; k++)
            if (c->members[k] + 1 > world)
                world = c->members[k] + 1;
    }
    return world;
}

/* Whether the trace has the location: this process's own, salvaged here,
 * or merged from another process. */
static bool has_location(trace *t, uint64_t id)
{
    if (location_state(t, id))
        return true;
    for (size_t m = 0; m < t->merged_count; m++)
        if (t->merged[m].id == id)
            return true;
    return false;
}

/* A rank of the job whose master thread is not in the trace (it was killed
 * before it wrote events): the communicators' groups name it all the same,
 * so it gets an empty event file and a location without events. */
static bool fill_missing_ranks(trace *t, const substrate_summary *s)
{
    uint32_t world = world_size(s);
    for (uint32_t r = 0; r < world; r++) {
        if (has_location(t, r))
            continue;
        otf2_message[0] = '\0';
        OTF2_EvtWriter *w = OTF2_Archive_GetEvtWriter(t->archive, r);
        if (!w)
            return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "an empty event file");
        CHECK(t, OTF2_Archive_CloseEvtWriter(t->archive, w), "an empty event file");
        if (t->merged_count == t->merged_capacity) {
            size_t capacity = t->merged_capacity ? 2 * t->merged_capacity : 16;
            struct merged_location *grown = realloc(t->merged, capacity * sizeof *grown);
            if (!grown)
                return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "an empty event file");
            t->merged = grown;
            t->merged_capacity = capacity;
        }
        t->merged[t->merged_count++] = (struct merged_location){r, 0};
        t->filled = true;
    }
    return true;
}

/* MPI: the paradigm, the group of every rank's master location (a rank's
 * master thread is location <rank>), and for each communicator the group
 * of its members (their ranks in MPI_COMM_WORLD: indices into the first
 * group) and the communicator. */
static bool write_comms(trace *t, OTF2_GlobalDefWriter *defs, string_table *strings, const substrate_summary *s)
{
    uint32_t mpi_name, locations_name;
    CHECK(t, extra_string(strings, "MPI", &mpi_name), "the definitions");
    CHECK(t, extra_string(strings, "MPI_COMM_WORLD locations", &locations_name), "the definitions");
    CHECK(t, OTF2_GlobalDefWriter_WriteParadigm(defs, OTF2_PARADIGM_MPI, mpi_name, OTF2_PARADIGM_CLASS_PROCESS),
          "the definitions");
    uint32_t world = world_size(s);
    /* the ranks filled in (fill_missing_ranks): their locations, and their groups if their process is not there */
    for (uint32_t r = 0; t->filled && r < world; r++) {
        bool listed = false, grouped = false;
        for (uint32_t i = 0; i < s->location_count; i++)
            listed = listed || s->locations[i].id == r;
        for (uint32_t i = 0; i < s->process_count; i++)
            grouped = grouped || s->processes[i].rank == r;
        if (listed)
            continue;
        uint32_t name, master;
        char text[64];
        snprintf(text, sizeof text, "MPI Rank %u", r);
        CHECK(t, extra_string(strings, "Master thread", &master), "the definitions");
        if (!grouped) {
            CHECK(t, extra_string(strings, text, &name), "the definitions");
            CHECK(t,
                  OTF2_GlobalDefWriter_WriteLocationGroup(defs, r, name, OTF2_LOCATION_GROUP_TYPE_PROCESS, 1,
                                                          OTF2_UNDEFINED_LOCATION_GROUP),
                  "the definitions");
        }
        CHECK(t, OTF2_GlobalDefWriter_WriteLocation(defs, r, master, OTF2_LOCATION_TYPE_CPU_THREAD, 0, r),
              "the definitions");
    }
    uint64_t *members = malloc((world ? world : 1) * sizeof *members);
    if (!members)
        return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "the definitions");
    for (uint32_t r = 0; r < world; r++)
        members[r] = r;
    OTF2_ErrorCode rc = OTF2_GlobalDefWriter_WriteGroup(defs, 0, locations_name, OTF2_GROUP_TYPE_COMM_LOCATIONS,
                                                        OTF2_PARADIGM_MPI, OTF2_GROUP_FLAG_NONE, world, members);
    for (uint32_t i = 0; i < s->defs.comm_count && rc == OTF2_SUCCESS; i++) {
        const comm_def *c = &s->defs.comms[i];
        uint64_t *list = members;
        if (c->members) {
            list = malloc((c->size ? c->size : 1) * sizeof *list);
            if (!list) {
                rc = OTF2_ERROR_MEM_ALLOC_FAILED;
                break;
            }
            for (uint32_t k = 0; k < c->size; k++)
                list[k] = c->members[k];
        }
        rc = OTF2_GlobalDefWriter_WriteGroup(defs, 1 + i, c->name, OTF2_GROUP_TYPE_COMM_GROUP, OTF2_PARADIGM_MPI,
                                             OTF2_GROUP_FLAG_NONE, c->members ? c->size : (c->size < world ? c->size : world),
                                             list);
        if (list != members)
            free(list);
        if (rc == OTF2_SUCCESS)
            rc = OTF2_GlobalDefWriter_WriteComm(defs, i, c->name, 1 + i,
                                                c->parent < s->defs.comm_count ? c->parent : OTF2_UNDEFINED_COMM,
                                                OTF2_COMM_FLAG_NONE);
    }
    free(members);
    return rc == OTF2_SUCCESS || fail(t, rc, "the definitions");
}

/* I/O: its paradigms (POSIX I/O for file descriptors, ISO C I/O for
 * streams), a file per name (on this node), the handles, and the state of
 * the pre-created ones (the standard streams). */
static bool write_io(trace *t, OTF2_GlobalDefWriter *defs, string_table *strings, const substrate_summary *s)
{
    static const char *const paradigms[2][2] = {{"POSIX", "POSIX I/O"}, {"ISOC", "ISO C I/O"}};
    for (uint32_t p = 0; p < 2; p++) {
        uint32_t identification, name;
        CHECK(t, extra_string(strings, paradigms[p][0], &identification), "the I/O definitions");
        CHECK(t, extra_string(strings, paradigms[p][1], &name), "the I/O definitions");
        CHECK(t, OTF2_GlobalDefWriter_WriteIoParadigm(defs, p, identification, name, OTF2_IO_PARADIGM_CLASS_SERIAL,
                                                      p == 0 ? OTF2_IO_PARADIGM_FLAG_OS : OTF2_IO_PARADIGM_FLAG_NONE,
                                                      0, NULL, NULL, NULL),
              "the I/O definitions");
    }
    /* files by their name's string: file_of[string] = file + 1 */
    uint32_t *file_of = calloc(s->defs.string_count ? s->defs.string_count : 1, sizeof *file_of);
    if (!file_of)
        return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "the I/O definitions");
    uint32_t files = 0;
    OTF2_ErrorCode rc = OTF2_SUCCESS;
    for (uint32_t i = 0; i < s->defs.io_handle_count && rc == OTF2_SUCCESS; i++) {
        const io_handle_def *h = &s->defs.io_handles[i];
        if (h->file >= s->defs.string_count)
            continue;
        if (!file_of[h->file]) {
            rc = OTF2_GlobalDefWriter_WriteIoRegularFile(defs, files, h->file, 1);
            file_of[h->file] = ++files;
        }
        if (rc == OTF2_SUCCESS)
            rc = OTF2_GlobalDefWriter_WriteIoHandle(defs, i, h->name, file_of[h->file] - 1,
                                                    h->flags & IO_HANDLE_ISO_C ? 1 : 0,
                                                    h->flags & IO_HANDLE_PRE_CREATED ? OTF2_IO_HANDLE_FLAG_PRE_CREATED
                                                                                     : OTF2_IO_HANDLE_FLAG_NONE,
                                                    OTF2_UNDEFINED_COMM, OTF2_UNDEFINED_IO_HANDLE);
        if (rc == OTF2_SUCCESS && (h->flags & IO_HANDLE_PRE_CREATED))
            rc = OTF2_GlobalDefWriter_WriteIoPreCreatedHandleState(defs, i, (OTF2_IoAccessMode)h->mode,
                                                                   (OTF2_IoStatusFlag)h->status);
    }
    free(file_of);
    if (rc != OTF2_SUCCESS)
        return fail(t, rc, "the I/O definitions");
    return true;
}

static bool write_definitions(trace *t, OTF2_GlobalDefWriter *defs, const substrate_summary *s)
{
    const substrate_facts *f = t->facts;
    CHECK(t,
          OTF2_GlobalDefWriter_WriteClockProperties(defs, s->clock_resolution, s->start_time,
                                                    s->end_time - s->start_time, s->start_epoch_ns),
          "the definitions");
    for (uint32_t i = 0; i < s->defs.string_count; i++)
        CHECK(t, OTF2_GlobalDefWriter_WriteString(defs, i, s->defs.strings[i]), "the definitions");
    string_table strings = {defs, s->defs.string_count};
    uint32_t machine, machine_class, node, node_class, process, empty, paradigm_names[3];
    CHECK(t, extra_string(&strings, f->cfg->machine_name, &machine), "the definitions");
    CHECK(t, extra_string(&strings, "machine", &machine_class), "the definitions");
    CHECK(t, extra_string(&strings, s->host_name, &node), "the definitions");
    CHECK(t, extra_string(&strings, "node", &node_class), "the definitions");
    CHECK(t, extra_string(&strings, "Process", &process), "the definitions");
    CHECK(t, extra_string(&strings, "", &empty), "the definitions");
    CHECK(t, extra_string(&strings, "User", &paradigm_names[0]), "the definitions");
    CHECK(t, extra_string(&strings, "Compiler", &paradigm_names[1]), "the definitions");
    CHECK(t, extra_string(&strings, "Measurement", &paradigm_names[2]), "the definitions");

    CHECK(t, OTF2_GlobalDefWriter_WriteParadigm(defs, OTF2_PARADIGM_USER, paradigm_names[0], OTF2_PARADIGM_CLASS_PROCESS),
          "the definitions");
    CHECK(t,
          OTF2_GlobalDefWriter_WriteParadigm(defs, OTF2_PARADIGM_COMPILER, paradigm_names[1],
                                             OTF2_PARADIGM_CLASS_PROCESS),
          "the definitions");
    CHECK(t,
          OTF2_GlobalDefWriter_WriteParadigm(defs, OTF2_PARADIGM_MEASUREMENT_SYSTEM, paradigm_names[2],
                                             OTF2_PARADIGM_CLASS_PROCESS),
          "the definitions");
    CHECK(t, OTF2_GlobalDefWriter_WriteSystemTreeNode(defs, 0, machine, machine_class, OTF2_UNDEFINED_SYSTEM_TREE_NODE),
          "the definitions");
    CHECK(t, OTF2_GlobalDefWriter_WriteSystemTreeNode(defs, 1, node, node_class, 0), "the definitions");
    /* one location group per process: "Process" alone, "Process <pid>" among several, "MPI Rank <n>" */
    for (uint32_t i = 0; i < s->process_count; i++) {
        uint32_t group_name = process;
        if (s->process_count > 1 || s->processes[i].mpi_rank) {
            char text[64];
            process_name(s, i, text, sizeof text);
            CHECK(t, extra_string(&strings, text, &group_name), "the definitions");
        }
        CHECK(t,
              OTF2_GlobalDefWriter_WriteLocationGroup(defs, s->processes[i].rank, group_name,
                                                      OTF2_LOCATION_GROUP_TYPE_PROCESS, 1,
                                                      OTF2_UNDEFINED_LOCATION_GROUP),
              "the definitions");
    }
    for (uint32_t i = 0; i < s->defs.region_count; i++) {
        const region_def *r = &s->defs.regions[i];
        /* a region without a file has the empty string as its file */
        CHECK(t,
              OTF2_GlobalDefWriter_WriteRegion(defs, i, r->name, r->name, empty, region_role_otf2(r->role),
                                               region_paradigm_otf2(r->paradigm), OTF2_REGION_FLAG_NONE, r->file,
                                               r->first_line, r->last_line),
              "the definitions");
    }
    if (!write_metrics(t, defs, &strings))
        return false;
    for (uint32_t i = 0; i < s->defs.parameter_count; i++) {
        const parameter_def *p = &s->defs.parameters[i];
        CHECK(t, OTF2_GlobalDefWriter_WriteParameter(defs, i, p->name, parameter_type_otf2(p->type)),
              "the definitions");
    }
    /* in the order the locations were made; a thread that recorded nothing
     * has no event file: it is no location */
    trace_location **by_index = calloc(s->location_count ? s->location_count : 1, sizeof *by_index);
    if (!by_index)
        return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "the definitions");
    for (trace_location *tl = t->first; tl; tl = tl->next)
        if (tl->index < s->location_count && s->locations[tl->index].id == tl->id)
            by_index[tl->index] = tl;
    OTF2_ErrorCode rc = OTF2_SUCCESS;
    for (uint32_t i = 0; i < s->location_count && rc == OTF2_SUCCESS; i++) {
        const location_def *l = &s->locations[i];
        /* this process's own, and those of killed processes salvaged here */
        trace_location *own = location_rank(l->id) == f->rank ? by_index[i] : location_state(t, l->id);
        if (own) {
            rc = OTF2_GlobalDefWriter_WriteLocation(defs, l->id, l->name, OTF2_LOCATION_TYPE_CPU_THREAD, own->events,
                                                    location_rank(l->id));
            continue;
        }
        for (size_t m = 0; m < t->merged_count; m++)
            if (t->merged[m].id == l->id) {
                rc = OTF2_GlobalDefWriter_WriteLocation(defs, l->id, l->name, OTF2_LOCATION_TYPE_CPU_THREAD,
                                                        t->merged[m].events, location_rank(l->id));
                break;
            }
    }
    free(by_index);
    if (rc != OTF2_SUCCESS)
        return fail(t, rc, "the definitions");
    if (s->defs.io_handle_count && !write_io(t, defs, &strings, s))
        return false;
    /* the communicators' groups refer to the locations */
    return !s->defs.comm_count || write_comms(t, defs, &strings, s);
}

static bool write_trace(trace *t, const substrate_summary *s)
{
    /* the master location always exists in the trace: program begin/end */
    trace_location *master = s->location_count ? location_state(t, s->locations[0].id) : NULL;
    if (!master && s->location_count) {
        substrate_location where = {.id = s->locations[0].id, .index = 0, .metric_count = t->facts->metric_count};
        master = trace_location_open(t, &where);
        if (!master)
            return false;
    }
    if (master) {
        uint64_t end = s->end_time;
        CHECK_WRITER(master,
                     OTF2_EvtWriter_ProgramEnd(event_writer(master, &end), NULL, end,
                                               s->has_exit_status ? s->exit_status : OTF2_UNDEFINED_INT64),
                     "the program end");
    }
    /* one at a time: those that waited write their spilled events now */
    for (trace_location *tl = t->first; tl; tl = tl->next)
        if (!tl->closed && !finish_location(tl))
            return false;
    if (!t->facts->child && s->defs.comm_count && !fill_missing_ranks(t, s))
        return false;
    CHECK(t, OTF2_Archive_CloseEvtFiles(t->archive), "closing the event files");
    CHECK(t, OTF2_Archive_CloseDefFiles(t->archive), "closing the definition files");
    if (t->facts->child) {
        /* the event files and their notes stay for the root */
        CHECK(t, OTF2_Archive_Close(t->archive), "closing the archive");
        t->archive = NULL;
        return true;
    }
    otf2_message[0] = '\0';
    OTF2_GlobalDefWriter *defs = OTF2_Archive_GetGlobalDefWriter(t->archive);
    if (!defs)
        return fail(t, OTF2_ERROR_MEM_ALLOC_FAILED, "the global definitions");
    if (!write_definitions(t, defs, s))
        return false;
    CHECK(t, OTF2_Archive_CloseGlobalDefWriter(t->archive, defs), "the global definitions");
    CHECK(t, OTF2_Archive_Close(t->archive), "closing the archive");
    t->archive = NULL;
    return true;
}

/* Remove a file in dir, and free its space even if OTF2 still holds it
 * open (the broken writers' files are never closed). */
static void remove_file(int dir, const char *name)
{
    int fd = openat(dir, name, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    unlinkat(dir, name, 0);
}

/* The archive files in a staging directory: traces.otf2, traces.def and
 * traces/ with the files OTF2 wrote there, and the notes. */
static void remove_archive_files(int staging)
{
    int traces = openat(staging, "traces", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = traces >= 0 ? fdopendir(traces) : NULL;
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            size_t n = strlen(e->d_name);
            if (n > 4 && (strcmp(e->d_name + n - 4, ".evt") == 0 || strcmp(e->d_name + n - 4, ".def") == 0))
                remove_file(traces, e->d_name);
        }
        closedir(d);
        unlinkat(staging, "traces", AT_REMOVEDIR);
    } else if (traces >= 0) {
        close(traces);
    }
    remove_file(staging, "traces.otf2");
    remove_file(staging, "traces.def");
    unlinkat(staging, FLUSHED_NAME, 0);
}

/* An archive that could not be completed is removed with the staging
 * directory (found through the directory made at the start, never through
 * a link put at its name). */
static void remove_archive(trace *t)
{
    int staging = open_staging(t);
    if (staging < 0)
        return;
    remove_archive_files(staging);
    close(staging);
    remove_staging(t);
}

static bool trace_close(void *self, const substrate_summary *summary, char *err, size_t errlen)
{
    trace *t = self;
    bool ok = summary && !atomic_load(&t->failed) && write_trace(t, summary);
    if (!ok) {
        /* Release what OTF2 holds for the writers whose files are sound
         * (nothing more is written: pre_flush says so); its complaints are
         * captured, not shown.  The archive itself is left as it is: closing
         * it would close the broken files too, which OTF2 crashes on. */
        for (trace_location *tl = t->first; tl && t->archive; tl = tl->next)
            if (tl->writer && !tl->broken)
                OTF2_Archive_CloseEvtWriter(t->archive, tl->writer);
        remove_archive(t);
        snprintf(err, errlen, "%s", t->error[0] ? t->error : "the OTF2 trace was not written");
    } else if (!t->facts->child) {
        ok = publish_archive(t, err, errlen);
    }
    free(t->merged);
    OTF2_Error_RegisterCallback(t->previous_error_callback, NULL);
    for (trace_location *tl = t->first; tl;) {
        trace_location *next = tl->next;
        spill_stream_free(&tl->spill);
        free(tl);
        tl = next;
    }
    spill_close(t->spill);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return ok;
}

/* ---- salvage: the events a killed run had written ---- */

typedef struct {
    uint64_t id;
    uint64_t *counts;          /* its notes, in order */
    bool final;                /* the last note is the writer's final one */
    size_t count, capacity;
    uint64_t events;           /* in its file's whole chunks */
} salvage_location;

typedef struct {
    const salvage_sink *sink;
    void *handle;              /* the sink's location */
    bool failed;
} salvage_reading;

/* The leftover of a killed run: a staging directory with the notes.
 * Returns its descriptor (name in `name`), -1 if there is none (err
 * empty) or it cannot be used (err says why). */
static int find_leftover(int dir_fd, const char *dir, char *name, size_t namelen, char *err, size_t errlen)
{
    err[0] = '\0';
    /* a descriptor of its own: a dup would share the read position */
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "cannot read '%s': %s", dir, strerror(errno));
        return -1;
    }
    int found = -1, seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, STAGING_PREFIX, strlen(STAGING_PREFIX)) != 0)
            continue;
        int staging = openat(dir_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (staging < 0 || fstatat(staging, FLUSHED_NAME, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
            if (staging >= 0)
                close(staging);
            continue;
        }
        if (seen++) {
            close(staging);
            continue;
        }
        found = staging;
        snprintf(name, namelen, "%s", e->d_name);
    }
    closedir(d);
    if (seen > 1) {
        close(found);
        snprintf(err, errlen, "'%s' holds the event files of %d runs ('%s*'): only one can be recovered", dir, seen,
                 STAGING_PREFIX);
        return -1;
    }
    return found;
}

static salvage_location *salvage_location_of(salvage_location **all, size_t *n, uint64_t id)
{
    for (size_t i = 0; i < *n; i++)
        if ((*all)[i].id == id)
            return &(*all)[i];
    salvage_location *grown = realloc(*all, (*n + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    *all = grown;
    grown[*n] = (salvage_location){.id = id};
    return &grown[(*n)++];
}

/* The notes, and for each location how many events its file's whole
 * chunks hold. */
static bool read_notes(int staging, const char *where, salvage_location **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    int fd = openat(staging, FLUSHED_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read '%s/%s': %s", where, FLUSHED_NAME, strerror(errno));
        return false;
    }
    uint64_t note[3];
    bool ok = true;
    while (ok && read(fd, note, sizeof note) == (ssize_t)sizeof note) {
        salvage_location *l = salvage_location_of(out, n, note[0]);
        if (!l || (l->count == l->capacity &&
                   !(l->counts = realloc(l->counts, (l->capacity = l->capacity ? 2 * l->capacity : 64) * 8)))) {
            snprintf(err, errlen, "out of memory reading '%s/%s'", where, FLUSHED_NAME);
            ok = false;
        } else {
            l->counts[l->count++] = note[1];
            l->final = note[2] != 0;
        }
    }
    close(fd);
    int traces = ok ? openat(staging, "traces", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    for (size_t i = 0; ok && i < *n; i++) {
        salvage_location *l = &(*out)[i];
        char file[64];
        snprintf(file, sizeof file, "%llu.evt", (unsigned long long)l->id);
        struct stat st;
        bool found = traces >= 0 && fstatat(traces, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
        uint64_t chunks = found ? (uint64_t)st.st_size / OTF2_CHUNK_SIZE_MIN : 0;
        /* a closed writer's file: whole up to its last, partly filled chunk */
        if (found && l->final && chunks + 1 == l->count && (uint64_t)st.st_size % OTF2_CHUNK_SIZE_MIN)
            chunks = l->count;
        if (chunks > l->count)
            chunks = l->count;  /* cannot be: each chunk was noted before it was written */
        l->events = chunks ? l->counts[chunks - 1] : 0;
    }
    if (traces >= 0)
        close(traces);
    return ok;
}

static void free_notes(salvage_location *all, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(all[i].counts);
    free(all);
}

/* An anchor file and global definitions (locations and their event
 * counts, nothing else) for the leftover's event files, in a directory of
 * this process's own: its `traces` is a link to the leftover's. */
static bool write_reading_anchor(const char *path, const char *leftover_traces, const salvage_location *all, size_t n,
                                 char *err, size_t errlen)
{
    otf2_message[0] = '\0';
    OTF2_Archive *a = OTF2_Archive_Open(path, "traces", OTF2_FILEMODE_WRITE, OTF2_CHUNK_SIZE_MIN, OTF2_CHUNK_SIZE_MIN,
                                        OTF2_SUBSTRATE_POSIX, OTF2_COMPRESSION_NONE);
    OTF2_GlobalDefWriter *defs = NULL;
    bool ok = a && OTF2_Archive_SetFlushCallbacks(a, &(OTF2_FlushCallbacks){NULL, NULL}, NULL) == OTF2_SUCCESS &&
              OTF2_Archive_SetSerialCollectiveCallbacks(a) == OTF2_SUCCESS &&
              OTF2_Archive_SetCreator(a, "scorep (Python measurement) " SCOREP_VERSION) == OTF2_SUCCESS &&
              (defs = OTF2_Archive_GetGlobalDefWriter(a)) != NULL &&
              OTF2_GlobalDefWriter_WriteClockProperties(defs, 1, 0, UINT64_MAX / 2, 0) == OTF2_SUCCESS &&
              OTF2_GlobalDefWriter_WriteString(defs, 0, "") == OTF2_SUCCESS &&
              OTF2_GlobalDefWriter_WriteSystemTreeNode(defs, 0, 0, 0, OTF2_UNDEFINED_SYSTEM_TREE_NODE) ==
                  OTF2_SUCCESS &&
              OTF2_GlobalDefWriter_WriteLocationGroup(defs, 0, 0, OTF2_LOCATION_GROUP_TYPE_PROCESS, 0,
                                                      OTF2_UNDEFINED_LOCATION_GROUP) == OTF2_SUCCESS;
    for (size_t i = 0; ok && i < n; i++)
        ok = OTF2_GlobalDefWriter_WriteLocation(defs, all[i].id, 0, OTF2_LOCATION_TYPE_CPU_THREAD, all[i].events, 0) ==
             OTF2_SUCCESS;
    ok = ok && OTF2_Archive_CloseGlobalDefWriter(a, defs) == OTF2_SUCCESS;
    if (a)
        ok = OTF2_Archive_Close(a) == OTF2_SUCCESS && ok;
    char traces[PATH_MAX];
    snprintf(traces, sizeof traces, "%s/traces", path);
    ok = ok && rmdir(traces) == 0 && symlink(leftover_traces, traces) == 0;
    if (!ok)
        snprintf(err, errlen, "cannot prepare reading the leftover trace in '%s': %s", path,
                 otf2_message[0] ? otf2_message : strerror(errno));
    return ok;
}

static void remove_reading_anchor(const char *path)
{
    char file[PATH_MAX];
    static const char *const names[] = {"traces", "traces.otf2", "traces.def"};
    for (int i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        unlink(file);
    }
    rmdir(path);
}

#define SALVAGE_CALL(r, call)                                         \
    do {                                                              \
        if (!(call)) {                                                \
            (r)->failed = true;                                       \
            return OTF2_CALLBACK_INTERRUPT;                           \
        }                                                             \
        return OTF2_CALLBACK_SUCCESS;                                 \
    } while (0)

static OTF2_CallbackCode salvage_enter(OTF2_LocationRef loc, OTF2_TimeStamp time, uint64_t pos, void *user,
                                       OTF2_AttributeList *attributes, OTF2_RegionRef region)
{
    (void)loc; (void)pos; (void)attributes;
    salvage_reading *r = user;
    SALVAGE_CALL(r, r->sink->enter(r->handle, time, region));
}

static OTF2_CallbackCode salvage_leave(OTF2_LocationRef loc, OTF2_TimeStamp time, uint64_t pos, void *user,
                                       OTF2_AttributeList *attributes, OTF2_RegionRef region)
{
    (void)loc; (void)pos; (void)attributes;
    salvage_reading *r = user;
    SALVAGE_CALL(r, r->sink->leave(r->handle, time, region));
}

static OTF2_CallbackCode salvage_parameter_int(OTF2_LocationRef loc, OTF2_TimeStamp time, uint64_t pos, void *user,
                                               OTF2_AttributeList *attributes, OTF2_ParameterRef parameter,
                                               int64_t value)
{
    (void)loc; (void)pos; (void)attributes;
    salvage_reading *r = user;
    SALVAGE_CALL(r, r->sink->parameter_int(r->handle, time, parameter, value));
}

static OTF2_CallbackCode salvage_parameter_uint(OTF2_LocationRef loc, OTF2_TimeStamp time, uint64_t pos, void *user,
                                                OTF2_AttributeList *attributes, OTF2_ParameterRef parameter,
                                                uint64_t value)
{
    (void)loc; (void)pos; (void)attributes;
    salvage_reading *r = user;
    SALVAGE_CALL(r, r->sink->parameter_uint(r->handle, time, parameter, value));
}

static OTF2_CallbackCode salvage_parameter_string(OTF2_LocationRef loc, OTF2_TimeStamp time, uint64_t pos,
                                                  void *user, OTF2_AttributeList *attributes,
                                                  OTF2_ParameterRef parameter, OTF2_StringRef string)
{
    (void)loc; (void)pos; (void)attributes;
    salvage_reading *r = user;
    SALVAGE_CALL(r, r->sink->parameter_string(r->handle, time, parameter, string));
}

static OTF2_CallbackCode salvage_on_off(OTF2_LocationRef loc, OTF2_TimeStamp time, uint64_t pos, void *user,
                                        OTF2_AttributeList *attributes, OTF2_MeasurementMode mode)
{
    (void)loc; (void)pos; (void)attributes;
    salvage_reading *r = user;
    SALVAGE_CALL(r, r->sink->measurement_on_off(r->handle, time, mode == OTF2_MEASUREMENT_ON));
}

static OTF2_CallbackCode salvage_metric(OTF2_LocationRef loc, OTF2_TimeStamp time, uint64_t pos, void *user,
                                        OTF2_AttributeList *attributes, OTF2_MetricRef metric, uint8_t count,
                                        const OTF2_Type *types, const OTF2_MetricValue *values)
{
    (void)loc; (void)pos; (void)attributes; (void)metric; (void)types;
    salvage_reading *r = user;
    uint64_t v[METRICS_MAX];
    unsigned n = count < METRICS_MAX ? count : METRICS_MAX;
    for (unsigned i = 0; i < n; i++)
        v[i] = values[i].unsigned_int;
    SALVAGE_CALL(r, r->sink->metric(r->handle, time, v, n));
}

/* Read the events of every noted location through the OTF2 reader. */
static int64_t read_leftover(const char *anchor, const salvage_location *all, size_t n, const salvage_sink *sink,
                             char *err, size_t errlen)
{
    otf2_message[0] = '\0';
    OTF2_Reader *reader = OTF2_Reader_Open(anchor);
    OTF2_EvtReaderCallbacks *callbacks = OTF2_EvtReaderCallbacks_New();
    if (!reader || !callbacks || OTF2_Reader_SetSerialCollectiveCallbacks(reader) != OTF2_SUCCESS) {
        snprintf(err, errlen, "cannot read the leftover trace: %s", otf2_message[0] ? otf2_message : "no memory");
        if (callbacks)
            OTF2_EvtReaderCallbacks_Delete(callbacks);
        if (reader)
            OTF2_Reader_Close(reader);
        return -1;
    }
    OTF2_EvtReaderCallbacks_SetEnterCallback(callbacks, salvage_enter);
    OTF2_EvtReaderCallbacks_SetLeaveCallback(callbacks, salvage_leave);
    OTF2_EvtReaderCallbacks_SetParameterIntCallback(callbacks, salvage_parameter_int);
    OTF2_EvtReaderCallbacks_SetParameterUnsignedIntCallback(callbacks, salvage_parameter_uint);
    OTF2_EvtReaderCallbacks_SetParameterStringCallback(callbacks, salvage_parameter_string);
    OTF2_EvtReaderCallbacks_SetMeasurementOnOffCallback(callbacks, salvage_on_off);
    OTF2_EvtReaderCallbacks_SetMetricCallback(callbacks, salvage_metric);
    int64_t total = 0;
    for (size_t i = 0; i < n && total >= 0; i++) {
        if (!all[i].events)
            continue;
        salvage_reading r = {sink, sink->location(sink->self, all[i].id), false};
        if (!r.handle)
            continue;
        otf2_message[0] = '\0';
        OTF2_EvtReader *events = NULL;
        uint64_t read = 0;
        bool ok = OTF2_Reader_SelectLocation(reader, all[i].id) == OTF2_SUCCESS &&
                  OTF2_Reader_OpenEvtFiles(reader) == OTF2_SUCCESS &&
                  (events = OTF2_Reader_GetEvtReader(reader, all[i].id)) != NULL &&
                  OTF2_Reader_RegisterEvtCallbacks(reader, events, callbacks, &r) == OTF2_SUCCESS;
        OTF2_ErrorCode rc = ok ? OTF2_Reader_ReadLocalEvents(reader, events, all[i].events, &read) : OTF2_ERROR_END_OF_BUFFER;
        if (r.failed) {
            snprintf(err, errlen, "writing the recovered results failed");
            total = -1;
        } else if (!ok || (rc != OTF2_SUCCESS && rc != OTF2_ERROR_INTERRUPTED_BY_CALLBACK) || read != all[i].events) {
            snprintf(err, errlen, "cannot read the events of location %llu from the leftover trace%s%s",
                     (unsigned long long)all[i].id, otf2_message[0] ? ": " : "", otf2_message);
            total = -1;
        } else {
            total += (int64_t)read;
        }
        if (events)
            OTF2_Reader_CloseEvtReader(reader, events);
        OTF2_Reader_CloseEvtFiles(reader);
    }
    OTF2_EvtReaderCallbacks_Delete(callbacks);
    OTF2_Reader_Close(reader);
    return total;
}

static int64_t trace_salvage(int dir_fd, const char *dir, const salvage_sink *sink, char *err, size_t errlen)
{
    char name[NAME_MAX + 1];
    int staging = find_leftover(dir_fd, dir, name, sizeof name, err, errlen);
    if (staging < 0)
        return err[0] ? -1 : 0;
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s/%s", dir, name);
    salvage_location *all;
    size_t n;
    OTF2_ErrorCallback previous = OTF2_Error_RegisterCallback(capture_error, NULL);
    int64_t total = -1;
    if (read_notes(staging, where, &all, &n, err, errlen)) {
        char reading[PATH_MAX], leftover_traces[PATH_MAX + 16], anchor[PATH_MAX + 16];
        snprintf(reading, sizeof reading, "%s/%s%ld", dir, SALVAGING_PREFIX, (long)getpid());
        snprintf(leftover_traces, sizeof leftover_traces, "../%s/traces", name);
        snprintf(anchor, sizeof anchor, "%s/traces.otf2", reading);
        if (mkdir(reading, 0700) != 0)
            snprintf(err, errlen, "cannot create '%s': %s", reading, strerror(errno));
        else if (write_reading_anchor(reading, leftover_traces, all, n, err, errlen))
            total = read_leftover(anchor, all, n, sink, err, errlen);
        remove_reading_anchor(reading);
        free_notes(all, n);
    }
    OTF2_Error_RegisterCallback(previous, NULL);
    close(staging);
    return total;
}

/* The recovered results are written: the leftover goes. */
static void trace_salvaged(int dir_fd)
{
    char name[NAME_MAX + 1], err[256];
    int staging = find_leftover(dir_fd, ".", name, sizeof name, err, sizeof err);
    if (staging < 0)
        return;
    remove_archive_files(staging);
    close(staging);
    unlinkat(dir_fd, name, AT_REMOVEDIR);
}

/* ---- merge: the event files of another process of the experiment ---- */

static bool merge_failed(trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool merge_failed(trace *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
    return false;
}

static OTF2_ErrorCode write_mapping(OTF2_DefWriter *local, OTF2_MappingType type, const uint32_t *map, uint32_t n)
{
    if (!n)
        return OTF2_SUCCESS;
    OTF2_IdMap *ids = OTF2_IdMap_CreateFromUint32Array(n, map, false);
    if (!ids)
        return OTF2_ERROR_MEM_ALLOC_FAILED;
    OTF2_ErrorCode rc = OTF2_DefWriter_WriteMappingTable(local, type, ids);
    OTF2_IdMap_Free(ids);
    return rc;
}

/* The process's clock offsets to the root's (OTF2 readers correct its
 * timestamps by them, interpolating between two): a process with one
 * offset (its MPI_Finalize was not seen) keeps it to its end. */
static OTF2_ErrorCode write_clock_offsets(OTF2_DefWriter *local, const substrate_process *p)
{
    OTF2_ErrorCode rc = OTF2_SUCCESS;
    uint64_t last = 0;
    for (uint32_t i = 0; rc == OTF2_SUCCESS && i < p->clock_offset_count; i++) {
        const clock_offset_def *o = &p->clock_offsets[i];
        if (i > 0 && o->time <= last)
            continue;  /* OTF2 takes them in strictly increasing time only */
        rc = OTF2_DefWriter_WriteClockOffset(local, o->time, o->offset, o->deviation);
        last = o->time;
    }
    if (rc == OTF2_SUCCESS && p->clock_offset_count == 1) {
        const clock_offset_def *o = &p->clock_offsets[0];
        rc = OTF2_DefWriter_WriteClockOffset(local, p->end_time > o->time ? p->end_time : o->time + 1, o->offset,
                                             o->deviation);
    }
    return rc;
}

/* The process wrote its events with its own ids into its own staging
 * directory: each complete event file is moved into this archive as it
 * is, and gets a local definitions file whose mapping tables turn the
 * process's ids into the global ones. */
static bool trace_merge(void *self, const substrate_process *p)
{
    trace *t = self;
    if (atomic_load(&t->failed) || !t->archive)
        return true;
    char name[NAME_MAX + 1], err[1024];
    int staging = find_leftover(p->dir_fd, p->dir, name, sizeof name, err, sizeof err);
    if (staging < 0)
        return err[0] ? merge_failed(t, "%s", err) : true;  /* it wrote no trace */
    char where[PATH_MAX];
    snprintf(where, sizeof where, "%s/%s", p->dir, name);
    salvage_location *all = NULL;
    size_t n = 0;
    bool ok = read_notes(staging, where, &all, &n, err, sizeof err) || merge_failed(t, "%s", err);
    int from = ok ? openat(staging, "traces", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    int own = ok ? open_staging(t) : -1;
    int to = own >= 0 ? openat(own, "traces", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (ok && to < 0 && own >= 0) {
        /* this process wrote no event file yet: OTF2 makes the directory with the first */
        mkdirat(own, "traces", 0777);
        to = openat(own, "traces", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (ok && (from < 0 || to < 0))
        ok = merge_failed(t, "cannot read the event files of process %ld in '%s': %s", p->pid, where, strerror(errno));
    size_t need = t->merged_count + n;
    if (ok && need > t->merged_capacity) {
        struct merged_location *grown = realloc(t->merged, need * sizeof *grown);
        if (grown) {
            t->merged = grown;
            t->merged_capacity = need;
        } else {
            ok = merge_failed(t, "out of memory for the trace of process %ld", p->pid);
        }
    }
    for (size_t i = 0; ok && i < n; i++) {
        const salvage_location *l = &all[i];
        if (!l->final || location_rank(l->id) != p->rank)
            continue;  /* a writer that never closed, or not the process's: not a complete file */
        char file[64];
        snprintf(file, sizeof file, "%llu.evt", (unsigned long long)l->id);
        if (renameat2(from, file, to, file, RENAME_NOREPLACE) != 0) {
            ok = merge_failed(t, "cannot move the event file '%s/traces/%s' of process %ld into the trace: %s", where,
                              file, p->pid, strerror(errno));
            break;
        }
        otf2_message[0] = '\0';
        OTF2_DefWriter *local = OTF2_Archive_GetDefWriter(t->archive, l->id);
        OTF2_ErrorCode rc = local ? OTF2_SUCCESS : OTF2_ERROR_MEM_ALLOC_FAILED;
        if (rc == OTF2_SUCCESS)
            rc = write_mapping(local, OTF2_MAPPING_STRING, p->strings, p->string_count);
        if (rc == OTF2_SUCCESS)
            rc = write_mapping(local, OTF2_MAPPING_REGION, p->regions, p->region_count);
        if (rc == OTF2_SUCCESS)
            rc = write_mapping(local, OTF2_MAPPING_PARAMETER, p->parameters, p->parameter_count);
        if (rc == OTF2_SUCCESS)
            rc = write_mapping(local, OTF2_MAPPING_COMM, p->comms, p->comm_count);
        if (rc == OTF2_SUCCESS)
            rc = write_mapping(local, OTF2_MAPPING_IO_HANDLE, p->io_handles, p->io_handle_count);
        if (rc == OTF2_SUCCESS)
            rc = write_clock_offsets(local, p);
        if (local) {
            OTF2_ErrorCode closed = OTF2_Archive_CloseDefWriter(t->archive, local);
            if (rc == OTF2_SUCCESS)
                rc = closed;
        }
        if (rc != OTF2_SUCCESS) {
            /* the archive's definition files are broken: the trace fails */
            fail(t, rc, "a local definitions file");
            ok = false;
            break;
        }
        t->merged[t->merged_count++] = (struct merged_location){l->id, l->events};
    }
    if (from >= 0)
        close(from);
    if (to >= 0)
        close(to);
    if (own >= 0)
        close(own);
    free_notes(all, n);
    close(staging);
    return ok;
}

static const substrate_ops trace_ops = {
    .name = "tracing",
    .wanted = trace_wanted,
    .open = trace_open,
    .location_open = trace_location_open,
    .location_close = trace_location_close,
    .close = trace_close,
    .error = trace_error,
    .enter = trace_enter,
    .leave = trace_leave,
    .parameter_int = trace_parameter_int,
    .parameter_uint = trace_parameter_uint,
    .parameter_string = trace_parameter_string,
    .measurement_on_off = trace_on_off,
    .buffer_flush = trace_buffer_flush,
    .mpi = trace_mpi,
    .io = trace_io,
    .metric = trace_metric,
    .salvage = trace_salvage,
    .salvaged = trace_salvaged,
    .merge = trace_merge,
};

SUBSTRATE_REGISTER(trace_ops)
