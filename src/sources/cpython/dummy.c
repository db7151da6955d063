/* The dummy instrumenter: records nothing (the experiment directory is
 * still made, as with Score-P's). */
#include "instrumenter.h"

static int dummy_install(void) { return 0; }
static void dummy_uninstall(void) {}
static bool dummy_installed(void) { return false; }

static int dummy_thread_begins(thread_state *t, PyObject *frame, const char *event)
{
    (void)t;
    (void)frame;
    (void)event;
    OWN_HOOK_CHANGE(PyEval_SetProfile(NULL, NULL));
    return 0;
}

const instrumenter dummy_instrumenter = {
    .name = "dummy",
    .install = dummy_install,
    .uninstall = dummy_uninstall,
    .installed = dummy_installed,
    .thread_begins = dummy_thread_begins,
};
