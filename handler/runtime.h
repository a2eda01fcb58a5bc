/* runtime — the configuration and state fn_app_run shares with the front ends
 * (openfaas.c for the OpenFaaS and local modes, azure.c for the custom handler), and the
 * HTTP helpers they have in common: a call built from an HTTP request, a call's result as
 * an HTTP reply or as the {"Outputs","Logs","ReturnValue"} envelope, invocation records.
 *
 * Ownership: struct rt is built by fn_app_run and outlives the server; the front ends
 * only read it, except `healthy` (atomic).  Thread-safety: every helper here is called
 * from the server's connection threads concurrently; each works on its own request. */
#ifndef FNHANDLER_RUNTIME_H
#define FNHANDLER_RUNTIME_H

#include "app.h"
#include "fterr.h"
#include "httpd.h"

#include <limits.h>
#include <stdatomic.h>

struct cJSON;

enum rt_mode { RT_OPENFAAS, RT_LOCAL, RT_AZURE };

struct azure_bindings;                 /* azure.c's own: what function.json files say */

struct rt {
    fn_app *app;
    enum rt_mode mode;
    double exec_timeout, read_timeout, write_timeout, healthcheck_interval;  /* seconds */
    unsigned max_inflight;             /* 0: no limit */
    int handoff;                       /* pool server: slow functions go to their own thread */
    size_t max_body;
    const struct fn_func *default_fn;  /* what `/` calls (OpenFaaS) */
    char lock_path[PATH_MAX];
    int suppress_lock;
    atomic_int healthy;                /* lock written, not draining */
    struct azure_bindings *bindings;   /* Azure mode with a script root, else NULL */
    struct httpd_route routes[8];      /* the mode's routes (its config step fills them) */
};

/* Limit for one function call: the smaller of exec_timeout and write_timeout (0: none). */
double rt_call_limit(const struct rt *rt);

/* A call of fn for an HTTP request (method, path, query, headers, body copied; the id from
 * X-Azure-Functions-InvocationId, else X-Call-Id, else generated).  NULL: out of memory. */
struct app_call *rt_call_from_http(struct rt *rt, const struct fn_func *fn, httpd_req *req);
/* Takes the W3C trace id of a traceparent value for the call (the first valid one wins;
 * NULL or a malformed value is ignored, logged at debug level). */
void rt_call_trace(struct app_call *call, const char *traceparent);
/* Parses an invocation payload {"Data":{…},"Metadata":{…}} into the call (both optional,
 * both objects).  -FT_ERR_BAD_INPUT with a message in err when the body is not such an
 * object. */
int rt_call_set_payload(struct app_call *call, const char *body, size_t len, char *err,
                        size_t errlen);
/* Replies with a finished call's result: the function's response as it set it (http
 * functions) or the envelope (generic functions, with the error's status). */
typedef int (*rt_reply_fn)(struct rt *rt, httpd_req *req, struct app_call *call);
int rt_reply_plain(struct rt *rt, httpd_req *req, struct app_call *call);
/* Runs a call with the time limit and max_inflight, replies with `reply` (NULL:
 * rt_reply_plain), 429 / 504 when it could not run or finish, and records the invocation.
 * Takes ownership of call.  duration_header adds X-Duration-Seconds. */
int rt_run_and_reply(struct rt *rt, httpd_req *req, struct app_call *call, rt_reply_fn reply,
                     int duration_header);
/* rt_run_and_reply on the calling I/O thread for FN_QUICK functions (or when rt->handoff
 * is off); else the request is parked (httpd_req_suspend) and the call runs on one thread
 * of its own, which replies when the function finishes; a call with a time limit is also
 * on the list of the process's one deadline thread, which answers 504 when the limit
 * passes first (the function then finishes in the background, its result dropped). */
int rt_dispatch(struct rt *rt, httpd_req *req, struct app_call *call, rt_reply_fn reply,
                int duration_header);
/* {"Outputs":{…},"Logs":[…],"ReturnValue":…} of a finished generic call. */
struct cJSON *rt_envelope(struct app_call *call);

#endif
