/* The floor: an empty C-level hook (benchmark only, not part of scorep).
 * Python <= 3.11: PyEval_SetProfile with a callback that returns at once.
 * Python 3.12+: sys.monitoring with C callbacks that return None for the
 * Python-function events (PY_START, PY_RESUME, PY_RETURN, PY_YIELD) and the
 * C-call events (CALL, C_RETURN, C_RAISE): the events scorep's default
 * instrumenter uses.  A CALL of anything but a C function returns None
 * too: a hook that records every C call cannot switch a call site off,
 * since the same site may call a C function next time. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#endif

static int empty_profile(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj; (void)frame; (void)what; (void)arg;
    return 0;
}

static PyObject *empty_callback(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self; (void)args; (void)nargs;
    Py_RETURN_NONE;
}

/* CALL: (code, offset, callable, arg0).  The least a C-call hook must do
 * to see every C call: look at the callable. */
static PyObject *disable;

static PyObject *empty_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs >= 3 && (PyCFunction_Check(args[2]) || Py_IS_TYPE(args[2], &PyMethodDescr_Type)))
        Py_RETURN_NONE;
    Py_RETURN_NONE;
}

static PyMethodDef callback_def = {"empty", (PyCFunction)(void (*)(void))empty_callback, METH_FASTCALL, NULL};
static PyMethodDef call_def = {"empty_call", (PyCFunction)(void (*)(void))empty_call, METH_FASTCALL, NULL};

static PyObject *install(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *mon = PyObject_GetAttrString(sys, "monitoring");
    Py_DECREF(sys);
    PyObject *r = PyObject_CallMethod(mon, "use_tool_id", "is", 3, "emptyhook");
    if (!r)
        return NULL;
    Py_DECREF(r);
    PyObject *cb = PyCFunction_New(&callback_def, NULL);
    int events[] = {1, 2, 4, 8};  /* PY_START, PY_RESUME, PY_RETURN, PY_YIELD */
    for (int i = 0; i < 4; i++) {
        r = PyObject_CallMethod(mon, "register_callback", "iiO", 3, events[i], cb);
        if (!r)
            return NULL;
        Py_DECREF(r);
    }
    /* C calls: CALL, C_RETURN, C_RAISE */
    disable = PyObject_GetAttrString(mon, "DISABLE");
    PyObject *call = PyCFunction_New(&call_def, NULL);
    r = PyObject_CallMethod(mon, "register_callback", "iiO", 3, 16, call);
    Py_XDECREF(r);
    Py_DECREF(call);
    int c_events[] = {32768, 65536};
    for (int i = 0; i < 2; i++) {
        r = PyObject_CallMethod(mon, "register_callback", "iiO", 3, c_events[i], cb);
        if (!r)
            return NULL;
        Py_DECREF(r);
    }
    Py_DECREF(cb);
    r = PyObject_CallMethod(mon, "set_events", "ii", 3, 1 | 2 | 4 | 8 | 16 | 32768 | 65536);
    Py_DECREF(mon);
    return r;
#else
    PyEval_SetProfile(empty_profile, NULL);
    Py_RETURN_NONE;
#endif
}

/* threading.setprofile() target: puts the empty C hook into a new thread */
static PyObject *thread_hook(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self; (void)args; (void)nargs;
    PyEval_SetProfile(empty_profile, NULL);
    Py_RETURN_NONE;
}

/* Under callgrind --collect-atstart=no: count only between two toggles
 * (the workload itself, not start-up or the writing at the end). */
static PyObject *toggle_collect(PyObject *self, PyObject *unused)
{
    (void)self; (void)unused;
    CALLGRIND_TOGGLE_COLLECT;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"toggle_collect", toggle_collect, METH_NOARGS, "callgrind: toggle instruction counting"},
    {"install", install, METH_NOARGS, "install the empty hook"},
    {"thread_hook", (PyCFunction)(void (*)(void))thread_hook, METH_FASTCALL, "threading.setprofile target"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "emptyhook", NULL, -1, methods, NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_emptyhook(void) { return PyModule_Create(&module); }
