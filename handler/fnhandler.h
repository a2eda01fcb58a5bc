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
#include <time.h>

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

/* --- Azure bindings declared next to the function --------------------------------------
 *
 * fn_app_bind declares one binding of a function the way function.json spells it: type
 * ("queueTrigger", "blob", "http", …; docs/handler.md lists them), direction "in" or "out",
 * name, then property name/value strings ending with NULL:
 *     fn_app_bind(app, "queue-to-blob", "queueTrigger", "in", "order",
 *                 "queueName", "orders", "connection", "AzureWebJobsStorage", NULL);
 * "methods" takes a comma-separated list ("get,post" becomes ["get","post"]); "true" and
 * "false" of a boolean property (runOnStartup, …) become JSON booleans.  The declarations
 * write the script root (--azure-init DIR: host.json and DIR/FUNCTION/function.json), are
 * checked against existing function.json files at startup (a mismatch stops the program
 * with the function and binding named), pick the trigger the typed accessors read and
 * check every output a function sets (an undeclared name or a wrong kind fails the call).
 * A function without declarations keeps the old behaviour (an HTTP function is
 * httpTrigger "req" + http "res"; a generic one reads Data/Metadata as it likes).
 * Returns 0, or -1 with one log line saying why: unknown function or type, a direction the
 * type does not take, a required property missing, a duplicate name, a second trigger, an
 * http output without an httpTrigger, more than FN_MAX_BINDINGS bindings. */
#define FN_MAX_BINDINGS 16
int fn_app_bind(fn_app *app, const char *function, const char *type, const char *direction,
                const char *name, ...) __attribute__((sentinel));

/* --- typed triggers and inputs -----------------------------------------------------------
 *
 * Each accessor reads Data[name] (name NULL: the function's declared trigger, or the only
 * member of Data when nothing is declared) and, for a trigger, the Metadata the Functions
 * host sends with it.  It returns 0 and fills *out, or -1 after failing the call with 400
 * and a message naming the field ("Metadata.DequeueCount: not a number"), so
 *     if (fn_queue_get(inv, NULL, &msg)) return -1;
 * is the whole error handling.  Strings and JSON point into the payload and bytes into
 * memory of the call: all valid until the function returns.  Dates are ISO 8601 strings
 * checked for shape (YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]) and given as UTC
 * struct timespec; a date the host did not send is {0, 0} and its has_ flag is 0. */
#define FN_MAX_BATCH 10000          /* events / documents / rows in one batch */

typedef struct fn_timer_info {
    int adjust_for_dst;             /* Schedule.AdjustForDST */
    int has_status;                 /* ScheduleStatus was sent (null on a first run) */
    struct timespec last, next, last_updated;   /* ScheduleStatus.Last/Next/LastUpdated */
    int is_past_due;                /* IsPastDue */
} fn_timer_info;

typedef struct fn_queue_message {
    const char *text;               /* the message as text (JSON printed back when the host
                                       sent it parsed) */
    size_t len;
    const struct cJSON *json;       /* the message when it is a JSON object/array, else NULL */
    const char *id, *pop_receipt;   /* Metadata.Id, Metadata.PopReceipt (NULL: not sent) */
    long dequeue_count;             /* Metadata.DequeueCount (0: not sent) */
    struct timespec insertion_time, expiration_time, next_visible_time;
    int has_times;                  /* the three times were sent */
} fn_queue_message;

typedef struct fn_blob {
    const unsigned char *data;      /* the content, NUL-terminated (len excludes it) */
    size_t len;
    const char *name, *uri;         /* trigger: Metadata.name, Metadata.Uri (else NULL) */
    const struct cJSON *properties; /* trigger: Metadata.Properties (else NULL) */
    const char *content_type;       /* Properties.ContentType (NULL: not sent) */
} fn_blob;

typedef struct fn_eventhub_event {
    const char *body;               /* the event as text (JSON printed back) */
    size_t len;
    const struct cJSON *json;       /* the event when it is JSON, else NULL */
    struct timespec enqueued_time;  /* EnqueuedTimeUtc */
    long long sequence_number;      /* SequenceNumber */
    const char *offset, *partition_key;   /* Offset, PartitionKey (NULL: not sent) */
    const struct cJSON *properties; /* Properties (NULL: not sent) */
} fn_eventhub_event;

typedef struct fn_eventhub_batch {
    size_t n;                       /* 1 for a single event (cardinality "one") */
    const fn_eventhub_event *events;
    const char *partition_id;       /* PartitionContext.PartitionId (NULL: not sent) */
} fn_eventhub_batch;

