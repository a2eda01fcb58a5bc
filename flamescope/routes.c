/* routes — see routes.h. */
#include "routes.h"
#include "units.h"
#include "fterr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "fterr.h"
#include "ftree.h"
#include "idxfile.h"
#include "indexer.h"
#include "log.h"
#include "pcache.h"
#include "plist.h"
#include "profile.h"
#include "sbuf.h"
#include "views.h"

#if __has_include("web_assets.h")
#include "web_assets.h"
#define HAVE_WEB_ASSETS 1
#endif

struct routes {
    store *st;
    pcache *cache;
    indexer *ix;               /* background index builds of listed traces, NULL: none */
    plist *list;               /* the listing's summaries */
    struct routes_opts opts;
    struct httpd_route routes[24];
    uint64_t idx_loaded, idx_written, idx_refused, idx_write_failed;   /* atomics */
};

/* ------------------------------------------------------------------ helpers */

static int reply_buf(httpd_req *req, int status, const char *type, sbuf *b)
{
    size_t len;
    char *p = sbuf_take(b, &len);
    if (!p)
        return httpd_reply_fterr(req, -ENOMEM, "out of memory");
    return httpd_reply_take(req, status, type, p, len);
}

struct open_ctx {
    routes *a;
    store_reader *rd;
    const struct store_entry *ent;
};

static void count(uint64_t *c) { __atomic_fetch_add(c, 1, __ATOMIC_RELAXED); }

/* The index of an opened trace: its index file when one matches, else parsed from the
 * text (and saved for the next open).  A refused index file is only logged: the
 * trace is parsed again and the file replaced.  A directory store's index is keyed with
 * a hash of the trace's edges, read through the reader's file descriptor; an object
 * store's by its ETag alone (opts.index_by_version), so a blob streamed without a file
 * descriptor is indexed too, and a loaded index spares its download. */
static profile *build_from_reader(void *ctx, int *err, char *msg, size_t msglen)
{
    struct open_ctx *o = ctx;
    routes *a = o->a;
    const char *dir = a->opts.index_dir;
    /* one index may take the whole cache budget, not more: the cache could not hold it */
    size_t budget = a->opts.cache_bytes;
    int fd = store_reader_fd(o->rd);
    struct pindex_key key;
    int keyed = 0;
    if (dir && a->opts.index_by_version)
        keyed = o->ent->version[0] &&
                idxfile_key(-1, o->ent->bytes, o->ent->mtime_ns, o->ent->version, &key) == 0;
    else if (dir && fd >= 0)
        keyed = idxfile_key(fd, o->ent->bytes, o->ent->mtime_ns, o->ent->version, &key) == 0;
    char why[256] = "";
    if (keyed) {
        profile *p = NULL;
        int rc = idxfile_load_flags(dir, o->ent->id, &key, IDXFILE_CHECK_LAZY, &p, why,
                                    sizeof why);
        if (rc == 0) {
            count(&a->idx_loaded);
            plist_note(a->list, o->ent, p);
            return p;
        }
        if (rc != -ENOENT) {
            count(&a->idx_refused);
            log_warn("index file refused, rebuilding", "id=%s reason=\"%s\"", o->ent->id, why);
        }
    }
    profile *p = fd >= 0 ? profile_build_budget(fd, a->opts.max_text, budget, err, msg, msglen)
                         : profile_build_read_budget(store_read_cb, o->rd, a->opts.max_text,
                                                     budget, err, msg, msglen);
    if (p)
        plist_note(a->list, o->ent, p);
    if (p && keyed) {
        if (idxfile_save(dir, o->ent->id, &key, p, why, sizeof why) == 0) {
            count(&a->idx_written);
        } else {
            count(&a->idx_write_failed);
            log_warn("cannot save the index file", "id=%s error=\"%s\"", o->ent->id, why);
        }
    }
    return p;
}

