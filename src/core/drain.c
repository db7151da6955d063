#include "drain.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* drain_defer_when_busy(): while the machine has no CPU to spare (as many
 * runnable threads as this process may use CPUs, the thread itself not
 * counted: a Pool's workers on a small machine) the thread's own passes
 * wait, looking again every DRAIN_BUSY_MS; a pass the program asks for
 * (its buffers fill up) still runs.  A pass on a busy machine takes its
 * time from the program's processes; deferred, it runs once cores are
 * free again, or at the end. */
#define DRAIN_BUSY_MS 4
#define DRAIN_BUSY_HOLD 8
static int busy_hold;  /* the drain thread's own */
static atomic_bool defer_when_busy, deferring;
static atomic_bool pass_replays = true;  /* the pass running now replays */
static int loadavg_fd = -1;
static long usable_cpus;

static long cpus_of_this_process(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? online : 1;
}

/* The kernel's count of runnable threads now (/proc/loadavg, fourth field
 * "running/total"); -1 if unknown. */
static long runnable_threads(void)
{
    if (loadavg_fd < 0)
        return -1;
    char text[128];
    ssize_t n = pread(loadavg_fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    const char *field = text;
    for (int i = 0; i < 3 && field; i++)
        if ((field = strchr(field, ' ')) != NULL)
            field++;
    return field ? strtol(field, NULL, 10) : -1;
}

static bool machine_busy(void)
{
    long runnable = runnable_threads();
    return runnable > 0 && runnable - 1 >= usable_cpus;
}

void drain_defer_when_busy(bool defer)
{
    if (defer && loadavg_fd < 0) {
        usable_cpus = cpus_of_this_process();
        loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    }
    atomic_store(&defer_when_busy, defer && loadavg_fd >= 0);
    if (!atomic_load(&defer_when_busy))
        atomic_store(&deferring, false);
}

bool drain_deferring(void) { return atomic_load_explicit(&deferring, memory_order_relaxed); }

static void *drain_main(void *unused)
{
    (void)unused;

    long period = DRAIN_PERIOD_MS;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        bool asked = atomic_exchange(&pending, false);
        if (!asked) {
            struct timespec ts;
            deadline_in(&ts, atomic_load(&deferring) ? DRAIN_BUSY_MS : period);
            atomic_store(&sleeping, true);
            pthread_cond_timedwait(&work, &lock, &ts);
            atomic_store(&sleeping, false);
            if (stopping)
                break;
            asked = atomic_exchange(&pending, false);
        }
        if (!asked && atomic_load(&defer_when_busy)) {
            /* a look is an instant: a machine seen busy stays so for
             * DRAIN_BUSY_HOLD looks (processes that wait for each other,
             * a Pool's, are runnable by turns) */
            if (machine_busy())
                busy_hold = DRAIN_BUSY_HOLD;
            else if (busy_hold > 0)
                busy_hold--;
            atomic_store(&deferring, busy_hold > 0);
        }
        /* a pass that waits still runs (its hook: a termination signal
         * is answered), it only replays nothing */
        atomic_store(&pass_replays, asked || !atomic_load(&deferring));
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

bool drain_pass_replays(void) { return atomic_load(&pass_replays); }

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

/* A program thread takes the thread's lock with every signal blocked: a
 * termination signal's handler waits for a pass of the thread, which needs
 * this lock (the signal comes once the lock is given back). */
static void lock_from_program(sigset_t *previous)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, previous);
    pthread_mutex_lock(&lock);
}

static void unlock_from_program(const sigset_t *previous)
{
    pthread_mutex_unlock(&lock);
    pthread_sigmask(SIG_SETMASK, previous, NULL);
}

void drain_wake(void)
{
    atomic_store(&pending, true);
    if (atomic_load(&sleeping)) {  /* at worst the thread wakes by its timeout */
        sigset_t previous;
        lock_from_program(&previous);
        pthread_cond_signal(&work);
        unlock_from_program(&previous);
    }
}

void drain_ask_pass(void) { atomic_store(&pending, true); }

bool drain_wait_pass(void)
{
    sigset_t previous;
    lock_from_program(&previous);
    if (!atomic_load(&running)) {
        unlock_from_program(&previous);
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
    unlock_from_program(&previous);
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
