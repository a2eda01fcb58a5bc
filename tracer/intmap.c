/* intmap — see intmap.h.  Linear probing, grown at 50% load; deletion shifts the
 * following entries of the probe run back (no tombstones). */
#include "intmap.h"

#include <errno.h>
#include <stdlib.h>

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void *intmap_get(const intmap *m, uint64_t key)
{
    if (!m->cap) return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].used) return NULL;
        if (m->slots[i].key == key) return m->slots[i].val;
    }
}

static void place(struct intmap_slot *slots, size_t cap, uint64_t key, void *val)
{
    size_t i = slot_of(key, cap);
    while (slots[i].used && slots[i].key != key) i = (i + 1) & (cap - 1);
    slots[i].key = key;
    slots[i].val = val;
    slots[i].used = 1;
}

int intmap_put(intmap *m, uint64_t key, void *val)
{
    if ((m->len + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        struct intmap_slot *ns = calloc(ncap, sizeof *ns);
        if (!ns) return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].used) place(ns, ncap, m->slots[i].key, m->slots[i].val);
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    if (!intmap_get(m, key)) m->len++;
    place(m->slots, m->cap, key, val);
    return 0;
}

void *intmap_del(intmap *m, uint64_t key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->slots[i].used && m->slots[i].key != key) i = (i + 1) & mask;
    if (!m->slots[i].used) return NULL;
    void *val = m->slots[i].val;
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].used) break;
        size_t home = slot_of(m->slots[j].key, m->cap);
        /* the entry at j may move to the hole at i unless its home lies in (i, j] */
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        m->slots[i] = m->slots[j];
        i = j;
    }
    m->slots[i].used = 0;
    m->len--;
    return val;
}

int intmap_next(const intmap *m, size_t *pos, uint64_t *key, void **val)
{
    for (; *pos < m->cap; (*pos)++) {
        if (m->slots[*pos].used) {
            *key = m->slots[*pos].key;
            *val = m->slots[*pos].val;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}

void intmap_free(intmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}
