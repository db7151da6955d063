/* What the CPython event source needs from the interpreter beyond its
 * stable API: version shims and the fastest way to a frame's code object.
 * (This layer is the only part of the project that includes Python.h.) */
#ifndef SCOREP_CPYTHON_INTERPRETER_H
#define SCOREP_CPYTHON_INTERPRETER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) { Py_INCREF(o); return o; }
static inline PyObject *Py_XNewRef(PyObject *o) { Py_XINCREF(o); return o; }
#endif

/* The code object of a frame without a reference count round trip: the
 * frame's own field up to 3.10; on 3.11 the interpreter frame behind it
 * (CPython's internal header), else the API. */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000 && defined(__has_include)
#if __has_include(<internal/pycore_frame.h>)
#define HOOK_FRAME_INTERNALS 1
#endif
#endif
#ifdef HOOK_FRAME_INTERNALS
#define Py_BUILD_CORE 1
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE
static inline PyCodeObject *frame_code(PyFrameObject *frame) { return frame->f_frame->f_code; }
#elif PY_VERSION_HEX < 0x030B0000
static inline PyCodeObject *frame_code(PyFrameObject *frame) { return frame->f_code; }
#else
static inline PyCodeObject *frame_code(PyFrameObject *frame)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    Py_DECREF(code);  /* the frame keeps it alive */
    return code;
}
#endif

/* The globals a frame runs with (a new reference). */
static inline PyObject *frame_globals(PyFrameObject *frame)
{
#if PY_VERSION_HEX >= 0x030B0000
    return PyFrame_GetGlobals(frame);
#else
    return Py_XNewRef(frame->f_globals);
#endif
}

/* An identity for a running frame that stays the same from its first event
 * to its last: the interpreter frame on 3.11, else the frame object. */
static inline void *frame_identity(PyFrameObject *frame)
{
#if PY_VERSION_HEX >= 0x030B0000 && defined(HOOK_FRAME_INTERNALS)
    return frame->f_frame;
#else
    return frame;
#endif
}

#endif
