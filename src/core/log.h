/* Messages of the measurement on stderr: one line each, "[Score-P] ...".
 * Verbose lines only when SCOREP_VERBOSE is true; warnings and errors
 * always.  Safe from any thread. */
#ifndef SCOREP_CORE_LOG_H
#define SCOREP_CORE_LOG_H

#include <stdbool.h>

void log_set_verbose(bool on);
bool log_is_verbose(void);

void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
