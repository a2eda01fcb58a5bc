/* httpd — see httpd.h for the request life cycle.
 *
 * libmicrohttpd calls the access handler several times per request: once when the
 * headers are in (phase HEADERS), once per body chunk, and once more with no data when
 * the body is complete (phase FINAL).  libmicrohttpd 0.9.75 accepts a queued response
 * only in the first and the last of these calls, so a reply made while the body streams
 * in (413 past the limit, 507 on a full disk) is written on the socket here at once
 * (early_send: Connection: close), the rest of the body is read and dropped for a while
 * (a lingering close, so the client reads the reply before the connection goes), and
 * libmicrohttpd then closes the connection without sending anything of its own.  A body
 * that goes on past DISCARD_LIMIT or LINGER_S after the reply is cut off: nobody streams
 * us gigabytes to be ignored.  Over TLS, or for a file/stream reply, the reply waits for
 * the end of the body (FINAL) instead, within the same limits.
 *
 * Connection guard (slow clients).  libmicrohttpd's idle timeout restarts with every byte,
 * so a client that drips one header byte a second holds its slot for ever.  Every
 * connection is tracked here (MHD_OPTION_NOTIFY_CONNECTION -> struct conn, under
 * srv->cmu): while it waits for a request's headers it has a total deadline
 * (header_timeout_ms from the connection's start or from its previous reply); while a
 * body streams in it must average min_body_rate bytes/s once the body is older than that
 * deadline.  A sweeper thread checks every SWEEP_MS while any connection is open (it
 * sleeps while there is none) and shuts the socket down
 * (shutdown(2): libmicrohttpd then sees the hang-up and closes it on its own thread; the
 * record leaves the list in NOTIFY_CLOSED, which runs before the descriptor is closed, so
 * the sweeper never shuts a reused descriptor).  Under pressure (more than 7/8 of
 * max_conns open) every new connection evicts the one that has waited longest for its
 * headers or is below the body rate, so real requests and health checks still get a slot
 * when slow clients fill the table.  Connections whose request is being handled or
 * answered are never touched.
 *
 * Pool zeroing.  After every keep-alive request libmicrohttpd resets the connection's
 * memory pool, which is also its header limit (32 KiB by default: the callers' header
 * sizes need it), and memsets all of it, under the comment "technically not needed, but
 * safer to zero out" (memorypool.c, MHD_pool_reset).  That memset was 10 % of hello's
 * CPU: 64 connections wipe 2 MiB round robin, past the L2 cache.  It is indeed not
 * needed: a connection's pool comes from malloc (32 KiB and less) and is not zero on the
 * first request either, so libmicrohttpd never counts on zeros, and what it would wipe
 * is the same connection's previous request.  So libmicrohttpd's calls of memset, and
 * only its (plthook), skip zero fills of POOL_ZERO_MIN bytes or more; in the versions
 * whose memset calls were read (POOL_READ_VERSIONS) only the pool functions make such
 * calls, the rest clear structs of a few dozen bytes.  HTTPD_POOL_ZEROING keeps it. */
#define _GNU_SOURCE
#include "httpd.h"
#include "fterr.h"
#include "jsonerr.h"
#include "log.h"
#include "plthook.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DISCARD_LIMIT (64ull << 20)
#define MAX_REPLY_HEADERS 16
#define SWEEP_MS 200
#define LINGER_S 5.0          /* how long a connection answered early is still read */
#define EARLY_BODY_MAX 4096   /* the largest reply body sent early (errors are short) */
#define REQ_TEXT_BYTES 256    /* a request's own short strings, without malloc (req_strdup) */
#define POOL_ZERO_MIN 1024    /* libmicrohttpd's zero fills this size or more are skipped */
static const char *const POOL_READ_VERSIONS[] = { "0.9.75" };

/* where a connection is; only WAIT, BODY and LINGER connections are ever closed by the
 * guard (LINGER: answered early, the rest of its body read and dropped for LINGER_S) */
enum conn_state { CONN_WAIT, CONN_BODY, CONN_BUSY, CONN_LINGER, CONN_CLOSING };

struct conn {
    struct conn *prev, *next;
    int fd;
    enum conn_state state;
    unsigned served;         /* requests answered on this connection */
    double t0;               /* WAIT: since when; BODY: when the headers were in */
    uint64_t body_bytes;
};

struct httpd {
    struct MHD_Daemon *mhd;
    const struct httpd_route *routes;
    unsigned flags;
    int tls;                 /* HTTPS: no early replies (they would bypass TLS) */
    uint16_t port;
    atomic_uint inflight;
    char name[32];
    /* connection guard */
    pthread_mutex_t cmu;
    pthread_cond_t ccond;
    struct conn *conns;      /* every open connection */
    unsigned nconns, soft_limit;
    double header_timeout, idle_timeout;   /* seconds */
    double min_body_rate;    /* bytes/s */
    int sweeper_started, stopping;
    pthread_t sweeper;
    atomic_ulong closed_slow, evicted;
};

