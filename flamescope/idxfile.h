/* idxfile — profile index files on disk: one per trace, under an index folder (by
 * default the store's own `.index`, which store listings skip like every dotfile), at
 * DIR/ID.fsidx for store id ID.
 *
 * An index is tied to its trace by a pindex_key: the trace's size, mtime, the store's
 * change token (inode and ctime for a directory store, the ETag for an object store)
 * and a hash of its first and last 64 KiB (idxfile_key reads 128 KiB at most, whatever
 * the trace's size).  idxfile_load() maps the file read-only and accepts it only when
 * pindex_open()'s checks and the key pass (with IDXFILE_CHECK_LAZY, each part's checks
 * on its first use); anything else is refused with a reason and
 * the caller rebuilds from the trace and saves again.  idxfile_save() writes a
 * temporary file in the same folder, fsyncs it, renames it over the old index and
 * fsyncs the folder: a reader sees the old index or the new one, never half of one.
 *
 * A deleted trace's index goes with it: the collector removes it on delete and after
 * retention (idxfile_remove, idxfile_gc), flamescope when a trace it is asked for is gone
 * and at start (idxfile_gc); an index whose trace is gone is never read in between, and
 * one left behind by a trace replaced under the same id is stale by its key.
 *
 * Thread-safety: every function may be called from any thread; two writers of the same
 * index (threads or processes) each write their own temporary file, the last rename
 * wins, and both files are whole. */
#ifndef FLAMESCOPE_IDXFILE_H
#define FLAMESCOPE_IDXFILE_H

#include <stddef.h>
#include <stdint.h>

#include "pindex.h"
#include "profile.h"
#include "store.h"

/* The default index folder of a store: DIR/.index for a directory store (spec NULL: the
 * directory dir; "dir:PATH"), NULL (no index files) for other stores (flamescope keeps
 * theirs in its blob cache's .index).  buf holds it. */
const char *idxfile_default_dir(const char *spec, const char *dir, char *buf, size_t len);

/* The key of the trace open on fd (read with pread; the offset is left alone), of
 * size bytes, mtime_ns and change token version.  fd < 0 (an object store, whose ETag
 * changes with every write): no content hash, the token alone names the content.
 * 0 or -errno. */
int idxfile_key(int fd, uint64_t size, int64_t mtime_ns, const char *version,
                struct pindex_key *key);

/* The index of store id under dir, when it matches key: 0 and *out (profile_free it);
 * -ENOENT when there is none; -ESTALE (another version of the trace), -FT_ERR_CORRUPT
 * (failed a check) or another negative errno, with the reason in err. */
int idxfile_load(const char *dir, const char *id, const struct pindex_key *key,
                 profile **out, char *err, size_t errlen);
/* The same; flags IDXFILE_CHECK_LAZY: the header and the key now, each part of the
 * index on its first use (profile_verify, pindex.h's PINDEX_CHECK_LAZY), its pages
 * read when used (a heatmap reads a tenth of the file). */
#define IDXFILE_CHECK_LAZY 2u
int idxfile_load_flags(const char *dir, const char *id, const struct pindex_key *key,
                       unsigned flags, profile **out, char *err, size_t errlen);

/* The summary of id's index under dir from its header alone (pindex_summary), and the
 * index file's mtime when mtime_ns is not NULL: 0; -ENOENT when there is none;
 * -FT_ERR_CORRUPT (reason in err).  The caller compares out->key with the trace. */
int idxfile_summary(const char *dir, const char *id, struct pindex_summary *out,
                    int64_t *mtime_ns, char *err, size_t errlen);

/* Removes the index of id under dir (its trace was deleted): 0, also when there was
 * none, or -errno. */
int idxfile_remove(const char *dir, const char *id);

/* Garbage collection: removes every index file under dir whose trace is not in the
 * store (a trace deleted by hand, or by a process that keeps no index folder) and the
 * temporary files of writers that died (older than an hour).  One store listing and one
 * walk of dir.  A trace stored between the listing and the walk may lose its new index:
 * it is rebuilt on its next open.  Returns how many files it removed, or -errno (the
 * listing failed: nothing is removed). */
int idxfile_gc(const char *dir, store *st);

/* Writes p as the index of id under dir (creating the folders), atomically. */
int idxfile_save(const char *dir, const char *id, const struct pindex_key *key,
                 const profile *p, char *err, size_t errlen);
/* The same; flags IDXFILE_NO_FSYNC: still atomic (rename), not durable (tests and
 * benchmarks that make thousands of index files). */
#define IDXFILE_NO_FSYNC 1u
int idxfile_save_flags(const char *dir, const char *id, const struct pindex_key *key,
                       const profile *p, unsigned flags, char *err, size_t errlen);

#endif
