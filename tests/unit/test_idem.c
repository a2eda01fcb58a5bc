/* Unit tests for collector/idem: a key is claimed once, committed keys answer with
 * their id, a claim in flight is busy, released claims are free again, the journal
 * survives a reopen, expired and malformed journal lines are dropped, key syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../collector/idem.h"
#include "log.h"

static char dir[64];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/test_idem.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char p[128];
    snprintf(p, sizeof p, "%s/.idempotency", dir);
    unlink(p);
    return rmdir(dir);
}

static void test_claim_commit_replay_reopen(void **st)
{
    (void)st;
    char err[256], id[STORE_ID_MAX + 1];
    uint64_t bytes = 0;
    struct idem *ix = idem_open(dir, 3600, err, sizeof err);
    assert_non_null(ix);
    assert_int_equal(idem_claim(ix, "k1", id, &bytes), 0);
    assert_int_equal(idem_claim(ix, "k1", id, &bytes), -EBUSY);     /* in flight */
    assert_int_equal(idem_commit(ix, "k1", "fn/a.perf", 42), 0);
    assert_int_equal(idem_claim(ix, "k1", id, &bytes), 1);
    assert_string_equal(id, "fn/a.perf");
    assert_int_equal(bytes, 42);
    assert_int_equal(idem_claim(ix, "k2", id, &bytes), 0);
    idem_release(ix, "k2");                                          /* upload failed */
    assert_int_equal(idem_claim(ix, "k2", id, &bytes), 0);
    idem_release(ix, "k2");
    idem_close(ix);
    /* the journal, with a line a crash cut and a line of garbage appended */
    char p[128];
    snprintf(p, sizeof p, "%s/.idempotency", dir);
    FILE *f = fopen(p, "a");
    assert_non_null(f);
    fputs("garbage line\n1 k3 5 ../escape\n2 k4 9 fn/b.pe", f);
    fclose(f);
    log_set_level(LOG_ERROR);
    ix = idem_open(dir, 3600, err, sizeof err);
    assert_non_null(ix);
    assert_int_equal(idem_count(ix), 1);
    assert_int_equal(idem_claim(ix, "k1", id, &bytes), 1);
    assert_string_equal(id, "fn/a.perf");
    assert_int_equal(idem_claim(ix, "k3", id, &bytes), 0);          /* bad id: dropped */
    idem_close(ix);
}

static void test_window_expires_keys(void **st)
{
    (void)st;
    char err[256], id[STORE_ID_MAX + 1];
    uint64_t bytes;
    char p[128];
    snprintf(p, sizeof p, "%s/.idempotency", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%lld old 1 fn/old.perf\n", (long long)time(NULL) - 7200);
    fprintf(f, "%lld new 1 fn/new.perf\n", (long long)time(NULL));
    fclose(f);
    struct idem *ix = idem_open(dir, 3600, err, sizeof err);
    assert_non_null(ix);
    assert_int_equal(idem_count(ix), 1);
    assert_int_equal(idem_claim(ix, "old", id, &bytes), 0);
    assert_int_equal(idem_claim(ix, "new", id, &bytes), 1);
    idem_close(ix);
}

/* The key reaches the journal in idem_prepare, before the trace is visible: a crash then
 * (no idem_commit) still finds the key after a reopen, with the id it was to have. */
static void test_prepare_journals_before_commit(void **st)
{
    (void)st;
    char err[256], id[STORE_ID_MAX + 1], first[STORE_ID_MAX + 1] = "";
    uint64_t bytes;
    struct idem *ix = idem_open(dir, 3600, err, sizeof err);
    assert_non_null(ix);
    assert_int_equal(idem_claim(ix, "kp", id, &bytes), 0);
    assert_int_equal(idem_prepare(ix, "kp", "fn/p.perf", 7, first), 0);
    idem_close(ix);                                                 /* "crash" */
    ix = idem_open(dir, 3600, err, sizeof err);
    assert_non_null(ix);
    assert_int_equal(idem_claim(ix, "kp", id, &bytes), 1);
    assert_string_equal(id, "fn/p.perf");
    assert_int_equal(bytes, 7);
    /* committed after its prepare: one journal line, not two */
    assert_int_equal(idem_claim(ix, "kq", id, &bytes), 0);
    assert_int_equal(idem_prepare(ix, "kq", "fn/q.perf", 8, first), 0);
    assert_int_equal(idem_commit(ix, "kq", "fn/q.perf", 8), 0);
    idem_close(ix);
    char p[128], line[256];
    snprintf(p, sizeof p, "%s/.idempotency", dir);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, " kq ") != NULL;
    fclose(f);
    assert_int_equal(n, 1);
}

static void test_key_syntax(void **st)
{
    (void)st;
    char k[IDEM_KEY_MAX + 1];
    assert_int_equal(idem_key_parse("abc-1", 5, k), 0);
    assert_string_equal(k, "abc-1");
    assert_int_equal(idem_key_parse("\"quoted:key\"", 12, k), 0);
    assert_string_equal(k, "quoted:key");
    assert_int_equal(idem_key_parse("", 0, k), -EINVAL);
    assert_int_equal(idem_key_parse("\"\"", 2, k), -EINVAL);
    assert_int_equal(idem_key_parse("a b", 3, k), -EINVAL);
    assert_int_equal(idem_key_parse("a\\b", 3, k), -EINVAL);
    assert_int_equal(idem_key_parse("a\nb", 3, k), -EINVAL);
    char long_key[IDEM_KEY_MAX + 2];
    memset(long_key, 'x', sizeof long_key);
    assert_int_equal(idem_key_parse(long_key, IDEM_KEY_MAX + 1, k), -EINVAL);
    assert_int_equal(idem_key_parse(long_key, IDEM_KEY_MAX, k), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_commit_replay_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_expires_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_journals_before_commit, setup, teardown),
        cmocka_unit_test(test_key_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
