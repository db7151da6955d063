#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

static atomic_bool verbose;

void log_set_verbose(bool on) { atomic_store(&verbose, on); }
bool log_is_verbose(void) { return atomic_load(&verbose); }

/* The whole line in one write, so that lines of several threads (and of
 * the program's own unbuffered stderr) never mix; the measurement's own
 * work (its write is no I/O of the program's). */
static void log_line(const char *fmt, va_list ap)
{
    state_own_work_begin();
    char line[1100];
    static const char prefix[] = "[Score-P] ";
    memcpy(line, prefix, sizeof prefix - 1);
    size_t room = sizeof line - (sizeof prefix - 1) - 1;
    int n = vsnprintf(line + sizeof prefix - 1, room + 1, fmt, ap);
    size_t length = sizeof prefix - 1 + (n < 0 ? 0 : (size_t)n > room ? room : (size_t)n);
    line[length++] = '\n';
    fflush(stderr);
    for (size_t done = 0; done < length;) {
        ssize_t w = write(STDERR_FILENO, line + done, length - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    state_own_work_end();
}

void log_verbose(const char *fmt, ...)
{
    if (!atomic_load(&verbose))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}

void log_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}
