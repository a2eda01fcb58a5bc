/* Unit tests for collector/bodycheck: real perf-script text (plain, gzip, gzip in several
 * members, fed one byte at a time or in one piece) passes; truncated or corrupt gzip,
 * text that is not perf script, empty bodies and a Content-Encoding that lies fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../collector/bodycheck.h"
#include "fterr.h"

static char *text;
static size_t text_len;

static int load(void **state)
{
    const char *root = getenv("FNTRACE_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/perf-threads.stacks", root && *root ? root : ".");
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return -1; }
    text = malloc(1 << 20);
    text_len = fread(text, 1, 1 << 20, f);
    fclose(f);
    return text_len ? 0 : -1;
}

static int unload(void **state) { free(text); return 0; }

static unsigned char *gzip_of(const void *in, size_t len, size_t *out_len)
{
    z_stream z = { 0 };
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Feeds data in pieces of `step` bytes; returns the verdict of the whole body. */
static int check(const void *data, size_t len, size_t step, int declared_gzip, int *mode)
{
    struct bodycheck *bc = bodycheck_new(declared_gzip);
    assert_non_null(bc);
    char err[256];
    int v = 0;
    for (size_t off = 0; off < len && !v; off += step)
        v = bodycheck_feed(bc, (const char *)data + off, len - off < step ? len - off : step,
                           err, sizeof err);
    if (!v) v = bodycheck_finish(bc, err, sizeof err);
    if (mode) *mode = bodycheck_mode(bc);
    bodycheck_free(bc);
    return v;
}

static void test_plain_text(void **state)
{
    int mode;
    assert_int_equal(check(text, text_len, text_len, 0, &mode), 0);
    assert_int_equal(mode, BODY_PLAIN);
    assert_int_equal(check(text, text_len, 1, 0, NULL), 0);
    assert_int_equal(check(text, 100, 7, 0, NULL), 0);   /* short but complete */
}

static void test_gzip(void **state)
{
    size_t n;
    unsigned char *gz = gzip_of(text, text_len, &n);
    int mode;
    assert_int_equal(check(gz, n, n, 0, &mode), 0);      /* recognised by magic */
    assert_int_equal(mode, BODY_GZIP);
    assert_int_equal(check(gz, n, 1, 1, NULL), 0);
    assert_int_equal(check(gz, n, 4093, 1, NULL), 0);
    /* truncated anywhere: refused */
    assert_int_equal(check(gz, n - 1, n, 0, NULL), -FT_ERR_BODY_GZIP);
    assert_int_equal(check(gz, n / 2, 1000, 0, NULL), -FT_ERR_BODY_GZIP);
    assert_int_equal(check(gz, 2, 1, 0, NULL), -FT_ERR_BODY_GZIP);
    /* corrupt in the middle */
    unsigned char *bad = malloc(n);
    memcpy(bad, gz, n);
    for (size_t i = n / 2; i < n / 2 + 64; i++) bad[i] ^= 0x5a;
    assert_int_equal(check(bad, n, n, 0, NULL), -FT_ERR_BODY_GZIP);
    /* two members back to back, as `cat a.gz b.gz` makes */
    unsigned char *two = malloc(2 * n);
    memcpy(two, gz, n);
    memcpy(two + n, gz, n);
    assert_int_equal(check(two, 2 * n, 5000, 0, NULL), 0);
    assert_int_equal(check(two, 2 * n - 10, 5000, 0, NULL), -FT_ERR_BODY_GZIP);
    /* trailing junk after the stream */
    memcpy(two + n, "garbage", 7);
    assert_int_equal(check(two, n + 7, n + 7, 0, NULL), -FT_ERR_BODY_GZIP);
    free(two);
    free(bad);
    free(gz);
}

static void test_not_perf(void **state)
{
    const char *html = "<html><body>hello</body></html>\n";
    assert_int_equal(check(html, strlen(html), 5, 0, NULL), -FT_ERR_BODY_TYPE);
    const char *script = "#!/bin/sh\nrm -rf /\n";
    assert_int_equal(check(script, strlen(script), 100, 0, NULL), -FT_ERR_BODY_TYPE);
    char zeros[8192] = { 0 };
    assert_int_equal(check(zeros, sizeof zeros, 1000, 0, NULL), -FT_ERR_BODY_TYPE);
    size_t n;
    unsigned char *gz = gzip_of(html, strlen(html), &n);
    assert_int_equal(check(gz, n, n, 0, NULL), -FT_ERR_BODY_TYPE);
    free(gz);
    /* a gzip bomb of zeros is refused after its first few KB of output */
    char *big = calloc(1, 50 << 20);
    gz = gzip_of(big, 50 << 20, &n);
    free(big);
    struct bodycheck *bc = bodycheck_new(1);
    char err[256];
    assert_int_equal(bodycheck_feed(bc, gz, n, err, sizeof err), -FT_ERR_BODY_TYPE);
    assert_true(bodycheck_text_bytes(bc) < (1 << 20));
    bodycheck_free(bc);
    free(gz);
}

static void test_empty_and_lies(void **state)
{
    assert_int_equal(check("", 0, 1, 0, NULL), -FT_ERR_BODY_TYPE);
    assert_int_equal(check("#", 1, 1, 1, NULL), -FT_ERR_BODY_GZIP);  /* says gzip, one byte */
    /* says gzip, is text */
    assert_int_equal(check(text, text_len, 4096, 1, NULL), -FT_ERR_BODY_GZIP);
    size_t n;
    unsigned char *gz = gzip_of("", 0, &n);
    assert_int_equal(check(gz, n, n, 0, NULL), -FT_ERR_BODY_TYPE);
    free(gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_not_perf),
        cmocka_unit_test(test_empty_and_lies),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
