/* The tracing substrate: replayed events become OTF2 events, definitions
 * become OTF2 global definitions (through Debian's libotf2). */
#ifndef SCOREP_WRITERS_OTF2_TRACE_H
#define SCOREP_WRITERS_OTF2_TRACE_H

#include <stdbool.h>
#include <stddef.h>

/* Open <dir>/traces.otf2 and register the substrate. */
bool otf2_trace_open(const char *dir, char *err, size_t errlen);

/* Called after every location was replayed and closed: write the program
 * end, the definitions and close the archive. */
bool otf2_trace_close(char *err, size_t errlen);

#endif
