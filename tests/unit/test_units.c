/* Unit tests for lib/units: sizes and durations as users type them, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>

#include "units.h"

static void test_sizes(void **st)
{
    uint64_t v;
    assert_int_equal(units_size("0", &v), 0);        assert_true(v == 0);
    assert_int_equal(units_size("1234", &v), 0);     assert_true(v == 1234);
    assert_int_equal(units_size("512K", &v), 0);     assert_true(v == 512 * 1024);
    assert_int_equal(units_size("10M", &v), 0);      assert_true(v == 10ull << 20);
    assert_int_equal(units_size("10m", &v), 0);      assert_true(v == 10ull << 20);
    assert_int_equal(units_size("1G", &v), 0);       assert_true(v == 1ull << 30);
    assert_int_equal(units_size("2GiB", &v), 0);     assert_true(v == 2ull << 30);
    assert_int_equal(units_size("3T", &v), 0);       assert_true(v == 3ull << 40);
    assert_int_equal(units_size("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
}

static void test_bad_sizes(void **st)
{
    uint64_t v;
    assert_int_equal(units_size("", &v), -EINVAL);
    assert_int_equal(units_size(NULL, &v), -EINVAL);
    assert_int_equal(units_size("M", &v), -EINVAL);
    assert_int_equal(units_size("-1", &v), -EINVAL);
    assert_int_equal(units_size("1.5G", &v), -EINVAL);
    assert_int_equal(units_size("10 M", &v), -EINVAL);
    assert_int_equal(units_size("10X", &v), -EINVAL);
    assert_int_equal(units_size("18446744073709551616", &v), -ERANGE);
    assert_int_equal(units_size("20000000000T", &v), -ERANGE);
}

static void test_durations(void **st)
{
    int64_t v;
    assert_int_equal(units_duration_s("90s", &v), 0);  assert_true(v == 90);
    assert_int_equal(units_duration_s("90", &v), 0);   assert_true(v == 90);
    assert_int_equal(units_duration_s("30m", &v), 0);  assert_true(v == 1800);
    assert_int_equal(units_duration_s("12h", &v), 0);  assert_true(v == 43200);
    assert_int_equal(units_duration_s("7d", &v), 0);   assert_true(v == 604800);
    assert_int_equal(units_duration_s("2w", &v), 0);   assert_true(v == 1209600);
    assert_int_equal(units_duration_ms("250ms", &v), 0); assert_true(v == 250);
    assert_int_equal(units_duration_ms("2s", &v), 0);  assert_true(v == 2000);
}

static void test_bad_durations(void **st)
{
    int64_t v;
    assert_int_equal(units_duration_s("", &v), -EINVAL);
    assert_int_equal(units_duration_s("d", &v), -EINVAL);
    assert_int_equal(units_duration_s("-5s", &v), -EINVAL);
    assert_int_equal(units_duration_s("7days", &v), -EINVAL);
    assert_int_equal(units_duration_s("1500ms", &v), -EINVAL);
    assert_int_equal(units_duration_s("99999999999999999999d", &v), -ERANGE);
    assert_int_equal(units_duration_s("9999999999999999d", &v), -ERANGE);
}

/* fractional seconds: the OpenFaaS watchdog's variables and `fntrace record -d` */
static void test_seconds(void **st)
{
    double v;
    assert_int_equal(units_seconds("10s", &v), 0);   assert_true(v == 10);
    assert_int_equal(units_seconds("500ms", &v), 0); assert_true(v == 0.5);
    assert_int_equal(units_seconds("2m", &v), 0);    assert_true(v == 120);
    assert_int_equal(units_seconds("1.5s", &v), 0);  assert_true(v == 1.5);
    assert_int_equal(units_seconds("0.25", &v), 0);  assert_true(v == 0.25);
    assert_int_equal(units_seconds("7", &v), 0);     assert_true(v == 7);
    assert_int_equal(units_seconds("250us", &v), 0); assert_true(v > 0.000249 && v < 0.000251);
    assert_int_equal(units_seconds("soon", &v), -EINVAL);
    assert_int_equal(units_seconds("-1s", &v), -EINVAL);
    assert_int_equal(units_seconds("5 parsecs", &v), -EINVAL);
    assert_int_equal(units_seconds("", &v), -EINVAL);
    assert_int_equal(units_seconds("1.", &v), -EINVAL);
    assert_int_equal(units_seconds(".5", &v), -EINVAL);
    assert_int_equal(units_seconds("99999999999999999999w", &v), -ERANGE);
}

static void test_format_ns(void **st)
{
    (void)st;
    char b[32];
    assert_string_equal(units_format_ns(0, b, sizeof b), "0 ns");
    assert_string_equal(units_format_ns(850, b, sizeof b), "850 ns");
    assert_string_equal(units_format_ns(12345, b, sizeof b), "12.3 \u00b5s");
    assert_string_equal(units_format_ns(12300000, b, sizeof b), "12.3 ms");
    assert_string_equal(units_format_ns(999940000, b, sizeof b), "999.9 ms");
    assert_string_equal(units_format_ns(1204000000, b, sizeof b), "1.204 s");
    assert_string_equal(units_format_ns(5975000000ull, b, sizeof b), "5.975 s");
    assert_string_equal(units_format_ns(UINT64_MAX, b, sizeof b), "18446744073.710 s");
    /* a short buffer is cut, never overrun */
    char s[4] = "xxx";
    assert_string_equal(units_format_ns(12300000, s, sizeof s), "12.");
}

static void test_u64(void **st)
{
    (void)st;
    char b[UNITS_U64_MAX];
    assert_int_equal(units_u64(0, 0, b), 1);
    assert_string_equal(b, "0");
    assert_int_equal(units_u64(1234567, 0, b), 7);
    assert_string_equal(b, "1234567");
    assert_int_equal(units_u64(42, 6, b), 6);           /* printf's "%06llu" */
    assert_string_equal(b, "000042");
    assert_int_equal(units_u64(1234567, 3, b), 7);      /* a width never cuts */
    assert_string_equal(b, "1234567");
    assert_int_equal(units_u64(UINT64_MAX, 0, b), 20);
    assert_string_equal(b, "18446744073709551615");
    assert_int_equal(units_u64(7, 99, b), 20);          /* the width is bounded by buf */
    assert_string_equal(b, "00000000000000000007");
}

static void test_uint(void **st)
{
    uint64_t v;
    assert_int_equal(units_uint("8080", 65535, &v), 0); assert_true(v == 8080);
    assert_int_equal(units_uint("0", 10, &v), 0);       assert_true(v == 0);
    assert_int_equal(units_uint("65536", 65535, &v), -ERANGE);
    assert_int_equal(units_uint("10K", 1u << 20, &v), -EINVAL);
    assert_int_equal(units_uint("-1", 10, &v), -EINVAL);
    assert_int_equal(units_uint("", 10, &v), -EINVAL);
    assert_int_equal(units_uint(" 5", 10, &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bad_durations),
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_format_ns),
        cmocka_unit_test(test_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
