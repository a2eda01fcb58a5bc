/* ingest — see ingest.h.
 *
 * The store_put is opened with the first two body bytes, when bodycheck knows whether the
 * body is gzip (that picks the .perf or .perf.gz suffix); a lone first byte waits in
 * `head`.  Every refusal goes through reject(): one JSON error, one metric, the put
 * aborted.  lib/httpd sends a reply made mid-body at once and drops the rest of the body
 * (over TLS it holds the reply until the body ends), and calls ingest_done in every case. */
#include "ingest.h"
#include "indexer.h"
#include "query.h"
#include "bodycheck.h"
#include "collector.h"
#include "fterr.h"
#include "log.h"
#include "metrics.h"
#include "tracename.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>

struct upload {
    struct collector *c;
    struct bodycheck *bc;
    store_put *put;
    int settled;                     /* committed or refused: nothing more to count */
    int claimed;                     /* holds the claim on key (idem.h) */
    char key[IDEM_KEY_MAX + 1];      /* Idempotency-Key, "" when none */
    char first_id[STORE_ID_MAX + 1]; /* another collector stored the key first (idem_prepare) */
    size_t head_len;
    char head[1];
    char name[TRACE_NAME_MAX + 1];
};

/* Test hook: FNTRACE_TEST_CRASH_AT=key-recorded (the key is recorded, the trace not yet
 * visible) or trace-committed (the trace visible, the collector's bookkeeping not done)
 * kills the collector there with SIGKILL, as kill -9 would, for the crash-window replay
 * (tests/reliability/test_idem_crash.py).  Not an option: nothing sets it but that test. */
static void crash_point(const char *where)
{
    const char *at = getenv("FNTRACE_TEST_CRASH_AT");
    if (at && !strcmp(at, where)) {
        log_warn("test hook: crashing", "at=%s", where);
        raise(SIGKILL);
    }
}

/* The store's precommit hook of an upload with a claimed key (idem_prepare). */
static int key_precommit(void *ctx, const char *id, uint64_t bytes)
{
    struct upload *u = ctx;
    int r = idem_prepare(u->c->idem, u->key, id, bytes, u->first_id);
    if (!r) crash_point("key-recorded");
    return r;
}

/* A printable, bounded copy of untrusted text for error messages. */
static void printable(char *out, size_t outlen, const char *s, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 4 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (j + 4 >= outlen) { out[j++] = '.'; out[j++] = '.'; out[j++] = '.'; }
    out[j] = 0;
}

const char *ingest_name(httpd_req *req, char *err, size_t errlen)
{
    size_t len = 0;
    const char *name = httpd_req_header_n(req, "X-name", &len);
    if (!name) name = httpd_req_query_n(req, "name", &len);
    if (!name || !len) {
        snprintf(err, errlen, "no trace name: send the header X-name: NAME (or ?name=NAME)");
        return NULL;
    }
    if (!trace_name_valid_n(name, len)) {
        trace_name_error(err, errlen, "trace name", name, len);
        return NULL;
    }
    return name;
}

/* Refuses the upload with error code code (lib/fterr.h: its HTTP status comes from
 * ft_http_status) and the formatted message. */
