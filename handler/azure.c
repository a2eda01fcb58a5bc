/* azure — see azure.h. */
#define _GNU_SOURCE
#include "azure.h"
#include "bindings.h"
#include "errbuf.h"
#include "log.h"
#include "openfaas.h"
#include "readfile.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FUNCTION_JSON_MAX (1u << 20)

/* --- function.json ----------------------------------------------------------------------- */

/* What function.json says about one function: the one place that knows binding types (a
 * new type is a field here and a branch in parse_function_json). */
struct azure_binding {
    char function[APP_NAME_MAX + 1];
    char trigger[APP_NAME_MAX + 1];    /* name of the trigger binding ("req") */
    char http_out[APP_NAME_MAX + 1];   /* name of the http output binding ("res", "$return") */
};

struct azure_bindings {
    struct azure_binding *v;
    size_t n;
};

void azure_free_bindings(struct rt *rt)
{
    if (!rt->bindings) return;
    free(rt->bindings->v);
    free(rt->bindings);
    rt->bindings = NULL;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* Parses one function.json into b; a negative code with a message when it cannot be
 * read (-errno, -FT_ERR_TOO_LARGE) or is not one (-FT_ERR_BAD_INPUT). */
static int parse_function_json(const char *path, const struct fn_func *f,
                               struct azure_binding *b, int *http_trigger, char *err,
                               size_t errlen)
{
    char *text;
    int rc = read_small_file(path, FUNCTION_JSON_MAX, &text, NULL, err, errlen);
    if (rc < 0) return rc;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *bindings = root ? cJSON_GetObjectItemCaseSensitive(root, "bindings") : NULL;
    if (!cJSON_IsArray(bindings)) {
        cJSON_Delete(root);
        err_set(err, errlen, "%s: not a function.json (no \"bindings\" array)", path);
        return -FT_ERR_BAD_INPUT;
    }
    /* the code's declarations and the file must say the same */
    int rc2 = f ? bd_compare_function_json(f, root, err, errlen) : 0;
    if (rc2 < 0) {
        cJSON_Delete(root);
        return rc2;
    }
    *http_trigger = 0;
    const cJSON *bd;
    cJSON_ArrayForEach(bd, bindings) {
        const char *type = str_of(bd, "type"), *dir = str_of(bd, "direction"),
                   *name = str_of(bd, "name");
        if (!type || !name || strlen(name) > APP_NAME_MAX) continue;
        if (ends_with_ci(type, "Trigger") && !b->trigger[0]) {
            snprintf(b->trigger, sizeof b->trigger, "%s", name);
            *http_trigger = !strcasecmp(type, "httpTrigger");
        } else if (!strcasecmp(type, "http") && dir && !strcasecmp(dir, "out")) {
            snprintf(b->http_out, sizeof b->http_out, "%s", name);
        }
    }
    cJSON_Delete(root);
    return 0;
}

int azure_load_bindings(struct rt *rt, const char *root, char *err, size_t errlen)
{
    DIR *d = opendir(root);
    if (!d) {
        int e = errno;
        err_set(err, errlen, "cannot open script root %s: %s", root, strerror(e));
        return -e;
    }
    struct azure_bindings *bs = rt->bindings;
    if (!bs && !(bs = rt->bindings = calloc(1, sizeof *bs))) {
        closedir(d);
        err_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int mismatches = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) > APP_NAME_MAX) continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/function.json", root, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
        struct azure_binding b = { 0 };
        int http_trigger = 0;
        const struct fn_func *f = app_find(rt->app, e->d_name);
        if ((rc = parse_function_json(path, f, &b, &http_trigger, err, errlen)) < 0) break;
        snprintf(b.function, sizeof b.function, "%s", e->d_name);
        if (!f) {
            log_warn("function.json names a function the app does not have", "function=%s",
                     e->d_name);
            mismatches++;
        } else if (f->http && !http_trigger) {
            log_warn("HTTP function bound to a non-HTTP trigger in function.json", "function=%s",
                     e->d_name);
            mismatches++;
        }
        struct azure_binding *nb = realloc(bs->v, (bs->n + 1) * sizeof *nb);
        if (!nb) { err_set(err, errlen, "out of memory"); rc = -ENOMEM; break; }
        bs->v = nb;
        bs->v[bs->n++] = b;
    }
    closedir(d);
    if (rc) return rc;
    for (size_t i = 0; i < rt->app->nfuncs; i++) {
        int found = 0;
        for (size_t j = 0; j < bs->n && !found; j++)
            found = !strcasecmp(bs->v[j].function, rt->app->funcs[i].name);
        if (!found) {
            log_warn("function has no function.json in the script root: the host will not call it",
                     "function=%s root=%s", rt->app->funcs[i].name, root);
            mismatches++;
        }
    }
    log_info("function.json files read", "root=%s functions=%zu mismatches=%d", root, bs->n,
             mismatches);
    return mismatches;
}

