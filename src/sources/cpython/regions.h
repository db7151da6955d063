/* Region ids of Python code objects and C functions, as Score-P's Python
 * bindings name them (module:function, module.Class:method).  A region is
 * named once per code object (cached in its co_extra slot) or per C method
 * definition (cached in a pointer map); event paths only read the caches:
 * one fast and one full lookup per cache. */
#ifndef SCOREP_CPYTHON_REGIONS_H
#define SCOREP_CPYTHON_REGIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../../core/ptrmap.h"
#include "../../core/scorep.h"
#include "interpreter.h"

/* Region ids meaning "not recorded": the measurement's own code (and the C
 * functions it calls; also a region that could not be defined), and
 * regions excluded by the filter.  Both are above every real region id. */
#define REGION_SKIP DEFS_NO_ID
#define REGION_FILTERED (DEFS_NO_ID - 1)
#define REGION_RECORDED(r) ((r) < REGION_FILTERED)

/* Set up the caches; own_package_dir: code there is never recorded. */
bool regions_init(PyObject *own_package_dir);

bool regions_is_own_file(PyObject *filename);

/* A str as NUL-terminated UTF-8 for the core, escaped where UTF-8 or C
 * strings cannot hold it (lone surrogates, NUL); *holder: a reference to
 * release afterwards (may be NULL).  NULL if text is no str. */
const char *regions_text(PyObject *text, PyObject **holder);
/* The file name made absolute without running Python code. */
PyObject *regions_absolute_file(PyObject *filename);

/* ---- code objects ---- */

/* The code object's extra slots as CPython lays them out (3.6 to 3.13):
 * read directly on the fast path, once regions_init() has checked the
 * layout against the official API. */
typedef struct {
    Py_ssize_t size;
    void *extras[1];
} code_extra_layout;

extern Py_ssize_t regions_extra_index;
/* regions_extra_index when the layout is as expected, else a value no code
 * object reaches, so that the fast lookup always misses */
extern Py_ssize_t regions_extra_fast_index;

/* The fast path's lookup: any value at or above EVENT_REGION_LIMIT (not
 * named yet, REGION_SKIP, REGION_FILTERED, or an id too large for a
 * one-word record) sends the caller to its full path. */
static inline uint32_t code_region_fast(PyCodeObject *code)
{
    const code_extra_layout *e = (const code_extra_layout *)code->co_extra;
    if (__builtin_expect(e != NULL && regions_extra_fast_index < e->size, 1))
        return (uint32_t)((uintptr_t)e->extras[regions_extra_fast_index] - 1);
    return REGION_SKIP;
}

extern bool regions_extra_direct;  /* the layout is as expected */

static inline void *code_extra(PyCodeObject *code)
{
    if (__builtin_expect(regions_extra_direct, 1)) {
        const code_extra_layout *e = (const code_extra_layout *)code->co_extra;
        return e && regions_extra_index < e->size ? e->extras[regions_extra_index] : NULL;
    }
    void *extra = NULL;
#if PY_VERSION_HEX >= 0x030C0000
    PyUnstable_Code_GetExtra((PyObject *)code, regions_extra_index, &extra);
#else
    _PyCode_GetExtra((PyObject *)code, regions_extra_index, &extra);
#endif
    return extra;
}

/* The region named for this code before, or REGION_SKIP (for leaves:
 * code never seen entering has nothing to leave). */
static inline uint32_t code_region_cached(PyCodeObject *code)
{
    void *extra = code_extra(code);
    return extra ? (uint32_t)((uintptr_t)extra - 1) : REGION_SKIP;
}

/* Name the code's region now and cache it (globals: its module's, for the
 * module and class names; borrowed, may be NULL). */
uint32_t regions_name_code(PyCodeObject *code, PyObject *globals);

/* The code's region, named now if it has none yet. */
static inline uint32_t code_region(PyCodeObject *code, PyObject *globals)
{
    void *extra = code_extra(code);
    if (__builtin_expect(extra != NULL, 1))
        return (uint32_t)((uintptr_t)extra - 1);
    return regions_name_code(code, globals);
}

/* "module:function" or "module.Class:method" (a new reference). */
PyObject *regions_code_name(PyCodeObject *code, PyObject *globals);

/* ---- C functions ---- */

extern ptrmap regions_c_functions;  /* PyMethodDef* -> region id */

/* The method definition behind a C function or a method descriptor, else
 * NULL (exact types first: one compare in the common case). */
static inline const PyMethodDef *callable_method_def(PyObject *callable)
{
    if (Py_IS_TYPE(callable, &PyCFunction_Type))
        return ((PyCFunctionObject *)callable)->m_ml;
    if (Py_IS_TYPE(callable, &PyMethodDescr_Type))
        return ((PyMethodDescrObject *)callable)->d_method;
    if (PyCFunction_Check(callable))  /* subtypes, e.g. METH_METHOD functions */
        return ((PyCFunctionObject *)callable)->m_ml;
    return NULL;
}

/* The region of a C function or method descriptor seen before, else
 * REGION_SKIP (anything else is no region either). */
static inline uint32_t callable_region_cached(PyObject *callable)
{
    const PyMethodDef *def = callable_method_def(callable);
    uint32_t region;
    if (def && ptrmap_get(&regions_c_functions, def, &region))
        return region;
    return REGION_SKIP;
}

/* The same for a method definition (callable_method_def). */
static inline uint32_t method_def_region_cached(const PyMethodDef *def)
{
    uint32_t region;
    if (def && ptrmap_get(&regions_c_functions, def, &region))
        return region;
    return REGION_SKIP;
}

uint32_t regions_name_callable(PyObject *callable);

/* The region of a called callable, named now if it has none yet. */
static inline uint32_t callable_region(PyObject *callable)
{
    const PyMethodDef *def = callable_method_def(callable);
    if (!def)
        return REGION_SKIP;
    uint32_t region;
    if (__builtin_expect(ptrmap_get(&regions_c_functions, def, &region), 1))
        return region;
    return regions_name_callable(callable);
}

#endif
