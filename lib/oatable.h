/* oatable — the one open-addressing hash table of fntrace: 64-bit key -> 64-bit value,
 * linear probing on a power-of-two slot array kept at most half full, deletion by
 * shifting the rest of the probe run back (no tombstones).
 *
 * Every hash index in the project is one of these: lib/strtab (string interner: key =
 * the string's 64-bit hash, value = id + 1, the caller compares the bytes), the tracer's
 * intmap (pid/tid maps), flamescope's stack trie ((parent, label) -> node) and ftree's
 * child index.  A key may be stored more than once (a multimap, for callers whose key is
 * a hash): oat_find() gives the first slot holding the key or the empty slot that ends
 * its run, oat_next() the next one, in insertion order.
 *
 * Value 0 marks an empty slot, so callers store non-zero values (id + 1, a pointer).
 * The probe functions are inline: they are the parser's interning hot path.  Tables of
 * 4 MiB and more are asked for in huge pages (every lookup is a random access).
 * Ownership: the table owns its slot array only.  Not thread-safe: one writer, or
 * concurrent readers while nobody writes.  A zeroed oatable is a valid empty table. */
#ifndef FNTRACE_OATABLE_H
#define FNTRACE_OATABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct oat_slot {
    uint64_t key;
    uint64_t val;              /* 0: empty */
} oat_slot;

typedef struct oatable {
    oat_slot *slot;            /* NULL until the first insert (or oat_init) */
    size_t mask;               /* slot count - 1 */
    size_t len;                /* stored entries */
} oatable;

#define OAT_NONE SIZE_MAX      /* oat_find on a table with no slots yet */

/* Allocates room for `expect` entries (0: a small table).  0 or -ENOMEM. */
int oat_init(oatable *t, size_t expect);
void oat_free(oatable *t);     /* leaves a zeroed, reusable table */

/* The slot where a probe for key starts (a multiply-xorshift mix of the key). */
static inline size_t oat_home(const oatable *t, uint64_t key)
{
    key ^= key >> 32;
    key *= 0xd6e8feb86659fd93ull;
    key ^= key >> 32;
    return (size_t)key & t->mask;
}

/* The first slot at or after i, in probe order, that holds key or is empty. */
static inline size_t oat_seek(const oatable *t, size_t i, uint64_t key)
{
    for (;; i = (i + 1) & t->mask) {
        const oat_slot *s = &t->slot[i];
        if (!s->val || s->key == key)
            return i;
    }
}

/* Where key is (t->slot[i].val != 0) or would go (val == 0); OAT_NONE when the table
 * has no slots yet (then oat_insert_at takes OAT_NONE too). */
static inline size_t oat_find(const oatable *t, uint64_t key)
{
    return t->slot ? oat_seek(t, oat_home(t, key), key) : OAT_NONE;
}

/* The next slot after i holding key, or the empty slot ending the run. */
static inline size_t oat_next(const oatable *t, size_t i, uint64_t key)
{
    return oat_seek(t, (i + 1) & t->mask, key);
}

/* The value stored for key, 0 when absent (the first one, for a multimap). */
static inline uint64_t oat_get(const oatable *t, uint64_t key)
{
    size_t i = oat_find(t, key);
    return i == OAT_NONE ? 0 : t->slot[i].val;
}

/* Stores (key, val != 0) in the empty slot i that oat_find/oat_next returned, then grows
 * the table past half full (slot indexes from before are stale after this call).
 * 0 or -ENOMEM (nothing stored). */
int oat_insert_at(oatable *t, size_t i, uint64_t key, uint64_t val);

/* Sets key's value (replacing the first one stored); val 0 removes it.  0 or -ENOMEM. */
int oat_put(oatable *t, uint64_t key, uint64_t val);

/* Removes the entry in slot i (which must hold one). */
void oat_remove_at(oatable *t, size_t i);

/* Iteration in slot order: start with *pos = 0; 1 and an entry, or 0 at the end.  Do
 * not insert while iterating. */
int oat_iter(const oatable *t, size_t *pos, uint64_t *key, uint64_t *val);

/* Bytes of the slot array. */
size_t oat_memory(const oatable *t);

#endif