enum phase { PHASE_NEW, PHASE_BODY, PHASE_DONE };

struct httpd_req {
    httpd *srv;
    struct MHD_Connection *conn;
    const struct httpd_route *route;
    const char *method;
    char *path;              /* req_strdup'd */
    char *url;               /* path + query, rebuilt on demand */
    void *state;
    char *body;              /* buffered routes */
    size_t body_len, body_cap;
    uint64_t received;
    uint64_t replied_at;     /* body bytes received when the reply was made */
    enum phase phase;
    int begun;               /* begin ran (or would have): done owed */
    int suspended;           /* parked by httpd_req_suspend, reply comes from elsewhere */
    struct MHD_Response *resp;
    int status;
    int queued;
    int early_sent;          /* the reply went out on the socket mid-body (early_send) */
    char *early_body;        /* a copy of a reply made mid-body, for early_send */
    size_t early_len;
    char *early_type;
    int nheaders;
    char *hname[MAX_REPLY_HEADERS], *hvalue[MAX_REPLY_HEADERS];   /* req_strdup'd */
    size_t text_used;
    char text[REQ_TEXT_BYTES];   /* the path and reply headers of most requests */
    char peer[INET6_ADDRSTRLEN];
    int peer_known;          /* peer is filled in when first asked for (logs only) */
    struct timespec t0;
    struct conn *k;          /* the connection's guard record (NULL: untracked) */
};

/* A copy of s that lives as long as req: in req->text while it has room (a request's
 * path and reply headers are short: four mallocs and frees fewer per request), else
 * malloc'd.  NULL when out of memory. */
static char *req_strdup(httpd_req *req, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > sizeof req->text - req->text_used) return strdup(s);
    char *p = req->text + req->text_used;
    memcpy(p, s, n);
    req->text_used += n;
    return p;
}

static void req_strfree(httpd_req *req, char *p)
{
    uintptr_t a = (uintptr_t)p, t = (uintptr_t)req->text;
    if (a < t || a >= t + sizeof req->text) free(p);
}

/* --- routing ---------------------------------------------------------------------- */

static int path_matches(const char *pattern, const char *path)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(pattern, path, n - 1) == 0;
    return strcmp(pattern, path) == 0;
}

/* Returns the route, or NULL with *status 404 (no path) or 405 (path, other method). */
static const struct httpd_route *route_find(const struct httpd_route *routes,
                                            const char *method, const char *path,
                                            int *status)
{
    *status = 404;
    for (const struct httpd_route *r = routes; r->path; r++) {
        if (!path_matches(r->path, path)) continue;
        if (!r->method || !strcmp(r->method, method)) return r;
        *status = 405;
    }
    return NULL;
}

/* --- replies ---------------------------------------------------------------------- */

static int reply_set(httpd_req *req, int status, struct MHD_Response *resp,
                     const char *content_type)
{
    if (!resp) return -1;
    if (req->resp) {                 /* a second reply is a bug of the caller */
        MHD_destroy_response(resp);
        log_warn("second reply ignored", "path=%s status=%d", req->path, status);
        return -1;
    }
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (int i = 0; i < req->nheaders; i++)
        MHD_add_response_header(resp, req->hname[i], req->hvalue[i]);
    req->resp = resp;
    req->status = status;
    req->replied_at = req->received;
    return 0;
}

/* No CR or LF (no ':' in a name either): the text cannot end its header line.  A loop:
 * strpbrk's setup cost more than these short strings. */
static int header_text_ok(const char *s, int name)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || (name && *s == ':')) return 0;
    return 1;
}

int httpd_add_header(httpd_req *req, const char *name, const char *value)
{
    if (req->nheaders >= MAX_REPLY_HEADERS || !name || !value) return -1;
    if (!header_text_ok(name, 1) || !header_text_ok(value, 0)) return -1;
    char *n = req_strdup(req, name), *v = req_strdup(req, value);
    if (!n || !v) {
        req_strfree(req, n);
        req_strfree(req, v);
        return -1;
    }
    req->hname[req->nheaders] = n;
    req->hvalue[req->nheaders++] = v;
    return 0;
}

/* A reply made while the body streams in keeps a copy of its (short) body and type here,
 * for early_send.  Not with TLS: the socket carries TLS records there. */
static void early_keep(httpd_req *req, const char *content_type, const void *body, size_t len)
{
    if (req->phase != PHASE_BODY || req->srv->tls || len > EARLY_BODY_MAX) return;
    req->early_body = malloc(len + 1);
    req->early_type = strdup(content_type ? content_type : "application/octet-stream");
    if (!req->early_body || !req->early_type) {
        free(req->early_body);
        free(req->early_type);
        req->early_body = req->early_type = NULL;
        return;
    }
    if (len) memcpy(req->early_body, body, len);
    req->early_len = len;
}

