/* fnhandler-examples — the example function app: the workloads the seed articles traced
 * and benchmarked, written against fnhandler.h.
 *
 *   hello        ?name=NAME or a body (JSON {"name":…} or plain text) → "Hello from C, NAME!"
 *   circle-area  ?radius=R or {"radius":R}  → {"radius":R,"area":πR²}
 *   pi           ?digits=N or {"digits":N}  → {"digits":N,"pi":"3.14…"} (CPU-bound spigot)
 *   fibonacci    ?n=N or {"n":N}            → {"n":N,"fibonacci":F} (naive recursion)
 *   queue-echo   generic trigger: the queue item of Data goes to Outputs.output and to
 *                ReturnValue, with one log line
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

int main(int argc, char **argv)
{
    fn_app *app = fn_app_new("examples");
    if (!app || fn_app_http(app, "hello", hello, NULL) ||
        fn_app_http(app, "circle-area", circle_area, NULL) ||
        fn_app_http(app, "pi", pi, NULL) ||
        fn_app_http(app, "fibonacci", fibonacci_fn, NULL) ||
        fn_app_invoke(app, "queue-echo", queue_echo, NULL) ||
        /* microseconds of work, no blocking: run on the I/O threads */
        fn_app_set_flags(app, "hello", FN_QUICK) ||
        fn_app_set_flags(app, "circle-area", FN_QUICK)) {
        fprintf(stderr, "fnhandler-examples: cannot build the app\n");
        return 1;
    }
    return fn_app_run(app, argc, argv);
}
