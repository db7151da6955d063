/* Open-addressing hash map from byte strings (copied) to uint32 values.
 * Used for definition de-duplication; not thread safe by itself. */
#ifndef SCOREP_CORE_KEYMAP_H
#define SCOREP_CORE_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *key;
    size_t key_len;
    uint64_t hash;
    uint32_t value;
} keymap_slot;

typedef struct {
    keymap_slot *slots;
    size_t capacity;   /* power of two */
    size_t used;
} keymap;

/* False when out of memory (the map is then empty and usable). */
bool keymap_init(keymap *map);
void keymap_free(keymap *map);
/* Returns true and sets *value if present. */
bool keymap_get(const keymap *map, const void *key, size_t len, uint32_t *value);
/* False when out of memory (the map is unchanged). */
bool keymap_put(keymap *map, const void *key, size_t len, uint32_t value);

#endif
