#include "drain.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "location.h"

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;   /* to the thread: chunks are ready */
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;   /* from the thread: a pass ended */
static bool running, stopping, sleeping;
static _Atomic bool pending;
static uint64_t passes;

static void deadline_in(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

/* The thread wakes by itself: every DRAIN_PERIOD_MS while there is work
 * (so that little is left to replay at the end), backing off to
 * DRAIN_IDLE_MS while there is none.  Waking it from a program thread costs
 * a system call there (and in a virtual machine an interrupt to the other
 * core, several microseconds), so program threads wake it only when the
 * buffers fill up (drain_notify). */
#define DRAIN_PERIOD_MS 1
#define DRAIN_IDLE_MS 16

static void *drain_main(void *unused)
{
    (void)unused;
    long period = DRAIN_PERIOD_MS;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        if (!atomic_exchange(&pending, false)) {
            struct timespec ts;
            deadline_in(&ts, period);
            sleeping = true;
            pthread_cond_timedwait(&work, &lock, &ts);
            sleeping = false;
            if (stopping)
                break;
        }
        pthread_mutex_unlock(&lock);
        uint64_t before = location_released_bytes();
        for (location *loc = location_first(); loc; loc = loc->next)
            location_drain(loc);
        bool idle = location_released_bytes() == before;
        pthread_mutex_lock(&lock);
        period = idle ? (period * 2 > DRAIN_IDLE_MS ? DRAIN_IDLE_MS : period * 2) : DRAIN_PERIOD_MS;
        passes++;
        pthread_cond_broadcast(&done);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

bool drain_start(void)
{
    pthread_mutex_lock(&lock);
    if (!running) {
        stopping = false;
        running = pthread_create(&thread, NULL, drain_main, NULL) == 0;
    }
    bool ok = running;
    pthread_mutex_unlock(&lock);
    return ok;
}

void drain_stop(void)
{
    pthread_mutex_lock(&lock);
    if (!running) {
        pthread_mutex_unlock(&lock);
        return;
    }
    stopping = true;
    pthread_cond_signal(&work);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    running = false;
    pthread_cond_broadcast(&done);
    pthread_mutex_unlock(&lock);
}

bool drain_running(void) { return running; }

void drain_notify(uint64_t buffered, uint64_t budget)
{
    if (buffered < budget / 64)
        return;  /* the thread comes by itself soon enough */
    atomic_store(&pending, true);
    if (sleeping) {  /* racy read: at worst the thread wakes by its timeout */
        pthread_mutex_lock(&lock);
        pthread_cond_signal(&work);
        pthread_mutex_unlock(&lock);
    }
}

bool drain_wait_below(uint64_t limit)
{
    pthread_mutex_lock(&lock);
    if (!running) {
        pthread_mutex_unlock(&lock);
        return false;
    }
    /* two passes without getting below the limit: what is left is held
     * (current chunks, rewind marks) and waiting longer will not help */
    for (int stalled = 0; location_buffered_bytes() > limit && stalled < 2 && running;) {
        uint64_t before = location_buffered_bytes();
        uint64_t pass = passes;
        atomic_store(&pending, true);
        pthread_cond_signal(&work);
        struct timespec ts;
        deadline_in(&ts, 200);
        while (passes == pass && running)
            if (pthread_cond_timedwait(&done, &lock, &ts) == ETIMEDOUT)
                break;
        stalled = location_buffered_bytes() < before ? 0 : stalled + 1;
    }
    pthread_mutex_unlock(&lock);
    return true;
}

void drain_forget(void)
{
    running = false;
    sleeping = false;
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&work, NULL);
    pthread_cond_init(&done, NULL);
}