/* A store failure as the code to answer with: a store that cannot be reached, or that
 * refuses our credentials, is 503 (not the client's 401); other failures are ours. */
static int store_code(int rc)
{
    if (rc == -FT_ERR_STORE_DOWN || rc == -FT_ERR_UNAUTHORIZED) return -FT_ERR_STORE_DOWN;
    return rc;
}

/* The cached index of store id, opened or built, its PROFILE_PART_* parts verified;
 * NULL with a negative errno in *err and a message (*at_open: the store could not
 * open the trace).  *ref must be released.  An index file loaded lazily whose part
 * fails its check on this first use is refused then: dropped from the cache, and by
 * the request that dropped it (one of all that found it at once) counted, logged and
 * removed; then the index is built again from the trace (a few tries, for requests
 * that meet a copy of the damaged file loaded by another in between). */
static const profile *cached_profile(routes *a, const char *id, unsigned parts,
                                     pcache_entry **ref, int *err, int *at_open, char *msg,
                                     size_t msglen)
{
    *ref = NULL;
    *at_open = 0;
    for (int attempt = 0;; attempt++) {
        store_reader *rd = NULL;
        struct store_entry ent;
        int rc = store_open_reader(a->st, id, &rd, &ent);
        if (rc < 0) {
            if (rc == -ENOENT)      /* a trace deleted by hand: its index goes too */
                idxfile_remove(a->opts.index_dir, id);
            *err = rc;
            *at_open = 1;
            return NULL;
        }
        struct open_ctx oc = {a, rd, &ent};
        const profile *p = pcache_get(a->cache, id, ent.bytes, ent.mtime_ns, ent.version,
                                      build_from_reader, &oc, ref, err, msg, msglen);
        store_reader_close(rd);
        if (!p)
            return NULL;
        rc = profile_verify(p, parts, msg, msglen);
        if (rc == 0)
            return p;
        *err = rc;
        if (rc != -FT_ERR_CORRUPT) {
            pcache_release(a->cache, *ref);
            *ref = NULL;
            return NULL;
        }
        int dropped = pcache_drop(a->cache, *ref);
        *ref = NULL;
        if (dropped) {
            count(&a->idx_refused);
            log_warn("index file refused, rebuilding", "id=%s reason=\"%s\"", id, msg);
            idxfile_remove(a->opts.index_dir, id);
        }
        if (attempt == 3)
            return NULL;
    }
}

/* The index of the profile named by query argument `arg`, its PROFILE_PART_* parts
 * verified; replies on failure (and returns NULL).  *ref must be released.  An index
 * file loaded lazily whose part fails its check on this first use is refused then:
 * removed, dropped from the cache and rebuilt from the trace (cached_profile: up to
 * four tries). */
static const profile *get_profile(routes *a, httpd_req *req, const char *arg, const char *type_arg,
                                  unsigned parts, pcache_entry **ref)
{
    *ref = NULL;
    size_t idlen = 0;
    const char *id = httpd_req_query_n(req, arg, &idlen);
    if (!id || !*id) {
        httpd_reply_error(req, 400, "missing %s", arg);
        return NULL;
    }
    if (strlen(id) != idlen) {
        httpd_reply_error(req, 400, "%s: a NUL byte in the name", arg);
        return NULL;
    }
    const char *type = type_arg ? httpd_req_query(req, type_arg) : NULL;
    if (type && *type && strcmp(type, "perf") != 0) {
        httpd_reply_error(req, 400, "%s=%s: only perf profiles are supported", type_arg, type);
        return NULL;
    }
    if (!store_id_valid(id)) {
        httpd_reply_error(req, 400, "%s: not a profile name inside the profile directory", arg);
        return NULL;
    }
    int err = 0, at_open = 0;
    char msg[256] = "";
    const profile *p = cached_profile(a, id, parts, ref, &err, &at_open, msg, sizeof msg);
    if (p)
        return p;
    if (at_open && err == -EISDIR)
        httpd_reply_error(req, 400, "%s is a directory, not a profile", id);
    else if (at_open && err == -ENOENT)
        httpd_reply_error(req, 404, "no profile %s", id);
    else if (at_open)
        httpd_reply_fterr(req, store_code(err), "cannot open %s: %s", id, ft_strerror(err));
    else if (err == -FT_ERR_BAD_GZIP)
        httpd_reply_fterr(req, err, "%s: corrupt or truncated gzip (%s)", id, msg);
    else if (err == -FT_ERR_NOT_PERF)
        httpd_reply_fterr(req, err, "%s: not a perf script profile (%s)", id, msg);
    else
        httpd_reply_fterr(req, err, "%s: %s", id, msg[0] ? msg : ft_strerror(err));
    return NULL;
}

