/* query — see query.h.  Ids come from the URL path (already percent-decoded by
 * libmicrohttpd) and are checked by store_id_valid() before the store sees them, so
 * "..", absolute paths, dot files and the temporary area are a 400, never a file. */
#define _GNU_SOURCE   /* asprintf */
#include "query.h"
#include "collector.h"
#include "metrics.h"
#include "fterr.h"
#include "idxfile.h"
#include "tracename.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *query_id_of_path(const char *path)
{
    size_t n = strlen(QUERY_TRACES "/");
    if (strncmp(path, QUERY_TRACES "/", n)) return NULL;
    return path + n;
}

static void iso_time(char *out, size_t outlen, int64_t ns)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", base, (int)(ns % 1000000000 / 1000000));
}

/* Traces show code paths and command lines: with a token, reads need it too unless
 * --public-read.  Returns 1 after replying 401. */
static int read_refused(httpd_req *req, struct collector *c)
{
    if (!c->opts.token || c->opts.public_read || collector_authorized(c, req)) return 0;
    metrics_reject(c->metrics, REJECT_UNAUTHORIZED);
    httpd_add_header(req, "WWW-Authenticate", "Bearer");
    httpd_reply_fterr(req, -FT_ERR_UNAUTHORIZED, "reading traces needs the token: send "
                      "Authorization: Bearer TOKEN (or start the collector with --public-read)");
    return 1;
}

int query_list(httpd_req *req, void *arg)
{
    struct collector *c = arg;
    if (read_refused(req, c)) return 0;
    size_t nlen = 0;
    const char *name = httpd_req_query_n(req, "name", &nlen);
    if (name && !trace_name_valid_n(name, nlen)) {
        char err[256];
        metrics_reject(c->metrics, REJECT_BAD_NAME);
        trace_name_error(err, sizeof err, "?name=", name, nlen);
        return httpd_reply_fterr(req, -FT_ERR_BAD_NAME, "%s", err);
    }
    struct store_entry *v;
    size_t n;
    int r = store_list(c->st, name, &v, &n);
    if (r) return query_store_failed(req, r, "cannot list the store");
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        char t[40];
        iso_time(t, sizeof t, v[i].mtime_ns);
        cJSON_AddStringToObject(o, "id", v[i].id);
        cJSON_AddStringToObject(o, "name", v[i].name);
        cJSON_AddNumberToObject(o, "bytes", (double)v[i].bytes);
        cJSON_AddStringToObject(o, "time", t);
        cJSON_AddBoolToObject(o, "gzip", v[i].gzip);
        cJSON_AddItemToArray(a, o);
    }
    free(v);
    return httpd_reply_json(req, 200, a);
}

/* The reply to a store failure: 503 with Retry-After while the store cannot be reached
 * (or refuses this collector's credentials), else the collector's own failure (500). */
int query_store_failed(httpd_req *req, int r, const char *what)
{
    if (r == -FT_ERR_STORE_DOWN || r == -FT_ERR_UNAUTHORIZED) {
        httpd_add_header(req, "Retry-After", STORE_RETRY_AFTER);
        return httpd_reply_fterr(req, -FT_ERR_STORE_DOWN, "%s: the trace store is unavailable "
                                 "(%s), try again later", what, ft_strerror(r));
    }
    return httpd_reply_fterr(req, -EIO, "%s: %s", what, ft_strerror(r));
}

/* The id of the request, or NULL after a 400 reply. */
static const char *request_id(httpd_req *req, struct collector *c)
{
    const char *id = query_id_of_path(httpd_req_path(req));
    if (id && store_id_valid(id)) return id;
    metrics_reject(c->metrics, REJECT_BAD_REQUEST);
    httpd_reply_fterr(req, -FT_ERR_BAD_ID, "invalid trace id: expected NAME/FILE inside the store");
    return NULL;
}

static int not_found_or_error(httpd_req *req, int r)
{
    if (r == -ENOENT || r == -ENOTDIR)
        return httpd_reply_fterr(req, -ENOENT, "no such trace: %s",
                                 query_id_of_path(httpd_req_path(req)));
    return query_store_failed(req, r, "cannot read the trace");
}

