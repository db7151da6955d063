/* The profile and trace instrumenters: CPython's profile hook
 * (PyEval_SetProfile: Python and C calls) or trace hook (PyEval_SetTrace:
 * Python calls) turned into enter/leave records.  Each thread has its own
 * hook, installed when the thread starts (thread_begins).
 *
 * Programs use the same slot (sys.setprofile, cProfile, pdb, coverage).
 * The measurement keeps it and calls the program's hook after recording
 * each event, as CPython would have called it alone: sys.setprofile(),
 * sys.getprofile() and threading.setprofile() of the program go through
 * program_hook_set() and friends, and a hook that code in C sets directly
 * (cProfile before 3.12) is taken over in the main thread right after it
 * was set (an audit event, then a pending call), and called from ours. */
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
static int profile_chained(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);
static int trace_chained(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg);

static bool chained(const thread_state *t) { return t->program_hook || t->foreign_func; }

/* The calling thread's profile (trace) slot. */
static void read_slot(bool trace, Py_tracefunc *func, PyObject **obj)
{
    PyThreadState *ts = PyThreadState_Get();
    *func = trace ? ts->c_tracefunc : ts->c_profilefunc;
    *obj = trace ? ts->c_traceobj : ts->c_profileobj;
}

static void set_slot(bool trace, Py_tracefunc func, PyObject *obj)
{
    if (trace)
        OWN_HOOK_CHANGE(PyEval_SetTrace(func, obj));
    else
        OWN_HOOK_CHANGE(PyEval_SetProfile(func, obj));
}

/* Our hook for the thread, calling the program's after it if it has one. */
static void set_hook(thread_state *t, bool trace)
{
    if (trace)
        set_slot(true, chained(t) ? trace_chained : trace_callback, (PyObject *)t);
    else
        set_slot(false, chained(t) ? profile_chained : profile_callback, (PyObject *)t);
}

/* A thread that was running before the measurement started got the pending
 * marker; on its first event it gets its own state. */
