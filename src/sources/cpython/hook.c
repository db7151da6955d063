/* The instrumenter: CPython's profile or trace hook turned into enter/leave
 * records.  Hot path: cached region lookup, a timestamp, a store. */
#include <pthread.h>

#include "glue.h"
#include "../../core/measurement.h"
#include "../../core/metrics.h"


instrumenter_kind hook_kind = INSTRUMENTER_PROFILE;
bool hook_c_calls = true;

/* initial-exec: a plain %fs-relative load on every event instead of a call
 * to __tls_get_addr (the module is loaded by dlopen, but one pointer fits
 * in the static TLS space glibc keeps for that) */
__thread thread_state *hook_tls_thread __attribute__((tls_model("initial-exec")));
static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;

/* Runs when an OS thread ends (no GIL): only flags its location. */
static void thread_exited(void *loc) { location_finish(loc); }

static void make_thread_exit_key(void) { pthread_key_create(&thread_exit_key, thread_exited); }
static PyObject *thread_registry;  /* list of every thread_state made */
static PyObject *pending_marker;   /* handed to threads whose state is made on first event */
static uint32_t thread_counter;

/* ---- per-thread state ---- */

static void thread_state_dealloc(PyObject *self)
{
    /* never happens while measuring: the registry keeps every state alive */
    PyMem_Free(((thread_state *)self)->user_regions);
    Py_TYPE(self)->tp_free(self);
}

PyTypeObject thread_state_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "scorep._native.ThreadState",
    .tp_basicsize = sizeof(thread_state),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = thread_state_dealloc,
    .tp_doc = "measurement state of one Python thread",
};

/* Python threads that were running when the instrumenter was switched on
 * for all threads (register()); recorded from their first event. */
static unsigned long running_before[256];
static size_t running_before_count;

static bool thread_was_running(unsigned long ident)
{
    for (size_t i = 0; i < running_before_count; i++)
        if (running_before[i] == ident)
            return true;
    return false;
}

static void remember_running_threads(void)
{
    PyThreadState *self = PyThreadState_Get();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(self);
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts))
        if (running_before_count < sizeof running_before / sizeof running_before[0])
            running_before[running_before_count++] = (unsigned long)ts->thread_id;
}

/* A new state (and location) for the calling thread.  Identity is the OS
 * thread (thread-local storage), not the Python thread ident, which is
 * reused after a thread ends: a later thread must not inherit an earlier
 * thread's location or open regions. */
static thread_state *thread_state_new(void)
{
    if (!thread_registry && !(thread_registry = PyList_New(0)))
        return NULL;
    thread_state *state = PyObject_New(thread_state, &thread_state_type);
    if (!state)
        return NULL;
    char name[64];
    uint32_t n = thread_counter++;
    if (n == 0)
        snprintf(name, sizeof name, "Master thread");
    else
        snprintf(name, sizeof name, "Python thread %u", n);
    state->loc = measurement_location_create(name);
    /* threads started during the measurement begin recording in
     * thread_start(); the first thread and those already running when the
     * measurement started begin at once */
    state->started = n == 0 || thread_was_running(PyThread_get_thread_ident());
    pthread_once(&thread_exit_once, make_thread_exit_key);
    pthread_setspecific(thread_exit_key, state->loc);
    state->suspended = state->started ? 0 : 1;
    state->first_seen = false;
    state->start_frame = NULL;
    state->user_regions = NULL;
    state->user_depth = state->user_capacity = 0;
    int rc = PyList_Append(thread_registry, (PyObject *)state);  /* keeps it alive for good */
    Py_DECREF(state);
    return rc == 0 ? state : NULL;
}

static bool is_threading_bootstrap(PyCodeObject *code)
{
    static const char suffix[] = "threading.py";
    const char *name = PyUnicode_Check(code->co_name) ? PyUnicode_AsUTF8(code->co_name) : NULL;
    const char *file = PyUnicode_Check(code->co_filename) ? PyUnicode_AsUTF8(code->co_filename) : NULL;
    if (!name || !file) {
        PyErr_Clear();
        return false;
    }
    size_t n = strlen(file);
    return strcmp(name, "_bootstrap") == 0 && n >= sizeof suffix - 1 &&
           strcmp(file + n - (sizeof suffix - 1), suffix) == 0;
}

bool hook_thread_first_frame(thread_state *t, PyCodeObject *code, bool outermost)
{
    if (t->started || t->first_seen)
        return t->started;
    t->first_seen = true;
    if (!outermost || is_threading_bootstrap(code))
        return false;
    t->started = true;
    t->suspended--;
    return true;
}

thread_state *hook_thread_new(void)
{
    if (!hook_tls_thread)
        hook_tls_thread = thread_state_new();
    return hook_tls_thread;
}

/* ---- recording ---- */

#define record_enter hook_record_enter
#define record_leave hook_record_leave

static inline uint32_t frame_region(PyFrameObject *frame)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    uint32_t region = naming_code_region(code, frame);
    Py_DECREF(code);
    return region;
}

