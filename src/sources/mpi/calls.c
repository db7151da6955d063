/* The region of each wrapped MPI function, entered and left around its
 * PMPI_ call (mpi_call.h). */
#include <stdatomic.h>

#include "mpi_call.h"
#include "wrappers_generated.h"

/* Region ids by function, defined at a function's first recorded call:
 * id + 1, 0 while not defined, FILTERED when the filter excludes it. */
#define FILTERED UINT32_MAX
static _Atomic uint32_t regions[FN_COUNT];

/* MPI functions an MPI function calls are its own business. */
static __thread unsigned depth;

static uint32_t region_of(unsigned function)
{
    uint32_t known = atomic_load_explicit(&regions[function], memory_order_relaxed);
    if (known == FILTERED)
        return DEFS_NO_ID;
    if (known)
        return known - 1;
    const mpi_function *f = &mpi_functions[function];
    if (scorep_region_filtered(f->name, "")) {
        atomic_store_explicit(&regions[function], FILTERED, memory_order_relaxed);
        return DEFS_NO_ID;
    }
    uint32_t id = scorep_region_define(f->name, "MPI", "", 0, f->role, REGION_PARADIGM_MPI);
    if (id != DEFS_NO_ID)  /* else not running, or out of memory: asked again next time */
        atomic_store_explicit(&regions[function], id + 1, memory_order_relaxed);
    return id;
}

void mpi_enter(mpi_call *call)
{
    call->nested = depth++ > 0;
    call->recording = false;
    if (call->nested || scorep_measurement_phase() != SCOREP_RUNNING)
        return;
    call->loc = scorep_location_current();
    if (!call->loc)
        return;
    call->region = region_of(call->function);
    if (call->region == DEFS_NO_ID)
        return;
    call->recording = true;
    scorep_enter(call->loc, call->region);
}

void mpi_leave(mpi_call *call)
{
    depth--;
    if (call->recording)
        scorep_leave(call->loc, call->region);
}

