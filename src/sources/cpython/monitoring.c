/* The sys.monitoring instrumenter (PEP 669, Python 3.12+): callbacks
 * implemented in C for PY_START/PY_RESUME/PY_THROW (enter),
 * PY_RETURN/PY_YIELD/PY_UNWIND (leave) and CALL/C_RETURN/C_RAISE (C
 * functions).  Code that is not recorded (filtered, or the measurement's
 * own) answers DISABLE, so CPython stops calling us for it.  The tool id is
 * one CPython reserves for no kind of tool, so cProfile, coverage.py and
 * debuggers keep theirs. */
#include "instrumenter.h"
#include "recording.h"
#include "regions.h"

#if PY_VERSION_HEX >= 0x030C0000

/* Event numbers as this interpreter defines them (sys.monitoring.events,
 * read at set-up: they differ between versions, e.g. on 3.14). */
static int EV_PY_START, EV_PY_RESUME, EV_PY_RETURN, EV_PY_YIELD, EV_CALL, EV_PY_UNWIND, EV_PY_THROW,
    EV_C_RETURN, EV_C_RAISE;

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
    if (t && !t->started) {
        PyFrameObject *frame = PyEval_GetFrame();  /* the starting frame (borrowed) */
        PyFrameObject *back = frame ? PyFrame_GetBack(frame) : NULL;
        thread_first_frame(t, (PyCodeObject *)args[0], PyEval_GetGlobals(), frame && !back);
        Py_XDECREF(back);
    }
    if (!t || t->suspended)
        Py_RETURN_NONE;
    uint32_t region = event_code_region(args[0]);
    if (filtered_extent(region)) {
        scorep_filtered_enter();
        Py_RETURN_NONE;
    }
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
    if (!code_extra((PyCodeObject *)args[0]))
        Py_RETURN_NONE;  /* not named yet: its frame began before the program did, it may be called later */
    uint32_t region = code_region_cached((PyCodeObject *)args[0]);
    if (filtered_extent(region)) {
        scorep_filtered_leave();
        Py_RETURN_NONE;
    }
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
    else if (filtered_extent(region))
        scorep_filtered_enter();
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
    else if (t && filtered_extent(region))
        scorep_filtered_leave();
    Py_RETURN_NONE;
}

/* CALL: (code, offset, callable, arg0).  Calls of C functions and method
 * descriptors are regions.  A call site is disabled only in the
 * measurement's own code: anywhere else the same site may call a Python
 * function now and a C function next time (for fn in (f, len): fn(x)), so
 * other calls are answered with None, as cheaply as possible.  (The fast
 * path takes only call sites in code that is recorded itself.) */
static __attribute__((noinline)) PyObject *on_call_full(PyObject *const *args)
{
    thread_state *t = record_thread();
    if (!t)
        Py_RETURN_NONE;
    if (event_code_region(args[0]) == REGION_SKIP)
        return Py_NewRef(disable);
    uint32_t region = callable_region(args[2]);
    if (REGION_RECORDED(region))
        scorep_enter(t->loc, region);
    else if (filtered_extent(region))
        scorep_filtered_enter();
    Py_RETURN_NONE;
}

static PyObject *on_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    PyObject *callable = args[2];
    /* the common calls that are no C function: one compare each */
    if (Py_IS_TYPE(callable, &PyFunction_Type) || Py_IS_TYPE(callable, &PyMethod_Type))
        Py_RETURN_NONE;
    /* classes and other callable objects are no C function: no region */
    const PyMethodDef *def = callable_method_def(callable);
    if (!def)
        Py_RETURN_NONE;
    thread_state *t = thread_current_state;
    if (code_region_fast((PyCodeObject *)args[0]) < EVENT_REGION_LIMIT) {
        uint32_t region = method_def_region_cached(def);
        if (record_fast(t, EVENT_ENTER, region)) {
            t->called_c = def;
            t->called_c_region = region;
            Py_RETURN_NONE;
        }
    }
    return on_call_full(args);
}

/* C_RETURN, C_RAISE: (code, offset, callable, arg0) */
static __attribute__((noinline)) PyObject *on_c_return_full(PyObject *const *args)
{
    uint32_t region = callable_region_cached(args[2]);
    thread_state *t = record_thread();
    if (t && REGION_RECORDED(region))
        scorep_leave(t->loc, region);
    else if (t && filtered_extent(region))
        scorep_filtered_leave();
    Py_RETURN_NONE;
}

