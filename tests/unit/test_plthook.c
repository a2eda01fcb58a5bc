/* Unit tests for lib/plthook on a real loaded library: libcjson, whose
 * cJSON_GetObjectItemCaseSensitive calls strcmp through its GOT.  The replacement must
 * see libcjson's calls and only those (this program's own strcmp is untouched), the
 * answers must stay right, putting the original back must restore the library, and a
 * library or import that is not there is a clear -ENOENT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "plthook.h"

static int (*real_strcmp)(const char *, const char *);
static int calls;

static int counting_strcmp(const char *a, const char *b)
{
    calls++;
    return real_strcmp(a, b);
}

static void test_replaces_the_librarys_calls_only(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"alpha\": 1, \"beta\": 2}");
    assert_non_null(o);
    char err[256] = "";
    void *orig = NULL;
    int n = plthook_replace("libcjson.so", "strcmp", (void *)counting_strcmp, &orig, err,
                            sizeof err);
    assert_true(n >= 1);
    assert_non_null(orig);
    real_strcmp = (int (*)(const char *, const char *))orig;

    calls = 0;
    cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "beta");
    assert_non_null(b);
    assert_int_equal(b->valueint, 2);
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "gamma"));
    assert_true(calls >= 3);                   /* alpha, beta; alpha, beta for gamma */

    /* this program's own calls do not go through libcjson's slots */
    int (*volatile mine)(const char *, const char *) = strcmp;
    int before = calls;
    assert_int_equal(mine("x", "x"), 0);
    assert_int_equal(calls, before);

    /* the original back: libcjson calls it again, and nothing counts */
    void *was = NULL;
    assert_int_equal(plthook_replace("libcjson.so", "strcmp", orig, &was, err, sizeof err), n);
    assert_ptr_equal(was, (void *)counting_strcmp);
    calls = 0;
    assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "alpha"));
    assert_int_equal(calls, 0);
    cJSON_Delete(o);
}

static void test_missing_library_or_import_is_enoent(void **state)
{
    (void)state;
    char err[256] = "";
    void *orig = (void *)1;
    assert_int_equal(plthook_replace("libnot-loaded-here.so", "strcmp", (void *)counting_strcmp,
                                     &orig, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "libnot-loaded-here.so"));
    assert_ptr_equal(orig, (void *)1);
    assert_int_equal(plthook_replace("libcjson.so", "no_such_function_anywhere",
                                     (void *)counting_strcmp, &orig, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "does not import no_such_function_anywhere"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replaces_the_librarys_calls_only),
        cmocka_unit_test(test_missing_library_or_import_is_enoent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
