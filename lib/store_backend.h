/* store_backend — the table a store backend fills in (in the style of curl's Curl_ssl):
 * lib/store.c dispatches every store.h call through it, after checking names and ids
 * and before counting the operation.  A backend never sees an invalid id or name.
 *
 * Every function returns 0 (or a count) or a negative errno / -FT_ERR_* code; ENOENT
 * means "no such trace".  `self` is the backend's own state, made by its open function
 * and freed by close.  All functions but the put ones may be called from many threads
 * at once; one put and one reader belong to one thread at a time. */
#ifndef FNTRACE_STORE_BACKEND_H
#define FNTRACE_STORE_BACKEND_H

#include "store.h"

struct store_backend {
    const char *scheme;                   /* "dir", "azblob" */
    void (*close)(void *self);
    /* name NULL: everything; else the traces of that name.  Any order (store.c sorts). */
    int (*list)(void *self, const char *name, struct store_entry **out, size_t *count);
    int (*stat)(void *self, const char *id, struct store_entry *out);
    /* optional: the trace as a file descriptor (the fast path) */
    int (*open_fd)(void *self, const char *id, int *fd, struct store_entry *out);
    int (*open_reader)(void *self, const char *id, void **reader, struct store_entry *out);
    ssize_t (*read)(void *reader, void *buf, size_t len);
    int (*reader_fd)(void *reader);       /* optional: -1 when none */
    void (*reader_close)(void *reader);
    /* *bytes: the size of what was deleted (for the usage totals) */
    int (*del)(void *self, const char *id, uint64_t *bytes);
    int (*put_begin)(void *self, const char *name, int gzip, void **put, char *err,
                     size_t errlen);
    int (*put_write)(void *put, const void *data, size_t len);
    int (*put_commit)(void *put, struct store_entry *out);   /* frees put */
    void (*put_abort)(void *put);                            /* frees put */
    void (*set_fsync)(void *self, int on);                   /* optional */
    /* optional: the hook put_commit calls before the trace becomes visible (store.h) */
    void (*put_on_commit)(void *put, store_precommit_fn fn, void *ctx);
    /* optional: records (store.h); path is ".fntrace/KIND/NAME", already checked */
    int (*record_create)(void *self, const char *path, const void *data, size_t len);
    ssize_t (*record_get)(void *self, const char *path, char *buf, size_t cap, char *version);
    int (*record_delete)(void *self, const char *path, const char *version);
};

extern const struct store_backend store_dir_backend;
extern const struct store_backend store_azblob_backend;

/* Backend constructors, called by store_open_spec. */
void *store_dir_open(const char *dir, const struct store_opts *o, char *err, size_t errlen);
void *store_azblob_open(const char *account, const char *container,
                        const struct store_opts *o, int *code, char *err, size_t errlen);

/* 32 random bits (getrandom, else time and pid). */
uint32_t store_random32(void);
/* Fills e's name and gzip fields from its id. */
void store_entry_derive(struct store_entry *e);

#endif