/* Query argument arg (NULL when absent); replies 400 and returns -1 when it holds a
 * NUL byte, which C would read as the end of a different value. */
static int query_arg(httpd_req *req, const char *arg, const char **out)
{
    size_t len = 0;
    *out = httpd_req_query_n(req, arg, &len);
    if (*out && strlen(*out) != len) {
        httpd_reply_error(req, 400, "%s: a NUL byte in the value", arg);
        return -1;
    }
    return 0;
}

static int parse_range(httpd_req *req, const profile *p, const char *sarg, const char *earg,
                       struct profile_range *r)
{
    char err[160];
    const char *sv, *ev;
    if (query_arg(req, sarg, &sv) || query_arg(req, earg, &ev))
        return -1;
    int rc = profile_range_parse(p, sv, ev, r, err, sizeof err);
    if (rc) {
        httpd_reply_fterr(req, rc == -ERANGE ? rc : -EINVAL, "%s", err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ FlameScope API */

/* The store's listing into *ents (the caller frees it), or -1 with the error replied. */
static int list_traces(httpd_req *req, routes *a, struct store_entry **ents, size_t *n)
{
    int rc = store_list(a->st, NULL, ents, n);
    if (rc < 0) {
        httpd_reply_fterr(req, rc == -FT_ERR_STORE_DOWN ? rc : -EIO,
                          "cannot list profiles: %s", ft_strerror(rc));
        return -1;
    }
    return 0;
}

static int h_profiles(httpd_req *req, void *arg)
{
    routes *a = arg;
    struct store_entry *ents = NULL;
    size_t n = 0;
    if (list_traces(req, a, &ents, &n))
        return 0;
    sbuf b;
    sbuf_init(&b);
    sbuf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_addc(&b, ',');
        sbuf_adds(&b, "{\"filename\":");
        sbuf_json_str(&b, ents[i].id, strlen(ents[i].id));
        sbuf_adds(&b, ",\"type\":\"perf\"}");
    }
    sbuf_addc(&b, ']');
    free(ents);
    return reply_buf(req, 200, "application/json", &b);
}

/* GET /api/v1/profiles: fntrace's listing (plist.h), paged like the invocations. */
static int h_api_profiles(httpd_req *req, void *arg)
{
    routes *a = arg;
    const char *v[6];
    static const char *const names[6] = {"sort", "order", "offset", "limit", "q", "name"};
    for (int i = 0; i < 6; i++)
        if (query_arg(req, names[i], &v[i]))
            return 0;
    struct plist_query q;
    char err[160];
    if (plist_query_parse(v[0], v[1], v[2], v[3], v[4], v[5], &q, err, sizeof err))
        return httpd_reply_fterr(req, -EINVAL, "%s", err);
    struct store_entry *ents = NULL;
    size_t n = 0, total = 0;
    if (list_traces(req, a, &ents, &n))
        return 0;
    sbuf b;
    sbuf_init(&b);
    int rc = plist_list(a->list, ents, n, &q, &b, &total);
    free(ents);
    if (rc) {
        sbuf_free(&b);
        return httpd_reply_fterr(req, rc, "cannot list profiles: %s", ft_strerror(rc));
    }
    char num[32];
    snprintf(num, sizeof num, "%zu", total);
    httpd_add_header(req, "X-Total-Count", num);
    if (q.offset + q.limit < total) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)(q.offset + q.limit));
        httpd_add_header(req, "X-Next-Offset", num);
    }
    return reply_buf(req, 200, "application/json", &b);
}

