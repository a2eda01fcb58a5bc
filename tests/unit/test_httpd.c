/* Unit tests for lib/httpd: a real server on a free loopback port, real requests with
 * libcurl.  Covers routing (404/405), buffered bodies and their limit (413 before the
 * body is read), streaming bodies, a reply made mid-stream, `done` on every request
 * (also when the client goes away), JSON errors, headers and query arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include "httpd.h"
#include "log.h"

struct stream_state { size_t bytes; int chunks; };
static atomic_int done_completed, done_aborted;
static atomic_size_t streamed_bytes;

static int h_hello(httpd_req *req, void *arg)
{
    const char *name = httpd_req_query(req, "name");
    const char *hdr = httpd_req_header(req, "x-name");   /* case-insensitive */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name ? name : "");
    cJSON_AddStringToObject(o, "header", hdr ? hdr : "");
    cJSON_AddStringToObject(o, "url", httpd_req_url(req));
    httpd_add_header(req, "X-Test", "yes");
    return httpd_reply_json(req, 200, o);
}

static int h_echo(httpd_req *req, void *arg)
{
    size_t len;
    const char *body = httpd_req_body(req, &len);
    return httpd_reply(req, 200, "application/octet-stream", body, len);
}

static int s_begin(httpd_req *req, void *arg)
{
    if (httpd_req_header(req, "X-Reject")) return httpd_reply_error(req, 401, "go away");
    struct stream_state *st = calloc(1, sizeof *st);
    httpd_req_set_state(req, st);
    return st ? 0 : -1;
}

static int s_data(httpd_req *req, const char *data, size_t len, void *arg)
{
    struct stream_state *st = httpd_req_state(req);
    st->bytes += len;
    st->chunks++;
    if (st->bytes > 1000000) return httpd_reply_error(req, 507, "pretend the disk is full");
    return 0;
}

static int s_handle(httpd_req *req, void *arg)
{
    struct stream_state *st = httpd_req_state(req);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "bytes", (double)st->bytes);
    return httpd_reply_json(req, 201, o);
}

static void s_done(httpd_req *req, int completed, void *arg)
{
    struct stream_state *st = httpd_req_state(req);
    if (completed) atomic_fetch_add(&done_completed, 1);
    else atomic_fetch_add(&done_aborted, 1);
    if (st) atomic_fetch_add(&streamed_bytes, st->bytes);
    free(st);
}

static int h_fail(httpd_req *req, void *arg) { return -1; }

/* hand-off: the pool thread parks the request, another thread answers it later */
static void *park_answer(void *arg)
{
    httpd_req *req = arg;
    usleep(200 * 1000);
    httpd_add_header(req, "X-Parked", "1");
    httpd_reply(req, 202, "text/plain", "answered elsewhere", 18);
    httpd_req_resume(req);
    return NULL;
}

static int h_park(httpd_req *req, void *arg)
{
    if (httpd_req_suspend(req)) return httpd_reply_error(req, 409, "cannot park");
    pthread_t th;
    pthread_create(&th, NULL, park_answer, req);
    pthread_detach(th);
    return 0;
}

static const struct httpd_route routes[] = {
    { .method = "GET", .path = "/hello", .handle = h_hello },
    { .method = "POST", .path = "/echo", .handle = h_echo, .max_body = 1000 },
    { .method = "POST", .path = "/stream", .handle = s_handle, .begin = s_begin,
      .data = s_data, .done = s_done },
    { .method = NULL, .path = "/fail/*", .handle = h_fail },
    { .method = "GET", .path = "/park", .handle = h_park },
    { 0 },
};

static httpd *srv;
static char base[64];

struct buf { char *p; size_t n; };
static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
    struct buf *b = ud;
    b->p = realloc(b->p, b->n + sz * nm + 1);
    memcpy(b->p + b->n, p, sz * nm);
    b->n += sz * nm;
    b->p[b->n] = 0;
    return sz * nm;
}

/* one request; returns the status, body in *out (caller frees) */
static long request(const char *method, const char *path, const char *body, long long len,
                    const char *header, struct buf *out)
{
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static int setup(void **st)
{
    char err[256];
    log_set_level(LOG_WARN);
    struct httpd_opts o = { .listen = "127.0.0.1", .port = 0, .name = "test",
                            .threads = 1, .flags = HTTPD_ALLOW_SUSPEND };
    httpd_block_signals();
    srv = httpd_start(&o, routes, err, sizeof err);
    if (!srv) { fprintf(stderr, "%s\n", err); return -1; }
    snprintf(base, sizeof base, "http://127.0.0.1:%u", httpd_port(srv));
    return 0;
}

static int teardown(void **st) { httpd_stop(srv); return 0; }

static void test_get_with_query_and_headers(void **st)
{
    struct buf b = { 0 };
    assert_int_equal(request("GET", "/hello?name=fn%20one&x=1", NULL, 0, "X-Name: abc", &b), 200);
    cJSON *o = cJSON_Parse(b.p);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "fn one");
    assert_string_equal(cJSON_GetObjectItem(o, "header")->valuestring, "abc");
    assert_string_equal(cJSON_GetObjectItem(o, "url")->valuestring, "/hello?name=fn%20one&x=1");
    cJSON_Delete(o);
    free(b.p);
}

