/* Unit tests for flamescope's modules: sbuf's Python-style floats and JSON strings, the
 * profile index on small texts (FlameScope's comm cut, '+' cut, "->" inlining, java 'L',
 * idle verdicts of the heatmap and the flame graph, FlameScope's range arithmetic, the
 * folded naming, varying periods, invocations, unsorted samples), the flame tree's
 * differential/elided arithmetic (Python rounding), the cache's single flight, and the
 * index image: loaded copies answer like the built index, damaged ones are refused. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fterr.h"
#include "gz.h"
#include "../../flamescope/export.h"
#include "../../flamescope/ftree.h"
#include "../../flamescope/pcache.h"
#include "../../flamescope/pindex.h"
#include "../../flamescope/profile.h"
#include "../../flamescope/sbuf.h"
#include "../../flamescope/views.h"

static char *take(sbuf *b)
{
    char *s = sbuf_take(b, NULL);
    assert_non_null(s);
    return s;
}

static void test_pyfloat(void **st)
{
    struct { double v; const char *want; } cases[] = {
        {980.0, "980.0"}, {0.0, "0.0"}, {1000.0 * (1.0 / 3.0), "333.3333333333333"},
        {1000.0 * (2.0 / 3.0), "666.6666666666666"}, {0.1, "0.1"}, {1e16, "1e+16"},
        {123456789.125, "123456789.125"}, {-2.5, "-2.5"}, {1e-05, "1e-05"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sbuf b;
        sbuf_init(&b);
        sbuf_pyfloat(&b, cases[i].v);
        char *s = take(&b);
        assert_string_equal(s, cases[i].want);
        free(s);
    }
}

static void test_json_str(void **st)
{
    sbuf b;
    sbuf_init(&b);
    const char in[] = "a\"b\\c\n\x01 \xc3\xa9 \xff end";
    sbuf_json_str(&b, in, sizeof in - 1);
    char *s = take(&b);
    assert_string_equal(s, "\"a\\\"b\\\\c\\n\\u0001 \xc3\xa9 \\ufffd end\"");
    free(s);
}

/* An index built from text through a memfd (the way the daemon reads files). */
static profile *build(const char *text, int *errp)
{
    int fd = memfd_create("profile", 0);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    char err[256];
    int e = 0;
    profile *p = profile_build(fd, 0, &e, err, sizeof err);
    close(fd);
    if (errp)
        *errp = e;
    return p;
}

static char *tree_json(const profile *p, const struct profile_range *r)
{
    ftree *t = ftree_build(p, r);
    assert_non_null(t);
    sbuf b;
    sbuf_init(&b);
    ftree_json(t, &b);
    ftree_free(t);
    return take(&b);
}

static const char SAMPLE_TEXT[] =
    "# ========\n"
    "# fntrace invocation : id=abc fn=fib start=10.250000000 end=10.750000000 status=200\n"
    "# ========\n"
    "java 1/2 [000] 10.100000: 5000000 cpu-clock: \n"
    "\t1 Lcom/x/Y;::run+0x1 (/tmp/perf-1.map)\n"
    "\t2 a->b (/srv/app)\n"
    "\n"
    "kworker/u8:2-ev 3/3 [000] 10.300000: 10000000 cpu-clock: \n"
    "\t3 work+0x5 ([kernel.kallsyms])\n"
    "\n"
    "swapper 0/0 [001] 10.500000: 5000000 cpu-clock: \n"
    "\t4 native_safe_halt+0x1 ([kernel.kallsyms])\n"
    "\t5 cpu_startup_entry ([kernel.kallsyms])\n"
    "\n"
    "swapper 0/0 [001] 11.200000: 5000000 cpu-clock: \n"
    "\t6 intel_idle+0x1 (/lib/modules/cpuidle.ko)\n"
    "\n"
    "swapper 0/0 [001] 12.900000: 5000000 cpu-clock: \n"
    "\t4 native_safe_halt+0x1 ([kernel.kallsyms])\n"
    "\n";

static void test_profile_namings(void **st)
{
    profile *p = build(SAMPLE_TEXT, NULL);
    assert_non_null(p);
    assert_int_equal(profile_nsamples(p), 5);
    struct profile_range all;
    profile_range_all(p, &all);
    assert_true(all.start_s == 10.0 && all.end_s == 13.0);
    char *j = tree_json(p, &all);
    /* java: 'L' dropped, '+' cut, jit type; "a->b": b inlined; comm cut at its digit;
     * the idle swapper sample dropped but the last one (FlameScope adds the last sample
     * of the file without its idle test); the cpuidle.ko sample is idle only for the
     * heatmap (the module is not part of the flame graph's text) */
    assert_non_null(strstr(j, "{\"n\":\"java\",\"l\":\"\",\"v\":0,"
                              "\"c\":[{\"n\":\"a\",\"l\":\"user\",\"v\":0,"
                              "\"c\":[{\"n\":\"b\",\"l\":\"inlined\",\"v\":0,"
                              "\"c\":[{\"n\":\"com/x/Y;::run\","
                              "\"l\":\"jit\",\"v\":1,\"c\":[]}]}]}]}"));
    assert_non_null(strstr(j, "{\"n\":\"kworker/u\",\"l\":\"\",\"v\":0,"
                              "\"c\":[{\"n\":\"work\",\"l\":\"kernel\",\"v\":1"));
    assert_non_null(strstr(j, "\"n\":\"intel_idle\",\"l\":\"user\",\"v\":1"));
    assert_non_null(strstr(j, "\"n\":\"native_safe_halt\",\"l\":\"kernel\",\"v\":1"));
    free(j);
    assert_false(profile_fs_heat_idle(p, 0));
    assert_false(profile_fs_heat_idle(p, 1));
    assert_true(profile_fs_heat_idle(p, 2));
    assert_true(profile_fs_heat_idle(p, 3));

    /* folded: stackcollapse naming and period weights */
    sbuf b;
    sbuf_init(&b);
    assert_int_equal(export_write(p, NULL, export_find("folded"), "t", &b), 0);
    char *f = take(&b);
    assert_string_equal(f,
                        "java;a;b_[i];com/x/Y:::run 5000000\n"
                        "kworker/u8:2-ev;work 10000000\n"
                        "swapper;cpu_startup_entry;native_safe_halt 5000000\n"
                        "swapper;intel_idle 5000000\n"
                        "swapper;native_safe_halt 5000000\n");
    free(f);

    /* invocations and their range */
    assert_int_equal(profile_ninvocations(p), 1);
    const struct profile_invocation *v = profile_invocation_find(p, "abc");
    assert_non_null(v);
    assert_string_equal(v->fn, "fib");
    struct profile_range r;
    profile_invocation_range(p, v, &r);
    uint64_t *counts = calloc(profile_fs_nstacks(p), sizeof *counts);
    assert_int_equal(profile_fs_count(p, &r, counts), 1);   /* kworker; swapper is idle */
    free(counts);
    profile_free(p);
}

