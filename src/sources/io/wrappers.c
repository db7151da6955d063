/* The POSIX I/O wrapper library, libscorep_io.so: python -m scorep
 * --io=posix (or SCOREP_IO_POSIX=true) puts it in LD_PRELOAD, so that its
 * open, read, write, ... take the place of the C library's for every
 * caller in the process (CPython's io layer, os.read/os.write, any C
 * extension); each records its region (named after the function the
 * program called: open64, lseek64, ...) and the OTF2 I/O events of the
 * handle it works on through the measurement core of the process, and
 * calls the C library's function (dlsym(RTLD_NEXT)).
 *
 * A handle is defined at each successful open (its name the path as the
 * program gave it) and at each dup of a file descriptor that has one; the
 * standard streams are pre-created handles.  File descriptors the
 * measurement did not see opened (pipes, sockets, those inherited) have
 * their regions recorded but no I/O events.
 *
 * Nothing is recorded while the measurement does not record, in its own
 * work (writing its results: scorep_io_recorded()), or inside another
 * wrapped call. errno is the C library's. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../core/scorep.h"

#define SCOREP_IO_API __attribute__((visibility("default")))
#define COMMA ,

/* The library's mark: the CPython extension looks it up to know that the
 * process records its I/O (and so do the processes it starts). */
SCOREP_IO_API const int scorep_io_wrappers = 1;

/* ---- the wrapped functions ---- */

#define IO_FUNCTIONS(X)                                                                                          \
    X(open, META) X(open64, META) X(openat, META) X(openat64, META) X(creat, META) X(creat64, META)              \
    X(close, META) X(read, DATA) X(write, DATA) X(pread, DATA) X(pread64, DATA) X(pwrite, DATA) X(pwrite64, DATA) \
    X(readv, DATA) X(writev, DATA) X(lseek, META) X(lseek64, META) X(fsync, DATA) X(fdatasync, DATA)            \
    X(dup, META) X(dup2, META) X(dup3, META) X(fcntl, META) X(fcntl64, META)

enum {
#define ENUM_ENTRY(name, kind) FN_##name,
    IO_FUNCTIONS(ENUM_ENTRY)
#undef ENUM_ENTRY
    FN_COUNT
};

#define META REGION_ROLE_FILE_IO_METADATA
#define DATA REGION_ROLE_FILE_IO
static const struct {
    const char *name;
    region_role role;
} functions[FN_COUNT] = {
#define TABLE_ENTRY(name, kind) {#name, kind},
    IO_FUNCTIONS(TABLE_ENTRY)
#undef TABLE_ENTRY
};
#undef META
#undef DATA

/* The C library's functions, found at their first call. */
static void *_Atomic real[FN_COUNT];

static void *resolve(unsigned fn)
{
    void *p = atomic_load_explicit(&real[fn], memory_order_acquire);
    if (!p) {
        p = dlsym(RTLD_NEXT, functions[fn].name);
        atomic_store_explicit(&real[fn], p, memory_order_release);
    }
    return p;
}

#define REAL(name) ((__typeof__(&name))resolve(FN_##name))

/* ---- regions ---- */

#define FILTERED UINT32_MAX
static _Atomic uint32_t regions[FN_COUNT];  /* id + 1, 0: not defined yet */

static uint32_t region_of(unsigned fn)
{
    uint32_t known = atomic_load_explicit(&regions[fn], memory_order_relaxed);
    if (known == FILTERED)
        return DEFS_NO_ID;
    if (known)
        return known - 1;
    if (scorep_region_filtered(functions[fn].name, "")) {
        atomic_store_explicit(&regions[fn], FILTERED, memory_order_relaxed);
        return DEFS_NO_ID;
    }
    uint32_t id = scorep_region_define(functions[fn].name, "POSIX I/O", "", 0, functions[fn].role, REGION_PARADIGM_IO);
    if (id != DEFS_NO_ID)
        atomic_store_explicit(&regions[fn], id + 1, memory_order_relaxed);
    return id;
}

