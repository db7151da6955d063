/* The POSIX calls of the I/O wrapper library, libscorep_io.so: python -m
 * scorep --io=posix (or SCOREP_IO_POSIX=true) puts it in LD_PRELOAD, so
 * that its open, read, write, ... take the place of the C library's for
 * every caller in the process (CPython's io layer, os.read/os.write, any C
 * extension); each records its region (named after the function the
 * program called: open64, lseek64, ...) and the OTF2 I/O events of the
 * handle it works on through the measurement core of the process, and
 * calls the C library's function (dlsym(RTLD_NEXT)).  stdio.c does the
 * same for the ISO C streams, calls.c holds what both share.
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
/* (the wrappers take the place of the fortified functions, never inline them) */
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "calls.h"

#define COMMA ,

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

/* The handle of fd if the call is recorded. */
static uint32_t recorded_handle(const io_call *c, int fd) { return c->recording ? io_fd_handle(fd) : DEFS_NO_ID; }

/* An opened file descriptor gets its handle. */
static void opened(io_call *c, int fd, const char *path, int flags, bool large)
{
    if (!c->recording || fd < 0)
        return;
    uint32_t h = io_new_handle(IO_POSIX, path ? path : "", 0, 0, 0);
    if (h == DEFS_NO_ID)
        return;
    io_set_fd_handle(fd, h);
    io_event(c, (io_record){.kind = EXT_IO_CREATE_HANDLE, .handle = h, .mode = io_access_mode(flags),
                            .creation = creation_flags(flags, large), .status = io_status_flags(flags)});
}

/* newfd is a duplicate of oldfd (its handle's, if it has one). */
static void duplicated(io_call *c, int oldfd, int newfd, bool cloexec)
{
    if (!c->recording || newfd < 0)
        return;
    uint32_t old = io_fd_handle(oldfd);
    if (old == DEFS_NO_ID)
        return;
    uint32_t h = io_new_handle(IO_POSIX, scorep_io_handle_file(old), 0, 0, 0);
    if (h == DEFS_NO_ID)
        return;
    io_set_fd_handle(newfd, h);
    io_event(c, (io_record){.kind = EXT_IO_DUPLICATE_HANDLE, .handle = old, .new_handle = h,
                            .status = cloexec ? IO_STATUS_CLOSE_ON_EXEC : 0});
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
        io_enter(&c, FN_##name);                                                                               \
        int fd = REAL(name)(dir_arg path, flags, mode);                                                        \
        int saved = errno;                                                                                     \
        opened(&c, fd, path, flags, large);                                                                    \
        io_leave(&c, saved);                                                                                   \
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
        io_enter(&c, FN_##name);                                                                               \
        int fd = REAL(name)(path, mode);                                                                       \
        int saved = errno;                                                                                     \
        opened(&c, fd, path, O_CREAT | O_WRONLY | O_TRUNC, large);                                             \
        io_leave(&c, saved);                                                                                   \
        return fd;                                                                                             \
    }
CREAT_WRAPPER(creat, false)
CREAT_WRAPPER(creat64, true)

SCOREP_IO_API int close(int fd)
{
    io_call c;
    io_enter(&c, FN_close);
    if (c.recording)
        io_fd_gone(&c, fd);  /* the descriptor is released whatever close returns (Linux) */
    int result = REAL(close)(fd);
    int saved = errno;
    io_leave(&c, saved);
    return result;
}

/* ---- read, write and sync ---- */

/* params, args: the function's; requested: the bytes it asks for */
#define DATA_WRAPPER(type, name, mode, requested, params, args)                                                \
    SCOREP_IO_API type name params                                                                             \
    {                                                                                                          \
        io_call c;                                                                                             \
        io_operation op;                                                                                       \
        io_enter(&c, FN_##name);                                                                               \
        io_operation_begin(&c, &op, recorded_handle(&c, fd), mode, (uint64_t)(requested));                     \
        type result = REAL(name) args;                                                                         \
        int saved = errno;                                                                                     \
        io_operation_complete(&c, &op, (ssize_t)result < 0 ? IO_RECORD_FAILED : (uint64_t)result);             \
        io_leave(&c, saved);                                                                                   \
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
        io_enter(&c, FN_##name);                                                                               \
        type result = REAL(name)(fd, offset, whence);                                                          \
        int saved = errno;                                                                                     \
        uint32_t h = recorded_handle(&c, fd);                                                                  \
        if (h != DEFS_NO_ID)                                                                                   \
            io_event(&c, (io_record){.kind = EXT_IO_SEEK, .handle = h, .offset = (int64_t)offset,              \
                                  .whence = (uint32_t)whence,                                                  \
                                  .result = result < 0 ? IO_RECORD_FAILED : (uint64_t)result});                \
        io_leave(&c, saved);                                                                                   \
        return result;                                                                                         \
    }
SEEK_WRAPPER(lseek, off_t)
SEEK_WRAPPER(lseek64, off64_t)

/* ---- duplicates ---- */

SCOREP_IO_API int dup(int oldfd)
{
    io_call c;
    io_enter(&c, FN_dup);
    int fd = REAL(dup)(oldfd);
    int saved = errno;
    duplicated(&c, oldfd, fd, false);
    io_leave(&c, saved);
    return fd;
}

SCOREP_IO_API int dup2(int oldfd, int newfd)
{
    io_call c;
    io_enter(&c, FN_dup2);
    int fd = REAL(dup2)(oldfd, newfd);
    int saved = errno;
    if (fd >= 0 && oldfd != newfd && c.recording) {
        io_fd_gone(&c, newfd);  /* what newfd was is closed */
        duplicated(&c, oldfd, fd, false);
    }
    io_leave(&c, saved);
    return fd;
}

SCOREP_IO_API int dup3(int oldfd, int newfd, int flags)
{
    io_call c;
    io_enter(&c, FN_dup3);
    int fd = REAL(dup3)(oldfd, newfd, flags);
    int saved = errno;
    if (fd >= 0 && c.recording) {
        io_fd_gone(&c, newfd);
        duplicated(&c, oldfd, fd, (flags & O_CLOEXEC) != 0);
    }
    io_leave(&c, saved);
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
        io_enter(&c, FN_##name);                                                                               \
        int result = ((int (*)(int, int, ...))io_real(FN_##name))(fd, cmd, arg);                               \
        int saved = errno;                                                                                     \
        if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && result >= 0)                                         \
            duplicated(&c, fd, result, cmd == F_DUPFD_CLOEXEC);                                                \
        io_leave(&c, saved);                                                                                   \
        return result;                                                                                         \
    }
/* (programs built with 64-bit file offsets call fcntl64: CPython does) */
FCNTL_WRAPPER(fcntl)
FCNTL_WRAPPER(fcntl64)
