/* strtab — string interner (see strtab.h for the contract).
 *
 * Layout: `ents` is the id-indexed array {pointer into the arena, length, hash};
 * `slots` is the open-addressing index: each slot holds id+1 (0 = empty) and the upper
 * 32 bits of the hash, so most mismatches are rejected without touching the key.
 * The arena is a list of chunks that never move, so stored pointers stay valid. */
#include "strtab.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARENA_CHUNK (256u * 1024u)

struct ent {
    const char *p;
    uint32_t len;
    uint32_t hash;        /* upper half of the 64-bit hash */
};

struct slot {
    uint32_t idp1;        /* id + 1, 0 when empty */
    uint32_t hash;
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
    struct slot *slots;
    uint32_t mask;        /* slot count - 1 */
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
    t->mask = 255;
    t->slots = calloc(t->mask + 1, sizeof(*t->slots));
    if (!t->slots) {
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
    free(t->slots);
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

static int grow_slots(strtab *t)
{
    uint32_t ncap = (t->mask + 1) * 2;
    struct slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -1;
    uint32_t nmask = ncap - 1;
    for (uint32_t id = 0; id < t->n; id++) {
        /* the slot position uses the low hash bits, which we did not keep: rehash */
        uint64_t h = strtab_hash(t->ents[id].p, t->ents[id].len, t->seed);
        uint32_t i = (uint32_t)h & nmask;
        while (ns[i].idp1)
            i = (i + 1) & nmask;
        ns[i].idp1 = id + 1;
        ns[i].hash = (uint32_t)(h >> 32);
    }
    free(t->slots);
    t->slots = ns;
    t->mask = nmask;
    return 0;
}

static inline uint32_t lookup(const strtab *t, const void *key, size_t len, uint64_t h,
                              uint32_t *slot_out)
{
    uint32_t hi = (uint32_t)(h >> 32);
    uint32_t i = (uint32_t)h & t->mask;
    for (;;) {
        const struct slot *s = &t->slots[i];
        if (!s->idp1) {
            *slot_out = i;
            return STRTAB_NONE;
        }
        if (s->hash == hi) {
            const struct ent *e = &t->ents[s->idp1 - 1];
            if (e->len == len && memcmp(e->p, key, len) == 0)
                return s->idp1 - 1;
        }
        i = (i + 1) & t->mask;
    }
}

uint32_t strtab_find(const strtab *t, const void *key, size_t len)
{
    if (!len)
        key = "";
    if (len > STRTAB_MAX_KEY)
        return STRTAB_NONE;
    uint32_t slot;
    return lookup(t, key, len, strtab_hash(key, len, t->seed), &slot);
}

uint32_t strtab_intern(strtab *t, const void *key, size_t len)
{
    if (!len)
        key = "";
    if (len > STRTAB_MAX_KEY)
        return STRTAB_NONE;
    uint64_t h = strtab_hash(key, len, t->seed);
    uint32_t slot;
    uint32_t id = lookup(t, key, len, h, &slot);
    if (id != STRTAB_NONE)
        return id;
    if (t->n >= STRTAB_MAX_IDS)
        return STRTAB_NONE;
    if ((uint64_t)(t->n + 1) * 2 > (uint64_t)t->mask + 1) {
        if (grow_slots(t) < 0)
            return STRTAB_NONE;
        lookup(t, key, len, h, &slot);
    }
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
    id = t->n++;
    t->ents[id] = (struct ent){ copy, (uint32_t)len, (uint32_t)(h >> 32) };
    t->slots[slot].idp1 = id + 1;
    t->slots[slot].hash = (uint32_t)(h >> 32);
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
    return t->arena_bytes + (size_t)t->ents_cap * sizeof(struct ent) +
           ((size_t)t->mask + 1) * sizeof(struct slot);
}
