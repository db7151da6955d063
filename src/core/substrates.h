/* The substrates of this measurement: the core's side of substrate.h.
 * Registered substrates that the configuration wants are opened at the
 * start; replay delivers each location's events to them; a substrate that
 * fails is reported once and left out from then on. */
#ifndef SCOREP_CORE_SUBSTRATES_H
#define SCOREP_CORE_SUBSTRATES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "location.h"
#include "substrate.h"

typedef struct {
    const substrate_ops *ops;
    void *self;
    atomic_bool failed;
} substrate_instance;

extern substrate_instance substrate_instances[SUBSTRATE_SLOTS];
extern unsigned substrate_instance_count;

/* Open every registered substrate the configuration wants; false with a
 * message in err if one cannot start (the others are closed again). */
bool substrates_open(const substrate_facts *facts, char *err, size_t errlen);

/* Substrate i's state for this location, opened on first use; NULL when
 * that failed (the substrate is then failed). */
void *substrates_location_state(location *loc, unsigned i);

/* Substrate i's state for a location described by `where` (NULL when
 * that failed: the substrate is then failed). */
void *substrates_open_location(unsigned i, const substrate_location *where);

/* Report substrate i's error (once) and deliver nothing more to it. */
void substrates_fail(unsigned i);

/* A finished location's events were all delivered: the substrates release
 * what they hold for it. */
void substrates_location_close(location *loc, uint64_t end_time);

/* Bytes the substrates hold (their part of SCOREP_TOTAL_MEMORY). */
uint64_t substrates_memory(void);

/* Close every substrate with the summary; false when one of them did not
 * write its results (each reported on stderr once). */
bool substrates_close(const substrate_summary *summary);

/* A killed run's leftover in dir_fd: the first registered substrate that
 * finds events of it there delivers them to the sink (substrate.h,
 * salvage); -1 with err on an error, 0 if none found anything.
 * substrates_salvaged() then lets it remove what it read. */
int64_t substrates_salvage(int dir_fd, const char *dir, const salvage_sink *sink, char *err, size_t errlen);
void substrates_salvaged(int dir_fd);

/* Close every substrate without results, saying nothing (what they made
 * goes). */
void substrates_discard(void);

/* Hand another process's results to every substrate (substrate.h,
 * merge); false when some substrate left them out (reported). */
bool substrates_merge(const substrate_process *p);

/* Forget the instances without closing them (a forked child). */
void substrates_forget(void);

/* Deliver one event to every substrate that takes it. */
#define SUBSTRATES_DELIVER(loc, op, ...)                                                                   \
    for (unsigned i_ = 0; i_ < substrate_instance_count; i_++) {                                          \
        substrate_instance *s_ = &substrate_instances[i_];                                                \
        if (!s_->ops->op || atomic_load_explicit(&s_->failed, memory_order_relaxed))                      \
            continue;                                                                                      \
        void *state_ = (loc)->substrate_state[i_];                                                        \
        if (!state_ && !(state_ = substrates_location_state((loc), i_)))                                  \
            continue;                                                                                      \
        if (!s_->ops->op(state_, __VA_ARGS__))                                                            \
            substrates_fail(i_);                                                                           \
    }

#endif
