#include "ptrmap.h"

#include <stdlib.h>

bool ptrmap_init(ptrmap *map)
{
    map->used = 0;
    map->slots = calloc(16, sizeof *map->slots);
    map->mask = map->slots ? 15 : 0;
    return map->slots != NULL;
}

static void insert(ptrmap_slot *slots, size_t mask, const void *key, uint32_t value)
{
    size_t i = ptrmap_hash(key) & mask;
    while (slots[i].key && slots[i].key != key)
        i = (i + 1) & mask;
    slots[i].key = key;
    slots[i].value = value;
}

bool ptrmap_put(ptrmap *map, const void *key, uint32_t value)
{
    if (!map->slots && !ptrmap_init(map))
        return false;
    if ((map->used + 1) * 2 > map->mask + 1) {
        size_t mask = map->mask * 2 + 1;
        ptrmap_slot *slots = calloc(mask + 1, sizeof *slots);
        if (!slots)
            return false;
        for (size_t i = 0; i <= map->mask; i++)
            if (map->slots[i].key)
                insert(slots, mask, map->slots[i].key, map->slots[i].value);
        free(map->slots);
        map->slots = slots;
        map->mask = mask;
    }
    uint32_t existing;
    if (!ptrmap_get(map, key, &existing))
        map->used++;
    insert(map->slots, map->mask, key, value);
    return true;
}

uint64_t ptrmap_bytes(const ptrmap *map) { return map->slots ? (map->mask + 1) * sizeof *map->slots : 0; }

void ptrmap_free(ptrmap *map)
{
    free(map->slots);
    map->slots = NULL;
    map->mask = map->used = 0;
}
