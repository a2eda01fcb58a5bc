/* runtime — see runtime.h: the HTTP side of a call, shared by the front ends. */
#define _GNU_SOURCE
#include "runtime.h"
#include "errbuf.h"
#include "log.h"
#include "tracing.h"
#include "units.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

double rt_call_limit(const struct rt *rt)
{
    double e = rt->exec_timeout, w = rt->write_timeout;
    if (e > 0 && w > 0) return e < w ? e : w;
    return e > 0 ? e : (w > 0 ? w : 0);
}

/* The headers the runtime reads itself (the first of each name, as a lookup would find
 * it) are picked up in the one pass that copies the headers into the call: three
 * lookups walked the header list three more times per request. */
struct fill_ctx {
    struct app_call *call;
    int err;
    const char *azure_id, *call_id, *traceparent;
};

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
    if ((k[0] | 0x20) == 'x') {
        if (!f->azure_id && !strcasecmp(k, "X-Azure-Functions-InvocationId")) f->azure_id = v;
        else if (!f->call_id && !strcasecmp(k, "X-Call-Id")) f->call_id = v;
    } else if (!f->traceparent && (k[0] | 0x20) == 't' && !strcasecmp(k, "traceparent")) {
        f->traceparent = v;
    }
    return 0;
}

struct app_call *rt_call_from_http(struct rt *rt, const struct fn_func *fn, httpd_req *req)
{
    struct app_call *c = app_call_alloc(rt->app, fn);
    if (!c) return NULL;
    size_t len;
    const char *body = httpd_req_body(req, &len);
    struct fill_ctx f = { .call = c };
    if (app_call_set_request(c, httpd_req_method(req), httpd_req_path(req), body, len))
        f.err = 1;
    if (!f.err) httpd_req_each(req, HTTPD_QUERY, add_query_cb, &f);
    if (!f.err) httpd_req_each(req, HTTPD_HEADERS, add_header_cb, &f);
    if (f.err) { app_call_free(c); return NULL; }
    app_call_set_id(c, f.azure_id && *f.azure_id ? f.azure_id : f.call_id);
    rt_call_trace(c, f.traceparent);
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
        err_set(err, errlen, "%s",
                len ? "malformed JSON payload"
                    : "empty body: expected an invocation payload "
                      "{\"Data\":{...},\"Metadata\":{...}}");
        return -FT_ERR_BAD_INPUT;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        err_set(err, errlen,
                "invocation payload must be a JSON object {\"Data\":{...},\"Metadata\":{...}}");
        return -FT_ERR_BAD_INPUT;
    }
    cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "Data");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "Metadata");
    if ((data && !cJSON_IsObject(data) && !cJSON_IsNull(data)) ||
        (meta && !cJSON_IsObject(meta) && !cJSON_IsNull(meta))) {
        cJSON_Delete(root);
        err_set(err, errlen, "\"Data\" and \"Metadata\" must be JSON objects");
        return -FT_ERR_BAD_INPUT;
    }
    app_call_set_payload(call, root, cJSON_IsObject(data) ? data : NULL,
                         cJSON_IsObject(meta) ? meta : NULL);
    return 0;
}

void rt_call_trace(struct app_call *c, const char *traceparent)
{
    if (!traceparent || c->trace_id[0]) return;
    if (bd_traceparent_id(traceparent, c->trace_id) < 0) {
        c->trace_id[0] = 0;
        log_debug("traceparent ignored: not W3C trace context", "fn=%s id=%s", c->fn->name, c->id);
    }
}

cJSON *rt_envelope(struct app_call *c)
{
    bd_finish_outputs(&c->inv);
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
    if (!body && !(body = strdup(""))) return -ENOMEM;
    return httpd_reply_take(req, res->status, res->has_ctype ? NULL : "text/plain; charset=utf-8",
                            body, len);
}

/* The reply for a call that ran (APP_DONE), could not run (APP_BUSY) or passed its limit
 * (APP_TIMEOUT), plus its invocation record.  Frees the call unless it timed out. */