static void test_profile_ranges(void **st)
{
    profile *p = build(SAMPLE_TEXT, NULL);
    struct profile_range r;
    char err[128];
    assert_int_equal(profile_range_parse(p, "0.25", "0.75", &r, err, sizeof err), 0);
    assert_true(r.start_s == 10.25 && r.end_s == 10.75);
    assert_int_equal(profile_range_parse(p, "2", "1", &r, err, sizeof err), -ERANGE);
    assert_int_equal(profile_range_parse(p, NULL, "3.5", &r, err, sizeof err), -ERANGE);
    assert_int_equal(profile_range_parse(p, "x", NULL, &r, err, sizeof err), -EINVAL);
    assert_int_equal(profile_range_parse(p, NULL, "inf", &r, err, sizeof err), -EINVAL);
    /* end=0 is the whole profile, like FlameScope's falsy 0 */
    assert_int_equal(profile_range_parse(p, "0", "0", &r, err, sizeof err), 0);
    assert_true(r.start_s == 10.0 && r.end_s == 13.0);
    size_t lo, hi;
    assert_int_equal(profile_range_parse(p, "0.3", "2.9", &r, err, sizeof err), 0);
    profile_range_bounds(p, &r, &lo, &hi);
    assert_int_equal(lo, 1);     /* 10.3 inclusive */
    assert_int_equal(hi, 5);     /* 12.9 inclusive */
    profile_free(p);
}

static void test_profile_unsorted_and_heatmap(void **st)
{
    const char *text =
        "a 1/1 [000] 5.500000: 1 cpu-clock: \n\t1 f (/x)\n\n"
        "a 1/1 [000] 3.200000: 1 cpu-clock: \n\t1 g (/x)\n\n"
        "a 1/1 [000] 4.990000: 1 cpu-clock: \n\t1 f (/x)\n\n";
    profile *p = build(text, NULL);
    assert_non_null(p);
    struct profile_range r;
    char err[128];
    /* FlameScope's end: 5.5 came first and set the start (its elif), 3.2 lowered the
     * start, 4.99 set the end: ceil(4.99) = 5, so an end of 2.5 s is past it */
    assert_int_equal(profile_range_parse(p, "1.5", "2.5", &r, err, sizeof err), -ERANGE);
    assert_int_equal(profile_range_parse(p, "1.5", "2", &r, err, sizeof err), 0);
    uint64_t *counts = calloc(profile_fs_nstacks(p), sizeof *counts);
    assert_int_equal(profile_fs_count(p, &r, counts), 1);   /* 4.99 only */
    free(counts);
    sbuf b;
    sbuf_init(&b);
    assert_int_equal(views_heatmap(p, 10, &b, err, sizeof err), 0);
    char *h = take(&b);
    assert_non_null(strstr(h, "\"columns\":[0,1,2]"));
    assert_non_null(strstr(h, "\"values\":[[0,0,0,0,0,0,0,1,0,0],[1,0,0,0,0,0,0,0,0,0],"
                              "[0,0,0,0,1,0,0,0,0,0]]"));
    free(h);
    sbuf_init(&b);
    assert_int_equal(views_heatmap(p, 0, &b, err, sizeof err), -EINVAL);
    sbuf_free(&b);
    profile_free(p);
}

/* Two samples 50 million seconds apart (a tiny hostile file) must not cost a
 * per-second table of 400 MB; ranges still select exactly. */
static void test_profile_sparse_span_is_cheap(void **st)
{
    const char *text =
        "a 1/1 [000] 1.000000: 1 cpu-clock: \n\t1 f (/x)\n\n"
        "a 1/1 [000] 2.500000: 1 cpu-clock: \n\t1 g (/x)\n\n"
        "a 1/1 [000] 50000001.000000: 1 cpu-clock: \n\t1 f (/x)\n\n";
    profile *p = build(text, NULL);
    assert_non_null(p);
    assert_true(profile_memory(p) < (16u << 20));
    struct profile_range r;
    char err[128];
    assert_int_equal(profile_range_parse(p, "1", "2", &r, err, sizeof err), 0);
    uint64_t *counts = calloc(profile_fs_nstacks(p), sizeof *counts);
    assert_int_equal(profile_fs_count(p, &r, counts), 1);   /* 2.5 only */
    free(counts);
    profile_free(p);
}

/* The cache's budget counts profile_memory(): the invocations' id and fn strings are
 * part of what an index holds (a file of long invocation lines is mostly them). */