int httpd_reply(httpd_req *req, int status, const char *content_type, const void *body,
                size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    int rc = reply_set(req, status, r, content_type);
    if (!rc) early_keep(req, content_type, body, len);
    return rc;
}

int httpd_reply_take(httpd_req *req, int status, const char *content_type, void *buf,
                     size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, buf, free);
    if (!r) free(buf);
    int rc = reply_set(req, status, r, content_type);
    if (!rc) early_keep(req, content_type, buf, len);   /* buf lives as long as r */
    return rc;
}

int httpd_reply_json(httpd_req *req, int status, cJSON *json)
{
    char *s = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    size_t n = s ? strlen(s) : 0;
    s = utf8_fix_owned(s, &n);            /* cJSON copies bytes: JSON must be UTF-8 */
    if (!s) return httpd_reply(req, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
    /* a trailing newline makes curl output readable; JSON parsers ignore it */
    char *t = realloc(s, n + 2);
    if (!t) { free(s); return -1; }
    t[n] = '\n'; t[n + 1] = 0;
    return httpd_reply_take(req, status, "application/json", t, n + 1);
}

int httpd_reply_error(httpd_req *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    cJSON *o = json_error_v(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return httpd_reply_json(req, status, o);
}

int httpd_reply_fterr(httpd_req *req, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    cJSON *o = json_error_v(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return httpd_reply_json(req, ft_http_status(err), o);
}

int httpd_reply_fd(httpd_req *req, int status, const char *content_type, int fd,
                   uint64_t size)
{
    struct MHD_Response *r = MHD_create_response_from_fd64(size, fd);
    if (!r) { close(fd); return -1; }
    return reply_set(req, status, r, content_type);
}

struct stream {
    httpd_read_fn read;
    void (*close)(void *ctx);
    void *ctx;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    ssize_t n = s->read(s->ctx, buf, max);
    if (n > 0) return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    if (s->close) s->close(s->ctx);
    free(s);
}

int httpd_reply_stream(httpd_req *req, int status, const char *content_type, uint64_t size,
                       httpd_read_fn read, void (*close)(void *ctx), void *ctx)
{
    struct stream *s = malloc(sizeof *s);
    if (!s) { if (close) close(ctx); return -1; }
    *s = (struct stream){ read, close, ctx };
    struct MHD_Response *r = MHD_create_response_from_callback(
        size == UINT64_MAX ? MHD_SIZE_UNKNOWN : size, 64 * 1024, stream_read, s, stream_free);
    if (!r) { stream_free(s); return -1; }
    return reply_set(req, status, r, content_type);
}

int httpd_req_suspend(httpd_req *req)
{
    if (!(req->srv->flags & HTTPD_ALLOW_SUSPEND) ||
        (req->srv->flags & HTTPD_THREAD_PER_CONNECTION) ||
        req->phase != PHASE_DONE || req->resp || req->suspended)
        return -1;
    req->suspended = 1;
    MHD_suspend_connection(req->conn);
    return 0;
}

void httpd_req_resume(httpd_req *req)
{
    MHD_resume_connection(req->conn);
}

/* --- request accessors ------------------------------------------------------------ */

const char *httpd_req_method(const httpd_req *req) { return req->method; }
const char *httpd_req_path(const httpd_req *req) { return req->path; }
void httpd_req_set_state(httpd_req *req, void *state) { req->state = state; }
void *httpd_req_state(const httpd_req *req) { return req->state; }
int httpd_req_status(const httpd_req *req) { return req->resp ? req->status : 0; }
uint64_t httpd_req_body_received(const httpd_req *req) { return req->received; }
static void peer_of(struct MHD_Connection *conn, char *out, size_t outlen);

/* The address text only when something logs it: inet_ntop per request for nothing was a
 * cost every request paid.  One thread handles a request at a time. */
const char *httpd_req_peer(const httpd_req *req)
{
    httpd_req *r = (httpd_req *)req;
    if (!r->peer_known) {
        peer_of(r->conn, r->peer, sizeof r->peer);
        r->peer_known = 1;
    }
    return r->peer;
}

uint16_t httpd_req_local_port(const httpd_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

const char *httpd_req_query(const httpd_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *httpd_req_header(const httpd_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static const char *value_n(const httpd_req *req, enum MHD_ValueKind kind, const char *key,
                           size_t *len)
{
    const char *v = NULL;
    size_t n = 0;
    if (MHD_lookup_connection_value_n(req->conn, kind, key, strlen(key), &v, &n) != MHD_YES)
        return NULL;
    if (len) *len = n;
    return v;
}

const char *httpd_req_query_n(const httpd_req *req, const char *key, size_t *len)
{
    return value_n(req, MHD_GET_ARGUMENT_KIND, key, len);
}

const char *httpd_req_header_n(const httpd_req *req, const char *name, size_t *len)
{
    return value_n(req, MHD_HEADER_KIND, name, len);
}

struct each_ctx {
    int (*fn)(void *, const char *, const char *);
    void *ctx;
};

static enum MHD_Result each_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct each_ctx *e = cls;
    return e->fn(e->ctx, key, value ? value : "") ? MHD_NO : MHD_YES;
}

void httpd_req_each(const httpd_req *req, enum httpd_kind kind,
                    int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    struct each_ctx e = { fn, ctx };
    MHD_get_connection_values(req->conn,
                              kind == HTTPD_HEADERS ? MHD_HEADER_KIND : MHD_GET_ARGUMENT_KIND,
                              each_cb, &e);
}

static long long clen_parse(const char *v)
{
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < 0) return -1;
    return n;
}

long long httpd_req_content_length(const httpd_req *req)
{
    return clen_parse(httpd_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH));
}

const char *httpd_req_body(const httpd_req *req, size_t *len)
{
    if (len) *len = req->body_len;
    return req->body ? req->body : "";
}

/* percent-encodes s into the buffer; returns 0, or -1 when it does not fit */
static int url_encode_into(char **p, char *end, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || strchr("-._~/", c);
        if (*p + (plain ? 1 : 3) >= end) return -1;
        if (plain) *(*p)++ = (char)c;
        else { *(*p)++ = '%'; *(*p)++ = hex[c >> 4]; *(*p)++ = hex[c & 15]; }
    }
    return 0;
}

struct url_ctx { char *p, *end; int first, full; };

static int url_add_arg(void *cls, const char *key, const char *value)
{
    struct url_ctx *u = cls;
    if (u->p + 1 >= u->end) { u->full = 1; return 1; }
    *u->p++ = u->first ? '?' : '&';
    u->first = 0;
    if (url_encode_into(&u->p, u->end, key)) { u->full = 1; return 1; }
    if (*value) {
        if (u->p + 1 >= u->end) { u->full = 1; return 1; }
        *u->p++ = '=';
        if (url_encode_into(&u->p, u->end, value)) { u->full = 1; return 1; }
    }
    return 0;
}

const char *httpd_req_url(const httpd_req *req)
{
    httpd_req *r = (httpd_req *)req;    /* built lazily, cached */
    if (r->url) return r->url;
    size_t cap = 16384;
    char *buf = malloc(cap);
    if (!buf) return r->path;
    struct url_ctx u = { buf, buf + cap, 1, 0 };
    if (url_encode_into(&u.p, u.end, r->path) == 0)
        httpd_req_each(r, HTTPD_QUERY, url_add_arg, &u);
    *u.p = 0;
    r->url = buf;
    return buf;
}

/* --- connection guard -------------------------------------------------------------- */

/* The guard's clock.  Its deadlines are seconds and its sweeper looks every SWEEP_MS, so
 * the coarse clock (a tick, a few ms) is precise enough, and reading it is a load where
 * CLOCK_MONOTONIC reads the TSC: two reads per request. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Is k past its limits at time now?  Caller holds cmu. */
static int conn_overdue(const httpd *srv, const struct conn *k, double now)
{
    double age = now - k->t0;
    if (k->state == CONN_WAIT)
        return age > (k->served ? srv->idle_timeout : srv->header_timeout);
    if (k->state == CONN_BODY)
        return age > srv->header_timeout && (double)k->body_bytes < srv->min_body_rate * age;
    if (k->state == CONN_LINGER) return age > LINGER_S;
    return 0;
}

/* Shuts k's socket down; libmicrohttpd notices and closes it.  Caller holds cmu. */
static void conn_kill(httpd *srv, struct conn *k, const char *why)
{
    k->state = CONN_CLOSING;
    if (k->fd >= 0) shutdown(k->fd, SHUT_RDWR);
    log_debug("connection closed", "server=%s reason=%s", srv->name, why);
}

/* Under pressure: closes the connection that waited longest for its headers, or the
 * slowest body, other than self.  Caller holds cmu. */
static void conn_evict_one(httpd *srv, const struct conn *self, double now)
{
    struct conn *best = NULL;
    for (struct conn *k = srv->conns; k; k = k->next) {
        if (k == self) continue;
        int cand = k->state == CONN_WAIT || k->state == CONN_LINGER ||
                   (k->state == CONN_BODY && conn_overdue(srv, k, now));
        if (cand && (!best || k->t0 < best->t0)) best = k;
    }
    if (best) {
        conn_kill(srv, best, "evicted");
        atomic_fetch_add(&srv->evicted, 1);
    }
}

static void on_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    httpd *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *k = calloc(1, sizeof *k);
        if (!k) return;                  /* untracked: libmicrohttpd's timeout still holds */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        k->t0 = now_s();
        pthread_mutex_lock(&srv->cmu);
        k->next = srv->conns;
        if (srv->conns) srv->conns->prev = k;
        else pthread_cond_signal(&srv->ccond);   /* the sweeper sleeps while there is none */
        srv->conns = k;
        if (++srv->nconns > srv->soft_limit) conn_evict_one(srv, k, k->t0);
        pthread_mutex_unlock(&srv->cmu);
        *socket_context = k;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn *k = *socket_context;
        if (!k) return;
        pthread_mutex_lock(&srv->cmu);
        if (k->prev) k->prev->next = k->next;
        else srv->conns = k->next;
        if (k->next) k->next->prev = k->prev;
        srv->nconns--;
        pthread_mutex_unlock(&srv->cmu);
        *socket_context = NULL;
        free(k);
    }
}

