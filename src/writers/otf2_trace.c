#include "otf2_trace.h"

#include <otf2/otf2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/clock.h"
#include "../core/defs.h"
#include "../core/measurement.h"
#include "../core/metrics.h"
#include "../core/substrate.h"

static OTF2_Archive *archive;
static int slot = -1;
static pthread_mutex_t archive_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    OTF2_EvtWriter *writer;
    uint64_t last_time;
    uint64_t events;     /* number of events, taken when the writer is closed */  /* newest timestamp handed to the writer */
} trace_location;

static OTF2_FlushType pre_flush(void *user, OTF2_FileType type, OTF2_LocationRef loc, void *caller, bool final)
{
    (void)user; (void)type; (void)loc; (void)caller; (void)final;
    return OTF2_FLUSH;
}

/* OTF2 stamps the end of its own buffer flushes with this value.  Events are
 * replayed after the fact, so "now" would lie in their future; the newest
 * replayed timestamp keeps every location's time line monotonic. */
static __thread uint64_t replay_time __attribute__((tls_model("initial-exec")));

static OTF2_TimeStamp post_flush(void *user, OTF2_FileType type, OTF2_LocationRef loc)
{
    (void)user; (void)type; (void)loc;
    return replay_time;
}

static OTF2_FlushCallbacks flush_callbacks = {pre_flush, post_flush};

/* OTF2 keeps every chunk it fills in memory unless its allocator says no.
 * Event buffers get a few chunks each: when they are used up, OTF2 flushes
 * them to the file and starts over, so writing a long trace stays in
 * bounded memory.  Definition buffers are not limited. */
#define EVENT_CHUNK_SIZE (1024 * 1024)
#define EVENT_CHUNKS_PER_LOCATION 2

typedef struct {
    void **chunks;
    size_t count, capacity;
} chunk_list;

static void *chunk_allocate(void *user, OTF2_FileType type, OTF2_LocationRef loc, void **per_buffer, uint64_t size)
{
    (void)user;
    (void)loc;
    chunk_list *list = *per_buffer;
    if (!list) {
        list = calloc(1, sizeof *list);
        if (!list)
            return NULL;
        *per_buffer = list;
    }
    if (type == OTF2_FILETYPE_EVENTS && list->count >= EVENT_CHUNKS_PER_LOCATION)
        return NULL;  /* OTF2 flushes and frees, then asks again */
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 4;
        void **grown = realloc(list->chunks, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        list->chunks = grown;
        list->capacity = capacity;
    }
    void *chunk = malloc(size);
    if (chunk)
        list->chunks[list->count++] = chunk;
    return chunk;
}

static void chunk_free_all(void *user, OTF2_FileType type, OTF2_LocationRef loc, void **per_buffer, bool final)
{
    (void)user;
    (void)type;
    (void)loc;
    chunk_list *list = *per_buffer;
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->chunks[i]);
    list->count = 0;
    if (final) {
        free(list->chunks);
        free(list);
        *per_buffer = NULL;
    }
}

static OTF2_MemoryCallbacks memory_callbacks = {chunk_allocate, chunk_free_all};

static trace_location *trace_state(location *loc, uint64_t time)
{
    trace_location *state = loc->substrate_data[slot];
    if (!state) {
        state = calloc(1, sizeof *state);
        pthread_mutex_lock(&archive_lock);
        state->writer = OTF2_Archive_GetEvtWriter(archive, loc->id);
        pthread_mutex_unlock(&archive_lock);
        loc->substrate_data[slot] = state;
        if (loc->index == 0) {
            /* the master location carries the program begin/end */
            uint32_t n = (uint32_t)measurement.program_argc;
            OTF2_StringRef *args = calloc(n ? n : 1, sizeof *args);
            for (uint32_t i = 0; i < n; i++)
                args[i] = defs_string(measurement.program_args[i]);
            replay_time = measurement.start_time;
            OTF2_EvtWriter_ProgramBegin(state->writer, NULL, measurement.start_time,
                                        defs_string(measurement.program_name), n, args);
            free(args);
            state->last_time = measurement.start_time;
        }
    }
    replay_time = time > state->last_time ? time : state->last_time;
    state->last_time = replay_time;
    return state;
}

/* trace_state() for the common case, inline: a location with its writer
 * and a time that does not go back. */