static void test_profile_memory_counts_invocations(void **st)
{
    size_t ninv = 2000, idlen = 2000;
    char *id = malloc(idlen + 1);
    assert_non_null(id);
    memset(id, 'x', idlen);
    id[idlen] = 0;
    sbuf b;
    sbuf_init(&b);
    for (size_t i = 0; i < ninv; i++)
        sbuf_printf(&b, "# fntrace invocation : id=%s%zu fn=%s start=1.0 end=1.5\n", id, i,
                    id);
    sbuf_adds(&b, "a 1/1 [000] 1.000000: 1 cpu-clock: \n\t1 f (/x)\n\n");
    char *text = take(&b);
    profile *p = build(text, NULL);
    assert_non_null(p);
    assert_int_equal(profile_ninvocations(p), ninv);
    assert_true(profile_memory(p) >= ninv * 2 * idlen);
    profile_free(p);
    free(text);
    free(id);
}


/* The streamed flame graph (views_fg_*) read in pieces of any size, down to one byte,
 * gives the bytes of its announced length, the same as the whole-buffer writer and as
 * the intermediate tree's JSON (ftree), on a profile with wide and deep stacks, a
 * name longer than a piece and names that need escaping. */
static void test_flamegraph_stream_pieces(void **st)
{
    (void)st;
    sbuf t;
    sbuf_init(&t);
    char longname[3000];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    for (int i = 0; i < 300; i++) {
        sbuf_printf(&t, "app%d 1/%d [000] %d.%06d: 5000000 cpu-clock: \n", i % 3, 2 + i % 5,
                    10 + i / 100, (i * 9973) % 1000000);
        for (int d = 0; d < 1 + i % 17; d++)
            sbuf_printf(&t, "\t%x f%d_%d\"\\\t+0x1 (/bin/a)\n", 0x1000 + d, d, (i * 7 + d) % 11);
        if (i % 50 == 7)
            sbuf_printf(&t, "\t1 %s+0x1 (/bin/a)\n", longname);
        sbuf_adds(&t, "\t1 main+0x1 (/bin/a)\n\n");
    }
    char *text = take(&t);
    profile *p = build(text, NULL);
    free(text);
    assert_non_null(p);
    struct profile_range ranges[2];
    char err[128];
    profile_range_all(p, &ranges[0]);
    assert_int_equal(profile_range_parse(p, "0.3", "2", &ranges[1], err, sizeof err), 0);
    for (int k = 0; k < 2; k++) {
        char *want = tree_json(p, &ranges[k]);
        sbuf b;
        sbuf_init(&b);
        assert_int_equal(views_flamegraph(p, &ranges[k], &b), 0);
        char *whole = take(&b);
        assert_string_equal(whole, want);
        static const size_t pieces[] = {1, 3, 64, 1000, 65536};
        for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
            views_fg *g;
            uint64_t len;
            assert_int_equal(views_fg_new(p, &ranges[k], &g, &len), 0);
            assert_int_equal(len, strlen(want));
            char *got = malloc(len + pieces[i]), *w = got;
            size_t n;
            while ((n = views_fg_read(g, w, pieces[i])) > 0) {
                assert_true(n <= pieces[i]);
                w += n;
            }
            assert_int_equal((size_t)(w - got), len);
            assert_memory_equal(got, want, len);
            free(got);
            views_fg_free(g);
        }
        free(whole);
        free(want);
    }
    profile_free(p);
}

/* Every answer of an index, as one string (heatmap, invocations, whole and ranged
 * flame graphs, every export). */
static char *all_answers(const profile *p, size_t *lenp)
{
    sbuf b;
    sbuf_init(&b);
    char err[256];
    views_heatmap(p, 7, &b, err, sizeof err);
    views_invocations(p, 0, 0, &b);
    struct profile_range r;
    profile_range_all(p, &r);
    views_flamegraph(p, &r, &b);
    size_t nf;
    const struct export_format *fmts = export_formats(&nf);
    for (size_t f = 0; f < nf; f++)
        export_write(p, NULL, &fmts[f], "t", &b);
    if (profile_range_parse(p, "0.2", "2", &r, err, sizeof err) == 0) {
        views_flamegraph(p, &r, &b);
        for (size_t f = 0; f < nf; f++)
            export_write(p, &r, &fmts[f], "t", &b);
    }
    for (size_t i = 0; i < profile_ninvocations(p); i++) {
        profile_invocation_range(p, profile_invocation(p, i), &r);
        views_flamegraph(p, &r, &b);
    }
    char *s = sbuf_take(&b, lenp);
    assert_non_null(s);
    return s;
}

/* A copy of p's image (its header keyed like idxfile does), opened with check. */
static int open_copy_check(const profile *p, const struct pindex_key *key, size_t cut,
                           void (*damage)(char *img, size_t len), int check, profile **out)
{
    size_t len;
    const char *img = pindex_of(p, &len);
    char *c = malloc(len);
    assert_non_null(c);
    memcpy(c, img, len);
    pindex_header_set_key(c, key);
    if (damage)
        damage(c, len);
    size_t n = cut ? cut : len;
    char err[256] = "";
    int rc = pindex_open(c, n, 0, check, key, out, err, sizeof err);
    if (rc)
        free(c);
    else
        assert_int_equal(err[0], 0);
    return rc;
}

/* A checked copy of p's image. */
static int open_copy(const profile *p, const struct pindex_key *key, size_t cut,
                     void (*damage)(char *img, size_t len), profile **out)
{
    return open_copy_check(p, key, cut, damage, PINDEX_CHECK, out);
}

