/* Pointer -> uint32 map for caches on event paths (e.g. C function
 * definitions -> region ids).  Lookups are inline and allocation free.
 * Not thread safe: callers serialise access (the GIL for the CPython source). */
#ifndef SCOREP_CORE_PTRMAP_H
#define SCOREP_CORE_PTRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const void *key;
    uint32_t value;
} ptrmap_slot;

typedef struct {
    ptrmap_slot *slots;
    size_t mask;    /* capacity - 1, capacity a power of two */
    size_t used;
} ptrmap;

/* False when out of memory (the map is unchanged). */
bool ptrmap_init(ptrmap *map);
bool ptrmap_put(ptrmap *map, const void *key, uint32_t value);
uint64_t ptrmap_bytes(const ptrmap *map);
void ptrmap_free(ptrmap *map);

static inline size_t ptrmap_hash(const void *key)
{
    uintptr_t k = (uintptr_t)key;
    k ^= k >> 17;
    k *= UINT64_C(0xed5ad4bb);
    return (size_t)(k ^ (k >> 11));
}

static inline bool ptrmap_get(const ptrmap *map, const void *key, uint32_t *value)
{
    if (!map->slots)
        return false;
    for (size_t i = ptrmap_hash(key) & map->mask;; i = (i + 1) & map->mask) {
        const ptrmap_slot *s = &map->slots[i];
        if (s->key == key) {
            *value = s->value;
            return true;
        }
        if (!s->key)
            return false;
    }
}

#endif
