#include "buffers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "defs.h"
#include "drain.h"
#include "journal.h"
#include "log.h"
#include "replay.h"
#include "state.h"
#include "substrates.h"

static buffers_policy policy;
static atomic_bool budget_reported, memory_reported;

uint64_t buffers_budget(void)
{
    uint64_t fixed = defs_bytes() + substrates_memory();
    /* the event buffers always get at least two chunks to work with */
    uint64_t minimum = 2 * locations_chunk_bytes();
    if (fixed + minimum <= policy.total_memory)
        return policy.total_memory - fixed;
    if (fixed <= policy.total_memory)
        return minimum;
    if (state_get() != MEASUREMENT_STOPPED && !atomic_exchange(&budget_reported, true)) {
        state_set(MEASUREMENT_STOPPED);
        log_warning("SCOREP_TOTAL_MEMORY=%llu bytes is used up by definitions and the profile (%llu bytes): "
                    "recording stopped here, the results up to this point are written; increase "
                    "SCOREP_TOTAL_MEMORY", (unsigned long long)policy.total_memory, (unsigned long long)fixed);
    }
    return minimum;
}

static void replay_taken(location *loc, event_chunk *chunks)
{
    /* what these events use is on disk before any of them can be */
    state_own_work_begin();
    if (chunks)
        journal_sync();
    replay_chunks(loc, chunks);
    chunks_free(chunks);
    state_own_work_end();
}

void buffers_flush(location *loc)
{
    pthread_mutex_lock(&loc->replay_lock);
    replay_taken(loc, location_take_all(loc));
    pthread_mutex_unlock(&loc->replay_lock);
}

/* A location whose thread ended: replay the rest, close its regions at its
 * last event, let the substrates release it, and take it off the live
 * list.  Whoever gets there first does it. */
static void close_finished(location *loc)
{
    pthread_mutex_lock(&loc->replay_lock);
    if (location_phase_of(loc) == LOCATION_FINISHED) {
        replay_taken(loc, location_take_all(loc));
        replay_close(loc, loc->last_time);
        substrates_location_close(loc, loc->last_replayed_time);
        location_release(loc);
        atomic_store_explicit(&loc->phase, LOCATION_CLOSED, memory_order_release);
        location_unlink_live(loc);
    }
    pthread_mutex_unlock(&loc->replay_lock);
}

static void drain_location(location *loc)
{
    if (location_phase_of(loc) == LOCATION_FINISHED) {
        close_finished(loc);
        return;
    }
    pthread_mutex_lock(&loc->replay_lock);
    replay_taken(loc, location_take_completed(loc));
    pthread_mutex_unlock(&loc->replay_lock);
}

static void (*pass_hook)(void);

void buffers_on_drain_pass(void (*hook)(void)) { pass_hook = hook; }

bool buffers_drain_running(void) { return drain_running(); }

/* Whether the drain thread replays the buffers (else they are the program
 * threads' own business). */
static bool draining(void) { return policy.drain_events && drain_running(); }

void buffers_recording_ended(void)
{
    if (draining())
        drain_ask_pass();
}

/* One pass of the drain thread over every live location. */
static bool drain_all(void)
{
    state_own_work_begin();  /* (the results it writes after a signal too) */
    if (pass_hook)
        pass_hook();
    bool progress = false;
    if (policy.drain_events && drain_pass_replays()) {  /* else it backs off to its idle period */
        uint64_t before = locations_released_bytes();
        for (location *loc = locations_first_live(); loc; loc = atomic_load(&loc->next_live))
            drain_location(loc);
        progress = locations_released_bytes() != before;
    }
    state_own_work_end();
    return progress;
}

void buffers_start(const buffers_policy *p)
{
    policy = *p;
    atomic_store(&budget_reported, false);
    atomic_store(&memory_reported, false);
    drain_defer_when_busy(policy.drain_defers);
    if (policy.drain_thread && !drain_start(drain_all))
        log_verbose("no drain thread: event buffers are flushed by the program's threads");
}

/* Without the drain thread: buffers of ended threads are the first to go
 * when memory runs short. */
static void close_finished_locations(void)
{
    for (location *loc = locations_first_live(); loc; loc = atomic_load(&loc->next_live))
        if (location_phase_of(loc) == LOCATION_FINISHED)
            close_finished(loc);
}

static bool over_budget(uint64_t budget, uint64_t chunk) { return locations_buffered_bytes() + chunk > budget; }

