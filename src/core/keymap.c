#include "keymap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

/* Eight bytes at a time (names and paths are tens of bytes; each new
 * region hashes several), then the tail; the result is mixed so that the
 * low bits, which pick the slot, depend on every byte. */
static uint64_t hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        h = (h ^ word) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    return mix((h ^ tail) * 0x94d049bb133111ebull);
}

bool keymap_init(keymap *map)
{
    map->used = 0;
    map->slots = calloc(64, sizeof *map->slots);
    map->capacity = map->slots ? 64 : 0;
    return map->slots != NULL;
}

void keymap_free(keymap *map)
{
    for (size_t i = 0; i < map->capacity; i++)
        free(map->slots[i].key);
    free(map->slots);
    map->slots = NULL;
    map->capacity = map->used = 0;
}

static keymap_slot *find_slot(keymap_slot *slots, size_t capacity, const void *key, size_t len, uint64_t h)
{
    size_t i = (size_t)h & (capacity - 1);
    for (;;) {
        keymap_slot *s = &slots[i];
        if (!s->key || (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (capacity - 1);
    }
}

bool keymap_get(const keymap *map, const void *key, size_t len, uint32_t *value)
{
    if (!map->slots)
        return false;
    keymap_slot *s = find_slot(map->slots, map->capacity, key, len, hash_bytes(key, len));
    if (!s->key)
        return false;
    *value = s->value;
    return true;
}

static bool grow(keymap *map)
{
    size_t capacity = map->capacity ? map->capacity * 2 : 64;
    keymap_slot *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < map->capacity; i++) {
        keymap_slot *old = &map->slots[i];
        if (old->key)
            *find_slot(slots, capacity, old->key, old->key_len, old->hash) = *old;
    }
    free(map->slots);
    map->slots = slots;
    map->capacity = capacity;
    return true;
}

bool keymap_put(keymap *map, const void *key, size_t len, uint32_t value)
{
    if ((map->used + 1) * 4 > map->capacity * 3 && !grow(map))
        return false;
    uint64_t h = hash_bytes(key, len);
    keymap_slot *s = find_slot(map->slots, map->capacity, key, len, h);
    if (!s->key) {
        s->key = malloc(len + 1);
        if (!s->key)
            return false;
        memcpy(s->key, key, len);
        s->key[len] = '\0';
        s->key_len = len;
        s->hash = h;
        map->used++;
    }
    s->value = value;
    return true;
}
