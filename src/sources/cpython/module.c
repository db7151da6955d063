/* scorep._native: the Python-facing functions of the measurement.  Thin:
 * argument conversion, then calls into the core's public interface
 * (scorep.h) and the selected instrumenter (instrumenter.h). */
#include <dlfcn.h>

#include "../../core/scorep.h"
#include "instrumenter.h"
#include "program.h"
#include "recording.h"
#include "regions.h"
#include "thread_state.h"

#include <pthread.h>
#include <signal.h>

static const instrumenter *selected = &profile_instrumenter;
static bool error_region_reported;
static uint32_t error_region = DEFS_NO_ID, error_parameter;

static int add_audit_hook(void);

static bool running(void) { return scorep_measurement_phase() == SCOREP_RUNNING; }

static scorep_location *current_location(void)
{
    if (!running())
        return NULL;
    thread_state *t = thread_current();
    return t ? t->loc : NULL;
}

/* A message of the C core as a Python str: it may hold file names that
 * are not UTF-8. */
static PyObject *message_text(const char *text)
{
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "backslashreplace");
}

static void set_error(PyObject *type, const char *text)
{
    PyObject *message = message_text(text);
    if (message) {
        PyErr_SetObject(type, message);
        Py_DECREF(message);
    }
}

/* Whether Python's faulthandler has the crash signals (it hands them on
 * to the previous action once it has printed its report). */
static bool faulthandler_enabled(void)
{
    PyObject *module = PyImport_ImportModule("faulthandler");
    PyObject *enabled = module ? PyObject_CallMethod(module, "is_enabled", NULL) : NULL;
    bool yes = enabled && PyObject_IsTrue(enabled) == 1;
    Py_XDECREF(enabled);
    Py_XDECREF(module);
    PyErr_Clear();
    return yes;
}

static PyObject *native_init(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *package_dir, *argv, *join_obj = NULL;
    const char *program;
    int verbose = 0, no_children = 0, mpi_ranks = 0;
    if (!PyArg_ParseTuple(args, "UsO!|pO&pp", &package_dir, &program, &PyList_Type, &argv, &verbose,
                          PyUnicode_FSConverter, &join_obj, &no_children, &mpi_ranks))
        return NULL;
    const char *join = join_obj && PyBytes_GET_SIZE(join_obj) ? PyBytes_AS_STRING(join_obj) : NULL;
    if (scorep_measurement_phase() != SCOREP_NOT_STARTED)
        Py_RETURN_FALSE;
    if (!regions_init(package_dir) || add_audit_hook() < 0)
        return NULL;
    Py_ssize_t argc = PyList_GET_SIZE(argv);
    char **cargs = PyMem_Calloc((size_t)argc + 1, sizeof *cargs);
    for (Py_ssize_t i = 0; i < argc; i++) {
        PyObject *item = PyList_GET_ITEM(argv, i);
        cargs[i] = PyUnicode_Check(item) ? (char *)PyUnicode_AsUTF8(item) : "";
        if (!cargs[i]) {
            PyErr_Clear();
            cargs[i] = "";
        }
    }
    char err[1024] = "";
    scorep_start_info info = {.program = program, .argc = (int)argc, .argv = cargs, .verbose = verbose,
                              .crash_handlers_hand_on = faulthandler_enabled(), .join = join,
                              .no_children = no_children, .mpi_ranks = mpi_ranks};
    bool ok = scorep_measurement_start(&info, err, sizeof err);
    PyMem_Free(cargs);
    Py_XDECREF(join_obj);
    if (!ok) {
        set_error(PyExc_ValueError, err[0] ? err : "the measurement could not start");
        return NULL;
    }
    thread_state *t = thread_current();
    if (!t) {  /* the calling thread is the master location */
        PyErr_SetString(PyExc_RuntimeError, "scorep: the measurement could not set up this thread (out of memory)");
        return NULL;
    }
    t->loc = scorep_location_current();  /* (a state from an earlier measurement of this process) */
    Py_RETURN_TRUE;
}