static void conn_set(httpd_req *req, enum conn_state st)
{
    struct conn *k = req->k;
    if (!k) return;
    /* a busy connection is never judged by its clock (conn_overdue): no read for it, and
     * none under the lock */
    double now = st == CONN_BUSY ? 0 : now_s();
    pthread_mutex_lock(&req->srv->cmu);
    if (st == CONN_WAIT) k->served++;
    if (k->state != CONN_CLOSING) {
        k->state = st;
        if (st != CONN_BUSY) k->t0 = now;
        k->body_bytes = 0;
    }
    pthread_mutex_unlock(&req->srv->cmu);
}

static void *sweeper_main(void *arg)
{
    httpd *srv = arg;
    pthread_mutex_lock(&srv->cmu);
    while (!srv->stopping) {
        /* No connection, nothing to check: sleep until one starts, so an idle server
         * burns no CPU (and an idle traced app has no samples to upload). */
        if (!srv->conns) {
            pthread_cond_wait(&srv->ccond, &srv->cmu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&srv->ccond, &srv->cmu, &ts);
        double now = now_s();
        for (struct conn *k = srv->conns; k; k = k->next)
            if (conn_overdue(srv, k, now)) {
                conn_kill(srv, k, k->state == CONN_WAIT ? "header_deadline"
                                  : k->state == CONN_LINGER ? "linger_end" : "body_rate");
                atomic_fetch_add(&srv->closed_slow, 1);
            }
    }
    pthread_mutex_unlock(&srv->cmu);
    return NULL;
}

unsigned long httpd_closed_slow(const httpd *srv) { return atomic_load(&srv->closed_slow); }
unsigned long httpd_evicted(const httpd *srv) { return atomic_load(&srv->evicted); }

/* --- libmicrohttpd callbacks ------------------------------------------------------- */

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void peer_of(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = 0;
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
}

static enum MHD_Result queue_if_ready(httpd_req *req)
{
    if (!req->resp || req->queued) return MHD_YES;
    req->queued = 1;
    return MHD_queue_response(req->conn, (unsigned)req->status, req->resp);
}

static int reply_500_unless_replied(httpd_req *req, const char *what)
{
    if (req->resp) return 0;
    log_error("callback failed without a reply", "path=%s callback=%s", req->path, what);
    return httpd_reply_error(req, 500, "internal error");
}

/* Writes all of buf to the non-blocking socket fd within about a second; 0 or -1. */
static int send_all(int fd, const char *buf, size_t len)
{
    for (int waits = 0; len;) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) { buf += n; len -= (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || ++waits > 10) return -1;
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        poll(&p, 1, 100);
    }
    return 0;
}