static int h_heatmap(httpd_req *req, void *arg)
{
    routes *a = arg;
    long rows = HEATMAP_DEFAULT_ROWS;
    const char *rs = httpd_req_query(req, "rows");
    if (rs && *rs) {
        char *end;
        errno = 0;
        rows = strtol(rs, &end, 10);
        if (*end || errno || rows < 1 || rows > HEATMAP_MAX_ROWS)
            return httpd_reply_error(req, 400, "rows must be an integer from 1 to %d",
                                     HEATMAP_MAX_ROWS);
    }
    pcache_entry *ref;
    const profile *p = get_profile(a, req, "filename", "type", PROFILE_PART_HEAT, &ref);
    if (!p)
        return 0;
    sbuf b;
    sbuf_init(&b);
    char err[160];
    int rc = views_heatmap(p, rows, &b, err, sizeof err);
    pcache_release(a->cache, ref);
    if (rc) {
        sbuf_free(&b);
        return httpd_reply_fterr(req, rc == -ENOMEM ? rc : -EINVAL, "%s", err);
    }
    return reply_buf(req, 200, "application/json", &b);
}

static int reply_tree(httpd_req *req, ftree *t)
{
    if (!t)
        return httpd_reply_fterr(req, -ENOMEM, "out of memory");
    sbuf b;
    sbuf_init(&b);
    ftree_json(t, &b);
    ftree_free(t);
    return reply_buf(req, 200, "application/json", &b);
}

/* A flame graph streams: the writer fills the server's send buffer piece by piece (tens
 * of MB for a whole large profile are never held at once), and the stream holds the
 * profile's cache reference until the last byte is sent. */
struct fg_stream {
    pcache *cache;
    pcache_entry *ref;
    views_fg *g;
};

static ssize_t fg_stream_read(void *ctx, void *buf, size_t len)
{
    struct fg_stream *s = ctx;
    return (ssize_t)views_fg_read(s->g, buf, len);
}

static void fg_stream_close(void *ctx)
{
    struct fg_stream *s = ctx;
    views_fg_free(s->g);
    pcache_release(s->cache, s->ref);
    free(s);
}

/* Replies with the flame graph of range r of p; takes the reference ref. */
static int reply_flamegraph(httpd_req *req, routes *a, pcache_entry *ref, const profile *p,
                            const struct profile_range *r)
{
    struct fg_stream *s = malloc(sizeof *s);
    uint64_t len = 0;
    if (!s || views_fg_new(p, r, s ? &s->g : NULL, &len)) {
        free(s);
        pcache_release(a->cache, ref);
        return httpd_reply_fterr(req, -ENOMEM, "out of memory");
    }
    s->cache = a->cache;
    s->ref = ref;
    return httpd_reply_stream(req, 200, "application/json", len, fg_stream_read,
                              fg_stream_close, s);
}

static int h_flamegraph(httpd_req *req, void *arg)
{
    routes *a = arg;
    pcache_entry *ref;
    const profile *p = get_profile(a, req, "filename", "type", PROFILE_PART_ALL, &ref);
    if (!p)
        return 0;
    struct profile_range r;
    if (parse_range(req, p, "start", "end", &r)) {
        pcache_release(a->cache, ref);
        return 0;
    }
    return reply_flamegraph(req, a, ref, p, &r);
}

