/* app — see app.h.  The public fn_* calls of fnhandler.h that act on requests, responses
 * and invocations live here too: they are the state of one call. */
#define _GNU_SOURCE
#include "app.h"
#include "jsonerr.h"
#include "log.h"
#include "utf8.h"
#include "tracing.h"
#include "units.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* --- the app -------------------------------------------------------------------------- */

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > APP_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_') return 0;
    return 1;
}

fn_app *fn_app_new(const char *name)
{
    fn_app *app = calloc(1, sizeof *app);
    if (!app) return NULL;
    snprintf(app->name, sizeof app->name, "%s", name && *name ? name : "fnhandler");
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    snprintf(app->id_prefix, sizeof app->id_prefix, "%x-%lx", (unsigned)getpid(),
             (unsigned long)(t.tv_sec & 0xffffff));
    return app;
}

void fn_app_free(fn_app *app)
{
    if (!app) return;
    invlog_free(app->invocations);
    for (size_t i = 0; i < app->nfuncs; i++) bd_set_free(app->funcs[i].binds);
    free(app->funcs);
    free(app);
}

static int app_add(fn_app *app, const char *name, fn_http_fn http, fn_invoke_fn invoke,
                   void *arg)
{
    if (!app || !name_ok(name) || (!http && !invoke) || app_find(app, name)) return -1;
    if (app->nfuncs == app->cap) {
        size_t cap = app->cap ? app->cap * 2 : 8;
        struct fn_func *f = realloc(app->funcs, cap * sizeof *f);
        if (!f) return -1;
        app->funcs = f;
        app->cap = cap;
    }
    struct fn_func *f = &app->funcs[app->nfuncs++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->http = http;
    f->invoke = invoke;
    f->arg = arg;
    return 0;
}

int fn_app_http(fn_app *app, const char *name, fn_http_fn fn, void *arg)
{
    return fn ? app_add(app, name, fn, NULL, arg) : -1;
}

int fn_app_invoke(fn_app *app, const char *name, fn_invoke_fn fn, void *arg)
{
    return fn ? app_add(app, name, NULL, fn, arg) : -1;
}

int fn_app_set_flags(fn_app *app, const char *name, unsigned flags)
{
    struct fn_func *f = app ? (struct fn_func *)app_find(app, name) : NULL;
    if (!f || (flags & ~(unsigned)FN_QUICK)) return -1;
    f->flags = flags;
    return 0;
}

int app_record_invocations(fn_app *app, size_t capacity)
{
    if (app->invocations) return 0;
    app->invocations = invlog_new(capacity);
    return app->invocations ? 0 : -1;
}

const struct fn_func *app_find(const fn_app *app, const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < app->nfuncs; i++)
        if (!strcasecmp(app->funcs[i].name, name)) return &app->funcs[i];
    return NULL;
}

void app_make_id(fn_app *app, char *buf, size_t len)
{
    unsigned long long n = atomic_fetch_add(&app->seq, 1) + 1;
    /* "PREFIX-N" without snprintf: it was 2 % of a hello request's CPU */
    char num[UNITS_U64_MAX];
    size_t nl = units_u64(n, 0, num);
    size_t pl = strnlen(app->id_prefix, sizeof app->id_prefix);
    if (!len) return;
    if (pl + 1 + nl + 1 > len) { snprintf(buf, len, "%s-%s", app->id_prefix, num); return; }
    memcpy(buf, app->id_prefix, pl);
    buf[pl] = '-';
    memcpy(buf + pl + 1, num, nl + 1);
}

/* --- arena: a bump allocator for a call's strings, chunks that never move ----------------- */

struct arena { struct arena_chunk *head; };

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
};

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n + 1) {
        /* the first chunk stays under glibc's small-request size (1008 bytes): a larger
         * request makes malloc consolidate its fast bins first, which every call paid
         * (1 % of a hello request's CPU); most calls' strings fit in it */
        size_t want = a->head ? 4000 : 480;
        size_t cap = n + 1 > want ? n + 1 : want;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = 0;
    c->used += n + 1;
    return p;
}

