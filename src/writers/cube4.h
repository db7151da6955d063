/* CUBE4 profile files (.cubex): a tar archive of anchor.xml (metrics,
 * regions, call tree, system tree) and one .index/.data pair per metric,
 * in the layout Score-P writes and Cube and pycubexr read. */
#ifndef SCOREP_WRITERS_CUBE4_H
#define SCOREP_WRITERS_CUBE4_H

#include <stdbool.h>
#include <stddef.h>

/* Merge every location's call-path tree and write <dir>/<base>.cubex
 * (through a temporary file, so it is never left half-written). */
bool cube4_write(const char *dir, const char *base_name, char *err, size_t errlen);

#endif