static int reject(httpd_req *req, struct collector *c, int code, enum reject_reason why,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int reject(httpd_req *req, struct collector *c, int code, enum reject_reason why,
                  const char *fmt, ...)
{
    int status = ft_http_status(code);
    struct upload *u = httpd_req_state(req);
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (u) {
        store_put_abort(u->put);
        u->put = NULL;
        u->settled = 1;
    }
    metrics_reject(c->metrics, why);
    if (status >= 500)
        log_warn("upload refused", "status=%d reason=%s detail=\"%s\" peer=%s", status,
                 metrics_reason_name(why), msg, httpd_req_peer(req));
    return httpd_reply_error(req, status, "%s", msg);
}

static int store_error(httpd_req *req, struct collector *c, int e, const char *what)
{
    if (ft_http_status(e) == 507)
        return reject(req, c, e, REJECT_DISK_FULL, "the collector's disk is full (%s)", what);
    if (e == -FT_ERR_STORE_DOWN || e == -FT_ERR_UNAUTHORIZED) {
        /* not stored, and nothing acknowledged: the client's spool keeps it and retries */
        httpd_add_header(req, "Retry-After", STORE_RETRY_AFTER);
        return reject(req, c, -FT_ERR_STORE_DOWN, REJECT_STORE_DOWN, "the trace store is "
                      "unavailable (%s: %s); try again later", what, ft_strerror(e));
    }
    /* anything else the store says is the collector's own failure, whatever errno */
    return reject(req, c, -EIO, REJECT_STORE_ERROR, "cannot store the trace (%s): %s", what,
                  ft_strerror(e));
}

static int too_large(httpd_req *req, struct collector *c)
{
    return reject(req, c, -FT_ERR_TOO_LARGE, REJECT_TOO_LARGE, "trace over the limit of %llu bytes",
                  (unsigned long long)c->opts.max_body);
}

/* A repeat of a stored upload: 200 with the first upload's id (the body is not read). */
static int replay(httpd_req *req, struct upload *u, const struct store_entry *e)
{
    char loc[STORE_ID_MAX + 32];
    snprintf(loc, sizeof loc, "/api/v1/traces/%s", e->id);
    httpd_add_header(req, "Location", loc);
    u->settled = 1;
    log_info("upload replayed", "key=%s id=%s peer=%s", u->key, e->id, httpd_req_peer(req));
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddStringToObject(o, "name", e->name[0] ? e->name : u->name);
    cJSON_AddNumberToObject(o, "bytes", (double)e->bytes);
    cJSON_AddBoolToObject(o, "replayed", 1);
    return httpd_reply_json(req, 200, o);
}

/* Idempotency-Key: a key seen before answers with its first upload; a key being
 * uploaded now answers 409; a new key is claimed until the upload ends. */
static int idem_begin(httpd_req *req, struct collector *c, struct upload *u)
{
    size_t len = 0;
    const char *v = httpd_req_header_n(req, "Idempotency-Key", &len);
    if (!v) return 0;
    if (idem_key_parse(v, len, u->key))
        return reject(req, c, -FT_ERR_BAD_INPUT, REJECT_BAD_REQUEST,
                      "Idempotency-Key must be 1..%d printable characters without spaces, "
                      "quotes or backslashes (optionally in double quotes)", IDEM_KEY_MAX);
    for (int tries = 0; tries < 2; tries++) {
        struct store_entry e;
        uint64_t bytes;
        int r = idem_claim(c->idem, u->key, e.id, &bytes);
        if (r == 0) { u->claimed = 1; return 0; }
        if (r == 2) return 0;                       /* index full: stored without its key */
        if (r == -EBUSY)
            return reject(req, c, r, REJECT_IN_PROGRESS,
                          "an upload with this Idempotency-Key is in progress: retry later");
        if (r == -FT_ERR_STORE_DOWN || r == -FT_ERR_UNAUTHORIZED)   /* a shared key's record */
            return store_error(req, c, r, "Idempotency-Key");
        if (r < 0) return reject(req, c, r, REJECT_STORE_ERROR, "cannot check the Idempotency-Key");
        char id[STORE_ID_MAX + 1];
        snprintf(id, sizeof id, "%s", e.id);
        if (store_stat(c->st, id, &e) == 0) return replay(req, u, &e);
        idem_release(c->idem, u->key);              /* its trace is gone: store anew */
    }
    return reject(req, c, -EBUSY, REJECT_IN_PROGRESS,
                  "an upload with this Idempotency-Key is in progress: retry later");
}

int ingest_begin(httpd_req *req, void *arg)
{
    struct collector *c = arg;
    if (!collector_authorized(c, req)) {
        httpd_add_header(req, "WWW-Authenticate", "Bearer");
        return reject(req, c, -FT_ERR_UNAUTHORIZED, REJECT_UNAUTHORIZED,
                      "missing or wrong token: send Authorization: Bearer TOKEN");
    }
    char err[256];
    const char *name = ingest_name(req, err, sizeof err);
    if (!name) return reject(req, c, -FT_ERR_BAD_NAME, REJECT_BAD_NAME, "%s", err);
    const char *enc = httpd_req_header(req, "Content-Encoding");
    int gzip = 0;
    if (enc && *enc && strcasecmp(enc, "identity")) {
        if (strcasecmp(enc, "gzip") && strcasecmp(enc, "x-gzip")) {
            char shown[40];
            printable(shown, sizeof shown, enc, strlen(enc));
            return reject(req, c, -FT_ERR_BODY_TYPE, REJECT_NOT_PERF,
                          "unsupported Content-Encoding \"%s\": send gzip or nothing", shown);
        }
        gzip = 1;
    }
    long long clen = httpd_req_content_length(req);
    if (c->opts.max_body && clen >= 0 && (uint64_t)clen > c->opts.max_body)
        return too_large(req, c);
    struct upload *u = calloc(1, sizeof *u);
    if (!u) return -1;
    snprintf(u->name, sizeof u->name, "%s", name);
    u->c = c;
    u->bc = bodycheck_new(gzip);
    httpd_req_set_state(req, u);
    if (!u->bc) return -1;
    bodycheck_set_max_text(u->bc, c->opts.max_inflated);
    return idem_begin(req, c, u);
}

/* Opens the put once the body's kind is known and writes what waited in head.
 * Returns 0, or 1 after replying with the error. */
static int put_open(httpd_req *req, struct collector *c, struct upload *u)
{
    char err[256];
    u->put = store_put_begin(c->st, u->name, bodycheck_mode(u->bc) == BODY_GZIP,
                             err, sizeof err);
    if (!u->put) {
        store_error(req, c, -errno, "temporary file");
        return 1;
    }
    if (u->claimed) store_put_on_commit(u->put, key_precommit, u);
    if (u->head_len) {
        int r = store_put_write(u->put, u->head, u->head_len);
        if (r) {
            store_error(req, c, r, "write");
            return 1;
        }
        u->head_len = 0;
    }
    return 0;
}

static int body_refused(httpd_req *req, struct collector *c, int code, const char *err)
{
    enum reject_reason why = code == -FT_ERR_BODY_GZIP ? REJECT_BAD_GZIP
                           : code == -FT_ERR_BODY_TYPE ? REJECT_NOT_PERF
                           : code == -FT_ERR_TOO_LARGE ? REJECT_TOO_LARGE : REJECT_STORE_ERROR;
    return reject(req, c, code, why, "%s", err);
}

int ingest_data(httpd_req *req, const char *data, size_t len, void *arg)
{
    struct collector *c = arg;
    struct upload *u = httpd_req_state(req);
    if (!u) return -1;
    if (c->opts.max_body && httpd_req_body_received(req) > c->opts.max_body)
        return too_large(req, c);
    char err[256];
    int v = bodycheck_feed(u->bc, data, len, err, sizeof err);
    if (v) return body_refused(req, c, v, err);
    if (!u->put) {
        if (bodycheck_mode(u->bc) == BODY_UNKNOWN) {   /* one byte so far */
            memcpy(u->head + u->head_len, data, len);
            u->head_len += len;
            return 0;
        }
        if (put_open(req, c, u)) return 0;              /* replied */
    }
    int r = store_put_write(u->put, data, len);
    return r ? store_error(req, c, r, "write") : 0;
}

int ingest_handle(httpd_req *req, void *arg)
{
    struct collector *c = arg;
    struct upload *u = httpd_req_state(req);
    if (!u) return -1;
    char err[256];
    int v = bodycheck_finish(u->bc, err, sizeof err);
    if (v) return body_refused(req, c, v, err);
    if (!u->put && put_open(req, c, u)) return 0;
    struct store_entry e;
    int r = store_put_commit(u->put, &e);
    u->put = NULL;
    if (r == -EEXIST && u->first_id[0] && store_stat(c->st, u->first_id, &e) == 0) {
        idem_commit(c->idem, u->key, e.id, e.bytes);   /* another collector stored it first */
        u->claimed = 0;
        return replay(req, u, &e);
    }
    if (r == -EBUSY || (r == -EEXIST && u->first_id[0]))
        return reject(req, c, -EBUSY, REJECT_IN_PROGRESS,
                      "an upload with this Idempotency-Key is in progress: retry later");
    if (r) return store_error(req, c, r, "commit");
    crash_point("trace-committed");
    u->settled = 1;
    if (u->claimed) {
        idem_commit(c->idem, u->key, e.id, e.bytes);
        u->claimed = 0;
    }
    metrics_upload(c->metrics, e.bytes);
    if (c->indexer) indexer_push(c->indexer, e.id);   /* off the request path; may drop */
    if (c->opts.max_bytes) {
        uint64_t bytes;
        store_usage(c->st, &bytes, NULL);
        if (bytes > c->opts.max_bytes) collector_retain(c);
    }
    char loc[STORE_ID_MAX + 32];
    snprintf(loc, sizeof loc, "/api/v1/traces/%s", e.id);
    httpd_add_header(req, "Location", loc);
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddStringToObject(o, "id", e.id);
    cJSON_AddStringToObject(o, "name", u->name);
    cJSON_AddNumberToObject(o, "bytes", (double)e.bytes);
    return httpd_reply_json(req, 201, o);
}

void ingest_done(httpd_req *req, int completed, void *arg)
{
    struct collector *c = arg;
    struct upload *u = httpd_req_state(req);
    if (!u) return;
    /* counted before the temporary file goes: whoever sees it gone sees the count too */
    if (!u->settled) metrics_reject(c->metrics, REJECT_ABORTED);
    store_put_abort(u->put);
    if (u->claimed) idem_release(c->idem, u->key);
    bodycheck_free(u->bc);
    free(u);
    httpd_req_set_state(req, NULL);
}
