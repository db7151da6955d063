#include "state.h"

#include <stdatomic.h>

_Atomic int scorep_state = MEASUREMENT_STOPPED;
_Atomic int scorep_fast;
__thread unsigned state_own_work;
static atomic_bool fast_allowed;

void state_set(measurement_state state)
{
    atomic_store(&scorep_state, state);
    atomic_store(&scorep_fast, state == MEASUREMENT_ACTIVE && atomic_load(&fast_allowed));
}

void state_allow_fast(bool allowed) { atomic_store(&fast_allowed, allowed); }