static void test_unknown_path_and_method(void **st)
{
    struct buf b = { 0 };
    assert_int_equal(request("GET", "/nope", NULL, 0, NULL, &b), 404);
    assert_non_null(strstr(b.p, "\"error\""));
    free(b.p);
    b = (struct buf){ 0 };
    assert_int_equal(request("DELETE", "/hello", NULL, 0, NULL, &b), 405);
    free(b.p);
}

static void test_buffered_body_and_limit(void **st)
{
    struct buf b = { 0 };
    assert_int_equal(request("POST", "/echo", "ping", 4, NULL, &b), 200);
    assert_int_equal(b.n, 4);
    assert_memory_equal(b.p, "ping", 4);
    free(b.p);
    char *big = calloc(1, 5000);
    memset(big, 'x', 4999);
    b = (struct buf){ 0 };
    assert_int_equal(request("POST", "/echo", big, 4999, NULL, &b), 413);
    assert_non_null(strstr(b.p, "over 1000 bytes"));
    free(b.p);
    free(big);
}

static void test_streamed_body(void **st)
{
    size_t n = 300000;
    char *body = malloc(n);
    memset(body, 'a', n);
    int before = atomic_load(&done_completed);
    struct buf b = { 0 };
    assert_int_equal(request("POST", "/stream", body, (long long)n, NULL, &b), 201);
    cJSON *o = cJSON_Parse(b.p);
    assert_int_equal((size_t)cJSON_GetObjectItem(o, "bytes")->valuedouble, n);
    cJSON_Delete(o);
    free(b.p);
    free(body);
    for (int i = 0; i < 100 && atomic_load(&done_completed) == before; i++) usleep(10000);
    assert_int_equal(atomic_load(&done_completed), before + 1);
}

static void test_reply_mid_stream(void **st)
{
    size_t n = 3000000;
    char *body = malloc(n);
    memset(body, 'b', n);
    struct buf b = { 0 };
    assert_int_equal(request("POST", "/stream", body, (long long)n, NULL, &b), 507);
    assert_non_null(strstr(b.p, "disk is full"));
    free(b.p);
    free(body);
}

static void test_reject_in_begin(void **st)
{
    struct buf b = { 0 };
    assert_int_equal(request("POST", "/stream", "abc", 3, "X-Reject: 1", &b), 401);
    assert_non_null(strstr(b.p, "go away"));
    free(b.p);
}

static void test_failing_handler_is_500(void **st)
{
    struct buf b = { 0 };
    assert_int_equal(request("GET", "/fail/x", NULL, 0, NULL, &b), 500);
    assert_non_null(strstr(b.p, "internal error"));
    free(b.p);
}

static void *park_request(void *arg)
{
    struct buf *b = arg;
    return (void *)request("GET", "/park", NULL, 0, NULL, b);
}

static void test_suspend_and_resume(void **st)
{
    struct buf parked = { 0 }, b = { 0 };
    pthread_t th;
    pthread_create(&th, NULL, park_request, &parked);
    usleep(50 * 1000);
    /* the only pool thread is free while the parked request waits */
    assert_int_equal(request("GET", "/hello?name=x", NULL, 0, NULL, &b), 200);
    void *status;
    pthread_join(th, &status);
    assert_int_equal((long)status, 202);
    assert_string_equal(parked.p, "answered elsewhere");
    free(parked.p);
    free(b.p);
    for (int i = 0; i < 500 && httpd_inflight(srv); i++) usleep(10000);
    assert_int_equal(httpd_inflight(srv), 0);     /* done ran for the parked request */
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_query_and_headers),
        cmocka_unit_test(test_unknown_path_and_method),
        cmocka_unit_test(test_buffered_body_and_limit),
        cmocka_unit_test(test_streamed_body),
        cmocka_unit_test(test_reply_mid_stream),
        cmocka_unit_test(test_reject_in_begin),
        cmocka_unit_test(test_failing_handler_is_500),
        cmocka_unit_test(test_suspend_and_resume),
    };
    int rc = cmocka_run_group_tests_name("httpd", tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
