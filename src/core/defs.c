#include "defs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.h"

typedef struct {
    void *items;
    uint32_t count, capacity;
} vec;

static pthread_mutex_t defs_lock = PTHREAD_MUTEX_INITIALIZER;
static vec strings;      /* char * */
static vec regions;      /* region_def */
static vec parameters;   /* parameter_def */
static vec comms;        /* comm_def */
static vec io_handles;   /* io_handle_def */
static clock_offset_def clock_offsets[DEFS_CLOCK_OFFSETS_MAX];
static uint32_t clock_offset_count;
static keymap string_ids, region_ids, parameter_ids, comm_ids;
/* I/O handles: {name, file, flags, mode, status} -> how many so far, and
 * that content with its occurrence -> id (see defs_io_handle_of) */
static keymap io_handle_counts, io_handle_ids;
static bool initialized;
static uint64_t bytes_used;

/* Room for one more item, or NULL when out of memory; the item counts
 * once the caller has filled it (vec_commit). */
static void *vec_room(vec *v, size_t item_size)
{
    if (v->count == v->capacity) {
        uint32_t capacity = v->capacity ? v->capacity * 2 : 64;
        void *grown = realloc(v->items, (size_t)capacity * item_size);
        if (!grown)
            return NULL;
        v->items = grown;
        v->capacity = capacity;
    }
    return (char *)v->items + (size_t)v->count * item_size;
}

/* How many items a table holds, and a copy of one (under the lock). */
static uint32_t locked_count(const vec *v)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t n = v->count;
    pthread_mutex_unlock(&defs_lock);
    return n;
}

static void locked_get(const vec *v, uint32_t id, size_t item_size, void *out)
{
    pthread_mutex_lock(&defs_lock);
    memcpy(out, (const char *)v->items + (size_t)id * item_size, item_size);
    pthread_mutex_unlock(&defs_lock);
}

static void init_locked(void)
{
    if (!initialized) {
        keymap_init(&string_ids);
        keymap_init(&region_ids);
        keymap_init(&parameter_ids);
        keymap_init(&comm_ids);
        keymap_init(&io_handle_counts);
        keymap_init(&io_handle_ids);
        initialized = true;
    }
}

void defs_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    defs_lock = fresh;
}

void defs_init(void)
{
    pthread_mutex_lock(&defs_lock);
    init_locked();
    pthread_mutex_unlock(&defs_lock);
}

/* The text as stored: at most DEFS_STRING_MAX_BYTES bytes (see defs.h),
 * in *buffer when cut. */
static const char *stored_text(const char *text, size_t *len, char *buffer)
{
    *len = strlen(text);
    if (*len <= DEFS_STRING_MAX_BYTES)
        return text;
    size_t keep = DEFS_STRING_MAX_BYTES - (sizeof DEFS_TRUNCATED_MARK - 1);
    /* not inside a UTF-8 sequence: back over continuation bytes */
    while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
        keep--;
    memcpy(buffer, text, keep);
    memcpy(buffer + keep, DEFS_TRUNCATED_MARK, sizeof DEFS_TRUNCATED_MARK);
    *len = keep + sizeof DEFS_TRUNCATED_MARK - 1;
    return buffer;
}

static uint32_t string_locked(const char *full_text)
{
    init_locked();
    static char cut[DEFS_STRING_MAX_BYTES + 1];  /* under defs_lock */
    size_t len;
    const char *text = stored_text(full_text, &len, cut);
    uint32_t id;
    if (keymap_get(&string_ids, text, len, &id))
        return id;
    char **slot = vec_room(&strings, sizeof(char *));
    char *copy = slot ? malloc(len + 1) : NULL;
    if (!copy || !keymap_put(&string_ids, text, len, strings.count)) {
        free(copy);
        return DEFS_NO_ID;
    }
    memcpy(copy, text, len + 1);
    *slot = copy;
    id = strings.count++;
    bytes_used += len + 1 + sizeof(char *) + sizeof(keymap_slot);
    return id;
}

uint32_t defs_string(const char *text)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t id = string_locked(text ? text : "");
    pthread_mutex_unlock(&defs_lock);
    return id;
}

const char *defs_string_text(uint32_t id)
{
    pthread_mutex_lock(&defs_lock);
    const char *text = id < strings.count ? ((char **)strings.items)[id] : "";
    pthread_mutex_unlock(&defs_lock);
    return text;
}

uint32_t defs_string_count(void) { return locked_count(&strings); }

uint64_t defs_bytes(void)
{
    pthread_mutex_lock(&defs_lock);
    uint64_t n = bytes_used;
    pthread_mutex_unlock(&defs_lock);
    return n;
}

/* The region of these strings (the group's id, or its text when the id is
 * DEFS_NO_ID: it is needed only for a new region); under defs_lock. */