static void arena_free(struct arena *a)
{
    while (a->head) {
        struct arena_chunk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* --- threads ---------------------------------------------------------------------------- */

int app_spawn_detached(void *(*fn)(void *), void *arg)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int err = pthread_create(&th, &at, fn, arg);
    pthread_attr_destroy(&at);
    return err;
}

void app_cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* --- calls ------------------------------------------------------------------------------ */

struct call_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* A call and what only this file sees of it. */
struct call_impl {
    struct app_call pub;
    struct arena arena;
    size_t cap_pairs;
    struct cJSON *empty_data, *empty_meta;
    int rc;
    int finished, abandoned;         /* hand-over to a thread for time limits */
    struct call_sync *sync;
};

static struct call_impl *impl(struct app_call *c) { return (struct call_impl *)c; }

void app_call_set_id(struct app_call *c, const char *id)
{
    if (!id || !*id) { app_make_id(c->app, c->id, sizeof c->id); return; }
    size_t n = strnlen(id, sizeof c->id - 1);     /* longer ids are cut, as before */
    memcpy(c->id, id, n);
    c->id[n] = 0;
}

struct app_call *app_call_new(fn_app *app, const struct fn_func *fn, const char *id)
{
    struct app_call *c = app_call_alloc(app, fn);
    if (c) app_call_set_id(c, id);
    return c;
}

struct app_call *app_call_alloc(fn_app *app, const struct fn_func *fn)
{
    struct call_impl *ci = calloc(1, sizeof *ci);
    if (!ci) return NULL;
    struct app_call *c = &ci->pub;
    c->app = app;
    c->fn = fn;
    c->req.function = fn->name;
    c->req.invocation_id = c->id;
    c->req.method = "POST";
    c->req.path = "/";
    c->req.body = "";
    c->res.status = 200;
    c->res.fn = c->inv.fn = fn->name;
    c->res.id = c->inv.id = c->id;
    c->inv.func = fn;
    return c;
}

void app_call_free(struct app_call *c)
{
    if (!c) return;
    for (int i = 0; i < c->res.nheaders; i++) { free(c->res.hname[i]); free(c->res.hvalue[i]); }
    free(c->res.body);
    cJSON_Delete(c->res.logs);
    cJSON_Delete(c->inv.outputs);
    cJSON_Delete(c->inv.ret);
    cJSON_Delete(c->inv.logs);
    free(c->inv.error);
    cJSON_Delete(c->inv.multi);
    bd_mem_free(&c->inv.mem);
    cJSON_Delete(c->payload);
    cJSON_Delete(impl(c)->empty_data);
    cJSON_Delete(impl(c)->empty_meta);
    if (impl(c)->sync) {
        struct call_sync *s = impl(c)->sync;
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
    }
    free(c->pairs);
    arena_free(&impl(c)->arena);
    free(impl(c));
}

int app_call_set_request(struct app_call *c, const char *method, const char *path,
                         const char *body, size_t len)
{
    const char *m = arena_strndup(&impl(c)->arena, method ? method : "GET",
                                  strlen(method ? method : "GET"));
    const char *p = arena_strndup(&impl(c)->arena, path ? path : "/", strlen(path ? path : "/"));
    const char *b = arena_strndup(&impl(c)->arena, body ? body : "", body ? len : 0);
    if (!m || !p || !b) return -1;
    c->req.method = m;
    c->req.path = p;
    c->req.body = b;
    c->req.body_len = body ? len : 0;
    return 0;
}

static int add_pair(struct app_call *c, const char *name, const char *value)
{
    if (c->npairs == impl(c)->cap_pairs) {
        size_t cap = impl(c)->cap_pairs ? impl(c)->cap_pairs * 2 : 16;
        fn_pair *p = realloc(c->pairs, cap * sizeof *p);
        if (!p) return -1;
        c->pairs = p;
        impl(c)->cap_pairs = cap;
    }
    const char *n = arena_strndup(&impl(c)->arena, name, strlen(name));
    const char *v = arena_strndup(&impl(c)->arena, value ? value : "", strlen(value ? value : ""));
    if (!n || !v) return -1;
    c->pairs[c->npairs++] = (fn_pair){ n, v };
    return 0;
}

int app_call_add_query(struct app_call *c, const char *name, const char *value)
{
    if (c->npairs != c->nquery) return -1;      /* queries first */
    if (add_pair(c, name, value)) return -1;
    c->nquery++;
    return 0;
}

int app_call_add_header(struct app_call *c, const char *name, const char *value)
{
    return add_pair(c, name, value);
}

void app_call_set_payload(struct app_call *c, cJSON *payload, cJSON *data, cJSON *metadata)
{
    cJSON_Delete(c->payload);
    c->payload = payload;
    c->inv.data = data;
    c->inv.metadata = metadata;
}

int app_call_status(const struct app_call *c)
{
    if (c->fn->http) return c->res.status;
    return c->inv.status ? c->inv.status : 200;
}

/* One line per failed call: an error for 5xx, a warning for refused input (4xx). */
static void log_failure(const struct app_call *c, int status, const char *why)
{
    char clean[256];
    snprintf(clean, sizeof clean, "%s", why ? why : "");
    for (char *p = clean; *p; p++) if (*p == '"') *p = '\'';
    if (status >= 500)
        log_error("function failed", "fn=%s id=%s status=%d error=\"%s\"", c->fn->name, c->id,
                  status, clean);
    else
        log_warn("function refused the request", "fn=%s id=%s status=%d error=\"%s\"", c->fn->name,
                 c->id, status, clean);
}

/* gettid() is a system call, and I/O threads run every quick call: ask once per thread.
 * fork copies the calling thread with its cached value, so the child forgets it. */
static __thread int cached_tid;
static void forget_tid(void) { cached_tid = 0; }
static void tid_once(void) { pthread_atfork(NULL, NULL, forget_tid); }
static int thread_tid(void)
{
    if (!cached_tid) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, tid_once);
        cached_tid = (int)gettid();
    }
    return cached_tid;
}

