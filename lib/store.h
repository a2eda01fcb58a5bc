/* store — where traces live.  The collector writes through it, flamescope reads through
 * it.  One interface, backends behind it (struct store_backend, lib/store_backend.h):
 *   dir:PATH                    the directory backend (lib/store_dir.c), DIR/NAME/FILE
 *   azblob://ACCOUNT/CONTAINER  Azure Blob Storage over REST (lib/store_azblob.c)
 * so many collectors can share a store.  This file's functions are the dispatch: the id
 * and name rules, the unique names of new traces, retention and the operation metrics
 * sit here once, above every backend.  store_open_spec() is the one parser of the
 * `--store` argument of both daemons.
 *
 * Ids are relative paths inside the store, "NAME/FILE" for what the collector stored,
 * any depth for files people put there by hand (flamescope lists those too).  An id is
 * valid when every component is non-empty, does not start with '.', and has only
 * printable ASCII other than '/', '\\'; at most 8 components, 1024 bytes: store_id_valid().
 * Nothing outside the store is ever reachable through an id.
 *
 * Writes are atomic: store_put_begin() starts a trace nobody can see, writes stream into
 * it, store_put_commit() makes it durable and visible under a fresh unique name
 * (NAME/<UTC time>-<unique>.perf[.gz], store_new_file_name()); store_put_abort() (or a
 * crash) leaves nothing visible.  A commit that returns 0 means the backend said the
 * trace is durable (fsync + rename; Put Blob / Put Block List answered 201).
 *
 * Reading: store_open_reader() gives a reader with a read callback (store_read) that the
 * profile parser and lib/httpd's streaming reply take; store_reader_fd() is the fast path
 * where the backend has a file descriptor (the directory, flamescope's blob cache).
 * store_open() is the fd-only form (-FT_ERR_UNSUPPORTED where there is no file).
 *
 * Thread-safety: a store may be used from many threads at once; one store_put and one
 * store_reader belong to one thread at a time.  Errors: negative errno or -FT_ERR_*
 * (lib/fterr.h), with a message in err where there is one; -FT_ERR_STORE_DOWN means the
 * store cannot be reached now (a collector answers 503, clients retry). */
#ifndef FNTRACE_STORE_H
#define FNTRACE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tracename.h"

#define STORE_ID_MAX 1024
#define STORE_VERSION_MAX 64

typedef struct store store;
typedef struct store_put store_put;
typedef struct store_reader store_reader;

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
     * ctime); the blob backend uses the blob's ETag. */
    char version[STORE_VERSION_MAX + 1];
};

int store_id_valid(const char *id);
/* The file part of a new trace's id, "<UTC time>-<unique>.perf[.gz]" (the one naming
 * rule of every backend); out must hold 64 bytes. */
void store_new_file_name(char *out, size_t outlen, int gzip);

/* How a store is opened (all optional: zero is the default). */
struct store_opts {
    int no_fsync;              /* directory: no fsync on commit (benchmarks, throwaway) */
    int allow_http;            /* blob: plain http to a non-loopback endpoint */
    const char *cache_dir;     /* blob: local disk cache of fetched blobs (flamescope) */
    uint64_t cache_bytes;      /* its bound (default 1 GiB) */
    int list_ttl_ms;           /* blob: listings reused this long (0: not cached) */
    int no_create;             /* blob: do not create a missing container */
};

/* Opens the store a --store argument names: "dir:PATH", "azblob://ACCOUNT/CONTAINER",
 * or a plain path (the directory backend).  Blob credentials come from the environment
 * (AZURE_STORAGE_CONNECTION_STRING, else AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN).
 * The store is reached once before this returns: wrong credentials are an error here.
 * NULL with a message in err (and a negative code in *code when code is not NULL). */
store *store_open_spec(const char *spec, const struct store_opts *opts, int *code,
                       char *err, size_t errlen);
/* Opens (creating if needed) a directory store; removes temporary files a crash left. */
store *store_open_dir(const char *dir, char *err, size_t errlen);
void store_close(store *st);
/* "dir:PATH" or "azblob://ACCOUNT/CONTAINER" (for logs). */
const char *store_describe(const store *st);
/* fsync of data and directories on commit (on by default); off is for throwaway stores
 * and benchmarks against tools that do not fsync.  Directory backend only. */
void store_set_fsync(store *st, int on);

