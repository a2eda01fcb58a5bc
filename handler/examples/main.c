/* fnhandler-examples — the example function app: the workloads the seed articles traced
 * and benchmarked, written against fnhandler.h.
 *
 *   hello        ?name=NAME or a body (JSON {"name":…} or plain text) → "Hello from C, NAME!"
 *   circle-area  ?radius=R or {"radius":R}  → {"radius":R,"area":πR²}
 *   pi           ?digits=N or {"digits":N}  → {"digits":N,"pi":"3.14…"} (CPU-bound spigot)
 *   fibonacci    ?n=N or {"n":N}            → {"n":N,"fibonacci":F} (naive recursion)
 *   queue-echo   generic trigger: the queue item of Data goes to Outputs.output and to
 *                ReturnValue, with one log line
 * Azure bindings (declared next to each function with fn_app_bind; `--azure-init DIR`
 * writes their function.json files):
 *   timer-tick     timerTrigger → queue "ticks": {"pastDue":…,"last":…,"next":…}
 *   queue-to-blob  queueTrigger "orders" {"item":…,"qty":N} → blob receipts/{Id}.txt and
 *                  queue "shipped" {"id":…,"item":…,"qty":N}
 *   blob-size      blobTrigger uploads/{name} → queue "sizes" {"name":…,"bytes":N,…}
 *   eventhub-batch eventHubTrigger (cardinality many) → table "summaries": one entity per
 *                  batch (count, sum of the events' "value", first/last sequence number)
 *   eventgrid-echo eventGridTrigger → SignalR "events": target "gridEvent" with the
 *                  event's type, subject and data
 *
 * Input errors are 400 with {"error":…}.  Every function is reentrant (no shared state). */
#include <fnhandler.h>

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_LEN 200
#define PI_MAX_DIGITS 10000
#define FIB_MAX_N 45

/* --- parameters: the query first, then a field of a JSON object body ------------------- */

struct param {
    const char *text;        /* from the query */
    const cJSON *json;       /* from the body (inside root) */
    cJSON *root;
};

static int body_is_json(const fn_request *req)
{
    const char *ct = fn_request_header(req, "Content-Type");
    if (ct && strstr(ct, "json")) return 1;
    const char *b = req->body;
    while (*b && isspace((unsigned char)*b)) b++;
    return *b == '{' || *b == '[';
}

/* 0: found (or absent: both NULL); -1: replied 400 already. */
static int param_get(const fn_request *req, fn_response *res, const char *key, struct param *p)
{
    memset(p, 0, sizeof *p);
    p->text = fn_request_query(req, key);
    if (p->text || req->body_len == 0 || !body_is_json(req)) return 0;
    char err[128];
    p->root = fn_request_json(req, err, sizeof err);
    if (!p->root) return fn_response_error(res, 400, "%s", err);
    if (!cJSON_IsObject(p->root)) {
        cJSON_Delete(p->root);
        p->root = NULL;
        return fn_response_error(res, 400, "the body must be a JSON object");
    }
    p->json = cJSON_GetObjectItemCaseSensitive(p->root, key);
    if (cJSON_IsNull(p->json)) p->json = NULL;
    return 0;
}

/* A number parameter within [lo, hi]; *v keeps its default when absent unless required. */
static int number_param(const fn_request *req, fn_response *res, const char *key, double lo,
                        double hi, int integer, int required, double *v)
{
    struct param p;
    if (param_get(req, res, key, &p)) return -1;
    int rc = 0;
    if (p.text) {
        char *end;
        errno = 0;
        double d = strtod(p.text, &end);
        if (end == p.text || *end || errno || !isfinite(d))
            rc = fn_response_error(res, 400, "%s must be a number", key);
        else *v = d;
    } else if (p.json) {
        if (!cJSON_IsNumber(p.json)) rc = fn_response_error(res, 400, "%s must be a number", key);
        else *v = p.json->valuedouble;
    } else if (required) {
        rc = fn_response_error(res, 400, "missing %s (query ?%s= or JSON body {\"%s\": …})", key,
                               key, key);
    }
    cJSON_Delete(p.root);
    if (rc) return rc;
    if (!isfinite(*v) || *v < lo || *v > hi || (integer && *v != floor(*v)))
        return fn_response_error(res, 400, "%s must be %s between %g and %g", key,
                                 integer ? "an integer" : "a number", lo, hi);
    return 0;
}

/* --- hello ---------------------------------------------------------------------------- */

