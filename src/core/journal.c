#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "experiment.h"
#include "location.h"

/* Records: a u32 type and a u32 payload length, then the payload (native
 * byte order: the journal is read on the machine that wrote it). */
enum {
    RECORD_START = 1,
    RECORD_STRING,     /* u32 id, the bytes */
    RECORD_REGION,     /* u32 id, name, group, file, first line, last line, role, paradigm */
    RECORD_PARAMETER,  /* u32 id, name, type */
    RECORD_LOCATION,   /* u64 id, u32 index, u32 name */
    RECORD_CLOCK,      /* u64 ticks, u64 CLOCK_MONOTONIC ns */
    RECORD_END,        /* u64 end time, u32 has exit status, u32 exit status: the results are written */
    RECORD_COMM,       /* u32 id, u64 key, u32 name, parent, size, has members, the members (u32 each) */
    RECORD_CLOCK_OFFSET, /* u32 index, u64 time, i64 offset, f64 deviation */
    RECORD_IO_HANDLE,  /* u32 id, name, file, flags, mode, status */
};

#define JOURNAL_VERSION 2
/* a clock reading at most this often (ns): enough to calibrate the TSC */
#define CLOCK_EVERY_NS 200000000ull

typedef struct {
    char *bytes;
    size_t used, capacity;
    bool failed;
} out_buffer;

static pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
static int journal_fd = -1;
static struct stat journal_id;     /* which file it is */
static atomic_bool journal_live;
static uint32_t strings_done, regions_done, parameters_done, comms_done, clock_offsets_done, io_handles_done;
static location *last_location;   /* the newest location in the journal */
static uint64_t last_clock_ns;

static void put(out_buffer *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->used + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->used + n)
            capacity *= 2;
        char *grown = realloc(b->bytes, capacity);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->bytes = grown;
        b->capacity = capacity;
    }
    memcpy(b->bytes + b->used, data, n);
    b->used += n;
}

