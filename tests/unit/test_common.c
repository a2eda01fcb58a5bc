/* Unit tests for the small shared rules of lib/: the error convention (fterr: every
 * fntrace code has a name and an HTTP status, body and stored-file failures differ), the
 * trace-name rule (tracename), the JSON error body (jsonerr), gzip (gz) and the hash
 * table (oatable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fterr.h"
#include "gz.h"
#include "jsonerr.h"
#include "oatable.h"
#include "tracename.h"
#include "utf8.h"

static void test_every_code_named_and_mapped(void **state)
{
    for (int e = FT_ERR__START; e < FT_ERR__END; e++) {
        const char *m = ft_strerror(-e);
        assert_non_null(m);
        assert_null(strstr(m, "Unknown error"));
        assert_string_equal(m, ft_strerror(e));
        int st = ft_http_status(-e);
        assert_true(st >= 400 && st <= 599);
    }
    assert_string_equal(ft_strerror(-ENOENT), strerror(ENOENT));
    assert_int_equal(ft_http_status(-ENOENT), 404);
    assert_int_equal(ft_http_status(-ENOSPC), 507);
    assert_int_equal(ft_http_status(-EIO), 500);
}

static void test_body_and_file_failures_differ(void **state)
{
    assert_int_equal(ft_http_status(-FT_ERR_BODY_TYPE), 415);   /* a request body */
    assert_int_equal(ft_http_status(-FT_ERR_BODY_GZIP), 400);
    assert_int_equal(ft_http_status(-FT_ERR_NOT_PERF), 422);    /* a stored file */
    assert_int_equal(ft_http_status(-FT_ERR_BAD_GZIP), 422);
    assert_int_equal(ft_http_status(-FT_ERR_EMPTY), 422);
    assert_int_equal(ft_http_status(-FT_ERR_BAD_NAME), 400);
}

static void test_trace_name_rule(void **state)
{
    char n[TRACE_NAME_MAX + 2];
    memset(n, 'a', sizeof n);
    n[TRACE_NAME_MAX] = 0;
    assert_true(trace_name_valid(n));
    n[TRACE_NAME_MAX] = 'a';
    n[TRACE_NAME_MAX + 1] = 0;
    assert_false(trace_name_valid(n));
    assert_false(trace_name_valid_n(n, TRACE_NAME_MAX + 1));
    assert_true(trace_name_valid_n(n, TRACE_NAME_MAX));
    assert_true(trace_name_valid("a.b_c-D9"));
    const char *bad[] = { "", ".hidden", "..", "a/b", "a b", "é", "a\\b", NULL };
    for (int i = 0; bad[i]; i++) assert_false(trace_name_valid(bad[i]));
    assert_false(trace_name_valid(NULL));
    assert_false(trace_name_valid_n("ab\0c", 4));            /* a NUL inside */
    assert_true(trace_name_valid_n("abc", 2));
}

static void test_trace_name_message(void **state)
{
    char err[256];
    assert_int_equal(trace_name_error(err, sizeof err, "--name", "a\"b\n", 4), -FT_ERR_BAD_NAME);
    assert_non_null(strstr(err, "--name \"a?b?\""));
    assert_non_null(strstr(err, TRACE_NAME_RULE));
    char longname[300];
    memset(longname, 'x', sizeof longname);
    trace_name_error(err, sizeof err, NULL, longname, sizeof longname);
    assert_non_null(strstr(err, "...\""));
    assert_true(strlen(err) < 200);
    trace_name_error(err, sizeof err, "name", NULL, 0);
    assert_non_null(strstr(err, "name \"\""));
}

static cJSON *error_of(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cJSON *o = json_error_v(msg, len, fmt, ap);
    va_end(ap);
    return o;
}

static void test_json_error_body(void **state)
{
    char msg[16];
    cJSON *o = error_of(msg, sizeof msg, "no trace %s \"%d\"", "x", 42);
    assert_non_null(o);
    assert_string_equal(msg, "no trace x \"42\"");
    char *s = cJSON_PrintUnformatted(o);
    assert_string_equal(s, "{\"error\":\"no trace x \\\"42\\\"\"}");
    free(s);
    cJSON_Delete(o);
    o = error_of(msg, sizeof msg, "%s", "a message longer than the buffer");
    assert_int_equal(strlen(msg), sizeof msg - 1);
    assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring, msg);
    cJSON_Delete(o);
}

static size_t gunzip(const unsigned char *gz, size_t n, char *out, size_t cap)
{
    z_stream z = { 0 };
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    size_t got = cap - z.avail_out;
    inflateEnd(&z);
    return got;
}