/* /differential/ and /elided/ */
static int compare(httpd_req *req, routes *a, int elided)
{
    pcache_entry *r1, *r2;
    const profile *p1 = get_profile(a, req, "filename", "type", PROFILE_PART_ALL, &r1);
    if (!p1)
        return 0;
    const profile *p2 = get_profile(a, req, "compareFilename", "compareType", PROFILE_PART_ALL,
                                    &r2);
    if (!p2) {
        pcache_release(a->cache, r1);
        return 0;
    }
    struct profile_range g1, g2;
    ftree *t1 = NULL, *t2 = NULL;
    if (parse_range(req, p1, "start", "end", &g1) ||
        parse_range(req, p2, "compareStart", "compareEnd", &g2))
        goto out;
    t1 = ftree_build(p1, &g1);
    t2 = ftree_build(p2, &g2);
    if (!t1 || !t2) {
        httpd_reply_fterr(req, -ENOMEM, "out of memory");
        goto out;
    }
    int rc = elided ? ftree_elided(t1, t2) : ftree_differential(t1, t2);
    if (rc == -FT_ERR_EMPTY) {
        httpd_reply_fterr(req, rc, "the compared range has no samples");
        goto out;
    }
    if (rc) {
        httpd_reply_fterr(req, -ENOMEM, "out of memory");
        goto out;
    }
    if (elided) {
        reply_tree(req, t2);
        t2 = NULL;
    } else {
        reply_tree(req, t1);
        t1 = NULL;
    }
out:
    ftree_free(t1);
    ftree_free(t2);
    pcache_release(a->cache, r1);
    pcache_release(a->cache, r2);
    return 0;
}

static int h_differential(httpd_req *req, void *arg) { return compare(req, arg, 0); }
static int h_elided(httpd_req *req, void *arg) { return compare(req, arg, 1); }

/* ------------------------------------------------------------------ fntrace API */

#define INVOCATIONS_PAGE 10000      /* default page of /api/v1/invocations */
#define INVOCATIONS_PAGE_MAX 100000

/* offset= and limit= of a profile's invocations (paged: a profile of a million
 * invocations costs one page per request, not all), and the X-Total-Count and
 * X-Next-Offset headers.  0, or -1 after a 400. */
static int page_headers(httpd_req *req, const profile *p, uint64_t *off, uint64_t *lim)
{
    const char *off_s, *lim_s;
    if (query_arg(req, "offset", &off_s) || query_arg(req, "limit", &lim_s))
        return -1;
    if ((off_s && units_uint(off_s, UINT32_MAX, off)) ||
        (lim_s && (units_uint(lim_s, INVOCATIONS_PAGE_MAX, lim) || !*lim))) {
        httpd_reply_error(req, 400, "offset must be a count, limit between 1 and %d",
                          INVOCATIONS_PAGE_MAX);
        return -1;
    }
    size_t total = profile_ninvocations(p);
    char num[32];
    snprintf(num, sizeof num, "%zu", total);
    httpd_add_header(req, "X-Total-Count", num);
    if (*off + *lim < total) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)(*off + *lim));
        httpd_add_header(req, "X-Next-Offset", num);
    }
    return 0;
}

/* trace_id=HEX: 32 hex digits, lower-cased into id; 0, or -1 after a 400. */
static int trace_id_arg(httpd_req *req, const char *v, char *id)
{
    size_t n = strlen(v);
    int nonzero = 0;
    for (size_t i = 0; i < n && n == 32; i++) {
        if (!isxdigit((unsigned char)v[i]))
            n = 0;
        id[i] = (char)tolower((unsigned char)v[i]);
        nonzero |= v[i] != '0';
    }
    if (n != 32 || !nonzero) {
        httpd_reply_error(req, 400, "trace_id: not a W3C trace id (32 hex digits, not all zero)");
        return -1;
    }
    id[32] = 0;
    return 0;
}

/* /api/v1/invocations?filename=F[&trace_id=T]: the invocations of one profile (those of
 * trace T); ?trace_id=T alone: those of trace T in every profile, each with its profile
 * and the links to its flame graph. */
