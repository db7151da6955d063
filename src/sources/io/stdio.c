/* The ISO C (stdio) calls of the I/O wrapper library: fopen, fread,
 * fwrite, fprintf, fgets, fseek, fclose, ... as CPython and C extensions
 * call them (posix.c has the file descriptors' calls; calls.c what both
 * share).  Each stream the program opens is an I/O handle of the ISO C I/O
 * paradigm ("[ISO C I/O] <path>"), stdin, stdout and stderr are
 * pre-created ones.  The C library's stdio does its own reads and writes
 * of the file descriptor inside (not through the wrapped read and write),
 * so a buffered fwrite is one operation of the stream's handle and none
 * of the descriptor's: bytes are counted once, where the program asked.
 *
 * Bytes: fread/fwrite those of the items done; fgetc/fputc one; fgets the
 * characters it stored; fputs/puts the string's (puts with its newline);
 * the printf functions the bytes they wrote (what they will write is not
 * known before: requested is undefined).  A failed call is recorded as
 * failed (EOF with the stream's error indicator set). */
/* (the wrappers take the place of the fortified functions, never inline them) */
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "calls.h"

/* The C library's fortified entry points (what code built with
 * _FORTIFY_SOURCE calls for fread, fgets and the printf functions). */
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *stream);
char *__fgets_chk(char *s, size_t size, int n, FILE *stream);
int __fprintf_chk(FILE *stream, int flag, const char *format, ...);
int __printf_chk(int flag, const char *format, ...);
int __vfprintf_chk(FILE *stream, int flag, const char *format, va_list ap);
int __vprintf_chk(int flag, const char *format, va_list ap);
FILE *freopen64(const char *path, const char *mode, FILE *stream);

/* The handle of a stream if the call is recorded. */
static uint32_t recorded_handle(const io_call *c, FILE *stream)
{
    return c->recording ? io_stream_handle(stream) : DEFS_NO_ID;
}

/* ---- open and close ---- */

/* fopen's mode ("r", "w+", "ab", "re", "wx", ...) as open(2)'s flags */
static int mode_flags(const char *mode)
{
    int flags = 0;
    switch (mode ? mode[0] : 'r') {
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: flags = O_RDONLY; break;
    }
    for (const char *m = mode ? mode + 1 : ""; *m && *m != ','; m++) {
        if (*m == '+')
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        else if (*m == 'x')
            flags |= O_EXCL;
        else if (*m == 'e')
            flags |= O_CLOEXEC;
    }
    return flags;
}

static uint32_t mode_creation(int flags)
{
    return (flags & O_CREAT ? IO_CREATE_CREATE : 0) | (flags & O_TRUNC ? IO_CREATE_TRUNCATE : 0) |
           (flags & O_EXCL ? IO_CREATE_EXCLUSIVE : 0);
}

/* A stream opened on file gets its handle. */
static void stream_opened(io_call *c, FILE *stream, const char *file, const char *mode, bool large)
{
    if (!c->recording || !stream)
        return;
    uint32_t h = io_new_handle(IO_ISOC, file ? file : "", 0, 0, 0);
    if (h == DEFS_NO_ID)
        return;
    io_set_stream_handle(stream, h);
    int flags = mode_flags(mode);
    io_event(c, (io_record){.kind = EXT_IO_CREATE_HANDLE, .handle = h, .mode = io_access_mode(flags),
                            .creation = mode_creation(flags) | (large ? IO_CREATE_LARGEFILE : 0),
                            .status = io_status_flags(flags)});
}

