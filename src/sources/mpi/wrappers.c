/* The MPI wrapper library, libscorep_mpi.so: python -m scorep --mpp=mpi
 * puts it in LD_PRELOAD, so that its MPI_ functions take the place of the
 * MPI library's for every caller in the process (mpi4py and any C
 * extension alike); each records its region through the measurement core
 * of the process (libscorep_measurement.so, the one the CPython extension
 * records into) and calls the library's PMPI_ function.
 *
 * The wrappers themselves are generated from the library's mpi.h
 * (generate.py); what a function records besides its region is in its
 * hooks below, before_<name>() and after_<name>(). */
#include <mpi.h>
#include <stdatomic.h>
#include <stdio.h>

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
    uint32_t id = DEFS_NO_ID;
    if (!scorep_region_filtered(f->name, ""))
        id = scorep_region_define(f->name, "MPI", "", 0, f->role, REGION_PARADIGM_MPI);
    if (id == DEFS_NO_ID && !scorep_region_filtered(f->name, ""))
        return DEFS_NO_ID;  /* not running, or out of memory: asked again next time */
    atomic_store_explicit(&regions[function], id == DEFS_NO_ID ? FILTERED : id + 1, memory_order_relaxed);
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

/* ---- environment ---- */

static int world_rank = -1;

static void initialised(void)
{
    int flag = 0;
    if (PMPI_Initialized(&flag) == MPI_SUCCESS && flag)
        PMPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
}

void before_Init(mpi_call *call, int *argc, char ***argv)
{
    (void)call, (void)argc, (void)argv;
}

void after_Init(mpi_call *call, int result, int *argc, char ***argv)
{
    (void)call, (void)argc, (void)argv;
    if (result == MPI_SUCCESS)
        initialised();
}

void before_Init_thread(mpi_call *call, int *argc, char ***argv, int required, int *provided)
{
    (void)call, (void)argc, (void)argv, (void)required, (void)provided;
}

void after_Init_thread(mpi_call *call, int result, int *argc, char ***argv, int required, int *provided)
{
    (void)call, (void)argc, (void)argv, (void)required;
    if (result != MPI_SUCCESS)
        return;
    initialised();
    /* as Score-P says it, once (by rank 0): events of several threads in
     * MPI at once are recorded, but the order of a thread's messages to
     * the same peer is only MPI's */
    if (provided && *provided > MPI_THREAD_FUNNELED && world_rank == 0) {
        fprintf(stderr, "[Score-P] %s:%d: Warning: Support for MPI_THREAD_%s is currently experimental!\n",
                __FILE__, __LINE__, *provided == MPI_THREAD_MULTIPLE ? "MULTIPLE" : "SERIALIZED");
        fflush(stderr);
    }
}

void before_Finalize(mpi_call *call)
{
    (void)call;
}

void after_Finalize(mpi_call *call, int result)
{
    (void)call, (void)result;
}

void before_Abort(mpi_call *call, MPI_Comm comm, int errorcode)
{
    (void)call, (void)comm, (void)errorcode;
}

void after_Abort(mpi_call *call, int result, MPI_Comm comm, int errorcode)
{
    (void)call, (void)result, (void)comm, (void)errorcode;
}