static const char THREAD_TEXT[] =
    "# fntrace invocation : id=one fn=f start=10.0 end=10.5 status=200 tid=7\n"
    "# fntrace invocation : id=two fn=g start=10.2\n"
    "app 7/7 [000] 10.100000: 1000 cpu-clock: \n\t1 f+0x1 (/app)\n\t2 main (/app)\n\n"
    "app 7/8 [000] 10.300000: 3000 cpu-clock: \n\t1 g (/app)\n\t2 main (/app)\n\n"
    "app 7/7 [000] 11.400000: 1000 task-clock: \n\t1 h->i (/app)\n\n";

static void test_index_image_answers_like_the_build(void **st)
{
    const char *texts[] = {SAMPLE_TEXT, THREAD_TEXT, "a 1/1 [000] 5.0: 1 cpu-clock: \n\n"};
    struct pindex_key key = {123, 456, 789, "v1"};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        profile *p = build(texts[t], NULL);
        assert_non_null(p);
        profile *q = NULL;
        assert_int_equal(open_copy(p, &key, 0, NULL, &q), 0);
        size_t la, lb;
        char *a = all_answers(p, &la), *b = all_answers(q, &lb);
        assert_int_equal(la, lb);
        assert_true(la > 100);
        assert_memory_equal(a, b, la);
        assert_int_equal(profile_ninvocations(p), profile_ninvocations(q));
        free(a);
        free(b);
        /* another key: stale */
        struct pindex_key other = key;
        other.content_hash++;
        size_t len;
        const void *img = pindex_of(q, &len);
        char *c = malloc(len);
        memcpy(c, img, len);
        profile *r = NULL;
        char err[128];
        assert_int_equal(pindex_open(c, len, 0, 1, &other, &r, err, sizeof err), -ESTALE);
        free(c);
        profile_free(q);
        profile_free(p);
    }
}

/* Offsets in pindex.c's header: the sample count, the section table (offset, length) */
#define HDR_SAMPLES 128
#define HDR_SECTIONS 224
static size_t flip_at;
static void flip_bit(char *img, size_t len) { img[flip_at % len] ^= (char)(1 << (flip_at % 8)); }
static void bad_version(char *img, size_t len) { img[16]++; }
static void count_2_40(char *img, size_t len)
{
    uint64_t n = 1ull << 40;
    memcpy(img + HDR_SAMPLES, &n, 8);
    pindex_seal(img, len);
}
static uint32_t parent_off;
static void bad_parent(char *img, size_t len)
{
    uint32_t v = 0x7ffffff0u;
    memcpy(img + parent_off, &v, 4);
    pindex_seal(img, len);
}

static uint32_t inv_off;
static void bad_inv_string(char *img, size_t len)
{
    uint64_t v = 1ull << 62;       /* the second invocation's string offset */
    memcpy(img + inv_off + 88 + 40, &v, 8);   /* records of 88 bytes */
    pindex_seal(img, len);
}

static uint32_t fstack_off;
static void root_stack(char *img, size_t len)
{
    uint32_t v = 0;                /* the first sample on the root: an empty stack */
    memcpy(img + fstack_off, &v, 4);
    pindex_seal(img, len);
}

static uint32_t cn_mod_off;
static void bad_module(char *img, size_t len)
{
    uint32_t v = 0xfffffffeu;      /* the first folded name's module: past the table */
    memcpy(img + cn_mod_off, &v, 4);
    pindex_seal(img, len);
}

static void test_index_damaged_images_are_refused(void **st)
{
    struct pindex_key key = {1, 2, 3, "x"};
    profile *p = build(THREAD_TEXT, NULL);
    assert_non_null(p);
    size_t len;
    pindex_of(p, &len);
    profile *q = NULL;
    /* every truncation */
    for (size_t cut = 1; cut < len; cut += 7)
        assert_int_equal(open_copy(p, &key, cut, NULL, &q), -FT_ERR_CORRUPT);
    /* single bit flips anywhere */
    for (flip_at = 0; flip_at < len * 8; flip_at += 13) {
        int rc = open_copy(p, &key, 0, flip_bit, &q);
        assert_true(rc == -FT_ERR_CORRUPT || rc == -ESTALE);
    }
    assert_int_equal(open_copy(p, &key, 0, bad_version, &q), -FT_ERR_CORRUPT);
    /* hashes made to match: the structural checks refuse */
    assert_int_equal(open_copy(p, &key, 0, count_2_40, &q), -FT_ERR_CORRUPT);
    /* the first trie parent after the root (section table: offset of section 6) */
    const char *img = pindex_of(p, &len);
    uint64_t off;
    memcpy(&off, img + HDR_SECTIONS + 16 * 6, 8);
    parent_off = (uint32_t)off + 4;
    assert_int_equal(open_copy(p, &key, 0, bad_parent, &q), -FT_ERR_CORRUPT);
    /* found by fuzz_pindex: invocation strings outside their section (section 18) */
    memcpy(&off, img + HDR_SECTIONS + 16 * 18, 8);
    inv_off = (uint32_t)off;
    assert_int_equal(open_copy(p, &key, 0, bad_inv_string, &q), -FT_ERR_CORRUPT);
    /* found by fuzz_pindex: a sample on the root stack (section 1) */
    memcpy(&off, img + HDR_SECTIONS + 16 * 1, 8);
    fstack_off = (uint32_t)off;
    assert_int_equal(open_copy(p, &key, 0, root_stack, &q), -FT_ERR_CORRUPT);
    /* a folded name's module id outside the module table (section 20) */
    memcpy(&off, img + HDR_SECTIONS + 16 * 20, 8);
    cn_mod_off = (uint32_t)off;
    assert_int_equal(open_copy(p, &key, 0, bad_module, &q), -FT_ERR_CORRUPT);
    profile_free(p);
}

