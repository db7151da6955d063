/* Clock offsets of the ranks to rank 0 (clocks.c), measured in MPI_Init
 * and MPI_Finalize. */
#ifndef SCOREP_MPI_CLOCKS_H
#define SCOREP_MPI_CLOCKS_H

#include "../../core/scorep.h"

/* In MPI_Init or MPI_Init_thread, after the library's (every rank calls it). */
void mpi_clocks_init(int world_rank, int world_size);

/* In MPI_Finalize, before the library's (every rank calls it). */
void mpi_clocks_finalize(void);

#endif