static int hello(const fn_request *req, fn_response *res, void *arg)
{
    char name[NAME_MAX_LEN + 1] = "World";
    const char *src = NULL;
    size_t n = 0;
    struct param p;
    if (param_get(req, res, "name", &p)) return -1;
    if (p.text) { src = p.text; n = strlen(src); }
    else if (p.json) {
        if (!cJSON_IsString(p.json)) {
            cJSON_Delete(p.root);
            return fn_response_error(res, 400, "name must be a string");
        }
        src = p.json->valuestring;
        n = strlen(src);
    } else if (!p.root && req->body_len) {              /* plain text body */
        src = req->body;
        n = req->body_len;
        while (n && isspace((unsigned char)src[n - 1])) n--;
        while (n && isspace((unsigned char)*src)) { src++; n--; }
    }
    if (src && n) {
        if (n > NAME_MAX_LEN) {
            cJSON_Delete(p.root);
            return fn_response_error(res, 400, "name is longer than %d bytes", NAME_MAX_LEN);
        }
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) {
                cJSON_Delete(p.root);
                return fn_response_error(res, 400, "name has control characters");
            }
        memcpy(name, src, n);
        name[n] = 0;
    }
    cJSON_Delete(p.root);
    return fn_response_printf(res, "Hello from C, %s!", name);
}

/* --- circle-area ------------------------------------------------------------------------ */

static int circle_area(const fn_request *req, fn_response *res, void *arg)
{
    double r = 0;
    if (number_param(req, res, "radius", 0, 1e150, 0, 1, &r)) return -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "radius", r);
    cJSON_AddNumberToObject(o, "area", M_PI * r * r);
    return fn_response_json(res, 200, o);
}

/* --- pi: Rabinowitz–Wagon spigot, O(n²) ------------------------------------------------ */

/* Writes n digits of pi ("314159…") into out (n + 1 bytes).  -1 when out of memory. */
__attribute__((noinline)) static int pi_digits(int n, char *out)
{
    size_t len = (size_t)n * 10 / 3 + 2;
    unsigned *a = malloc(len * sizeof *a);
    if (!a) return -1;
    for (size_t i = 0; i < len; i++) a[i] = 2;
    int produced = 0, nines = 0, predigit = -1;
    for (int j = 0; j < n && produced < n; j++) {
        unsigned long q = 0;
        for (size_t i = len; i > 0; i--) {
            unsigned long x = 10ul * a[i - 1] + q * i;
            a[i - 1] = (unsigned)(x % (2 * i - 1));
            q = x / (2 * i - 1);
        }
        a[0] = (unsigned)(q % 10);
        q /= 10;
        if (q == 9) { nines++; continue; }
        if (q == 10) {
            if (predigit >= 0 && produced < n) out[produced++] = (char)('0' + predigit + 1);
            for (; nines && produced < n; nines--) out[produced++] = '0';
            predigit = 0;
        } else {
            if (predigit >= 0 && produced < n) out[produced++] = (char)('0' + predigit);
            predigit = (int)q;
            for (; nines && produced < n; nines--) out[produced++] = '9';
        }
    }
    if (predigit >= 0 && produced < n) out[produced++] = (char)('0' + predigit);
    for (; nines && produced < n; nines--) out[produced++] = '9';
    out[produced] = 0;
    free(a);
    return produced;
}

static int pi(const fn_request *req, fn_response *res, void *arg)
{
    double d = 100;
    if (number_param(req, res, "digits", 1, PI_MAX_DIGITS, 1, 0, &d)) return -1;
    int n = (int)d;
    /* a few guard digits: the spigot's last digits may still change */
    char *digits = malloc((size_t)n + 8);
    if (!digits) return fn_response_error(res, 503, "out of memory");
    int got = pi_digits(n + 6, digits);
    if (got < n + 1) { free(digits); return fn_response_error(res, 500, "pi computation failed"); }
    char *text = malloc((size_t)n + 3);
    if (!text) { free(digits); return fn_response_error(res, 503, "out of memory"); }
    text[0] = digits[0];
    text[1] = '.';
    memcpy(text + 2, digits + 1, (size_t)n);
    text[n + 2] = 0;
    free(digits);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "digits", n);
    cJSON_AddStringToObject(o, "pi", text);
    free(text);
    return fn_response_json(res, 200, o);
}

/* --- fibonacci: the naive recursion, on purpose (deep stacks for the flame graph) ------ */

__attribute__((noinline)) static unsigned long long fibonacci(int n)
{
    return n < 2 ? (unsigned long long)n : fibonacci(n - 1) + fibonacci(n - 2);
}

static int fibonacci_fn(const fn_request *req, fn_response *res, void *arg)
{
    double d = 20;
    if (number_param(req, res, "n", 0, FIB_MAX_N, 1, 0, &d)) return -1;
    int n = (int)d;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddNumberToObject(o, "fibonacci", (double)fibonacci(n));
    return fn_response_json(res, 200, o);
}