static inline OTF2_EvtWriter *event_writer(location *loc, uint64_t time)
{
    trace_location *state = loc->substrate_data[slot];
    if (__builtin_expect(state != NULL && time >= state->last_time, 1)) {
        replay_time = state->last_time = time;
        return state->writer;
    }
    return trace_state(loc, time)->writer;
}

static void trace_enter(location *loc, uint64_t time, uint32_t region)
{
    OTF2_EvtWriter_Enter(event_writer(loc, time), NULL, time, region);
}

static void trace_leave(location *loc, uint64_t time, uint32_t region)
{
    OTF2_EvtWriter_Leave(event_writer(loc, time), NULL, time, region);
}

static void trace_parameter_int(location *loc, uint64_t time, uint32_t parameter, int64_t value)
{
    OTF2_EvtWriter_ParameterInt(trace_state(loc, time)->writer, NULL, time, parameter, value);
}

static void trace_parameter_uint(location *loc, uint64_t time, uint32_t parameter, uint64_t value)
{
    OTF2_EvtWriter_ParameterUnsignedInt(trace_state(loc, time)->writer, NULL, time, parameter, value);
}

static void trace_parameter_string(location *loc, uint64_t time, uint32_t parameter, uint32_t string)
{
    OTF2_EvtWriter_ParameterString(trace_state(loc, time)->writer, NULL, time, parameter, string);
}

static void trace_on_off(location *loc, uint64_t time, bool on)
{
    OTF2_EvtWriter_MeasurementOnOff(trace_state(loc, time)->writer, NULL, time,
                                    on ? OTF2_MEASUREMENT_ON : OTF2_MEASUREMENT_OFF);
}

static void trace_buffer_flush(location *loc, uint64_t time, uint64_t end_time)
{
    OTF2_EvtWriter_BufferFlush(trace_state(loc, time)->writer, NULL, time, end_time);
    trace_state(loc, end_time);
}

/* Metric classes: 0 holds the per-thread metrics, 1 (the master thread's)
 * the per-thread and the per-process ones. */
static OTF2_MetricRef metric_class_of(const location *loc)
{
    return loc->index == 0 && metrics_total() > metrics_thread_count() ? 1 : 0;
}

static void trace_metric(location *loc, uint64_t time, const uint64_t *values, unsigned count)
{
    OTF2_Type types[METRICS_MAX];
    OTF2_MetricValue converted[METRICS_MAX];
    for (unsigned i = 0; i < count && i < METRICS_MAX; i++) {
        types[i] = OTF2_TYPE_UINT64;
        converted[i].unsigned_int = values[i];
    }
    OTF2_EvtWriter_Metric(trace_state(loc, time)->writer, NULL, time, metric_class_of(loc), (uint8_t)count, types,
                          converted);
}

static const substrate_ops trace_ops = {
    .name = "tracing",
    .enter = trace_enter,
    .leave = trace_leave,
    .parameter_int = trace_parameter_int,
    .parameter_uint = trace_parameter_uint,
    .parameter_string = trace_parameter_string,
    .measurement_on_off = trace_on_off,
    .buffer_flush = trace_buffer_flush,
    .metric = trace_metric,
};

bool otf2_trace_open(const char *dir, char *err, size_t errlen)
{
    /* definition chunks of OTF2's smallest size: the library touches a
     * whole chunk per definition file, and 4 MiB (its default) made closing
     * the archive cost 3 ms more whatever the size of the trace */
    archive = OTF2_Archive_Open(dir, "traces", OTF2_FILEMODE_WRITE, EVENT_CHUNK_SIZE, OTF2_CHUNK_SIZE_MIN,
                                OTF2_SUBSTRATE_POSIX, OTF2_COMPRESSION_NONE);
    if (!archive) {
        snprintf(err, errlen, "cannot create the OTF2 archive in '%s'", dir);
        return false;
    }
    OTF2_Archive_SetFlushCallbacks(archive, &flush_callbacks, NULL);
    OTF2_Archive_SetMemoryCallbacks(archive, &memory_callbacks, NULL);
    OTF2_Archive_SetSerialCollectiveCallbacks(archive);
    OTF2_Archive_SetCreator(archive, "scorep (Python measurement)");
    OTF2_Archive_SetMachineName(archive, measurement.cfg.machine_name);
    OTF2_Archive_OpenEvtFiles(archive);
    slot = substrate_register(&trace_ops);
    return true;
}

