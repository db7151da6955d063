/* Decoding of buffered records and their delivery to the substrates.
 *
 * Replay also sanitises nesting, so that every substrate sees properly
 * nested regions whatever the event sources did: a leave that matches no
 * open region is dropped (e.g. returns from frames entered before the
 * measurement started), a leave of a region further down the stack first
 * closes the regions above it, and replay_close() closes what is still
 * open at the end.  Callers hold the location's replay_lock. */
#ifndef SCOREP_CORE_REPLAY_H
#define SCOREP_CORE_REPLAY_H

#include <stdint.h>

#include "location.h"

/* Replay chunks in order (a list as location_take_* returns it). */
void replay_chunks(location *loc, const event_chunk *chunks);

/* Close every region still open on the location at final_time (or at its
 * last replayed event, if that is later). */
void replay_close(location *loc, uint64_t final_time);

#endif