static int h_invocations(httpd_req *req, void *arg)
{
    routes *a = arg;
    const char *tv, *fv;
    char tid[33];
    if (query_arg(req, "trace_id", &tv) || query_arg(req, "filename", &fv))
        return 0;
    if (tv && *tv && trace_id_arg(req, tv, tid))
        return 0;
    uint64_t off = 0, lim = INVOCATIONS_PAGE;
    const char *want = tv && *tv ? tid : NULL;
    sbuf b;
    sbuf_init(&b);
    if (fv || !want) {
        pcache_entry *ref;
        const profile *p = get_profile(a, req, "filename", NULL, PROFILE_PART_ALL, &ref);
        if (!p)
            return 0;
        if (want) {
            sbuf_addc(&b, '[');
            views_invocations_matching(p, want, fv, 1, &b);
            sbuf_addc(&b, ']');
        } else if (page_headers(req, p, &off, &lim)) {
            pcache_release(a->cache, ref);
            sbuf_free(&b);
            return 0;
        } else {
            views_invocations(p, (size_t)off, (size_t)lim, &b);
        }
        pcache_release(a->cache, ref);
        return reply_buf(req, 200, "application/json", &b);
    }
    struct store_entry *ents = NULL;
    size_t n = 0, found = 0;
    if (list_traces(req, a, &ents, &n))
        return 0;
    sbuf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        int err = 0, at_open = 0;
        char msg[256];
        pcache_entry *ref = NULL;
        const profile *p = cached_profile(a, ents[i].id, PROFILE_PART_ALL, &ref, &err, &at_open,
                                          msg, sizeof msg);
        if (!p)
            continue;               /* a profile that does not parse holds no invocation */
        found += views_invocations_matching(p, want, ents[i].id, found == 0, &b);
        pcache_release(a->cache, ref);
    }
    sbuf_addc(&b, ']');
    free(ents);
    return reply_buf(req, 200, "application/json", &b);
}

/* The range of a request: invocation=ID, or start/end like FlameScope's. */
static int request_range(httpd_req *req, const profile *p, struct profile_range *r)
{
    const char *inv;
    if (query_arg(req, "invocation", &inv))
        return -1;
    if (inv && *inv) {
        const struct profile_invocation *v = profile_invocation_find(p, inv);
        if (!v) {
            httpd_reply_error(req, 404, "no invocation %s in this profile", inv);
            return -1;
        }
        profile_invocation_range(p, v, r);
        return 0;
    }
    return parse_range(req, p, "start", "end", r);
}

static int h_api_flamegraph(httpd_req *req, void *arg)
{
    routes *a = arg;
    pcache_entry *ref;
    const profile *p = get_profile(a, req, "filename", NULL, PROFILE_PART_ALL, &ref);
    if (!p)
        return 0;
    struct profile_range r;
    if (request_range(req, p, &r) == 0) {
        reply_flamegraph(req, a, ref, p, &r);
        return 0;
    }
    pcache_release(a->cache, ref);
    return 0;
}