/* Sends a reply made while the body streams in (a 413 past the limit, a 507 from a full
 * disk) on the socket at once, with Connection: close.  libmicrohttpd 0.9.75 cannot queue
 * it before the body ends (MHD_queue_response refuses every state but HEADERS_PROCESSED
 * and FULL_REQ_RECEIVED), and a client that streams a body without end would otherwise
 * never hear it.  The rest of the body is then read and dropped (DISCARD_LIMIT bytes, at
 * most LINGER_S: the guard's CONN_LINGER), so the client can read the reply before the
 * close, like nginx's lingering close: a close with unread data resets the connection,
 * and a reset can take the unread reply with it.  Returns 0, or -1: close now. */
static int early_send(httpd_req *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return -1;
    const char *reason = MHD_get_reason_phrase_for((unsigned)req->status);
    char head[4096];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n", req->status,
                     reason && *reason ? reason : "Error", req->early_type, req->early_len);
    for (int i = 0; i < req->nheaders && n > 0 && (size_t)n < sizeof head; i++)
        if (strcasecmp(req->hname[i], MHD_HTTP_HEADER_CONNECTION))
            n += snprintf(head + n, sizeof head - (size_t)n, "%s: %s\r\n", req->hname[i],
                          req->hvalue[i]);
    if (n < 0 || (size_t)n + 2 >= sizeof head) return -1;
    memcpy(head + n, "\r\n", 2);
    req->early_sent = 1;                     /* from here libmicrohttpd must send nothing */
    if (send_all(ci->connect_fd, head, (size_t)n + 2) ||
        send_all(ci->connect_fd, req->early_body, req->early_len))
        return -1;
    conn_set(req, CONN_LINGER);
    return 0;
}