static void test_gzip_round_trip(void **state)
{
    size_t len = 1 << 20;
    char *text = malloc(len), *back = malloc(len + 1);
    for (size_t i = 0; i < len; i++) text[i] = "main;work;leaf 1\n"[i % 17] + (char)(i % 251 == 0);
    for (int level = GZ_FAST; level <= GZ_DEFAULT; level += GZ_DEFAULT - GZ_FAST) {
        unsigned char *gz;
        size_t n;
        assert_int_equal(gz_compress(text, len, level, &gz, &n), 0);
        assert_true(n > 18 && n < len / 4);
        assert_int_equal(gz[0], 0x1f);
        assert_int_equal(gz[1], 0x8b);
        assert_int_equal(gunzip(gz, n, back, len + 1), len);
        assert_memory_equal(back, text, len);
        free(gz);
    }
    unsigned char *gz;
    size_t n;
    assert_int_equal(gz_compress("", 0, GZ_FAST, &gz, &n), 0);
    assert_int_equal(gunzip(gz, n, back, 1), 0);
    free(gz);
    assert_int_equal(gz_compress(text, len, 0, &gz, &n), -EINVAL);
    assert_null(gz);
    free(text);
    free(back);
}

static void test_oatable_map_and_multimap(void **state)
{
    oatable t = { 0 };
    assert_int_equal(oat_get(&t, 5), 0);                  /* a zeroed table is empty */
    enum { N = 20000 };
    for (uint64_t k = 0; k < N; k++) assert_int_equal(oat_put(&t, k * 7919, k + 1), 0);
    assert_int_equal(t.len, N);
    assert_true(t.mask + 1 >= 2 * N);                     /* at most half full */
    for (uint64_t k = 0; k < N; k++) assert_int_equal(oat_get(&t, k * 7919), k + 1);
    assert_int_equal(oat_get(&t, 1), 0);
    for (uint64_t k = 0; k < N; k += 2) assert_int_equal(oat_put(&t, k * 7919, 0), 0);
    assert_int_equal(t.len, N / 2);
    for (uint64_t k = 0; k < N; k++) assert_int_equal(oat_get(&t, k * 7919), k % 2 ? k + 1 : 0);
    size_t pos = 0, seen = 0;
    uint64_t key, val;
    while (oat_iter(&t, &pos, &key, &val)) {
        assert_int_equal(key, (val - 1) * 7919);
        seen++;
    }
    assert_int_equal(seen, N / 2);
    oat_free(&t);
    /* one key many times: found in insertion order, also across growth */
    for (uint64_t v = 1; v <= 100; v++) {
        size_t i = oat_find(&t, 42);
        while (i != OAT_NONE && t.slot[i].val) i = oat_next(&t, i, 42);
        assert_int_equal(oat_insert_at(&t, i, 42, v), 0);
        assert_int_equal(oat_put(&t, 1000 + v, v), 0);
    }
    uint64_t want = 1;
    for (size_t i = oat_find(&t, 42); t.slot[i].val; i = oat_next(&t, i, 42))
        assert_int_equal(t.slot[i].val, want++);
    assert_int_equal(want, 101);
    assert_true(oat_memory(&t) >= 200 * sizeof(oat_slot));
    oat_free(&t);
    assert_int_equal(oat_memory(&t), 0);
}

static void test_utf8_valid_cut_fix(void **st)
{
    (void)st;
    assert_true(utf8_valid("plain", 5));
    assert_true(utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5", 9));   /* é € 🔥 */
    assert_false(utf8_valid("\xff", 1));
    assert_false(utf8_valid("\xc0\xaf", 2));            /* overlong '/' */
    assert_false(utf8_valid("\xed\xa0\x80", 3));       /* a surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4));   /* past U+10FFFF */
    assert_false(utf8_valid("\xe2\x82", 2));            /* truncated */
    /* cut: back to the start of a character cut by a byte limit, never inside one */
    assert_int_equal(utf8_cut("ab\xc3", 3), 2);
    assert_int_equal(utf8_cut("ab\xc3\xa9", 4), 4);
    assert_int_equal(utf8_cut("a\xe2\x82", 3), 1);
    assert_int_equal(utf8_cut("a\xf0\x9f\x94", 4), 1);
    assert_int_equal(utf8_cut("a\xf0\x9f\x94\xa5", 5), 5);
    size_t n;
    char *f = utf8_fix("a\xff\xc3\xa9\xe2\x82", 6, &n);
    assert_non_null(f);
    assert_string_equal(f, "a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(n, strlen(f));
    assert_true(utf8_valid(f, n));
    free(f);
    char *own = strdup("valid \xc3\xa9");
    size_t len = strlen(own);
    assert_ptr_equal(utf8_fix_owned(own, &len), own);   /* no copy when valid */
    free(own);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_named_and_mapped),
        cmocka_unit_test(test_body_and_file_failures_differ),
        cmocka_unit_test(test_trace_name_rule),
        cmocka_unit_test(test_trace_name_message),
        cmocka_unit_test(test_json_error_body),
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_oatable_map_and_multimap),
        cmocka_unit_test(test_utf8_valid_cut_fix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