typedef struct fn_servicebus_message {
    const char *body;
    size_t len;
    const struct cJSON *json;
    const char *message_id;         /* MessageId (required) */
    long delivery_count;            /* DeliveryCount (required) */
    long long sequence_number;      /* SequenceNumber (0: not sent) */
    struct timespec enqueued_time, expires_at;   /* EnqueuedTimeUtc, ExpiresAtUtc */
    const char *content_type, *correlation_id, *session_id, *subject, *reply_to,
               *lock_token;         /* NULL when not sent (subject: Subject or Label) */
    const struct cJSON *user_properties;   /* UserProperties / ApplicationProperties */
} fn_servicebus_message;

typedef struct fn_eventgrid_event {
    const char *id, *topic, *subject, *event_type, *data_version, *metadata_version;
    struct timespec event_time;     /* eventTime */
    const struct cJSON *data;       /* data (any JSON) */
} fn_eventgrid_event;

typedef struct fn_documents {       /* Cosmos DB trigger / table input: JSON objects */
    size_t n;
    const struct cJSON *const *items;
} fn_documents;

typedef struct fn_table_entity {
    const char *partition_key, *row_key;   /* PartitionKey, RowKey (required) */
    struct timespec timestamp;      /* Timestamp (0: not sent) */
    const struct cJSON *entity;     /* the whole entity */
} fn_table_entity;

typedef struct fn_table_rows {
    size_t n;
    const fn_table_entity *rows;
} fn_table_rows;

int fn_timer_get(fn_invocation *inv, const char *name, fn_timer_info *out);
int fn_queue_get(fn_invocation *inv, const char *name, fn_queue_message *out);
int fn_blob_get(fn_invocation *inv, const char *name, fn_blob *out);
int fn_eventhub_get(fn_invocation *inv, const char *name, fn_eventhub_batch *out);
int fn_servicebus_get(fn_invocation *inv, const char *name, fn_servicebus_message *out);
int fn_eventgrid_get(fn_invocation *inv, const char *name, fn_eventgrid_event *out);
/* Cosmos DB trigger or input: every document an object with a string "id". */
int fn_cosmos_get(fn_invocation *inv, const char *name, fn_documents *out);
/* Table input: one entity or an array of them. */
int fn_table_get(fn_invocation *inv, const char *name, fn_table_rows *out);
/* The W3C trace id (32 hex digits) of this invocation, from the traceparent header or
 * Metadata.TraceContext / Metadata.sys; NULL when none came.  Also fn_request_trace_id. */
const char *fn_invocation_trace_id(const fn_invocation *inv);
const char *fn_request_trace_id(const fn_request *req);

/* --- typed outputs, by binding name ------------------------------------------------------
 *
 * Each sets Outputs[name] in the host's shape; 0, or -1 (name not declared as an output of
 * that kind, out of memory; the reason is logged).  Outputs a function does not set are
 * skipped (the host writes nothing for them).  Several calls on a queue, Event Hub,
 * Service Bus, Event Grid, table or SignalR output append: one value is sent as it is,
 * more as an array.  name "$return" sets ReturnValue instead.
 * Strings: the Functions host base64-decodes a string output that is valid base64
 * ("abcd" arrives as 3 bytes); these calls send such a string base64-encoded so what
 * arrives is the text the function wrote.  fn_invocation_output sends values as they are. */
int fn_output_text(fn_invocation *inv, const char *name, const char *text);
int fn_output_json(fn_invocation *inv, const char *name, struct cJSON *value);  /* owns */
int fn_output_blob(fn_invocation *inv, const char *name, const void *data, size_t len);
int fn_output_http(fn_invocation *inv, const char *name, int status, const char *content_type,
                   const char *body, size_t len);
int fn_output_table(fn_invocation *inv, const char *name, const char *partition_key,
                    const char *row_key, struct cJSON *properties);   /* owns properties */
/* SignalR: a message to every client (user_id and group NULL), a user or a group; a group
 * action "add" or "remove" of a user. */
int fn_output_signalr(fn_invocation *inv, const char *name, const char *target,
                      struct cJSON *arguments, const char *user_id, const char *group);
int fn_output_signalr_group(fn_invocation *inv, const char *name, const char *action,
                            const char *user_id, const char *group);
int fn_output_sendgrid(fn_invocation *inv, const char *name, const char *to,
                       const char *from, const char *subject, const char *text);
int fn_output_twilio(fn_invocation *inv, const char *name, const char *to, const char *from,
                     const char *body);
/* An HTTP function's own invocation, to set other outputs next to its response. */
fn_invocation *fn_response_invocation(fn_response *res);

#ifdef __cplusplus
}
#endif
#endif