static PyObject *native_configure(PyObject *self, PyObject *args)
{
    (void)self;
    const char *kind;
    int c_calls;
    if (!PyArg_ParseTuple(args, "sp", &kind, &c_calls))
        return NULL;
    if (strcmp(kind, "profile") == 0 || strcmp(kind, "cProfile") == 0)
        selected = &profile_instrumenter;
    else if (strcmp(kind, "trace") == 0 || strcmp(kind, "cTrace") == 0)
        selected = &trace_instrumenter;
    else if (strcmp(kind, "dummy") == 0)
        selected = &dummy_instrumenter;
    else if (strcmp(kind, "eval") == 0 && eval_available())
        selected = &eval_instrumenter;
    else if (strcmp(kind, "monitoring") == 0 && monitoring_available())
        selected = &monitoring_instrumenter;
    else if (strcmp(kind, "eval") == 0) {
        PyErr_SetString(PyExc_ValueError, "the eval instrumenter (PEP 523 frame evaluation) needs Python 3.9, 3.10 "
                                          "or 3.11 (on 3.11 built with CPython's internal headers)");
        return NULL;
    } else if (strcmp(kind, "monitoring") == 0) {
        PyErr_SetString(PyExc_ValueError, "the monitoring instrumenter (sys.monitoring) needs Python 3.12 or newer");
        return NULL;
    } else {
        PyErr_Format(PyExc_ValueError, "unknown instrumenter type '%s'", kind);
        return NULL;
    }
    /* SCOREP_PYTHON_C_CALLS=false switches them off as well */
    const measurement_config *cfg = scorep_configuration();
    record_c_calls = c_calls && (!cfg || cfg->python_c_calls);
    record_filtered_extents = dlsym(RTLD_DEFAULT, "scorep_io_wrappers") != NULL;
    Py_RETURN_NONE;
}

