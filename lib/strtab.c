/* strtab — string interner (see strtab.h for the contract).
 *
 * Layout: `ents` is the id-indexed array {pointer into the arena, length}; `idx` is the
 * index, a lib/oatable multimap from the key's full 64-bit hash to id + 1, so a
 * mismatch is rejected without touching the key bytes.  The arena is a list of chunks
 * that never move, so stored pointers stay valid. */
#include "strtab.h"
#include "oatable.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARENA_CHUNK (256u * 1024u)

struct ent {
    const char *p;
    size_t len;
};

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

struct strtab {
    uint64_t seed;
    struct ent *ents;
    uint32_t n, ents_cap;
    oatable idx;          /* hash -> id + 1 */
    struct chunk *arena;
    size_t arena_bytes;
};

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t strtab_hash(const void *key, size_t len, uint64_t seed)
{
    const unsigned char *p = key;
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    uint64_t h = seed ^ k0 ^ ((uint64_t)len * k1);
    while (len >= 16) {
        h = mix(rd64(p) ^ k1 ^ h, rd64(p + 8) ^ k0);
        p += 16;
        len -= 16;
    }
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        a = rd64(p);
        b = rd64(p + len - 8);
    } else if (len >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + len - 4, 4);
        a = x;
        b = y;
    } else if (len > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
    }
    return mix(a ^ k1 ^ h, b ^ k0 ^ (h >> 7));
}

strtab *strtab_new(void)
{
    strtab *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t->seed = strtab_hash(&ts, sizeof(ts), (uint64_t)(uintptr_t)t);
    if (oat_init(&t->idx, 128)) {
        free(t);
        return NULL;
    }
    return t;
}

void strtab_free(strtab *t)
{
    if (!t)
        return;
    struct chunk *c = t->arena;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(t->ents);
    oat_free(&t->idx);
    free(t);
}

static const char *arena_copy(strtab *t, const void *key, size_t len)
{
    struct chunk *c = t->arena;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
        struct chunk *nc = malloc(sizeof(*nc) + cap);
        if (!nc)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        t->arena_bytes += sizeof(*nc) + cap;
        if (c && cap > ARENA_CHUNK) {
            /* a big key gets its own chunk behind the current one, which keeps
             * filling */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            t->arena = nc;
        }
        c = nc;
    }
    char *dst = c->data + c->used;
    if (len)
        memcpy(dst, key, len);
    dst[len] = '\0';
    c->used += len + 1;
    return dst;
}

static inline uint32_t lookup(const strtab *t, const void *key, size_t len, uint64_t h,
                              size_t *slot_out)
{
    size_t i = oat_find(&t->idx, h);
    for (uint64_t v; (v = t->idx.slot[i].val); i = oat_next(&t->idx, i, h)) {
        const struct ent *e = &t->ents[v - 1];
        if (e->len == len && memcmp(e->p, key, len) == 0)
            return (uint32_t)(v - 1);
    }
    *slot_out = i;
    return STRTAB_NONE;
}

uint32_t strtab_find(const strtab *t, const void *key, size_t len)
{
    if (!len)
        key = "";
    if (len > STRTAB_MAX_KEY)
        return STRTAB_NONE;
    size_t slot = 0;
    return lookup(t, key, len, strtab_hash(key, len, t->seed), &slot);
}

uint32_t strtab_intern(strtab *t, const void *key, size_t len)
{
    if (!len)
        key = "";
    if (len > STRTAB_MAX_KEY)
        return STRTAB_NONE;
    uint64_t h = strtab_hash(key, len, t->seed);
    size_t slot = 0;
    uint32_t id = lookup(t, key, len, h, &slot);
    if (id != STRTAB_NONE)
        return id;
    if (t->n >= STRTAB_MAX_IDS)
        return STRTAB_NONE;
    if (t->n == t->ents_cap) {
        uint32_t ncap = t->ents_cap ? t->ents_cap * 2 : 256;
        struct ent *ne = realloc(t->ents, (size_t)ncap * sizeof(*ne));
        if (!ne)
            return STRTAB_NONE;
        t->ents = ne;
        t->ents_cap = ncap;
    }
    const char *copy = arena_copy(t, key, len);
    if (!copy)
        return STRTAB_NONE;
    id = t->n;
    if (oat_insert_at(&t->idx, slot, h, (uint64_t)id + 1))
        return STRTAB_NONE;
    t->n++;
    t->ents[id] = (struct ent){ copy, len };
    return id;
}

const char *strtab_str(const strtab *t, uint32_t id, size_t *len)
{
    if (id >= t->n)
        return NULL;
    if (len)
        *len = t->ents[id].len;
    return t->ents[id].p;
}

uint32_t strtab_count(const strtab *t)
{
    return t->n;
}

size_t strtab_memory(const strtab *t)
{
    return t->arena_bytes + (size_t)t->ents_cap * sizeof(struct ent) + oat_memory(&t->idx);
}
