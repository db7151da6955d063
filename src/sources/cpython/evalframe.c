/* The frame-evaluation instrumenter (PEP 523, Python 3.9 to 3.11): the
 * interpreter calls our function to run every Python frame (function
 * calls, and each resumption of a generator or coroutine), we record the
 * enter, run the frame with the interpreter's own function and record the
 * leave when it returns or raises.
 *
 * Cheaper per call than the profile hook there (no event dispatch, no
 * frame object on 3.11), but it sees Python frames only: C functions are
 * not regions with it.  Like sys.monitoring it covers every thread of the
 * interpreter at once.  On 3.11 it turns off the interpreter's inlining of
 * Python-to-Python calls, so each Python call also takes some C stack. */
#include "instrumenter.h"
#include "recording.h"
#include "regions.h"

/* 3.11 frames are only readable with CPython's internal headers (installed
 * with CPython; without them this instrumenter is not built) */
#if PY_VERSION_HEX >= 0x03090000 && PY_VERSION_HEX < 0x030C0000 && \
    (PY_VERSION_HEX < 0x030B0000 || defined(HOOK_FRAME_INTERNALS))
#define EVALFRAME_AVAILABLE 1
#endif

#ifdef EVALFRAME_AVAILABLE

bool eval_available(void) { return true; }

#if PY_VERSION_HEX >= 0x030B0000
typedef struct _PyInterpreterFrame eval_frame;
#define FRAME_CODE(f) ((f)->f_code)
#define FRAME_GLOBALS(f) ((f)->f_globals)
/* no Python frame below it in its thread (before the interpreter links it) */
#define FRAME_OUTERMOST(ts, f) ((ts)->cframe->current_frame == NULL)
/* Calling a generator or coroutine function runs its frame once, just to
 * make the generator object (RETURN_GENERATOR); that is not a call of its
 * code yet: the resumptions are. */
#define MAKES_GENERATOR(f)                                                                                     \
    (((f)->f_code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)) != 0 &&                      \
     (f)->owner != FRAME_OWNED_BY_GENERATOR)
#else
typedef PyFrameObject eval_frame;
#define FRAME_CODE(f) ((f)->f_code)
#define FRAME_GLOBALS(f) ((f)->f_globals)
#define FRAME_OUTERMOST(ts, f) ((f)->f_back == NULL)
#define MAKES_GENERATOR(f) 0
#endif

/* enter_full(): the frame runs before its thread reached its program */
#define REGION_BEFORE_START (UINT32_MAX - 2)

static _PyFrameEvalFunction previous;  /* what ran frames before us */
static bool installed;

/* Everything but the common case: the first call of a code object
 * (naming), threads not set up or not recording, recording off, metrics.
 * Returns the region whose leave to record when the frame ends, or
 * REGION_SKIP, or REGION_BEFORE_START for a frame that runs while a new
 * thread has not reached its program yet. */
static __attribute__((noinline)) uint32_t enter_full(PyThreadState *tstate, eval_frame *frame)
{
    if (record_stopped())
        return REGION_SKIP;
    thread_state *t = thread_current();
    if (!t)
        return REGION_SKIP;
    if (!t->started && !thread_first_frame(t, FRAME_CODE(frame), FRAME_GLOBALS(frame), FRAME_OUTERMOST(tstate, frame)))
        return REGION_BEFORE_START;
    if (t->suspended)
        return REGION_SKIP;
    uint32_t region = code_region(FRAME_CODE(frame), FRAME_GLOBALS(frame));
    if (filtered_extent(region)) {
        scorep_filtered_enter();
        return REGION_FILTERED;  /* (its end: leave_full) */
    }
    if (!REGION_RECORDED(region))
        return REGION_SKIP;
    scorep_enter(t->loc, region);
    return region;
}