static const struct azure_binding *binding_of(const struct rt *rt, const char *fn)
{
    const struct azure_bindings *bs = rt->bindings;
    for (size_t i = 0; bs && i < bs->n; i++)
        if (!strcasecmp(bs->v[i].function, fn)) return &bs->v[i];
    return NULL;
}

/* --- payload → request -------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX and '+' of a query component in place. */
static void url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') *o++ = ' ';
        else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else *o++ = *s;
    }
    *o = 0;
}

static int add_query_string(struct app_call *c, const char *qs)
{
    char *dup = strdup(qs), *save = NULL;
    if (!dup) return -1;
    int rc = 0;
    for (char *tok = strtok_r(dup, "&", &save); tok && !rc; tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq) *eq++ = 0;
        url_decode(tok);
        if (eq) url_decode(eq);
        if (*tok) rc = app_call_add_query(c, tok, eq ? eq : "");
    }
    free(dup);
    return rc;
}

/* A scalar JSON value as text (strings as they are, numbers and booleans printed). */
static char *scalar_text(const cJSON *v)
{
    if (cJSON_IsString(v)) return strdup(v->valuestring);
    if (cJSON_IsNull(v)) return strdup("");
    return cJSON_PrintUnformatted(v);
}

/* name → value, name → [values] (one pair each) */
static int add_pairs(struct app_call *c, const cJSON *obj, int query)
{
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj) {
        if (!kv->string) continue;
        const cJSON *v = kv;
        int many = cJSON_IsArray(kv);
        const cJSON *el = many ? kv->child : kv;
        for (; el; el = many ? el->next : NULL) {
            v = el;
            char *t = scalar_text(v);
            if (!t) return -1;
            int rc = query ? app_call_add_query(c, kv->string, t)
                           : app_call_add_header(c, kv->string, t);
            free(t);
            if (rc) return -1;
        }
    }
    return 0;
}

int azure_request_from_data(struct app_call *c, const cJSON *r, char *err, size_t errlen)
{
    if (!cJSON_IsObject(r)) {
        err_set(err, errlen, "the HTTP request in Data is not an object");
        return -FT_ERR_BAD_INPUT;
    }
    const char *method = str_of(r, "Method");
    const char *url = str_of(r, "Url");
    if (!method || !*method) {
        err_set(err, errlen, "the HTTP request in Data has no \"Method\"");
        return -FT_ERR_BAD_INPUT;
    }
    /* path and query string out of the URL: scheme://host[:port]/path?query */
    char path[4096] = "/";
    const char *qs = NULL;
    if (url) {
        const char *p = strstr(url, "://");
        p = p ? strchr(p + 3, '/') : (url[0] == '/' ? url : NULL);
        if (p) {
            size_t n = strcspn(p, "?#");
            if (n >= sizeof path) n = sizeof path - 1;
            memcpy(path, p, n);
            path[n] = 0;
            if (p[n] == '?') qs = p + n + 1;
        }
    }
    /* the body: a string as it is, other JSON (the host parses JSON bodies) printed */
    const cJSON *bv = cJSON_GetObjectItemCaseSensitive(r, "Body");
    char *body = NULL;
    if (bv && !cJSON_IsNull(bv)) {
        body = cJSON_IsString(bv) ? strdup(bv->valuestring) : cJSON_PrintUnformatted(bv);
        if (!body) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    }
    int rc = app_call_set_request(c, method, path, body ? body : "", body ? strlen(body) : 0);
    free(body);
    /* Query: an object (or the same object as a JSON string); else the URL's query string */
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "Query");
    cJSON *qparsed = NULL;
    if (cJSON_IsString(q)) q = qparsed = cJSON_Parse(q->valuestring);
    if (!rc) {
        if (cJSON_IsObject(q)) rc = add_pairs(c, q, 1);
        else if (qs) rc = add_query_string(c, qs);
    }
    cJSON_Delete(qparsed);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(r, "Headers");
    if (!rc && cJSON_IsObject(h)) rc = add_pairs(c, h, 0);
    if (rc) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    return 0;
}

