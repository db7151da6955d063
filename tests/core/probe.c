/* A second native library in the measured process, as the MPI and I/O
 * wrappers will be: preloaded (LD_PRELOAD) before Python starts, it
 * records through the core's public interface (scorep.h) into the same
 * measurement as the Python events: one clock, one set of definitions, one
 * location per thread.  Used by tests/test_shared_core.py. */
#include <pthread.h>
#include <stdio.h>

#include "../../src/core/scorep.h"

static uint32_t work_region = DEFS_NO_ID, step_region = DEFS_NO_ID;
static int calls_before_start = -1;

/* Runs when the library is loaded, before any measurement exists: the
 * interface does nothing then. */
static void __attribute__((constructor)) probe_loaded(void)
{
    calls_before_start = scorep_location_current() == NULL && scorep_measurement_phase() == SCOREP_NOT_STARTED;
}

int probe_loaded_before_start(void) { return calls_before_start; }

static void define_regions(void)
{
    if (work_region == DEFS_NO_ID) {
        work_region = scorep_region_define("probe:work", "probe", __FILE__, __LINE__, REGION_ROLE_FUNCTION,
                                           REGION_PARADIGM_COMPILER);
        step_region = scorep_region_define("probe:step", "probe", __FILE__, __LINE__, REGION_ROLE_FUNCTION,
                                           REGION_PARADIGM_COMPILER);
    }
}

static void steps(scorep_location *loc, int n)
{
    scorep_enter(loc, work_region);
    for (int i = 0; i < n; i++) {
        scorep_enter(loc, step_region);
        scorep_leave(loc, step_region);
    }
    scorep_leave(loc, work_region);
}

/* n steps inside probe:work on the calling thread's location; -1 when no
 * measurement runs. */
int probe_work(int n)
{
    scorep_location *loc = scorep_location_current();
    if (!loc)
        return -1;
    define_regions();
    steps(loc, n);
    return n;
}

static void *thread_main(void *arg)
{
    scorep_location *loc = scorep_location_current();
    if (loc) {
        scorep_location_set_name(loc, "probe thread");
        steps(loc, *(int *)arg);
    }
    return NULL;
}

/* The same on a thread of its own that Python never sees. */
int probe_thread(int n)
{
    if (scorep_measurement_phase() != SCOREP_RUNNING)
        return -1;
    define_regions();
    pthread_t thread;
    if (pthread_create(&thread, NULL, thread_main, &n) != 0)
        return -1;
    pthread_join(thread, NULL);
    return n;
}