static uint32_t region_locked(uint32_t name_id, uint32_t group_id, const char *group, uint32_t file_id,
                              uint32_t first_line, uint32_t last_line, region_role role, region_paradigm paradigm)
{
    /* a user region is known by its name alone (wherever it is begun);
     * the first place it is begun is its location in the source */
    uint32_t key[4] = {name_id, file_id, first_line, (uint32_t)role};
    if (role == REGION_ROLE_USER)
        key[1] = key[2] = UINT32_MAX;
    uint32_t id;
    if (name_id == DEFS_NO_ID || file_id == DEFS_NO_ID)
        return DEFS_NO_ID;
    if (keymap_get(&region_ids, key, sizeof key, &id))
        return id;
    region_def def = {
        .name = name_id,
        .group = group_id != DEFS_NO_ID ? group_id : string_locked(group ? group : ""),
        .file = file_id,
        .first_line = first_line,
        .last_line = last_line,
        .role = role,
        .paradigm = paradigm,
    };
    region_def *slot = vec_room(&regions, sizeof def);
    if (def.group == DEFS_NO_ID || !slot || !keymap_put(&region_ids, key, sizeof key, regions.count))
        return DEFS_NO_ID;
    *slot = def;
    bytes_used += sizeof def + sizeof(keymap_slot);
    return regions.count++;
}

uint32_t defs_region(const char *name, const char *group, const char *file, uint32_t first_line,
                     uint32_t last_line, region_role role, region_paradigm paradigm)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t name_id = string_locked(name);
    uint32_t file_id = string_locked(file ? file : "");
    uint32_t id = region_locked(name_id, DEFS_NO_ID, group, file_id, first_line, last_line, role, paradigm);
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_region_of_strings(uint32_t name, uint32_t group, uint32_t file, uint32_t first_line,
                                uint32_t last_line, region_role role, region_paradigm paradigm)
{
    pthread_mutex_lock(&defs_lock);
    init_locked();
    uint32_t count = strings.count;
    uint32_t id = name < count && group < count && file < count
                      ? region_locked(name, group, NULL, file, first_line, last_line, role, paradigm)
                      : DEFS_NO_ID;
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_region_count(void) { return locked_count(&regions); }

region_def defs_region_get(uint32_t id)
{
    region_def def;
    locked_get(&regions, id, sizeof def, &def);
    return def;
}

uint32_t defs_parameter(const char *name, parameter_type type)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t name_id = string_locked(name);  /* initialises the tables if needed */
    uint32_t key[2] = {name_id, (uint32_t)type};
    uint32_t id;
    if (name_id == DEFS_NO_ID) {
        id = DEFS_NO_ID;
    } else if (!keymap_get(&parameter_ids, key, sizeof key, &id)) {
        parameter_def def = {.name = name_id, .type = type};
        parameter_def *slot = vec_room(&parameters, sizeof def);
        if (!slot || !keymap_put(&parameter_ids, key, sizeof key, parameters.count)) {
            id = DEFS_NO_ID;
        } else {
            *slot = def;
            id = parameters.count++;
            bytes_used += sizeof def + sizeof(keymap_slot);
        }
    }
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_parameter_count(void) { return locked_count(&parameters); }

parameter_def defs_parameter_get(uint32_t id)
{
    parameter_def def;
    locked_get(&parameters, id, sizeof def, &def);
    return def;
}

uint32_t defs_comm(uint64_t key, const char *name, uint32_t parent, uint32_t size, const uint32_t *members)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t name_id = string_locked(name);  /* initialises the tables if needed */
    uint32_t id;
    if (name_id == DEFS_NO_ID) {
        id = DEFS_NO_ID;
    } else if (!keymap_get(&comm_ids, &key, sizeof key, &id)) {
        uint32_t *copy = NULL;
        if (members) {
            copy = malloc((size ? size : 1) * sizeof *copy);
            if (copy)
                memcpy(copy, members, size * sizeof *copy);
        }
        comm_def def = {.key = key, .name = name_id, .parent = parent, .size = size, .members = copy};
        comm_def *slot = (members && !copy) ? NULL : vec_room(&comms, sizeof def);
        if (!slot || !keymap_put(&comm_ids, &key, sizeof key, comms.count)) {
            free(copy);
            id = DEFS_NO_ID;
        } else {
            *slot = def;
            id = comms.count++;
            bytes_used += sizeof def + sizeof(keymap_slot) + (copy ? size * sizeof *copy : 0);
        }
    }
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_comm_count(void) { return locked_count(&comms); }

comm_def defs_comm_get(uint32_t id)
{
    comm_def def;
    locked_get(&comms, id, sizeof def, &def);
    return def;
}

/* A new handle, the next occurrence of its content (under the lock). */
static uint32_t io_handle_new_locked(uint32_t key[6])
{
    io_handle_def *slot = vec_room(&io_handles, sizeof *slot);
    if (!slot)
        return DEFS_NO_ID;
    uint32_t count = 0;
    keymap_get(&io_handle_counts, key, 5 * sizeof *key, &count);
    key[5] = count;
    if (!keymap_put(&io_handle_ids, key, 6 * sizeof *key, io_handles.count) ||
        !keymap_put(&io_handle_counts, key, 5 * sizeof *key, count + 1))
        return DEFS_NO_ID;
    *slot = (io_handle_def){key[0], key[1], key[2], key[3], key[4]};
    bytes_used += sizeof *slot + 2 * (sizeof(keymap_slot) + 6 * sizeof *key);
    return io_handles.count++;
}

uint32_t defs_io_handle(const char *name, const char *file, uint32_t flags, uint32_t mode, uint32_t status)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t key[6] = {string_locked(name), string_locked(file), flags, mode, status, 0};
    uint32_t id = key[0] != DEFS_NO_ID && key[1] != DEFS_NO_ID ? io_handle_new_locked(key) : DEFS_NO_ID;
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_io_handle_of(const char *name, const char *file, uint32_t flags, uint32_t mode, uint32_t status,
                           uint32_t occurrence)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t key[6] = {string_locked(name), string_locked(file), flags, mode, status, occurrence};
    uint32_t id = DEFS_NO_ID;
    if (key[0] != DEFS_NO_ID && key[1] != DEFS_NO_ID && !keymap_get(&io_handle_ids, key, sizeof key, &id)) {
        /* the occurrences before it first (each process's n-th handle of a content is the n-th here) */
        uint32_t count = 0;
        keymap_get(&io_handle_counts, key, 5 * sizeof *key, &count);
        for (id = DEFS_NO_ID; count <= occurrence; count++)
            if ((id = io_handle_new_locked(key)) == DEFS_NO_ID)
                break;
    }
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_io_handle_count(void) { return locked_count(&io_handles); }

io_handle_def defs_io_handle_get(uint32_t id)
{
    io_handle_def def;
    locked_get(&io_handles, id, sizeof def, &def);
    return def;
}

void defs_clock_offset(uint64_t time, int64_t offset, double deviation)
{
    pthread_mutex_lock(&defs_lock);
    if (clock_offset_count < DEFS_CLOCK_OFFSETS_MAX)
        clock_offsets[clock_offset_count++] = (clock_offset_def){time, offset, deviation};
    pthread_mutex_unlock(&defs_lock);
}

uint32_t defs_clock_offset_count(void)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t n = clock_offset_count;
    pthread_mutex_unlock(&defs_lock);
    return n;
}