cJSON *azure_http_output(const fn_response *res)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char st[8];
    snprintf(st, sizeof st, "%d", res->status);
    cJSON_AddStringToObject(o, "statusCode", st);
    cJSON_AddStringToObject(o, "body", res->body ? res->body : "");
    cJSON *h = cJSON_AddObjectToObject(o, "headers");
    if (!res->has_ctype) cJSON_AddStringToObject(h, "Content-Type", "text/plain; charset=utf-8");
    for (int i = 0; i < res->nheaders; i++)
        cJSON_AddStringToObject(h, res->hname[i], res->hvalue[i]);
    return o;
}

/* --- routes ---------------------------------------------------------------------------------- */

static int h_ready(httpd_req *req, void *arg)
{
    return httpd_reply(req, 200, "text/plain; charset=utf-8", "OK", 2);
}

static int reply_http_envelope(struct rt *rt, httpd_req *req, struct app_call *c)
{
    const struct azure_binding *b = binding_of(rt, c->fn->name);
    const char *out = bd_http_out(c->fn->binds);
    if (!out) out = b && b->http_out[0] ? b->http_out : "res";
    /* the other outputs the function set (fn_response_invocation), then the response */
    cJSON *env = rt_envelope(c);
    cJSON *res = azure_http_output(&c->res);
    if (!env || !res) {
        cJSON_Delete(env);
        cJSON_Delete(res);
        return httpd_reply_error(req, 503, "out of memory");
    }
    cJSON *logs = cJSON_GetObjectItemCaseSensitive(env, "Logs");
    for (cJSON *l = c->res.logs ? c->res.logs->child : NULL; l; l = l->next)
        cJSON_AddItemToArray(logs, cJSON_CreateString(l->valuestring));
    cJSON_DeleteItemFromObjectCaseSensitive(env, "error");
    if (!strcmp(out, "$return"))
        cJSON_ReplaceItemInObjectCaseSensitive(env, "ReturnValue", res);
    else
        cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(env, "Outputs"), out, res);
    return httpd_reply_json(req, 200, env);
}

/* The trace id of an invocation: traceparent of the HTTP request, else the host's trace
 * context in Metadata (TraceContext.TraceParent, sys.TraceParent). */
static void trace_from_payload(struct app_call *c, const cJSON *httpreq)
{
    const cJSON *h = httpreq ? cJSON_GetObjectItem(httpreq, "Headers") : NULL;
    const cJSON *tp = h ? cJSON_GetObjectItem(h, "traceparent") : NULL;
    if (cJSON_IsArray(tp)) tp = tp->child;
    if (cJSON_IsString(tp)) rt_call_trace(c, tp->valuestring);
    static const char *const holders[] = { "TraceContext", "sys", NULL };
    for (int i = 0; holders[i] && !c->trace_id[0]; i++) {
        const cJSON *o = c->inv.metadata ? cJSON_GetObjectItem(c->inv.metadata, holders[i]) : NULL;
        const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItem(o, "TraceParent") : NULL;
        if (cJSON_IsString(v)) rt_call_trace(c, v->valuestring);
    }
}

/* A declared trigger is parsed before the function runs: bad input is a 400 naming the
 * field without calling it.  0, or the status to answer with (err set). */