/* Runs the function on the current thread and applies the error policy. */
static void call_execute(struct app_call *c)
{
    c->tid = thread_tid();    /* the tid of this thread's samples in a trace */
    c->req.query = c->pairs;
    c->req.nquery = c->nquery;
    c->req.headers = c->pairs ? c->pairs + c->nquery : NULL;
    c->req.nheaders = c->npairs - c->nquery;
    if (c->fn->http) {
        impl(c)->rc = c->fn->http(&c->req, &c->res, c->fn->arg);
        if (impl(c)->rc && !c->res.error_set) {
            fn_response_error(&c->res, 500, "function %s failed", c->fn->name);
        }
        if (impl(c)->rc) log_failure(c, c->res.status, c->res.error);
    } else {
        if (!c->inv.data) c->inv.data = impl(c)->empty_data = cJSON_CreateObject();
        if (!c->inv.metadata) c->inv.metadata = impl(c)->empty_meta = cJSON_CreateObject();
        impl(c)->rc = c->fn->invoke(&c->inv, c->fn->arg);
        if (impl(c)->rc && !c->inv.status)
            fn_invocation_error(&c->inv, 500, "function %s failed", c->fn->name);
        if (impl(c)->rc) log_failure(c, c->inv.status, c->inv.error);
    }
}