static const char *host_name(void)
{
    static char name[256];
    if (gethostname(name, sizeof name) != 0)
        strcpy(name, "localhost");
    name[sizeof name - 1] = '\0';
    return name;
}

static OTF2_RegionRole region_role_otf2(region_role role)
{
    switch (role) {
    case REGION_ROLE_FUNCTION: return OTF2_REGION_ROLE_FUNCTION;
    case REGION_ROLE_USER: return OTF2_REGION_ROLE_CODE;
    case REGION_ROLE_ARTIFICIAL: return OTF2_REGION_ROLE_ARTIFICIAL;
    }
    return OTF2_REGION_ROLE_UNKNOWN;
}

static OTF2_Paradigm region_paradigm_otf2(region_paradigm paradigm)
{
    switch (paradigm) {
    case REGION_PARADIGM_USER: return OTF2_PARADIGM_USER;
    case REGION_PARADIGM_COMPILER: return OTF2_PARADIGM_COMPILER;
    case REGION_PARADIGM_MEASUREMENT: return OTF2_PARADIGM_MEASUREMENT_SYSTEM;
    }
    return OTF2_PARADIGM_UNKNOWN;
}

static OTF2_ParameterType parameter_type_otf2(parameter_type type)
{
    switch (type) {
    case PARAMETER_INT: return OTF2_PARAMETER_TYPE_INT64;
    case PARAMETER_UINT: return OTF2_PARAMETER_TYPE_UINT64;
    case PARAMETER_STRING: return OTF2_PARAMETER_TYPE_STRING;
    }
    return OTF2_PARAMETER_TYPE_STRING;
}

static void write_definitions(OTF2_GlobalDefWriter *defs)
{
    uint64_t start = measurement.start_time;
    uint64_t length = measurement.end_time - start;
    OTF2_GlobalDefWriter_WriteClockProperties(defs, clock_resolution(), start, length,
                                              clock_ticks_to_epoch_ns(start));

    /* Strings the system tree needs are defined before the strings are
     * written, since the table is append only. */
    uint32_t machine = defs_string(measurement.cfg.machine_name);
    uint32_t machine_class = defs_string("machine");
    uint32_t node = defs_string(host_name());
    uint32_t node_class = defs_string("node");
    uint32_t process = defs_string("Process");
    uint32_t empty = defs_string("");
    uint32_t paradigm_names[3] = {defs_string("User"), defs_string("Compiler"), defs_string("Measurement")};
    for (location *loc = location_first(); loc; loc = loc->next)
        defs_string(loc->name);
    unsigned metric_total = metrics_total();
    uint32_t metric_names[METRICS_MAX], metric_units[METRICS_MAX], metric_descriptions[METRICS_MAX];
    for (unsigned i = 0; i < metric_total; i++) {
        const metric_def *m = metrics_def(i);
        char name[128];
        /* a process-wide getrusage field gets its own name beside the per-thread one */
        snprintf(name, sizeof name, "%s%s", m->name, m->scope == METRIC_SCOPE_PROCESS ? " (process)" : "");
        metric_names[i] = defs_string(name);
        metric_units[i] = defs_string(m->unit);
        metric_descriptions[i] = defs_string(m->description);
    }

    uint32_t strings = defs_string_count();
    for (uint32_t i = 0; i < strings; i++)
        OTF2_GlobalDefWriter_WriteString(defs, i, defs_string_text(i));

    OTF2_GlobalDefWriter_WriteParadigm(defs, OTF2_PARADIGM_USER, paradigm_names[0], OTF2_PARADIGM_CLASS_PROCESS);
    OTF2_GlobalDefWriter_WriteParadigm(defs, OTF2_PARADIGM_COMPILER, paradigm_names[1], OTF2_PARADIGM_CLASS_PROCESS);
    OTF2_GlobalDefWriter_WriteParadigm(defs, OTF2_PARADIGM_MEASUREMENT_SYSTEM, paradigm_names[2],
                                       OTF2_PARADIGM_CLASS_PROCESS);

    OTF2_GlobalDefWriter_WriteSystemTreeNode(defs, 0, machine, machine_class, OTF2_UNDEFINED_SYSTEM_TREE_NODE);
    OTF2_GlobalDefWriter_WriteSystemTreeNode(defs, 1, node, node_class, 0);
    OTF2_GlobalDefWriter_WriteLocationGroup(defs, measurement.rank, process, OTF2_LOCATION_GROUP_TYPE_PROCESS, 1,
                                            OTF2_UNDEFINED_LOCATION_GROUP);

    uint32_t regions = defs_region_count();
    for (uint32_t i = 0; i < regions; i++) {
        region_def r = defs_region_get(i);
        OTF2_GlobalDefWriter_WriteRegion(defs, i, r.name, r.name, empty, region_role_otf2(r.role),
                                         region_paradigm_otf2(r.paradigm), OTF2_REGION_FLAG_NONE, r.file,
                                         r.first_line, r.last_line);
    }
    if (metric_total) {
        OTF2_MetricMemberRef members[METRICS_MAX];
        for (unsigned i = 0; i < metric_total; i++) {
            const metric_def *m = metrics_def(i);
            OTF2_GlobalDefWriter_WriteMetricMember(
                defs, i, metric_names[i], metric_descriptions[i], OTF2_METRIC_TYPE_OTHER,
                m->accumulated ? OTF2_METRIC_ACCUMULATED_START : OTF2_METRIC_ABSOLUTE_POINT, OTF2_TYPE_UINT64,
                OTF2_BASE_DECIMAL, 0, metric_units[i]);
            members[i] = i;
        }
        unsigned per_thread = metrics_thread_count();
        OTF2_GlobalDefWriter_WriteMetricClass(defs, 0, (uint8_t)per_thread, members, OTF2_METRIC_SYNCHRONOUS_STRICT,
                                              OTF2_RECORDER_KIND_CPU);
        if (metric_total > per_thread)
            OTF2_GlobalDefWriter_WriteMetricClass(defs, 1, (uint8_t)metric_total, members,
                                                  OTF2_METRIC_SYNCHRONOUS_STRICT, OTF2_RECORDER_KIND_CPU);
    }
    uint32_t parameters = defs_parameter_count();
    for (uint32_t i = 0; i < parameters; i++) {
        parameter_def p = defs_parameter_get(i);
        OTF2_GlobalDefWriter_WriteParameter(defs, i, p.name, parameter_type_otf2(p.type));
    }
    /* a thread that recorded nothing has no event file: it is no location */
    for (location *loc = location_first(); loc; loc = loc->next) {
        trace_location *state = loc->substrate_data[slot];
        if (state)
            OTF2_GlobalDefWriter_WriteLocation(defs, loc->id, defs_string(loc->name), OTF2_LOCATION_TYPE_CPU_THREAD,
                                               state->events, measurement.rank);
    }
}

