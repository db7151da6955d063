/* What every wrapper of the I/O wrapper library (libscorep_io.so) shares:
 * the table of wrapped functions, the C library's functions behind them,
 * their regions, the handles of file descriptors and of streams, and one
 * wrapped call's recording.  posix.c wraps the POSIX calls, stdio.c the
 * ISO C (stdio) calls; calls.c implements this. */
#ifndef SCOREP_IO_CALLS_H
#define SCOREP_IO_CALLS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../../core/scorep.h"

#define SCOREP_IO_API __attribute__((visibility("default")))
#define IO_INTERNAL __attribute__((visibility("hidden")))

/* The wrapped functions: X(symbol, region name, kind, paradigm).  The
 * region is named after the function the program called; the C library's
 * fortified entry points (__fprintf_chk, ... : what a C extension built
 * with _FORTIFY_SOURCE calls for fprintf) share the region of the
 * function in the program's source. */
#define IO_FUNCTIONS(X)                                                                                          \
    X(open, open, META, POSIX) X(open64, open64, META, POSIX) X(openat, openat, META, POSIX)                   \
    X(openat64, openat64, META, POSIX) X(creat, creat, META, POSIX) X(creat64, creat64, META, POSIX)            \
    X(close, close, META, POSIX) X(read, read, DATA, POSIX) X(write, write, DATA, POSIX)                       \
    X(pread, pread, DATA, POSIX) X(pread64, pread64, DATA, POSIX) X(pwrite, pwrite, DATA, POSIX)               \
    X(pwrite64, pwrite64, DATA, POSIX) X(readv, readv, DATA, POSIX) X(writev, writev, DATA, POSIX)             \
    X(lseek, lseek, META, POSIX) X(lseek64, lseek64, META, POSIX) X(fsync, fsync, DATA, POSIX)                 \
    X(fdatasync, fdatasync, DATA, POSIX) X(dup, dup, META, POSIX) X(dup2, dup2, META, POSIX)                   \
    X(dup3, dup3, META, POSIX) X(fcntl, fcntl, META, POSIX) X(fcntl64, fcntl64, META, POSIX)                   \
    X(fopen, fopen, META, ISOC) X(fopen64, fopen64, META, ISOC) X(fdopen, fdopen, META, ISOC)                  \
    X(freopen, freopen, META, ISOC) X(freopen64, freopen64, META, ISOC) X(fclose, fclose, META, ISOC)          \
    X(fflush, fflush, DATA, ISOC) X(fread, fread, DATA, ISOC) X(__fread_chk, fread, DATA, ISOC)                \
    X(fwrite, fwrite, DATA, ISOC) X(fgetc, fgetc, DATA, ISOC) X(getc, getc, DATA, ISOC)                        \
    X(getchar, getchar, DATA, ISOC) X(fgets, fgets, DATA, ISOC) X(__fgets_chk, fgets, DATA, ISOC)              \
    X(fputc, fputc, DATA, ISOC) X(putc, putc, DATA, ISOC) X(putchar, putchar, DATA, ISOC)                      \
    X(fputs, fputs, DATA, ISOC) X(puts, puts, DATA, ISOC) X(fprintf, fprintf, DATA, ISOC)                      \
    X(__fprintf_chk, fprintf, DATA, ISOC) X(printf, printf, DATA, ISOC) X(__printf_chk, printf, DATA, ISOC)    \
    X(vfprintf, vfprintf, DATA, ISOC) X(__vfprintf_chk, vfprintf, DATA, ISOC) X(vprintf, vprintf, DATA, ISOC)  \
    X(__vprintf_chk, vprintf, DATA, ISOC) X(fseek, fseek, META, ISOC) X(fseeko, fseeko, META, ISOC)            \
    X(fseeko64, fseeko64, META, ISOC) X(rewind, rewind, META, ISOC) X(ftell, ftell, META, ISOC)                \
    X(ftello, ftello, META, ISOC) X(ftello64, ftello64, META, ISOC)

enum {
#define IO_ENUM_ENTRY(symbol, region, kind, paradigm) FN_##symbol,
    IO_FUNCTIONS(IO_ENUM_ENTRY)
#undef IO_ENUM_ENTRY
    FN_COUNT
};

/* The I/O paradigms, as the trace's IoParadigm definitions have them. */
typedef enum { IO_POSIX, IO_ISOC } io_paradigm;

/* The C library's function behind a wrapper (found at its first call). */
IO_INTERNAL void *io_real(unsigned fn);
#define REAL(name) ((__typeof__(&name))io_real(FN_##name))

/* ---- one wrapped call ---- */

typedef struct {
    bool recording;
    scorep_location *loc;
    uint32_t region;
} io_call;

/* Its begin (the region's enter, if the call is recorded: the program's
 * own, while the measurement records, not inside another wrapped call)
 * and its end; errno is what the C library's call left (saved_errno: the
 * bookkeeping after the call may change errno). */
IO_INTERNAL void io_enter(io_call *c, unsigned fn);
IO_INTERNAL void io_leave(io_call *c, int saved_errno);
IO_INTERNAL void io_event(io_call *c, io_record r);

/* A read, write or flush on a handle: its begin before the call (bytes
 * requested, IO_RECORD_FAILED: not known), its complete after. */
typedef struct {
    uint32_t handle;
    uint32_t mode;
    uint64_t matching;
} io_operation;

IO_INTERNAL void io_operation_begin(io_call *c, io_operation *op, uint32_t handle, uint32_t mode, uint64_t requested);
/* done: the bytes done, IO_RECORD_FAILED if the call failed */
IO_INTERNAL void io_operation_complete(io_call *c, const io_operation *op, uint64_t done);

/* ---- handles ---- */

/* A new handle of the paradigm on a file (its name "[POSIX I/O] <file>"
 * or "[ISO C I/O] <file>", as Score-P names them); DEFS_NO_ID if none. */
IO_INTERNAL uint32_t io_new_handle(io_paradigm paradigm, const char *file, uint32_t flags, uint32_t mode,
                                   uint32_t status);

/* The handle of a file descriptor, and of a stream (DEFS_NO_ID: none);
 * setting DEFS_NO_ID forgets it. */
IO_INTERNAL uint32_t io_fd_handle(int fd);
IO_INTERNAL void io_set_fd_handle(int fd, uint32_t handle);
IO_INTERNAL uint32_t io_stream_handle(FILE *stream);
IO_INTERNAL void io_set_stream_handle(FILE *stream, uint32_t handle);

/* The handle of fd (stream) goes: its destroy event, and it is forgotten. */
IO_INTERNAL void io_fd_gone(io_call *c, int fd);
IO_INTERNAL void io_stream_gone(io_call *c, FILE *stream);

/* open(2)'s flags as the trace's access mode and status flags. */
IO_INTERNAL uint32_t io_access_mode(int flags);
IO_INTERNAL uint32_t io_status_flags(int flags);

#endif