/* ---- file descriptors and their handles ---- */

/* A handle is named as Score-P names it: its paradigm, then the path as
 * the program gave it ("[POSIX I/O] data.bin"); its file is the path. */
#define HANDLE_PREFIX "[POSIX I/O] "

static uint32_t new_handle(const char *file, uint32_t flags, uint32_t mode, uint32_t status)
{
    size_t n = strlen(file);
    char small[256], *name = n + sizeof HANDLE_PREFIX <= sizeof small ? small : malloc(n + sizeof HANDLE_PREFIX);
    if (!name)
        return DEFS_NO_ID;
    memcpy(name, HANDLE_PREFIX, sizeof HANDLE_PREFIX - 1);
    memcpy(name + sizeof HANDLE_PREFIX - 1, file, n + 1);
    uint32_t h = scorep_io_handle_define(name, file, flags, mode, status);
    if (name != small)
        free(name);
    return h;
}

static pthread_mutex_t fds_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *fd_handles;  /* handle + 1 by file descriptor, 0: none */
static size_t fd_capacity;
static atomic_bool standard_defined;

static uint32_t handle_of(int fd)
{
    if (fd < 0)
        return DEFS_NO_ID;
    pthread_mutex_lock(&fds_lock);
    uint32_t h = (size_t)fd < fd_capacity ? fd_handles[fd] : 0;
    pthread_mutex_unlock(&fds_lock);
    return h ? h - 1 : DEFS_NO_ID;
}

static void set_handle(int fd, uint32_t handle)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&fds_lock);
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
    pthread_mutex_unlock(&fds_lock);
}

static uint32_t access_mode(int flags)
{
    switch (flags & O_ACCMODE) {
    case O_WRONLY: return IO_ACCESS_WRITE_ONLY;
    case O_RDWR: return IO_ACCESS_READ_WRITE;
    default: return IO_ACCESS_READ_ONLY;
    }
}

static uint32_t status_flags(int flags)
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

static uint32_t creation_flags(int flags, bool large)
{
    uint32_t c = 0;
    if (flags & O_CREAT)
        c |= IO_CREATE_CREATE;
    if (flags & O_TRUNC)
        c |= IO_CREATE_TRUNCATE;
    if ((flags & O_TMPFILE) == O_TMPFILE)
        c |= IO_CREATE_TEMPORARY_FILE;
    else if (flags & O_DIRECTORY)
        c |= IO_CREATE_DIRECTORY;
    if (flags & O_EXCL)
        c |= IO_CREATE_EXCLUSIVE;
    if (flags & O_NOCTTY)
        c |= IO_CREATE_NO_CONTROLLING_TERMINAL;
    if (flags & O_NOFOLLOW)
        c |= IO_CREATE_NO_FOLLOW;
    if (flags & O_PATH)
        c |= IO_CREATE_PATH;
    if (large || (O_LARGEFILE && (flags & O_LARGEFILE)))
        c |= IO_CREATE_LARGEFILE;
    return c;
}

/* The standard streams, as pre-created handles (once the measurement runs). */
static void define_standard_streams(void)
{
    if (atomic_exchange(&standard_defined, true))
        return;
    static const char *const names[3] = {"stdin", "stdout", "stderr"};
    for (int fd = 0; fd < 3; fd++) {
        int flags = ((int (*)(int, int, ...))resolve(FN_fcntl))(fd, F_GETFL);
        if (flags < 0)
            continue;  /* closed */
        set_handle(fd, new_handle(names[fd], IO_HANDLE_PRE_CREATED, access_mode(flags), status_flags(flags)));
    }
}

/* ---- one call ---- */

typedef struct {
    bool recording;
    scorep_location *loc;
    uint32_t region;
} io_call;

