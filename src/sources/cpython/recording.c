#include "recording.h"

bool record_c_calls = true;
bool record_filtered_extents;
