/* The CPython layer's state of one Python thread: its location in the
 * measurement and whether (and where) its program runs. */
#ifndef SCOREP_CPYTHON_THREAD_STATE_H
#define SCOREP_CPYTHON_THREAD_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/scorep.h"
#include "interpreter.h"

typedef struct {
    PyObject_HEAD
    scorep_location *loc;
    /* >0: record nothing: one per nesting of the measurement's own code,
     * plus one while the thread has not reached its program (!started) */
    int suspended;
    bool started;               /* past the thread bootstrap: its program runs */
    bool first_seen;            /* its first Python event has happened */
    /* instrumenters that see every thread: the frame whose enter
     * thread_start() recorded (identity only) and its region */
    void *start_frame;
    uint32_t start_region;
    uint32_t *user_regions;     /* open user regions, for unmatched-exit checks */
    size_t user_depth, user_capacity;
    /* profile and trace instrumenters: the program's own hook in the same
     * slot, called after each event is recorded (see profile_hook.c) */
    PyObject *program_hook;     /* set with sys.setprofile/settrace */
    Py_tracefunc foreign_func;  /* set in C (PyEval_SetProfile, e.g. cProfile) */
    PyObject *foreign_obj;
    uint32_t open_c_region;     /* the C call entered last, while it runs (else UINT32_MAX) */
    /* sys.monitoring: the method definition of the C call entered last and
     * its region, for its C_RETURN (definitions are static: never stale) */
    const void *called_c;
    uint32_t called_c_region;
    bool skip_c_return;         /* the program's hook does not see the return of the call that set it */
    /* the eval instrumenter stops following calls below this address of
     * the thread's C stack (each call it sees takes C stack); NULL unless
     * threads_watch_stack() was called */
    char *stack_floor;
    PyObject *taken_over_at;    /* "file:line" where a C hook replaced ours for good, else NULL */
} thread_state;

extern PyTypeObject thread_state_type;

/* The calling thread's state, made on its first event; NULL when the
 * measurement is not running or memory is short (no Python exception: it
 * is called from inside event callbacks).  initial-exec: a plain %fs-relative load on
 * every event instead of a call to __tls_get_addr (the module is loaded by
 * dlopen, but one pointer fits in the static TLS space glibc keeps). */
extern __thread thread_state *thread_current_state __attribute__((tls_model("initial-exec")));
thread_state *thread_state_new(void);

static inline thread_state *thread_current(void)
{
    thread_state *t = thread_current_state;
    if (__builtin_expect(t != NULL, 1))
        return t;
    return thread_state_new();
}

/* The program's threading.setprofile() (settrace() with the trace
 * instrumenter) hook, which the measurement's own thread-start hook
 * stands in for: new threads get it from their start on.  original_set:
 * CPython's sys.setprofile, for instrumenters that leave the slot free. */
extern PyObject *threads_program_hook;
void threads_set_program_hook(PyObject *func, PyObject *original_set);

/* From now on every thread state knows its stack floor (the eval
 * instrumenter), the calling thread's too. */
void threads_watch_stack(void);

/* Every state made so far (they live until the process ends). */
size_t threads_all(thread_state ***states);

/* A state that records nothing: what the profile hook hands to threads
 * that were running before the measurement, until their first event. */
thread_state *thread_pending_marker(void);
bool thread_is_pending_marker(PyObject *obj);

/* Remember the Python threads running now: they are recorded from their
 * first event (register()), not from a thread start. */
void threads_remember_running(void);

/* For instrumenters that see every thread (sys.monitoring, eval): the
 * first Python frame seen in a thread that has not started.  A thread of
 * the threading module starts later, in thread_start() (its bootstrap is
 * not part of the program); a thread that was already running when the
 * instrumenter came on is not in its outermost frame and is left alone; any
 * other new thread (_thread.start_new_thread, threads of C extensions)
 * starts here.  Returns whether the thread runs its program now. */
bool thread_first_frame(thread_state *t, PyCodeObject *code, PyObject *globals, bool outermost);

/* python -m scorep: the main thread is not started when its state is made
 * but at the first frame of the __main__ module's code (a script, -m
 * module, -c command, stdin): the interpreter's own way there (runpy) is
 * not part of the program. */
void threads_await_main(void);
/* Called with a new frame while the main thread waits for __main__
 * (globals: the frame's, borrowed): true if it starts now. */
bool thread_main_begins(thread_state *t, PyCodeObject *code, PyObject *globals);

/* The thread reached its program (Thread.run): record from now on, under
 * the name the program gave it. */
void thread_starts(thread_state *t);

/* The thread_begins of instrumenters that see every thread: the
 * threading.setprofile() hook that brought us here goes; the enter of the
 * frame it reported (Thread.run) is recorded, and remembered as the
 * thread's start frame. */
int thread_begins_covered(thread_state *t, PyObject *frame, const char *event);

#endif
