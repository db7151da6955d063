/* The region of each wrapped MPI function, entered and left around its
 * PMPI_ call (mpi_call.h). */
#include <stdatomic.h>

#include "mpi_call.h"
#include "wrappers_generated.h"

/* Region ids by function, defined at a function's first recorded call
 * (scorep_wrapped_region). */
static _Atomic uint32_t regions[FN_COUNT];

/* MPI functions an MPI function calls are its own business. */
static __thread unsigned depth;

static uint32_t region_of(unsigned function)
{
    const mpi_function *f = &mpi_functions[function];
    return scorep_wrapped_region(&regions[function], f->name, "MPI", f->role, REGION_PARADIGM_MPI);
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

