#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#ifdef SCOREP_HAVE_PAPI
#include <dlfcn.h>
#include <papi.h>
#endif

_Atomic unsigned metrics_active;

typedef enum {
    RU_UTIME, RU_STIME, RU_MAXRSS, RU_IXRSS, RU_IDRSS, RU_ISRSS, RU_MINFLT, RU_MAJFLT, RU_NSWAP, RU_INBLOCK,
    RU_OUBLOCK, RU_MSGSND, RU_MSGRCV, RU_NSIGNALS, RU_NVCSW, RU_NIVCSW, RU_FIELD_COUNT
} rusage_field;

static const metric_def rusage_fields[RU_FIELD_COUNT] = {
    {"ru_utime", "us", "user CPU time used", true, METRIC_SCOPE_THREAD},
    {"ru_stime", "us", "system CPU time used", true, METRIC_SCOPE_THREAD},
    {"ru_maxrss", "kB", "maximum resident set size", false, METRIC_SCOPE_THREAD},
    {"ru_ixrss", "kB*ticks", "integral shared memory size", true, METRIC_SCOPE_THREAD},
    {"ru_idrss", "kB*ticks", "integral unshared data size", true, METRIC_SCOPE_THREAD},
    {"ru_isrss", "kB*ticks", "integral unshared stack size", true, METRIC_SCOPE_THREAD},
    {"ru_minflt", "#", "page reclaims (soft page faults)", true, METRIC_SCOPE_THREAD},
    {"ru_majflt", "#", "page faults (hard page faults)", true, METRIC_SCOPE_THREAD},
    {"ru_nswap", "#", "swaps", true, METRIC_SCOPE_THREAD},
    {"ru_inblock", "#", "block input operations", true, METRIC_SCOPE_THREAD},
    {"ru_oublock", "#", "block output operations", true, METRIC_SCOPE_THREAD},
    {"ru_msgsnd", "#", "IPC messages sent", true, METRIC_SCOPE_THREAD},
    {"ru_msgrcv", "#", "IPC messages received", true, METRIC_SCOPE_THREAD},
    {"ru_nsignals", "#", "signals received", true, METRIC_SCOPE_THREAD},
    {"ru_nvcsw", "#", "voluntary context switches", true, METRIC_SCOPE_THREAD},
    {"ru_nivcsw", "#", "involuntary context switches", true, METRIC_SCOPE_THREAD},
};

typedef struct {
    metric_def def;
    rusage_field field;     /* RU_FIELD_COUNT for a PAPI counter */
} metric_slot;

/* Record order: per-thread rusage fields, PAPI counters, then per-process
 * rusage fields. */
static metric_slot slots[METRICS_MAX];
static unsigned thread_count, process_count, papi_count;
static metric_def definitions[METRICS_MAX];  /* the definitions of slots[] */

#ifdef SCOREP_HAVE_PAPI
static char papi_names[METRICS_MAX][PAPI_MAX_STR_LEN];
static int papi_codes[METRICS_MAX];
static __thread int papi_eventset = PAPI_NULL;
static __thread int papi_state;  /* 0 untried, 1 counting, -1 failed */

static unsigned long thread_id(void) { return (unsigned long)pthread_self(); }

/* libpapi (and libpfm, which it needs) is loaded when counters are asked
 * for: a process without them does not pay for loading it (~1.5 ms). */
#define PAPI_FUNCTIONS(X) X(library_init) X(thread_init) X(event_name_to_code) X(query_event) \
    X(create_eventset) X(add_event) X(start) X(read) X(strerror)
static struct {
#define PAPI_POINTER(name) __typeof__(&PAPI_##name) name;
    PAPI_FUNCTIONS(PAPI_POINTER)
#undef PAPI_POINTER
} papi;

static bool papi_load(char *err, size_t errlen)
{
    if (papi.read)
        return true;
    void *library = dlopen(SCOREP_PAPI_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: the PAPI library cannot be loaded (%s)",
                 dlerror());
        return false;
    }