/* A return from code never seen being called: its frame was entered before
 * the instrumenter started, so there is nothing to leave (and no region
 * worth defining). */
static inline uint32_t frame_region_seen(PyFrameObject *frame)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    uint32_t region = naming_code_region_cached(code);
    Py_DECREF(code);
    return region;
}

static int resolve_pending(PyObject **obj);

/* Everything but the common case: threads not yet set up, the measurement's
 * own work, C functions, first calls, recording off, metrics. */
static __attribute__((noinline)) int profile_callback_full(PyObject *obj, PyFrameObject *frame, int what,
                                                           PyObject *arg)
{
    if (__builtin_expect(obj == pending_marker, 0) && resolve_pending(&obj) < 0)
        return 0;
    thread_state *thread = (thread_state *)obj;
    if (__builtin_expect(thread->suspended != 0, 0))
        return 0;
    location *loc = thread->loc;
    uint32_t region;
    switch (what) {
    case PyTrace_CALL:
        region = frame_region(frame);
        if (REGION_RECORDED(region))
            record_enter(loc, region);
        break;
    case PyTrace_RETURN:
        region = frame_region_seen(frame);
        if (REGION_RECORDED(region))
            record_leave(loc, region);
        break;
    case PyTrace_C_CALL:
        if (!hook_c_calls)
            break;
        region = naming_cfunction_region(arg);
        /* C calls made by the measurement's own Python code are not shown
         * (those made by filtered functions are: filters are per region) */
        if (REGION_RECORDED(region) && frame_region(frame) != REGION_SKIP)
            record_enter(loc, region);
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (!hook_c_calls)
            break;
        region = naming_cfunction_region_cached(arg);
        if (REGION_RECORDED(region) && frame_region_seen(frame) != REGION_SKIP)
            record_leave(loc, region);
        break;
    default:
        break;
    }
    return 0;
}

/* C functions seen before, for the fast path: only exact built-in
 * functions (the type check is one compare), REGION_SKIP otherwise. */
static inline uint32_t cfunction_region_fast(PyObject *func)
{
    uint32_t region;
    if (Py_IS_TYPE(func, &PyCFunction_Type) &&
        ptrmap_get(&naming_cfunction_cache, ((PyCFunctionObject *)func)->m_ml, &region))
        return region;
    return REGION_SKIP;
}

/* The common case first, with as little work as possible: a call or return
 * of code seen before (or of a C function, called from code seen before),
 * while recording with the TSC and without metrics.  Everything else goes
 * to profile_callback_full. */
static int profile_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    thread_state *t = (thread_state *)obj;
    switch (what) {
    case PyTrace_CALL:
        if (hook_fast_event(t, EVENT_ENTER, code_region_fast(hook_frame_code(frame))))
            return 0;
        break;
    case PyTrace_RETURN:
        if (hook_fast_event(t, EVENT_LEAVE, code_region_fast(hook_frame_code(frame))))
            return 0;
        break;
    case PyTrace_C_CALL:
        /* the caller's region tells whether it is the measurement's own code */
        if (hook_c_calls && code_region_fast(hook_frame_code(frame)) < EVENT_REGION_LIMIT &&
            hook_fast_event(t, EVENT_ENTER, cfunction_region_fast(arg)))
            return 0;
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (hook_c_calls && code_region_fast(hook_frame_code(frame)) < EVENT_REGION_LIMIT &&
            hook_fast_event(t, EVENT_LEAVE, cfunction_region_fast(arg)))
            return 0;
        break;
    default:
        return 0;
    }
    return profile_callback_full(obj, frame, what, arg);
}

static int trace_callback(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    if (what == PyTrace_CALL || what == PyTrace_RETURN)
        return profile_callback(obj, frame, what, arg);
    return 0;
}

static Py_tracefunc current_callback(void)
{
    return hook_kind == INSTRUMENTER_TRACE ? trace_callback : profile_callback;
}

static void set_hook_current(Py_tracefunc func, PyObject *obj)
{
    if (hook_kind == INSTRUMENTER_TRACE)
        PyEval_SetTrace(func, obj);
    else
        PyEval_SetProfile(func, obj);
}

/* A thread that was running before the measurement started got the pending
 * marker; on its first event it gets its own state. */
static int resolve_pending(PyObject **obj)
{
    thread_state *state = hook_thread_current();
    if (!state)
        return -1;
    set_hook_current(current_callback(), (PyObject *)state);
    *obj = (PyObject *)state;
    return 0;
}

int hook_install_current(void)
{
    if (hook_kind == INSTRUMENTER_DUMMY)
        return 0;
    if (hook_kind == INSTRUMENTER_MONITORING)
        return hook_thread_current() ? monitoring_enable() : -1;
    if (hook_kind == INSTRUMENTER_EVAL)
        return hook_thread_current() ? evalframe_enable() : -1;
    thread_state *state = hook_thread_current();
    if (!state)
        return -1;
    set_hook_current(current_callback(), (PyObject *)state);
    return 0;
}