static void put_u32(out_buffer *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(out_buffer *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_text(out_buffer *b, const char *s) { put(b, s, strlen(s) + 1); }

static void record(out_buffer *b, uint32_t type, uint32_t length)
{
    put_u32(b, type);
    put_u32(b, length);
}

/* The journal's descriptor, checked: the program may have closed it
 * (os.closerange) and its number may now be a file of the program's. */
static int checked_fd(void)
{
    struct stat st;
    if (journal_fd >= 0 && fstat(journal_fd, &st) == 0 && st.st_dev == journal_id.st_dev &&
        st.st_ino == journal_id.st_ino)
        return journal_fd;
    journal_fd = -1;
    int dir = experiment_fd();
    int fd = dir >= 0 ? openat(dir, JOURNAL_NAME, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == journal_id.st_dev && st.st_ino == journal_id.st_ino)
        return journal_fd = fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Write the buffer as it is; a failure stops the journal. */
static void write_out(out_buffer *b)
{
    int fd = checked_fd();
    if (b->failed || fd < 0) {
        atomic_store(&journal_live, false);
    } else {
        for (size_t done = 0; done < b->used;) {
            ssize_t n = write(fd, b->bytes + done, b->used - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                atomic_store(&journal_live, false);
                break;
            }
            done += (size_t)n;
        }
    }
    free(b->bytes);
}

static void put_clock(out_buffer *b, uint64_t ticks, uint64_t mono)
{
    record(b, RECORD_CLOCK, 16);
    put_u64(b, ticks);
    put_u64(b, mono);
    last_clock_ns = mono;
}

bool journal_open(const substrate_facts *s, uint32_t clock_kind, const char *host_name)
{
    int dir_fd = s->experiment_fd;
    pthread_mutex_lock(&journal_lock);
    int fd = dir_fd >= 0 ? openat(dir_fd, JOURNAL_NAME, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC,
                                  0644)
                         : -1;
    if (fd < 0 || fstat(fd, &journal_id) != 0) {
        if (fd >= 0)
            close(fd);
        pthread_mutex_unlock(&journal_lock);
        return false;
    }
    journal_fd = fd;
    strings_done = regions_done = parameters_done = comms_done = clock_offsets_done = io_handles_done = 0;
    last_location = NULL;
    atomic_store(&journal_live, true);

    out_buffer b = {0};
    uint64_t ticks, mono, epoch;
    clock_start_point(&ticks, &mono, &epoch);
    out_buffer payload = {0};
    put_u32(&payload, JOURNAL_VERSION);
    put_u32(&payload, s->rank);
    put_u64(&payload, (uint64_t)getpid());
    put_u64(&payload, s->start_time);
    put_u32(&payload, clock_kind);
    put_u64(&payload, ticks);
    put_u64(&payload, mono);
    put_u64(&payload, epoch);
    put_u32(&payload, s->program_region);
    put_u32(&payload, s->program_name);
    put_u32(&payload, s->program_argc);
    for (uint32_t i = 0; i < s->program_argc; i++)
        put_u32(&payload, s->program_args[i]);
    put_u32(&payload, s->metric_count);
    put_u32(&payload, s->thread_metric_count);
    for (unsigned i = 0; i < s->metric_count; i++) {
        const metric_def *m = &s->metrics[i];
        put_u32(&payload, m->accumulated);
        put_u32(&payload, m->scope);
        put_text(&payload, m->name);
        put_text(&payload, m->unit);
        put_text(&payload, m->description);
    }
    put_text(&payload, host_name);
    record(&b, RECORD_START, (uint32_t)payload.used);
    put(&b, payload.bytes, payload.used);
    b.failed |= payload.failed;
    free(payload.bytes);
    clock_reading(&ticks, &mono);
    put_clock(&b, ticks, mono);
    write_out(&b);
    pthread_mutex_unlock(&journal_lock);
    return true;
}

/* Every string made since the last call. */
static void put_new_strings(out_buffer *b)
{
    for (uint32_t n = defs_string_count(); strings_done < n; strings_done++) {
        const char *text = defs_string_text(strings_done);
        size_t len = strlen(text);
        record(b, RECORD_STRING, (uint32_t)(4 + len));
        put_u32(b, strings_done);
        put(b, text, len);
    }
}

void journal_sync(void)
{
    if (!atomic_load_explicit(&journal_live, memory_order_relaxed))
        return;
    pthread_mutex_lock(&journal_lock);
    if (!atomic_load(&journal_live)) {
        pthread_mutex_unlock(&journal_lock);
        return;
    }
    out_buffer b = {0};
    /* strings first: regions, parameters and locations refer to them */
    put_new_strings(&b);
    for (uint32_t n = defs_region_count(); regions_done < n; regions_done++) {
        region_def r = defs_region_get(regions_done);
        record(&b, RECORD_REGION, 32);
        uint32_t fields[8] = {regions_done, r.name, r.group, r.file, r.first_line, r.last_line, r.role, r.paradigm};
        put(&b, fields, sizeof fields);
    }
    for (uint32_t n = defs_parameter_count(); parameters_done < n; parameters_done++) {
        parameter_def p = defs_parameter_get(parameters_done);
        record(&b, RECORD_PARAMETER, 12);
        put_u32(&b, parameters_done);
        put_u32(&b, p.name);
        put_u32(&b, p.type);
    }
    for (uint32_t n = defs_comm_count(); comms_done < n; comms_done++) {
        comm_def c = defs_comm_get(comms_done);
        if (c.name >= strings_done)
            put_new_strings(&b);
        uint32_t members = c.members ? c.size : 0;
        record(&b, RECORD_COMM, 28 + 4 * members);
        put_u32(&b, comms_done);
        put_u64(&b, c.key);
        put_u32(&b, c.name);
        put_u32(&b, c.parent);
        put_u32(&b, c.size);
        put_u32(&b, c.members != NULL);
        if (members)
            put(&b, c.members, 4 * (size_t)members);
    }
    for (uint32_t n = defs_io_handle_count(); io_handles_done < n; io_handles_done++) {
        io_handle_def h = defs_io_handle_get(io_handles_done);
        if (h.name >= strings_done || h.file >= strings_done)
            put_new_strings(&b);
        record(&b, RECORD_IO_HANDLE, 24);
        uint32_t fields[6] = {io_handles_done, h.name, h.file, h.flags, h.mode, h.status};
        put(&b, fields, sizeof fields);
    }
    for (uint32_t n = defs_clock_offset_count(); clock_offsets_done < n; clock_offsets_done++) {
        clock_offset_def o = defs_clock_offset_get(clock_offsets_done);
        record(&b, RECORD_CLOCK_OFFSET, 28);
        put_u32(&b, clock_offsets_done);
        put_u64(&b, o.time);
        put(&b, &o.offset, sizeof o.offset);
        put(&b, &o.deviation, sizeof o.deviation);
    }
    /* a new location's name may be a string made just now: sync strings again */
    location *loc = last_location ? atomic_load(&last_location->next) : locations_first();
    for (; loc; loc = atomic_load(&loc->next)) {
        uint32_t name = atomic_load(&loc->name);
        if (name >= strings_done)
            put_new_strings(&b);
        record(&b, RECORD_LOCATION, 16);
        put_u64(&b, loc->id);
        put_u32(&b, loc->index);
        put_u32(&b, name);
        last_location = loc;
    }
    uint64_t ticks, mono;
    clock_reading(&ticks, &mono);
    if (b.used || mono - last_clock_ns >= CLOCK_EVERY_NS)
        put_clock(&b, ticks, mono);
    if (b.used)
        write_out(&b);
    pthread_mutex_unlock(&journal_lock);
}

void journal_end(uint64_t end_time, bool has_exit_status, int exit_status)
{
    pthread_mutex_lock(&journal_lock);
    if (atomic_load(&journal_live)) {
        out_buffer b = {0};
        record(&b, RECORD_END, 16);
        put_u64(&b, end_time);
        put_u32(&b, has_exit_status);
        put_u32(&b, (uint32_t)exit_status);
        write_out(&b);
    }
    if (checked_fd() >= 0)
        close(journal_fd);
    journal_fd = -1;
    atomic_store(&journal_live, false);
    pthread_mutex_unlock(&journal_lock);
}

bool journal_is_live(void) { return atomic_load(&journal_live); }

void journal_remove(void)
{
    pthread_mutex_lock(&journal_lock);
    if (atomic_load(&journal_live) || journal_fd >= 0 || journal_id.st_ino) {
        if (checked_fd() >= 0)
            close(journal_fd);
        int dir = experiment_fd();
        struct stat st;
        /* only the file this run made */
        if (dir >= 0 && fstatat(dir, JOURNAL_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == journal_id.st_dev &&
            st.st_ino == journal_id.st_ino)
            unlinkat(dir, JOURNAL_NAME, 0);
    }
    journal_fd = -1;
    memset(&journal_id, 0, sizeof journal_id);
    atomic_store(&journal_live, false);
    pthread_mutex_unlock(&journal_lock);
}

void journal_forget(void)
{
    /* the child's copy of the lock may be held by a thread that is gone */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    journal_lock = fresh;
    if (journal_fd >= 0)
        close(journal_fd);
    journal_fd = -1;
    memset(&journal_id, 0, sizeof journal_id);
    atomic_store(&journal_live, false);
}

/* ---- reading ---- */

typedef struct {
    const char *p, *end;
    bool bad;
} reader;

static void take(reader *r, void *out, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}

static uint32_t take_u32(reader *r)
{
    uint32_t v;
    take(r, &v, sizeof v);
    return v;
}

static uint64_t take_u64(reader *r)
{
    uint64_t v;
    take(r, &v, sizeof v);
    return v;
}

static char *take_text(reader *r)
{
    const char *nul = r->bad ? NULL : memchr(r->p, '\0', (size_t)(r->end - r->p));
    if (!nul) {
        r->bad = true;
        return strdup("");
    }
    char *s = strdup(r->p);
    r->p = nul + 1;
    return s;
}

/* The room an array of `count` items has: arrays grow by doubling (a
 * journal holds thousands of definitions, each its array's next item). */
static size_t room_for(uint32_t count)
{
    size_t room = 16;
    while (room < count)
        room *= 2;
    return room;
}

/* Room for index id in an array of `count` items of `size` bytes (made
 * and grown only here); new items are zero. */
static bool grow_to(void **items, uint32_t *count, uint32_t id, size_t size)
{
    if (id < *count)
        return true;
    if (id > (1u << 28))
        return false;
    size_t room = *items ? room_for(*count) : 0;
    if ((size_t)id + 1 > room) {
        void *grown = realloc(*items, room_for(id + 1) * size);
        if (!grown)
            return false;
        *items = grown;
    }
    memset((char *)*items + (size_t)*count * size, 0, (size_t)(id + 1 - *count) * size);
    *count = id + 1;
    return true;
}

static bool read_start(reader *r, journal_contents *c)
{
    if (take_u32(r) != JOURNAL_VERSION)
        return false;
    substrate_facts *s = &c->facts;
    s->rank = take_u32(r);
    c->pid = (long)take_u64(r);
    s->start_time = take_u64(r);
    c->clock_kind = take_u32(r);
    c->start_ticks = take_u64(r);
    c->start_mono_ns = take_u64(r);
    c->start_epoch_ns = take_u64(r);
    s->program_region = take_u32(r);
    s->program_name = take_u32(r);
    s->program_argc = take_u32(r);
    if (r->bad || s->program_argc > (uint32_t)(r->end - r->p) / 4)
        return false;
    c->args = calloc(s->program_argc + 1, sizeof *c->args);
    for (uint32_t i = 0; c->args && i < s->program_argc; i++)
        c->args[i] = take_u32(r);
    s->program_args = c->args;
    s->metric_count = take_u32(r);
    s->thread_metric_count = take_u32(r);
    if (r->bad || s->metric_count > METRICS_MAX || s->thread_metric_count > s->metric_count)
        return false;
    c->metrics = calloc(s->metric_count + 1, sizeof *c->metrics);
    for (unsigned i = 0; c->metrics && i < s->metric_count; i++) {
        metric_def *m = &c->metrics[i];
        m->accumulated = take_u32(r) != 0;
        m->scope = take_u32(r) ? METRIC_SCOPE_PROCESS : METRIC_SCOPE_THREAD;
        m->name = take_text(r);
        m->unit = take_text(r);
        m->description = take_text(r);
    }
    s->metrics = c->metrics;
    c->host_name = take_text(r);
    return c->args && c->metrics && !r->bad;
}

/* Every reference names a definition: one to something the journal does
 * not hold (cut off) names an empty string, or the program region. */
static bool sanitize(journal_contents *c)
{
    uint32_t empty = c->defs.string_count;
    if (!grow_to((void **)&c->defs.strings, &c->defs.string_count, empty, sizeof(char *)) ||
        !(c->defs.strings[empty] = strdup("")))
        return false;
#define STRING_REF(x) if ((x) >= empty) (x) = empty
    STRING_REF(c->facts.program_name);
    for (uint32_t i = 0; i < c->facts.program_argc; i++)
        STRING_REF(c->args[i]);
    for (uint32_t i = 0; i < c->defs.region_count; i++) {
        STRING_REF(c->defs.regions[i].name);
        STRING_REF(c->defs.regions[i].group);
        STRING_REF(c->defs.regions[i].file);
    }
    for (uint32_t i = 0; i < c->defs.parameter_count; i++)
        STRING_REF(c->defs.parameters[i].name);
    for (uint32_t i = 0; i < c->location_count; i++)
        STRING_REF(c->locations[i].name);
    for (uint32_t i = 0; i < c->defs.comm_count; i++) {
        STRING_REF(c->defs.comms[i].name);
        if (c->defs.comms[i].parent >= c->defs.comm_count)
            c->defs.comms[i].parent = DEFS_NO_ID;
    }
#undef STRING_REF
    if (c->facts.program_region >= c->defs.region_count) {
        uint32_t id = c->defs.region_count;
        if (!grow_to((void **)&c->defs.regions, &c->defs.region_count, id, sizeof(region_def)))
            return false;
        c->defs.regions[id] = (region_def){empty, empty, empty, 0, 0, REGION_ROLE_ARTIFICIAL,
                                           REGION_PARADIGM_MEASUREMENT};
        c->facts.program_region = id;
    }
    return true;
}

bool journal_load(int dir_fd, const char *dir, journal_contents *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    int fd = openat(dir_fd, JOURNAL_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "'%s' has no journal of a traced run ('%s'): %s", dir, JOURNAL_NAME,
                 fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return false;
    }
    char *bytes = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t size = 0;
    while (bytes && size < (size_t)st.st_size) {
        ssize_t n = read(fd, bytes + size, (size_t)st.st_size - size);
        if (n <= 0)
            break;
        size += (size_t)n;
    }
    close(fd);
    if (!bytes) {
        snprintf(err, errlen, "out of memory for the journal '%s/%s'", dir, JOURNAL_NAME);
        return false;
    }
    c->complete = true;
    bool started = false;
    reader whole = {bytes, bytes + size, false};
    while (whole.end - whole.p >= 8) {
        uint32_t type = take_u32(&whole), length = take_u32(&whole);
        if ((size_t)(whole.end - whole.p) < length) {
            c->complete = false;  /* cut by the kill */
            break;
        }
        reader r = {whole.p, whole.p + length, false};
        whole.p += length;
        if (type == RECORD_START) {
            if (started || !read_start(&r, c))
                break;
            started = true;
        } else if (type == RECORD_STRING) {
            uint32_t id = take_u32(&r);
            if (r.bad || !grow_to((void **)&c->defs.strings, &c->defs.string_count, id, sizeof(char *)))
                break;
            char *text = malloc(length - 4 + 1);
            if (!text)
                break;
            memcpy(text, r.p, length - 4);
            text[length - 4] = '\0';
            free((char *)c->defs.strings[id]);
            c->defs.strings[id] = text;
        } else if (type == RECORD_REGION) {
            uint32_t f[8];
            take(&r, f, sizeof f);
            if (r.bad || !grow_to((void **)&c->defs.regions, &c->defs.region_count, f[0], sizeof(region_def)))
                break;
            c->defs.regions[f[0]] = (region_def){f[1], f[2], f[3], f[4], f[5], (region_role)f[6],
                                                 (region_paradigm)f[7]};
        } else if (type == RECORD_PARAMETER) {
            uint32_t id = take_u32(&r), name = take_u32(&r), kind = take_u32(&r);
            if (r.bad || !grow_to((void **)&c->defs.parameters, &c->defs.parameter_count, id, sizeof(parameter_def)))
                break;
            c->defs.parameters[id] = (parameter_def){name, (parameter_type)kind};
        } else if (type == RECORD_LOCATION) {
            uint64_t id = take_u64(&r);
            uint32_t index = take_u32(&r), name = take_u32(&r);
            uint32_t n = c->location_count;
            if (r.bad || !grow_to((void **)&c->locations, &n, c->location_count, sizeof(location_def)))
                break;
            c->locations[c->location_count++] = (location_def){id, index, name};
        } else if (type == RECORD_COMM) {
            uint32_t id = take_u32(&r);
            uint64_t key = take_u64(&r);
            uint32_t name = take_u32(&r), parent = take_u32(&r), size = take_u32(&r), listed = take_u32(&r);
            if (r.bad || (listed && size > (uint32_t)(r.end - r.p) / 4) ||
                !grow_to((void **)&c->defs.comms, &c->defs.comm_count, id, sizeof(comm_def)))
                break;
            uint32_t *members = NULL;
            if (listed) {
                if (!(members = malloc((size ? size : 1) * sizeof *members)))
                    break;
                take(&r, members, 4 * (size_t)size);
            }
            free((void *)c->defs.comms[id].members);
            c->defs.comms[id] = (comm_def){key, name, parent, size, members};
        } else if (type == RECORD_IO_HANDLE) {
            uint32_t f[6];
            take(&r, f, sizeof f);
            if (r.bad || !grow_to((void **)&c->defs.io_handles, &c->defs.io_handle_count, f[0], sizeof(io_handle_def)))
                break;
            c->defs.io_handles[f[0]] = (io_handle_def){f[1], f[2], f[3], f[4], f[5]};
        } else if (type == RECORD_CLOCK_OFFSET) {
            uint32_t i = take_u32(&r);
            clock_offset_def o = {.time = take_u64(&r)};
            take(&r, &o.offset, sizeof o.offset);
            take(&r, &o.deviation, sizeof o.deviation);
            if (r.bad || i >= DEFS_CLOCK_OFFSETS_MAX)
                break;
            if (!c->defs.clock_offsets && !(c->defs.clock_offsets = calloc(DEFS_CLOCK_OFFSETS_MAX, sizeof o)))
                break;
            c->defs.clock_offsets[i] = o;
            if (i >= c->defs.clock_offset_count)
                c->defs.clock_offset_count = i + 1;
        } else if (type == RECORD_CLOCK) {
            c->last_ticks = take_u64(&r);
            c->last_mono_ns = take_u64(&r);
        } else if (type == RECORD_END) {
            c->end_time = take_u64(&r);
            c->has_exit_status = take_u32(&r) != 0;
            c->exit_status = (int)take_u32(&r);
            c->ended = !r.bad;
        }
        if (!started)
            break;
    }
    if (whole.p != whole.end)
        c->complete = false;
    free(bytes);
    if (!started) {
        snprintf(err, errlen, "the journal '%s/%s' is not one this version of scorep wrote", dir, JOURNAL_NAME);
        journal_contents_free(c);
        return false;
    }
    if (!sanitize(c)) {
        snprintf(err, errlen, "out of memory for the journal '%s/%s'", dir, JOURNAL_NAME);
        journal_contents_free(c);
        return false;
    }
    /* a string that never made it (cut) reads as empty */
    for (uint32_t i = 0; i < c->defs.string_count; i++)
        if (!c->defs.strings[i] && !(c->defs.strings[i] = strdup(""))) {
            snprintf(err, errlen, "out of memory for the journal '%s/%s'", dir, JOURNAL_NAME);
            journal_contents_free(c);
            return false;
        }
    return true;
}

void journal_contents_free(journal_contents *c)
{
    for (uint32_t i = 0; i < c->defs.string_count; i++)
        free((char *)c->defs.strings[i]);
    free(c->defs.strings);
    free(c->defs.regions);
    free(c->defs.parameters);
    for (uint32_t i = 0; i < c->defs.comm_count; i++)
        free((void *)c->defs.comms[i].members);
    free(c->defs.comms);
    free(c->defs.clock_offsets);
    free(c->defs.io_handles);
    free(c->locations);
    free(c->args);
    for (unsigned i = 0; c->metrics && i < c->facts.metric_count; i++) {
        free((char *)c->metrics[i].name);
        free((char *)c->metrics[i].unit);
        free((char *)c->metrics[i].description);
    }
    free(c->metrics);
    free(c->host_name);
    memset(c, 0, sizeof *c);
}
