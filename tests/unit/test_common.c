/* Unit tests for the small shared rules of lib/: the error convention (fterr: every
 * fntrace code has a name and an HTTP status, body and stored-file failures differ), the
 * trace-name rule (tracename) and the JSON error body (jsonerr). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fterr.h"
#include "jsonerr.h"
#include "tracename.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_named_and_mapped),
        cmocka_unit_test(test_body_and_file_failures_differ),
        cmocka_unit_test(test_trace_name_rule),
        cmocka_unit_test(test_trace_name_message),
        cmocka_unit_test(test_json_error_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