#define PAPI_LOOKUP(name)                                                                                     \
    if (!(*(void **)&papi.name = dlsym(library, "PAPI_" #name))) {                                            \
        snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: %s has no PAPI_%s", SCOREP_PAPI_LIBRARY, \
                 #name);                                                                                      \
        papi.read = NULL;                                                                                     \
        return false;                                                                                         \
    }
    PAPI_FUNCTIONS(PAPI_LOOKUP)
#undef PAPI_LOOKUP
    return true;
}

/* Make and start this thread's event set; false with a message on error. */
static bool papi_start_thread(char *err, size_t errlen)
{
    int rc = papi.create_eventset(&papi_eventset);
    for (unsigned i = 0; rc == PAPI_OK && i < papi_count; i++) {
        rc = papi.add_event(papi_eventset, papi_codes[i]);
        if (rc != PAPI_OK && err)
            snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: counter '%s' cannot be counted here (PAPI: %s)",
                     papi_names[i], papi.strerror(rc));
    }
    if (rc == PAPI_OK)
        rc = papi.start(papi_eventset);
    if (rc != PAPI_OK && err && !err[0])
        snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: the counters cannot be started here (PAPI: %s)",
                 papi.strerror(rc));
    papi_state = rc == PAPI_OK ? 1 : -1;
    return rc == PAPI_OK;
}

static bool add_papi(const char *list, const char *sep, char *err, size_t errlen)
{
    if (!list[0])
        return true;
    if (!papi_load(err, errlen))
        return false;
    int rc = papi.library_init(PAPI_VER_CURRENT);
    if (rc != PAPI_VER_CURRENT) {
        snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: PAPI cannot be initialised (%s)",
                 rc < 0 ? papi.strerror(rc) : "version mismatch");
        return false;
    }
    papi.thread_init(thread_id);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    char *save = NULL;
    for (char *item = strtok_r(copy, sep && sep[0] ? sep : ",", &save); item;
         item = strtok_r(NULL, sep && sep[0] ? sep : ",", &save)) {
        while (*item == ' ')
            item++;
        if (!*item)
            continue;
        if (thread_count == METRICS_MAX) {
            snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: more than %d metrics", METRICS_MAX);
            return false;
        }
        int code;
        if (papi.event_name_to_code(item, &code) != PAPI_OK || papi.query_event(code) != PAPI_OK) {
            snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: PAPI counter '%s' is not available on this "
                                  "machine (see papi_avail)", item);
            return false;
        }
        snprintf(papi_names[papi_count], sizeof papi_names[0], "%s", item);
        papi_codes[papi_count++] = code;
        slots[thread_count++] = (metric_slot){{papi_names[papi_count - 1], "#", "PAPI hardware counter", true,
                                               METRIC_SCOPE_THREAD}, RU_FIELD_COUNT};
    }
    /* find out now, before the program runs, whether they can be counted */
    err[0] = '\0';
    return papi_start_thread(err, errlen);
}
#endif

static bool add_rusage(const char *variable, const char *list, const char *sep, metric_scope scope, char *err,
                       size_t errlen)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    const char *separators = sep && sep[0] ? sep : ",";
    char *save = NULL;
    for (char *item = strtok_r(copy, separators, &save); item; item = strtok_r(NULL, separators, &save)) {
        while (*item == ' ' || *item == '\t')
            item++;
        size_t n = strlen(item);
        while (n > 0 && (item[n - 1] == ' ' || item[n - 1] == '\t'))
            item[--n] = '\0';
        if (!n)
            continue;
        bool all = strcasecmp(item, "all") == 0;
        bool found = false;
        for (int f = 0; f < RU_FIELD_COUNT; f++) {
            if (!all && strcasecmp(item, rusage_fields[f].name) != 0)
                continue;
            found = true;
            bool duplicate = false;
            for (unsigned i = 0; i < thread_count + process_count; i++)
                duplicate |= slots[i].field == (rusage_field)f && slots[i].def.scope == scope;
            if (duplicate)
                continue;
            if (thread_count + process_count == METRICS_MAX) {
                snprintf(err, errlen, "invalid value for %s: more than %d metrics", variable, METRICS_MAX);
                return false;
            }
            metric_slot s = {rusage_fields[f], (rusage_field)f};
            s.def.scope = scope;
            slots[thread_count + process_count] = s;
            if (scope == METRIC_SCOPE_THREAD)
                thread_count++;
            else
                process_count++;
        }
        if (!found) {
            snprintf(err, errlen, "invalid value for %s: unknown resource usage metric '%s' (use ru_utime, ru_stime, "
                                  "ru_maxrss, ... or all)", variable, item);
            return false;
        }
    }
    return true;
}

