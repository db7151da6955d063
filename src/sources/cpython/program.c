/* python -m scorep runs the program in its own process, as a second
 * interpreter started on it would: with the thread's frame chain and
 * recursion depth as CPython has them when it starts a program, so that
 * no frame of the launcher is on the program's stack (tracebacks, stack
 * introspection, the recursion limit), and with CPython's own report of
 * an uncaught exception and its exit (status 1, or death by SIGINT after
 * an uncaught KeyboardInterrupt). */
#include "program.h"

#include <string.h>

/* What the launcher's part of the thread state was while the program ran. */
typedef struct {
    void *frame;
    int depth;
} launcher_part;

static void launcher_part_set_aside(PyThreadState *ts, launcher_part *part)
{
#if PY_VERSION_HEX >= 0x030D0000
    part->frame = ts->current_frame;
    ts->current_frame = NULL;
#elif PY_VERSION_HEX >= 0x030B0000
    part->frame = ts->cframe->current_frame;
    ts->cframe->current_frame = NULL;
#else
    part->frame = ts->frame;
    ts->frame = NULL;
#endif
#if PY_VERSION_HEX >= 0x030C0000
    part->depth = ts->py_recursion_limit - ts->py_recursion_remaining;
    ts->py_recursion_remaining = ts->py_recursion_limit;
#elif PY_VERSION_HEX >= 0x030B0000
    part->depth = ts->recursion_limit - ts->recursion_remaining;
    ts->recursion_remaining = ts->recursion_limit;
#else
    part->depth = ts->recursion_depth;
    ts->recursion_depth = 0;
#endif
}

static void launcher_part_restore(PyThreadState *ts, const launcher_part *part)
{
#if PY_VERSION_HEX >= 0x030D0000
    ts->current_frame = part->frame;
#elif PY_VERSION_HEX >= 0x030B0000
    ts->cframe->current_frame = part->frame;
#else
    ts->frame = part->frame;
#endif
    /* the limit may have changed while the program ran */
#if PY_VERSION_HEX >= 0x030C0000
    ts->py_recursion_remaining = ts->py_recursion_limit - part->depth;
#elif PY_VERSION_HEX >= 0x030B0000
    ts->recursion_remaining = ts->recursion_limit - part->depth;
#else
    ts->recursion_depth = part->depth;
#endif
}

/* As CPython after a program: sys.stderr and sys.stdout flushed, their
 * errors ignored, a pending exception kept. */
static void flush_std_streams(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    static const char *const names[] = {"stderr", "stdout"};
    for (int i = 0; i < 2; i++) {
        PyObject *stream = PySys_GetObject(names[i]);  /* borrowed */
        PyObject *done = stream && stream != Py_None ? PyObject_CallMethod(stream, "flush", NULL) : NULL;
        Py_XDECREF(done);
        PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
}

/* A script's __file__ and __cached__ go when it ends (its atexit handlers
 * and the interpreter's end do not see them), as CPython does. */
static void forget_script_file(PyObject *globals)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (PyDict_DelItemString(globals, "__file__") < 0)
        PyErr_Clear();
    if (PyDict_DelItemString(globals, "__cached__") < 0)
        PyErr_Clear();
    PyErr_Restore(type, value, tb);
}

/* ---- the end after an uncaught KeyboardInterrupt ----
 * CPython dies by SIGINT (after its finalisation) when a KeyboardInterrupt
 * leaves the program; the launcher raises a new one for that, which
 * CPython reports once more: this hook takes that report silently, puts
 * back the program's sys.excepthook and the sys.last_* of the program's
 * own exception. */
static PyObject *program_excepthook, *program_last[4];
static const char *const last_names[4] = {"last_type", "last_value", "last_traceback", "last_exc"};

static PyObject *quiet_excepthook(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    if (program_excepthook && PySys_SetObject("excepthook", program_excepthook) < 0)
        PyErr_Clear();
    for (int i = 0; i < 4; i++)
        if (program_last[i] && PySys_SetObject(last_names[i], program_last[i]) < 0)
            PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef quiet_excepthook_def = {"excepthook", quiet_excepthook, METH_VARARGS, NULL};

static void keep_programs_report(void)
{
    Py_XSETREF(program_excepthook, Py_XNewRef(PySys_GetObject("excepthook")));
    for (int i = 0; i < 4; i++)
        Py_XSETREF(program_last[i], Py_XNewRef(PySys_GetObject(last_names[i])));
}

/* The program raised (not SystemExit): CPython's report of it, with no
 * launcher frame in its traceback; then the exception that makes CPython
 * end as after that program: SystemExit(1), or a new KeyboardInterrupt. */
static PyObject *report_uncaught(void)
{
    bool interrupted = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
    PyErr_Print();
    if (!interrupted) {
        PyObject *status = PyLong_FromLong(1);
        if (status) {
            PyErr_SetObject(PyExc_SystemExit, status);
            Py_DECREF(status);
        }
        return NULL;
    }
    keep_programs_report();
    PyObject *hook = PyCFunction_New(&quiet_excepthook_def, NULL);
    if (hook) {
        if (PySys_SetObject("excepthook", hook) < 0)
            PyErr_Clear();
        Py_DECREF(hook);
    }
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    return NULL;
}

PyObject *program_run(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *what, *with;
    const char *kind;
    if (!PyArg_ParseTuple(args, "OOs:run_program", &what, &with, &kind))
        return NULL;
    bool code = PyCode_Check(what);
    if (code ? !PyDict_Check(with) : !PyTuple_Check(with)) {
        PyErr_SetString(PyExc_TypeError, "run_program(code, globals, kind) or run_program(callable, args, kind)");
        return NULL;
    }
    bool script = strcmp(kind, "file") == 0;
    PyThreadState *ts = PyThreadState_Get();
    launcher_part part;
    launcher_part_set_aside(ts, &part);
    PyObject *result = code ? PyEval_EvalCode(what, with, with) : PyObject_Call(what, with, NULL);
    flush_std_streams();
    if (result) {
        Py_DECREF(result);
        if (script)
            forget_script_file(with);
        launcher_part_restore(ts, &part);
        Py_RETURN_NONE;
    }
    if (PyErr_ExceptionMatches(PyExc_SystemExit)) {
        /* CPython's own handling (its message, its status) at the top;
         * a script's __file__ stays, as it does there */
        launcher_part_restore(ts, &part);
        return NULL;
    }
    PyObject *ending = report_uncaught();
    if (script)
        forget_script_file(with);
    launcher_part_restore(ts, &part);
    return ending;
}