static char *heatmap_of(const profile *p)
{
    sbuf b;
    sbuf_init(&b);
    char err[256];
    assert_int_equal(views_heatmap(p, 7, &b, err, sizeof err), 0);
    char *s = sbuf_take(&b, NULL);
    assert_non_null(s);
    return s;
}

/* A lazily checked copy of p's image after damage(img, len): the open's result,
 * then (when opened) each part's verification in *heat and *all, and whether the
 * heatmap served after the heat part verified equals want_heat. */
static int open_lazy(const profile *p, const struct pindex_key *key,
                     void (*damage)(char *img, size_t len), const char *want_heat, int *heat,
                     int *all)
{
    profile *q = NULL;
    int rc = open_copy_check(p, key, 0, damage, PINDEX_CHECK_LAZY, &q);
    if (rc)
        return rc;
    char err[256] = "";
    *heat = profile_verify(q, PROFILE_PART_HEAT, err, sizeof err);
    if (*heat == 0) {
        char *h = heatmap_of(q);
        assert_string_equal(h, want_heat);    /* served: the bytes it read were whole */
        free(h);
    }
    *all = profile_verify(q, PROFILE_PART_ALL, err, sizeof err);
    if (*all)
        assert_true(err[0] != 0);
    /* a refusal holds: the damaged part is never served later */
    assert_int_equal(profile_verify(q, PROFILE_PART_ALL, err, sizeof err), *all);
    if (*all == 0) {
        size_t la, lb;
        char *a = all_answers(p, &la), *b = all_answers(q, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        free(a);
        free(b);
    }
    profile_free(q);
    return 0;
}

static size_t sect_at(const profile *p, int sect)
{
    size_t len;
    const char *img = pindex_of(p, &len);
    uint64_t off;
    memcpy(&off, img + HDR_SECTIONS + 16 * sect, 8);
    return (size_t)off;
}

/* Opened lazily, an index is checked part by part on first use: the heatmap's part
 * (sample times and stacks) alone first, the rest when a flame graph or an export
 * wants it.  Any bit flipped anywhere is refused by the time every part is verified,
 * and a part that verified serves what an intact index serves. */
static void test_index_lazy_parts_are_checked_on_first_use(void **st)
{
    struct pindex_key key = {1, 2, 3, "x"};
    profile *p = build(THREAD_TEXT, NULL);
    assert_non_null(p);
    char *want_heat = heatmap_of(p);
    int heat = -1, all = -1;
    assert_int_equal(open_lazy(p, &key, NULL, want_heat, &heat, &all), 0);
    assert_int_equal(heat, 0);
    assert_int_equal(all, 0);
    size_t len;
    pindex_of(p, &len);
    for (flip_at = 0; flip_at < len * 8; flip_at += 5) {
        int rc = open_lazy(p, &key, flip_bit, want_heat, &heat, &all);
        if (rc == 0)
            assert_int_equal(all, -FT_ERR_CORRUPT);
        else
            assert_true(rc == -FT_ERR_CORRUPT || rc == -ESTALE);
    }
    /* a flip in the trie (section 6): the heatmap is served, the rest refused */
    flip_at = sect_at(p, 6) + 5;
    assert_int_equal(open_lazy(p, &key, flip_bit, want_heat, &heat, &all), 0);
    assert_int_equal(heat, 0);
    assert_int_equal(all, -FT_ERR_CORRUPT);
    /* a flip in the sample times (section 0): refused before the heatmap reads them */
    flip_at = sect_at(p, 0) + 5;
    assert_int_equal(open_lazy(p, &key, flip_bit, want_heat, &heat, &all), 0);
    assert_int_equal(heat, -FT_ERR_CORRUPT);
    assert_int_equal(all, -FT_ERR_CORRUPT);
    /* hashes made to match: the parts' structural checks refuse */
    parent_off = (uint32_t)sect_at(p, 6) + 4;
    assert_int_equal(open_lazy(p, &key, bad_parent, want_heat, &heat, &all), 0);
    assert_int_equal(heat, 0);
    assert_int_equal(all, -FT_ERR_CORRUPT);
    fstack_off = (uint32_t)sect_at(p, 1);
    assert_int_equal(open_lazy(p, &key, root_stack, want_heat, &heat, &all), 0);
    assert_int_equal(heat, -FT_ERR_CORRUPT);
    assert_int_equal(open_lazy(p, &key, count_2_40, want_heat, &heat, &all), -FT_ERR_CORRUPT);
    free(want_heat);
    profile_free(p);
}

/* A large plain text is parsed in two halves on two threads and merged: every answer
 * equals the sequential parse of the same text (gzip'd, which is never split). */
static void test_parallel_parse_equals_sequential(void **st)
{
    sbuf b;
    sbuf_init(&b);
    sbuf_adds(&b, "# fntrace invocation : id=i1 fn=f start=100.0 end=150.0 status=200 tid=7\n");
    for (size_t k = 0; b.len < (17u << 20); k++) {
        double t = 100.0 + (double)k * 0.001;
        if (k == 60000)
            sbuf_adds(&b, "# fntrace invocation : id=i2 fn=g start=160.0 tid=8\n");
        sbuf_printf(&b, "%s %zu/%zu [000] %.6f: %zu %s: \n", k % 5 ? "app" : "swapper",
                    k % 3 + 1, k % 2 ? (size_t)7 : (size_t)8, t,
                    k > 50000 ? 1000 + k % 3 : (size_t)1000,
                    k % 11 == 10 ? "task-clock" : "cpu-clock");
        sbuf_printf(&b, "\t%zx leaf%zu+0x%zx (/app/lib%zu.so)\n", k, k % 977, k % 16, k % 7);
        sbuf_printf(&b, "\t1 mid%zu->inl%zu (/app)\n", k % 131, k % 3);
        if (k % 5 == 0)
            sbuf_adds(&b, "\t2 cpu_idle ([kernel.kallsyms])\n");
        sbuf_printf(&b, "\t3 main%zu (/app)\n\n", (k / 1000) % 50);
    }
    size_t len;
    char *text = sbuf_take(&b, &len);
    assert_non_null(text);
    profile *par = build(text, NULL);
    assert_non_null(par);
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    assert_int_equal(gz_compress(text, len, 1, &gz, &gzlen), 0);
    int fd = memfd_create("gz", 0);
    assert_int_equal(write(fd, gz, gzlen), (ssize_t)gzlen);
    lseek(fd, 0, SEEK_SET);
    char err[256];
    profile *seq = profile_build(fd, 0, NULL, err, sizeof err);
    close(fd);
    assert_non_null(seq);
    assert_int_equal(profile_nsamples(par), profile_nsamples(seq));
    assert_int_equal(profile_fs_nstacks(par), profile_fs_nstacks(seq));
    size_t la, lb;
    char *a = all_answers(par, &la), *c = all_answers(seq, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, c, la);
    size_t ia, ib;
    const void *pa = pindex_of(par, &ia), *pb = pindex_of(seq, &ib);
    assert_int_equal(ia, ib);
    assert_memory_equal(pa, pb, ia);   /* the same index, byte for byte */
    free(a);
    free(c);
    free(gz);
    free(text);
    profile_free(par);
    profile_free(seq);
}

static void test_profile_errors(void **st)
{
    int e = 0;
    assert_null(build("\x7f" "ELF\x02\x01\x01\nrandom binary\nstuff\n", &e));
    assert_int_equal(e, -FT_ERR_NOT_PERF);
    profile *p = build("", &e);
    assert_non_null(p);
    assert_int_equal(profile_nsamples(p), 0);
    profile_free(p);
}

/* Small trees: node 0 root, 1 "comm", 2 "a" under it, 3 and 4 under "a". */
static const uint32_t PARENT[] = {0, 0, 1, 2, 2};

static const char *label_of(const void *ctx, uint32_t node, size_t *len, int *type)
{
    const char *const *names = ctx;
    *type = node == 1 ? FT_NONE : FT_USER;
    *len = strlen(names[node]);
    return names[node];
}

static ftree *tree_of(const char *const *names, const uint64_t *counts)
{
    ftree *t = ftree_new();
    assert_non_null(t);
    assert_int_equal(ftree_add_tree(t, 5, PARENT, counts, label_of, names), 0);
    return t;
}

/* A wide tree (a profile with a few hundred thousand distinct leaf functions, a file
 * of some tens of MB) compares in linear time: matching children by scanning the
 * sibling list made one request take minutes of CPU.  The alarm is ~100x the time
 * the comparison needs; the scan needed far longer. */
static const char *wide_label(const void *ctx, uint32_t node, size_t *len, int *type)
{
    char *names = (char *)ctx;
    *type = node == 1 ? FT_NONE : FT_USER;
    *len = 8;
    return names + (size_t)node * 8;
}

static void test_wide_trees_compare_fast(void **st)
{
    uint32_t n = 400000;
    uint32_t *parent = malloc((size_t)n * sizeof *parent);
    uint64_t *c1 = calloc(n, sizeof *c1), *c2 = calloc(n, sizeof *c2);
    char *names = malloc((size_t)n * 8 + 1);
    assert_true(parent && c1 && c2 && names);
    parent[0] = 0;
    parent[1] = 0;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(names + (size_t)i * 8, 9, "f%07u", i);
        if (i >= 2) {
            parent[i] = 1;
            c1[i] = 1 + (i & 1);
            c2[i] = 1;
        }
    }
    alarm(60);
    ftree *t1 = ftree_new(), *t2 = ftree_new();
    assert_int_equal(ftree_add_tree(t1, n, parent, c1, wide_label, names), 0);
    assert_int_equal(ftree_add_tree(t2, n, parent, c2, wide_label, names), 0);
    assert_int_equal(ftree_differential(t1, t2), 0);
    assert_int_equal(ftree_elided(t1, t2), 0);
    alarm(0);
    /* every leaf matched: the elided tree is all zero */
    assert_int_equal(ftree_total(t2), 0);
    sbuf b;
    sbuf_init(&b);
    ftree_json(t1, &b);
    char *j = take(&b);
    /* weight 599997/399998 = 1.5, every leaf matched: d = round(1 - 1.5) = round(2 - 1.5)
     * = 0 (half to even); a leaf not found in t2 would have d = v */
    assert_non_null(strstr(j, "{\"n\":\"f0000002\",\"l\":\"user\",\"v\":1,\"d\":0,"));
    assert_non_null(strstr(j, "{\"n\":\"f0399999\",\"l\":\"user\",\"v\":2,\"d\":0,"));
    free(j);
    ftree_free(t1);
    ftree_free(t2);
    free(parent);
    free(c1);
    free(c2);
    free(names);
}

