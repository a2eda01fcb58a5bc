/* store — where traces live.  The collector writes through it, flamescope reads through
 * it.  One interface, backends behind it: the directory backend now (DIR/NAME/FILE),
 * object storage (Azure Blob, S3-compatible) later, so many collectors can share a store.
 *
 * Ids are relative paths inside the store, "NAME/FILE" for what the collector stored,
 * any depth for files people put there by hand (flamescope lists those too).  An id is
 * valid when every component is non-empty, does not start with '.', and has only
 * printable ASCII other than '/', '\\'; at most 8 components, 1024 bytes: store_id_valid().
 * Nothing outside the store is ever reachable through an id.
 *
 * Writes are atomic: store_put_begin() opens a temporary file inside the store's
 * temporary area (on the same filesystem), writes stream into it, store_put_commit()
 * fsyncs and renames it into place under a fresh unique name; store_put_abort() (or a
 * crash, cleaned by store_open_dir()) leaves nothing visible.
 *
 * Thread-safety: a store may be used from many threads at once; one store_put belongs to
 * one thread at a time.  Errors: negative errno, with a message in err where there is one. */
#ifndef FNTRACE_STORE_H
#define FNTRACE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tracename.h"

#define STORE_ID_MAX 1024
#define STORE_VERSION_MAX 64

typedef struct store store;
typedef struct store_put store_put;

struct store_entry {
    char id[STORE_ID_MAX + 1];     /* "fibonacci/20261121T101500.123Z-1a2b3c.perf" */
    char name[TRACE_NAME_MAX + 1]; /* first component for NAME/FILE ids, "" for top-level */
    uint64_t bytes;
    int64_t mtime_ns;              /* wall clock, ns since the epoch */
    int gzip;                      /* ends in .gz */
    /* A change token: an opaque printable string that differs whenever the content may
     * have changed, even when bytes and mtime_ns did not (a file replaced by one of the
     * same size with its mtime copied).  Compare it for equality only, together with
     * bytes and mtime_ns.  The directory backend derives it from the file's device,
     * inode and ctime (a rename-replace changes the inode, an in-place rewrite the
     * ctime); an object store would use its ETag. */
    char version[STORE_VERSION_MAX + 1];
};

int store_id_valid(const char *id);

/* Opens (creating if needed) a directory store; removes temporary files a crash left. */
store *store_open_dir(const char *dir, char *err, size_t errlen);
void store_close(store *st);
/* fsync of data and directories on commit (on by default); off is for throwaway stores
 * and benchmarks against tools that do not fsync. */
void store_set_fsync(store *st, int on);

/* Writing a trace. gzip selects the .perf.gz suffix. */
store_put *store_put_begin(store *st, const char *name, int gzip, char *err, size_t errlen);
int store_put_write(store_put *p, const void *data, size_t len);  /* -ENOSPC, -EDQUOT, … */
/* Makes the trace visible; fills the entry (id, bytes…).  Frees p, also on failure. */
int store_put_commit(store_put *p, struct store_entry *out);
void store_put_abort(store_put *p);                              /* frees p */

/* Lists traces, oldest first (by mtime, then id); name NULL lists all, at any depth.
 * *out is malloc'd (free it). */
int store_list(store *st, const char *name, struct store_entry **out, size_t *count);
int store_stat(store *st, const char *id, struct store_entry *out);
/* Opens a trace for reading: a file descriptor at offset 0 (caller closes) and its entry. */
int store_open(store *st, const char *id, int *fd, struct store_entry *out);
int store_delete(store *st, const char *id);

/* Totals, kept up to date by puts and deletes (recounted by store_open_dir). */
void store_usage(store *st, uint64_t *bytes, uint64_t *files);

/* Retention: deletes oldest traces first until total bytes <= max_bytes (0: no limit)
 * and removes traces older than max_age_s (0: no limit).  Returns how many it removed. */
int store_retain(store *st, uint64_t max_bytes, int64_t max_age_s);

#endif
