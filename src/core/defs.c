#include "defs.h"

#include <pthread.h>
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
static keymap string_ids, region_ids, parameter_ids;
static bool initialized;
static uint64_t bytes_used;

static void *vec_push(vec *v, size_t item_size)
{
    if (v->count == v->capacity) {
        v->capacity = v->capacity ? v->capacity * 2 : 64;
        v->items = realloc(v->items, (size_t)v->capacity * item_size);
    }
    return (char *)v->items + (size_t)v->count++ * item_size;
}

static void init_locked(void)
{
    if (!initialized) {
        keymap_init(&string_ids);
        keymap_init(&region_ids);
        keymap_init(&parameter_ids);
        initialized = true;
    }
}

void defs_init(void)
{
    pthread_mutex_lock(&defs_lock);
    init_locked();
    pthread_mutex_unlock(&defs_lock);
}

static uint32_t string_locked(const char *text)
{
    init_locked();
    size_t len = strlen(text);
    uint32_t id;
    if (keymap_get(&string_ids, text, len, &id))
        return id;
    id = strings.count;
    bytes_used += len + 1 + sizeof(char *) + sizeof(keymap_slot);
    char *copy = malloc(len + 1);
    memcpy(copy, text, len + 1);
    *(char **)vec_push(&strings, sizeof(char *)) = copy;
    keymap_put(&string_ids, text, len, id);
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

uint32_t defs_string_count(void) { return strings.count; }

uint64_t defs_bytes(void) { return bytes_used; }

uint32_t defs_region(const char *name, const char *group, const char *file, uint32_t first_line,
                     uint32_t last_line, region_role role, region_paradigm paradigm)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t name_id = string_locked(name);
    uint32_t file_id = string_locked(file ? file : "");
    /* a user region is known by its name alone (wherever it is begun);
     * the first place it is begun is its location in the source */
    uint32_t key[4] = {name_id, file_id, first_line, (uint32_t)role};
    if (role == REGION_ROLE_USER)
        key[1] = key[2] = UINT32_MAX;
    uint32_t id;
    if (!keymap_get(&region_ids, key, sizeof key, &id)) {
        id = regions.count;
        region_def def = {
            .name = name_id,
            .group = string_locked(group ? group : ""),
            .file = file_id,
            .first_line = first_line,
            .last_line = last_line,
            .role = role,
            .paradigm = paradigm,
        };
        *(region_def *)vec_push(&regions, sizeof def) = def;
        bytes_used += sizeof def + sizeof(keymap_slot);
        keymap_put(&region_ids, key, sizeof key, id);
    }
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_region_count(void) { return regions.count; }

region_def defs_region_get(uint32_t id)
{
    pthread_mutex_lock(&defs_lock);
    region_def def = ((region_def *)regions.items)[id];
    pthread_mutex_unlock(&defs_lock);
    return def;
}

uint32_t defs_parameter(const char *name, parameter_type type)
{
    pthread_mutex_lock(&defs_lock);
    uint32_t name_id = string_locked(name);  /* initialises the tables if needed */
    uint32_t key[2] = {name_id, (uint32_t)type};
    uint32_t id;
    if (!keymap_get(&parameter_ids, key, sizeof key, &id)) {
        id = parameters.count;
        parameter_def def = {.name = name_id, .type = type};
        *(parameter_def *)vec_push(&parameters, sizeof def) = def;
        keymap_put(&parameter_ids, key, sizeof key, id);
    }
    pthread_mutex_unlock(&defs_lock);
    return id;
}

uint32_t defs_parameter_count(void) { return parameters.count; }

parameter_def defs_parameter_get(uint32_t id)
{
    pthread_mutex_lock(&defs_lock);
    parameter_def def = ((parameter_def *)parameters.items)[id];
    pthread_mutex_unlock(&defs_lock);
    return def;
}