clock_offset_def defs_clock_offset_get(uint32_t i)
{
    pthread_mutex_lock(&defs_lock);
    clock_offset_def def = clock_offsets[i];
    pthread_mutex_unlock(&defs_lock);
    return def;
}

static void *copy_items(const vec *v, size_t item_size)
{
    void *copy = malloc(v->count ? (size_t)v->count * item_size : 1);
    if (copy && v->count)
        memcpy(copy, v->items, (size_t)v->count * item_size);
    return copy;
}

bool defs_snapshot(definitions *out)
{
    pthread_mutex_lock(&defs_lock);
    *out = (definitions){
        .strings = copy_items(&strings, sizeof(char *)),
        .string_count = strings.count,
        .regions = copy_items(&regions, sizeof(region_def)),
        .region_count = regions.count,
        .parameters = copy_items(&parameters, sizeof(parameter_def)),
        .parameter_count = parameters.count,
        .comms = copy_items(&comms, sizeof(comm_def)),
        .comm_count = comms.count,
        .clock_offsets = malloc(sizeof clock_offsets),
        .clock_offset_count = clock_offset_count,
        .io_handles = copy_items(&io_handles, sizeof(io_handle_def)),
        .io_handle_count = io_handles.count,
    };
    if (out->clock_offsets)
        memcpy(out->clock_offsets, clock_offsets, sizeof clock_offsets);
    pthread_mutex_unlock(&defs_lock);
    if (out->strings && out->regions && out->parameters && out->comms && out->clock_offsets && out->io_handles)
        return true;
    defs_snapshot_free(out);
    return false;
}

void defs_snapshot_free(definitions *defs)
{
    free(defs->strings);
    free(defs->regions);
    free(defs->parameters);
    free(defs->comms);
    free(defs->clock_offsets);
    free(defs->io_handles);
    *defs = (definitions){0};
}

uint32_t defs_artificial(artificial_region which)
{
    static _Atomic uint32_t ids[ARTIFICIAL_COUNT] = {DEFS_NO_ID, DEFS_NO_ID};
    uint32_t id = atomic_load(&ids[which]);
    if (id != DEFS_NO_ID)
        return id;
    /* as Score-P names and classifies them */
    if (which == ARTIFICIAL_MEASUREMENT_OFF)
        id = defs_region("MEASUREMENT OFF", "", "", 0, 0, REGION_ROLE_ARTIFICIAL, REGION_PARADIGM_USER);
    else
        id = defs_region("TRACE BUFFER FLUSH", "", "", 0, 0, REGION_ROLE_ARTIFICIAL, REGION_PARADIGM_MEASUREMENT);
    atomic_store(&ids[which], id);
    return id;
}