static int check_trigger(struct app_call *c, char *err, size_t errlen)
{
    enum bd_view view;
    const char *name = bd_trigger_name(c->fn->binds, &view);
    if (!name || view == BD_V_HTTP || view == BD_V_GENERIC) return 0;
    const cJSON *val = c->inv.data ? cJSON_GetObjectItemCaseSensitive(c->inv.data, name) : NULL;
    char field[APP_NAME_MAX + 8];
    snprintf(field, sizeof field, "Data.%s", name);
    if (!val) {
        err_set(err, errlen, "%s: missing (the %s trigger of %s)", field, name, c->fn->name);
        return ft_http_status(-FT_ERR_BAD_INPUT);
    }
    union {
        fn_timer_info t; fn_queue_message q; fn_blob b; fn_eventhub_batch e;
        fn_servicebus_message s; fn_eventgrid_event g; fn_documents d; fn_table_rows r;
    } u;
    struct bd_opts o = { .trigger = 1 };
    int rc = bd_parse(view, val, c->inv.metadata, field, &o, &c->inv.mem, &u, err, errlen);
    return rc < 0 ? ft_http_status(rc) : 0;
}

/* the function name of /NAME or /api/NAME: one path segment */
static const struct fn_func *function_at(struct rt *rt, const char *seg)
{
    if (!*seg || strchr(seg, '/')) return NULL;
    return app_find(rt->app, seg);
}

static int h_invoke(httpd_req *req, void *arg)
{
    struct rt *rt = arg;
    const char *name = httpd_req_path(req) + 1;
    const struct fn_func *fn = function_at(rt, name);
    if (!fn) return httpd_reply_error(req, 404, "no function named %.128s", name);
    const char *id = httpd_req_header(req, "X-Azure-Functions-InvocationId");
    struct app_call *c = app_call_new(rt->app, fn, id);
    if (!c) return httpd_reply_error(req, ft_http_status(-ENOMEM), "out of memory");
    size_t len;
    const char *body = httpd_req_body(req, &len);
    char err[256];
    int rc = rt_call_set_payload(c, body, len, err, sizeof err);
    if (rc < 0) {
        app_call_free(c);
        return httpd_reply_error(req, ft_http_status(rc), "%s", err);
    }
    if (fn->http) {
        const struct azure_binding *b = binding_of(rt, fn->name);
        const char *trig = bd_trigger_name(fn->binds, NULL);
        if (!trig) trig = b && b->trigger[0] ? b->trigger : "req";
        const cJSON *r = c->inv.data ? cJSON_GetObjectItemCaseSensitive(c->inv.data, trig) : NULL;
        if (!r) {
            app_call_free(c);
            return httpd_reply_error(req, ft_http_status(-FT_ERR_BAD_INPUT),
                                     "%s is an HTTP function: Data.%s must hold the HTTP request",
                                     fn->name, trig);
        }
        if ((rc = azure_request_from_data(c, r, err, sizeof err)) < 0) {
            app_call_free(c);
            return httpd_reply_error(req, ft_http_status(rc), "%s", err);
        }
        trace_from_payload(c, r);
        return rt_dispatch(rt, req, c, reply_http_envelope, 0);
    }
    trace_from_payload(c, NULL);
    int st = check_trigger(c, err, sizeof err);
    if (st) {
        log_warn("invocation refused", "fn=%s id=%s reason=\"%s\"", fn->name, c->id, err);
        app_call_free(c);
        return httpd_reply_error(req, st, "%s", err);
    }
    return rt_dispatch(rt, req, c, NULL, 0);
}

static int h_forward(httpd_req *req, void *arg)
{
    struct rt *rt = arg;
    const char *name = httpd_req_path(req) + 5;   /* after "/api/" */
    const struct fn_func *fn = function_at(rt, name);
    if (!fn) return httpd_reply_error(req, 404, "no function named %.128s", name);
    return openfaas_call(rt, req, fn, 0);
}

void azure_routes(struct rt *rt, struct httpd_route *r)
{
    memset(r, 0, AZURE_NROUTES * sizeof *r);
    r[0] = (struct httpd_route){ .method = NULL, .path = "/api/*", .handle = h_forward,
                                 .max_body = rt->max_body, .arg = rt };
    r[1] = (struct httpd_route){ .method = "GET", .path = "/", .handle = h_ready, .arg = rt };
    /* the payload carries the body, possibly base64 or escaped: room for twice it */
    r[2] = (struct httpd_route){ .method = "POST", .path = "/*", .handle = h_invoke,
                                 .max_body = rt->max_body * 2 + 65536, .arg = rt };
}
