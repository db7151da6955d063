/* Inside the core: the measurement's appends with an explicit time, under
 * the public recording functions of scorep.h (and what the unit tests
 * drive directly). */
#ifndef SCOREP_CORE_MEASUREMENT_H
#define SCOREP_CORE_MEASUREMENT_H

#include <stdint.h>

#include "location.h"
#include "scorep.h"

/* Append an enter/leave or an extended record at `now`, making room when
 * the chunk is full (nothing is stored when memory is exhausted). */
void measurement_append(location *loc, unsigned kind, uint32_t region, uint64_t now);
void measurement_append_ext(location *loc, enum event_ext_type type, uint64_t now, const uint64_t *payload,
                            unsigned payload_words);

void measurement_rewind_begin(location *loc, uint32_t name, uint64_t now);
rewind_result measurement_rewind_end(location *loc, uint32_t name, bool discard, uint64_t now);

#endif