static int h_export(httpd_req *req, void *arg)
{
    routes *a = arg;
    const char *fmt = httpd_req_query(req, "format");
    const struct export_format *format = export_find(fmt ? fmt : "folded");
    if (!format) {
        size_t n;
        const struct export_format *f = export_formats(&n);
        char names[256] = "";
        for (size_t i = 0, k = 0; i < n && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", f[i].name);
        return httpd_reply_fterr(req, -EINVAL, "format must be one of %s (GET /api/v1/exports)",
                                 names);
    }
    pcache_entry *ref;
    const profile *p = get_profile(a, req, "filename", NULL, PROFILE_PART_ALL, &ref);
    if (!p)
        return 0;
    const char *id = httpd_req_query(req, "filename");
    struct profile_range r;
    if (request_range(req, p, &r) == 0) {
        sbuf b;
        sbuf_init(&b);
        int rc = export_write(p, &r, format, id, &b);
        if (rc) {
            sbuf_free(&b);
            httpd_reply_fterr(req, rc, "export failed: %s", ft_strerror(rc));
        } else {
            /* a download name: the id's last component, safe characters only */
            const char *base = strrchr(id, '/');
            base = base ? base + 1 : id;
            char name[200];
            size_t k = 0;
            for (const char *c = base; *c && k < 120; c++)
                name[k++] = (strchr("\"\\;", *c) || (unsigned char)*c < 0x20) ? '_' : *c;
            name[k] = 0;
            char disp[256];
            snprintf(disp, sizeof disp, "attachment; filename=\"%s.%s\"", name,
                     format->ext);
            httpd_add_header(req, "Content-Disposition", disp);
            reply_buf(req, 200, format->content_type, &b);
        }
    }
    pcache_release(a->cache, ref);
    return 0;
}

/* GET /api/v1/exports: the export formats (export.c's table), which the web UI makes
 * its links from. */
static int h_exports(httpd_req *req, void *arg)
{
    size_t n;
    const struct export_format *f = export_formats(&n);
    sbuf b;
    sbuf_init(&b);
    sbuf_addc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        sbuf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
        sbuf_json_str(&b, f[i].name, strlen(f[i].name));
        sbuf_adds(&b, ",\"ext\":");
        sbuf_json_str(&b, f[i].ext, strlen(f[i].ext));
        sbuf_adds(&b, ",\"contentType\":");
        sbuf_json_str(&b, f[i].content_type, strlen(f[i].content_type));
        sbuf_adds(&b, ",\"description\":");
        sbuf_json_str(&b, f[i].description, strlen(f[i].description));
        sbuf_addc(&b, '}');
    }
    sbuf_addc(&b, ']');
    return reply_buf(req, 200, "application/json", &b);
}

static int h_stats(httpd_req *req, void *arg)
{
    routes *a = arg;
    struct pcache_stats s;
    pcache_stats_get(a->cache, &s);
    struct plist_stats ls;
    plist_stats_get(a->list, &ls);
    struct indexer_stats is = {0};
    if (a->ix)
        indexer_stats(a->ix, &is);
    sbuf b;
    sbuf_init(&b);
    sbuf_printf(&b,
                "{\"cache\":{\"entries\":%zu,\"bytes\":%zu,\"budget\":%zu,\"hits\":%llu,"
                "\"misses\":%llu,\"builds\":%llu,\"waits\":%llu,\"evictions\":%llu,"
                "\"queued\":%llu,\"refusals\":%llu},"
                "\"index\":{\"enabled\":%s,\"loaded\":%llu,\"written\":%llu,"
                "\"refused\":%llu,\"write_failed\":%llu},"
                "\"list\":{\"cached\":%llu,\"header_reads\":%llu,\"queued\":%llu,"
                "\"background_written\":%llu,\"background_failed\":%llu,"
                "\"background_dropped\":%llu}}",
                s.entries, s.bytes, a->opts.cache_bytes, (unsigned long long)s.hits,
                (unsigned long long)s.misses, (unsigned long long)s.builds,
                (unsigned long long)s.waits, (unsigned long long)s.evictions,
                (unsigned long long)s.queued, (unsigned long long)s.refusals,
                a->opts.index_dir ? "true" : "false",
                (unsigned long long)__atomic_load_n(&a->idx_loaded, __ATOMIC_RELAXED),
                (unsigned long long)__atomic_load_n(&a->idx_written, __ATOMIC_RELAXED),
                (unsigned long long)__atomic_load_n(&a->idx_refused, __ATOMIC_RELAXED),
                (unsigned long long)__atomic_load_n(&a->idx_write_failed, __ATOMIC_RELAXED),
                (unsigned long long)ls.cached, (unsigned long long)ls.header_reads,
                (unsigned long long)ls.queued, (unsigned long long)is.written,
                (unsigned long long)is.failed, (unsigned long long)is.dropped);
    return reply_buf(req, 200, "application/json", &b);
}