#define FOPEN_WRAPPER(name, large)                                                                             \
    SCOREP_IO_API FILE *name(const char *path, const char *mode)                                               \
    {                                                                                                          \
        io_call c;                                                                                             \
        io_enter(&c, FN_##name);                                                                               \
        FILE *stream = REAL(name)(path, mode);                                                                 \
        int saved = errno;                                                                                     \
        stream_opened(&c, stream, path, mode, large);                                                          \
        io_leave(&c, saved);                                                                                   \
        return stream;                                                                                         \
    }
FOPEN_WRAPPER(fopen, false)
FOPEN_WRAPPER(fopen64, true)

/* a stream on a descriptor: a handle if the descriptor has one (its file) */
SCOREP_IO_API FILE *fdopen(int fd, const char *mode)
{
    io_call c;
    io_enter(&c, FN_fdopen);
    FILE *stream = REAL(fdopen)(fd, mode);
    int saved = errno;
    uint32_t fd_handle = c.recording && stream ? io_fd_handle(fd) : DEFS_NO_ID;
    if (fd_handle != DEFS_NO_ID)
        stream_opened(&c, stream, scorep_io_handle_file(fd_handle), mode, false);
    io_leave(&c, saved);
    return stream;
}

/* The stream's file descriptor goes with it (fclose, freopen close it
 * inside the C library): its handle, if it has one, too. */
static void stream_closed(io_call *c, FILE *stream, int fd)
{
    io_stream_gone(c, stream);
    if (fd >= 0)
        io_fd_gone(c, fd);
}

#define FREOPEN_WRAPPER(name, large)                                                                           \
    SCOREP_IO_API FILE *name(const char *path, const char *mode, FILE *stream)                                 \
    {                                                                                                          \
        io_call c;                                                                                             \
        io_enter(&c, FN_##name);                                                                               \
        uint32_t old = recorded_handle(&c, stream);                                                            \
        int fd = stream ? fileno(stream) : -1;                                                                 \
        FILE *result = REAL(name)(path, mode, stream);                                                         \
        int saved = errno;                                                                                     \
        if (c.recording) {                                                                                     \
            /* the stream is closed whether or not the new file opens */                                       \
            stream_closed(&c, stream, fd);                                                                     \
            if (result && path)                                                                                \
                stream_opened(&c, result, path, mode, large);                                                  \
            else if (result && old != DEFS_NO_ID) /* the same file in a new mode */                            \
                stream_opened(&c, result, scorep_io_handle_file(old), mode, large);                            \
        }                                                                                                      \
        io_leave(&c, saved);                                                                                   \
        return result;                                                                                         \
    }
FREOPEN_WRAPPER(freopen, false)
FREOPEN_WRAPPER(freopen64, true)

SCOREP_IO_API int fclose(FILE *stream)
{
    io_call c;
    io_enter(&c, FN_fclose);
    if (c.recording)
        stream_closed(&c, stream, stream ? fileno(stream) : -1);  /* gone whatever fclose returns */
    int result = REAL(fclose)(stream);
    int saved = errno;
    io_leave(&c, saved);
    return result;
}

/* ---- reading and writing ---- */

static uint64_t failed_if(bool failed, uint64_t done) { return failed ? IO_RECORD_FAILED : done; }

/* One read or write on a stream: (call) is the C library's call, setting
 * result; done is the bytes it did, failed whether it failed. */
#define STREAM_OPERATION(fn, stream_, mode, requested, call, done, failed)                                     \
    io_call c;                                                                                                 \
    io_operation op;                                                                                           \
    io_enter(&c, fn);                                                                                          \
    FILE *op_stream = (stream_);                                                                               \
    io_operation_begin(&c, &op, recorded_handle(&c, op_stream), mode, (uint64_t)(requested));                  \
    call;                                                                                                      \
    int saved = errno;                                                                                         \
    if (op.handle != DEFS_NO_ID)                                                                               \
        io_operation_complete(&c, &op, failed_if((failed), (uint64_t)(done)));                                 \
    io_leave(&c, saved);                                                                                       \
    return result

SCOREP_IO_API size_t fread(void *ptr, size_t size, size_t n, FILE *stream)
{
    STREAM_OPERATION(FN_fread, stream, IO_OPERATION_READ, size * n, size_t result = REAL(fread)(ptr, size, n, stream),
                     result * size, result == 0 && n && size && ferror(stream));
}

SCOREP_IO_API size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *stream)
{
    STREAM_OPERATION(FN___fread_chk, stream, IO_OPERATION_READ, size * n,
                     size_t result = REAL(__fread_chk)(ptr, ptrlen, size, n, stream), result * size,
                     result == 0 && n && size && ferror(stream));
}

SCOREP_IO_API size_t fwrite(const void *ptr, size_t size, size_t n, FILE *stream)
{
    STREAM_OPERATION(FN_fwrite, stream, IO_OPERATION_WRITE, size * n,
                     size_t result = REAL(fwrite)(ptr, size, n, stream), result * size,
                     result == 0 && n && size && ferror(stream));
}

/* one character in (getc, fgetc, getchar): EOF is 0 bytes, or a failure */
#define GETC_WRAPPER(name, params, stream_, args)                                                              \
    SCOREP_IO_API int name params                                                                              \
    {                                                                                                          \
        STREAM_OPERATION(FN_##name, stream_, IO_OPERATION_READ, 1, int result = REAL(name) args,               \
                         result != EOF, result == EOF && ferror(op_stream));                                   \
    }
GETC_WRAPPER(fgetc, (FILE * stream), stream, (stream))
GETC_WRAPPER(getc, (FILE * stream), stream, (stream))
GETC_WRAPPER(getchar, (void), stdin, ())

/* one character out (putc, fputc, putchar): EOF is a failure */
#define PUTC_WRAPPER(name, params, stream_, args)                                                              \
    SCOREP_IO_API int name params                                                                              \
    {                                                                                                          \
        STREAM_OPERATION(FN_##name, stream_, IO_OPERATION_WRITE, 1, int result = REAL(name) args, 1,           \
                         result == EOF);                                                                       \
    }
PUTC_WRAPPER(fputc, (int ch, FILE *stream), stream, (ch, stream))
PUTC_WRAPPER(putc, (int ch, FILE *stream), stream, (ch, stream))
PUTC_WRAPPER(putchar, (int ch), stdout, (ch))

/* at most n - 1 characters in; NULL is EOF before any (0 bytes) or a failure */
static uint64_t line_bytes(const char *line) { return line ? strlen(line) : 0; }

SCOREP_IO_API char *fgets(char *s, int n, FILE *stream)
{
    STREAM_OPERATION(FN_fgets, stream, IO_OPERATION_READ, n > 0 ? n - 1 : 0, char *result = REAL(fgets)(s, n, stream),
                     line_bytes(result), !result && ferror(stream));
}

SCOREP_IO_API char *__fgets_chk(char *s, size_t size, int n, FILE *stream)
{
    STREAM_OPERATION(FN___fgets_chk, stream, IO_OPERATION_READ, n > 0 ? n - 1 : 0,
                     char *result = REAL(__fgets_chk)(s, size, n, stream), line_bytes(result),
                     !result && ferror(stream));
}

SCOREP_IO_API int fputs(const char *s, FILE *stream)
{
    STREAM_OPERATION(FN_fputs, stream, IO_OPERATION_WRITE, strlen(s), int result = REAL(fputs)(s, stream), strlen(s),
                     result == EOF);
}

SCOREP_IO_API int puts(const char *s)
{
    STREAM_OPERATION(FN_puts, stdout, IO_OPERATION_WRITE, strlen(s) + 1, int result = REAL(puts)(s), strlen(s) + 1,
                     result == EOF);
}

/* The printf functions, all through the C library's vfprintf (flag < 0)
 * or __vfprintf_chk (flag: its fortification level). */
static int print_on(unsigned fn, FILE *stream, int flag, const char *format, va_list ap)
{
    io_call c;
    io_operation op;
    io_enter(&c, fn);
    io_operation_begin(&c, &op, recorded_handle(&c, stream), IO_OPERATION_WRITE, IO_RECORD_FAILED);
    int result = flag < 0 ? REAL(vfprintf)(stream, format, ap) : REAL(__vfprintf_chk)(stream, flag, format, ap);
    int saved = errno;
    io_operation_complete(&c, &op, failed_if(result < 0, (uint64_t)result));
    io_leave(&c, saved);
    return result;
}

SCOREP_IO_API int vfprintf(FILE *stream, const char *format, va_list ap)
{
    return print_on(FN_vfprintf, stream, -1, format, ap);
}

SCOREP_IO_API int vprintf(const char *format, va_list ap) { return print_on(FN_vprintf, stdout, -1, format, ap); }

SCOREP_IO_API int __vfprintf_chk(FILE *stream, int flag, const char *format, va_list ap)
{
    return print_on(FN___vfprintf_chk, stream, flag, format, ap);
}

SCOREP_IO_API int __vprintf_chk(int flag, const char *format, va_list ap)
{
    return print_on(FN___vprintf_chk, stdout, flag, format, ap);
}

#define VARARGS_PRINTF(fn, stream, flag, format)                                                               \
    va_list ap;                                                                                                \
    va_start(ap, format);                                                                                      \
    int result = print_on(fn, stream, flag, format, ap);                                                       \
    va_end(ap);                                                                                                \
    return result

SCOREP_IO_API int fprintf(FILE *stream, const char *format, ...) { VARARGS_PRINTF(FN_fprintf, stream, -1, format); }
SCOREP_IO_API int printf(const char *format, ...) { VARARGS_PRINTF(FN_printf, stdout, -1, format); }

SCOREP_IO_API int __fprintf_chk(FILE *stream, int flag, const char *format, ...)
{
    VARARGS_PRINTF(FN___fprintf_chk, stream, flag, format);
}

SCOREP_IO_API int __printf_chk(int flag, const char *format, ...)
{
    VARARGS_PRINTF(FN___printf_chk, stdout, flag, format);
}

/* ---- flush ---- */

/* fflush(NULL) flushes every stream: its region, no handle's operation */
SCOREP_IO_API int fflush(FILE *stream)
{
    STREAM_OPERATION(FN_fflush, stream, IO_OPERATION_FLUSH, 0, int result = REAL(fflush)(stream), 0, result == EOF);
}

/* ---- seek ---- */

/* The position after a seek (the seek's result in the trace). */
static uint64_t position(FILE *stream)
{
    off64_t at = REAL(ftello64)(stream);
    return at < 0 ? IO_RECORD_FAILED : (uint64_t)at;
}

static void seeked(io_call *c, FILE *stream, int64_t offset, int whence, bool ok)
{
    uint32_t h = recorded_handle(c, stream);
    if (h != DEFS_NO_ID)
        io_event(c, (io_record){.kind = EXT_IO_SEEK, .handle = h, .offset = offset, .whence = (uint32_t)whence,
                                .result = ok ? position(stream) : IO_RECORD_FAILED});
}

#define FSEEK_WRAPPER(name, type)                                                                              \
    SCOREP_IO_API int name(FILE *stream, type offset, int whence)                                              \
    {                                                                                                          \
        io_call c;                                                                                             \
        io_enter(&c, FN_##name);                                                                               \
        int result = REAL(name)(stream, offset, whence);                                                       \
        int saved = errno;                                                                                     \
        seeked(&c, stream, (int64_t)offset, whence, result == 0);                                              \
        io_leave(&c, saved);                                                                                   \
        return result;                                                                                         \
    }
FSEEK_WRAPPER(fseek, long)
FSEEK_WRAPPER(fseeko, off_t)
FSEEK_WRAPPER(fseeko64, off64_t)

SCOREP_IO_API void rewind(FILE *stream)
{
    io_call c;
    io_enter(&c, FN_rewind);
    REAL(rewind)(stream);
    int saved = errno;
    seeked(&c, stream, 0, SEEK_SET, true);
    io_leave(&c, saved);
}

/* where a stream is: a region, no event */
#define FTELL_WRAPPER(name, type)                                                                              \
    SCOREP_IO_API type name(FILE *stream)                                                                      \
    {                                                                                                          \
        io_call c;                                                                                             \
        io_enter(&c, FN_##name);                                                                               \
        type result = REAL(name)(stream);                                                                      \
        io_leave(&c, errno);                                                                                   \
        return result;                                                                                         \
    }
FTELL_WRAPPER(ftell, long)
FTELL_WRAPPER(ftello, off_t)
FTELL_WRAPPER(ftello64, off64_t)