/* --- queue-echo: a generic trigger -------------------------------------------------------- */

static int queue_echo(fn_invocation *inv, void *arg)
{
    const cJSON *data = fn_invocation_data(inv);
    const cJSON *item = data->child;              /* the trigger binding, whatever its name */
    if (!item) return fn_invocation_error(inv, 400, "Data has no queue item");
    char *text = cJSON_PrintUnformatted(item);
    fn_invocation_log(inv, "queue-echo: %s=%.200s", item->string ? item->string : "item",
                      text ? text : "?");
    free(text);
    if (fn_invocation_output(inv, "output", cJSON_Duplicate(item, 1))) return -1;
    return fn_invocation_return(inv, cJSON_Duplicate(item, 1));
}

/* --- Azure bindings: typed triggers and outputs ------------------------------------------ */

#define STORAGE "connection", "AzureWebJobsStorage"

/* UTC ISO 8601 of a timespec, to the second */
static const char *iso(const struct timespec *t, char *buf, size_t len)
{
    struct tm tm;
    time_t s = t->tv_sec;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static int timer_tick(fn_invocation *inv, void *arg)
{
    fn_timer_info t;
    if (fn_timer_get(inv, NULL, &t)) return -1;
    char last[32] = "", next[32] = "";
    if (t.has_status) {
        iso(&t.last, last, sizeof last);
        iso(&t.next, next, sizeof next);
    }
    fn_invocation_log(inv, "timer-tick: past_due=%d next=%s", t.is_past_due,
                      t.has_status ? next : "-");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "pastDue", t.is_past_due);
    if (t.has_status) {
        cJSON_AddStringToObject(o, "last", last);
        cJSON_AddStringToObject(o, "next", next);
    }
    return fn_output_json(inv, "tick", o);
}

static int queue_to_blob(fn_invocation *inv, void *arg)
{
    fn_queue_message m;
    if (fn_queue_get(inv, NULL, &m)) return -1;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(m.json, "item");
    const cJSON *qty = cJSON_GetObjectItemCaseSensitive(m.json, "qty");
    if (!cJSON_IsString(item) || !cJSON_IsNumber(qty) || qty->valuedouble < 1 ||
        qty->valuedouble > 1e6 || qty->valuedouble != (int)qty->valuedouble)
        return fn_invocation_error(inv, 400,
                                   "Data.order: expected {\"item\": text, \"qty\": 1..1000000}");
    char receipt[512];
    int n = snprintf(receipt, sizeof receipt, "order %s: %d x %.200s (dequeue %ld)\n", m.id,
                     qty->valueint, item->valuestring, m.dequeue_count);
    if (fn_output_blob(inv, "receipt", receipt, (size_t)n)) return -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", m.id);
    cJSON_AddStringToObject(o, "item", item->valuestring);
    cJSON_AddNumberToObject(o, "qty", qty->valueint);
    fn_invocation_log(inv, "queue-to-blob: order %s shipped", m.id);
    return fn_output_json(inv, "shipped", o);
}

static int blob_size(fn_invocation *inv, void *arg)
{
    fn_blob b;
    if (fn_blob_get(inv, NULL, &b)) return -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", b.name ? b.name : "");
    cJSON_AddNumberToObject(o, "bytes", (double)b.len);
    if (b.uri) cJSON_AddStringToObject(o, "uri", b.uri);
    if (b.content_type) cJSON_AddStringToObject(o, "contentType", b.content_type);
    fn_invocation_log(inv, "blob-size: %s is %zu bytes", b.name ? b.name : "?", b.len);
    return fn_output_json(inv, "size", o);
}

static int eventhub_batch(fn_invocation *inv, void *arg)
{
    fn_eventhub_batch b;
    if (fn_eventhub_get(inv, NULL, &b)) return -1;
    if (!b.n) return fn_invocation_error(inv, 400, "Data.events: an empty batch");
    double sum = 0;
    for (size_t i = 0; i < b.n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b.events[i].json, "value");
        if (cJSON_IsNumber(v)) sum += v->valuedouble;
    }
    char rk[32], first[32], last[32];
    snprintf(rk, sizeof rk, "%lld", b.events[0].sequence_number);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "count", (double)b.n);
    cJSON_AddNumberToObject(p, "sum", sum);
    cJSON_AddNumberToObject(p, "firstSequenceNumber", (double)b.events[0].sequence_number);
    cJSON_AddNumberToObject(p, "lastSequenceNumber", (double)b.events[b.n - 1].sequence_number);
    iso(&b.events[0].enqueued_time, first, sizeof first);
    iso(&b.events[b.n - 1].enqueued_time, last, sizeof last);
    cJSON_AddStringToObject(p, "firstEnqueued", first);
    cJSON_AddStringToObject(p, "lastEnqueued", last);
    fn_invocation_log(inv, "eventhub-batch: %zu events, sum %g", b.n, sum);
    return fn_output_table(inv, "summary", b.partition_id ? b.partition_id : "0", rk, p);
}

