/* Substrates consume the sanitised event stream of each location: the OTF2
 * trace writer and the call-path profile.  They never know which event
 * source produced an event.  Per-location state goes in
 * location->substrate_data[slot]. */
#ifndef SCOREP_CORE_SUBSTRATE_H
#define SCOREP_CORE_SUBSTRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "location.h"

typedef struct substrate_ops {
    const char *name;
    void (*enter)(location *loc, uint64_t time, uint32_t region);
    void (*leave)(location *loc, uint64_t time, uint32_t region);
    void (*parameter_int)(location *loc, uint64_t time, uint32_t parameter, int64_t value);
    void (*parameter_uint)(location *loc, uint64_t time, uint32_t parameter, uint64_t value);
    void (*parameter_string)(location *loc, uint64_t time, uint32_t parameter, uint32_t string);
    void (*measurement_on_off)(location *loc, uint64_t time, bool on);
    void (*buffer_flush)(location *loc, uint64_t time, uint64_t end_time);
    /* metric values taken with the enter or leave just before */
    void (*metric)(location *loc, uint64_t time, const uint64_t *values, unsigned count);
} substrate_ops;

/* Register a substrate for this measurement; returns its slot. */
int substrate_register(const substrate_ops *ops);
void substrate_reset(void);

/* Replay one location's buffered chunk into every substrate. */
void replay_chunk(location *loc, const struct event_chunk *chunk);

/* Close every region still open on the location at final_time. */
void replay_close(location *loc, uint64_t final_time);

#endif
