/* httpd — thin glue over libmicrohttpd shared by fntrace's daemons and the handler runtime.
 *
 * A server is a route table plus limits.  For every request the glue
 *   1. matches the route by method and path (exact, or prefix when the route path ends
 *      with '*'); no route is 404, wrong method 405, both as JSON errors;
 *   2. calls the route's optional `begin` once the headers are in: it may reply at once
 *      (401, 400, 413 from Content-Length…), and it may set httpd_req_set_state();
 *   3. delivers the body: to `data` in bounded chunks as it arrives (streaming), or, when
 *      the route has no `data` callback, buffered in memory up to `max_body` bytes (more
 *      is 413, and the rest of the body is never read);
 *   4. calls `handle` when the body is complete; it must reply exactly once;
 *   5. calls `done` at the end of every request that reached `begin`, also when the client
 *      went away mid-body (completed == 0), so streaming state (temporary files) is
 *      always cleaned up; then writes one access-log line.
 * Replies are JSON through cJSON, errors are {"error": "..."} with the status.
 *
 * Threading: callbacks run on libmicrohttpd's threads — a thread pool over poll(2) by
 * default, one thread per connection with HTTPD_THREAD_PER_CONNECTION (for handlers that
 * block, like user functions), or a pool whose `handle` parks requests that would block and
 * lets other threads answer them (HTTPD_ALLOW_SUSPEND, httpd_req_suspend).  Callbacks for
 * one request never run concurrently; different requests do.  Route args are shared
 * between threads: their owners lock what they mutate.
 *
 * Ownership: the glue owns httpd_req; strings it returns live until `done` returns. */
#ifndef FNTRACE_HTTPD_H
#define FNTRACE_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cJSON;
typedef struct httpd httpd;
typedef struct httpd_req httpd_req;

typedef int (*httpd_begin_fn)(httpd_req *req, void *arg);
typedef int (*httpd_data_fn)(httpd_req *req, const char *data, size_t len, void *arg);
typedef int (*httpd_handle_fn)(httpd_req *req, void *arg);
typedef void (*httpd_done_fn)(httpd_req *req, int completed, void *arg);

/* Callbacks return 0 to go on.  A callback that has replied (httpd_reply_*) returns 0 too:
 * the glue then skips the rest of the body and the later callbacks but `done`.
 * Returning -1 without a reply answers 500. */
struct httpd_route {
    const char *method;      /* "GET", "POST", …; NULL matches any method */
    const char *path;        /* "/healthz"; a trailing star matches a prefix */
    httpd_handle_fn handle;  /* required */
    httpd_begin_fn begin;    /* optional */
    httpd_data_fn data;      /* optional: stream the body instead of buffering it */
    httpd_done_fn done;      /* optional */
    size_t max_body;         /* limit for a buffered body (0: no body allowed) */
    void *arg;
};

enum {
    HTTPD_THREAD_PER_CONNECTION = 1 << 0,
    HTTPD_QUIET = 1 << 1,    /* no access log lines */
    HTTPD_ALLOW_SUSPEND = 1 << 2,  /* pool mode: `handle` may hand its request to a thread */
    HTTPD_POOL_ZEROING = 1 << 3,   /* keep libmicrohttpd's zeroing of a connection's pool
                                      after each request (httpd.c, "Pool zeroing") */
};

struct httpd_opts {
    const char *listen;          /* address to bind, default "127.0.0.1"; "0.0.0.0", "::" ok */
    uint16_t port;               /* 0 picks a free port: see httpd_port() */
    unsigned threads;            /* pool size when not per-connection, default 4 */
    unsigned max_conns;          /* default 1024; above 7/8 of it every new connection
                                    evicts the one waiting longest for its headers */
    unsigned max_conns_per_ip;   /* default max_conns / 4 (at least 16) */
    unsigned timeout_s;          /* idle connection timeout, default 30 s */
    unsigned header_timeout_ms;  /* total time for a request's headers (from the
                                    connection's start or its previous reply), default
                                    min(timeout_s, 10 s); also the grace of a body */
    unsigned min_body_rate;      /* bytes/s a body must average once older than the header
                                    timeout, default 1024 */
    size_t conn_memory;          /* per-connection buffer (headers + body chunks), default
                                    libmicrohttpd's 32 KB; bigger means fewer, larger
                                    body chunks for streaming uploads */
    unsigned flags;
    const char *tls_cert_pem;    /* both set: serve HTTPS (contents, not file names) */
    const char *tls_key_pem;
    const char *name;            /* for log lines, e.g. "collector" */
};

/* Starts serving on the routes (the array must outlive the server; ends with a route
 * whose path is NULL).  Returns NULL and a message in err on failure. */
httpd *httpd_start(const struct httpd_opts *opts, const struct httpd_route *routes,
                   char *err, size_t errlen);
uint16_t httpd_port(const httpd *srv);
/* Stops accepting new connections; requests in flight go on. */
void httpd_quiesce(httpd *srv);
/* Requests in flight (begun, not yet done). */
unsigned httpd_inflight(const httpd *srv);
/* Stops the server (closes connections, joins its threads) and frees it. */
void httpd_stop(httpd *srv);
/* Connections the guard closed for missing their header deadline or body rate, and
 * connections it evicted under pressure (see httpd.c). */
