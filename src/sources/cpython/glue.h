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
#include "../../core/measurement.h"
#include "../../core/metrics.h"
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
    /* >0: record nothing: one per nesting of the measurement's own code,
     * plus one while the thread has not reached its program (!started) */
    int suspended;
    bool started;               /* past the thread bootstrap: its program runs */
    bool first_seen;            /* its first Python event has happened */
    /* eval instrumenter: the frame whose enter thread_start() recorded
     * (identity only, the interpreter's frame), and its region */
    void *start_frame;
    uint32_t start_region;
    uint32_t *user_regions;     /* open user regions, for unmatched-exit checks */
    size_t user_depth, user_capacity;
} thread_state;

typedef enum {
    INSTRUMENTER_PROFILE,
    INSTRUMENTER_TRACE,
    INSTRUMENTER_MONITORING,
    INSTRUMENTER_EVAL,
    INSTRUMENTER_DUMMY
} instrumenter_kind;

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

/* The method definition behind a C function or a method descriptor, else
 * NULL (exact types first: one compare in the common case). */
static inline const PyMethodDef *naming_callable_def(PyObject *callable)
{
    if (Py_IS_TYPE(callable, &PyCFunction_Type))
        return ((PyCFunctionObject *)callable)->m_ml;
    if (Py_IS_TYPE(callable, &PyMethodDescr_Type))
        return ((PyMethodDescrObject *)callable)->d_method;
    if (PyCFunction_Check(callable))  /* subtypes, e.g. METH_METHOD functions */
        return ((PyCFunctionObject *)callable)->m_ml;
    return NULL;
}

/* Region of any callable seen by a sys.monitoring CALL event: C functions
 * and method descriptors are regions, everything else REGION_SKIP. */
uint32_t naming_callable_region_slow(PyObject *callable);

static inline uint32_t naming_callable_region(PyObject *callable)
{
    const PyMethodDef *def = naming_callable_def(callable);
    if (!def)
        return REGION_SKIP;
    uint32_t region;
    if (__builtin_expect(ptrmap_get(&naming_cfunction_cache, def, &region), 1))
        return region;
    return naming_callable_region_slow(callable);
}

/* The same for callables seen before only (REGION_SKIP otherwise). */
static inline uint32_t naming_callable_region_cached(PyObject *callable)
{
    const PyMethodDef *def = naming_callable_def(callable);
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

/* The code object's extra slots as CPython lays them out (3.6 to 3.13):
 * read directly on the hot path, once naming_init() has checked the layout
 * against the official API; otherwise through the API. */
typedef struct {
    Py_ssize_t size;
    void *extras[1];
} code_extra_layout;
extern bool naming_extra_direct;
/* naming_extra_index when the layout is as expected, else a value no code
 * object reaches, so that the fast lookup always misses */
extern Py_ssize_t naming_extra_fast_index;

/* The region cached in a code object as the fast paths read it: any value
 * at or above EVENT_REGION_LIMIT (not named yet, REGION_SKIP,
 * REGION_FILTERED, or an id too large for a one-word record) sends the
 * caller to its full path. */
static inline uint32_t code_region_fast(PyCodeObject *code)
{
    const code_extra_layout *e = (const code_extra_layout *)code->co_extra;
    if (__builtin_expect(e != NULL && naming_extra_fast_index < e->size, 1))
        return (uint32_t)((uintptr_t)e->extras[naming_extra_fast_index] - 1);
    return REGION_SKIP;
}

static inline void *code_extra(PyCodeObject *code)
{
    if (__builtin_expect(naming_extra_direct, 1)) {
        const code_extra_layout *e = (const code_extra_layout *)code->co_extra;
        return e && naming_extra_index < e->size ? e->extras[naming_extra_index] : NULL;
    }
    void *extra = NULL;
#if PY_VERSION_HEX >= 0x030C0000
    PyUnstable_Code_GetExtra((PyObject *)code, naming_extra_index, &extra);
#else
    _PyCode_GetExtra((PyObject *)code, naming_extra_index, &extra);
#endif
    return extra;
}

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
static inline PyCodeObject *hook_frame_code(PyFrameObject *frame) { return frame->f_frame->f_code; }
#elif PY_VERSION_HEX < 0x030B0000
static inline PyCodeObject *hook_frame_code(PyFrameObject *frame) { return frame->f_code; }
#else
static inline PyCodeObject *hook_frame_code(PyFrameObject *frame)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    Py_DECREF(code);  /* the frame keeps it alive */
    return code;
}
#endif