static int reply_result(struct rt *rt, httpd_req *req, struct app_call *c, int r,
                        rt_reply_fn reply, int duration_header, uint64_t t0, double limit)
{
    uint64_t t1 = invlog_now_ns();
    /* copies: a call that timed out is freed by its own thread; both are NUL-terminated
     * arrays of these sizes, so a copy of the array is the string (no printf per call) */
    char id[sizeof c->id];
    memcpy(id, c->id, sizeof id);
    char trace_id[sizeof c->trace_id];
    memcpy(trace_id, c->trace_id, sizeof trace_id);
    const char *fname = c->fn->name;      /* lives in the app */
    if (duration_header) {
        /* integer formatting without printf: snprintf was 2.4 % of a hello request's CPU */
        char d[2 * UNITS_U64_MAX];
        uint64_t us = (t1 - t0 + 500) / 1000;
        size_t n = units_u64(us / 1000000, 0, d);
        d[n] = '.';
        units_u64(us % 1000000, 6, d + n + 1);
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
        log_warn("max_inflight reached", "fn=%s id=%s max_inflight=%u", fname, id,
                 rt->max_inflight);
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
        invlog_push_traced(rt->app->invocations, id, fname, t0, t1, status, tid, trace_id);
    return rc;
}

int rt_run_and_reply(struct rt *rt, httpd_req *req, struct app_call *c, rt_reply_fn reply,
                     int duration_header)
{
    uint64_t t0 = invlog_now_ns();
    /* quick functions run inline on an I/O thread: no time limit (it would need a thread) */
    double limit = (c->fn->flags & FN_QUICK) ? 0 : rt_call_limit(rt);
    int r = app_call_run(c, limit, rt->max_inflight);
    return reply_result(rt, req, c, r, reply, duration_header, t0, limit);
}

/* --- a parked call: one thread runs it, one watchdog answers 504 at its deadline ---------
 *
 * The call's own thread runs the function (app_call_run without a limit, so no second
 * thread) and replies when it finishes first.  Every parked call with a time limit is on
 * the watchdog's list, sorted by nothing (the list is short: at most the calls running);
 * the watchdog thread, one per process, answers 504 for those past their deadline.
 * Whoever moves `state` from RUNNING first owns the reply; the last of the two to let go
 * of the entry (refs) frees it, and the call with it when it timed out. */

enum { PARK_RUNNING, PARK_REPLIED, PARK_TIMED_OUT };

struct parked {
    struct rt *rt;
    httpd_req *req;
    struct app_call *call;
    rt_reply_fn reply;
    int duration_header;
    uint64_t t0, deadline;          /* invlog_now_ns() clock; deadline 0: no limit */
    double limit;
    atomic_int state;
    atomic_int refs;                /* the call's thread, and the watchdog's list */
    struct parked *next;            /* on the watchdog's list */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct parked *head;
    int started;
} watchdog = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0 };

static void parked_unref(struct parked *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1) return;
    if (atomic_load(&p->state) == PARK_TIMED_OUT) {
        log_warn("timed-out function finished", "fn=%s id=%s", p->call->fn->name, p->call->id);
        app_call_free(p->call);
    }
    free(p);
}

/* Takes p off the list; 1 when it was there (the list's reference is the caller's now). */
static int watchdog_remove(struct parked *p)
{
    for (struct parked **pp = &watchdog.head; *pp; pp = &(*pp)->next)
        if (*pp == p) { *pp = p->next; return 1; }
    return 0;
}