static bool start_chunk(location *loc)
{
    bool completed = loc->current != NULL;
    if (!location_start_chunk(loc)) {
        if (state_get() != MEASUREMENT_STOPPED && !atomic_exchange(&memory_reported, true)) {
            state_set(MEASUREMENT_STOPPED);
            log_warning("out of memory for event buffers: recording stopped here, the results up to this point "
                        "are written");
        }
        return false;
    }
    /* below 1/64 of the budget the drain thread's own passes keep up (1/4
     * while they wait for a CPU to spare) */
    if (completed && locations_buffered_bytes() >= buffers_budget() / (drain_deferring() ? 4 : 64))
        drain_wake();
    return true;
}

static atomic_bool drain_paused;
static void resume_drain(void);

bool buffers_make_room(location *loc, size_t words)
{
    if (location_has_room(loc, words))
        return true;
    /* after a fork the drain thread starts again with the next chunk a
     * program thread fills: by then fork() has returned to the program
     * (Python counts the process's threads for its fork warning after the
     * parent's fork hooks) */
    if (__builtin_expect(atomic_load_explicit(&drain_paused, memory_order_relaxed), 0))
        resume_drain();
    uint64_t chunk = locations_chunk_bytes();
    uint64_t budget = buffers_budget();
    if (over_budget(budget, chunk) && !draining())
        close_finished_locations();
    if (!loc->current || !over_budget(budget, chunk))
        return start_chunk(loc);
    /* The buffers are full: the drain thread has fallen behind (this thread
     * waits for it), or there is none (this thread replays its own
     * buffer).  Either way the program was held up: an event. */
    uint64_t begin = clock_now();
    if (begin < loc->last_time)
        begin = loc->last_time;
    log_verbose("flushing the event buffer of location %u (%llu bytes in use)", loc->index,
                (unsigned long long)locations_buffered_bytes());
    /* two passes without progress: what is left is held (current chunks,
     * rewind marks) and waiting longer will not help */
    for (int stalled = 0; stalled < 2 && over_budget(budget, chunk) && draining();) {
        uint64_t before = locations_buffered_bytes();
        drain_wait_pass();
        stalled = locations_buffered_bytes() < before ? 0 : stalled + 1;
    }
    if (!draining() || over_budget(budget, 0))
        buffers_flush(loc);
    if (!start_chunk(loc))
        return false;
    uint64_t end = clock_now();
    if (end < begin)
        end = begin;
    /* as in Score-P, only a flush that wrote trace data is an event
     * (without tracing, replaying into the profile is cheap) */
    if (policy.flush_events) {
        uint64_t payload = end;
        location_put_ext(loc, EXT_BUFFER_FLUSH, begin, &payload, 1);
    }
    loc->last_time = end;
    return location_has_room(loc, words);
}

uint64_t buffers_finish(uint64_t end_time)
{
    drain_stop();
    uint64_t latest = end_time;
    for (location *loc = locations_first_live(); loc; loc = atomic_load(&loc->next_live)) {
        if (location_phase_of(loc) == LOCATION_FINISHED) {
            close_finished(loc);
            continue;
        }
        pthread_mutex_lock(&loc->replay_lock);
        replay_taken(loc, location_take_all(loc));
        replay_close(loc, end_time);
        if (loc->last_replayed_time > latest)
            latest = loc->last_replayed_time;
        pthread_mutex_unlock(&loc->replay_lock);
    }
    return latest;
}

void buffers_forget(void) { drain_forget(); }

/* The process's thread count as the kernel reports it (/proc/self/stat,
 * which CPython's fork warning reads); -1 if unknown. */
static long kernel_threads(void)
{
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return -1;
    char line[1024];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')');  /* after the command name, which may hold spaces */
    long threads = -1;
    /* num_threads is field 20; state, field 3, is the first after ')' */
    for (int field = 3; p && *p; field++) {
        p = strchr(p + 1, ' ');
        if (p && field == 20) {
            threads = strtol(p + 1, NULL, 10);
            break;
        }
    }
    return threads;
}

void buffers_pause_drain(void)
{
    if (policy.drain_thread && drain_running()) {
        long before = kernel_threads();
        drain_stop();
        atomic_store(&drain_paused, true);
        /* pthread_join returns when the thread has exited, which the
         * kernel's count of the process's threads may show a moment later:
         * the program forks with its own threads only (at most 50 ms) */
        struct timespec step = {0, 100000};
        for (int i = 0; before > 0 && i < 500 && kernel_threads() >= before; i++)
            nanosleep(&step, NULL);
    }
}

static void resume_drain(void)
{
    if (atomic_exchange(&drain_paused, false) && state_get() != MEASUREMENT_STOPPED)
        drain_start(drain_all);
}