/* One pass over the request headers for what phase_new needs of them: the first
 * Content-Length, and whether another one disagrees with it. */
struct clen_ctx { const char *first; int conflict; };

static enum MHD_Result clen_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct clen_ctx *c = cls;
    if (!key || strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) return MHD_YES;
    if (!c->first) c->first = value ? value : "";
    else if (strcmp(c->first, value ? value : "")) { c->conflict = 1; return MHD_NO; }
    return MHD_YES;
}

/* The declared body length: -1 when absent or not a number; -2 when two Content-Length
 * headers disagree (RFC 9112 6.3: unrecoverable framing). */
static long long clen_of(struct MHD_Connection *conn)
{
    struct clen_ctx c = { NULL, 0 };
    MHD_get_connection_values(conn, MHD_HEADER_KIND, clen_each, &c);
    return c.conflict ? -2 : clen_parse(c.first);
}

static enum MHD_Result phase_new(httpd_req *req)
{
    httpd *srv = req->srv;
    int status;
    long long clen = clen_of(req->conn);
    if (clen == -2) {
        httpd_add_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
        httpd_reply_error(req, 400, "two different Content-Length headers");
        return queue_if_ready(req);
    }
    req->route = route_find(srv->routes, req->method, req->path, &status);
    if (!req->route) {
        httpd_reply_error(req, status,
                          status == 404 ? "no such endpoint: %s" : "method %s not allowed here",
                          status == 404 ? req->path : req->method);
        return queue_if_ready(req);
    }
    req->begun = 1;
    atomic_fetch_add(&srv->inflight, 1);
    const struct httpd_route *r = req->route;
    if (!r->data && clen > (long long)r->max_body) {
        if (r->max_body == 0)
            httpd_reply_error(req, 413, "this endpoint takes no request body");
        else
            httpd_reply_error(req, 413, "request body over %zu bytes", r->max_body);
        return queue_if_ready(req);
    }
    if (r->begin && r->begin(req, r->arg) < 0) reply_500_unless_replied(req, "begin");
    req->phase = PHASE_BODY;
    return queue_if_ready(req);
}

/* After a body callback: a reply it made goes out now (early_send); one that cannot
 * (a file or stream reply, TLS) waits for the end of the body as before. */
static enum MHD_Result reply_early(httpd_req *req)
{
    if (!req->resp || req->early_sent || !req->early_body) return MHD_YES;
    return early_send(req) ? MHD_NO : MHD_YES;
}

static enum MHD_Result phase_body(httpd_req *req, const char *data, size_t len)
{
    const struct httpd_route *r = req->route;
    req->received += len;
    if (req->k) {
        pthread_mutex_lock(&req->srv->cmu);
        req->k->body_bytes += len;
        pthread_mutex_unlock(&req->srv->cmu);
    }
    if (req->resp) {                         /* replied already: drop the rest */
        return req->received - req->replied_at > DISCARD_LIMIT ? MHD_NO : MHD_YES;
    }
    if (r->data) {
        if (r->data(req, data, len, r->arg) < 0) reply_500_unless_replied(req, "data");
        return reply_early(req);
    }
    if (req->received > r->max_body) {
        httpd_reply_error(req, 413, "request body over %zu bytes", r->max_body);
        return reply_early(req);
    }
    if (req->body_len + len + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + len + 1) cap *= 2;
        if (cap > r->max_body + 1) cap = r->max_body + 1;
        char *b = realloc(req->body, cap);
        if (!b) { httpd_reply_error(req, 503, "out of memory"); return reply_early(req); }
        req->body = b;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = 0;
    return MHD_YES;
}

/* libmicrohttpd hands the path over percent-decoded as a C string, so "%00" would cut it
 * short and "/a%00b" would reach "/a".  It shows the raw request target first, here: a
 * path with an encoded NUL is marked, and refused (400) when the request comes in. */
