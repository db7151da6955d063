/* The profile and trace instrumenters: CPython's profile hook
 * (PyEval_SetProfile: Python and C calls) or trace hook (PyEval_SetTrace:
 * Python calls) turned into enter/leave records.  Each thread has its own
 * hook, installed when the thread starts (thread_begins). */
#include "instrumenter.h"
#include "recording.h"
#include "regions.h"

/* ---- region lookup ---- */

/* A called frame's region, named on its first call. */
static uint32_t frame_region(PyFrameObject *frame)
{
    PyCodeObject *code = frame_code(frame);
    if (__builtin_expect(code_extra(code) != NULL, 1))
        return code_region_cached(code);
    PyObject *globals = frame_globals(frame);
    uint32_t region = regions_name_code(code, globals);
    Py_XDECREF(globals);
    return region;
}

/* A return from code never seen being called: its frame was entered before
 * the instrumenter started, so there is nothing to leave (and no region
 * worth defining). */
static inline uint32_t frame_region_seen(PyFrameObject *frame) { return code_region_cached(frame_code(frame)); }

/* C functions seen before, for the fast path: only exact built-in
 * functions (the type check is one compare), REGION_SKIP otherwise. */
static inline uint32_t cfunction_region_fast(PyObject *func)
{
    uint32_t region;
    if (Py_IS_TYPE(func, &PyCFunction_Type) &&
        ptrmap_get(&regions_c_functions, ((PyCFunctionObject *)func)->m_ml, &region))
        return region;
    return REGION_SKIP;
}

/* ---- the callbacks ---- */

static int profile_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);
static int trace_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);

/* A thread that was running before the measurement started got the pending
 * marker; on its first event it gets its own state. */
static int resolve_pending(PyObject **obj, bool trace)
{
    thread_state *state = thread_current();
    if (!state) {
        /* the measurement has ended: this thread's hook goes too */
        if (trace)
            PyEval_SetTrace(NULL, NULL);
        else
            PyEval_SetProfile(NULL, NULL);
        return -1;
    }
    if (trace)
        PyEval_SetTrace(trace_callback, (PyObject *)state);
    else
        PyEval_SetProfile(profile_callback, (PyObject *)state);
    *obj = (PyObject *)state;
    return 0;
}

/* Everything but the common case: threads not yet set up, the measurement's
 * own work, C functions, first calls, recording off, metrics. */
static __attribute__((noinline)) int callback_full(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg,
                                                   bool trace)
{
    if (__builtin_expect(thread_is_pending_marker(obj), 0) && resolve_pending(&obj, trace) < 0)
        return 0;
    thread_state *thread = (thread_state *)obj;
    if (__builtin_expect(thread->suspended != 0, 0)) {
        if (thread->started || what != PyTrace_CALL)
            return 0;
        PyObject *globals = frame_globals(frame);
        bool begins = thread_main_begins(thread, frame_code(frame), globals);
        Py_XDECREF(globals);
        if (!begins)
            return 0;
    }
    scorep_location *loc = thread->loc;
    uint32_t region;
    switch (what) {
    case PyTrace_CALL:
        region = frame_region(frame);
        if (REGION_RECORDED(region))
            scorep_enter(loc, region);
        break;
    case PyTrace_RETURN:
        region = frame_region_seen(frame);
        if (REGION_RECORDED(region))
            scorep_leave(loc, region);
        break;
    case PyTrace_C_CALL:
        if (!record_c_calls)
            break;
        region = callable_region(arg);
        /* C calls made by the measurement's own Python code are not shown
         * (those made by filtered functions are: filters are per region) */
        if (REGION_RECORDED(region) && frame_region(frame) != REGION_SKIP)
            scorep_enter(loc, region);
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (!record_c_calls)
            break;
        region = callable_region_cached(arg);
        if (REGION_RECORDED(region) && frame_region_seen(frame) != REGION_SKIP)
            scorep_leave(loc, region);
        break;
    default:
        break;
    }
    return 0;
}

/* The common case first, with as little work as possible: a call or return
 * of code seen before (or of a C function, called from code seen before),
 * while recording with the TSC and without metrics.  Everything else goes
 * to callback_full. */