/* Wrapped calls made by the measurement or inside another wrapped call
 * are the callers' business. */
static __thread unsigned depth;
static atomic_ullong matching_ids;

static void enter(io_call *c, unsigned fn)
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

/* The wrapped call's end; errno is what the C library's call left
 * (saved_errno: the bookkeeping after it may change errno). */
static void leave(io_call *c, int saved_errno)
{
    depth--;
    if (c->recording)
        scorep_leave(c->loc, c->region);
    errno = saved_errno;
}

static void event(io_call *c, io_record r)
{
    if (c->recording)
        scorep_io_event(c->loc, &r);
}

/* An opened file descriptor gets its handle. */
static void opened(io_call *c, int fd, const char *path, int flags, bool large)
{
    if (!c->recording || fd < 0)
        return;
    uint32_t h = new_handle(path ? path : "", 0, 0, 0);
    if (h == DEFS_NO_ID)
        return;
    set_handle(fd, h);
    event(c, (io_record){.kind = EXT_IO_CREATE_HANDLE, .handle = h, .mode = access_mode(flags),
                         .creation = creation_flags(flags, large), .status = status_flags(flags)});
}

/* A file descriptor goes (closed, or replaced by dup2/dup3). */
static void gone(io_call *c, int fd)
{
    uint32_t h = handle_of(fd);
    if (h == DEFS_NO_ID)
        return;
    set_handle(fd, DEFS_NO_ID);
    event(c, (io_record){.kind = EXT_IO_DESTROY_HANDLE, .handle = h});
}

/* newfd is a duplicate of oldfd (its handle's, if it has one). */
static void duplicated(io_call *c, int oldfd, int newfd, bool cloexec)
{
    if (!c->recording || newfd < 0)
        return;
    uint32_t old = handle_of(oldfd);
    if (old == DEFS_NO_ID)
        return;
    uint32_t h = new_handle(scorep_io_handle_file(old), 0, 0, 0);
    if (h == DEFS_NO_ID)
        return;
    set_handle(newfd, h);
    event(c, (io_record){.kind = EXT_IO_DUPLICATE_HANDLE, .handle = old, .new_handle = h,
                         .status = cloexec ? IO_STATUS_CLOSE_ON_EXEC : 0});
}

/* A read, write or flush of fd: its begin before the call, its complete after. */
typedef struct {
    uint32_t handle;
    uint32_t mode;
    uint64_t matching;
} io_operation;

static void operation_begin(io_call *c, io_operation *op, int fd, uint32_t mode, uint64_t requested)
{
    op->handle = c->recording ? handle_of(fd) : DEFS_NO_ID;
    if (op->handle == DEFS_NO_ID)
        return;
    op->mode = mode;
    op->matching = atomic_fetch_add(&matching_ids, 1) + 1;
    event(c, (io_record){.kind = EXT_IO_OPERATION_BEGIN, .handle = op->handle, .mode = mode, .bytes = requested,
                         .matching = op->matching});
}

static void operation_complete(io_call *c, const io_operation *op, ssize_t done)
{
    if (op->handle != DEFS_NO_ID)
        event(c, (io_record){.kind = EXT_IO_OPERATION_COMPLETE, .handle = op->handle, .mode = op->mode,
                             .bytes = done < 0 ? IO_RECORD_FAILED : (uint64_t)done, .matching = op->matching});
}

static size_t iov_bytes(const struct iovec *iov, int n)
{
    size_t total = 0;
    for (int i = 0; iov && i < n; i++)
        total += iov[i].iov_len;
    return total;
}

/* ---- open ---- */

static bool takes_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

