/* The instrumenters: how Python calls become enter and leave events.  Each
 * one implements this interface in its own file; module.c selects one
 * (--instrumenter-type) and works through it alone. */
#ifndef SCOREP_CPYTHON_INSTRUMENTER_H
#define SCOREP_CPYTHON_INSTRUMENTER_H

#include <stdbool.h>

#include "thread_state.h"

typedef struct instrumenter {
    const char *name;
    /* In the calling thread, or in every thread of the interpreter at once
     * (sys.monitoring, eval); 0, or -1 with a Python exception. */
    int (*install)(void);
    void (*uninstall)(void);
    bool (*installed)(void);
    /* threads already running (register()): from their next event on;
     * NULL where install() covers every thread */
    void (*install_other_threads)(void);
    /* A new thread of the threading module reached its program: the
     * threading.setprofile()/settrace() target (thread_start) was called
     * with (frame, event, arg) for it.  Returns 0, or -1 with an exception. */
    int (*thread_begins)(thread_state *t, PyObject *frame, const char *event);
    /* Instrumenters that use the profile or trace slot of a thread, which
     * programs use too (sys.setprofile, cProfile, pdb): the program's own
     * hook runs after ours, exactly as it would alone.
     * program_hook_set: sys.setprofile()/settrace() of the program (None
     * removes it), 0 or -1 with an exception; program_hook: what
     * sys.getprofile()/gettrace() says, a new reference; thread_hook: the
     * program's threading.setprofile()/settrace() value for new threads;
     * foreign_change: code in C is about to replace the hook of the calling
     * thread (an audit event).  NULL for other instrumenters. */
    int (*program_hook_set)(PyObject *func);
    PyObject *(*program_hook)(void);
    /* CPython's sys.setprofile/getprofile (settrace/gettrace), for threads
     * the measurement does not hook */
    void (*program_hook_originals)(PyObject *set, PyObject *get);
    void (*foreign_change)(void);
    /* at the end: one warning per thread whose hook a C profiler took */
    void (*report)(void);
} instrumenter;

/* Incremented while the measurement itself sets a profile or trace hook
 * (so that its audit event is not taken for the program's). */
extern int own_hook_changes;
#define OWN_HOOK_CHANGE(statement) \
    do {                           \
        own_hook_changes++;        \
        statement;                 \
        own_hook_changes--;        \
    } while (0)

extern const instrumenter profile_instrumenter;     /* PyEval_SetProfile: Python and C calls */
extern const instrumenter trace_instrumenter;       /* PyEval_SetTrace: Python calls */
extern const instrumenter monitoring_instrumenter;  /* sys.monitoring, 3.12+ */
extern const instrumenter eval_instrumenter;        /* PEP 523 frame evaluation, 3.9-3.11 */
extern const instrumenter dummy_instrumenter;       /* records nothing */

/* Whether an instrumenter is built for this interpreter. */
bool monitoring_available(void);
bool eval_available(void);

#endif