static void test_differential_and_elided(void **st)
{
    static const char *const n1[] = {"", "comm", "a", "b", "c"};
    static const uint64_t c1[] = {0, 0, 0, 5, 2};
    static const char *const n2[] = {"", "comm", "a", "b", "d"};
    static const uint64_t c2[] = {0, 0, 0, 4, 4};
    /* weight 7/8: b: round(5 - 4*0.875) = round(1.5) = 2 (half to even);
     * c is missing from t2: d = v = 2 */
    ftree *t1 = tree_of(n1, c1), *t2 = tree_of(n2, c2);
    assert_int_equal(ftree_differential(t1, t2), 0);
    sbuf b;
    sbuf_init(&b);
    ftree_json(t1, &b);
    char *j = take(&b);
    assert_non_null(strstr(j, "{\"n\":\"b\",\"l\":\"user\",\"v\":5,\"d\":2,"));
    assert_non_null(strstr(j, "{\"n\":\"c\",\"l\":\"user\",\"v\":2,\"d\":2,"));
    free(j);
    ftree_free(t1);
    ftree_free(t2);

    /* elided: t2 with what t1 has zeroed, d (missing from t1) scaled: round(4*0.875)=4 */
    t1 = tree_of(n1, c1);
    t2 = tree_of(n2, c2);
    assert_int_equal(ftree_elided(t1, t2), 0);
    sbuf_init(&b);
    ftree_json(t2, &b);
    j = take(&b);
    assert_non_null(strstr(j, "{\"n\":\"b\",\"l\":\"user\",\"v\":0,"));
    assert_non_null(strstr(j, "{\"n\":\"d\",\"l\":\"user\",\"v\":4,"));
    free(j);
    /* an empty compare tree is an error, not a division by zero */
    ftree *empty = ftree_new();
    assert_int_equal(ftree_differential(t1, empty), -FT_ERR_EMPTY);
    ftree_free(empty);
    ftree_free(t1);
    ftree_free(t2);
}