void hook_uninstall_current(void)
{
    if (hook_kind == INSTRUMENTER_MONITORING)
        monitoring_disable();
    else if (hook_kind == INSTRUMENTER_EVAL)
        evalframe_disable();
    else
        set_hook_current(NULL, NULL);
}

bool hook_installed_current(void)
{
    if (hook_kind == INSTRUMENTER_MONITORING)
        return monitoring_enabled();
    if (hook_kind == INSTRUMENTER_EVAL)
        return evalframe_enabled();
    PyThreadState *ts = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030B0000
    return hook_kind == INSTRUMENTER_TRACE ? ts->c_tracefunc != NULL : ts->c_profilefunc != NULL;
#else
    return hook_kind == INSTRUMENTER_TRACE ? ts->c_tracefunc != NULL : ts->c_profilefunc != NULL;
#endif
}

/* Install the hook with the pending marker in every other thread of the
 * interpreter (threads started before the measurement). */
void hook_install_other_threads(void)
{
    remember_running_threads();
    /* sys.monitoring and the frame evaluation cover every thread by themselves */
    if (hook_kind == INSTRUMENTER_DUMMY || hook_kind == INSTRUMENTER_MONITORING || hook_kind == INSTRUMENTER_EVAL)
        return;
    if (!pending_marker) {
        /* a state that records nothing, so that the fast path skips it */
        thread_state *marker = PyObject_New(thread_state, &thread_state_type);
        if (!marker)
            return;
        marker->loc = NULL;
        marker->suspended = 1;
        marker->started = false;
        marker->first_seen = true;
        marker->start_frame = NULL;
        marker->user_regions = NULL;
        marker->user_depth = marker->user_capacity = 0;
        pending_marker = (PyObject *)marker;
    }
#if PY_VERSION_HEX >= 0x030C0000
    /* every thread, this one included; the caller then gives this thread
     * its own state */
    if (hook_kind == INSTRUMENTER_TRACE)
        PyEval_SetTraceAllThreads(trace_callback, pending_marker);
    else
        PyEval_SetProfileAllThreads(profile_callback, pending_marker);
#else
    PyThreadState *self = PyThreadState_Get();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(self);
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts)) {
        if (ts == self)
            continue;
        if (hook_kind == INSTRUMENTER_TRACE)
            _PyEval_SetTrace(ts, trace_callback, pending_marker);
        else
            _PyEval_SetProfile(ts, profile_callback, pending_marker);
    }
#endif
}

/* threading.setprofile()/settrace() target: runs as the first profile event
 * of every new thread, then hands the thread over to the C hook. */
static PyObject *thread_start(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (measurement_current_state == MEASUREMENT_STOPPED || hook_kind == INSTRUMENTER_DUMMY) {
        set_hook_current(NULL, NULL);
        Py_RETURN_NONE;
    }
    thread_state *state = hook_thread_current();
    if (!state)
        return NULL;
    if (!state->started) {
        state->started = true;
        state->suspended--;
    }
    if (hook_kind == INSTRUMENTER_MONITORING || hook_kind == INSTRUMENTER_EVAL) {
        /* sys.monitoring (or the frame evaluation) already sees this
         * thread: this call only marks where its program starts
         * (Thread.run, after the bootstrap) */
        PyEval_SetProfile(NULL, NULL);
        const char *event = nargs == 3 && PyUnicode_Check(args[1]) ? PyUnicode_AsUTF8(args[1]) : NULL;
        if (event && strcmp(event, "call") == 0 && PyFrame_Check(args[0])) {
            PyCodeObject *code = PyFrame_GetCode((PyFrameObject *)args[0]);
            uint32_t region = naming_code_region(code, (PyFrameObject *)args[0]);
            Py_DECREF(code);
            if (REGION_RECORDED(region)) {
                record_enter(state->loc, region);
#if PY_VERSION_HEX >= 0x030B0000 && defined(HOOK_FRAME_INTERNALS)
                state->start_frame = ((PyFrameObject *)args[0])->f_frame;
#else
                state->start_frame = args[0];
#endif
                state->start_region = region;
            }
        }
        Py_RETURN_NONE;
    }
    set_hook_current(current_callback(), (PyObject *)state);
    /* the event that brought us here belongs to the program: keep it */
    if (nargs == 3 && PyFrame_Check(args[0]) && PyUnicode_Check(args[1])) {
        const char *event = PyUnicode_AsUTF8(args[1]);
        if (event && strcmp(event, "call") == 0)
            profile_callback((PyObject *)state, (PyFrameObject *)args[0], PyTrace_CALL, Py_None);
    }
    Py_RETURN_NONE;
}

PyMethodDef hook_thread_start_def = {"thread_start", (PyCFunction)(void (*)(void))thread_start, METH_FASTCALL,
                                     "profile/trace function for new threads (internal)"};
