/* Metrics recorded with every enter and leave: getrusage fields
 * (SCOREP_METRIC_RUSAGE per thread, SCOREP_METRIC_RUSAGE_PER_PROCESS on the
 * master thread for the whole process) and, when built with PAPI, hardware
 * counters (SCOREP_METRIC_PAPI).  Values are unsigned 64-bit counters. */
#ifndef SCOREP_CORE_METRICS_H
#define SCOREP_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"

#define METRICS_MAX 40

typedef enum { METRIC_SCOPE_THREAD, METRIC_SCOPE_PROCESS } metric_scope;

typedef struct {
    const char *name;         /* e.g. "ru_utime", "PAPI_TOT_CYC" */
    const char *unit;         /* "us", "kB", "#" */
    const char *description;
    bool accumulated;         /* a counter since the start (else a level) */
    metric_scope scope;
} metric_def;

/* Parse the metric variables; false with a one-line message naming the
 * variable and the unknown metric. */
bool metrics_init(const measurement_config *cfg, char *err, size_t errlen);

/* Number of metrics recorded on the location with this index
 * (process-scope ones only on the master location, index 0), and their
 * definitions in record order. */
unsigned metrics_count(uint32_t location_index);
const metric_def *metrics_defs(void);        /* metrics_total() of them */
unsigned metrics_total(void);                /* thread metrics, then process metrics */
unsigned metrics_thread_count(void);

/* True when any metric is configured (read on every event: keep it cheap). */
extern _Atomic unsigned metrics_active;

/* Read the current values for the calling thread, whose location has this
 * index, into out[metrics_count(location_index)]. */
void metrics_read(uint32_t location_index, uint64_t *out);

#endif
