/* app — the function app behind fnhandler.h: registered functions, the per-call objects
 * (fn_request, fn_response, fn_invocation) and the one place where a function is run.
 *
 * A front end (openfaas.c, azure.c) turns what arrives into an app_call, runs it with
 * app_call_run(), turns the result into a reply and records the invocation.  The runner
 * applies the error policy of fnhandler.h (non-zero return → the error set, else 500,
 * plus one log line) and, when a time limit is given, runs the function on its own thread
 * so the caller can answer 504 at the deadline while the function finishes in the
 * background (its result is then dropped; it still counts as running for max_inflight).
 *
 * Ownership: an app_call owns every string of its request (copied into its arena) and its
 * payload, so a call outliving its HTTP request is safe.  app_call_run returns APP_TIMEOUT
 * when the call was handed over to its thread; the caller must then forget it.
 * Thread-safety: functions of fn_app are read-only after fn_app_run starts; counters are
 * atomic; one app_call is used by one thread at a time. */
#ifndef FNHANDLER_APP_H
#define FNHANDLER_APP_H

#include "bindings.h"
#include "fnhandler.h"
#include "invlog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct cJSON;

#define APP_NAME_MAX 64
#define APP_MAX_HEADERS 12
#define APP_MAX_LOGS 100
#define APP_LOG_LINE_MAX 1024

struct fn_func {
    char name[APP_NAME_MAX + 1];
    fn_http_fn http;         /* exactly one of http / invoke */
    fn_invoke_fn invoke;
    void *arg;
    unsigned flags;          /* FN_QUICK */
    struct bd_set *binds;    /* fn_app_bind declarations (bindings.c), NULL: none */
};

struct fn_app {
    char name[APP_NAME_MAX + 1];
    struct fn_func *funcs;
    size_t nfuncs, cap;
    invlog *invocations;     /* NULL until tracing asks for them */
    atomic_uint running;     /* functions executing, timed-out ones included */
    atomic_uint holds;       /* parked calls (runtime.c: their thread, the deadline list)
                                that may still use the app */
    atomic_ullong seq;       /* for generated invocation ids */
    char id_prefix[24];
};

const struct fn_func *app_find(const fn_app *app, const char *name);
/* From now on every finished call is recorded in app->invocations (a ring of capacity
 * records: the most a window keeps).  Call before serving.  0 or -1 (out of memory). */
int app_record_invocations(fn_app *app, size_t capacity);
/* A fresh invocation id when the request brought none. */
void app_make_id(fn_app *app, char *buf, size_t len);
/* Starts fn(arg) on a detached thread; 0 or the errno of pthread_create. */
int app_spawn_detached(void *(*fn)(void *), void *arg);
/* Initialises a condition variable whose timed waits use CLOCK_MONOTONIC. */
void app_cond_init_monotonic(pthread_cond_t *cv);

struct fn_response {
    int status;
    int error_set;           /* fn_response_error was called */
    char error[256];         /* its message */
    int has_ctype;
    int nheaders;
    char *hname[APP_MAX_HEADERS], *hvalue[APP_MAX_HEADERS];
    char *body;              /* malloc'd, NUL-terminated */
    size_t len;
    struct cJSON *logs;      /* array of strings */
    const char *fn, *id;
};

struct fn_invocation {
    const char *fn, *id;
    struct cJSON *data, *metadata;   /* borrowed from the call's payload or owned empties */
    struct cJSON *outputs, *ret, *logs;
    int status;              /* 0 until fn_invocation_error */
    char *error;
    const struct fn_func *func;
    struct bd_mem mem;       /* the typed views' memory (bindings.c) */
    struct cJSON *multi;     /* appended outputs: name -> array, merged by bd_finish_outputs */
};

enum { APP_DONE = 0, APP_TIMEOUT = 1, APP_BUSY = 2 };

/* What the front ends read of a call; its allocator, its owned empties and the hand-over
 * to a time-limit thread are app.c's own (struct call_impl there). */
struct app_call {
    fn_app *app;
    const struct fn_func *fn;
    char id[INVLOG_ID_MAX + 1];
    fn_request req;
    fn_pair *pairs;          /* query then headers */
    size_t npairs, nquery;
    fn_response res;
    fn_invocation inv;
    struct cJSON *payload;   /* owned: Data/Metadata/req strings point into it */
    char trace_id[33];       /* W3C trace id (32 hex) or "" */
    int tid;                 /* thread that ran the function (gettid), set as it starts;
                                read it only after APP_DONE */
};

/* id NULL or empty: a generated one.  NULL when out of memory. */
struct app_call *app_call_new(fn_app *app, const struct fn_func *fn, const char *id);
/* The same without the id, for a front end that learns it while it copies the request:
 * app_call_set_id (NULL or empty: a generated one) before anything reads call->id. */
struct app_call *app_call_alloc(fn_app *app, const struct fn_func *fn);
void app_call_set_id(struct app_call *call, const char *id);
void app_call_free(struct app_call *call);
/* Request parts (copied): call app_call_add_query for every query argument before any
 * app_call_add_header. */
int app_call_set_request(struct app_call *call, const char *method, const char *path,
                         const char *body, size_t len);
int app_call_add_query(struct app_call *call, const char *name, const char *value);
int app_call_add_header(struct app_call *call, const char *name, const char *value);
/* Generic payload: takes ownership of payload; Data/Metadata found inside it. */
void app_call_set_payload(struct app_call *call, struct cJSON *payload,
                          struct cJSON *data, struct cJSON *metadata);
/* Runs the function; timeout_s <= 0: no limit.  APP_DONE: the result is in call->res
 * (http) or call->inv (generic) and the call is the caller's; APP_TIMEOUT: see above;
 * APP_BUSY: max_inflight (> 0) functions run already, nothing ran (the caller answers 429
 * and still owns the call). */
int app_call_run(struct app_call *call, double timeout_s, unsigned max_inflight);
/* The status the call ended with (res.status or inv.status or 200). */
int app_call_status(const struct app_call *call);

#endif