static int resolve_pending(PyObject **obj, bool trace)
{
    thread_state *state = thread_current();
    if (!state) {
        /* the measurement has ended: this thread's hook goes too */
        set_slot(trace, NULL, NULL);
        return -1;
    }
    set_hook(state, trace);
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
        else if (filtered_extent(region))
            scorep_filtered_enter();
        break;
    case PyTrace_RETURN:
        region = frame_region_seen(frame);
        if (REGION_RECORDED(region))
            scorep_leave(loc, region);
        else if (filtered_extent(region))
            scorep_filtered_leave();
        break;
    case PyTrace_C_CALL:
        if (!record_c_calls)
            break;
        region = callable_region(arg);
        /* C calls made by the measurement's own Python code are not shown
         * (those made by filtered functions are: filters are per region) */
        if (REGION_RECORDED(region) && frame_region(frame) != REGION_SKIP) {
            scorep_enter(loc, region);
            thread->open_c_region = region;
        } else if (filtered_extent(region) && frame_region(frame) != REGION_SKIP) {
            scorep_filtered_enter();
        }
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (!record_c_calls)
            break;
        region = callable_region_cached(arg);
        thread->open_c_region = UINT32_MAX;
        if (REGION_RECORDED(region) && frame_region_seen(frame) != REGION_SKIP)
            scorep_leave(loc, region);
        else if (filtered_extent(region) && frame_region_seen(frame) != REGION_SKIP)
            scorep_filtered_leave();
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
        if (record_c_calls && code_region_fast(frame_code(frame)) < EVENT_REGION_LIMIT) {
            uint32_t region = cfunction_region_fast(arg);
            if (record_fast(t, EVENT_ENTER, region)) {
                t->open_c_region = region;
                return 0;
            }
        }
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (record_c_calls && code_region_fast(frame_code(frame)) < EVENT_REGION_LIMIT &&
            record_fast(t, EVENT_LEAVE, cfunction_region_fast(arg))) {
            t->open_c_region = UINT32_MAX;
            return 0;
        }
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

/* ---- the program's own hook ---- */

static PyObject *event_names[8];  /* "call", "exception", ... as CPython passes them */

static bool event_names_ready(void)
{
    static const char *const names[8] = {"call", "exception", "line", "return",
                                         "c_call", "c_exception", "c_return", "opcode"};
    for (int i = 0; i < 8; i++)
        if (!event_names[i] && !(event_names[i] = PyUnicode_InternFromString(names[i])))
            return false;
    return true;
}

/* Call the program's Python hook for one event as CPython's own trampoline
 * does (for the trace slot: the frame's local trace function after "call",
 * and what the hook returns becomes it); an exception in it removes it and
 * propagates (-1). */
static int call_program_hook(thread_state *t, PyFrameObject *frame, int what, PyObject *arg, bool trace)
{
    if (what < 0 || what > 7 || !event_names_ready())
        return 0;
    PyObject *callback;
    if (!trace || what == PyTrace_CALL) {
        callback = Py_NewRef(t->program_hook);
    } else {
        callback = PyObject_GetAttrString((PyObject *)frame, "f_trace");
        if (!callback)
            return -1;
        if (callback == Py_None) {
            Py_DECREF(callback);
            return 0;
        }
    }
#if PY_VERSION_HEX < 0x030D0000
    if (PyFrame_FastToLocalsWithError(frame) < 0) {
        Py_DECREF(callback);
        return -1;
    }
#endif
    PyObject *result = PyObject_CallFunctionObjArgs(callback, (PyObject *)frame, event_names[what], arg ? arg : Py_None,
                                                    NULL);
#if PY_VERSION_HEX < 0x030D0000
    PyFrame_LocalsToFast(frame, 1);
#endif
    Py_DECREF(callback);
    if (!result) {
        Py_CLEAR(t->program_hook);
        if (trace) {
            PyObject *exc_type, *exc_value, *exc_tb;
            PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
            if (PyObject_SetAttrString((PyObject *)frame, "f_trace", Py_None) < 0)
                PyErr_Clear();
            PyErr_Restore(exc_type, exc_value, exc_tb);
        }
        set_hook(t, trace);
        return -1;
    }
    if (trace && result != Py_None && PyObject_SetAttrString((PyObject *)frame, "f_trace", result) < 0) {
        Py_DECREF(result);
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

static int call_program(thread_state *t, PyFrameObject *frame, int what, PyObject *arg, bool trace)
{
    if (t->skip_c_return && (what == PyTrace_C_RETURN || what == PyTrace_C_EXCEPTION)) {
        /* without us, no hook was set when sys.setprofile() was called */
        t->skip_c_return = false;
        return 0;
    }
    t->skip_c_return = false;
    if (t->foreign_func)
        return t->foreign_func(t->foreign_obj, frame, what, arg);
    if (t->program_hook)
        return call_program_hook(t, frame, what, arg, trace);
    return 0;
}

static int profile_chained(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    profile_callback(obj, frame, what, arg);
    return call_program((thread_state *)obj, frame, what, arg, false);
}

static int trace_chained(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    trace_callback(obj, frame, what, arg);
    return call_program((thread_state *)obj, frame, what, arg, true);
}

static bool is_ours(Py_tracefunc func)
{
    return func == profile_callback || func == profile_chained || func == trace_callback || func == trace_chained;
}

/* The calling thread's state if our hook (trace: the trace one) is in its
 * slot now. */
static thread_state *hooked_thread(bool trace)
{
    Py_tracefunc func;
    PyObject *obj;
    read_slot(trace, &func, &obj);
    if (!is_ours(func) || thread_is_pending_marker(obj))
        return NULL;
    return (thread_state *)obj;
}

static void clear_program(thread_state *t)
{
    Py_CLEAR(t->program_hook);
    t->foreign_func = NULL;
    Py_CLEAR(t->foreign_obj);
}

static PyObject *original_set[2], *original_get[2];  /* [trace] */

static void originals(bool trace, PyObject *set, PyObject *get)
{
    Py_XSETREF(original_set[trace], Py_NewRef(set));
    Py_XSETREF(original_get[trace], Py_NewRef(get));
}

static int program_hook_set(bool trace, PyObject *func)
{
    thread_state *t = hooked_thread(trace);
    if (!t) {
        /* not measuring in this thread: CPython's own */
        PyObject *r = original_set[trace] ? PyObject_CallOneArg(original_set[trace], func) : NULL;
        if (!r)
            return -1;
        Py_DECREF(r);
        return 0;
    }
    if (PySys_Audit(trace ? "sys.settrace" : "sys.setprofile", NULL) < 0)
        return -1;
    bool had_hook = chained(t);
    clear_program(t);
    if (func != Py_None)
        t->program_hook = Py_NewRef(func);
    t->skip_c_return = !had_hook && t->program_hook;
    set_hook(t, trace);
    return 0;
}

static PyObject *program_hook_get(bool trace)
{
    thread_state *t = hooked_thread(trace);
    if (!t)
        return original_get[trace] ? PyObject_CallNoArgs(original_get[trace]) : NULL;
    if (t->foreign_func)
        return Py_NewRef(t->foreign_obj ? t->foreign_obj : Py_None);
    return Py_NewRef(t->program_hook ? t->program_hook : Py_None);
}

/* A hook in the calling thread's slot that is not ours (one the program
 * set before ours, e.g. before register(), or one code in C set since)
 * becomes the program's, called after ours.  The thread-start hook of the
 * measurement is no program's. */
static bool is_thread_start(PyObject *obj)
{
    return obj && PyCFunction_Check(obj) && strcmp(((PyCFunctionObject *)obj)->m_ml->ml_name, "thread_start") == 0;
}

static void adopt_current(thread_state *t, bool trace)
{
    Py_tracefunc func;
    PyObject *obj;
    read_slot(trace, &func, &obj);
    if (!func || is_ours(func) || is_thread_start(obj))
        return;
    clear_program(t);
    t->foreign_func = func;
    t->foreign_obj = Py_XNewRef(obj);
}

/* A hook set in C replaces ours in this thread (cProfile before 3.12):
 * the C call that sets it is left now (its return goes to the new hook),
 * and in the main thread the new hook is taken over at the next
 * opportunity; elsewhere the thread is reported at the end. */
static bool take_over_pending;

/* Pending calls run in the main thread. */
static bool is_main_thread(void)
{
    static unsigned long main_ident;
    if (!main_ident) {
        PyObject *exc_type, *exc_value, *exc_tb;
        PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
        PyObject *threading = PyImport_ImportModule("threading");
        PyObject *main = threading ? PyObject_CallMethod(threading, "main_thread", NULL) : NULL;
        PyObject *ident = main ? PyObject_GetAttrString(main, "ident") : NULL;
        main_ident = ident && PyLong_Check(ident) ? PyLong_AsUnsignedLong(ident) : 0;
        Py_XDECREF(ident);
        Py_XDECREF(main);
        Py_XDECREF(threading);
        PyErr_Clear();
        PyErr_Restore(exc_type, exc_value, exc_tb);
    }
    return main_ident && PyThread_get_thread_ident() == main_ident;
}

static void note_taken_over(thread_state *t)
{
    if (t->taken_over_at)
        return;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyFrameObject *frame = PyEval_GetFrame();
    if (frame) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        t->taken_over_at = PyUnicode_FromFormat("%U:%d", code->co_filename, PyFrame_GetLineNumber(frame));
        Py_DECREF(code);
    }
    if (!t->taken_over_at)
        t->taken_over_at = PyUnicode_FromString("?");
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

static int take_over(void *arg)
{
    bool trace = arg != NULL;
    take_over_pending = false;
    thread_state *t = thread_current_state;
    Py_tracefunc func;
    PyObject *obj;
    read_slot(trace, &func, &obj);
    if (!t || record_stopped() || is_ours(func))
        return 0;
    clear_program(t);  /* a hook set to NULL leaves ours alone */
    adopt_current(t, trace);
    set_hook(t, trace);
    return 0;
}

static void foreign_change(bool trace)
{
    if (own_hook_changes || record_stopped())
        return;
    thread_state *t = hooked_thread(trace);
    if (!t)
        return;
    if (!trace && t->open_c_region != UINT32_MAX) {
        scorep_leave(t->loc, t->open_c_region);
        t->open_c_region = UINT32_MAX;
    }
    if (take_over_pending)
        return;
    if (is_main_thread() && Py_AddPendingCall(take_over, trace ? (void *)1 : NULL) == 0)
        take_over_pending = true;
    else
        note_taken_over(t);
}

/* ---- the two instrumenters ---- */

static int install(bool trace)
{
    thread_state *state = thread_current();
    if (!state) {
        PyErr_SetString(PyExc_RuntimeError, "scorep: this thread cannot be measured (out of memory)");
        return -1;
    }
    adopt_current(state, trace);
    set_hook(state, trace);
    return 0;
}

/* The program's hook, if any, stays when ours goes. */
static void uninstall(bool trace)
{
    thread_state *t = hooked_thread(trace);
    if (!t) {
        set_slot(trace, NULL, NULL);
        return;
    }
    Py_tracefunc func = t->foreign_func;
    PyObject *obj = Py_XNewRef(t->foreign_obj), *program = Py_XNewRef(t->program_hook);
    clear_program(t);
    set_slot(trace, func, obj);
    if (program && original_set[trace]) {
        PyObject *r = PyObject_CallOneArg(original_set[trace], program);
        if (r)
            Py_DECREF(r);
        else
            PyErr_Clear();
    }
    Py_XDECREF(obj);
    Py_XDECREF(program);
}

static int profile_install(void) { return install(false); }
static int trace_install(void) { return install(true); }
static void profile_uninstall(void) { uninstall(false); }
static void trace_uninstall(void) { uninstall(true); }
static bool profile_installed(void) { return is_ours(PyThreadState_Get()->c_profilefunc); }
static bool trace_installed(void) { return is_ours(PyThreadState_Get()->c_tracefunc); }

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
        OWN_HOOK_CHANGE(PyEval_SetTraceAllThreads(callback, (PyObject *)marker));
    else
        OWN_HOOK_CHANGE(PyEval_SetProfileAllThreads(callback, (PyObject *)marker));
#else
    PyThreadState *self = PyThreadState_Get();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(self);
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts)) {
        if (ts == self)
            continue;
        if (trace)
            OWN_HOOK_CHANGE(_PyEval_SetTrace(ts, callback, (PyObject *)marker));
        else
            OWN_HOOK_CHANGE(_PyEval_SetProfile(ts, callback, (PyObject *)marker));
    }
#endif
}

