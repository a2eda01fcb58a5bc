/* test_web_assets — the web UI built into fntrace-flamescope: the table that
 * tools/embed-assets.mjs generates from the bundle, and web_asset_find(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "../../flamescope/web_assets.h"

static int contains(const struct web_asset *a, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= a->len; i++)
        if (memcmp(a->data + i, needle, n) == 0)
            return 1;
    return 0;
}

static void test_index_is_served_at_root(void **state)
{
    const struct web_asset *root = web_asset_find("/");
    const struct web_asset *index = web_asset_find("/index.html");

    (void)state;
    assert_non_null(root);
    assert_non_null(index);
    assert_ptr_equal(root->data, index->data);
    assert_int_equal(root->len, index->len);
    assert_string_equal(root->content_type, "text/html; charset=utf-8");
    assert_true(contains(root, "<script src=\"app.js\">"));
    assert_true(contains(root, "href=\"app.css\""));
    /* nothing from the internet: no absolute URL in the page */
    assert_false(contains(root, "http://"));
    assert_false(contains(root, "https://"));
}

static void test_bundle_files(void **state)
{
    const struct web_asset *js = web_asset_find("/app.js");
    const struct web_asset *css = web_asset_find("/app.css");

    (void)state;
    assert_non_null(js);
    assert_non_null(css);
    assert_string_equal(js->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(css->content_type, "text/css; charset=utf-8");
    assert_true(js->len > 10000);            /* d3 + d3-flame-graph + the UI */
    assert_true(contains(js, "heatmap/"));
    assert_true(contains(css, ".d3-flame-graph"));
    assert_false(contains(css, "url(http"));
}

/* The gzip copy inflates to exactly the plain bytes. */
static void test_gzip_matches(void **state)
{
    (void)state;
    for (size_t i = 0; i < web_assets_count; i++) {
        const struct web_asset *a = &web_assets[i];
        z_stream z = {0};
        unsigned char *out;

        if (a->gzip == NULL) {
            assert_int_equal(a->gzip_len, 0);
            continue;
        }
        assert_true(a->gzip_len < a->len);
        out = malloc(a->len + 1);
        assert_non_null(out);
        assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
        z.next_in = (unsigned char *)a->gzip;
        z.avail_in = (uInt)a->gzip_len;
        z.next_out = out;
        z.avail_out = (uInt)a->len + 1;
        assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
        assert_int_equal(z.total_out, a->len);
        assert_memory_equal(out, a->data, a->len);
        inflateEnd(&z);
        free(out);
    }
}

static void test_etags_and_order(void **state)
{
    (void)state;
    assert_true(web_assets_count >= 4);
    for (size_t i = 0; i < web_assets_count; i++) {
        const char *e = web_assets[i].etag;

        assert_true(strlen(e) > 2 && e[0] == '"' && e[strlen(e) - 1] == '"');
        if (i > 0)
            assert_true(strcmp(web_assets[i - 1].path, web_assets[i].path) < 0);
        assert_ptr_equal(web_asset_find(web_assets[i].path), &web_assets[i]);
    }
}

static void test_unknown_paths(void **state)
{
    (void)state;
    assert_null(web_asset_find(NULL));
    assert_null(web_asset_find(""));
    assert_null(web_asset_find("/nope.js"));
    assert_null(web_asset_find("/app.js?v=1"));   /* the caller strips the query */
    assert_null(web_asset_find("app.js"));
    assert_null(web_asset_find("/../app.js"));
    assert_null(web_asset_find("/zzzz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_is_served_at_root),
        cmocka_unit_test(test_bundle_files),
        cmocka_unit_test(test_gzip_matches),
        cmocka_unit_test(test_etags_and_order),
        cmocka_unit_test(test_unknown_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