static PyObject *native_instrumenter_enable(PyObject *self, PyObject *args)
{
    (void)self;
    int all_threads = 0;
    if (!PyArg_ParseTuple(args, "|p", &all_threads))
        return NULL;
    if (!running())
        Py_RETURN_NONE;
    if (all_threads) {
        threads_remember_running();
        if (selected->install_other_threads)
            selected->install_other_threads();
    }
    if (selected->install() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *native_instrumenter_disable(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    selected->uninstall();
    Py_RETURN_NONE;
}

static PyObject *native_instrumenter_enabled(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(running() && selected->installed());
}

/* threading.setprofile()/settrace() target: runs as the first profile
 * event of every new thread of the threading module, then hands the thread
 * over to the instrumenter. */
static PyObject *native_thread_start(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (record_stopped() || selected == &dummy_instrumenter) {
        if (selected == &trace_instrumenter)
            OWN_HOOK_CHANGE(PyEval_SetTrace(NULL, NULL));
        else
            OWN_HOOK_CHANGE(PyEval_SetProfile(NULL, NULL));
        Py_RETURN_NONE;
    }
    thread_state *state = thread_current();
    if (!state)
        Py_RETURN_NONE;
    thread_starts(state);
    PyObject *frame = nargs == 3 && PyFrame_Check(args[0]) ? args[0] : NULL;
    const char *event = nargs == 3 && PyUnicode_Check(args[1]) ? PyUnicode_AsUTF8(args[1]) : NULL;
    if (!event)
        PyErr_Clear();
    if (selected->thread_begins(state, frame, event) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef thread_start_def = {"thread_start", (PyCFunction)(void (*)(void))native_thread_start,
                                       METH_FASTCALL, "profile/trace function for new threads (internal)"};

/* ---- the start of a program that python -m scorep runs ---- */

/* Called once, from the audit hook, when the interpreter starts running
 * the program (its file, module, command or stdin). */
static PyObject *main_start_callback;
static int audit_hook(const char *event, PyObject *args, void *data);

static int add_audit_hook(void)
{
    static bool hooked;
    if (!hooked) {
        if (PySys_AddAuditHook(audit_hook, NULL) < 0)
            return -1;
        hooked = true;
    }
    return 0;
}

static int audit_hook(const char *event, PyObject *args, void *data)
{
    (void)data;
    if (event[0] == 's' && selected->foreign_change &&
        strcmp(event, selected == &trace_instrumenter ? "sys.settrace" : "sys.setprofile") == 0) {
        selected->foreign_change();
        return 0;
    }
    if (!main_start_callback || strncmp(event, "cpython.run_", 12) != 0)
        return 0;
    const char *what = event + 12;
    if (strcmp(what, "file") != 0 && strcmp(what, "module") != 0 && strcmp(what, "command") != 0 &&
        strcmp(what, "stdin") != 0)
        return 0;
    PyObject *callback = main_start_callback;
    main_start_callback = NULL;
    PyObject *result = PyObject_CallFunction(callback, "sO", what, args);
    Py_DECREF(callback);
    if (!result) {
        /* not the program's error: say it, and let the program run */
        PyErr_Print();
        return 0;
    }
    Py_DECREF(result);
    return 0;
}

static PyObject *native_on_main_start(PyObject *self, PyObject *callback)
{
    (void)self;
    if (!PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "on_main_start() needs a callable");
        return NULL;
    }
    if (add_audit_hook() < 0)
        return NULL;
    Py_XSETREF(main_start_callback, Py_NewRef(callback));
    Py_RETURN_NONE;
}

/* ---- the program's own profile and trace hooks ---- */

static PyObject *program_set(PyObject *self, PyObject *func)
{
    (void)self;
    /* as CPython's own sys.setprofile: any object is taken, calling it fails later */
    if (!selected->program_hook_set) {
        PyErr_SetString(PyExc_RuntimeError, "scorep: this instrumenter does not use the profile slot");
        return NULL;
    }
    if (selected->program_hook_set(func) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *program_get(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!selected->program_hook) {
        PyErr_SetString(PyExc_RuntimeError, "scorep: this instrumenter does not use the profile slot");
        return NULL;
    }
    return selected->program_hook();
}

/* fn.__doc__ as UTF-8, kept alive for good (a method definition's doc) */
static const char *kept_doc(PyObject *fn)
{
    PyObject *doc = PyObject_GetAttrString(fn, "__doc__");
    const char *text = doc && PyUnicode_Check(doc) ? PyUnicode_AsUTF8(doc) : NULL;
    if (!text) {
        Py_XDECREF(doc);
        PyErr_Clear();
    }
    return text;
}

static PyMethodDef program_hook_defs[] = {
    {"setprofile", program_set, METH_O, NULL},
    {"getprofile", program_get, METH_NOARGS, NULL},
    {"settrace", program_set, METH_O, NULL},
    {"gettrace", program_get, METH_NOARGS, NULL},
};

/* (set, get): what the program's sys.setprofile and sys.getprofile (or
 * settrace/gettrace) become while the profile (trace) instrumenter holds
 * that slot; original_set, original_get: CPython's. */
static PyObject *native_program_hook_functions(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *original_set, *original_get;
    if (!PyArg_ParseTuple(args, "OO", &original_set, &original_get))
        return NULL;
    if (!selected->program_hook_originals)
        Py_RETURN_NONE;
    selected->program_hook_originals(original_set, original_get);
    int first = selected == &trace_instrumenter ? 2 : 0;
    PyObject *module = PyUnicode_FromString("sys");
    if (!module)
        return NULL;
    /* the same documentation as CPython's own */
    program_hook_defs[first].ml_doc = kept_doc(original_set);
    program_hook_defs[first + 1].ml_doc = kept_doc(original_get);
    PyObject *set = PyCFunction_NewEx(&program_hook_defs[first], NULL, module);
    PyObject *get = PyCFunction_NewEx(&program_hook_defs[first + 1], NULL, module);
    Py_DECREF(module);
    if (!set || !get) {
        Py_XDECREF(set);
        Py_XDECREF(get);
        return NULL;
    }
    return Py_BuildValue("(NN)", set, get);
}

/* The program's threading.setprofile()/settrace() hook for new threads. */
static PyObject *native_program_thread_hook(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *func, *original_set;
    if (!PyArg_ParseTuple(args, "OO", &func, &original_set))
        return NULL;
    threads_set_program_hook(func, original_set);
    return Py_NewRef(threads_program_hook ? threads_program_hook : Py_None);
}

static PyObject *native_await_main(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    threads_await_main();
    Py_RETURN_NONE;
}

/* The results are written when the process exits (exit(): Python is done
 * then, the C core needs none of it), so that the trace has the real exit
 * status: Python's atexit handlers run before it is known. */
static bool finish_at_exit;

static void exit_handler(int status, void *arg)
{
    (void)arg;
    if (!finish_at_exit || scorep_measurement_phase() != SCOREP_RUNNING)
        return;
    /* a Ctrl-C now (Python has given SIGINT back to its default) waits
     * until the results are complete, and then ends the process */
    sigset_t terminating, previous;
    sigemptyset(&terminating);
    sigaddset(&terminating, SIGINT);
    sigaddset(&terminating, SIGTERM);
    sigaddset(&terminating, SIGHUP);
    sigaddset(&terminating, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &terminating, &previous);
    scorep_set_exit_status(status & 0xFF);
    scorep_measurement_finish();
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

/* Stop recording now; the results follow at the process's exit. */
static PyObject *native_stop_until_exit(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!running())
        Py_RETURN_FALSE;
    static bool registered;
    if (!registered) {
        if (on_exit(exit_handler, NULL) != 0)
            Py_RETURN_FALSE;
        registered = true;
    }
    if (selected->report)
        selected->report();
    selected->uninstall();
    scorep_measurement_stop();
    finish_at_exit = true;
    Py_RETURN_TRUE;
}

static PyObject *native_catch_termination(PyObject *self, PyObject *arg)
{
    (void)self;
    long signo = PyLong_AsLong(arg);
    if (signo == -1 && PyErr_Occurred())
        return NULL;
    return PyBool_FromLong(scorep_catch_termination((int)signo));
}

static PyObject *native_fork_prepare(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS  /* the drain thread may need no GIL, but be safe */
    scorep_fork_prepare();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* The child goes on inside the calls that were open when it was forked:
 * they are entered again at its start (those the parent recorded), so
 * that their returns match and its call paths go on from there. */
#define FORK_FRAMES_MAX 1024
static void enter_open_frames(scorep_location *loc)
{
    PyFrameObject *frames[FORK_FRAMES_MAX];
    int n = 0;
    PyFrameObject *frame = PyEval_GetFrame();
    Py_XINCREF(frame);
    while (frame && n < FORK_FRAMES_MAX) {
        frames[n++] = frame;
        frame = PyFrame_GetBack(frame);
    }
    Py_XDECREF(frame);
    for (int i = n - 1; i >= 0; i--) {
        PyCodeObject *code = PyFrame_GetCode(frames[i]);
        uint32_t region = regions_is_own_file(code->co_filename) ? REGION_SKIP : code_region_cached(code);
        Py_DECREF(code);
        if (REGION_RECORDED(region))
            scorep_enter(loc, region);
        Py_DECREF(frames[i]);
    }
}

/* After os.fork() in the child: measure it as a process of the
 * experiment (True), or record nothing and take the hooks away (False). */
static PyObject *native_fork_child(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (scorep_fork_child_start()) {
        thread_state *t = thread_current();
        if (t)
            t->loc = scorep_location_current();
        if (t && t->loc)
            enter_open_frames(t->loc);
        Py_RETURN_TRUE;
    }
    if (scorep_measurement_phase() != SCOREP_NOT_STARTED)
        selected->uninstall();
    Py_RETURN_FALSE;
}

/* After finalize(): a new measurement of this process may start. */
static PyObject *native_reset(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(scorep_measurement_reset());
}

/* The experiment directory that child processes join, or None. */
static PyObject *native_children_experiment(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    const char *dir = scorep_children_experiment();
    if (!dir)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(dir);
}

/* Whether the I/O wrapper library is in the process (its mark, found
 * without any I/O of the process's). */
static PyObject *native_io_wrappers_loaded(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(dlsym(RTLD_DEFAULT, "scorep_io_wrappers") != NULL);
}

/* ---- user regions ---- */

static void user_push(thread_state *t, uint32_t region)
{
    if (t->user_depth == t->user_capacity) {
        size_t cap = t->user_capacity ? 2 * t->user_capacity : 16;
        uint32_t *grown = PyMem_Realloc(t->user_regions, cap * sizeof *grown);
        if (!grown)
            return;
        t->user_regions = grown;
        t->user_capacity = cap;
    }
    t->user_regions[t->user_depth++] = region;
}

static PyObject *native_region_begin(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name, *group, *file;
    unsigned int line;
    if (!PyArg_ParseTuple(args, "sssI", &name, &group, &file, &line))
        return NULL;
    scorep_location *loc = current_location();
    /* user regions are filtered by name (begin and end must agree, and the
     * end does not know the file) */
    if (!loc || scorep_region_filtered(name, NULL))
        Py_RETURN_NONE;
    uint32_t region = scorep_region_define(name, group, file, line, REGION_ROLE_USER, REGION_PARADIGM_USER);
    if (region == DEFS_NO_ID)
        Py_RETURN_NONE;
    user_push(thread_current(), region);  /* loc exists, so the state does */
    scorep_enter(loc, region);
    Py_RETURN_NONE;
}

static void record_error_region(scorep_location *loc, const char *name)
{
    if (error_region == DEFS_NO_ID) {
        error_region = scorep_region_define("error_region", "", "", 0, REGION_ROLE_ARTIFICIAL, REGION_PARADIGM_USER);
        error_parameter = scorep_parameter_define("leave-region", PARAMETER_STRING);
    }
    scorep_enter(loc, error_region);
    scorep_parameter_string(loc, error_parameter, scorep_string_define(name));
    scorep_leave(loc, error_region);
    if (!error_region_reported) {
        error_region_reported = true;
        PySys_WriteStderr("SCOREP_BINDING_PYTHON ERROR: There was a region exit without an enter!\n"
                          "SCOREP_BINDING_PYTHON ERROR: For details look for \"error_region\" in the trace or profile.\n");
    }
}

static PyObject *native_region_end(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    scorep_location *loc = current_location();
    if (!loc || scorep_region_filtered(name, NULL))
        Py_RETURN_NONE;
    thread_state *t = thread_current();
    uint32_t name_id = scorep_string_define(name);
    size_t k = t->user_depth;
    while (k > 0 && scorep_region_name(t->user_regions[k - 1]) != name_id)
        k--;
    if (k == 0) {
        record_error_region(loc, name);
        Py_RETURN_NONE;
    }
    uint32_t region = t->user_regions[k - 1];
    /* drop the entry; regions begun inside it and never ended are closed by
     * the replay when this leave is processed */
    t->user_depth = k - 1;
    scorep_leave(loc, region);
    Py_RETURN_NONE;
}

/* Region of a Python function (decorated without a name): the same region
 * the instrumenter would record for it. */
static PyObject *native_function_region(PyObject *self, PyObject *func)
{
    (void)self;
    if (!PyFunction_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "a Python function is required");
        return NULL;
    }
    if (scorep_measurement_phase() == SCOREP_NOT_STARTED)
        return PyLong_FromLong(-1);
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(func);
    uint32_t region = code_region(code, PyFunction_GET_GLOBALS(func));
    return PyLong_FromLong(REGION_RECORDED(region) ? (long)region : -1);
}

static PyObject *native_region_enter_id(PyObject *self, PyObject *arg)
{
    (void)self;
    long region = PyLong_AsLong(arg);
    if (region == -1 && PyErr_Occurred())
        return NULL;
    scorep_location *loc = current_location();
    if (loc && region >= 0 && (uint32_t)region < scorep_region_count())
        scorep_enter(loc, (uint32_t)region);
    Py_RETURN_NONE;
}

static PyObject *native_region_leave_id(PyObject *self, PyObject *arg)
{
    (void)self;
    long region = PyLong_AsLong(arg);
    if (region == -1 && PyErr_Occurred())
        return NULL;
    scorep_location *loc = current_location();
    if (loc && region >= 0 && (uint32_t)region < scorep_region_count())
        scorep_leave(loc, (uint32_t)region);
    Py_RETURN_NONE;
}

/* ---- parameters ---- */

/* A value the format cannot hold exactly is recorded as close as it
 * allows; one warning line per kind of problem. */
static void parameter_warning(const char *function, const char *name, const char *problem, unsigned bit)
{
    static unsigned warned;
    if (warned & bit)
        return;
    warned |= bit;
    scorep_log_warning("scorep.user.%s('%s', ...): %s (warned once)", function, name, problem);
}

enum { WARN_INT_RANGE = 1, WARN_UINT_RANGE = 2, WARN_NOT_INT = 4, WARN_NOT_STR = 8, WARN_NAME = 16 };

/* The integer value of a parameter (operator.index, else int()), clamped
 * to [min, max] of the format; false if it has none. */
static bool parameter_integer(PyObject *value, bool is_unsigned, long long *s, unsigned long long *u,
                              bool *clamped)
{
    PyObject *number = PyNumber_Index(value);
    if (!number) {
        PyErr_Clear();
        number = PyNumber_Long(value);
    }
    if (!number) {
        PyErr_Clear();
        return false;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(number, &overflow);
    PyErr_Clear();
    *clamped = overflow != 0;
    *s = overflow > 0 ? LLONG_MAX : overflow < 0 ? LLONG_MIN : v;
    if (is_unsigned) {
        if (overflow < 0 || (!overflow && v < 0)) {
            *u = 0;
            *clamped = true;
        } else {
            *u = PyLong_AsUnsignedLongLong(number);
            *clamped = *u == (unsigned long long)-1 && PyErr_Occurred();
            PyErr_Clear();
        }
    }
    Py_DECREF(number);
    return true;
}

static PyObject *record_parameter(PyObject *args, parameter_type type, const char *function)
{
    PyObject *name_obj, *value;
    if (!PyArg_ParseTuple(args, "OO", &name_obj, &value))
        return NULL;
    scorep_location *loc = current_location();
    if (!loc || scorep_state != MEASUREMENT_ACTIVE)
        Py_RETURN_NONE;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *name_str = PyUnicode_Check(name_obj) ? Py_NewRef(name_obj) : PyObject_Str(name_obj);
    PyObject *name_holder = NULL, *text = NULL, *text_holder = NULL;
    const char *name = regions_text(name_str, &name_holder);
    if (!name) {
        parameter_warning(function, "?", "the name is no text: not recorded", WARN_NAME);
        goto done;
    }
    uint32_t parameter = scorep_parameter_define(name, type);
    if (type == PARAMETER_STRING) {
        text = PyUnicode_Check(value) ? Py_NewRef(value) : PyObject_Str(value);
        const char *s = regions_text(text, &text_holder);
        if (!s) {
            PyErr_Clear();
            parameter_warning(function, name, "the value has no str(): recorded as ''", WARN_NOT_STR);
            s = "";
        }
        scorep_parameter_string(loc, parameter, scorep_string_define(s));
        goto done;
    }
    long long sv = 0;
    unsigned long long uv = 0;
    bool clamped = false;
    if (!parameter_integer(value, type == PARAMETER_UINT, &sv, &uv, &clamped)) {
        parameter_warning(function, name, "the value is no integer: not recorded", WARN_NOT_INT);
        goto done;
    }
    if (type == PARAMETER_INT) {
        if (clamped)
            parameter_warning(function, name, "the value does not fit a signed 64-bit integer: recorded as the "
                              "nearest one", WARN_INT_RANGE);
        scorep_parameter_int(loc, parameter, sv);
    } else {
        if (clamped)
            parameter_warning(function, name, "the value does not fit an unsigned 64-bit integer: recorded as "
                              "the nearest one", WARN_UINT_RANGE);
        scorep_parameter_uint(loc, parameter, uv);
    }
done:
    Py_XDECREF(text_holder);
    Py_XDECREF(text);
    Py_XDECREF(name_holder);
    Py_XDECREF(name_str);
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
    Py_RETURN_NONE;
}

static PyObject *native_parameter_int(PyObject *self, PyObject *args)
{
    (void)self;
    return record_parameter(args, PARAMETER_INT, "parameter_int");
}

static PyObject *native_parameter_uint(PyObject *self, PyObject *args)
{
    (void)self;
    return record_parameter(args, PARAMETER_UINT, "parameter_uint");
}

static PyObject *native_parameter_string(PyObject *self, PyObject *args)
{
    (void)self;
    return record_parameter(args, PARAMETER_STRING, "parameter_string");
}

/* ---- recording on/off, rewind ---- */

static PyObject *native_set_recording(PyObject *self, PyObject *arg)
{
    (void)self;
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    scorep_location *loc = current_location();
    if (loc)
        scorep_recording_set(loc, on);
    Py_RETURN_NONE;
}

static PyObject *native_is_recording(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(scorep_state == MEASUREMENT_ACTIVE);
}

static PyObject *native_rewind_begin(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    scorep_location *loc = current_location();
    if (loc)
        scorep_rewind_begin(loc, scorep_string_define(name));
    Py_RETURN_NONE;
}

static PyObject *native_rewind_end(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    int discard;
    if (!PyArg_ParseTuple(args, "sp", &name, &discard))
        return NULL;
    scorep_location *loc = current_location();
    if (!loc)
        Py_RETURN_NONE;
    rewind_result result = scorep_rewind_end(loc, scorep_string_define(name), discard);
    if (result == REWIND_NO_MARK)
        scorep_log_warning("rewind_end('%s') without rewind_begin: ignored", name);
    else if (result == REWIND_TOO_LATE)
        scorep_log_warning("rewind_end('%s'): the buffer was flushed since rewind_begin, events are kept", name);
    Py_RETURN_NONE;
}

/* ---- the measurement's own work ---- */

static PyObject *native_suspend(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (scorep_measurement_phase() != SCOREP_NOT_STARTED) {
        thread_state *t = thread_current();
        if (t)
            t->suspended++;
    }
    Py_RETURN_NONE;
}

static PyObject *native_resume(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (scorep_measurement_phase() != SCOREP_NOT_STARTED) {
        thread_state *t = thread_current();
        if (t && t->suspended > (t->started ? 0 : 1))
            t->suspended--;
    }
    Py_RETURN_NONE;
}

/* (file, line) of the innermost frame outside this package. */
static PyObject *native_caller_location(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyFrameObject *frame = PyEval_GetFrame();
    Py_XINCREF(frame);
    while (frame) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        bool own = regions_is_own_file(code->co_filename);
        if (!own) {
            PyObject *file = regions_absolute_file(code->co_filename);
            Py_DECREF(code);
            int line = PyFrame_GetLineNumber(frame);
            Py_DECREF(frame);
            return Py_BuildValue("(Ni)", file, line);
        }
        Py_DECREF(code);
        PyFrameObject *back = PyFrame_GetBack(frame);
        Py_DECREF(frame);
        frame = back;
    }
    return Py_BuildValue("(si)", "None", 0);
}

/* ---- lifecycle ---- */

static PyObject *native_set_exit_status(PyObject *self, PyObject *arg)
{
    (void)self;
    long status = PyLong_AsLong(arg);
    if (status == -1 && PyErr_Occurred())
        return NULL;
    scorep_set_exit_status((int)status);
    Py_RETURN_NONE;
}

/* Returns the experiment directory; the results that could not be written
 * were reported on stderr already, one line each. */
static PyObject *native_finalize(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (scorep_measurement_phase() == SCOREP_NOT_STARTED)
        Py_RETURN_NONE;
    if (running() && selected->report)
        selected->report();
    selected->uninstall();
    scorep_measurement_finish();
    const char *dir = scorep_experiment_directory();
    if (!dir)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(dir);
}

/* recover(path) -> (final directory, what was recovered); OSError with
 * the one-line reason when it cannot be done. */
static PyObject *native_recover(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *path_obj;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path_obj))
        return NULL;
    char *result = NULL, message[1024], err[2048];
    bool ok;
    Py_BEGIN_ALLOW_THREADS
    ok = scorep_recover(PyBytes_AS_STRING(path_obj), &result, message, sizeof message, err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (!ok) {
        PyErr_SetString(PyExc_OSError, err);
        return NULL;
    }
    PyObject *out = Py_BuildValue("(O&s)", PyUnicode_DecodeFSDefault, result, message);
    free(result);
    return out;
}

static PyObject *native_state(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    static const char *const names[] = {"uninitialized", "running", "finalized"};
    return PyUnicode_FromString(names[scorep_measurement_phase()]);
}

static PyObject *native_experiment_dir(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    const char *dir = scorep_experiment_directory();
    if (!dir)
        Py_RETURN_NONE;
    return PyUnicode_DecodeFSDefault(dir);
}

static PyObject *native_verbose(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *text = PyUnicode_AsUTF8(arg);
    if (!text)
        return NULL;
    scorep_log_verbose("%s", text);
    Py_RETURN_NONE;
}

/* Events replayed into the substrates and the bytes their buffered records
 * took, over all locations (for the benchmark's bytes per event). */
static PyObject *native_buffer_stats(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    uint64_t events, bytes;
    scorep_buffer_statistics(&events, &bytes);
    return Py_BuildValue("{s:K,s:K}", "events", (unsigned long long)events, "record_bytes",
                         (unsigned long long)bytes);
}

/* Nanoseconds per read of each usable clock (for the benchmark's report). */
static PyObject *native_clock_cost(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *result = PyDict_New();
    clock_kind kinds[] = {CLOCK_KIND_TSC, CLOCK_KIND_CLOCK_GETTIME};
    for (int k = 0; result && k < 2; k++) {
        if (kinds[k] == CLOCK_KIND_TSC && !scorep_clock_tsc_usable())
            continue;
        PyObject *value = PyFloat_FromDouble(scorep_clock_cost_ns(kinds[k]));
        if (!value || PyDict_SetItemString(result, scorep_clock_name(kinds[k]), value) < 0)
            Py_CLEAR(result);
        Py_XDECREF(value);
    }
    return result;
}

static PyObject *native_features(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return Py_BuildValue("{s:N,s:N}", "papi", PyBool_FromLong(scorep_has_papi()), "eval",
                         PyBool_FromLong(eval_available()));
}

static PyObject *native_config_vars(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    int count;
    const config_var_info *vars = scorep_config_variables(&count);
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i < count; i++) {
        const config_var_info *v = &vars[i];
        PyObject *row = Py_BuildValue("(sssss)", v->env_name, scorep_config_type_name(v->type), v->default_value,
                                      v->help, v->long_help);
        if (!row || PyList_Append(list, row) < 0) {
            Py_XDECREF(row);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(row);
    }
    return list;
}

static PyMethodDef native_methods[] = {
    {"init", native_init, METH_VARARGS, "init(package_dir, program, argv): read the configuration, create the experiment directory"},
    {"configure", native_configure, METH_VARARGS, "configure(instrumenter_type, c_calls)"},
    {"instrumenter_enable", native_instrumenter_enable, METH_VARARGS, "install the hook in this thread (and, optionally, all running threads)"},
    {"instrumenter_disable", native_instrumenter_disable, METH_NOARGS, "remove the hook from this thread"},
    {"instrumenter_enabled", native_instrumenter_enabled, METH_NOARGS, "is the hook installed in this thread?"},
    {"on_main_start", native_on_main_start, METH_O,
     "on_main_start(callback): callback(kind, args) when the interpreter starts the program (audit hook)"},
    {"catch_termination", native_catch_termination, METH_O,
     "catch_termination(signo): while its action is the default, write the results at once on it, then die by it"},
    {"fork_child", native_fork_child, METH_NOARGS,
     "after os.fork() in the child: measure it as a process of the experiment (True) or not at all (False)"},
    {"reset", native_reset, METH_NOARGS, "after finalize(): a new measurement of this process may start"},
    {"children_experiment", native_children_experiment, METH_NOARGS,
     "the experiment directory child processes join, or None"},
    {"io_wrappers_loaded", native_io_wrappers_loaded, METH_NOARGS,
     "whether the POSIX I/O wrapper library is in the process"},
    {"fork_prepare", native_fork_prepare, METH_NOARGS,
     "before os.fork(): stop the measurement's thread (it starts again with the next full buffer chunk)"},
    {"program_hook_functions", native_program_hook_functions, METH_VARARGS,
     "program_hook_functions(sys_set, sys_get): the program's sys.setprofile/getprofile (or settrace/gettrace) "
     "while the instrumenter holds that slot, or None"},
    {"program_thread_hook", native_program_thread_hook, METH_VARARGS,
     "program_thread_hook(func, sys_setprofile): the program's threading.setprofile() value; returns it"},
    {"run_program", program_run, METH_VARARGS,
     "run_program(code, globals, kind) or run_program(callable, args, kind): the program, as CPython runs it"},
    {"await_main", native_await_main, METH_NOARGS, "the main thread records from the __main__ module's code on"},
    {"stop_until_exit", native_stop_until_exit, METH_NOARGS,
     "stop recording; the results are written at exit() with its status (False: finalize now)"},
    {"region_begin", native_region_begin, METH_VARARGS, "region_begin(name, group, file, line)"},
    {"region_end", native_region_end, METH_VARARGS, "region_end(name)"},
    {"function_region", native_function_region, METH_O, "region id of a Python function, -1 if none"},
    {"region_enter_id", native_region_enter_id, METH_O, "enter a region by id"},
    {"region_leave_id", native_region_leave_id, METH_O, "leave a region by id"},
    {"parameter_int", native_parameter_int, METH_VARARGS, "parameter_int(name, value)"},
    {"parameter_uint", native_parameter_uint, METH_VARARGS, "parameter_uint(name, value)"},
    {"parameter_string", native_parameter_string, METH_VARARGS, "parameter_string(name, value)"},
    {"set_recording", native_set_recording, METH_O, "switch recording on or off"},
    {"is_recording", native_is_recording, METH_NOARGS, "is recording on?"},
    {"rewind_begin", native_rewind_begin, METH_VARARGS, "rewind_begin(name)"},
    {"rewind_end", native_rewind_end, METH_VARARGS, "rewind_end(name, discard)"},
    {"set_exit_status", native_set_exit_status, METH_O, "exit status for the trace's program end"},
    {"finalize", native_finalize, METH_NOARGS, "finish the measurement; returns the experiment directory"},
    {"recover", native_recover, METH_VARARGS, "recover(path): complete what a killed run left in an experiment directory"},
    {"state", native_state, METH_NOARGS, "'uninitialized', 'running' or 'finalized'"},
    {"experiment_dir", native_experiment_dir, METH_NOARGS, "directory being written (final name after finalize)"},
    {"verbose", native_verbose, METH_O, "log a line when SCOREP_VERBOSE is true"},
    {"suspend", native_suspend, METH_NOARGS, "record nothing in this thread until resume()"},
    {"resume", native_resume, METH_NOARGS, "undo one suspend()"},
    {"caller_location", native_caller_location, METH_NOARGS, "(file, line) of the nearest caller outside scorep"},
    {"clock_cost", native_clock_cost, METH_NOARGS, "ns per read of each usable clock"},
    {"buffer_stats", native_buffer_stats, METH_NOARGS,
     "{'events': events replayed, 'record_bytes': bytes their buffered records took}"},
    {"features", native_features, METH_NOARGS, "optional parts built in: {'papi': bool, 'eval': bool}"},
    {"config_vars", native_config_vars, METH_NOARGS, "the configuration variable table"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "scorep._native", "C core of the scorep measurement", -1, native_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&thread_state_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (!m)
        return NULL;
    PyObject *thread_start = PyCFunction_NewEx(&thread_start_def, NULL, PyModule_GetNameObject(m));
    if (!thread_start || PyModule_AddObject(m, "thread_start", thread_start) < 0) {
        Py_XDECREF(thread_start);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