unsigned long httpd_closed_slow(const httpd *srv);
unsigned long httpd_evicted(const httpd *srv);

/* What the process does about libmicrohttpd's pool zeroing, for a log line: "skipped",
 * "kept", or "kept (why)".  Process-wide: the first server started without
 * HTTPD_POOL_ZEROING decides it for every later one. */
const char *httpd_pool_zeroing(void);

/* Blocks SIGINT, SIGTERM (and ignores SIGPIPE) in the calling thread; call before
 * httpd_start so the server's threads inherit the mask.  Then httpd_wait_signal()
 * waits for one of them, or for the timeout (ms, <0 forever); returns the signal or 0. */
void httpd_block_signals(void);
int httpd_wait_signal(int timeout_ms);
/* The one drain of every daemon, after its stop signal: stops accepting new connections
 * (httpd_quiesce), then waits up to grace_s seconds until no request is in flight and
 * busy(arg) (NULL: not asked) returns 0; another SIGINT/SIGTERM cuts the wait short.
 * Returns the requests still in flight; the caller then stops the server. */
unsigned httpd_drain(httpd *srv, double grace_s, unsigned (*busy)(void *arg), void *arg);

/* --- request accessors ------------------------------------------------------------- */
const char *httpd_req_method(const httpd_req *req);
const char *httpd_req_path(const httpd_req *req);       /* decoded path, no query */
const char *httpd_req_url(const httpd_req *req);        /* path as requested, with query */
/* Query argument / header (case-insensitive) or NULL. */
const char *httpd_req_query(const httpd_req *req, const char *key);
const char *httpd_req_header(const httpd_req *req, const char *name);
/* The same with the value's length: a value with a NUL byte inside (a query argument
 * "a%00b" decodes to 3 bytes) is longer than its strlen(), so callers can refuse it. */
const char *httpd_req_query_n(const httpd_req *req, const char *key, size_t *len);
const char *httpd_req_header_n(const httpd_req *req, const char *name, size_t *len);
/* Calls fn for every header or every query argument in order; fn returns non-zero to stop. */
enum httpd_kind { HTTPD_HEADERS, HTTPD_QUERY };
void httpd_req_each(const httpd_req *req, enum httpd_kind kind,
                    int (*fn)(void *ctx, const char *key, const char *value), void *ctx);
/* Content-Length, or -1 when not given (chunked). */
long long httpd_req_content_length(const httpd_req *req);
/* Buffered body of a route without `data` (NUL-terminated, len excludes the NUL). */
const char *httpd_req_body(const httpd_req *req, size_t *len);
/* Bytes of body received so far. */
uint64_t httpd_req_body_received(const httpd_req *req);
/* Peer address as text. */
const char *httpd_req_peer(const httpd_req *req);
/* The local port this request's connection came in on (0 if unknown).  Unlike
 * httpd_port() it is safe in a handler that runs before httpd_start() has returned. */
uint16_t httpd_req_local_port(const httpd_req *req);
/* Per-request state for the route's callbacks. */
void httpd_req_set_state(httpd_req *req, void *state);
void *httpd_req_state(const httpd_req *req);
/* Status of the reply queued so far, 0 if none. */
int httpd_req_status(const httpd_req *req);

/* Hand-off (servers started with HTTPD_ALLOW_SUSPEND, not per-connection): called from
 * `handle`, it parks the request so the pool thread goes on with other connections; the
 * callback returns 0 without a reply, and another thread later makes the reply with
 * httpd_add_header/httpd_reply_* and then calls httpd_req_resume() once.  Until then the
 * request counts as in flight.  Returns -1 (nothing parked) when the server does not allow it. */
int httpd_req_suspend(httpd_req *req);
void httpd_req_resume(httpd_req *req);

/* --- replies: exactly one per request ----------------------------------------------- */
/* Adds a header to the reply that follows (up to 16). Copies both strings. */
int httpd_add_header(httpd_req *req, const char *name, const char *value);
int httpd_reply(httpd_req *req, int status, const char *content_type,
                const void *body, size_t len);
/* Takes ownership of buf (malloc'd): no copy for large replies. */
int httpd_reply_take(httpd_req *req, int status, const char *content_type,
                     void *buf, size_t len);
/* Serialises and frees json. */
int httpd_reply_json(httpd_req *req, int status, struct cJSON *json);
/* {"error": "<formatted message>"} with the status. */
int httpd_reply_error(httpd_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for a failure code (lib/fterr.h): the status is ft_http_status(err). */
int httpd_reply_fterr(httpd_req *req, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends size bytes of fd from offset 0; takes ownership of fd. */
int httpd_reply_fd(httpd_req *req, int status, const char *content_type, int fd,
                   uint64_t size);
/* Streams size bytes (UINT64_MAX: unknown, chunked) from read(ctx, buf, len), which
 * returns a count, 0 at the end or a negative error (the connection is then cut, so a
 * client never takes a short body for a whole one); close(ctx) runs once at the end, also
 * when the reply could not be queued.  read is called on the server's threads. */
typedef ssize_t (*httpd_read_fn)(void *ctx, void *buf, size_t len);
int httpd_reply_stream(httpd_req *req, int status, const char *content_type, uint64_t size,
                       httpd_read_fn read, void (*close)(void *ctx), void *ctx);

#endif
