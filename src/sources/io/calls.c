/* The machinery of the I/O wrapper library (calls.h). */
#include "calls.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/ptrmap.h"

/* The library's mark: the CPython extension looks it up to know that the
 * process records its I/O (and so do the processes it starts). */
SCOREP_IO_API const int scorep_io_wrappers = 1;

#define META REGION_ROLE_FILE_IO_METADATA
#define DATA REGION_ROLE_FILE_IO
static const struct {
    const char *symbol, *region;
    region_role role;
    io_paradigm paradigm;
} functions[FN_COUNT] = {
#define IO_TABLE_ENTRY(symbol, region, kind, paradigm) {#symbol, #region, kind, IO_##paradigm},
    IO_FUNCTIONS(IO_TABLE_ENTRY)
#undef IO_TABLE_ENTRY
};
#undef META
#undef DATA

static const char *const paradigm_names[] = {[IO_POSIX] = "POSIX I/O", [IO_ISOC] = "ISO C I/O"};

/* ---- the C library's functions ---- */

static void *_Atomic real[FN_COUNT];

/* Every function is looked up when the library is loaded: a lookup later
 * (dlsym) takes the dynamic loader's lock, which a thread interrupted by a
 * termination signal inside dlopen holds while the measurement writes its
 * results (their files are written through these wrappers too). */
__attribute__((constructor)) static void resolve_all(void)
{
    for (unsigned fn = 0; fn < FN_COUNT; fn++)
        atomic_store_explicit(&real[fn], dlsym(RTLD_NEXT, functions[fn].symbol), memory_order_release);
}

void *io_real(unsigned fn)
{
    void *p = atomic_load_explicit(&real[fn], memory_order_acquire);
    if (!p) {
        p = dlsym(RTLD_NEXT, functions[fn].symbol);
        atomic_store_explicit(&real[fn], p, memory_order_release);
    }
    return p;
}

/* ---- regions ---- */

static _Atomic uint32_t regions[FN_COUNT];  /* scorep_wrapped_region's */

static uint32_t region_of(unsigned fn)
{
    return scorep_wrapped_region(&regions[fn], functions[fn].region, paradigm_names[functions[fn].paradigm],
                                 functions[fn].role, REGION_PARADIGM_IO);
}

/* ---- handles ---- */

uint32_t io_new_handle(io_paradigm paradigm, const char *file, uint32_t flags, uint32_t mode, uint32_t status)
{
    const char *prefix = paradigm == IO_ISOC ? "[ISO C I/O] " : "[POSIX I/O] ";
    size_t p = strlen(prefix), n = strlen(file);
    char small[256], *name = p + n + 1 <= sizeof small ? small : malloc(p + n + 1);
    if (!name)
        return DEFS_NO_ID;
    memcpy(name, prefix, p);
    memcpy(name + p, file, n + 1);
    uint32_t h = scorep_io_handle_define(name, file, flags | (paradigm == IO_ISOC ? IO_HANDLE_ISO_C : 0), mode,
                                         status);
    if (name != small)
        free(name);
    return h;
}

/* file descriptors: handle + 1 by descriptor, 0: none */
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *fd_handles;
static size_t fd_capacity;
/* streams: handle + 1 by FILE pointer, 0: none (a closed stream's pointer
 * may come again from the next fopen) */
static ptrmap stream_handles;

/* A fork while another thread holds the lock would leave it held in the
 * child forever: fork takes it first. */
static void lock_handles(void) { pthread_mutex_lock(&handles_lock); }
static void unlock_handles(void) { pthread_mutex_unlock(&handles_lock); }

__attribute__((constructor)) static void handles_survive_fork(void)
{
    pthread_atfork(lock_handles, unlock_handles, unlock_handles);
}

uint32_t io_fd_handle(int fd)
{
    if (fd < 0)
        return DEFS_NO_ID;
    pthread_mutex_lock(&handles_lock);
    uint32_t h = (size_t)fd < fd_capacity ? fd_handles[fd] : 0;
    pthread_mutex_unlock(&handles_lock);
    return h ? h - 1 : DEFS_NO_ID;
}

void io_set_fd_handle(int fd, uint32_t handle)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&handles_lock);
    if ((size_t)fd >= fd_capacity && handle != DEFS_NO_ID) {
        size_t capacity = fd_capacity ? fd_capacity : 64;
        while (capacity <= (size_t)fd)
            capacity *= 2;
        uint32_t *grown = realloc(fd_handles, capacity * sizeof *grown);
        if (grown) {
            memset(grown + fd_capacity, 0, (capacity - fd_capacity) * sizeof *grown);
            fd_handles = grown;
            fd_capacity = capacity;
        }
    }
    if ((size_t)fd < fd_capacity)
        fd_handles[fd] = handle == DEFS_NO_ID ? 0 : handle + 1;
    pthread_mutex_unlock(&handles_lock);
}

uint32_t io_stream_handle(FILE *stream)
{
    if (!stream)
        return DEFS_NO_ID;
    uint32_t h = 0;
    pthread_mutex_lock(&handles_lock);
    ptrmap_get(&stream_handles, stream, &h);
    pthread_mutex_unlock(&handles_lock);
    return h ? h - 1 : DEFS_NO_ID;
}

