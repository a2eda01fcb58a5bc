/* fnhandler.h — libfnhandler, the function runtime: ordinary C functions become an
 * Azure Functions custom handler, an OpenFaaS function, or a plain local HTTP service.
 *
 *     #include <fnhandler.h>
 *     static int hello(const fn_request *req, fn_response *res, void *arg)
 *     {
 *         const char *name = fn_request_query(req, "name");
 *         return fn_response_printf(res, "Hello, %s!", name ? name : "World");
 *     }
 *     int main(int argc, char **argv)
 *     {
 *         fn_app *app = fn_app_new("examples");
 *         fn_app_http(app, "hello", hello, NULL);          HTTP trigger
 *         fn_app_invoke(app, "queue-echo", echo, NULL);    any other trigger
 *         return fn_app_run(app, argc, argv);
 *     }
 *
 * Modes, chosen by fn_app_run() from the environment and the command line:
 *   - Azure Functions custom handler when FUNCTIONS_CUSTOMHANDLER_PORT is set: 127.0.0.1 at
 *     that port, GET / (readiness), POST /{FunctionName} with the host's invocation payload
 *     {"Data":…,"Metadata":…} answered with {"Outputs":…,"Logs":[…],"ReturnValue":…}, and
 *     /api/{FunctionName} for enableForwardingHttpRequest (raw request, raw response).
 *   - local when --port N is given: 127.0.0.1:N, /{name} calls the function.
 *   - OpenFaaS otherwise: 0.0.0.0:${port:-8080}, the watchdog contract (/_/health,
 *     /_/ready, the lock file, X-Duration-Seconds, exec/read/write timeouts, max_inflight,
 *     drain on SIGTERM); / calls the default function, /{name} any function.
 * In the local and OpenFaaS modes a generic (fn_app_invoke) function takes a POST of the
 * same {"Data":…,"Metadata":…} payload and answers the same JSON as in Azure mode.
 * A program whose main() ends in fn_app_run takes `--help`, which lists every option and
 * environment variable (try `fnhandler-examples --help`; docs/handler.md has the list).
 *
 * Tracing: FNTRACE=1 in the environment starts a sampling thread on the process; every
 * invocation (id, function, start, end, status) is recorded and travels in the trace.
 *
 * Thread-safety: build the app (fn_app_new, fn_app_http, fn_app_invoke) on one thread
 * before fn_app_run.  Functions are then called concurrently, one thread per call: a
 * function must lock whatever it shares with other calls (its `arg`, globals).  The
 * fn_request, fn_response and fn_invocation a function gets belong to that call alone and
 * are valid only until it returns.  Every fn_* call below is safe from any function.
 *
 * Errors: a function returns 0 on success.  A non-zero return is a failure: the reply is
 * the error the function set with fn_response_error()/fn_invocation_error() when it set
 * one, else 500, and the runtime logs one line naming the function and the invocation. */
#ifndef FNHANDLER_H
#define FNHANDLER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;
typedef struct fn_app fn_app;
typedef struct fn_response fn_response;
typedef struct fn_invocation fn_invocation;

/* A name/value pair: a header (names as received) or a query argument (decoded). */
typedef struct fn_pair {
    const char *name;
    const char *value;
} fn_pair;

/* An HTTP request, the same in every mode (in Azure mode it is built from Data.req). */
typedef struct fn_request {
    const char *function;        /* name of the function called */
    const char *invocation_id;   /* X-Azure-Functions-InvocationId, X-Call-Id or generated */
    const char *method;          /* "GET", "POST", … */
    const char *path;            /* decoded path without the query ("/hello") */
    const char *body;            /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
    const fn_pair *query;
    size_t nquery;
    const fn_pair *headers;
    size_t nheaders;
} fn_request;

typedef int (*fn_http_fn)(const fn_request *req, fn_response *res, void *arg);
typedef int (*fn_invoke_fn)(fn_invocation *inv, void *arg);

/* --- the app ------------------------------------------------------------------------ */

/* NULL when out of memory.  The name shows in logs and is the default trace name. */
fn_app *fn_app_new(const char *name);
/* Registers a function; names are [A-Za-z0-9_-]{1,64}, unique (case-insensitive, as Azure
 * matches them).  Returns 0, or -1 (bad or duplicate name, out of memory). */
int fn_app_http(fn_app *app, const char *name, fn_http_fn fn, void *arg);
int fn_app_invoke(fn_app *app, const char *name, fn_invoke_fn fn, void *arg);
/* Function options (fn_app_set_flags).  FN_QUICK: the function returns within
 * microseconds and never blocks (no I/O, no locks held long, bounded work), so the runtime
 * runs it right on its I/O threads; every other function runs on a thread of its own so a
 * slow call never holds up other requests.  Marking a slow function quick stalls the
 * requests that share its I/O thread, and quick functions are not held to exec_timeout. */
enum { FN_QUICK = 1 << 0 };
int fn_app_set_flags(fn_app *app, const char *name, unsigned flags);
/* Serves until SIGINT/SIGTERM, then drains and frees the app.  Returns the process exit
 * status (0 after a clean stop, 2 for bad arguments, 1 when it cannot serve). */
int fn_app_run(fn_app *app, int argc, char **argv);
/* Frees an app that was never run. */
void fn_app_free(fn_app *app);

/* --- HTTP requests ------------------------------------------------------------------ */

/* First query argument / header (case-insensitive) with that name, or NULL. */
const char *fn_request_query(const fn_request *req, const char *name);
const char *fn_request_header(const fn_request *req, const char *name);
/* The body parsed as JSON; NULL when the body is empty or not JSON (errbuf says which).
 * The caller frees the result with cJSON_Delete. */
struct cJSON *fn_request_json(const fn_request *req, char *errbuf, size_t errlen);

/* --- HTTP responses: status 200, no body, until set -------------------------------- */

int fn_response_status(fn_response *res, int status);           /* 100..599 */
/* Adds a header (up to 12; no CR/LF; Content-Type replaces the default). */
int fn_response_header(fn_response *res, const char *name, const char *value);
/* Replaces the body with a copy of len bytes (text/plain unless a Content-Type is set). */
int fn_response_body(fn_response *res, const void *body, size_t len);
int fn_response_printf(fn_response *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Status plus JSON body (application/json); takes ownership of json. */
int fn_response_json(fn_response *res, int status, struct cJSON *json);
/* Status plus {"error":"message"}; returns -1 so `return fn_response_error(…)` fails the
 * call with that reply (use it for 4xx input errors as well as for 5xx). */
int fn_response_error(fn_response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A log line of this invocation: Logs[] in Azure mode, stderr in every mode. */
void fn_response_log(fn_response *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- generic triggers (queue, timer, blob, …) ----------------------------------------- */

const char *fn_invocation_function(const fn_invocation *inv);
const char *fn_invocation_id(const fn_invocation *inv);
/* The payload's Data and Metadata objects (never NULL: empty objects when absent). */
const struct cJSON *fn_invocation_data(const fn_invocation *inv);
const struct cJSON *fn_invocation_metadata(const fn_invocation *inv);
/* Sets Outputs[name] (replacing an earlier value) / ReturnValue; takes ownership. */
int fn_invocation_output(fn_invocation *inv, const char *name, struct cJSON *value);
int fn_invocation_return(fn_invocation *inv, struct cJSON *value);
void fn_invocation_log(fn_invocation *inv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Marks the call failed with status (400..599) and message; returns -1 like
 * fn_response_error. */
int fn_invocation_error(fn_invocation *inv, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
