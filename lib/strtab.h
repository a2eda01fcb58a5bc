/* strtab — a string interner: byte string -> dense uint32 id, and back.
 *
 * Used on hot paths (the perf-script parser interns every symbol, module and comm it
 * reads; flamescope interns whole stacks as byte strings of frame ids), so:
 *   - keys are arbitrary bytes (NUL allowed), given as pointer + length;
 *   - ids are dense, starting at 0, in insertion order: callers index arrays by them;
 *   - the table copies each new key once into an arena; the pointers strtab_str()
 *     returns stay valid until strtab_free() (every stored string is NUL-terminated);
 *   - the index is a lib/oatable (open addressing, load factor <= 1/2) keyed by a
 *     64-bit hash seeded per table, so a hostile input cannot precompute collisions.
 *
 * Limits: a key is at most STRTAB_MAX_KEY bytes, at most STRTAB_MAX_IDS ids per table.
 * Ownership: the table owns its copies. Thread-safety: none; one table per thread, or
 * lock around it. Reads (strtab_str, strtab_count) are safe concurrently with each
 * other when no thread interns. */
#ifndef FNTRACE_STRTAB_H
#define FNTRACE_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#define STRTAB_NONE    UINT32_MAX          /* "no id": error or not found */
#define STRTAB_MAX_KEY (1u << 30)
#define STRTAB_MAX_IDS (1u << 30)

typedef struct strtab strtab;

/* A new empty table, or NULL when out of memory. */
strtab *strtab_new(void);
void strtab_free(strtab *t);

/* The id of key[0..len), adding it when new. STRTAB_NONE when out of memory or over
 * the limits above. */
uint32_t strtab_intern(strtab *t, const void *key, size_t len);

/* The id of key[0..len) when present, STRTAB_NONE otherwise; never adds. */
uint32_t strtab_find(const strtab *t, const void *key, size_t len);

/* The stored bytes of id (NUL-terminated), their length in *len when len is not NULL;
 * NULL for an id that does not exist. */
const char *strtab_str(const strtab *t, uint32_t id, size_t *len);

/* How many distinct keys the table holds (the next new id). */
uint32_t strtab_count(const strtab *t);

/* Bytes of memory the table uses (arena + index), for metrics and limits. */
size_t strtab_memory(const strtab *t);

/* The table's hash function, exposed for callers that build their own indexes keyed by
 * the same strings (seed 0 gives a fixed, reproducible hash). */
uint64_t strtab_hash(const void *key, size_t len, uint64_t seed);

#endif
