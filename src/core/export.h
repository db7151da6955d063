/* The measurement core is one shared library per process
 * (libscorep_measurement.so) that the CPython extension and the MPI and
 * I/O wrapper libraries all link: everything in it is hidden except what
 * is marked SCOREP_API, the public interface in scorep.h.  Exported names
 * start with scorep_, so that a library preloaded into any program cannot
 * clash with the program's own symbols. */
#ifndef SCOREP_CORE_EXPORT_H
#define SCOREP_CORE_EXPORT_H

#define SCOREP_API __attribute__((visibility("default")))

#endif