static void *call_thread(void *p)
{
    struct app_call *c = p;
    fn_app *app = c->app;
    tracing_thread_begin();
    call_execute(c);
    struct call_sync *s = impl(c)->sync;
    pthread_mutex_lock(&s->mu);
    impl(c)->finished = 1;
    int abandoned = impl(c)->abandoned;
    /* the waiting request keeps the app alive; an abandoned call is the last user of its
     * function's name, and the draining runtime frees the app once nothing runs: count
     * the call as finished only after its last use */
    if (!abandoned) atomic_fetch_sub(&app->running, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (abandoned) {
        log_warn("timed-out function finished", "fn=%s id=%s", c->fn->name, c->id);
        app_call_free(c);
        atomic_fetch_sub(&app->running, 1);
    }
    tracing_thread_end();
    return NULL;
}

int app_call_run(struct app_call *c, double timeout_s, unsigned max_inflight)
{
    unsigned now = atomic_fetch_add(&c->app->running, 1);
    if (max_inflight && now >= max_inflight) {
        atomic_fetch_sub(&c->app->running, 1);
        return APP_BUSY;
    }
    if (timeout_s <= 0) {
        call_execute(c);
        atomic_fetch_sub(&c->app->running, 1);
        return APP_DONE;
    }
    struct call_sync *s = calloc(1, sizeof *s);
    if (!s) goto inline_run;
    pthread_mutex_init(&s->mu, NULL);
    app_cond_init_monotonic(&s->cv);
    impl(c)->sync = s;
    int err = app_spawn_detached(call_thread, c);
    if (err) {
        log_warn("cannot start a thread for the time limit; running inline", "err=%s",
                 strerror(err));
        goto inline_run;
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    double secs = (double)dl.tv_sec + (double)dl.tv_nsec / 1e9 + timeout_s;
    dl.tv_sec = (time_t)secs;
    dl.tv_nsec = (long)((secs - (double)dl.tv_sec) * 1e9);
    pthread_mutex_lock(&s->mu);
    while (!impl(c)->finished)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
    int finished = impl(c)->finished;
    if (!finished) impl(c)->abandoned = 1;
    pthread_mutex_unlock(&s->mu);
    return finished ? APP_DONE : APP_TIMEOUT;

inline_run:
    call_execute(c);
    atomic_fetch_sub(&c->app->running, 1);
    return APP_DONE;
}

/* --- fn_request ----------------------------------------------------------------------- */

const char *fn_request_query(const fn_request *req, const char *name)
{
    for (size_t i = 0; name && i < req->nquery; i++)
        if (!strcmp(req->query[i].name, name)) return req->query[i].value;
    return NULL;
}

const char *fn_request_header(const fn_request *req, const char *name)
{
    for (size_t i = 0; name && i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name)) return req->headers[i].value;
    return NULL;
}

cJSON *fn_request_json(const fn_request *req, char *errbuf, size_t errlen)
{
    size_t n = req->body_len;
    const char *b = req->body;
    while (n && isspace((unsigned char)*b)) { b++; n--; }
    if (!n) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "empty body (expected JSON)");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(b, n, &end, 0);
    if (j) {
        while (end < b + n && isspace((unsigned char)*end)) end++;
        if (end == b + n) return j;
        cJSON_Delete(j);
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "malformed JSON: unexpected data at byte %zu",
                     (size_t)(end - req->body));
        return NULL;
    }
    if (errbuf && errlen) {
        const char *e = cJSON_GetErrorPtr();
        size_t at = e && e >= b && e <= b + n ? (size_t)(e - req->body) : 0;
        snprintf(errbuf, errlen, "malformed JSON near byte %zu", at);
    }
    return NULL;
}

/* --- fn_response ---------------------------------------------------------------------- */

int fn_response_status(fn_response *res, int status)
{
    if (status < 100 || status > 599) return -1;
    res->status = status;
    return 0;
}

int fn_response_header(fn_response *res, const char *name, const char *value)
{
    if (!name || !value || !*name || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n")) return -1;
    int ctype = !strcasecmp(name, "Content-Type");
    if (ctype && res->has_ctype) {
        for (int i = 0; i < res->nheaders; i++)
            if (!strcasecmp(res->hname[i], "Content-Type")) {
                char *v = strdup(value);
                if (!v) return -1;
                free(res->hvalue[i]);
                res->hvalue[i] = v;
                return 0;
            }
    }
    if (res->nheaders >= APP_MAX_HEADERS) return -1;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) { free(n); free(v); return -1; }
    res->hname[res->nheaders] = n;
    res->hvalue[res->nheaders++] = v;
    if (ctype) res->has_ctype = 1;
    return 0;
}

int fn_response_body(fn_response *res, const void *body, size_t len)
{
    char *b = malloc(len + 1);
    if (!b) return -1;
    if (len) memcpy(b, body, len);
    b[len] = 0;
    free(res->body);
    res->body = b;
    res->len = len;
    return 0;
}

/* A malloc'd formatted string.  Formatted on the stack first and copied at its size:
 * vasprintf grows a heap buffer and shrinks it again, for the short text most replies
 * are. */
static char *vformat(const char *fmt, va_list ap, size_t *len)
{
    char first[256];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(first, sizeof first, fmt, ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s && (size_t)n < sizeof first) memcpy(s, first, (size_t)n + 1);
    else if (s) vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    if (s && len) *len = (size_t)n;
    return s;
}

int fn_response_printf(fn_response *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n;
    char *s = vformat(fmt, ap, &n);
    va_end(ap);
    if (!s) return -1;
    free(res->body);
    res->body = s;
    res->len = n;
    return 0;
}