static void profile_install_other_threads(void) { install_other_threads(false); }
static void trace_install_other_threads(void) { install_other_threads(true); }

/* The thread's own hook replaces thread_start (with the program's
 * threading.setprofile() hook after it); the event that brought us here
 * belongs to the program: keep it. */
static int thread_begins(thread_state *t, PyObject *frame, const char *event, bool trace)
{
    clear_program(t);
    if (threads_program_hook)
        t->program_hook = Py_NewRef(threads_program_hook);
    set_hook(t, trace);
    if (frame && event && strcmp(event, "call") == 0) {
        profile_callback((PyObject *)t, (PyFrameObject *)frame, PyTrace_CALL, Py_None);
        if (t->program_hook && call_program(t, (PyFrameObject *)frame, PyTrace_CALL, Py_None, trace) < 0)
            return -1;
    }
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

static int profile_program_set(PyObject *func) { return program_hook_set(false, func); }
static int trace_program_set(PyObject *func) { return program_hook_set(true, func); }
static PyObject *profile_program_get(void) { return program_hook_get(false); }
static PyObject *trace_program_get(void) { return program_hook_get(true); }
static void profile_originals(PyObject *set, PyObject *get) { originals(false, set, get); }
static void trace_originals(PyObject *set, PyObject *get) { originals(true, set, get); }
static void profile_foreign_change(void) { foreign_change(false); }
static void trace_foreign_change(void) { foreign_change(true); }

/* One line per thread whose hook code in C took for good. */
static void report(void)
{
    thread_state **states;
    size_t count = threads_all(&states);
    for (size_t i = 0; i < count; i++) {
        thread_state *t = states[i];
        if (!t->taken_over_at)
            continue;
        PyObject *holder;
        const char *where = regions_text(t->taken_over_at, &holder);
        scorep_log_warning("a profiler or debugger written in C replaced the measurement's hook in thread %u at %s: "
                           "that thread's calls after it are not recorded (in the main thread and with "
                           "sys.monitoring on Python 3.12+ both record)",
                           t->loc ? t->loc->index : 0, where ? where : "?");
        Py_XDECREF(holder);
    }
}

const instrumenter profile_instrumenter = {
    .name = "profile",
    .install = profile_install,
    .uninstall = profile_uninstall,
    .installed = profile_installed,
    .install_other_threads = profile_install_other_threads,
    .thread_begins = profile_thread_begins,
    .program_hook_set = profile_program_set,
    .program_hook = profile_program_get,
    .program_hook_originals = profile_originals,
    .foreign_change = profile_foreign_change,
    .report = report,
};

const instrumenter trace_instrumenter = {
    .name = "trace",
    .install = trace_install,
    .uninstall = trace_uninstall,
    .installed = trace_installed,
    .install_other_threads = trace_install_other_threads,
    .thread_begins = trace_thread_begins,
    .program_hook_set = trace_program_set,
    .program_hook = trace_program_get,
    .program_hook_originals = trace_originals,
    .foreign_change = trace_foreign_change,
    .report = report,
};
