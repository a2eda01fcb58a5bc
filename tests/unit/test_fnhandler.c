/* Unit tests for libfnhandler's modules: the invocation ring (bounded, oldest dropped,
 * drained in order, formatted as the trace header wants), duration parsing, the Azure
 * payload ↔ request/response translation, fn_request_json, and the error policy of a
 * call (a failing function → 500 plus the error it set; 4xx kept; time limit → 504;
 * max_inflight → 429) through the OpenFaaS routes on a real server with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "azure.h"
#include "fnhandler.h"
#include "fterr.h"
#include "invlog.h"
#include "log.h"
#include "openfaas.h"
#include "runtime.h"

/* --- invlog ------------------------------------------------------------------------------- */

static void test_invlog_ring(void **st)
{
    invlog *log = invlog_new(3);
    assert_non_null(log);
    invlog_push(log, "a", "hello", 1000000000, 1500000000, 200, 41);
    invlog_push(log, "b", "pi", 2000000000, 2500000000, 200, -3);
    assert_int_equal(invlog_count(log), 2);
    struct invlog_rec out[8];
    uint64_t dropped = 99;
    assert_int_equal(invlog_drain(log, out, 8, &dropped), 2);
    assert_int_equal(dropped, 0);
    assert_string_equal(out[0].id, "a");
    assert_string_equal(out[1].fn, "pi");
    assert_int_equal(out[0].tid, 41);
    assert_int_equal(out[1].tid, 0);              /* not a thread: unknown */
    assert_int_equal(invlog_to_ps(&out[1]).flags & PS_INV_TID, 0);
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "i%d", i);
        invlog_push(log, id, "fibonacci", (uint64_t)i * 1000000000,
                    (uint64_t)i * 1000000000 + 250000000, 500, 0);
    }
    /* full: 3 of the 5 are kept, in the order they were pushed */
    assert_int_equal(invlog_drain(log, out, 8, &dropped), 3);
    assert_int_equal(dropped, 2);
    for (int i = 1; i < 3; i++) assert_true(strcmp(out[i - 1].id, out[i].id) < 0);
    assert_int_equal(invlog_drain(log, out, 8, &dropped), 0);   /* the drain emptied it */
    assert_int_equal(dropped, 0);
    /* a drain with less room keeps the first ones and counts the rest */
    invlog_push(log, "x", "pi", 1, 2, 200, 0);
    invlog_push(log, "y", "pi", 3, 4, 200, 0);
    assert_int_equal(invlog_drain(log, out, 1, &dropped), 1);
    assert_string_equal(out[0].id, "x");
    assert_int_equal(dropped, 1);
    invlog_free(log);
}

/* Past its capacity the log keeps a uniform sample of the window's calls (reservoir),
 * not only the newest: 400 records of 40,000 calls fall about 100 in each quarter of
 * the calls (the newest-only ring put all 400 in the last one).  Bound: 60, 4.6 standard
 * deviations below 100 for each quarter. */
static void test_invlog_keeps_a_uniform_sample(void **st)
{
    enum { CAP = 400, CALLS = 40000 };
    invlog *log = invlog_new(CAP);
    assert_non_null(log);
    for (int i = 0; i < CALLS; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        invlog_push(log, id, "hello", (uint64_t)i * 1000, (uint64_t)i * 1000 + 500, 200, 7);
    }
    static struct invlog_rec out[CAP];
    uint64_t dropped = 0;
    assert_int_equal(invlog_drain(log, out, CAP, &dropped), CAP);
    assert_int_equal(dropped, CALLS - CAP);
    int quarter[4] = { 0 }, prev = -1;
    for (int i = 0; i < CAP; i++) {
        int n = atoi(out[i].id);
        assert_true(n > prev);                     /* in call order */
        assert_int_equal(out[i].start_ns, (uint64_t)n * 1000);   /* the record is whole */
        prev = n;
        quarter[n / (CALLS / 4)]++;
    }
    for (int q = 0; q < 4; q++) {
        if (quarter[q] < 60) fail_msg("quarter %d holds %d of %d records", q, quarter[q], CAP);
    }
    invlog_free(log);
}

struct pusher { invlog *log; int n; };

static void *push_many(void *arg)
{
    struct pusher *p = arg;
    for (int i = 0; i < p->n; i++) invlog_push(p->log, "c", "hello", 1, 2, 200, 0);
    return NULL;
}

/* Four threads push at once, a drain runs meanwhile: every call is either returned or
 * counted as dropped, none is lost or counted twice. */