/* The cached region of a code object, or REGION_SKIP if it has none yet. */
static inline uint32_t naming_code_region_cached(PyCodeObject *code)
{
    void *extra = code_extra(code);
    return extra ? (uint32_t)((uintptr_t)extra - 1) : REGION_SKIP;
}

static inline uint32_t naming_code_region(PyCodeObject *code, PyFrameObject *frame)
{
    void *extra = code_extra(code);
    if (__builtin_expect(extra != NULL, 1))
        return (uint32_t)((uintptr_t)extra - 1);
    return naming_code_region_slow(code, frame);
}

/* hook.c: the instrumenter */
extern __thread thread_state *hook_tls_thread __attribute__((tls_model("initial-exec")));
thread_state *hook_thread_new(void);

/* For instrumenters that see every thread (sys.monitoring, eval): the
 * first Python frame seen in a thread that has not started.  A thread of
 * the threading module starts later, in thread_start() (its bootstrap is
 * not part of the program); a thread that was already running when the
 * instrumenter came on is not in its outermost frame and is left alone; any
 * other new thread (_thread.start_new_thread, threads of C extensions)
 * starts here.  Returns whether the thread runs its program now. */
bool hook_thread_first_frame(thread_state *t, PyCodeObject *code, bool outermost);

/* The calling thread's state (made on its first event). */
static inline thread_state *hook_thread_current(void)
{
    thread_state *t = hook_tls_thread;
    if (__builtin_expect(t != NULL, 1))
        return t;
    return hook_thread_new();
}

/* The fast path shared by all instrumenters: records the event and returns
 * true in the common case (recording with the TSC, no metrics, a thread
 * that runs its program, a region named before that fits a one-word
 * record); otherwise returns false and the caller takes its full path. */
static inline bool hook_fast_event(thread_state *t, unsigned kind, uint32_t region)
{
    return __builtin_expect(measurement_fast != 0, 1) && __builtin_expect(t != NULL, 1) &&
           __builtin_expect(t->suspended == 0, 1) && __builtin_expect(region < EVENT_REGION_LIMIT, 1) &&
           location_append_short(t->loc, kind, region, clock_now_tsc());
}

static inline void hook_record_enter(location *loc, uint32_t region)
{
    int state = measurement_current_state;
    if (__builtin_expect(state == MEASUREMENT_ACTIVE, 1)) {
        uint64_t now = clock_now();
        location_append(loc, EVENT_ENTER, region, now);
        if (__builtin_expect(metrics_active != 0, 0))
            metrics_record(loc, now);
    } else if (state == MEASUREMENT_RECORDING_OFF) {
        loc->off_depth++;
    }
}

static inline void hook_record_leave(location *loc, uint32_t region)
{
    int state = measurement_current_state;
    if (__builtin_expect(state == MEASUREMENT_ACTIVE, 1)) {
        uint64_t now = clock_now();
        location_append(loc, EVENT_LEAVE, region, now);
        if (__builtin_expect(metrics_active != 0, 0))
            metrics_record(loc, now);
    } else if (state == MEASUREMENT_RECORDING_OFF) {
        /* regions entered before recording went off still get their leave */
        if (loc->off_depth > 0)
            loc->off_depth--;
        else
            location_append(loc, EVENT_LEAVE, region, clock_now());
    }
}
extern instrumenter_kind hook_kind;
extern bool hook_c_calls;
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

/* evalframe.c: the frame-evaluation instrumenter (PEP 523, 3.9 to 3.11) */
extern const bool evalframe_available;
int evalframe_enable(void);
void evalframe_disable(void);
bool evalframe_enabled(void);

#endif
