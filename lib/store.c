/* store — the dispatch of store.h over a backend table (store_backend.h).
 *
 * What sits here, once for every backend: the name and id rules, the unique file names
 * of new traces, the parsing of a --store argument, sorted listings, the usage totals
 * (counted at open and by every retention pass, moved by commits and deletes), retention
 * and the per-operation metrics.  A backend only ever sees valid names and ids.
 *
 * Thread-safety: the usage totals are under a mutex, the metrics are atomics; the rest
 * of struct store is set at open and read-only afterwards. */
#define _GNU_SOURCE
#include "store.h"
#include "errbuf.h"
#include "fterr.h"
#include "store_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 8

struct store {
    const struct store_backend *be;
    void *self;
    char desc[STORE_ID_MAX + 32];
    pthread_mutex_t lock;            /* guards bytes, files */
    uint64_t bytes, files;
    atomic_uint_fast64_t op_count[STORE_OP_COUNT], op_errors[STORE_OP_COUNT],
        op_ns[STORE_OP_COUNT];
};

struct store_put {
    store *st;
    void *impl;
    int64_t t0;
};

struct store_reader {
    store *st;
    void *impl;
};

/* --- validation ------------------------------------------------------------------- */

int store_id_valid(const char *id)
{
    if (!id || !*id) return 0;
    size_t len = 0, comps = 1, comp_len = 0;
    for (const char *p = id; *p; p++, len++) {
        unsigned char c = (unsigned char)*p;
        if (len >= STORE_ID_MAX) return 0;
        if (c == '/') {
            if (comp_len == 0) return 0;         /* leading '/', "//" */
            if (++comps > MAX_DEPTH) return 0;
            comp_len = 0;
            continue;
        }
        if (c < 0x20 || c > 0x7e || c == '\\') return 0;
        if (comp_len == 0 && c == '.') return 0; /* ".", "..", ".hidden" */
        comp_len++;
    }
    return comp_len > 0;                          /* no trailing '/' */
}

uint32_t store_random32(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
    }
    return r;
}

/* "20261121T101500.123Z-1a2b3c4d.perf[.gz]" */
void store_new_file_name(char *out, size_t outlen, int gzip)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y%m%dT%H%M%S", &tm);
    snprintf(out, outlen, "%.20s.%03dZ-%08x.perf%s", base, (int)(ts.tv_nsec / 1000000) % 1000,
             store_random32(), gzip ? ".gz" : "");
}

void store_entry_derive(struct store_entry *e)
{
    e->name[0] = 0;
    const char *slash = strchr(e->id, '/');
    if (slash && (size_t)(slash - e->id) <= TRACE_NAME_MAX) {
        memcpy(e->name, e->id, (size_t)(slash - e->id));
        e->name[slash - e->id] = 0;
    }
    size_t n = strlen(e->id);
    e->gzip = n > 3 && !strcmp(e->id + n - 3, ".gz");
}

