/* pcache — the profile index cache: one index per (store id, size, mtime, version: the
 * store's change token, see struct store_entry), bounded by
 * the bytes the indexes hold, least recently used first out.
 *
 * Single flight: when several requests want the same uncached profile, the first one
 * builds the index (outside the lock) and the others wait on a condition variable for
 * it, so a profile is parsed once however many requests arrive.  At most one build per
 * core runs at once (pcache_set_max_builds); further builds queue.  A refusal the same
 * bytes would earn again (over --max-profile or the memory budget, corrupt gzip, not
 * perf text) is cached like an index, so a gzip bomb or an oversized profile is paid for
 * once; other failures are not cached: every waiter gets the error, the next request
 * tries again.  A new size, mtime
 * or version for an id is a new key (a file appended to or replaced is indexed again,
 * also when the replacement has the same size and mtime); the stale index is dropped
 * once unused.
 *
 * Ownership: pcache_get() returns a reference the caller gives back with
 * pcache_release(); an index in use is never freed (the cache may exceed its budget
 * while references are held).  Thread-safety: every function may be called from any
 * thread. */
#ifndef FLAMESCOPE_PCACHE_H
#define FLAMESCOPE_PCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

typedef struct pcache pcache;
typedef struct pcache_entry pcache_entry;

/* Builds the index for the key (called without the lock held); NULL with *err set. */
typedef profile *(*pcache_build_fn)(void *ctx, int *err, char *msg, size_t msglen);

pcache *pcache_new(size_t max_bytes);
void pcache_free(pcache *c);

/* The index of id at (size, mtime_ns, version), built with build(ctx) when absent;
 * version is the store's change token (NULL counts as "").  Returns NULL with a
 * negative errno in *err and a message on failure. */
const profile *pcache_get(pcache *c, const char *id, uint64_t size, int64_t mtime_ns,
                          const char *version, pcache_build_fn build, void *ctx,
                          pcache_entry **ref, int *err, char *msg, size_t msglen);
void pcache_release(pcache *c, pcache_entry *ref);
/* Releases ref and forgets its index (found damaged on use): the next pcache_get of
 * the key builds it again; holders of other references keep theirs until released.
 * 1 when this call took it out of the cache, 0 when another had already. */
int pcache_drop(pcache *c, pcache_entry *ref);
/* Builds allowed at once (default: the online cores). */
void pcache_set_max_builds(pcache *c, unsigned n);

struct pcache_stats {
    uint64_t hits, misses, builds, waits, evictions;
    uint64_t queued, refusals;   /* builds that waited for a core; cached refusals */
    size_t bytes, entries;
};
void pcache_stats_get(pcache *c, struct pcache_stats *out);

#endif