int fn_response_json(fn_response *res, int status, cJSON *json)
{
    char *s = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    size_t n = s ? strlen(s) : 0;
    s = utf8_fix_owned(s, &n);            /* cJSON copies bytes: JSON must be UTF-8 */
    if (!s) return -1;
    free(res->body);
    res->body = s;
    res->len = n;
    if (fn_response_status(res, status)) return -1;
    return fn_response_header(res, "Content-Type", "application/json");
}

int fn_response_error(fn_response *res, int status, const char *fmt, ...)
{
    char msg[APP_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    cJSON *o = json_error_v(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (status < 400 || status > 599) status = 500;
    fn_response_json(res, status, o);
    res->status = status;
    res->error_set = 1;
    size_t ml = strnlen(msg, sizeof res->error - 1);
    memcpy(res->error, msg, ml);
    res->error[ml] = 0;
    return -1;
}

/* Appends a formatted line to *logs (created on demand, bounded) and logs it. */
static void log_line(cJSON **logs, const char *fn, const char *id, const char *fmt, va_list ap)
{
    char line[APP_LOG_LINE_MAX], clean[APP_LOG_LINE_MAX];
    int full = vsnprintf(line, sizeof line, fmt, ap);
    if (full >= (int)sizeof line)             /* cut: not inside a character */
        line[utf8_cut(line, strlen(line))] = 0;
    memcpy(clean, line, sizeof clean);
    for (char *p = clean; *p; p++) if (*p == '"' || *p == '\n') *p = '\'';
    log_info("function log", "fn=%s id=%s line=\"%s\"", fn, id, clean);
    if (!*logs) *logs = cJSON_CreateArray();
    if (*logs && cJSON_GetArraySize(*logs) < APP_MAX_LOGS)
        cJSON_AddItemToArray(*logs, cJSON_CreateString(line));
}

void fn_response_log(fn_response *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(&res->logs, res->fn, res->id, fmt, ap);
    va_end(ap);
}

/* --- fn_invocation ---------------------------------------------------------------------- */

const char *fn_invocation_function(const fn_invocation *inv) { return inv->fn; }
const char *fn_invocation_id(const fn_invocation *inv) { return inv->id; }
const cJSON *fn_invocation_data(const fn_invocation *inv) { return inv->data; }
const cJSON *fn_invocation_metadata(const fn_invocation *inv) { return inv->metadata; }

int fn_invocation_output(fn_invocation *inv, const char *name, cJSON *value)
{
    if (!name || !*name || !value) { cJSON_Delete(value); return -1; }
    if (!inv->outputs && !(inv->outputs = cJSON_CreateObject())) { cJSON_Delete(value); return -1; }
    if (cJSON_GetObjectItemCaseSensitive(inv->outputs, name))
        return cJSON_ReplaceItemInObjectCaseSensitive(inv->outputs, name, value) ? 0 : -1;
    return cJSON_AddItemToObject(inv->outputs, name, value) ? 0 : -1;
}

int fn_invocation_return(fn_invocation *inv, cJSON *value)
{
    cJSON_Delete(inv->ret);
    inv->ret = value;
    return value ? 0 : -1;
}

void fn_invocation_log(fn_invocation *inv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(&inv->logs, inv->fn, inv->id, fmt, ap);
    va_end(ap);
}

int fn_invocation_error(fn_invocation *inv, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(fmt, ap, NULL);
    va_end(ap);
    free(inv->error);
    inv->error = s;
    inv->status = status >= 400 && status <= 599 ? status : 500;
    return -1;
}

/* --- from a call's public parts back to the call ---------------------------------------- */

#define CALL_OF(ptr, member) \
    ((struct app_call *)((char *)(ptr) - offsetof(struct app_call, member)))

fn_invocation *fn_response_invocation(fn_response *res)
{
    return res ? &CALL_OF(res, res)->inv : NULL;
}

const char *fn_invocation_trace_id(const fn_invocation *inv)
{
    const struct app_call *c = CALL_OF(inv, inv);
    return c->trace_id[0] ? c->trace_id : NULL;
}

const char *fn_request_trace_id(const fn_request *req)
{
    const struct app_call *c = CALL_OF(req, req);
    return c->trace_id[0] ? c->trace_id : NULL;
}
