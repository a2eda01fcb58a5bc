/* runtime — see runtime.h: the HTTP side of a call, shared by the front ends. */
#define _GNU_SOURCE
#include "runtime.h"
#include "log.h"
#include "tracing.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double rt_call_limit(const struct rt *rt)
{
    double e = rt->exec_timeout, w = rt->write_timeout;
    if (e > 0 && w > 0) return e < w ? e : w;
    return e > 0 ? e : (w > 0 ? w : 0);
}

double rt_parse_duration(const char *s)
{
    if (!s) return -1;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0) return -1;
    while (isspace((unsigned char)*end)) end++;
    double mul;
    if (!*end || !strcmp(end, "s")) mul = 1;
    else if (!strcmp(end, "ms")) mul = 1e-3;
    else if (!strcmp(end, "us") || !strcmp(end, "µs")) mul = 1e-6;
    else if (!strcmp(end, "m")) mul = 60;
    else if (!strcmp(end, "h")) mul = 3600;
    else return -1;
    return v * mul;
}

struct fill_ctx { struct app_call *call; int err; };

static int add_query_cb(void *p, const char *k, const char *v)
{
    struct fill_ctx *f = p;
    if (app_call_add_query(f->call, k, v)) { f->err = 1; return 1; }
    return 0;
}

static int add_header_cb(void *p, const char *k, const char *v)
{
    struct fill_ctx *f = p;
    if (app_call_add_header(f->call, k, v)) { f->err = 1; return 1; }
    return 0;
}

struct app_call *rt_call_from_http(struct rt *rt, const struct fn_func *fn, httpd_req *req)
{
    const char *id = httpd_req_header(req, "X-Azure-Functions-InvocationId");
    if (!id || !*id) id = httpd_req_header(req, "X-Call-Id");
    struct app_call *c = app_call_new(rt->app, fn, id);
    if (!c) return NULL;
    size_t len;
    const char *body = httpd_req_body(req, &len);
    struct fill_ctx f = { c, 0 };
    if (app_call_set_request(c, httpd_req_method(req), httpd_req_path(req), body, len))
        f.err = 1;
    if (!f.err) httpd_req_each(req, HTTPD_QUERY, add_query_cb, &f);
    if (!f.err) httpd_req_each(req, HTTPD_HEADERS, add_header_cb, &f);
    if (f.err) { app_call_free(c); return NULL; }
    return c;
}

int rt_call_set_payload(struct app_call *call, const char *body, size_t len, char *err,
                        size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root && end) {
        while (end < body + len && isspace((unsigned char)*end)) end++;
        if (end != body + len) { cJSON_Delete(root); root = NULL; }
    }
    if (!root) {
        snprintf(err, errlen, len ? "malformed JSON payload" : "empty body: expected an invocation payload {\"Data\":{...},\"Metadata\":{...}}");
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "invocation payload must be a JSON object {\"Data\":{...},\"Metadata\":{...}}");
        return -1;
    }
    cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "Data");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "Metadata");
    if ((data && !cJSON_IsObject(data) && !cJSON_IsNull(data)) ||
        (meta && !cJSON_IsObject(meta) && !cJSON_IsNull(meta))) {
        cJSON_Delete(root);
        snprintf(err, errlen, "\"Data\" and \"Metadata\" must be JSON objects");
        return -1;
    }
    app_call_set_payload(call, root, cJSON_IsObject(data) ? data : NULL,
                         cJSON_IsObject(meta) ? meta : NULL);
    return 0;
}

cJSON *rt_envelope(struct app_call *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *outs = c->inv.outputs ? c->inv.outputs : cJSON_CreateObject();
    cJSON *logs = c->inv.logs ? c->inv.logs : cJSON_CreateArray();
    cJSON *ret = c->inv.ret ? c->inv.ret : cJSON_CreateNull();
    c->inv.outputs = c->inv.logs = c->inv.ret = NULL;
    cJSON_AddItemToObject(o, "Outputs", outs);
    cJSON_AddItemToObject(o, "Logs", logs);
    cJSON_AddItemToObject(o, "ReturnValue", ret);
    if (c->inv.error) cJSON_AddStringToObject(o, "error", c->inv.error);
    return o;
}