int query_get(httpd_req *req, void *arg)
{
    struct collector *c = arg;
    if (read_refused(req, c)) return 0;
    const char *id = request_id(req, c);
    if (!id) return 0;
    store_reader *rd;
    struct store_entry e;
    int r = store_open_reader(c->st, id, &rd, &e);
    if (r) return not_found_or_error(req, r);
    const char *base = strrchr(e.id, '/');
    base = base ? base + 1 : e.id;
    /* the stored file as it is; Content-Encoding tells clients how to read a .gz */
    char disp[STORE_ID_MAX + 64], fname[STORE_ID_MAX + 1];
    size_t bl = strlen(base) - (e.gzip ? 3 : 0);
    for (size_t i = 0; i < bl; i++)           /* ids are printable ASCII; quotes aside */
        fname[i] = base[i] == '"' || base[i] == '\\' ? '_' : base[i];
    fname[bl] = 0;
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", fname);
    httpd_add_header(req, "Content-Disposition", disp);
    if (e.gzip) httpd_add_header(req, "Content-Encoding", "gzip");
    int fd = store_reader_fd(rd);
    if (fd >= 0 && (fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {   /* the fast path: sendfile */
        store_reader_close(rd);
        return httpd_reply_fd(req, 200, "text/plain; charset=utf-8", fd, e.bytes);
    }
    return httpd_reply_stream(req, 200, "text/plain; charset=utf-8", e.bytes, store_read_cb,
                              (void (*)(void *))store_reader_close, rd);
}

int query_delete(httpd_req *req, void *arg)
{
    struct collector *c = arg;
    if (!c->opts.token)
        return httpd_reply_fterr(req, -EPERM, "deleting traces needs a token: start the "
                                 "collector with --token-file");
    if (!collector_authorized(c, req)) {
        metrics_reject(c->metrics, REJECT_UNAUTHORIZED);
        httpd_add_header(req, "WWW-Authenticate", "Bearer");
        return httpd_reply_fterr(req, -FT_ERR_UNAUTHORIZED,
                                 "missing or wrong token: send Authorization: Bearer TOKEN");
    }
    const char *id = request_id(req, c);
    if (!id) return 0;
    int r = store_delete(c->st, id);
    if (r) return not_found_or_error(req, r);
    idxfile_remove(c->opts.index_dir, id);     /* flamescope's index goes with the trace */
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddStringToObject(o, "deleted", id);
    return httpd_reply_json(req, 200, o);
}

int query_healthz(httpd_req *req, void *arg)
{
    return httpd_reply(req, 200, "application/json", "{\"status\":\"ok\"}\n", 16);
}

int query_metrics(httpd_req *req, void *arg)
{
    struct collector *c = arg;
    uint64_t bytes, files;
    store_usage(c->st, &bytes, &files);
    size_t len;
    struct store_op_stats ops;
    store_op_stats_get(c->st, &ops);
    char *text = metrics_render(c->metrics, bytes, files, &ops, &len);
    if (!text) return httpd_reply_fterr(req, -ENOMEM, "out of memory");
    return httpd_reply_take(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
/* The address to show in the curl line: the Host the client used when it looks like a
 * host[:port] (it is echoed into the page), else loopback with the port the request came
 * in on (not httpd_port(): a request can be served before httpd_start() returns). */
static void status_host(httpd_req *req, char *out, size_t outlen)
{
    const char *h = httpd_req_header(req, "Host");
    size_t n = h ? strlen(h) : 0;
    int ok = n > 0 && n < outlen && n < 256;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)h[i]) || strchr(".-:[]", h[i]) != NULL;
    if (ok) snprintf(out, outlen, "%s", h);
    else snprintf(out, outlen, "127.0.0.1:%u", (unsigned)httpd_req_local_port(req));
}

int query_status(httpd_req *req, void *arg)
{
    struct collector *c = arg;
    char host[260];
    status_host(req, host, sizeof host);
    const char *scheme = c->opts.tls_cert_pem ? "https" : "http";
    const char *auth = c->opts.token ? " -H 'Authorization: Bearer TOKEN'" : "";
    uint64_t bytes, files, uploads, up_bytes, rejects;
    store_usage(c->st, &bytes, &files);
    metrics_totals(c->metrics, &uploads, &up_bytes, &rejects);
    char *page = NULL;
    int len = asprintf(&page,
        "fntrace-collector " FNTRACE_VERSION ": receives perf-script traces (plain or gzip)\n"
        "and stores each one under its name.\n\n"
        "Upload a trace under the name NAME (" TRACE_NAME_RULE "):\n"
        "  curl -H 'X-name: NAME'%s --data-binary @trace.perf %s://%s/\n"
        "  fntrace upload --name NAME %s://%s/ trace.perf\n\n"
        "Endpoints:\n"
        "  POST /  or  POST " QUERY_TRACES "      upload (X-name or ?name=)\n"
        "  GET  " QUERY_TRACES "[?name=NAME]    list (JSON)\n"
        "  GET  " QUERY_TRACES "/ID             download\n"
        "  DELETE " QUERY_TRACES "/ID           delete (needs the token)\n"
        "  GET  /healthz  GET /metrics (Prometheus)\n\n"
        "Stored: %llu traces, %llu bytes\n"
        "Since start: %llu uploads stored (%llu bytes), %llu refused\n",
        auth, scheme, host, scheme, host,
        (unsigned long long)files, (unsigned long long)bytes,
        (unsigned long long)uploads, (unsigned long long)up_bytes, (unsigned long long)rejects);
    if (len < 0) return httpd_reply_error(req, 503, "out of memory");
    return httpd_reply_take(req, 200, "text/plain; charset=utf-8", page, (size_t)len);
}