static int eventgrid_echo(fn_invocation *inv, void *arg)
{
    fn_eventgrid_event e;
    if (fn_eventgrid_get(inv, NULL, &e)) return -1;
    cJSON *args = cJSON_CreateArray();
    cJSON_AddItemToArray(args, cJSON_CreateString(e.event_type));
    cJSON_AddItemToArray(args, cJSON_CreateString(e.subject));
    cJSON_AddItemToArray(args, e.data ? cJSON_Duplicate(e.data, 1) : cJSON_CreateNull());
    fn_invocation_log(inv, "eventgrid-echo: %s %s", e.event_type, e.subject);
    return fn_output_signalr(inv, "updates", "gridEvent", args, NULL, NULL);
}

/* The Azure bindings of the generic functions, as function.json will say them. */
static int declare_bindings(fn_app *app)
{
    return fn_app_bind(app, "queue-echo", "queueTrigger", "in", "item", "queueName", "in",
                       STORAGE, NULL) ||
           fn_app_bind(app, "queue-echo", "queue", "out", "output", "queueName", "out",
                       STORAGE, NULL) ||
           fn_app_bind(app, "timer-tick", "timerTrigger", "in", "timer",
                       "schedule", "0 */5 * * * *", NULL) ||
           fn_app_bind(app, "timer-tick", "queue", "out", "tick", "queueName", "ticks",
                       STORAGE, NULL) ||
           fn_app_bind(app, "queue-to-blob", "queueTrigger", "in", "order",
                       "queueName", "orders", STORAGE, NULL) ||
           fn_app_bind(app, "queue-to-blob", "blob", "out", "receipt",
                       "path", "receipts/{Id}.txt", STORAGE, NULL) ||
           fn_app_bind(app, "queue-to-blob", "queue", "out", "shipped",
                       "queueName", "shipped", STORAGE, NULL) ||
           fn_app_bind(app, "blob-size", "blobTrigger", "in", "blob", "path", "uploads/{name}",
                       STORAGE, NULL) ||
           fn_app_bind(app, "blob-size", "queue", "out", "size", "queueName", "sizes",
                       STORAGE, NULL) ||
           fn_app_bind(app, "eventhub-batch", "eventHubTrigger", "in", "events",
                       "eventHubName", "telemetry", "cardinality", "many",
                       "connection", "EventHubConnection", NULL) ||
           fn_app_bind(app, "eventhub-batch", "table", "out", "summary",
                       "tableName", "summaries", STORAGE, NULL) ||
           fn_app_bind(app, "eventgrid-echo", "eventGridTrigger", "in", "event", NULL) ||
           fn_app_bind(app, "eventgrid-echo", "signalR", "out", "updates", "hubName", "events",
                       "connectionStringSetting", "AzureSignalRConnectionString", NULL);
}

int main(int argc, char **argv)
{
    fn_app *app = fn_app_new("examples");
    if (!app || fn_app_http(app, "hello", hello, NULL) ||
        fn_app_http(app, "circle-area", circle_area, NULL) ||
        fn_app_http(app, "pi", pi, NULL) ||
        fn_app_http(app, "fibonacci", fibonacci_fn, NULL) ||
        fn_app_invoke(app, "queue-echo", queue_echo, NULL) ||
        fn_app_invoke(app, "timer-tick", timer_tick, NULL) ||
        fn_app_invoke(app, "queue-to-blob", queue_to_blob, NULL) ||
        fn_app_invoke(app, "blob-size", blob_size, NULL) ||
        fn_app_invoke(app, "eventhub-batch", eventhub_batch, NULL) ||
        fn_app_invoke(app, "eventgrid-echo", eventgrid_echo, NULL) ||
        declare_bindings(app) ||
        /* microseconds of work, no blocking: run on the I/O threads */
        fn_app_set_flags(app, "hello", FN_QUICK) ||
        fn_app_set_flags(app, "circle-area", FN_QUICK)) {
        fprintf(stderr, "fnhandler-examples: cannot build the app\n");
        return 1;
    }
    return fn_app_run(app, argc, argv);
}
