/* What every MPI wrapper shares (wrappers_generated.c, written by
 * generate.py, and the hand-written hooks in wrappers.c). */
#ifndef SCOREP_MPI_CALL_H
#define SCOREP_MPI_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include <mpi.h>

#include "../../core/scorep.h"

/* The wrappers are the library's interface: they take the place of the
 * MPI library's functions (LD_PRELOAD) and call its PMPI_ ones. */
#define SCOREP_MPI_API __attribute__((visibility("default")))

typedef struct {
    const char *name;       /* MPI_Send */
    region_role role;
} mpi_function;

/* One call of a wrapped function. */
typedef struct {
    unsigned function;      /* FN_<name> */
    bool recording;         /* it is recorded: the measurement runs, its region is not filtered, and it is
                             * not called by another MPI function */
    bool nested;            /* called inside another wrapped function: passed on unrecorded */
    scorep_location *loc;
    uint32_t region;
} mpi_call;

/* Around the PMPI_ call: enter and leave the function's region. */
void mpi_enter(mpi_call *call);
void mpi_leave(mpi_call *call);

/* What generated wrappers call themselves (wrappers.c): a collective
 * begins; every member of a new communicator made from parent has it. */
void mpi_collective_begin(mpi_call *call);
void mpi_comm_made(MPI_Comm parent, MPI_Comm comm);

#endif
