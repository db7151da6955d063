/* Running the program in the launcher's process (python -m scorep). */
#ifndef SCOREP_CPYTHON_PROGRAM_H
#define SCOREP_CPYTHON_PROGRAM_H

#include <stdbool.h>

#include "interpreter.h"

/* run_program(code, globals, kind) or run_program(callable, args, kind),
 * kind "file", "command" or "module": runs it as CPython runs a program
 * (see program.c); returns None when it ended normally, else raises what
 * makes CPython end as after that program. */
PyObject *program_run(PyObject *self, PyObject *args);

#endif
