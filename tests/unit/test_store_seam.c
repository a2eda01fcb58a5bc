/* Unit tests for the store seam: the --store argument parser (store_open_spec), store
 * readers over the directory backend (callback and fd), lib/azxml (the List Blobs reader:
 * what it takes and what it refuses) and ps_parse_read (the callback-fed parser: plain,
 * gzip in several members, truncated gzip, a failing reader).  The blob backend itself
 * runs against Azurite in tests/e2e/test_store_azblob.py. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "azxml.h"
#include "fterr.h"
#include "perfscript.h"
#include "store.h"

static const char LIST[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1/x\" ContainerName=\"t\">"
    "<Prefix/><Blobs>"
    "<Blob><Name>fib/a.perf</Name><Properties>"
    "<Last-Modified>Wed, 02 Dec 2026 01:08:54 GMT</Last-Modified><Etag>0x8D1</Etag>"
    "<Content-Length>195343</Content-Length><Content-Encoding /></Properties></Blob>\n"
    "<Blob><Name Encoded=\"true\">a%00b</Name><Properties><Content-Length>1</Content-Length>"
    "</Properties></Blob>"
    "<Blob><Name>x/a&amp;b&#x41;&#66;&lt;.perf.gz</Name><Properties>"
    "<Content-Length>7</Content-Length></Properties></Blob>"
    "</Blobs><NextMarker>2!80!MDAw--</NextMarker></EnumerationResults>";

struct got {
    struct azxml_blob b[4];
    int n;
};

static int collect(void *ctx, const struct azxml_blob *b)
{
    struct got *g = ctx;
    if (g->n < 4) g->b[g->n] = *b;
    g->n++;
    return 0;
}

static void test_azxml_list(void **state)
{
    struct got g = { 0 };
    char next[64], err[128];
    assert_int_equal(azxml_list_parse(LIST, strlen(LIST), collect, &g, next, sizeof next,
                                      err, sizeof err), 0);
    assert_int_equal(g.n, 2);                       /* the Encoded name is skipped */
    assert_string_equal(g.b[0].name, "fib/a.perf");
    assert_string_equal(g.b[0].etag, "0x8D1");
    assert_string_equal(g.b[0].last_modified, "Wed, 02 Dec 2026 01:08:54 GMT");
    assert_int_equal(g.b[0].content_length, 195343);
    assert_string_equal(g.b[1].name, "x/a&bAB<.perf.gz");
    assert_int_equal(g.b[1].content_length, 7);
    assert_string_equal(next, "2!80!MDAw--");
}

static void test_azxml_refuses(void **state)
{
    static const char *const bad[] = {
        "",
        "<Other/>",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><EnumerationResults/>",
        "<EnumerationResults><Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs>",
        "<EnumerationResults>&unknown;</EnumerationResults>",
        "<EnumerationResults>&#0;</EnumerationResults>",
        "<EnumerationResults>&#x110000;</EnumerationResults>",
        "<EnumerationResults><![CDATA[x]]></EnumerationResults>",
        "<EnumerationResults a=b></EnumerationResults>",
        "<EnumerationResults/><EnumerationResults/>",
        "text<EnumerationResults/>",
        "<EnumerationResults><Blobs><Blob><Properties><Content-Length>-1</Content-Length>"
        "</Properties></Blob></Blobs></EnumerationResults>",
        "<EnumerationResults><Blobs><Blob><Properties><Content-Length>99999999999999999999999"
        "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct got g = { 0 };
        char err[128] = "";
        int r = azxml_list_parse(bad[i], strlen(bad[i]), collect, &g, NULL, 0, err, sizeof err);
        if (r != -FT_ERR_BAD_INPUT) fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != 0);
    }
    /* nesting past the bound */
    char deep[2048] = "<EnumerationResults>";
    for (int i = 0; i < 20; i++) strcat(deep, "<a>");
    assert_int_equal(azxml_list_parse(deep, strlen(deep), collect, &(struct got){ 0 }, NULL, 0,
                                      NULL, 0), -FT_ERR_BAD_INPUT);
    /* a name longer than the bound */
    size_t n = AZXML_TEXT_MAX + 200;
    char *big = malloc(n + 200);
    strcpy(big, "<EnumerationResults><Blobs><Blob><Name>");
    size_t l = strlen(big);
    memset(big + l, 'a', AZXML_TEXT_MAX + 10);
    strcpy(big + l + AZXML_TEXT_MAX + 10, "</Name></Blob></Blobs></EnumerationResults>");
    assert_int_equal(azxml_list_parse(big, strlen(big), collect, &(struct got){ 0 }, NULL, 0,
                                      NULL, 0), -FT_ERR_BAD_INPUT);
    free(big);
}