/* --- metrics ---------------------------------------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int op_done(store *st, enum store_op op, int64_t t0, int r)
{
    atomic_fetch_add(&st->op_count[op], 1);
    atomic_fetch_add(&st->op_ns[op], (uint64_t)(mono_ns() - t0));
    if (r < 0 && r != -ENOENT) atomic_fetch_add(&st->op_errors[op], 1);
    return r;
}

void store_op_stats_get(store *st, struct store_op_stats *out)
{
    for (int i = 0; i < STORE_OP_COUNT; i++) {
        out->count[i] = atomic_load(&st->op_count[i]);
        out->errors[i] = atomic_load(&st->op_errors[i]);
        out->ns[i] = atomic_load(&st->op_ns[i]);
    }
}

const char *store_op_name(enum store_op op)
{
    static const char *const names[STORE_OP_COUNT] = { "put", "get", "list", "delete" };
    return (unsigned)op < STORE_OP_COUNT ? names[op] : "unknown";
}

static void usage_add(store *st, int64_t bytes, int64_t files)
{
    pthread_mutex_lock(&st->lock);
    st->bytes = (uint64_t)((int64_t)st->bytes + bytes);
    st->files = (uint64_t)((int64_t)st->files + files);
    if ((int64_t)st->bytes < 0) st->bytes = 0;
    if ((int64_t)st->files < 0) st->files = 0;
    pthread_mutex_unlock(&st->lock);
}

static void usage_set(store *st, const struct store_entry *v, size_t n)
{
    uint64_t b = 0;
    for (size_t i = 0; i < n; i++) b += v[i].bytes;
    pthread_mutex_lock(&st->lock);
    st->bytes = b;
    st->files = n;
    pthread_mutex_unlock(&st->lock);
}

void store_usage(store *st, uint64_t *bytes, uint64_t *files)
{
    pthread_mutex_lock(&st->lock);
    if (bytes) *bytes = st->bytes;
    if (files) *files = st->files;
    pthread_mutex_unlock(&st->lock);
}

/* --- open / close ----------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
    const struct store_entry *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns) return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->id, y->id);
}

static store *store_wrap(const struct store_backend *be, void *self, const char *desc)
{
    store *st = calloc(1, sizeof *st);
    if (!st) { be->close(self); return NULL; }
    st->be = be;
    st->self = self;
    snprintf(st->desc, sizeof st->desc, "%s", desc);
    pthread_mutex_init(&st->lock, NULL);
    struct store_entry *v;
    size_t n;
    if (store_list(st, NULL, &v, &n) == 0) {
        usage_set(st, v, n);
        free(v);
    }
    return st;
}

store *store_open_dir(const char *dir, char *err, size_t errlen)
{
    return store_open_spec(dir, NULL, NULL, err, errlen);
}

/* azblob://ACCOUNT/CONTAINER: account [a-z0-9]{3,24}, container [a-z0-9-]{3,63} (the
 * rules of Azure itself, checked so that they never become part of a URL unchecked). */