/* ------------------------------------------------------------------ cache */

static atomic_int builds, running, most_running;

/* ctx NULL: builds; (void *)1: a refusal the same bytes earn again (corrupt gzip);
 * (void *)2: a passing failure (I/O error). */
static profile *slow_build(void *ctx, int *err, char *msg, size_t msglen)
{
    atomic_fetch_add(&builds, 1);
    int now = atomic_fetch_add(&running, 1) + 1;
    int m = atomic_load(&most_running);
    while (now > m && !atomic_compare_exchange_weak(&most_running, &m, now)) {}
    usleep(100000);
    atomic_fetch_sub(&running, 1);
    if (ctx) {
        *err = ctx == (void *)1 ? -FT_ERR_BAD_GZIP : -EIO;
        snprintf(msg, msglen, "bad");
        return NULL;
    }
    return build(SAMPLE_TEXT, NULL);
}

struct getter {
    pcache *c;
    void *ctx;
    const profile *got;
    int err;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    pcache_entry *ref;
    char msg[64];
    g->got = pcache_get(g->c, "x", 1, 2, "", slow_build, g->ctx, &ref, &g->err, msg,
                        sizeof msg);
    pcache_release(g->c, ref);
    return NULL;
}

static void test_cache_single_flight(void **st)
{
    pcache *c = pcache_new(1 << 30);
    struct getter g[8];
    pthread_t th[8];
    atomic_store(&builds, 0);
    for (int i = 0; i < 8; i++) {
        g[i] = (struct getter){c, NULL, NULL, 0};
        pthread_create(&th[i], NULL, getter_main, &g[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&builds), 1);
    for (int i = 1; i < 8; i++)
        assert_ptr_equal(g[i].got, g[0].got);
    assert_non_null(g[0].got);

    /* failures are shared by the waiters but not cached */
    atomic_store(&builds, 0);
    for (int i = 0; i < 4; i++) {
        g[i] = (struct getter){c, (void *)1, NULL, 0};
        pthread_create(&th[i], NULL, getter_main, &g[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* key (x,1,2) is cached from above: these were hits, no build */
    assert_int_equal(atomic_load(&builds), 0);
    pcache_entry *ref;
    int err = 0;
    char msg[64];
    /* a refusal the same bytes would earn again is cached (a gzip bomb is paid once) */
    assert_null(pcache_get(c, "y", 1, 2, "", slow_build, (void *)1, &ref, &err, msg, sizeof msg));
    assert_int_equal(err, -FT_ERR_BAD_GZIP);
    err = 0;
    assert_null(pcache_get(c, "y", 1, 2, "", slow_build, (void *)1, &ref, &err, msg, sizeof msg));
    assert_int_equal(err, -FT_ERR_BAD_GZIP);
    assert_int_equal(atomic_load(&builds), 1);
    /* a passing failure is not: the next request tries again */
    assert_null(pcache_get(c, "z", 1, 2, "", slow_build, (void *)2, &ref, &err, msg, sizeof msg));
    assert_int_equal(err, -EIO);
    assert_null(pcache_get(c, "z", 1, 2, "", slow_build, (void *)2, &ref, &err, msg, sizeof msg));
    assert_int_equal(atomic_load(&builds), 3);

    /* a new size is a new key; the stale entry goes */
    const profile *p = pcache_get(c, "x", 5, 2, "", slow_build, NULL, &ref, &err, msg,
                                  sizeof msg);
    assert_non_null(p);
    pcache_release(c, ref);
    /* so is a new version with the same size and mtime (the file was replaced) */
    assert_int_equal(atomic_load(&builds), 4);
    p = pcache_get(c, "x", 5, 2, "v2", slow_build, NULL, &ref, &err, msg, sizeof msg);
    assert_non_null(p);
    pcache_release(c, ref);
    assert_int_equal(atomic_load(&builds), 5);
    p = pcache_get(c, "x", 5, 2, "v2", slow_build, NULL, &ref, &err, msg, sizeof msg);
    assert_non_null(p);
    pcache_release(c, ref);
    assert_int_equal(atomic_load(&builds), 5);
    struct pcache_stats s;
    pcache_stats_get(c, &s);
    assert_int_equal(s.entries, 2);          /* x at v2, and y's refusal */
    assert_int_equal(s.refusals, 1);
    pcache_free(c);
}

struct named_getter {
    pcache *c;
    char id[8];
};

static void *named_getter_main(void *arg)
{
    struct named_getter *g = arg;
    pcache_entry *ref;
    char msg[64];
    int err;
    pcache_get(g->c, g->id, 1, 2, "", slow_build, NULL, &ref, &err, msg, sizeof msg);
    pcache_release(g->c, ref);
    return NULL;
}

static void test_cache_build_queue(void **st)
{
    pcache *c = pcache_new(1 << 30);
    pcache_set_max_builds(c, 1);
    atomic_store(&builds, 0);
    atomic_store(&most_running, 0);
    struct named_getter g[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        g[i].c = c;
        snprintf(g[i].id, sizeof g[i].id, "p%d", i);
        pthread_create(&th[i], NULL, named_getter_main, &g[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&builds), 4);
    assert_int_equal(atomic_load(&most_running), 1);   /* one at a time, the rest queued */
    struct pcache_stats s;
    pcache_stats_get(c, &s);
    assert_true(s.queued >= 1);
    pcache_free(c);
}

static void test_cache_budget(void **st)
{
    pcache *c = pcache_new(1);     /* every unused index is over budget */
    pcache_entry *r1, *r2;
    int err;
    char msg[64];
    const profile *a = pcache_get(c, "a", 1, 1, "", slow_build, NULL, &r1, &err, msg, sizeof msg);
    const profile *b = pcache_get(c, "b", 1, 1, "", slow_build, NULL, &r2, &err, msg, sizeof msg);
    assert_non_null(a);
    assert_non_null(b);
    /* both in use: still valid */
    assert_int_equal(profile_nsamples(a), 5);
    pcache_release(c, r1);
    pcache_release(c, r2);
    struct pcache_stats s;
    pcache_stats_get(c, &s);
    assert_int_equal(s.entries, 0);
    assert_true(s.evictions >= 2);
    pcache_free(c);
}

/* The depth of the deepest node of a flame graph JSON, and whether name occurs in it. */
static int json_depth(const char *j)
{
    int d = 0, most = 0;
    for (const char *c = j; *c; c++) {
        if (*c == '"') {                   /* skip strings: names may hold braces */
            for (c++; *c && *c != '"'; c++)
                if (*c == '\\' && c[1])
                    c++;
            continue;
        }
        if (*c == '{' && ++d > most)
            most = d;
        if (*c == '}')
            d--;
    }
    return most;
}

/* A stack of 300 frames (a frame-pointer loop) is cut to the cap under a marker, its
 * innermost frames kept; one of exactly FTREE_MAX_DEPTH frames is left whole. */
static void test_flamegraph_depth_cap(void **st)
{
    sbuf t;
    sbuf_init(&t);
    const int depths[] = {300, FTREE_MAX_DEPTH};
    for (int k = 0; k < 2; k++) {
        sbuf_printf(&t, "app 7/7 [000] %d.000000: 1000000 cpu-clock:\n", 10 + k);
        sbuf_printf(&t, "\t    1000 leaf%d+0x1 (/srv/app)\n", k);
        for (int i = 1; i < depths[k] - 1; i++)
            sbuf_printf(&t, "\t    %x %s+0x1 (/srv/app)\n", 0x2000 + i, k ? "mid" : "[unknown]");
        sbuf_printf(&t, "\t    9000 main%d+0x1 (/srv/app)\n\n", k);
    }
    char *text = take(&t);
    int err = 0;
    profile *p = build(text, &err);
    assert_non_null(p);
    struct profile_range r;
    profile_range_all(p, &r);
    sbuf b;
    sbuf_init(&b);
    assert_int_equal(views_flamegraph(p, &r, &b), 0);
    char *j = take(&b);
    /* root, comm, then at most the cap of frames */
    assert_int_equal(json_depth(j), 2 + FTREE_MAX_DEPTH);
    assert_non_null(strstr(j, "\"n\":\"" FTREE_CUT_NAME "\""));
    assert_non_null(strstr(j, "\"leaf0\""));      /* the innermost frames are kept */
    assert_null(strstr(j, "\"main0\""));          /* the outermost are cut */
    assert_non_null(strstr(j, "\"main1\""));      /* a stack at the cap is whole */
    assert_non_null(strstr(j, "\"leaf1\""));
    /* one cut: the marker is there once, the samples all counted */
    const char *m = strstr(j, FTREE_CUT_NAME);
    assert_null(strstr(m + 1, FTREE_CUT_NAME));
    ftree *tr = ftree_build(p, &r);
    assert_non_null(tr);
    assert_int_equal(ftree_total(tr), 2);
    ftree_free(tr);
    free(j);
    free(text);
    profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pyfloat),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_flamegraph_stream_pieces),
        cmocka_unit_test(test_profile_namings),
        cmocka_unit_test(test_profile_ranges),
        cmocka_unit_test(test_profile_unsorted_and_heatmap),
        cmocka_unit_test(test_profile_sparse_span_is_cheap),
        cmocka_unit_test(test_profile_memory_counts_invocations),
        cmocka_unit_test(test_profile_errors),
        cmocka_unit_test(test_index_image_answers_like_the_build),
        cmocka_unit_test(test_index_damaged_images_are_refused),
        cmocka_unit_test(test_index_lazy_parts_are_checked_on_first_use),
        cmocka_unit_test(test_parallel_parse_equals_sequential),
        cmocka_unit_test(test_differential_and_elided),
        cmocka_unit_test(test_wide_trees_compare_fast),
        cmocka_unit_test(test_cache_single_flight),
        cmocka_unit_test(test_cache_budget),
        cmocka_unit_test(test_cache_build_queue),
        cmocka_unit_test(test_flamegraph_depth_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