static void test_spec_parsing(void **state)
{
    char err[256], dir[] = "/tmp/test_seam.XXXXXX", spec[300];
    assert_non_null(mkdtemp(dir));
    int code = 0;
    snprintf(spec, sizeof spec, "dir:%s", dir);
    store *st = store_open_spec(spec, NULL, &code, err, sizeof err);
    assert_non_null(st);
    assert_string_equal(store_describe(st), spec);
    /* a reader: the fd fast path and the callback give the same bytes */
    store_put *p = store_put_begin(st, "fib", 0, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(store_put_write(p, "hello blob", 10), 0);
    struct store_entry e;
    assert_int_equal(store_put_commit(p, &e), 0);
    store_reader *r;
    struct store_entry e2;
    assert_int_equal(store_open_reader(st, e.id, &r, &e2), 0);
    assert_string_equal(e2.version, e.version);
    assert_true(store_reader_fd(r) >= 0);
    char buf[32];
    assert_int_equal(store_read(r, buf, sizeof buf), 10);
    assert_memory_equal(buf, "hello blob", 10);
    assert_int_equal(store_read(r, buf, sizeof buf), 0);
    store_reader_close(r);
    assert_int_equal(store_open_reader(st, "../x", &r, NULL), -EINVAL);
    assert_int_equal(store_open_reader(st, "fib/none.perf", &r, NULL), -ENOENT);
    struct store_op_stats ops;
    store_op_stats_get(st, &ops);
    assert_int_equal(ops.count[STORE_OP_PUT], 1);
    assert_int_equal(ops.errors[STORE_OP_GET], 0);     /* "no such trace" is no error */
    assert_int_equal(store_delete(st, e.id), 0);
    store_close(st);
    /* a plain path is the directory too */
    assert_non_null(st = store_open_spec(dir, NULL, &code, err, sizeof err));
    store_close(st);
    rmdir(dir);

    static const char *const bad[] = {
        "", "s3://bucket/x", "azblob://", "azblob://acct", "azblob://acct/", "azblob://ACCT/traces",
        "azblob://acct/Traces", "azblob://acct/a", "azblob://acct/-abc", "azblob://acct/ab--c",
        "azblob://acct/traces/more", "dir:", "ftp:x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        code = 0;
        err[0] = 0;
        if (store_open_spec(bad[i], NULL, &code, err, sizeof err)) fail_msg("opened %s", bad[i]);
        assert_int_equal(code, -FT_ERR_BAD_INPUT);
        assert_true(err[0] != 0);
    }
}

static void test_azblob_credentials(void **state)
{
    char err[256];
    int code = 0;
    unsetenv("AZURE_STORAGE_CONNECTION_STRING");
    unsetenv("AZURE_STORAGE_KEY");
    unsetenv("AZURE_STORAGE_SAS_TOKEN");
    assert_null(store_open_spec("azblob://acct/traces", NULL, &code, err, sizeof err));
    assert_int_equal(code, -FT_ERR_UNAUTHORIZED);
    assert_non_null(strstr(err, "AZURE_STORAGE_CONNECTION_STRING"));
    /* plain http beyond loopback is refused before anything is sent */
    setenv("AZURE_STORAGE_CONNECTION_STRING",
           "AccountName=acct;AccountKey=a2V5a2V5;BlobEndpoint=http://192.0.2.1/acct", 1);
    assert_null(store_open_spec("azblob://acct/traces", NULL, &code, err, sizeof err));
    assert_non_null(strstr(err, "plain http"));
    /* the account of the connection string and of the store must agree */
    setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=other;AccountKey=a2V5a2V5", 1);
    assert_null(store_open_spec("azblob://acct/traces", NULL, &code, err, sizeof err));
    assert_int_equal(code, -FT_ERR_BAD_INPUT);
    setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true", 1);
    assert_null(store_open_spec("azblob://acct/traces", NULL, &code, err, sizeof err));
    assert_non_null(strstr(err, "devstoreaccount1"));
    setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct;AccountKey=not*base64", 1);
    assert_null(store_open_spec("azblob://acct/traces", NULL, &code, err, sizeof err));
    assert_non_null(strstr(err, "base64"));
    /* nothing listens on port 1: unreachable, after the retries */
    setenv("AZURE_STORAGE_CONNECTION_STRING",
           "AccountName=acct;AccountKey=a2V5a2V5;BlobEndpoint=http://127.0.0.1:1/acct", 1);
    assert_null(store_open_spec("azblob://acct/traces", NULL, &code, err, sizeof err));
    assert_int_equal(code, -FT_ERR_STORE_DOWN);
    unsetenv("AZURE_STORAGE_CONNECTION_STRING");
}

/* --- ps_parse_read ---------------------------------------------------------------- */

static const char SAMPLE[] =
    "fn 10/10 [000]   100.000001:    5000000 cpu-clock: \n"
    "\t            1217 hash_block+0x27 (/srv/fn/worker)\n"
    "\t            135a thread_main+0x6a (/srv/fn/worker)\n\n";

struct mem { const unsigned char *p; size_t len, pos, step; int fail_at; };

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
    struct mem *m = ctx;
    if (m->fail_at >= 0 && m->pos >= (size_t)m->fail_at) return -EIO;
    size_t n = m->len - m->pos;
    if (n > len) n = len;
    if (n > m->step) n = m->step;
    memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static size_t gz(const char *text, size_t len, unsigned char *out, size_t cap)
{
    z_stream z = { 0 };
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static int count_sample(void *ctx, const ps_sample *s)
{
    ++*(int *)ctx;
    return 0;
}

static int parse_with(struct mem *m, int *samples, char *err, size_t errlen)
{
    ps_parse_opts o = { 0 };
    o.on_sample = count_sample;
    o.ctx = samples;
    ps_parser *p = ps_parser_new(&o);
    int r = ps_parse_read(p, mem_read, m, err, errlen);
    ps_parser_free(p);
    return r;
}

static void test_parse_read(void **state)
{
    size_t n = 300;
    size_t tlen = strlen(SAMPLE) * n;
    char *text = malloc(tlen + 1);
    for (size_t i = 0; i < n; i++) memcpy(text + i * strlen(SAMPLE), SAMPLE, strlen(SAMPLE));
    char err[128];
    int samples = 0;
    struct mem m = { (unsigned char *)text, tlen, 0, 777, -1 };
    assert_int_equal(parse_with(&m, &samples, err, sizeof err), 0);
    assert_int_equal(samples, (int)n);
    /* two gzip members, read a few bytes at a time */
    unsigned char *z = malloc(2 * tlen + 1024);
    size_t half = tlen / 2 / strlen(SAMPLE) * strlen(SAMPLE);
    size_t zl = gz(text, half, z, tlen + 512);
    zl += gz(text + half, tlen - half, z + zl, tlen + 512);
    samples = 0;
    m = (struct mem){ z, zl, 0, 13, -1 };
    assert_int_equal(parse_with(&m, &samples, err, sizeof err), 0);
    assert_int_equal(samples, (int)n);
    /* truncated gzip is an error, not a short profile taken for whole */
    samples = 0;
    m = (struct mem){ z, zl - 9, 0, 4096, -1 };
    assert_int_equal(parse_with(&m, &samples, err, sizeof err), -FT_ERR_BAD_GZIP);
    /* a reader's error comes back as it is */
    samples = 0;
    m = (struct mem){ (unsigned char *)text, tlen, 0, 100, 1000 };
    assert_int_equal(parse_with(&m, &samples, err, sizeof err), -EIO);
    free(z);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azxml_list),
        cmocka_unit_test(test_azxml_refuses),
        cmocka_unit_test(test_spec_parsing),
        cmocka_unit_test(test_azblob_credentials),
        cmocka_unit_test(test_parse_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