static void test_invlog_counts_every_call_under_concurrency(void **st)
{
    enum { CAP = 64, PER = 20000, THREADS = 4 };
    invlog *log = invlog_new(CAP);
    assert_non_null(log);
    pthread_t th[THREADS];
    struct pusher p = { log, PER };
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, push_many, &p), 0);
    static struct invlog_rec out[CAP];
    uint64_t total = 0, dropped;
    for (int k = 0; k < 50; k++) {
        total += invlog_drain(log, out, CAP, &dropped);
        total += dropped;
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    total += invlog_drain(log, out, CAP, &dropped);
    total += dropped;
    assert_int_equal(total, (uint64_t)PER * THREADS);
    invlog_free(log);
}

/* a record goes through the shared perf-script writer and parses back the same */
static void test_invlog_through_perfscript(void **st)
{
    invlog *log = invlog_new(2);
    invlog_push(log, "id with space", "hello", 716250000000ull, 716500001000ull, 200, 4242);
    struct invlog_rec r;
    assert_int_equal(invlog_drain(log, &r, 1, NULL), 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ps_writer *w = ps_writer_new_fp(f);
    ps_invocation inv = invlog_to_ps(&r);
    assert_int_equal(ps_write_invocation(w, &inv), 0);
    assert_int_equal(ps_writer_close(w), 0);
    fclose(f);
    assert_non_null(strstr(buf, "# fntrace invocation : id="));
    assert_null(strstr(buf, "id with space"));              /* escaped: one token */
    size_t n = strcspn(buf, "\n");
    ps_invocation back;
    assert_int_equal(ps_header_invocation((ps_str){ buf, n }, &back), 1);
    char id[64];
    size_t idn = ps_unescape(back.id, id, sizeof id);
    assert_int_equal(idn, strlen("id with space"));
    assert_memory_equal(id, "id with space", idn);
    assert_true(ps_str_eqc(back.fn, "hello"));
    assert_int_equal(back.start_ns, 716250000000ull);
    assert_int_equal(back.end_ns / 1000, 716500001ull);
    assert_int_equal(back.status, 200);
    assert_int_equal(back.tid, 4242);
    assert_true(back.flags & PS_INV_TID);
    free(buf);
    invlog_free(log);
}

/* The watchdog's duration variables, read in the lib/units grammar. */
static void test_durations(void **st)
{
    struct rt rt = { 0 };
    char err[256];
    setenv("exec_timeout", "1.5s", 1);
    setenv("read_timeout", "500ms", 1);
    setenv("write_timeout", "2m", 1);
    setenv("healthcheck_interval", "7", 1);
    assert_int_equal(openfaas_config(&rt, err, sizeof err), 0);
    assert_true(rt.exec_timeout == 1.5);
    assert_true(rt.read_timeout == 0.5);
    assert_true(rt.write_timeout == 120);
    assert_true(rt.healthcheck_interval == 7);
    const char *bad[] = { "soon", "-1s", "5 parsecs" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("exec_timeout", bad[i], 1);
        assert_int_equal(openfaas_config(&rt, err, sizeof err), -FT_ERR_BAD_INPUT);
        assert_non_null(strstr(err, "exec_timeout"));
    }
    unsetenv("exec_timeout");
    unsetenv("read_timeout");
    unsetenv("write_timeout");
    unsetenv("healthcheck_interval");
}

/* --- the Azure translation ------------------------------------------------------------------- */

static int noop(const fn_request *req, fn_response *res, void *arg) { return 0; }

static void test_azure_request_from_data(void **st)
{
    fn_app *app = fn_app_new("t");
    fn_app_http(app, "hello", noop, NULL);
    struct app_call *c = app_call_new(app, app_find(app, "HELLO"), "inv-1");
    assert_non_null(c);
    cJSON *r = cJSON_Parse("{\"Url\":\"http://localhost:7071/api/hello?x=1&name=A%20B\","
                           "\"Method\":\"POST\",\"Query\":{\"name\":\"Ann\",\"n\":3},"
                           "\"Headers\":{\"Content-Type\":[\"application/json\"],"
                           "\"X-Multi\":[\"a\",\"b\"]},\"Params\":{},"
                           "\"Body\":{\"name\":\"json body\"}}");
    char err[128];
    assert_int_equal(azure_request_from_data(c, r, err, sizeof err), 0);
    cJSON_Delete(r);
    c->req.query = c->pairs;
    c->req.nquery = c->nquery;
    c->req.headers = c->pairs + c->nquery;
    c->req.nheaders = c->npairs - c->nquery;
    assert_string_equal(c->req.method, "POST");
    assert_string_equal(c->req.path, "/api/hello");
    assert_string_equal(fn_request_query(&c->req, "name"), "Ann");     /* Query wins */
    assert_string_equal(fn_request_query(&c->req, "n"), "3");
    assert_null(fn_request_query(&c->req, "x"));
    assert_string_equal(fn_request_header(&c->req, "content-type"), "application/json");
    assert_int_equal(c->req.nheaders, 3);
    assert_string_equal(c->req.body, "{\"name\":\"json body\"}");
    assert_string_equal(c->req.invocation_id, "inv-1");
    app_call_free(c);

    /* no Query object: the URL's query string, decoded */
    c = app_call_new(app, app_find(app, "hello"), NULL);
    r = cJSON_Parse("{\"Url\":\"https://h/api/hello?name=A%20B+C&flag\",\"Method\":\"GET\"}");
    assert_int_equal(azure_request_from_data(c, r, err, sizeof err), 0);
    cJSON_Delete(r);
    c->req.query = c->pairs;
    c->req.nquery = c->nquery;
    assert_string_equal(fn_request_query(&c->req, "name"), "A B C");
    assert_string_equal(fn_request_query(&c->req, "flag"), "");
    assert_true(strlen(c->req.invocation_id) > 0);                     /* generated */
    app_call_free(c);

    c = app_call_new(app, app_find(app, "hello"), NULL);
    r = cJSON_Parse("{\"Url\":\"/x\"}");
    assert_int_equal(azure_request_from_data(c, r, err, sizeof err), -FT_ERR_BAD_INPUT);
    assert_non_null(strstr(err, "Method"));
    cJSON_Delete(r);
    app_call_free(c);
    fn_app_free(app);
}

static void test_azure_http_output(void **st)
{
    fn_response res = { .status = 201 };
    fn_response_printf(&res, "made %d", 1);
    fn_response_header(&res, "X-A", "b");
    cJSON *o = azure_http_output(&res);
    char *s = cJSON_PrintUnformatted(o);
    assert_string_equal(s, "{\"statusCode\":\"201\",\"body\":\"made 1\",\"headers\":"
                           "{\"Content-Type\":\"text/plain; charset=utf-8\",\"X-A\":\"b\"}}");
    free(s);
    cJSON_Delete(o);
    free(res.body);
    free(res.hname[0]);
    free(res.hvalue[0]);
}

static void test_request_json(void **st)
{
    fn_request req = { .body = "  {\"a\": 1} \n", .body_len = 12 };
    char err[128];
    cJSON *j = fn_request_json(&req, err, sizeof err);
    assert_non_null(j);
    cJSON_Delete(j);
    req.body = "{\"a\": 1} x";
    req.body_len = strlen(req.body);
    assert_null(fn_request_json(&req, err, sizeof err));
    assert_non_null(strstr(err, "unexpected data"));
    req.body = "{\"a\": ";
    req.body_len = strlen(req.body);
    assert_null(fn_request_json(&req, err, sizeof err));
    assert_non_null(strstr(err, "malformed JSON"));
    req.body = "   ";
    req.body_len = 3;
    assert_null(fn_request_json(&req, err, sizeof err));
    assert_non_null(strstr(err, "empty body"));
}

/* --- error policy through the OpenFaaS routes ------------------------------------------------ */

static int fails(const fn_request *req, fn_response *res, void *arg)
{
    fn_response_log(res, "about to fail");
    fn_response_printf(res, "partial output");
    return -1;
}

static int refuses(const fn_request *req, fn_response *res, void *arg)
{
    return fn_response_error(res, 422, "cannot process %s", "that");
}

static int sleeps(const fn_request *req, fn_response *res, void *arg)
{
    usleep(600 * 1000);
    return fn_response_printf(res, "slept");
}

static int gen_fails(fn_invocation *inv, void *arg)
{
    fn_invocation_log(inv, "looked at the item");
    return -1;
}

static struct rt rt;
static struct httpd_route routes[OPENFAAS_NROUTES];
static httpd *srv;
static char base[64];

static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
    strncat(ud, p, 4095 - strlen(ud) < sz * nm ? 4095 - strlen(ud) : sz * nm);
    return sz * nm;
}