static void *watchdog_thread(void *arg)
{
    pthread_setname_np(pthread_self(), "fn-deadline");
    pthread_mutex_lock(&watchdog.mu);
    for (;;) {
        uint64_t now = invlog_now_ns(), next = 0;
        struct parked *due = NULL;
        for (struct parked *p = watchdog.head; p; p = p->next) {
            if (p->deadline <= now) { due = p; break; }
            if (!next || p->deadline < next) next = p->deadline;
        }
        if (due) {
            watchdog_remove(due);
            pthread_mutex_unlock(&watchdog.mu);
            int running = PARK_RUNNING;
            if (atomic_compare_exchange_strong(&due->state, &running, PARK_TIMED_OUT)) {
                if (reply_result(due->rt, due->req, due->call, APP_TIMEOUT, due->reply,
                                 due->duration_header, due->t0, due->limit) < 0)
                    httpd_reply_error(due->req, 500, "internal error");
                httpd_req_resume(due->req);
            }
            fn_app *app = due->rt->app;
            parked_unref(due);
            atomic_fetch_sub(&app->holds, 1);   /* the list's hold on the app */
            pthread_mutex_lock(&watchdog.mu);
            continue;
        }
        if (!next) {
            pthread_cond_wait(&watchdog.cv, &watchdog.mu);
        } else {
            /* invlog_now_ns is CLOCK_MONOTONIC; the condition variable uses it too */
            struct timespec ts = { (time_t)(next / 1000000000ull), (long)(next % 1000000000ull) };
            pthread_cond_timedwait(&watchdog.cv, &watchdog.mu, &ts);
        }
    }
    return NULL;
}

/* Starts the watchdog once; 0, or an errno from pthread_create. */
static int watchdog_start_locked(void)
{
    if (watchdog.started) return 0;
    pthread_cond_destroy(&watchdog.cv);
    app_cond_init_monotonic(&watchdog.cv);
    int err = app_spawn_detached(watchdog_thread, NULL);
    if (!err) watchdog.started = 1;
    return err;
}

static void *call_thread(void *arg)
{
    struct parked *p = arg;
    struct rt *rt = p->rt;
    tracing_thread_begin();
    int r = app_call_run(p->call, 0, rt->max_inflight);
    int running = PARK_RUNNING;
    if (atomic_compare_exchange_strong(&p->state, &running, PARK_REPLIED)) {
        pthread_mutex_lock(&watchdog.mu);
        int listed = watchdog_remove(p);
        pthread_mutex_unlock(&watchdog.mu);
        if (listed) {
            parked_unref(p);
            atomic_fetch_sub(&rt->app->holds, 1);
        }
        if (reply_result(rt, p->req, p->call, r, p->reply, p->duration_header, p->t0,
                         p->limit) < 0)
            httpd_reply_error(p->req, 500, "internal error");
        p->call = NULL;
        httpd_req_resume(p->req);
    }
    parked_unref(p);
    atomic_fetch_sub(&rt->app->holds, 1);      /* last use of the app by this thread */
    tracing_thread_end();
    return NULL;
}

int rt_dispatch(struct rt *rt, httpd_req *req, struct app_call *c, rt_reply_fn reply,
                int duration_header)
{
    if (!rt->handoff || (c->fn->flags & FN_QUICK))
        return rt_run_and_reply(rt, req, c, reply, duration_header);
    struct parked *p = calloc(1, sizeof *p);
    if (!p || httpd_req_suspend(req)) {
        free(p);
        return rt_run_and_reply(rt, req, c, reply, duration_header);
    }
    double limit = rt_call_limit(rt);
    *p = (struct parked){ .rt = rt, .req = req, .call = c, .reply = reply,
                          .duration_header = duration_header, .t0 = invlog_now_ns(),
                          .limit = limit };
    atomic_init(&p->state, PARK_RUNNING);
    atomic_init(&p->refs, 1);
    if (limit > 0) {
        p->deadline = p->t0 + (uint64_t)(limit * 1e9);
        pthread_mutex_lock(&watchdog.mu);
        int err = watchdog_start_locked();
        if (err) {
            log_warn("cannot start the deadline thread; this call has no time limit",
                     "err=%s", strerror(err));
        } else {
            atomic_fetch_add(&p->refs, 1);
            atomic_fetch_add(&rt->app->holds, 1);
            p->next = watchdog.head;
            watchdog.head = p;
            pthread_cond_signal(&watchdog.cv);
        }
        pthread_mutex_unlock(&watchdog.mu);
    }
    atomic_fetch_add(&rt->app->holds, 1);
    int err = app_spawn_detached(call_thread, p);
    if (err) {                /* parked already: run it here, then let it go */
        log_warn("cannot start a thread for a function; running it on the I/O thread",
                 "err=%s", strerror(err));
        call_thread(p);
    }
    return 0;
}
