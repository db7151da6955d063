#include "recording.h"

bool record_c_calls = true;
