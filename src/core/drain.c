#include "drain.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;   /* to the thread: do a pass */
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;   /* from the thread: a pass ended */
static drain_pass pass_function;
static atomic_bool running, sleeping;
static bool stopping;    /* under lock */
static atomic_bool pending;
static uint64_t passes;  /* under lock */

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
 * buffers fill up. */
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
            atomic_store(&sleeping, true);
            pthread_cond_timedwait(&work, &lock, &ts);
            atomic_store(&sleeping, false);
            if (stopping)
                break;
        }
        pthread_mutex_unlock(&lock);
        bool progress = pass_function();
        pthread_mutex_lock(&lock);
        period = progress ? DRAIN_PERIOD_MS : (period * 2 > DRAIN_IDLE_MS ? DRAIN_IDLE_MS : period * 2);
        passes++;
        pthread_cond_broadcast(&done);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

bool drain_start(drain_pass pass)
{
    pthread_mutex_lock(&lock);
    if (!atomic_load(&running)) {
        stopping = false;
        pass_function = pass;
        /* the program's signals go to the program's threads: the new
         * thread starts with every signal blocked */
        sigset_t all, previous;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &previous);
        atomic_store(&running, pthread_create(&thread, NULL, drain_main, NULL) == 0);
        pthread_sigmask(SIG_SETMASK, &previous, NULL);
    }
    bool ok = atomic_load(&running);
    pthread_mutex_unlock(&lock);
    return ok;
}

void drain_stop(void)
{
    pthread_mutex_lock(&lock);
    if (!atomic_load(&running)) {
        pthread_mutex_unlock(&lock);
        return;
    }
    if (pthread_equal(pthread_self(), thread)) {
        /* from a pass (the measurement ends on this thread): no join */
        stopping = true;
        atomic_store(&running, false);
        pthread_cond_broadcast(&done);
        pthread_mutex_unlock(&lock);
        return;
    }
    stopping = true;
    pthread_cond_signal(&work);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    atomic_store(&running, false);
    pthread_cond_broadcast(&done);
    pthread_mutex_unlock(&lock);
}

bool drain_running(void) { return atomic_load(&running); }

void drain_wake(void)
{
    atomic_store(&pending, true);
    if (atomic_load(&sleeping)) {  /* at worst the thread wakes by its timeout */
        pthread_mutex_lock(&lock);
        pthread_cond_signal(&work);
        pthread_mutex_unlock(&lock);
    }
}

bool drain_wait_pass(void)
{
    pthread_mutex_lock(&lock);
    if (!atomic_load(&running)) {
        pthread_mutex_unlock(&lock);
        return false;
    }
    uint64_t target = passes + 1;
    atomic_store(&pending, true);
    pthread_cond_signal(&work);
    struct timespec ts;
    deadline_in(&ts, 200);
    while (passes < target && atomic_load(&running))
        if (pthread_cond_timedwait(&done, &lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&lock);
    return true;
}

void drain_forget(void)
{
    atomic_store(&running, false);
    atomic_store(&sleeping, false);
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&work, NULL);
    pthread_cond_init(&done, NULL);
}