static PyObject *on_c_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)nargs;
    thread_state *t = thread_current_state;
    /* mostly the C function entered last returns: its region is known */
    const PyMethodDef *def = callable_method_def(args[2]);
    if (!def)
        Py_RETURN_NONE;  /* the return of a class or callable object: no region */
    uint32_t region = t && t->called_c == def ? t->called_c_region : method_def_region_cached(def);
    if (record_fast(t, EVENT_LEAVE, region))
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
    int *event;
    const char *name;
    int callback;
} registrations[] = {
    {&EV_PY_START, "PY_START", 0},   {&EV_PY_RESUME, "PY_RESUME", 0}, {&EV_PY_RETURN, "PY_RETURN", 1},
    {&EV_PY_YIELD, "PY_YIELD", 1},   {&EV_PY_THROW, "PY_THROW", 2},   {&EV_PY_UNWIND, "PY_UNWIND", 3},
    {&EV_CALL, "CALL", 4},           {&EV_C_RETURN, "C_RETURN", 5},   {&EV_C_RAISE, "C_RAISE", 5},
};

/* The event numbers from sys.monitoring.events. */
static int read_event_numbers(void)
{
    PyObject *events = PyObject_GetAttrString(monitoring, "events");
    if (!events)
        return -1;
    for (size_t i = 0; i < sizeof registrations / sizeof registrations[0]; i++) {
        PyObject *value = PyObject_GetAttrString(events, registrations[i].name);
        long number = value ? PyLong_AsLong(value) : -1;
        Py_XDECREF(value);
        if (number <= 0 || number > INT_MAX) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_RuntimeError, "sys.monitoring.events.%s is not an event number",
                             registrations[i].name);
            Py_DECREF(events);
            return -1;
        }
        *registrations[i].event = (int)number;
    }
    Py_DECREF(events);
    return 0;
}

/* The tool ids CPython leaves to tools other than debuggers, coverage,
 * profilers and optimizers (sys.monitoring.DEBUGGER_ID etc.): a program
 * that uses cProfile, coverage.py or pdb keeps them. */
static int claim_tool_id(void)
{
    static const char *const reserved_names[] = {"DEBUGGER_ID", "COVERAGE_ID", "PROFILER_ID", "OPTIMIZER_ID"};
    bool reserved[6] = {false};
    for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++) {
        PyObject *value = PyObject_GetAttrString(monitoring, reserved_names[i]);
        long id = value ? PyLong_AsLong(value) : -1;
        Py_XDECREF(value);
        PyErr_Clear();
        if (id >= 0 && id < 6)
            reserved[id] = true;
    }
    char taken[160] = "";
    for (int id = 0; id < 6; id++) {
        if (reserved[id])
            continue;
        PyObject *r = PyObject_CallMethod(monitoring, "use_tool_id", "is", id, "scorep");
        if (r) {
            Py_DECREF(r);
            return id;
        }
        PyErr_Clear();
        PyObject *owner = PyObject_CallMethod(monitoring, "get_tool", "i", id);
        PyObject *text = owner ? PyObject_Repr(owner) : NULL;
        const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
        size_t used = strlen(taken);
        snprintf(taken + used, sizeof taken - used, "%s%d (%s)", used ? ", " : "", id, utf8 ? utf8 : "?");
        Py_XDECREF(text);
        Py_XDECREF(owner);
        PyErr_Clear();
    }
    PyErr_Format(PyExc_RuntimeError,
                 "every sys.monitoring tool id free for other tools is in use (%s): "
                 "measure with --instrumenter-type=profile instead", taken);
    return -1;
}

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
    if (read_event_numbers() < 0)
        return -1;
    tool_id = claim_tool_id();
    if (tool_id < 0)
        return -1;
    for (size_t i = 0; i < sizeof registrations / sizeof registrations[0]; i++) {
        PyObject *fn = PyCFunction_New(&callbacks[registrations[i].callback], NULL);
        if (!fn)
            return -1;
        PyObject *r = PyObject_CallMethod(monitoring, "register_callback", "iiO", tool_id, *registrations[i].event, fn);
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