static long get(const char *path, const char *body, char *out)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    out[0] = 0;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static int setup(void **st)
{
    log_set_level(LOG_ERROR);
    fn_app *app = fn_app_new("unit");
    if (fn_app_http(app, "fails", fails, NULL) || fn_app_http(app, "refuses", refuses, NULL) ||
        fn_app_http(app, "sleeps", sleeps, NULL) || fn_app_invoke(app, "gen-fails", gen_fails,
                                                                  NULL))
        return -1;
    if (fn_app_http(app, "Fails", fails, NULL) == 0) return -1;      /* duplicate */
    if (app_record_invocations(app, 64)) return -1;
    if (fn_app_http(app, "bad name", fails, NULL) == 0) return -1;
    memset(&rt, 0, sizeof rt);
    rt.app = app;
    rt.mode = RT_LOCAL;
    rt.max_body = 4096;
    rt.suppress_lock = 1;
    atomic_store(&rt.healthy, 1);
    openfaas_routes(&rt, routes);
    char err[256];
    rt.handoff = 1;             /* slow functions on their own threads, as fn_app_run does */
    struct httpd_opts o = { .port = 0, .threads = 2, .flags = HTTPD_ALLOW_SUSPEND | HTTPD_QUIET };
    srv = httpd_start(&o, routes, err, sizeof err);
    if (!srv) return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)httpd_port(srv));
    return 0;
}

