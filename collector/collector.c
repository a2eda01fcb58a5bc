/* collector — see collector.h.  Wires the store, the metrics and the routes of ingest.c
 * and query.c into a lib/httpd server; runs retention (on upload when over --max-bytes,
 * and from collector_tick for --max-age). */
#include "collector.h"
#include "query.h"
#include "fterr.h"
#include "log.h"
#include "metrics.h"
#include "ingest.h"
#include "indexer.h"
#include "idxfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETAIN_MAX_PERIOD_MS 60000
#define DEFAULT_THREADS 8
#define CONN_MEMORY (256 * 1024)   /* body chunks up to ~256 KB: fewer writes per upload */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int collector_authorized(const struct collector *c, httpd_req *req)
{
    if (!c->opts.token) return 1;
    const char *h = httpd_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    while (*h == ' ') h++;
    /* constant time in the token's length: no early exit on the first differing byte */
    size_t n = strlen(c->opts.token), m = strlen(h);
    unsigned char diff = n != m;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)c->opts.token[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0;
}

void collector_retain(struct collector *c)
{
    if (!c->opts.max_bytes && c->opts.max_age_s <= 0) return;
    if (atomic_exchange(&c->retaining, 1)) return;     /* another thread is at it */
    int r = store_retain(c->st, c->opts.max_bytes, c->opts.max_age_s);
    if (r > 0) {
        metrics_retained(c->metrics, (unsigned)r);
        uint64_t bytes, files;
        store_usage(c->st, &bytes, &files);
        log_info("retention", "removed=%d store_bytes=%llu store_files=%llu", r,
                 (unsigned long long)bytes, (unsigned long long)files);
        if (c->opts.index_dir)      /* the removed traces' index files */
            idxfile_gc(c->opts.index_dir, c->st);
    } else if (r < 0) {
        log_warn("retention failed", "error=\"%s\"", ft_strerror(r));
    }
    atomic_store(&c->retaining, 0);
}

/* A quarter of --max-age (so traces go at most 25% late), between 1 s and 1 min; each
 * pass walks the whole store.  --max-bytes alone is enforced on upload, and checked here
 * once a minute for files put into the directory by other means. */
static int64_t retain_period_ms(const struct collector *c)
{
    if (c->opts.max_age_s <= 0) return RETAIN_MAX_PERIOD_MS;
    int64_t p = c->opts.max_age_s * 250;
    return p < 1000 ? 1000 : p > RETAIN_MAX_PERIOD_MS ? RETAIN_MAX_PERIOD_MS : p;
}

void collector_tick(struct collector *c)
{
    int64_t t = now_ms();
    if (t - c->last_retain_ms < retain_period_ms(c)) return;
    c->last_retain_ms = t;
    collector_retain(c);
}

/* Where the Idempotency-Key journal lives: the store's directory; a store without one
 * (a blob container) keeps each key as a store record instead (idem_share). */
static const char *idem_dir(const struct collector_opts *o)
{
    if (!o->store) return o->dir;
    if (!strncmp(o->store, "dir:", 4)) return o->store + 4;
    if (!strstr(o->store, "://")) return o->store;        /* a bare path is a directory */
    return NULL;
}

struct collector *collector_start(const struct collector_opts *opts, char *err, size_t errlen)
{
    struct collector *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, errlen, "out of memory"); return NULL; }
    c->opts = *opts;
    if (!c->opts.dir) c->opts.dir = "./traces";
    char spec[4096];
    snprintf(spec, sizeof spec, "dir:%s", c->opts.dir);
    struct store_opts so = { .no_fsync = c->opts.no_fsync, .allow_http = c->opts.store_allow_http };
    c->st = store_open_spec(c->opts.store ? c->opts.store : spec, &so, NULL, err, errlen);
    c->metrics = metrics_new();
    if (c->st && c->metrics)
        c->idem = idem_open(idem_dir(&c->opts), c->opts.idem_window_s ? c->opts.idem_window_s
                                                                       : IDEM_WINDOW_DEFAULT,
                            err, errlen);
    if (c->idem && !idem_dir(&c->opts)) {
        if (store_records(c->st)) idem_share(c->idem, c->st);
        else log_warn("idempotency keys in memory only", "store=%s detail=\"a repeat after a "
                      "restart is stored again\"", store_describe(c->st));
    }
    if (!c->st || !c->metrics || !c->idem) {
        if (c->st && !c->metrics) snprintf(err, errlen, "out of memory");
        idem_close(c->idem);
        store_close(c->st);
        metrics_free(c->metrics);
        free(c);
        return NULL;
    }
    store_set_fsync(c->st, !c->opts.no_fsync);
    if (c->opts.index_dir && !(c->indexer = indexer_new(c->st, c->opts.index_dir, 4ull << 30))) {
        snprintf(err, errlen, "cannot start the indexer");
        store_close(c->st);
        metrics_free(c->metrics);
        free(c);
        return NULL;
    }
    collector_retain(c);
    c->last_retain_ms = now_ms();

    const struct httpd_route routes[] = {
        { .method = "POST", .path = "/", .handle = ingest_handle, .begin = ingest_begin,
          .data = ingest_data, .done = ingest_done, .arg = c },
        { .method = "POST", .path = QUERY_TRACES, .handle = ingest_handle, .begin = ingest_begin,
          .data = ingest_data, .done = ingest_done, .arg = c },
        { .method = "GET", .path = QUERY_TRACES, .handle = query_list, .arg = c },
        { .method = "GET", .path = QUERY_TRACES "/*", .handle = query_get, .arg = c },
        { .method = "DELETE", .path = QUERY_TRACES "/*", .handle = query_delete, .arg = c },
        { .method = "GET", .path = "/healthz", .handle = query_healthz, .arg = c },
        { .method = "GET", .path = "/metrics", .handle = query_metrics, .arg = c },
        { .method = "GET", .path = "/", .handle = query_status, .arg = c },
        { 0 },
    };
    _Static_assert(sizeof routes <= sizeof c->routes, "route table too small");
    memcpy(c->routes, routes, sizeof routes);

    struct httpd_opts ho = {
        .listen = c->opts.listen,
        .port = c->opts.port,
        .threads = c->opts.threads ? c->opts.threads : DEFAULT_THREADS,
        .max_conns = c->opts.max_conns,
        .conn_memory = CONN_MEMORY,
        .flags = c->opts.quiet ? HTTPD_QUIET : 0,
        .tls_cert_pem = c->opts.tls_cert_pem,
        .tls_key_pem = c->opts.tls_key_pem,
        .name = "collector",
    };
    c->srv = httpd_start(&ho, c->routes, err, errlen);
    if (!c->srv) {
        idem_close(c->idem);
        indexer_free(c->indexer);
        store_close(c->st);
        metrics_free(c->metrics);
        free(c);
        return NULL;
    }
    return c;
}

uint16_t collector_port(const struct collector *c) { return httpd_port(c->srv); }

void collector_stop(struct collector *c)
{
    if (!c) return;
    httpd_stop(c->srv);
    idem_close(c->idem);
    indexer_free(c->indexer);
    store_close(c->st);
    metrics_free(c->metrics);
    free(c);
}
