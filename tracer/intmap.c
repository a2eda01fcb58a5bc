/* intmap — see intmap.h: pointers as oatable values. */
#include "intmap.h"

void *intmap_get(const intmap *m, uint64_t key)
{
    return (void *)(uintptr_t)oat_get(m, key);
}

int intmap_put(intmap *m, uint64_t key, void *val)
{
    return oat_put(m, key, (uint64_t)(uintptr_t)val);
}

void *intmap_del(intmap *m, uint64_t key)
{
    size_t i = oat_find(m, key);
    if (i == OAT_NONE || !m->slot[i].val)
        return NULL;
    void *val = (void *)(uintptr_t)m->slot[i].val;
    oat_remove_at(m, i);
    return val;
}

int intmap_next(const intmap *m, size_t *pos, uint64_t *key, void **val)
{
    uint64_t v;
    if (!oat_iter(m, pos, key, &v))
        return 0;
    *val = (void *)(uintptr_t)v;
    return 1;
}

void intmap_free(intmap *m)
{
    oat_free(m);
}
