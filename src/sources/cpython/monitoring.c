/* The sys.monitoring instrumenter (PEP 669, Python 3.12+): callbacks
 * implemented in C for PY_START/PY_RESUME/PY_THROW (enter),
 * PY_RETURN/PY_YIELD/PY_UNWIND (leave) and CALL/C_RETURN/C_RAISE (C
 * functions).  Code that is not recorded (filtered, or the measurement's
 * own) answers DISABLE, so CPython stops calling us for it. */
#include "instrumenter.h"
#include "recording.h"
#include "regions.h"

#if PY_VERSION_HEX >= 0x030C0000

enum {
    EV_PY_START = 1, EV_PY_RESUME = 2, EV_PY_RETURN = 4, EV_PY_YIELD = 8, EV_CALL = 16,
    EV_PY_UNWIND = 4096, EV_PY_THROW = 8192, EV_C_RETURN = 32768, EV_C_RAISE = 65536,
};

static PyObject *monitoring;   /* the sys.monitoring module */
static PyObject *disable;      /* sys.monitoring.DISABLE */
static int tool_id = -1;
static bool events_on;

/* The region of the code an event is about, named on first sight with the
 * globals of the frame that runs it. */
static inline uint32_t event_code_region(PyObject *code)
{
    void *extra = code_extra((PyCodeObject *)code);
    if (__builtin_expect(extra != NULL, 1))
        return (uint32_t)((uintptr_t)extra - 1);
    PyObject *globals = PyEval_GetGlobals();  /* the starting frame's: borrowed */
    return regions_name_code((PyCodeObject *)code, globals);
}

/* Each callback below is a fast path (record_fast) that records the
 * common case without a stack frame of its own, and a full path, out of
 * line, for everything else. */

/* PY_START, PY_RESUME: (code, offset) */
static __attribute__((noinline)) PyObject *on_enter_full(PyObject *const *args)
{
    if (record_stopped())
        Py_RETURN_NONE;
    thread_state *t = thread_current();
    if (t && !t->started && !t->first_seen) {
        PyFrameObject *frame = PyEval_GetFrame();  /* the starting frame (borrowed) */
        PyFrameObject *back = frame ? PyFrame_GetBack(frame) : NULL;
        thread_first_frame(t, (PyCodeObject *)args[0], frame && !back);
        Py_XDECREF(back);
    }
    if (!t || t->suspended)
        Py_RETURN_NONE;
    uint32_t region = event_code_region(args[0]);
    if (!REGION_RECORDED(region))
        return Py_NewRef(disable);
    scorep_enter(t->loc, region);
    Py_RETURN_NONE;
}

static PyObject *on_enter(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    if (record_fast(thread_current_state, EVENT_ENTER, code_region_fast((PyCodeObject *)args[0])))
        Py_RETURN_NONE;
    return on_enter_full(args);
}

/* PY_RETURN, PY_YIELD: (code, offset, value) */
static __attribute__((noinline)) PyObject *on_leave_full(PyObject *const *args)
{
    thread_state *t = record_thread();
    if (!t)
        Py_RETURN_NONE;
    uint32_t region = code_region_cached((PyCodeObject *)args[0]);
    if (!REGION_RECORDED(region))
        return Py_NewRef(disable);
    scorep_leave(t->loc, region);
    Py_RETURN_NONE;
}

static PyObject *on_leave(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    if (record_fast(thread_current_state, EVENT_LEAVE, code_region_fast((PyCodeObject *)args[0])))
        Py_RETURN_NONE;
    return on_leave_full(args);
}

/* PY_THROW (enter) and PY_UNWIND (leave) cannot be disabled. */
static PyObject *on_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    thread_state *t = record_thread();
    if (!t)
        Py_RETURN_NONE;
    uint32_t region = event_code_region(args[0]);
    if (REGION_RECORDED(region))
        scorep_enter(t->loc, region);
    Py_RETURN_NONE;
}

static PyObject *on_unwind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    uint32_t region = code_region_cached((PyCodeObject *)args[0]);
    thread_state *t = record_thread();
    if (t && REGION_RECORDED(region))
        scorep_leave(t->loc, region);
    Py_RETURN_NONE;
}

/* CALL: (code, offset, callable, arg0).  Only calls of C functions and
 * method descriptors are regions; a call site that calls anything else, or
 * that belongs to the measurement's own code, is disabled.  (The fast path
 * takes only call sites in code that is recorded itself.) */
static __attribute__((noinline)) PyObject *on_call_full(PyObject *const *args)
{
    thread_state *t = record_thread();
    if (!t)
        Py_RETURN_NONE;
    uint32_t region = callable_region(args[2]);
    if (!REGION_RECORDED(region) || event_code_region(args[0]) == REGION_SKIP)
        return Py_NewRef(disable);
    scorep_enter(t->loc, region);
    Py_RETURN_NONE;
}

static PyObject *on_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    if (code_region_fast((PyCodeObject *)args[0]) < EVENT_REGION_LIMIT &&
        record_fast(thread_current_state, EVENT_ENTER, callable_region_cached(args[2])))
        Py_RETURN_NONE;
    return on_call_full(args);
}