static char nul_in_path;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    size_t n = strcspn(uri, "?");
    for (size_t i = 0; i + 2 < n; i++)
        if (uri[i] == '%' && uri[i + 1] == '0' && uri[i + 2] == '0') return &nul_in_path;
    return NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    httpd *srv = cls;
    httpd_req *req = *con_cls;
    if (!req || req == (void *)&nul_in_path) {
        int nul = req != NULL;
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        req->srv = srv;
        req->conn = conn;
        req->method = method;
        req->path = req_strdup(req, url ? url : "/");
        if (!req->path) { free(req); return MHD_NO; }
        if (!(srv->flags & HTTPD_QUIET)) clock_gettime(CLOCK_MONOTONIC, &req->t0);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        req->k = ci ? ci->socket_context : NULL;
        conn_set(req, CONN_BODY);
        *con_cls = req;
        if (nul) {
            httpd_reply_error(req, 400, "the path has a NUL byte (%%00)");
            return queue_if_ready(req);
        }
        return phase_new(req);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return phase_body(req, upload_data, n);
    }
    if (req->early_sent) return MHD_NO;      /* answered: the body is in, close now */
    conn_set(req, CONN_BUSY);
    if (req->phase == PHASE_BODY && !req->resp) {
        req->phase = PHASE_DONE;
        int rc = req->route->handle(req, req->route->arg);
        /* parked: another thread replies and resumes; req->resp is theirs until then */
        if (req->suspended) return MHD_YES;
        if (rc < 0 || !req->resp) reply_500_unless_replied(req, "handle");
    } else if (req->suspended) {             /* resumed after a hand-off */
        req->suspended = 0;
        if (!req->resp) reply_500_unless_replied(req, "resume");
    }
    req->phase = PHASE_DONE;
    return queue_if_ready(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    httpd *srv = cls;
    httpd_req *req = *con_cls;
    *con_cls = NULL;
    if (!req || req == (void *)&nul_in_path) return;
    int completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (req->k) conn_set(req, CONN_WAIT);     /* and counts the request as served */
    if (req->begun) {
        if (req->route->done) req->route->done(req, completed, req->route->arg);
        atomic_fetch_sub(&srv->inflight, 1);
    }
    if (!(srv->flags & HTTPD_QUIET))
        log_info("request", "server=%s method=%s path=%s status=%d bytes_in=%llu ms=%.1f peer=%s%s",
                 srv->name, req->method, req->path, req->status,
                 (unsigned long long)req->received, ms_since(&req->t0), httpd_req_peer(req),
                 completed ? "" : " aborted=1");
    if (req->resp) MHD_destroy_response(req->resp);
    for (int i = 0; i < req->nheaders; i++) {
        req_strfree(req, req->hname[i]);
        req_strfree(req, req->hvalue[i]);
    }
    free(req->body);
    free(req->early_body);
    free(req->early_type);
    req_strfree(req, req->path);
    free(req->url);
    free(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    log_debug("libmicrohttpd", "server=%s detail=\"%s\"", ((httpd *)cls)->name, msg);
}

/* --- server ------------------------------------------------------------------------ */

/* A daemon serving max_conns connections needs as many descriptors and then some: raise
 * the soft limit toward the hard one when it is lower. */
static void raise_nofile(unsigned max_conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_conns + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void guard_free(httpd *srv)
{
    pthread_mutex_destroy(&srv->cmu);
    pthread_cond_destroy(&srv->ccond);
    free(srv);
}

/* --- pool zeroing (see the top of the file) ------------------------------------------ */

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static char pool_state[160] = "kept";

/* The rest goes to the memset this file calls, the one libmicrohttpd's slot held (or a
 * sanitizer's, in both): a daemon already running may call in as soon as the slot
 * changes, so nothing here may wait for plthook_replace to return. */
static void *pool_memset(void *s, int c, size_t n)
{
    if (c == 0 && n >= POOL_ZERO_MIN) return s;
    return memset(s, c, n);
}

static void pool_zeroing_skip(void)
{
    const char *v = MHD_get_version();
    size_t i = 0, nv = sizeof POOL_READ_VERSIONS / sizeof *POOL_READ_VERSIONS;
    while (i < nv && strcmp(v, POOL_READ_VERSIONS[i])) i++;
    if (i == nv) {
        snprintf(pool_state, sizeof pool_state, "kept (libmicrohttpd %s, not one read)", v);
        return;
    }
    char err[128];
    void *orig;
    if (plthook_replace("libmicrohttpd.so", "memset", (void *)pool_memset, &orig, err,
                        sizeof err) < 0) {
        snprintf(pool_state, sizeof pool_state, "kept (%s)", err);
        return;
    }
    snprintf(pool_state, sizeof pool_state, "skipped");
}

const char *httpd_pool_zeroing(void) { return pool_state; }

httpd *httpd_start(const struct httpd_opts *opts, const struct httpd_route *routes,
                   char *err, size_t errlen)
{
    const char *listen = opts->listen && *opts->listen ? opts->listen : "127.0.0.1";
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
                              .ai_socktype = SOCK_STREAM }, *ai = NULL;
    if (getaddrinfo(listen, NULL, &hints, &ai) || !ai) {
        snprintf(err, errlen, "listen address %s is not a numeric IPv4/IPv6 address", listen);
        return NULL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (v6) ((struct sockaddr_in6 *)&ss)->sin6_port = htons(opts->port);
    else ((struct sockaddr_in *)&ss)->sin_port = htons(opts->port);

    httpd *srv = calloc(1, sizeof *srv);
    if (!srv) { snprintf(err, errlen, "out of memory"); return NULL; }
    srv->routes = routes;
    srv->flags = opts->flags;
    snprintf(srv->name, sizeof srv->name, "%s", opts->name ? opts->name : "httpd");
    unsigned max_conns = opts->max_conns ? opts->max_conns : 1024;
    unsigned timeout_s = opts->timeout_s ? opts->timeout_s : 30;
    unsigned per_ip = opts->max_conns_per_ip ? opts->max_conns_per_ip
                                             : (max_conns / 4 > 16 ? max_conns / 4 : 16);
    srv->soft_limit = max_conns - max_conns / 8;
    srv->header_timeout = opts->header_timeout_ms ? opts->header_timeout_ms / 1e3
                          : (timeout_s < 10 ? timeout_s : 10);
    srv->idle_timeout = timeout_s > srv->header_timeout ? timeout_s : srv->header_timeout;
    srv->min_body_rate = opts->min_body_rate ? opts->min_body_rate : 1024;
    raise_nofile(max_conns);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->ccond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&srv->cmu, NULL);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (opts->flags & HTTPD_THREAD_PER_CONNECTION) flags |= MHD_USE_THREAD_PER_CONNECTION;
    /* poll, not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loop sometimes misses a
     * client that hangs up mid-body, and the request then lingers (its `done`, temporary
     * files and connection slot) until the idle timeout; poll sees the hang-up at once. */
    else flags |= MHD_USE_POLL;
    if ((opts->flags & HTTPD_ALLOW_SUSPEND) && !(opts->flags & HTTPD_THREAD_PER_CONNECTION))
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    if (v6) flags |= MHD_USE_IPv6;
    int tls = opts->tls_cert_pem && opts->tls_key_pem;
    if (tls) flags |= MHD_USE_TLS;
    srv->tls = tls;
    unsigned threads = opts->threads ? opts->threads : 4;
    if (opts->flags & HTTPD_THREAD_PER_CONNECTION) threads = 1;

    struct MHD_OptionItem ops[20];
    int n = 0;
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, max_conns, NULL };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_conn, srv };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, NULL };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, srv };
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL };
    /* no MHD_OPTION_LISTENING_ADDRESS_REUSE: its 1 means SO_REUSEPORT, which let a second
     * daemon bind the same port silently and take half the connections; libmicrohttpd's
     * default (SO_REUSEADDR) already allows a restart while old connections linger. */
    if (opts->conn_memory)
        ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                            (intptr_t)opts->conn_memory, NULL };
    if (threads > 1)
        ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, threads, NULL };
    if (tls) {
        ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
                                            (void *)opts->tls_cert_pem };
        ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
                                            (void *)opts->tls_key_pem };
    }
    ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

    if (!(opts->flags & HTTPD_POOL_ZEROING)) pthread_once(&pool_once, pool_zeroing_skip);
    srv->mhd = MHD_start_daemon(flags, opts->port, NULL, NULL, on_access, srv,
                                MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (!srv->mhd) {
        snprintf(err, errlen, "cannot listen on %s port %u%s", listen, (unsigned)opts->port,
                 tls ? " (or the TLS certificate/key is not usable)" : " (address in use?)");
        guard_free(srv);
        return NULL;
    }
    if (pthread_create(&srv->sweeper, NULL, sweeper_main, srv) == 0) srv->sweeper_started = 1;
    else log_warn("no connection guard", "server=%s detail=\"cannot start its thread\"", srv->name);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : opts->port;
    return srv;
}