void io_set_stream_handle(FILE *stream, uint32_t handle)
{
    if (!stream)
        return;
    pthread_mutex_lock(&handles_lock);
    uint32_t known;
    if (handle != DEFS_NO_ID || ptrmap_get(&stream_handles, stream, &known))
        ptrmap_put(&stream_handles, stream, handle == DEFS_NO_ID ? 0 : handle + 1);
    pthread_mutex_unlock(&handles_lock);
}

void io_fd_gone(io_call *c, int fd)
{
    uint32_t h = io_fd_handle(fd);
    if (h == DEFS_NO_ID)
        return;
    io_set_fd_handle(fd, DEFS_NO_ID);
    io_event(c, (io_record){.kind = EXT_IO_DESTROY_HANDLE, .handle = h});
}

void io_stream_gone(io_call *c, FILE *stream)
{
    uint32_t h = io_stream_handle(stream);
    if (h == DEFS_NO_ID)
        return;
    io_set_stream_handle(stream, DEFS_NO_ID);
    io_event(c, (io_record){.kind = EXT_IO_DESTROY_HANDLE, .handle = h});
}

uint32_t io_access_mode(int flags)
{
    switch (flags & O_ACCMODE) {
    case O_WRONLY: return IO_ACCESS_WRITE_ONLY;
    case O_RDWR: return IO_ACCESS_READ_WRITE;
    default: return IO_ACCESS_READ_ONLY;
    }
}

uint32_t io_status_flags(int flags)
{
    uint32_t s = 0;
    if (flags & O_CLOEXEC)
        s |= IO_STATUS_CLOSE_ON_EXEC;
    if (flags & O_APPEND)
        s |= IO_STATUS_APPEND;
    if (flags & O_NONBLOCK)
        s |= IO_STATUS_NON_BLOCKING;
    if (flags & O_ASYNC)
        s |= IO_STATUS_ASYNC;
    if ((flags & O_SYNC) == O_SYNC)
        s |= IO_STATUS_SYNC;
    else if (flags & O_DSYNC)
        s |= IO_STATUS_DATA_SYNC;
    if (flags & O_DIRECT)
        s |= IO_STATUS_AVOID_CACHING;
    if (flags & O_NOATIME)
        s |= IO_STATUS_NO_ACCESS_TIME;
    return s;
}

/* The standard streams, as pre-created handles of both paradigms (once the
 * measurement runs): file descriptors 0, 1, 2 and stdin, stdout, stderr. */
static atomic_bool standard_defined;

static void define_standard_streams(void)
{
    if (atomic_exchange(&standard_defined, true))
        return;
    static const char *const names[3] = {"stdin", "stdout", "stderr"};
    FILE *const streams[3] = {stdin, stdout, stderr};
    for (int fd = 0; fd < 3; fd++) {
        int flags = ((int (*)(int, int, ...))io_real(FN_fcntl))(fd, F_GETFL);
        if (flags < 0)
            continue;  /* closed */
        uint32_t mode = io_access_mode(flags), status = io_status_flags(flags);
        io_set_fd_handle(fd, io_new_handle(IO_POSIX, names[fd], IO_HANDLE_PRE_CREATED, mode, status));
        if (streams[fd] && fileno(streams[fd]) == fd)
            io_set_stream_handle(streams[fd], io_new_handle(IO_ISOC, names[fd], IO_HANDLE_PRE_CREATED, mode, status));
    }
}

/* ---- one call ---- */

/* Wrapped calls made by the measurement or inside another wrapped call
 * are the callers' business. */
static __thread unsigned depth;
static atomic_ullong matching_ids;

void io_enter(io_call *c, unsigned fn)
{
    c->recording = false;
    if (depth++ || !scorep_io_recorded())
        return;
    c->loc = scorep_location_current();
    if (!c->loc)
        return;
    define_standard_streams();
    c->region = region_of(fn);
    if (c->region == DEFS_NO_ID)
        return;
    c->recording = true;
    scorep_enter(c->loc, c->region);
}

void io_leave(io_call *c, int saved_errno)
{
    depth--;
    if (c->recording)
        scorep_leave(c->loc, c->region);
    errno = saved_errno;
}

void io_event(io_call *c, io_record r)
{
    if (c->recording)
        scorep_io_event(c->loc, &r);
}

void io_operation_begin(io_call *c, io_operation *op, uint32_t handle, uint32_t mode, uint64_t requested)
{
    op->handle = c->recording ? handle : DEFS_NO_ID;
    if (op->handle == DEFS_NO_ID)
        return;
    op->mode = mode;
    op->matching = atomic_fetch_add(&matching_ids, 1) + 1;
    io_event(c, (io_record){.kind = EXT_IO_OPERATION_BEGIN, .handle = op->handle, .mode = mode, .bytes = requested,
                            .matching = op->matching});
}

void io_operation_complete(io_call *c, const io_operation *op, uint64_t done)
{
    if (op->handle != DEFS_NO_ID)
        io_event(c, (io_record){.kind = EXT_IO_OPERATION_COMPLETE, .handle = op->handle, .mode = op->mode,
                                .bytes = done, .matching = op->matching});
}