/* ------------------------------------------------------------------ web UI */

#ifndef HAVE_WEB_ASSETS
static const char placeholder[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>fntrace-flamescope</title>"
    "</head>\n<body><h1>fntrace-flamescope</h1>\n<p>The web UI is not built into this "
    "binary. The API is available: <a href=\"/profile/\">/profile/</a>, /heatmap/, "
    "/flamegraph/, /differential/, /elided/ and /api/v1/.</p>\n</body></html>\n";
#endif


static int h_static(httpd_req *req, void *arg)
{
    const char *path = httpd_req_path(req);
#ifdef HAVE_WEB_ASSETS
    const struct web_asset *w = web_asset_find(path);
    if (!w)
        return httpd_reply_error(req, 404, "no such page %s", path);
    httpd_add_header(req, "Cache-Control", "no-cache");
    if (w->etag) {
        httpd_add_header(req, "ETag", w->etag);
        const char *inm = httpd_req_header(req, "If-None-Match");
        if (inm && strcmp(inm, w->etag) == 0)
            return httpd_reply(req, 304, NULL, "", 0);
    }
    const char *ae = httpd_req_header(req, "Accept-Encoding");
    if (w->gzip && ae && strstr(ae, "gzip")) {
        httpd_add_header(req, "Content-Encoding", "gzip");
        httpd_add_header(req, "Vary", "Accept-Encoding");
        return httpd_reply(req, 200, w->content_type, w->gzip, w->gzip_len);
    }
    return httpd_reply(req, 200, w->content_type, w->data, w->len);
#else
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
        return httpd_reply(req, 200, "text/html; charset=utf-8", placeholder,
                           sizeof placeholder - 1);
    return httpd_reply_error(req, 404, "no such page %s", path);
#endif
}

/* ------------------------------------------------------------------ table */

routes *routes_new(store *st, const struct routes_opts *opts)
{
    routes *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->st = st;
    a->opts = *opts;
    a->cache = pcache_new(opts->cache_bytes);
    /* background builds: one at a time, within the budget one query's build has; for a
     * directory store only (the indexer reads through a file descriptor: a blob's index
     * is written by its first open) */
    int background = opts->index_dir && !opts->index_by_version;
    if (a->cache && background)
        a->ix = indexer_new(st, opts->index_dir, opts->max_text, opts->cache_bytes);
    if (a->cache && (!background || a->ix))
        a->list = plist_new(opts->index_dir, a->ix);
    if (!a->list) {
        indexer_free(a->ix);
        pcache_free(a->cache);
        free(a);
        return NULL;
    }
    static const struct {
        const char *path;
        httpd_handle_fn fn;
    } table[] = {
        {"/profile/", h_profiles},
        {"/profile", h_profiles},
        {"/heatmap/", h_heatmap},
        {"/heatmap", h_heatmap},
        {"/flamegraph/", h_flamegraph},
        {"/flamegraph", h_flamegraph},
        {"/differential/", h_differential},
        {"/differential", h_differential},
        {"/elided/", h_elided},
        {"/elided", h_elided},
        {"/api/v1/profiles", h_api_profiles},
        {"/api/v1/invocations", h_invocations},
        {"/api/v1/flamegraph", h_api_flamegraph},
        {"/api/v1/export", h_export},
        {"/api/v1/exports", h_exports},
        {"/api/v1/stats", h_stats},
        {"/*", h_static},
    };
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        a->routes[i].method = "GET";
        a->routes[i].path = table[i].path;
        a->routes[i].handle = table[i].fn;
        a->routes[i].arg = a;
    }
    a->routes[i].path = NULL;
    return a;
}

void routes_free(routes *a)
{
    if (!a)
        return;
    indexer_free(a->ix);          /* finishes the build in progress */
    plist_free(a->list);
    pcache_free(a->cache);
    free(a);
}

const struct httpd_route *routes_table(routes *a) { return a->routes; }