static __attribute__((noinline)) void leave_full(eval_frame *frame, uint32_t region)
{
    if (region == REGION_FILTERED) {
        scorep_filtered_leave();
        return;
    }
    if (record_stopped())
        return;
    thread_state *t = thread_current();
    if (!t)
        return;
    if (region == REGION_BEFORE_START) {
        /* Thread.run: thread_start() recorded its enter once the thread
         * started, the other frames of the bootstrap stay unrecorded */
        if (t->start_frame != (void *)frame)
            return;
        t->start_frame = NULL;
        region = t->start_region;
    }
    scorep_leave(t->loc, region);
}

/* Near the end of the C stack: frame evaluation goes back to CPython's
 * own for this frame and all it calls (on 3.11 those calls then run
 * without C recursion, as without us), so the program reaches the depth
 * it would reach without measurement; these calls are not recorded, and
 * the end of the measurement says so. */
static unsigned deep_thread = UINT32_MAX;  /* the first thread that went that deep */
static PyObject *eval(PyThreadState *tstate, eval_frame *frame, int throwflag);

static __attribute__((noinline)) PyObject *eval_deep(PyThreadState *tstate, eval_frame *frame, int throwflag)
{
    thread_state *t = thread_current_state;
    if (deep_thread == UINT32_MAX && t && t->loc)
        deep_thread = t->loc->index;
    PyInterpreterState *interp = PyThreadState_GetInterpreter(tstate);
    _PyInterpreterState_SetEvalFrameFunc(interp, previous);
    PyObject *result = _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    if (installed)
        _PyInterpreterState_SetEvalFrameFunc(interp, eval);
    return result;
}

static void eval_report(void)
{
    if (deep_thread != UINT32_MAX)
        scorep_log_warning("the eval instrumenter did not record calls nested deeper than the C stack allows it "
                           "(thread %u): frame evaluation hooks take C stack for every call; "
                           "--instrumenter-type=profile records them", deep_thread);
}

static PyObject *eval(PyThreadState *tstate, eval_frame *frame, int throwflag)
{
    if (MAKES_GENERATOR(frame))
        return _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    if (__builtin_expect(thread_current_state != NULL &&
                         (char *)__builtin_frame_address(0) < thread_current_state->stack_floor, 0))
        return eval_deep(tstate, frame, throwflag);
    /* the region to leave, or REGION_SKIP when the enter was not recorded */
    uint32_t region = code_region_fast(FRAME_CODE(frame));
    if (!record_fast(thread_current_state, EVENT_ENTER, region))
        region = enter_full(tstate, frame);
    PyObject *result = _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    if (region != REGION_SKIP && !record_fast(thread_current_state, EVENT_LEAVE, region))
        leave_full(frame, region);
    return result;
}

static int eval_install(void)
{
    if (!thread_current()) {
        PyErr_SetString(PyExc_RuntimeError, "scorep: this thread cannot be measured (out of memory)");
        return -1;
    }
    if (installed)
        return 0;
    threads_watch_stack();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    previous = _PyInterpreterState_GetEvalFrameFunc(interp);
    if (previous != _PyEval_EvalFrameDefault) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the eval instrumenter cannot start: another tool (a debugger or profiler) already "
                        "evaluates frames in this interpreter");
        return -1;
    }
    _PyInterpreterState_SetEvalFrameFunc(interp, eval);
    installed = true;
    return 0;
}

static void eval_uninstall(void)
{
    if (!installed)
        return;
    PyInterpreterState *interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    if (_PyInterpreterState_GetEvalFrameFunc(interp) == eval)
        _PyInterpreterState_SetEvalFrameFunc(interp, previous);
    installed = false;
}

static bool eval_installed(void) { return installed; }


const instrumenter eval_instrumenter = {
    .name = "eval",
    .install = eval_install,
    .uninstall = eval_uninstall,
    .installed = eval_installed,
    .thread_begins = thread_begins_covered,
    .report = eval_report,
};

#else

bool eval_available(void) { return false; }

static int unavailable(void)
{
    PyErr_SetString(PyExc_RuntimeError, "the eval instrumenter needs Python 3.9, 3.10 or 3.11 (on 3.11 built with "
                                        "CPython's internal headers)");
    return -1;
}

const instrumenter eval_instrumenter = {.name = "eval", .install = unavailable};

#endif