/* Writing a trace. gzip selects the .perf.gz suffix (and Content-Encoding for blobs).
 * NULL with errno set (and a message) on failure. */
store_put *store_put_begin(store *st, const char *name, int gzip, char *err, size_t errlen);
int store_put_write(store_put *p, const void *data, size_t len);  /* -ENOSPC, -EDQUOT, … */
/* Makes the trace durable and visible; fills the entry (id, bytes…).  Frees p, also on
 * failure. */
int store_put_commit(store_put *p, struct store_entry *out);
void store_put_abort(store_put *p);                              /* frees p */
/* A hook the backend calls just before the trace becomes visible, with the id it will have
 * and its size (again, with another id, if the backend has to pick a new one): what must
 * survive a crash between the two (an idempotency key) is recorded there.  A hook that
 * returns non-zero abandons the commit (nothing visible; store_put_commit returns that). */
typedef int (*store_precommit_fn)(void *ctx, const char *id, uint64_t bytes);
void store_put_on_commit(store_put *p, store_precommit_fn fn, void *ctx);

/* Records: small objects beside the traces that collectors sharing a store agree on
 * (idempotency keys).  A record is named KIND/NAME ([A-Za-z0-9_-], 1..64 and 1..512
 * characters) and lives under ".fntrace/", outside every listing.  Backends without them
 * (the directory: one collector per directory keeps its own journal) answer
 * -FT_ERR_UNSUPPORTED.  store_records() says whether st has them. */
#define STORE_RECORD_MAX 4096
int store_records(const store *st);
/* Creates the record only if there is none (If-None-Match: *): 0, or -EEXIST. */
int store_record_create(store *st, const char *kind, const char *name, const void *data,
                        size_t len);
/* Reads it into buf (cap bytes, NUL-terminated; at most STORE_RECORD_MAX): its length, or
 * -ENOENT.  version (STORE_VERSION_MAX + 1 bytes, or NULL) gets its change token. */
ssize_t store_record_get(store *st, const char *kind, const char *name, char *buf, size_t cap,
                         char *version);
/* Deletes it if it is still at version (NULL: any): 0, -ENOENT, or -ESTALE (changed). */
int store_record_delete(store *st, const char *kind, const char *name, const char *version);

/* Lists traces, oldest first (by mtime, then id); name NULL lists all, at any depth.
 * *out is malloc'd (free it). */
int store_list(store *st, const char *name, struct store_entry **out, size_t *count);
int store_stat(store *st, const char *id, struct store_entry *out);
/* Opens a trace for reading: a file descriptor at offset 0 (caller closes) and its
 * entry.  -FT_ERR_UNSUPPORTED on a backend without files: use store_open_reader. */
int store_open(store *st, const char *id, int *fd, struct store_entry *out);
/* Opens a trace for reading through any backend; *r is closed by store_reader_close. */
int store_open_reader(store *st, const char *id, store_reader **r, struct store_entry *out);
/* Reads up to len bytes: the count, 0 at the end, or a negative code. */
ssize_t store_read(store_reader *r, void *buf, size_t len);
/* The reader's file descriptor when it has one (owned by the reader), else -1. */
int store_reader_fd(store_reader *r);
void store_reader_close(store_reader *r);
/* A read callback over a store_reader for code that takes (fn, ctx) pairs. */
ssize_t store_read_cb(void *reader, void *buf, size_t len);
int store_delete(store *st, const char *id);

/* Totals, kept up to date by puts and deletes (recounted at open and by retention). */
void store_usage(store *st, uint64_t *bytes, uint64_t *files);

/* Retention: deletes oldest traces first until total bytes <= max_bytes (0: no limit)
 * and removes traces older than max_age_s (0: no limit).  Returns how many it removed. */
int store_retain(store *st, uint64_t max_bytes, int64_t max_age_s);

/* Operation metrics, counted by the dispatch for every backend. */
enum store_op { STORE_OP_PUT, STORE_OP_GET, STORE_OP_LIST, STORE_OP_DELETE, STORE_OP_COUNT };
struct store_op_stats {
    uint64_t count[STORE_OP_COUNT];     /* operations finished */
    uint64_t errors[STORE_OP_COUNT];    /* of those, failed (not "no such trace") */
    uint64_t ns[STORE_OP_COUNT];        /* total latency */
};
void store_op_stats_get(store *st, struct store_op_stats *out);
const char *store_op_name(enum store_op op);

#endif
