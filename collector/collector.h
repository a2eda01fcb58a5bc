/* collector — the fntrace-collector service: options, the shared state its routes use
 * (store, metrics, token), the route table, retention.  main.c parses the command line
 * into collector_opts and calls collector_start / collector_tick / collector_stop.
 *
 * Threading: routes run on lib/httpd's threads and share struct collector read-only
 * except the store (thread-safe), the metrics (atomics) and the retention flag (atomic).
 * collector_tick() is called from the main thread. */
#ifndef FNTRACE_COLLECTOR_H
#define FNTRACE_COLLECTOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "httpd.h"
#include "idem.h"
#include "store.h"

struct metrics;

struct collector_opts {
    const char *dir;            /* store directory, default "./traces" */
    const char *store;          /* --store SPEC (store_open_spec); overrides dir */
    int store_allow_http;       /* blob store over plain http to a non-loopback host */
    const char *listen;         /* default 127.0.0.1 */
    uint16_t port;              /* default 8081 (0 picks a free one) */
    const char *token;          /* NULL: uploads need none, DELETE is refused */
    int public_read;            /* with a token: listing and downloading need none */
    uint64_t max_body;          /* bytes, 0: no limit */
    uint64_t max_inflated;      /* inflated bytes of a gzip upload, 0: no limit */
    uint64_t max_bytes;         /* retention by total size, 0: none */
    int64_t max_age_s;          /* retention by age, 0: none */
    int64_t idem_window_s;      /* Idempotency-Key retention, 0: IDEM_WINDOW_DEFAULT */
    unsigned max_conns;         /* 0: lib/httpd's default */
    unsigned threads;           /* 0: default */
    const char *tls_cert_pem;   /* contents, both or neither */
    const char *tls_key_pem;
    int no_fsync;               /* for benchmarks and throwaway stores */
    int quiet;                  /* no access log */
    const char *index_dir;      /* flamescope index files of committed traces, NULL: none */
};

struct collector {
    struct collector_opts opts; /* strings belong to the caller and outlive the collector */
    store *st;
    struct metrics *metrics;
    struct idem *idem;          /* Idempotency-Key index (thread-safe) */
    struct indexer *indexer;    /* NULL without index_dir */
    httpd *srv;
    struct httpd_route routes[10];
    atomic_int retaining;       /* one retention pass at a time */
    int64_t last_retain_ms;     /* main thread only */
};

struct collector *collector_start(const struct collector_opts *opts, char *err, size_t errlen);
uint16_t collector_port(const struct collector *c);
/* Periodic work (age retention); call about once a second. */
void collector_tick(struct collector *c);
/* Stops serving at once and frees everything: connections still open are closed and
 * an upload in flight is aborted (its put leaves nothing behind); it does not wait for
 * them.  To let requests finish, call httpd_quiesce(c->srv) and wait for
 * httpd_inflight(c->srv) to reach 0 first (main.c does, for up to 10 s, on SIGINT or
 * SIGTERM). */
void collector_stop(struct collector *c);

/* For the routes. */
int collector_authorized(const struct collector *c, httpd_req *req);
void collector_retain(struct collector *c);

#endif
