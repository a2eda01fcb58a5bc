/* oatable — see oatable.h. */
#include "oatable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define OAT_MIN_SLOTS 16
#define HUGE_BYTES (4u << 20)

static oat_slot *slots_alloc(size_t n)
{
    size_t bytes = n * sizeof(oat_slot);
    if (bytes < HUGE_BYTES)
        return calloc(n, sizeof(oat_slot));
    void *p = NULL;
    if (posix_memalign(&p, 2u << 20, bytes))
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE);
    memset(p, 0, bytes);
    return p;
}

static size_t slots_for(size_t expect)
{
    size_t n = OAT_MIN_SLOTS;
    while (n < expect * 2)
        n *= 2;
    return n;
}

int oat_init(oatable *t, size_t expect)
{
    size_t n = slots_for(expect);
    oat_slot *s = slots_alloc(n);
    if (!s)
        return -ENOMEM;
    free(t->slot);
    t->slot = s;
    t->mask = n - 1;
    t->len = 0;
    return 0;
}

void oat_free(oatable *t)
{
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* Doubles the slot array; entries keep their relative order within each probe run. */
static int grow(oatable *t)
{
    size_t n = (t->mask + 1) * 2;
    oat_slot *s = slots_alloc(n);
    if (!s)
        return -ENOMEM;
    oatable nt = { s, n - 1, t->len };
    /* walk from the start of a run (a slot after an empty one) so that duplicates of a
     * key land in the new table in the order they were inserted */
    size_t start = 0;
    while (t->slot[start].val)
        start = (start + 1) & t->mask;
    for (size_t k = 0; k <= t->mask; k++) {
        const oat_slot *o = &t->slot[(start + k) & t->mask];
        if (!o->val)
            continue;
        size_t j = oat_home(&nt, o->key);
        while (s[j].val)
            j = (j + 1) & nt.mask;
        s[j] = *o;
    }
    free(t->slot);
    *t = nt;
    return 0;
}

int oat_insert_at(oatable *t, size_t i, uint64_t key, uint64_t val)
{
    if (!t->slot) {
        if (oat_init(t, 0))
            return -ENOMEM;
        i = oat_find(t, key);
    }
    if ((t->len + 1) * 2 > t->mask + 1) {
        if (grow(t))
            return -ENOMEM;
        i = oat_find(t, key);
        while (t->slot[i].val)                  /* past any copies of key */
            i = oat_next(t, i, key);
    }
    t->slot[i].key = key;
    t->slot[i].val = val;
    t->len++;
    return 0;
}

int oat_put(oatable *t, uint64_t key, uint64_t val)
{
    size_t i = oat_find(t, key);
    if (i != OAT_NONE && t->slot[i].val) {
        if (val)
            t->slot[i].val = val;
        else
            oat_remove_at(t, i);
        return 0;
    }
    return val ? oat_insert_at(t, i, key, val) : 0;
}

void oat_remove_at(oatable *t, size_t i)
{
    size_t mask = t->mask;
    for (size_t j = i;;) {
        j = (j + 1) & mask;
        if (!t->slot[j].val)
            break;
        size_t home = oat_home(t, t->slot[j].key);
        /* the entry at j may move to the hole at i unless its home lies in (i, j] */
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        t->slot[i] = t->slot[j];
        i = j;
    }
    t->slot[i].val = 0;
    t->slot[i].key = 0;
    t->len--;
}

int oat_iter(const oatable *t, size_t *pos, uint64_t *key, uint64_t *val)
{
    if (!t->slot)
        return 0;
    for (; *pos <= t->mask; (*pos)++) {
        const oat_slot *s = &t->slot[*pos];
        if (s->val) {
            *key = s->key;
            *val = s->val;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}

size_t oat_memory(const oatable *t)
{
    return t->slot ? (t->mask + 1) * sizeof(oat_slot) : 0;
}