bool otf2_trace_close(char *err, size_t errlen)
{
    /* the master location always exists in the trace: program begin/end */
    location *master = location_first();
    if (master) {
        trace_location *state = trace_state(master, measurement.end_time);
        OTF2_EvtWriter_ProgramEnd(state->writer, NULL, measurement.end_time,
                                  measurement.has_exit_status ? measurement.exit_status : OTF2_UNDEFINED_INT64);
    }
    for (location *loc = location_first(); loc; loc = loc->next) {
        trace_location *state = loc->substrate_data[slot];
        if (state) {
            OTF2_EvtWriter_GetNumberOfEvents(state->writer, &state->events);
            OTF2_Archive_CloseEvtWriter(archive, state->writer);
            state->writer = NULL;
        }
    }
    OTF2_Archive_CloseEvtFiles(archive);

    OTF2_Archive_OpenDefFiles(archive);
    for (location *loc = location_first(); loc; loc = loc->next) {
        if (!loc->substrate_data[slot])
            continue;
        OTF2_DefWriter *local = OTF2_Archive_GetDefWriter(archive, loc->id);
        OTF2_Archive_CloseDefWriter(archive, local);
    }
    OTF2_Archive_CloseDefFiles(archive);

    OTF2_GlobalDefWriter *defs = OTF2_Archive_GetGlobalDefWriter(archive);
    write_definitions(defs);
    OTF2_Archive_CloseGlobalDefWriter(archive, defs);
    OTF2_ErrorCode rc = OTF2_Archive_Close(archive);
    archive = NULL;
    for (location *loc = location_first(); loc; loc = loc->next) {
        free(loc->substrate_data[slot]);
        loc->substrate_data[slot] = NULL;
    }
    if (rc != OTF2_SUCCESS) {
        snprintf(err, errlen, "writing the OTF2 trace failed: %s", OTF2_Error_GetName(rc));
        return false;
    }
    return true;
}