static int profile_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    thread_state *t = (thread_state *)obj;
    switch (what) {
    case PyTrace_CALL:
        if (record_fast(t, EVENT_ENTER, code_region_fast(frame_code(frame))))
            return 0;
        break;
    case PyTrace_RETURN:
        if (record_fast(t, EVENT_LEAVE, code_region_fast(frame_code(frame))))
            return 0;
        break;
    case PyTrace_C_CALL:
        /* the caller's region tells whether it is the measurement's own code */
        if (record_c_calls && code_region_fast(frame_code(frame)) < EVENT_REGION_LIMIT &&
            record_fast(t, EVENT_ENTER, cfunction_region_fast(arg)))
            return 0;
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (record_c_calls && code_region_fast(frame_code(frame)) < EVENT_REGION_LIMIT &&
            record_fast(t, EVENT_LEAVE, cfunction_region_fast(arg)))
            return 0;
        break;
    default:
        return 0;
    }
    return callback_full(obj, frame, what, arg, false);
}

static int trace_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    thread_state *t = (thread_state *)obj;
    if (what == PyTrace_CALL) {
        if (record_fast(t, EVENT_ENTER, code_region_fast(frame_code(frame))))
            return 0;
    } else if (what == PyTrace_RETURN) {
        if (record_fast(t, EVENT_LEAVE, code_region_fast(frame_code(frame))))
            return 0;
    } else {
        return 0;
    }
    return callback_full(obj, frame, what, arg, true);
}

/* ---- the two instrumenters ---- */

static int install(bool trace)
{
    thread_state *state = thread_current();
    if (!state) {
        PyErr_SetString(PyExc_RuntimeError, "scorep: this thread cannot be measured (out of memory)");
        return -1;
    }
    if (trace)
        PyEval_SetTrace(trace_callback, (PyObject *)state);
    else
        PyEval_SetProfile(profile_callback, (PyObject *)state);
    return 0;
}

static int profile_install(void) { return install(false); }
static int trace_install(void) { return install(true); }
static void profile_uninstall(void) { PyEval_SetProfile(NULL, NULL); }
static void trace_uninstall(void) { PyEval_SetTrace(NULL, NULL); }
static bool profile_installed(void) { return PyThreadState_Get()->c_profilefunc == profile_callback; }
static bool trace_installed(void) { return PyThreadState_Get()->c_tracefunc == trace_callback; }

/* Every other thread of the interpreter (threads started before the
 * measurement) gets the hook with the pending marker. */
static void install_other_threads(bool trace)
{
    thread_state *marker = thread_pending_marker();
    if (!marker)
        return;
    Py_tracefunc callback = trace ? trace_callback : profile_callback;
#if PY_VERSION_HEX >= 0x030C0000
    /* every thread, this one included; the caller then gives this thread
     * its own state */
    if (trace)
        PyEval_SetTraceAllThreads(callback, (PyObject *)marker);
    else
        PyEval_SetProfileAllThreads(callback, (PyObject *)marker);
#else
    PyThreadState *self = PyThreadState_Get();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(self);
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts)) {
        if (ts == self)
            continue;
        if (trace)
            _PyEval_SetTrace(ts, callback, (PyObject *)marker);
        else
            _PyEval_SetProfile(ts, callback, (PyObject *)marker);
    }
#endif
}

static void profile_install_other_threads(void) { install_other_threads(false); }
static void trace_install_other_threads(void) { install_other_threads(true); }

/* The thread's own hook replaces thread_start; the event that brought us
 * here belongs to the program: keep it. */
static int thread_begins(thread_state *t, PyObject *frame, const char *event, bool trace)
{
    if (trace)
        PyEval_SetTrace(trace_callback, (PyObject *)t);
    else
        PyEval_SetProfile(profile_callback, (PyObject *)t);
    if (frame && event && strcmp(event, "call") == 0)
        profile_callback((PyObject *)t, (PyFrameObject *)frame, PyTrace_CALL, Py_None);
    return 0;
}

static int profile_thread_begins(thread_state *t, PyObject *frame, const char *event)
{
    return thread_begins(t, frame, event, false);
}

static int trace_thread_begins(thread_state *t, PyObject *frame, const char *event)
{
    return thread_begins(t, frame, event, true);
}

const instrumenter profile_instrumenter = {
    .name = "profile",
    .install = profile_install,
    .uninstall = profile_uninstall,
    .installed = profile_installed,
    .install_other_threads = profile_install_other_threads,
    .thread_begins = profile_thread_begins,
};

const instrumenter trace_instrumenter = {
    .name = "trace",
    .install = trace_install,
    .uninstall = trace_uninstall,
    .installed = trace_installed,
    .install_other_threads = trace_install_other_threads,
    .thread_begins = trace_thread_begins,
};
