/* intmap — see intmap.h.  Linear probing, grown at 50% load; no deletion (the tracer
 * keeps every process and thread it saw until the session ends). */
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