/* open and openat (dir_param, dir_arg: the latter's directory) */
#define OPEN_WRAPPER(name, large, dir_param, dir_arg)                                                          \
    SCOREP_IO_API int name(dir_param const char *path, int flags, ...)                                         \
    {                                                                                                          \
        mode_t mode = 0;                                                                                       \
        if (takes_mode(flags)) {                                                                               \
            va_list ap;                                                                                        \
            va_start(ap, flags);                                                                               \
            mode = (mode_t)va_arg(ap, int);                                                                    \
            va_end(ap);                                                                                        \
        }                                                                                                      \
        io_call c;                                                                                             \
        enter(&c, FN_##name);                                                                                  \
        int fd = REAL(name)(dir_arg path, flags, mode);                                                        \
        int saved = errno;                                                                                     \
        opened(&c, fd, path, flags, large);                                                                    \
        leave(&c, saved);                                                                                      \
        return fd;                                                                                             \
    }
OPEN_WRAPPER(open, false, , )
OPEN_WRAPPER(open64, true, , )
OPEN_WRAPPER(openat, false, int dirfd COMMA, dirfd COMMA)
OPEN_WRAPPER(openat64, true, int dirfd COMMA, dirfd COMMA)

#define CREAT_WRAPPER(name, large)                                                                             \
    SCOREP_IO_API int name(const char *path, mode_t mode)                                                      \
    {                                                                                                          \
        io_call c;                                                                                             \
        enter(&c, FN_##name);                                                                                  \
        int fd = REAL(name)(path, mode);                                                                       \
        int saved = errno;                                                                                     \
        opened(&c, fd, path, O_CREAT | O_WRONLY | O_TRUNC, large);                                             \
        leave(&c, saved);                                                                                      \
        return fd;                                                                                             \
    }
CREAT_WRAPPER(creat, false)
CREAT_WRAPPER(creat64, true)

SCOREP_IO_API int close(int fd)
{
    io_call c;
    enter(&c, FN_close);
    if (c.recording)
        gone(&c, fd);  /* the descriptor is released whatever close returns (Linux) */
    int result = REAL(close)(fd);
    int saved = errno;
    leave(&c, saved);
    return result;
}

/* ---- read, write and sync ---- */

/* params, args: the function's; requested: the bytes it asks for */
#define DATA_WRAPPER(type, name, mode, requested, params, args)                                                \
    SCOREP_IO_API type name params                                                                             \
    {                                                                                                          \
        io_call c;                                                                                             \
        io_operation op;                                                                                       \
        enter(&c, FN_##name);                                                                                  \
        operation_begin(&c, &op, fd, mode, (uint64_t)(requested));                                             \
        type result = REAL(name) args;                                                                         \
        int saved = errno;                                                                                     \
        operation_complete(&c, &op, (ssize_t)result);                                                          \
        leave(&c, saved);                                                                                      \
        return result;                                                                                         \
    }
DATA_WRAPPER(ssize_t, read, IO_OPERATION_READ, count, (int fd, void *buf, size_t count), (fd, buf, count))
DATA_WRAPPER(ssize_t, write, IO_OPERATION_WRITE, count, (int fd, const void *buf, size_t count), (fd, buf, count))
DATA_WRAPPER(ssize_t, pread, IO_OPERATION_READ, count, (int fd, void *buf, size_t count, off_t offset),
             (fd, buf, count, offset))
DATA_WRAPPER(ssize_t, pread64, IO_OPERATION_READ, count, (int fd, void *buf, size_t count, off64_t offset),
             (fd, buf, count, offset))
DATA_WRAPPER(ssize_t, pwrite, IO_OPERATION_WRITE, count, (int fd, const void *buf, size_t count, off_t offset),
             (fd, buf, count, offset))
DATA_WRAPPER(ssize_t, pwrite64, IO_OPERATION_WRITE, count, (int fd, const void *buf, size_t count, off64_t offset),
             (fd, buf, count, offset))
DATA_WRAPPER(ssize_t, readv, IO_OPERATION_READ, iov_bytes(iov, iovcnt), (int fd, const struct iovec *iov, int iovcnt),
             (fd, iov, iovcnt))
DATA_WRAPPER(ssize_t, writev, IO_OPERATION_WRITE, iov_bytes(iov, iovcnt),
             (int fd, const struct iovec *iov, int iovcnt), (fd, iov, iovcnt))
DATA_WRAPPER(int, fsync, IO_OPERATION_FLUSH, 0, (int fd), (fd))
DATA_WRAPPER(int, fdatasync, IO_OPERATION_FLUSH, 0, (int fd), (fd))

/* ---- seek ---- */

#define SEEK_WRAPPER(name, type)                                                                               \
    SCOREP_IO_API type name(int fd, type offset, int whence)                                                   \
    {                                                                                                          \
        io_call c;                                                                                             \
        enter(&c, FN_##name);                                                                                  \
        type result = REAL(name)(fd, offset, whence);                                                          \
        int saved = errno;                                                                                     \
        uint32_t h = c.recording ? handle_of(fd) : DEFS_NO_ID;                                                 \
        if (h != DEFS_NO_ID)                                                                                   \
            event(&c, (io_record){.kind = EXT_IO_SEEK, .handle = h, .offset = (int64_t)offset,                 \
                                  .whence = (uint32_t)whence,                                                  \
                                  .result = result < 0 ? IO_RECORD_FAILED : (uint64_t)result});               \
        leave(&c, saved);                                                                                      \
        return result;                                                                                         \
    }
SEEK_WRAPPER(lseek, off_t)
SEEK_WRAPPER(lseek64, off64_t)

/* ---- duplicates ---- */

SCOREP_IO_API int dup(int oldfd)
{
    io_call c;
    enter(&c, FN_dup);
    int fd = REAL(dup)(oldfd);
    int saved = errno;
    duplicated(&c, oldfd, fd, false);
    leave(&c, saved);
    return fd;
}

SCOREP_IO_API int dup2(int oldfd, int newfd)
{
    io_call c;
    enter(&c, FN_dup2);
    int fd = REAL(dup2)(oldfd, newfd);
    int saved = errno;
    if (fd >= 0 && oldfd != newfd && c.recording) {
        gone(&c, newfd);  /* what newfd was is closed */
        duplicated(&c, oldfd, fd, false);
    }
    leave(&c, saved);
    return fd;
}

SCOREP_IO_API int dup3(int oldfd, int newfd, int flags)
{
    io_call c;
    enter(&c, FN_dup3);
    int fd = REAL(dup3)(oldfd, newfd, flags);
    int saved = errno;
    if (fd >= 0 && c.recording) {
        gone(&c, newfd);
        duplicated(&c, oldfd, fd, (flags & O_CLOEXEC) != 0);
    }
    leave(&c, saved);
    return fd;
}

/* fcntl: its third argument is an int or a pointer, by command; taken as
 * a pointer-sized value and passed on as it came (the calling convention
 * passes both alike). F_DUPFD and F_DUPFD_CLOEXEC duplicate. */
#define FCNTL_WRAPPER(name)                                                                                    \
    SCOREP_IO_API int name(int fd, int cmd, ...)                                                               \
    {                                                                                                          \
        va_list ap;                                                                                            \
        va_start(ap, cmd);                                                                                     \
        void *arg = va_arg(ap, void *);                                                                        \
        va_end(ap);                                                                                            \
        io_call c;                                                                                             \
        enter(&c, FN_##name);                                                                                  \
        int result = ((int (*)(int, int, ...))resolve(FN_##name))(fd, cmd, arg);                               \
        int saved = errno;                                                                                     \
        if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && result >= 0)                                         \
            duplicated(&c, fd, result, cmd == F_DUPFD_CLOEXEC);                                                \
        leave(&c, saved);                                                                                      \
        return result;                                                                                         \
    }
/* (programs built with 64-bit file offsets call fcntl64: CPython does) */
FCNTL_WRAPPER(fcntl)
FCNTL_WRAPPER(fcntl64)