bool metrics_init(const measurement_config *cfg, char *err, size_t errlen)
{
    thread_count = process_count = papi_count = 0;
    metrics_active = 0;
    if (!add_rusage("SCOREP_METRIC_RUSAGE", cfg->metric_rusage, cfg->metric_rusage_sep, METRIC_SCOPE_THREAD, err,
                    errlen))
        return false;
#ifdef SCOREP_HAVE_PAPI
    if (!add_papi(cfg->metric_papi, cfg->metric_papi_sep, err, errlen))
        return false;
#else
    if (cfg->metric_papi[0]) {
        snprintf(err, errlen, "invalid value for SCOREP_METRIC_PAPI: '%s' asks for PAPI counters, but this build has "
                              "no PAPI support (install libpapi-dev and reinstall scorep)", cfg->metric_papi);
        return false;
    }
#endif
    /* process metrics come after all thread metrics */
    if (!add_rusage("SCOREP_METRIC_RUSAGE_PER_PROCESS", cfg->metric_rusage_per_process, cfg->metric_rusage_sep,
                    METRIC_SCOPE_PROCESS, err, errlen))
        return false;
    metrics_active = thread_count + process_count;
    for (unsigned i = 0; i < metrics_active; i++)
        definitions[i] = slots[i].def;
    return true;
}

unsigned metrics_total(void) { return thread_count + process_count; }
unsigned metrics_thread_count(void) { return thread_count; }
const metric_def *metrics_defs(void) { return definitions; }

unsigned metrics_count(uint32_t location_index)
{
    return location_index == 0 ? thread_count + process_count : thread_count;
}

static uint64_t field_value(const struct rusage *ru, rusage_field f)
{
    switch (f) {
    case RU_UTIME: return (uint64_t)ru->ru_utime.tv_sec * 1000000u + (uint64_t)ru->ru_utime.tv_usec;
    case RU_STIME: return (uint64_t)ru->ru_stime.tv_sec * 1000000u + (uint64_t)ru->ru_stime.tv_usec;
    case RU_MAXRSS: return (uint64_t)ru->ru_maxrss;
    case RU_IXRSS: return (uint64_t)ru->ru_ixrss;
    case RU_IDRSS: return (uint64_t)ru->ru_idrss;
    case RU_ISRSS: return (uint64_t)ru->ru_isrss;
    case RU_MINFLT: return (uint64_t)ru->ru_minflt;
    case RU_MAJFLT: return (uint64_t)ru->ru_majflt;
    case RU_NSWAP: return (uint64_t)ru->ru_nswap;
    case RU_INBLOCK: return (uint64_t)ru->ru_inblock;
    case RU_OUBLOCK: return (uint64_t)ru->ru_oublock;
    case RU_MSGSND: return (uint64_t)ru->ru_msgsnd;
    case RU_MSGRCV: return (uint64_t)ru->ru_msgrcv;
    case RU_NSIGNALS: return (uint64_t)ru->ru_nsignals;
    case RU_NVCSW: return (uint64_t)ru->ru_nvcsw;
    case RU_NIVCSW: return (uint64_t)ru->ru_nivcsw;
    default: return 0;
    }
}

void metrics_read(uint32_t location_index, uint64_t *out)
{
    struct rusage thread_usage, process_usage;
    if (thread_count)
        getrusage(RUSAGE_THREAD, &thread_usage);
    bool process = location_index == 0 && process_count;
    if (process)
        getrusage(RUSAGE_SELF, &process_usage);
    unsigned n = process ? thread_count + process_count : thread_count;
    for (unsigned i = 0; i < n; i++)
        if (slots[i].field != RU_FIELD_COUNT)
            out[i] = field_value(slots[i].def.scope == METRIC_SCOPE_THREAD ? &thread_usage : &process_usage,
                                 slots[i].field);
#ifdef SCOREP_HAVE_PAPI
    if (papi_count) {
        long long counters[METRICS_MAX] = {0};
        if (papi_state == 0)
            papi_start_thread(NULL, 0);
        if (papi_state == 1)
            papi.read(papi_eventset, counters);
        unsigned k = 0;
        for (unsigned i = 0; i < thread_count; i++)
            if (slots[i].field == RU_FIELD_COUNT)
                out[i] = (uint64_t)counters[k++];
    }
#endif
}