/* C_RETURN, C_RAISE: (code, offset, callable, arg0) */
static __attribute__((noinline)) PyObject *on_c_return_full(PyObject *const *args)
{
    uint32_t region = callable_region_cached(args[2]);
    thread_state *t = record_thread();
    if (t && REGION_RECORDED(region))
        scorep_leave(t->loc, region);
    Py_RETURN_NONE;
}

static PyObject *on_c_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    if (record_fast(thread_current_state, EVENT_LEAVE, callable_region_cached(args[2])))
        Py_RETURN_NONE;
    return on_c_return_full(args);
}

static PyMethodDef callbacks[] = {
    {"_scorep_enter", (PyCFunction)(void (*)(void))on_enter, METH_FASTCALL, NULL},
    {"_scorep_leave", (PyCFunction)(void (*)(void))on_leave, METH_FASTCALL, NULL},
    {"_scorep_throw", (PyCFunction)(void (*)(void))on_throw, METH_FASTCALL, NULL},
    {"_scorep_unwind", (PyCFunction)(void (*)(void))on_unwind, METH_FASTCALL, NULL},
    {"_scorep_call", (PyCFunction)(void (*)(void))on_call, METH_FASTCALL, NULL},
    {"_scorep_c_return", (PyCFunction)(void (*)(void))on_c_return, METH_FASTCALL, NULL},
};

static const struct {
    int event;
    int callback;
} registrations[] = {
    {EV_PY_START, 0}, {EV_PY_RESUME, 0}, {EV_PY_RETURN, 1}, {EV_PY_YIELD, 1}, {EV_PY_THROW, 2},
    {EV_PY_UNWIND, 3}, {EV_CALL, 4}, {EV_C_RETURN, 5}, {EV_C_RAISE, 5},
};

static int event_mask(void)
{
    int mask = EV_PY_START | EV_PY_RESUME | EV_PY_RETURN | EV_PY_YIELD | EV_PY_THROW | EV_PY_UNWIND;
    if (record_c_calls)
        mask |= EV_CALL | EV_C_RETURN | EV_C_RAISE;
    return mask;
}

/* Claim a tool id and register the callbacks (once). */
static int monitoring_setup(void)
{
    if (tool_id >= 0)
        return 0;
    PyObject *sys = PyImport_ImportModule("sys");
    if (!sys)
        return -1;
    monitoring = PyObject_GetAttrString(sys, "monitoring");
    Py_DECREF(sys);
    if (!monitoring)
        return -1;
    disable = PyObject_GetAttrString(monitoring, "DISABLE");
    if (!disable)
        return -1;
    /* the profiler id, else any free one */
    static const int candidates[] = {2, 3, 4, 5, 1};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && tool_id < 0; i++) {
        PyObject *r = PyObject_CallMethod(monitoring, "use_tool_id", "is", candidates[i], "scorep");
        if (r) {
            Py_DECREF(r);
            tool_id = candidates[i];
        } else {
            PyErr_Clear();
        }
    }
    if (tool_id < 0) {
        PyErr_SetString(PyExc_RuntimeError, "sys.monitoring has no free tool id for scorep");
        return -1;
    }
    for (size_t i = 0; i < sizeof registrations / sizeof registrations[0]; i++) {
        PyObject *fn = PyCFunction_New(&callbacks[registrations[i].callback], NULL);
        if (!fn)
            return -1;
        PyObject *r = PyObject_CallMethod(monitoring, "register_callback", "iiO", tool_id, registrations[i].event, fn);
        Py_DECREF(fn);
        if (!r)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

static int monitoring_install(void)
{
    if (!thread_current()) {
        PyErr_SetString(PyExc_RuntimeError, "scorep: this thread cannot be measured (out of memory)");
        return -1;
    }
    if (monitoring_setup() < 0)
        return -1;
    /* code disabled while the instrumenter was off may be wanted again */
    if (!events_on) {
        PyObject *r = PyObject_CallMethod(monitoring, "restart_events", NULL);
        if (!r)
            return -1;
        Py_DECREF(r);
    }
    PyObject *r = PyObject_CallMethod(monitoring, "set_events", "ii", tool_id, event_mask());
    if (!r)
        return -1;
    Py_DECREF(r);
    events_on = true;
    return 0;
}

static void monitoring_uninstall(void)
{
    if (tool_id < 0 || !events_on)
        return;
    PyObject *r = PyObject_CallMethod(monitoring, "set_events", "ii", tool_id, 0);
    if (r)
        Py_DECREF(r);
    else
        PyErr_Clear();
    events_on = false;
}

static bool monitoring_installed(void) { return events_on; }


bool monitoring_available(void) { return true; }

const instrumenter monitoring_instrumenter = {
    .name = "monitoring",
    .install = monitoring_install,
    .uninstall = monitoring_uninstall,
    .installed = monitoring_installed,
    .thread_begins = thread_begins_covered,
};

#else

bool monitoring_available(void) { return false; }

static int unavailable(void)
{
    PyErr_SetString(PyExc_RuntimeError, "the sys.monitoring instrumenter needs Python 3.12 or newer");
    return -1;
}

const instrumenter monitoring_instrumenter = {.name = "monitoring", .install = unavailable};

#endif
