/* Unit tests for flamescope's profile listing (plist): a directory store of 10,000 small
 * generated traces with their index files, listed as GET /api/v1/profiles lists them.
 * Every page of every sort (time, name, samples, duration, invocations; both
 * directions) is checked against the generated traces: the fields, the order, and that
 * the pages together hold each trace once.  Then what a listing must not trust or must
 * not miss: a trace replaced under its index, a trace without an index (handed to the
 * background indexer and shown once it is written), one that does not parse, and the
 * filters.  The header-only summary refuses a damaged header. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fterr.h"
#include "store.h"
#include "../../flamescope/idxfile.h"
#include "../../flamescope/indexer.h"
#include "../../flamescope/pindex.h"
#include "../../flamescope/plist.h"
#include "../../flamescope/profile.h"

#define N 10000
#define BASE_S 1790000000LL             /* the traces' mtimes: BASE_S + a permutation */

struct gen {
    char id[64];
    uint64_t samples, invocations, duration_ns;
    int64_t mtime_s;
};

static char dir[64], idx[96];
static struct gen *gens;

/* Trace k: 1 + k % 37 samples 1 + k % 13 ms apart, k % 5 invocations, in function
 * folder fn<k % 20>; its mtime is a permutation of k, so time and name orders differ. */
static void gen_trace(size_t k, struct gen *g)
{
    snprintf(g->id, sizeof g->id, "fn%02zu/t%05zu.perf", k % 20, k);
    g->samples = 1 + k % 37;
    g->invocations = k % 5;
    uint64_t step = (1 + k % 13) * 1000000ull;
    g->duration_ns = (g->samples - 1) * step;
    g->mtime_s = BASE_S + (int64_t)((k * 7919) % N);
    char path[160], text[8192];
    snprintf(path, sizeof path, "%s/fn%02zu", dir, k % 20);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, g->id);
    size_t len = (size_t)snprintf(text, sizeof text, "# ========\n# captured on : x\n# ========\n");
    for (uint64_t i = 0; i < g->invocations; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "# fntrace invocation : id=i%llu fn=f start=10.0 end=10.5\n",
                                (unsigned long long)i);
    for (uint64_t i = 0; i < g->samples; i++) {
        uint64_t t = 10000000000ull + i * step;
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "app 7/7 [000] %llu.%09llu: 1000000 cpu-clock:\n"
                                "\t    4010 work+0x10 (/srv/app)\n\n",
                                (unsigned long long)(t / 1000000000ull),
                                (unsigned long long)(t % 1000000000ull));
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    struct timespec ts[2] = {{g->mtime_s, 0}, {g->mtime_s, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Writes the index file of id as the viewer would (without fsync: 10,000 of them). */
static void index_trace(store *st, const char *id)
{
    int fd, e = 0;
    struct store_entry ent;
    struct pindex_key key;
    char err[256];
    assert_int_equal(store_open(st, id, &fd, &ent), 0);
    assert_int_equal(idxfile_key(fd, ent.bytes, ent.mtime_ns, ent.version, &key), 0);
    profile *p = profile_build(fd, 0, &e, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(idxfile_save_flags(idx, id, &key, p, IDXFILE_NO_FSYNC, err, sizeof err), 0);
    profile_free(p);
    close(fd);
}

static store *st;

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/test_plist.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(idx, sizeof idx, "%s/.index", dir);
    char err[256];
    st = store_open_dir(dir, err, sizeof err);
    assert_non_null(st);
    gens = calloc(N, sizeof *gens);
    for (size_t k = 0; k < N; k++) {
        gen_trace(k, &gens[k]);
        index_trace(st, gens[k].id);
    }
    return 0;
}

static int teardown(void **state)
{
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(gens);
    return 0;
}

static const struct gen *gen_of(const char *id)
{
    unsigned k;
    const char *t = strrchr(id, 't');
    assert_non_null(t);
    assert_int_equal(sscanf(t, "t%05u.perf", &k), 1);
    assert_true(k < N);
    assert_string_equal(gens[k].id, id);
    return &gens[k];
}

static cJSON *list_page(plist *pl, const char *sort, const char *order, size_t off, size_t lim,
                        const char *q, size_t *total)
{
    struct store_entry *ents;
    size_t n;
    assert_true(store_list(st, NULL, &ents, &n) >= 0);
    struct plist_query pq;
    char offs[32], lims[32], err[160];
    snprintf(offs, sizeof offs, "%zu", off);
    snprintf(lims, sizeof lims, "%zu", lim);
    assert_int_equal(plist_query_parse(sort, order, offs, lims, q, NULL, &pq, err, sizeof err), 0);
    sbuf b;
    sbuf_init(&b);
    assert_int_equal(plist_list(pl, ents, n, &pq, &b, total), 0);
    free(ents);
    char *s = sbuf_take(&b, NULL);
    cJSON *j = cJSON_Parse(s);
    free(s);
    assert_non_null(j);
    assert_true(cJSON_IsArray(j));
    return j;
}

static uint64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return (uint64_t)v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* The key a sort orders by, for trace g. */
static int64_t key_of(const struct gen *g, const char *sort)
{
    if (strcmp(sort, "samples") == 0)
        return (int64_t)g->samples;
    if (strcmp(sort, "duration") == 0)
        return (int64_t)g->duration_ns;
    if (strcmp(sort, "invocations") == 0)
        return (int64_t)g->invocations;
    return g->mtime_s;
}

/* Every trace once over the pages, with its fields, in the order asked for. */
static void test_every_sort_every_page(void **state)
{
    plist *pl = plist_new(idx, NULL);
    assert_non_null(pl);
    const char *sorts[] = {"time", "name", "samples", "duration", "invocations"};
    const char *orders[] = {"asc", "desc"};
    char *seen = malloc(N);
    for (size_t s = 0; s < 5; s++) {
        for (size_t o = 0; o < 2; o++) {
            int desc = o == 1;
            memset(seen, 0, N);
            const struct gen *prev = NULL;
            size_t got = 0, total = 0;
            for (size_t off = 0; off < N; off += 1000) {
                cJSON *j = list_page(pl, sorts[s], orders[o], off, 1000, NULL, &total);
                assert_int_equal(total, N);
                assert_int_equal(cJSON_GetArraySize(j), 1000);
                const cJSON *e;
                cJSON_ArrayForEach(e, j) {
                    const struct gen *g = gen_of(str(e, "filename"));
                    assert_false(seen[g - gens]);
                    seen[g - gens] = 1;
                    assert_string_equal(str(e, "index"), "ready");
                    assert_string_equal(str(e, "type"), "perf");
                    assert_int_equal(num(e, "samples"), g->samples);
                    assert_int_equal(num(e, "invocations"), g->invocations);
                    double d = cJSON_GetObjectItemCaseSensitive(e, "duration")->valuedouble;
                    assert_true(d * 1e9 > (double)g->duration_ns - 1 &&
                                d * 1e9 < (double)g->duration_ns + 1);
                    char want[40];
                    time_t t = g->mtime_s;
                    struct tm tm;
                    gmtime_r(&t, &tm);
                    strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
                    assert_string_equal(str(e, "uploaded"), want);
                    strncpy(want, g->id, 4);
                    want[4] = 0;
                    assert_string_equal(str(e, "name"), want);
                    if (prev) {
                        int c;
                        if (strcmp(sorts[s], "name") == 0) {
                            c = strcmp(prev->id, g->id);
                        } else {
                            int64_t a = key_of(prev, sorts[s]), b = key_of(g, sorts[s]);
                            c = (a > b) - (a < b);
                            if (!c)   /* ties: by upload time, in the same direction */
                                c = (prev->mtime_s > g->mtime_s) - (prev->mtime_s < g->mtime_s);
                        }
                        assert_true(desc ? c > 0 : c < 0);
                    }
                    prev = g;
                    got++;
                }
                cJSON_Delete(j);
            }
            assert_int_equal(got, N);
        }
    }
    free(seen);
    /* one header read a trace: the first listing only; the rest from the cache */
    struct plist_stats ps;
    plist_stats_get(pl, &ps);
    assert_int_equal(ps.header_reads, N);
    assert_int_equal(ps.cached, N);
    /* a page past the end is empty; the total stays */
    size_t total;
    cJSON *j = list_page(pl, NULL, NULL, N, 100, NULL, &total);
    assert_int_equal(cJSON_GetArraySize(j), 0);
    assert_int_equal(total, N);
    cJSON_Delete(j);
    plist_free(pl);
}

/* The "index" state of trace id (and its samples when ready), from a filtered listing. */
static void row_index(plist *pl, const char *id, char *state, uint64_t *samples)
{
    size_t total;
    cJSON *j = list_page(pl, "name", "asc", 0, 10, id, &total);
    assert_int_equal(total, 1);
    const cJSON *e = cJSON_GetArrayItem(j, 0);
    assert_string_equal(str(e, "filename"), id);
    snprintf(state, 16, "%s", str(e, "index"));
    if (samples && strcmp(state, "ready") == 0)
        *samples = num(e, "samples");
    cJSON_Delete(j);
}

/* A replaced trace, an unindexed one, one that does not parse, the filters. */
static void test_stale_unindexed_and_filters(void **state)
{
    indexer *ix = indexer_new(st, idx, 0, 0);
    assert_non_null(ix);
    plist *pl = plist_new(idx, ix);
    size_t total;
    cJSON *j = list_page(pl, "name", "asc", 0, 10, "fn03/t0000", &total);
    /* q: a substring of the id, any case */
    assert_int_equal(total, 1);
    assert_string_equal(str(cJSON_GetArrayItem(j, 0), "filename"), "fn03/t00003.perf");
    cJSON_Delete(j);
    j = list_page(pl, "name", "asc", 0, 10, "FN19/", &total);
    assert_int_equal(total, N / 20);
    cJSON_Delete(j);

    /* trace 3 replaced by a longer one: its index is stale, not shown as its summary */
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, gens[3].id);
    FILE *f = fopen(path, "a");
    fputs("app 7/7 [000] 99.000000000: 1000000 cpu-clock:\n\t    4010 work+0x10 (/srv/app)\n\n", f);
    fclose(f);
    /* a new trace without an index, and one that is not perf script */
    snprintf(path, sizeof path, "%s/new", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/new/a.perf", dir);
    f = fopen(path, "w");
    fputs("app 7/7 [000] 5.000000000: 1000000 cpu-clock:\n\t    4010 work+0x10 (/srv/app)\n\n"
          "app 7/7 [000] 5.500000000: 1000000 cpu-clock:\n\t    4010 work+0x10 (/srv/app)\n\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/new/junk.perf", dir);
    f = fopen(path, "w");
    fputs("not a profile\n", f);
    fclose(f);

    j = list_page(pl, "time", "desc", 0, 10, NULL, &total);
    assert_int_equal(total, N + 2);
    cJSON_Delete(j);
    /* both handed to the background indexer: pending, or already indexed again; never
     * the stale summary of trace 3 */
    char got[16];
    uint64_t n3 = 0;
    row_index(pl, gens[3].id, got, &n3);
    assert_true(strcmp(got, "pending") == 0 || n3 == gens[3].samples + 1);
    row_index(pl, "new/a.perf", got, NULL);
    assert_true(strcmp(got, "pending") == 0 || strcmp(got, "ready") == 0);

    /* the indexer writes them; a later listing shows them (bounded wait) */
    int done = 0;
    for (int tries = 0; tries < 200 && !done; tries++) {
        usleep(50 * 1000);
        char a[16], junk[16], t3[16];
        uint64_t na = 0;
        row_index(pl, "new/a.perf", a, &na);
        row_index(pl, "new/junk.perf", junk, NULL);
        n3 = 0;
        row_index(pl, gens[3].id, t3, &n3);
        done = strcmp(a, "ready") == 0 && strcmp(junk, "failed") == 0 &&
               strcmp(t3, "ready") == 0;
        if (done) {
            assert_int_equal(na, 2);
            assert_int_equal(n3, gens[3].samples + 1);
        }
    }
    assert_true(done);
    /* a trace without a summary sorts last, in either direction */
    for (int o = 0; o < 2; o++) {
        j = list_page(pl, "samples", o ? "desc" : "asc", N + 1, 10, NULL, &total);
        assert_int_equal(cJSON_GetArraySize(j), 1);
        assert_string_equal(str(cJSON_GetArrayItem(j, 0), "filename"), "new/junk.perf");
        cJSON_Delete(j);
    }
    struct indexer_stats is;
    indexer_stats(ix, &is);
    assert_int_equal(is.written, 2);
    assert_int_equal(is.failed, 1);
    plist_free(pl);
    indexer_free(ix);
}

/* The header-only summary: a flipped header byte, a short file, a wrong size. */
static void test_summary_refuses_damaged_header(void **state)
{
    struct pindex_summary s;
    char err[160];
    assert_int_equal(idxfile_summary(idx, gens[7].id, &s, NULL, err, sizeof err), 0);
    assert_int_equal(s.samples, gens[7].samples);
    char path[200];
    snprintf(path, sizeof path, "%s/%s.fsidx", idx, gens[7].id);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    size_t len = (size_t)sb.st_size;
    char *img = malloc(len);
    int fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, img, len), (ssize_t)len);
    close(fd);
    size_t h = pindex_header_size();
    assert_int_equal(pindex_summary(img, h, len, &s, err, sizeof err), 0);
    assert_int_equal(pindex_summary(img, h, len + 8, &s, err, sizeof err), -FT_ERR_CORRUPT);
    assert_int_equal(pindex_summary(img, h - 1, len, &s, err, sizeof err), -FT_ERR_CORRUPT);
    img[140] ^= 1;
    assert_int_equal(pindex_summary(img, h, len, &s, err, sizeof err), -FT_ERR_CORRUPT);
    assert_non_null(strstr(err, "checksum"));
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sort_every_page),
        cmocka_unit_test(test_summary_refuses_damaged_header),
        cmocka_unit_test(test_stale_unindexed_and_filters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