static int teardown(void **st)
{
    httpd_stop(srv);
    /* a call thread's last use of the app is its `holds` release, after `running` */
    while (atomic_load(&rt.app->running) || atomic_load(&rt.app->holds)) usleep(10000);
    fn_app_free(rt.app);
    return 0;
}

static void test_failing_function_is_500(void **st)
{
    char out[4096];
    assert_int_equal(get("/fails", NULL, out), 500);
    assert_string_equal(out, "{\"error\":\"function fails failed\"}");
    assert_int_equal(get("/refuses", NULL, out), 422);
    assert_string_equal(out, "{\"error\":\"cannot process that\"}");
    assert_int_equal(get("/gen-fails", "{\"Data\":{\"x\":1}}", out), 500);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "function gen-fails failed");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "Logs"), 0)->valuestring,
                        "looked at the item");
    cJSON_Delete(j);
    /* every call is recorded with the status the client saw */
    struct invlog_rec recs[16];
    size_t n = invlog_drain(rt.app->invocations, recs, 16, NULL);
    assert_int_equal(n, 3);
    assert_string_equal(recs[0].fn, "fails");
    assert_int_equal(recs[0].status, 500);
    assert_int_equal(recs[1].status, 422);
    assert_true(recs[0].end_ns >= recs[0].start_ns && recs[0].start_ns > 0);
    for (size_t i = 0; i < n; i++)   /* the thread that ran it: a live tid of this process */
        assert_true(recs[i].tid > 0 && recs[i].tid < 1 << 22);
}

static void *bg_get(void *arg)
{
    static char out[4096];
    long st = get("/sleeps", NULL, out);
    return (void *)st;
}

static void test_time_limit_and_max_inflight(void **st)
{
    char out[4096];
    rt.exec_timeout = 0.1;
    assert_int_equal(get("/sleeps", NULL, out), 504);
    rt.exec_timeout = 0;
    while (atomic_load(&rt.app->running)) usleep(10000);   /* the timed-out call ends */
    rt.max_inflight = 1;
    pthread_t th;
    pthread_create(&th, NULL, bg_get, NULL);
    /* once the slow call holds the only slot, any other call is refused */
    for (int i = 0; i < 1000 && atomic_load(&rt.app->running) == 0; i++) usleep(1000);
    long seen = get("/refuses", NULL, out);
    void *r;
    pthread_join(th, &r);
    rt.max_inflight = 0;
    assert_int_equal(seen, 429);
    assert_int_equal((long)r, 200);
    invlog_drain(rt.app->invocations, NULL, 0, NULL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invlog_ring),
        cmocka_unit_test(test_invlog_keeps_a_uniform_sample),
        cmocka_unit_test(test_invlog_counts_every_call_under_concurrency),
        cmocka_unit_test(test_invlog_through_perfscript),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_azure_request_from_data),
        cmocka_unit_test(test_azure_http_output),
        cmocka_unit_test(test_request_json),
        cmocka_unit_test(test_failing_function_is_500),
        cmocka_unit_test(test_time_limit_and_max_inflight),
    };
    int rc = cmocka_run_group_tests_name("fnhandler", tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