static int parse_azblob(const char *rest, char *account, size_t alen, char *container,
                        size_t clen, char *err, size_t errlen)
{
    const char *slash = strchr(rest, '/');
    size_t an = slash ? (size_t)(slash - rest) : 0;
    const char *c = slash ? slash + 1 : "";
    size_t cn = strlen(c);
    if (cn && c[cn - 1] == '/') cn--;
    int ok = an >= 1 && an < alen && cn >= 3 && cn <= 63 && cn < clen;
    for (size_t i = 0; ok && i < an; i++)
        ok = (rest[i] >= 'a' && rest[i] <= 'z') || (rest[i] >= '0' && rest[i] <= '9');
    for (size_t i = 0; ok && i < cn; i++)
        ok = (c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') ||
             (c[i] == '-' && i > 0 && i + 1 < cn && c[i - 1] != '-');
    if (!ok) {
        err_set(err, errlen, "bad store \"azblob://%.200s\": expected azblob://ACCOUNT/CONTAINER "
                "(account: lowercase letters and digits; container: 3 to 63 of a-z 0-9 -)", rest);
        return -FT_ERR_BAD_INPUT;
    }
    memcpy(account, rest, an);
    account[an] = 0;
    memcpy(container, c, cn);
    container[cn] = 0;
    return 0;
}

store *store_open_spec(const char *spec, const struct store_opts *opts, int *code,
                       char *err, size_t errlen)
{
    struct store_opts none = { 0 };
    if (!opts) opts = &none;
    int dummy;
    if (!code) code = &dummy;
    *code = 0;
    if (!spec || !*spec) {
        err_set(err, errlen, "no store given");
        *code = -FT_ERR_BAD_INPUT;
        return NULL;
    }
    const struct store_backend *be;
    void *self;
    char desc[STORE_ID_MAX + 32];
    if (!strncmp(spec, "azblob://", 9)) {
        char account[64], container[64];
        if ((*code = parse_azblob(spec + 9, account, sizeof account, container,
                                  sizeof container, err, errlen)))
            return NULL;
        be = &store_azblob_backend;
        self = store_azblob_open(account, container, opts, code, err, errlen);
        snprintf(desc, sizeof desc, "azblob://%s/%s", account, container);
    } else {
        const char *dir = spec;
        if (!strncmp(spec, "dir:", 4)) dir = spec + 4;
        else if (strstr(spec, "://") || (strchr(spec, ':') && !strchr(spec, '/'))) {
            err_set(err, errlen, "unknown store \"%.200s\": use dir:PATH or "
                    "azblob://ACCOUNT/CONTAINER", spec);
            *code = -FT_ERR_BAD_INPUT;
            return NULL;
        }
        if (!*dir) {
            err_set(err, errlen, "no store directory given");
            *code = -FT_ERR_BAD_INPUT;
            return NULL;
        }
        be = &store_dir_backend;
        self = store_dir_open(dir, opts, err, errlen);
        if (!self) *code = -EIO;
        snprintf(desc, sizeof desc, "dir:%.1000s", dir);
    }
    if (!self) {
        if (!*code) *code = -EIO;
        return NULL;
    }
    store *st = store_wrap(be, self, desc);
    if (!st) {
        err_set(err, errlen, "out of memory");
        *code = -ENOMEM;
    }
    return st;
}

void store_close(store *st)
{
    if (!st) return;
    st->be->close(st->self);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

const char *store_describe(const store *st) { return st->desc; }

void store_set_fsync(store *st, int on)
{
    if (st->be->set_fsync) st->be->set_fsync(st->self, on);
}

/* --- writing ---------------------------------------------------------------------- */

store_put *store_put_begin(store *st, const char *name, int gzip, char *err, size_t errlen)
{
    if (!trace_name_valid(name)) {
        trace_name_error(err, errlen, "trace name", name, name ? strlen(name) : 0);
        errno = EINVAL;           /* set after err_set: snprintf may touch errno */
        return NULL;
    }
    store_put *p = calloc(1, sizeof *p);
    if (!p) { err_set(err, errlen, "out of memory"); errno = ENOMEM; return NULL; }
    p->st = st;
    p->t0 = mono_ns();
    int r = st->be->put_begin(st->self, name, gzip, &p->impl, err, errlen);
    if (r) {
        op_done(st, STORE_OP_PUT, p->t0, r);
        free(p);
        errno = -r;
        return NULL;
    }
    return p;
}

int store_put_write(store_put *p, const void *data, size_t len)
{
    return p->st->be->put_write(p->impl, data, len);
}

int store_put_commit(store_put *p, struct store_entry *out)
{
    store *st = p->st;
    struct store_entry e;
    if (!out) out = &e;
    int r = st->be->put_commit(p->impl, out);
    op_done(st, STORE_OP_PUT, p->t0, r);
    if (!r) usage_add(st, (int64_t)out->bytes, 1);
    free(p);
    return r;
}

void store_put_on_commit(store_put *p, store_precommit_fn fn, void *ctx)
{
    if (p && p->st->be->put_on_commit) p->st->be->put_on_commit(p->impl, fn, ctx);
}

/* --- records ---------------------------------------------------------------------- */

static int record_part_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n > max) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* ".fntrace/KIND/NAME" into path, or a negative code. */
static int record_path(const store *st, const char *kind, const char *name, char *path,
                       size_t len)
{
    if (!st->be->record_create || !st->be->record_get || !st->be->record_delete)
        return -FT_ERR_UNSUPPORTED;
    if (!record_part_ok(kind, 64) || !record_part_ok(name, 512)) return -FT_ERR_BAD_ID;
    snprintf(path, len, ".fntrace/%s/%s", kind, name);
    return 0;
}

int store_records(const store *st)
{
    return st->be->record_create && st->be->record_get && st->be->record_delete;
}

int store_record_create(store *st, const char *kind, const char *name, const void *data,
                        size_t len)
{
    char path[640];
    int r = record_path(st, kind, name, path, sizeof path);
    if (r) return r;
    if (len > STORE_RECORD_MAX) return -FT_ERR_TOO_LARGE;
    return st->be->record_create(st->self, path, data, len);
}

ssize_t store_record_get(store *st, const char *kind, const char *name, char *buf, size_t cap,
                         char *version)
{
    char path[640];
    int r = record_path(st, kind, name, path, sizeof path);
    if (r) return r;
    if (!cap) return -EINVAL;
    return st->be->record_get(st->self, path, buf, cap, version);
}

int store_record_delete(store *st, const char *kind, const char *name, const char *version)
{
    char path[640];
    int r = record_path(st, kind, name, path, sizeof path);
    if (r) return r;
    return st->be->record_delete(st->self, path, version);
}

void store_put_abort(store_put *p)
{
    if (!p) return;
    p->st->be->put_abort(p->impl);
    free(p);
}

/* --- reading and deleting --------------------------------------------------------- */

int store_list(store *st, const char *name, struct store_entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (name && !trace_name_valid(name)) return -EINVAL;
    int64_t t0 = mono_ns();
    int r = op_done(st, STORE_OP_LIST, t0, st->be->list(st->self, name, out, count));
    if (r) return r;
    if (*count) qsort(*out, *count, sizeof **out, entry_cmp);
    return 0;
}

int store_stat(store *st, const char *id, struct store_entry *out)
{
    if (!store_id_valid(id)) return -EINVAL;
    struct store_entry e;
    return st->be->stat(st->self, id, out ? out : &e);
}

int store_open(store *st, const char *id, int *fd, struct store_entry *out)
{
    if (!store_id_valid(id)) return -EINVAL;
    if (!st->be->open_fd) return -FT_ERR_UNSUPPORTED;
    int64_t t0 = mono_ns();
    return op_done(st, STORE_OP_GET, t0, st->be->open_fd(st->self, id, fd, out));
}

int store_open_reader(store *st, const char *id, store_reader **r, struct store_entry *out)
{
    *r = NULL;
    if (!store_id_valid(id)) return -EINVAL;
    store_reader *rd = calloc(1, sizeof *rd);
    if (!rd) return -ENOMEM;
    struct store_entry e;
    int64_t t0 = mono_ns();
    int rc = op_done(st, STORE_OP_GET, t0,
                     st->be->open_reader(st->self, id, &rd->impl, out ? out : &e));
    if (rc) { free(rd); return rc; }
    rd->st = st;
    *r = rd;
    return 0;
}

ssize_t store_read(store_reader *r, void *buf, size_t len)
{
    return r->st->be->read(r->impl, buf, len);
}

ssize_t store_read_cb(void *reader, void *buf, size_t len)
{
    return store_read(reader, buf, len);
}

int store_reader_fd(store_reader *r)
{
    return r->st->be->reader_fd ? r->st->be->reader_fd(r->impl) : -1;
}

void store_reader_close(store_reader *r)
{
    if (!r) return;
    r->st->be->reader_close(r->impl);
    free(r);
}

int store_delete(store *st, const char *id)
{
    if (!store_id_valid(id)) return -EINVAL;
    uint64_t bytes = 0;
    int64_t t0 = mono_ns();
    int r = op_done(st, STORE_OP_DELETE, t0, st->be->del(st->self, id, &bytes));
    if (!r) usage_add(st, -(int64_t)bytes, -1);
    return r;
}

int store_retain(store *st, uint64_t max_bytes, int64_t max_age_s)
{
    struct store_entry *v;
    size_t n;
    int r = store_list(st, NULL, &v, &n);
    if (r) return r;
    usage_set(st, v, n);       /* other writers of a shared store are counted here */
    if (!max_bytes && max_age_s <= 0) { free(v); return 0; }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += v[i].bytes;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    /* an age beyond what int64 nanoseconds hold (--max-age 1000000d) keeps everything:
     * the product must not overflow, or the cutoff wraps into the future */
    int64_t cutoff = INT64_MIN;
    int64_t cutoff_s = max_age_s > 0 ? (int64_t)now.tv_sec - max_age_s : INT64_MIN;
    if (cutoff_s > INT64_MIN / 1000000000 + 1)
        cutoff = cutoff_s * 1000000000 + now.tv_nsec;
    int removed = 0;
    for (size_t i = 0; i < n; i++) {
        int old = v[i].mtime_ns < cutoff;
        int over = max_bytes && total > max_bytes;
        if (!old && !over) break;     /* oldest first: the rest is newer and fits */
        if (store_delete(st, v[i].id) == 0) removed++;
        total -= v[i].bytes;
    }
    free(v);
    return removed;
}