uint16_t httpd_port(const httpd *srv) { return srv->port; }
unsigned httpd_inflight(const httpd *srv) { return atomic_load(&srv->inflight); }

void httpd_quiesce(httpd *srv)
{
    MHD_socket s = MHD_quiesce_daemon(srv->mhd);
    if (s != MHD_INVALID_SOCKET) close(s);
}

void httpd_stop(httpd *srv)
{
    if (!srv) return;
    pthread_mutex_lock(&srv->cmu);
    srv->stopping = 1;
    pthread_cond_signal(&srv->ccond);
    pthread_mutex_unlock(&srv->cmu);
    if (srv->sweeper_started) pthread_join(srv->sweeper, NULL);
    MHD_stop_daemon(srv->mhd);
    guard_free(srv);
}

void httpd_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int httpd_wait_signal(int timeout_ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (timeout_ms < 0) {
        int sig = 0;
        return sigwait(&set, &sig) == 0 ? sig : 0;
    }
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

unsigned httpd_drain(httpd *srv, double grace_s, unsigned (*busy)(void *arg), void *arg)
{
    httpd_quiesce(srv);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double end = (double)t.tv_sec + (double)t.tv_nsec / 1e9 + grace_s;
    while (httpd_inflight(srv) || (busy && busy(arg))) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)t.tv_sec + (double)t.tv_nsec / 1e9 >= end) break;
        if (httpd_wait_signal(50)) break;
    }
    return httpd_inflight(srv);
}