int rt_reply_plain(struct rt *rt, httpd_req *req, struct app_call *c)
{
    if (!c->fn->http) return httpd_reply_json(req, app_call_status(c), rt_envelope(c));
    fn_response *res = &c->res;
    for (int i = 0; i < res->nheaders; i++) httpd_add_header(req, res->hname[i], res->hvalue[i]);
    char *body = res->body;
    size_t len = res->len;
    res->body = NULL;
    if (!body && !(body = strdup(""))) return -1;
    return httpd_reply_take(req, res->status, res->has_ctype ? NULL : "text/plain; charset=utf-8",
                            body, len);
}

int rt_run_and_reply(struct rt *rt, httpd_req *req, struct app_call *c, rt_reply_fn reply,
                     int duration_header)
{
    uint64_t t0 = invlog_now_ns();
    char id[INVLOG_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", c->id);
    const char *fname = c->fn->name;      /* lives in the app */
    /* quick functions run inline on an I/O thread: no time limit (it would need a thread) */
    double limit = (c->fn->flags & FN_QUICK) ? 0 : rt_call_limit(rt);
    int r = app_call_run(c, limit, rt->max_inflight);
    uint64_t t1 = invlog_now_ns();
    if (duration_header) {
        /* integer formatting: printf's float path was 2.5 % of a hello request's CPU */
        char d[32];
        uint64_t us = (t1 - t0 + 500) / 1000;
        snprintf(d, sizeof d, "%llu.%06llu", (unsigned long long)(us / 1000000),
                 (unsigned long long)(us % 1000000));
        httpd_add_header(req, "X-Duration-Seconds", d);
    }
    httpd_add_header(req, "X-Invocation-Id", id);
    int status, rc;
    /* the thread is known once the call finished (a timed-out one is not ours to read) */
    int tid = r == APP_DONE ? c->tid : 0;
    if (r == APP_BUSY) {
        app_call_free(c);
        status = 429;
        rc = httpd_reply_error(req, 429, "too many requests in flight (max_inflight=%u)",
                               rt->max_inflight);
        log_warn("max_inflight reached", "fn=%s id=%s max_inflight=%u", fname, id, rt->max_inflight);
    } else if (r == APP_TIMEOUT) {
        status = 504;
        rc = httpd_reply_error(req, 504, "function %s did not finish within %.3gs", fname, limit);
        log_error("function timed out", "fn=%s id=%s limit_s=%.3f", fname, id, limit);
    } else {
        status = app_call_status(c);
        rc = (reply ? reply : rt_reply_plain)(rt, req, c);
        app_call_free(c);
    }
    if (r != APP_BUSY && rt->app->invocations)
        invlog_push(rt->app->invocations, id, fname, t0, t1, status, tid);
    return rc;
}

struct handoff {
    struct rt *rt;
    httpd_req *req;
    struct app_call *call;
    rt_reply_fn reply;
    int duration_header;
};

static void *handoff_thread(void *p)
{
    struct handoff *h = p;
    tracing_thread_begin();
    if (rt_run_and_reply(h->rt, h->req, h->call, h->reply, h->duration_header) < 0)
        httpd_reply_error(h->req, 500, "internal error");
    httpd_req_resume(h->req);
    free(h);
    tracing_thread_end();
    return NULL;
}

int rt_dispatch(struct rt *rt, httpd_req *req, struct app_call *c, rt_reply_fn reply,
                int duration_header)
{
    if (!rt->handoff || (c->fn->flags & FN_QUICK))
        return rt_run_and_reply(rt, req, c, reply, duration_header);
    struct handoff *h = malloc(sizeof *h);
    if (!h || httpd_req_suspend(req)) {
        free(h);
        return rt_run_and_reply(rt, req, c, reply, duration_header);
    }
    *h = (struct handoff){ rt, req, c, reply, duration_header };
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int err = pthread_create(&th, &at, handoff_thread, h);
    pthread_attr_destroy(&at);
    if (err) {                /* parked already: answer here, then let it go */
        log_warn("cannot start a thread for a function; running it on the I/O thread",
                 "err=%s", strerror(err));
        handoff_thread(h);
    }
    return 0;
}
