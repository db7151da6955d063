/* Shared declarations of the CPython event source (the only part of the
 * project that includes Python.h). */
#ifndef SCOREP_CPYTHON_GLUE_H
#define SCOREP_CPYTHON_GLUE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../core/location.h"
#include "../../core/ptrmap.h"

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) { Py_INCREF(o); return o; }
static inline PyObject *Py_XNewRef(PyObject *o) { Py_XINCREF(o); return o; }
#endif

/* Region ids meaning "not recorded": the measurement's own code (and the C
 * functions it calls), and regions excluded by the filter.  Both are below
 * no real region id. */
#define REGION_SKIP UINT32_MAX
#define REGION_FILTERED (UINT32_MAX - 1)
#define REGION_RECORDED(r) ((r) < REGION_FILTERED)

/* Per-thread state handed to the profile/trace callback as its argument. */
typedef struct {
    PyObject_HEAD
    location *loc;
    int suspended;              /* >0: the measurement's own code runs, record nothing */
    bool started;               /* past the thread bootstrap: its program runs */
    uint32_t *user_regions;     /* open user regions, for unmatched-exit checks */
    size_t user_depth, user_capacity;
} thread_state;

typedef enum { INSTRUMENTER_PROFILE, INSTRUMENTER_TRACE, INSTRUMENTER_MONITORING, INSTRUMENTER_DUMMY } instrumenter_kind;

/* naming.c: region ids for code objects and C functions */
bool naming_init(PyObject *own_package_dir);
bool naming_is_own_file(PyObject *filename);
uint32_t naming_code_region_slow(PyCodeObject *code, PyFrameObject *frame);
uint32_t naming_code_region_with_globals(PyCodeObject *code, PyObject *globals);
uint32_t naming_cfunction_region_slow(PyCFunctionObject *func);
extern ptrmap naming_cfunction_cache;

/* Region of a C function seen before, else REGION_SKIP. */
static inline uint32_t naming_cfunction_region_cached(PyObject *func)
{
    uint32_t region;
    if (PyCFunction_Check(func) &&
        ptrmap_get(&naming_cfunction_cache, ((PyCFunctionObject *)func)->m_ml, &region))
        return region;
    return REGION_SKIP;
}

/* Region of any callable seen by a sys.monitoring CALL event: C functions
 * and method descriptors are regions, everything else REGION_SKIP. */
uint32_t naming_callable_region_slow(PyObject *callable);

static inline uint32_t naming_callable_region(PyObject *callable)
{
    PyMethodDef *def = NULL;
    if (PyCFunction_Check(callable))
        def = ((PyCFunctionObject *)callable)->m_ml;
    else if (Py_IS_TYPE(callable, &PyMethodDescr_Type))
        def = ((PyMethodDescrObject *)callable)->d_method;
    else
        return REGION_SKIP;
    uint32_t region;
    if (__builtin_expect(ptrmap_get(&naming_cfunction_cache, def, &region), 1))
        return region;
    return naming_callable_region_slow(callable);
}

static inline uint32_t naming_callable_region_cached(PyObject *callable)
{
    PyMethodDef *def = NULL;
    if (PyCFunction_Check(callable))
        def = ((PyCFunctionObject *)callable)->m_ml;
    else if (Py_IS_TYPE(callable, &PyMethodDescr_Type))
        def = ((PyMethodDescrObject *)callable)->d_method;
    uint32_t region;
    if (def && ptrmap_get(&naming_cfunction_cache, def, &region))
        return region;
    return REGION_SKIP;
}

/* Region of a called C function (arg of a C_CALL event). */
static inline uint32_t naming_cfunction_region(PyObject *func)
{
    if (!PyCFunction_Check(func))
        return REGION_SKIP;
    PyCFunctionObject *f = (PyCFunctionObject *)func;
    uint32_t region;
    if (__builtin_expect(ptrmap_get(&naming_cfunction_cache, f->m_ml, &region), 1))
        return region;
    return naming_cfunction_region_slow(f);
}
PyObject *naming_absolute_file(PyObject *filename);
PyObject *naming_code_region_name(PyCodeObject *code, PyObject *globals);
extern Py_ssize_t naming_extra_index;

/* The cached region of a code object, or REGION_SKIP if it has none yet. */
static inline uint32_t naming_code_region_cached(PyCodeObject *code)
{
    void *extra = NULL;
#if PY_VERSION_HEX >= 0x030C0000
    PyUnstable_Code_GetExtra((PyObject *)code, naming_extra_index, &extra);
#else
    _PyCode_GetExtra((PyObject *)code, naming_extra_index, &extra);
#endif
    return extra ? (uint32_t)((uintptr_t)extra - 1) : REGION_SKIP;
}

static inline uint32_t naming_code_region(PyCodeObject *code, PyFrameObject *frame)
{
    void *extra = NULL;
#if PY_VERSION_HEX >= 0x030C0000
    PyUnstable_Code_GetExtra((PyObject *)code, naming_extra_index, &extra);
#else
    _PyCode_GetExtra((PyObject *)code, naming_extra_index, &extra);
#endif
    if (__builtin_expect(extra != NULL, 1))
        return (uint32_t)((uintptr_t)extra - 1);
    return naming_code_region_slow(code, frame);
}

/* hook.c: the instrumenter */
void hook_record_enter(location *loc, uint32_t region);
void hook_record_leave(location *loc, uint32_t region);
extern instrumenter_kind hook_kind;
extern bool hook_c_calls;
thread_state *hook_thread_current(void);
int hook_install_current(void);
void hook_uninstall_current(void);
void hook_install_other_threads(void);
bool hook_installed_current(void);
extern PyTypeObject thread_state_type;

/* monitoring.c: the sys.monitoring instrumenter (3.12+) */
int monitoring_enable(void);
void monitoring_disable(void);
bool monitoring_enabled(void);
extern PyMethodDef hook_thread_start_def;

#endif
