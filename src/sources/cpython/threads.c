#include "thread_state.h"

#include <pthread.h>
#include <string.h>

#include "instrumenter.h"
#include "regions.h"

__thread thread_state *thread_current_state __attribute__((tls_model("initial-exec")));
int own_hook_changes;
static PyObject *registry;        /* list of every thread_state made: keeps them alive */
static thread_state *pending_marker;
/* python -m scorep: the main thread records from the first frame of the
 * __main__ module's code on (threads_await_main) */
static bool await_main;

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

void threads_remember_running(void)
{
    PyThreadState *self = PyThreadState_Get();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(self);
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts))
        if (running_before_count < sizeof running_before / sizeof running_before[0])
            running_before[running_before_count++] = (unsigned long)ts->thread_id;
}

/* Give the calling thread's location the name its threading.Thread has
 * (read from the Thread's _name: no Python code runs), if it has one. */
static void name_from_threading(scorep_location *loc)
{
    if (!loc || loc->index == 0)
        return;  /* the main thread stays "Master thread", as in Score-P */
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *module_name = PyUnicode_FromString("threading");
    PyObject *threading = module_name ? PyImport_GetModule(module_name) : NULL;
    PyObject *active = threading ? PyObject_GetAttrString(threading, "_active") : NULL;
    PyObject *ident = active && PyDict_Check(active) ? PyLong_FromUnsignedLong(PyThread_get_thread_ident()) : NULL;
    PyObject *thread = ident ? PyDict_GetItemWithError(active, ident) : NULL;  /* borrowed */
    PyObject *name = thread ? PyObject_GetAttrString(thread, "_name") : NULL;
    const char *text = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    if (text)
        scorep_location_set_name(loc, text);
    Py_XDECREF(name);
    Py_XDECREF(ident);
    Py_XDECREF(active);
    Py_XDECREF(threading);
    Py_XDECREF(module_name);
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

static bool registry_keep(thread_state *state)
{
    if (!registry && !(registry = PyList_New(0)))
        return false;
    return PyList_Append(registry, (PyObject *)state) == 0;
}

/* The calling thread's lowest C stack address that leaves a margin for
 * the program's own C calls (stacks grow down); NULL if unknown. */
#define STACK_MARGIN (1024 * 1024)

static char *stack_floor(void)
{
    pthread_attr_t attr;
    void *low;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return NULL;
    int got = pthread_attr_getstack(&attr, &low, &size);
    pthread_attr_destroy(&attr);
    if (got != 0 || size < 2 * STACK_MARGIN)
        return NULL;
    return (char *)low + STACK_MARGIN;
}

static bool watch_stack;

void threads_watch_stack(void)
{
    watch_stack = true;
    thread_state *t = thread_current_state;
    if (t && !t->stack_floor)
        t->stack_floor = stack_floor();
}

static void state_init(thread_state *state, scorep_location *loc, bool started)
{
    state->loc = loc;
    state->started = started;
    state->suspended = started ? 0 : 1;
    state->first_seen = false;
    state->start_frame = NULL;
    state->start_region = 0;
    state->user_regions = NULL;
    state->user_depth = state->user_capacity = 0;
    state->program_hook = NULL;
    state->foreign_func = NULL;
    state->foreign_obj = NULL;
    state->open_c_region = UINT32_MAX;
    state->called_c = NULL;
    state->called_c_region = REGION_SKIP;
    state->skip_c_return = false;
    state->stack_floor = watch_stack ? stack_floor() : NULL;
    state->taken_over_at = NULL;
}

/* A new state (and location) for the calling thread.  Identity is the OS
 * thread (thread-local storage), not the Python thread ident, which is
 * reused after a thread ends: a later thread must not inherit an earlier
 * thread's location or open regions. */
thread_state *thread_state_new(void)
{
    if (thread_current_state)
        return thread_current_state;
    scorep_location *loc = scorep_location_current();
    if (!loc)
        return NULL;  /* not measuring (or no memory): nothing to record */
    /* called from inside event callbacks: the program's own exception
     * (e.g. of a C_EXCEPTION event) must survive whatever happens here */
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    thread_state *state = PyObject_New(thread_state, &thread_state_type);
    if (state) {
        /* threads started during the measurement begin recording in
         * thread_starts(); the first thread and those already running when
         * the measurement started begin at once */
        state_init(state, loc, (loc->index == 0 && !await_main) || thread_was_running(PyThread_get_thread_ident()));
        if (state->started)
            name_from_threading(loc);
        bool kept = registry_keep(state);
        Py_DECREF(state);  /* the registry keeps it alive for good */
        if (!kept)
            state = NULL;
    }
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
    thread_current_state = state;
    return state;
}

PyObject *threads_program_hook;
static PyObject *original_setprofile;

void threads_set_program_hook(PyObject *func, PyObject *original_set)
{
    Py_XSETREF(threads_program_hook, func == Py_None ? NULL : Py_NewRef(func));
    if (original_set)
        Py_XSETREF(original_setprofile, Py_NewRef(original_set));
}

size_t threads_all(thread_state ***states)
{
    if (!registry) {
        *states = NULL;
        return 0;
    }
    *states = (thread_state **)((PyListObject *)registry)->ob_item;
    return (size_t)PyList_GET_SIZE(registry);
}

bool thread_is_pending_marker(PyObject *obj) { return pending_marker && obj == (PyObject *)pending_marker; }

thread_state *thread_pending_marker(void)
{
    if (!pending_marker) {
        thread_state *marker = PyObject_New(thread_state, &thread_state_type);
        if (!marker)
            return NULL;
        state_init(marker, NULL, false);
        marker->first_seen = true;
        pending_marker = marker;
    }
    return pending_marker;
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

void threads_await_main(void) { await_main = true; }

/* The code of the __main__ module: "<module>" run with __name__ ==
 * "__main__" in its globals (no Python code runs). */
static bool is_main_module(PyCodeObject *code, PyObject *globals)
{
    if (!globals || !PyDict_Check(globals) || !PyUnicode_Check(code->co_name) ||
        PyUnicode_CompareWithASCIIString(code->co_name, "<module>") != 0)
        return false;
    PyObject *name = PyDict_GetItemString(globals, "__name__");  /* borrowed, no exception */
    return name && PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "__main__") == 0;
}

bool thread_main_begins(thread_state *t, PyCodeObject *code, PyObject *globals)
{
    if (t->started || !await_main || !t->loc || t->loc->index != 0 || !is_main_module(code, globals))
        return false;
    t->started = true;
    t->first_seen = true;
    t->suspended--;
    return true;
}

bool thread_first_frame(thread_state *t, PyCodeObject *code, PyObject *globals, bool outermost)
{
    if (t->started)
        return true;
    if (await_main && t->loc && t->loc->index == 0)
        return thread_main_begins(t, code, globals);
    if (t->first_seen)
        return false;
    t->first_seen = true;
    if (!outermost || is_threading_bootstrap(code))
        return false;
    t->started = true;
    t->suspended--;
    return true;
}

void thread_starts(thread_state *t)
{
    if (!t->started) {
        t->started = true;
        t->suspended--;
    }
    name_from_threading(t->loc);
}

/* The program's threading.setprofile() hook takes over the slot, as if
 * the thread had started without us: it gets the event that brought us
 * here, then the thread's later ones. */
static int program_hook_begins(PyObject *frame, const char *event)
{
    if (!threads_program_hook || !original_setprofile)
        return 0;
    PyObject *hook = Py_NewRef(threads_program_hook);
    PyObject *r = PyObject_CallOneArg(original_setprofile, hook);
    if (r && frame && event) {
        Py_DECREF(r);
        PyObject *name = PyUnicode_FromString(event);
        r = name ? PyObject_CallFunctionObjArgs(hook, frame, name, Py_None, NULL) : NULL;
        Py_XDECREF(name);
    }
    Py_DECREF(hook);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

int thread_begins_covered(thread_state *t, PyObject *frame, const char *event)
{
    OWN_HOOK_CHANGE(PyEval_SetProfile(NULL, NULL));
    if (program_hook_begins(frame, event) < 0)
        return -1;
    if (frame && event && strcmp(event, "call") == 0) {
        PyCodeObject *code = PyFrame_GetCode((PyFrameObject *)frame);
        PyObject *globals = frame_globals((PyFrameObject *)frame);
        uint32_t region = code_region(code, globals);
        Py_XDECREF(globals);
        Py_DECREF(code);
        if (REGION_RECORDED(region)) {
            scorep_enter(t->loc, region);
            t->start_frame = frame_identity((PyFrameObject *)frame);
            t->start_region = region;
        }
    }
    return 0;
}
