/* Unit tests for lib/store (directory backend) on a fresh temporary directory: name and
 * id checks, put/commit/list/open/delete, aborts and crashes leave nothing visible,
 * temporary debris is removed at open (but not a live writer's file), concurrent puts of
 * one name never collide, usage totals, retention by size and by age. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static char dir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/test_store.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    char outside[300];
    snprintf(outside, sizeof outside, "%s.outside", dir);
    nftw(outside, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static store *open_store(void)
{
    char err[256] = "";
    store *st = store_open_dir(dir, err, sizeof err);
    if (!st) fprintf(stderr, "store_open_dir: %s\n", err);
    assert_non_null(st);
    store_set_fsync(st, 0);
    return st;
}

static int count_dir(const char *sub)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    int n = 0;
    FILE *f;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "find '%s' -type f | wc -l", p);
    f = popen(cmd, "r");
    if (!f || fscanf(f, "%d", &n) != 1) n = -1;
    if (f) pclose(f);
    return n;
}

static void put_one(store *st, const char *name, const char *text, int gzip,
                    struct store_entry *e)
{
    char err[256];
    store_put *p = store_put_begin(st, name, gzip, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(store_put_write(p, text, strlen(text)), 0);
    assert_int_equal(store_put_commit(p, e), 0);
}

static void test_names(void **state)
{
    assert_true(trace_name_valid("fibonacci"));
    assert_true(trace_name_valid("a.b_c-D9"));
    char n128[129], n129[130];
    memset(n128, 'a', 128); n128[128] = 0;
    memset(n129, 'a', 129); n129[129] = 0;
    assert_true(trace_name_valid(n128));
    assert_false(trace_name_valid(n129));
    const char *bad[] = { "", ".hidden", "..", "../../etc/passwd", "/abs", "a/b", "a b",
                          "caf\xc3\xa9", "a\\b", "a:b", NULL };
    for (int i = 0; bad[i]; i++) assert_false(trace_name_valid(bad[i]));
    assert_false(trace_name_valid(NULL));
}

static void test_ids(void **state)
{
    assert_true(store_id_valid("fib/20261121T101500.123Z-1a2b3c.perf"));
    assert_true(store_id_valid("top-level.perf"));
    assert_true(store_id_valid("a/b/c/d.perf"));
    const char *bad[] = { "", "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/",
                          ".tmp/x", "a/.hidden", "a\\b", "a/\x01", "a/\xc3\xa9",
                          "1/2/3/4/5/6/7/8/9", NULL };
    for (int i = 0; bad[i]; i++) assert_false(store_id_valid(bad[i]));
    char long_id[STORE_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    assert_false(store_id_valid(long_id));
}

static void test_put_list_open_delete(void **state)
{
    store *st = open_store();
    struct store_entry e1, e2, e;
    put_one(st, "fib", "one\n", 0, &e1);
    put_one(st, "fib", "second\n", 1, &e2);
    assert_string_equal(e1.name, "fib");
    assert_int_equal(e1.bytes, 4);
    assert_non_null(strstr(e1.id, ".perf"));
    assert_null(strstr(e1.id, ".gz"));
    assert_true(e2.gzip);
    assert_non_null(strstr(e2.id, ".perf.gz"));
    assert_int_equal(strncmp(e1.id, "fib/", 4), 0);

    struct store_entry *v;
    size_t n;
    assert_int_equal(store_list(st, "fib", &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].id, e1.id);              /* oldest first */
    free(v);
    assert_int_equal(store_list(st, "nothing", &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(store_list(st, "../x", &v, &n), -EINVAL);

    int fd;
    assert_int_equal(store_open(st, e2.id, &fd, &e), 0);
    char buf[16] = "";
    assert_int_equal(read(fd, buf, sizeof buf), 7);
    assert_memory_equal(buf, "second\n", 7);
    close(fd);
    assert_int_equal(store_open(st, "../etc/passwd", &fd, &e), -EINVAL);
    assert_int_equal(store_open(st, "fib/missing.perf", &fd, &e), -ENOENT);
    assert_int_equal(store_stat(st, e1.id, &e), 0);
    assert_int_equal(e.bytes, 4);

    uint64_t bytes, files;
    store_usage(st, &bytes, &files);
    assert_int_equal(bytes, 11);
    assert_int_equal(files, 2);
    assert_int_equal(store_delete(st, e1.id), 0);
    assert_int_equal(store_delete(st, e1.id), -ENOENT);
    assert_int_equal(store_delete(st, ".tmp/x"), -EINVAL);
    store_usage(st, &bytes, &files);
    assert_int_equal(bytes, 7);
    assert_int_equal(files, 1);
    store_close(st);
}

static void test_abort_leaves_nothing(void **state)
{
    store *st = open_store();
    char err[256];
    store_put *p = store_put_begin(st, "gone", 0, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(store_put_write(p, "partial", 7), 0);
    assert_int_equal(count_dir(".tmp"), 1);
    store_put_abort(p);
    assert_int_equal(count_dir(""), 0);
    assert_null(store_put_begin(st, "../evil", 0, err, sizeof err));
    store_close(st);
}

static void test_debris_cleaned_live_writer_kept(void **state)
{
    store *st = open_store();
    char path[512];
    snprintf(path, sizeof path, "%s/.tmp/123-4-deadbeef.part", dir);   /* a crash's leftover */
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "half", 4), 4);
    close(fd);
    char err[256];
    store_put *live = store_put_begin(st, "live", 0, err, sizeof err);   /* in flight */
    assert_non_null(live);
    assert_int_equal(count_dir(".tmp"), 2);

    store *other = open_store();     /* a restart, or flamescope opening the same dir */
    assert_int_equal(count_dir(".tmp"), 1);
    struct store_entry *v;
    size_t n;
    assert_int_equal(store_list(other, NULL, &v, &n), 0);
    assert_int_equal(n, 0);          /* the temporary area is never listed */
    free(v);
    struct store_entry e;
    assert_int_equal(store_put_write(live, "x\n", 2), 0);
    assert_int_equal(store_put_commit(live, &e), 0);
    assert_int_equal(count_dir(".tmp"), 0);
    assert_int_equal(store_list(other, NULL, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
    store_close(other);
    store_close(st);
}

static void test_list_walks_any_depth_skips_dotfiles(void **state)
{
    store *st = open_store();
    char p[4096];
    snprintf(p, sizeof p, "mkdir -p '%s/a/b/c' '%s/.hidden' && echo x > '%s/a/b/c/deep.perf' && "
             "echo y > '%s/top.perf' && echo z > '%s/.hidden/h.perf' && echo w > '%s/a/.dot' && "
             "ln -s /etc/passwd '%s/a/link.perf' && mkdir -p '%s.outside' && "
             "echo s > '%s.outside/passwd' && "
             "ln -s '%s.outside' '%s/etc'", dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(system(p), 0);
    struct store_entry *v;
    size_t n;
    assert_int_equal(store_list(st, NULL, &v, &n), 0);
    assert_int_equal(n, 2);
    int deep = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i].id, "a/b/c/deep.perf")) { deep = 1; assert_string_equal(v[i].name, "a"); }
        if (!strcmp(v[i].id, "top.perf")) { top = 1; assert_string_equal(v[i].name, ""); }
    }
    assert_true(deep && top);
    free(v);
    int fd;
    struct store_entry e;
    assert_int_equal(store_open(st, "a/link.perf", &fd, &e), -ENOENT);  /* no symlinks */
    assert_int_equal(store_open(st, "etc/passwd", &fd, &e), -ENOENT);   /* on the way either */
    assert_int_equal(store_delete(st, "etc/passwd"), -ENOENT);
    assert_int_equal(store_delete(st, "a/link.perf"), -ENOENT);
    assert_int_equal(access("/etc/passwd", F_OK), 0);
    char err[256], outside[300];
    store_put *pp = store_put_begin(st, "etc", 0, err, sizeof err);     /* NAME is a symlink */
    assert_non_null(pp);
    assert_int_equal(store_put_write(pp, "x\n", 2), 0);
    struct store_entry pe;
    assert_int_equal(store_put_commit(pp, &pe), -ENOTDIR);
    snprintf(outside, sizeof outside, "%s.outside/passwd", dir);
    assert_int_equal(access(outside, F_OK), 0);                          /* not deleted */
    snprintf(outside, sizeof outside, "find '%s.outside' -type f | wc -l | grep -qx 1", dir);
    assert_int_equal(system(outside), 0);                                /* nothing added */
    assert_int_equal(count_dir(".tmp"), 0);
    assert_int_equal(store_open(st, "a/b/c/deep.perf", &fd, &e), 0);
    close(fd);
    store_close(st);
}

struct writer_arg { store *st; char ids[20][STORE_ID_MAX + 1]; };

static void *writer(void *arg)
{
    struct writer_arg *w = arg;
    for (int i = 0; i < 20; i++) {
        char err[256];
        store_put *p = store_put_begin(w->st, "same", 0, err, sizeof err);
        if (!p) return NULL;
        store_put_write(p, "data\n", 5);
        struct store_entry e;
        if (store_put_commit(p, &e) == 0) snprintf(w->ids[i], sizeof w->ids[i], "%s", e.id);
    }
    return NULL;
}

static void test_concurrent_puts_never_collide(void **state)
{
    store *st = open_store();
    enum { T = 4 };
    pthread_t th[T];
    static struct writer_arg w[T];
    for (int i = 0; i < T; i++) { w[i].st = st; pthread_create(&th[i], NULL, writer, &w[i]); }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    struct store_entry *v;
    size_t n;
    assert_int_equal(store_list(st, "same", &v, &n), 0);
    assert_int_equal(n, T * 20);
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++) assert_string_not_equal(v[i].id, v[j].id);
    free(v);
    uint64_t files;
    store_usage(st, NULL, &files);
    assert_int_equal(files, T * 20);
    store_close(st);
}

static void set_age(const char *id, int seconds_ago)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", dir, id);
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= seconds_ago;
    t[1] = t[0];
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
}

static void test_retention(void **state)
{
    store *st = open_store();
    struct store_entry e[4];
    const char *text = "0123456789\n";              /* 11 bytes each */
    for (int i = 0; i < 4; i++) put_one(st, "r", text, 0, &e[i]);
    set_age(e[0].id, 400);
    set_age(e[1].id, 300);
    set_age(e[2].id, 200);
    set_age(e[3].id, 100);
    assert_int_equal(store_retain(st, 0, 0), 0);     /* no limits: nothing to do */
    assert_int_equal(store_retain(st, 0, 250), 2);   /* the two older than 250 s */
    assert_int_equal(store_stat(st, e[0].id, NULL), -ENOENT);
    assert_int_equal(store_stat(st, e[1].id, NULL), -ENOENT);
    assert_int_equal(store_retain(st, 15, 0), 1);    /* 22 bytes > 15: the oldest goes */
    assert_int_equal(store_stat(st, e[2].id, NULL), -ENOENT);
    assert_int_equal(store_stat(st, e[3].id, NULL), 0);
    uint64_t bytes, files;
    store_usage(st, &bytes, &files);
    assert_int_equal(bytes, 11);
    assert_int_equal(files, 1);
    store_close(st);
}

/* Another process opening the store (a second collector, flamescope) cleans the temporary
 * area while uploads commit: it must never take a writer's file, so every commit works. */
struct reopen_arg { atomic_int stop; };

static void *reopener(void *arg)
{
    struct reopen_arg *r = arg;
    while (!atomic_load(&r->stop)) {
        char err[256];
        store *o = store_open_dir(dir, err, sizeof err);
        if (o) store_close(o);
    }
    return NULL;
}

static void test_reopen_never_disturbs_commits(void **state)
{
    store *st = open_store();
    static struct reopen_arg r;
    atomic_store(&r.stop, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, reopener, &r);
    int failed = 0;
    for (int i = 0; i < 1500; i++) {
        char err[256];
        store_put *p = store_put_begin(st, "busy", 0, err, sizeof err);
        if (!p) { failed++; continue; }
        store_put_write(p, "data\n", 5);
        struct store_entry e;
        if (store_put_commit(p, &e)) failed++;
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    assert_int_equal(failed, 0);
    store_close(st);
}

/* Someone who can write into the store swaps DIR/NAME for a symlink to elsewhere while
 * uploads of NAME commit: the check that NAME is a real directory and the rename into it
 * must be one step, so no trace ever lands outside the store. */
struct swap_arg { atomic_int stop; char name[300], link[300], outside[300]; };

static void *swapper(void *arg)
{
    struct swap_arg *a = arg;
    /* DIR/swap and a symlink to the outside trade places atomically, back and forth */
    while (!atomic_load(&a->stop)) {
        renameat2(AT_FDCWD, a->name, AT_FDCWD, a->link, RENAME_EXCHANGE);
        sched_yield();
    }
    return NULL;
}

static void test_commit_never_follows_a_swapped_in_symlink(void **state)
{
    store *st = open_store();
    static struct swap_arg a;
    atomic_store(&a.stop, 0);
    snprintf(a.name, sizeof a.name, "%s/swap", dir);
    snprintf(a.outside, sizeof a.outside, "%s.outside", dir);
    assert_int_equal(mkdir(a.outside, 0755), 0);
    snprintf(a.link, sizeof a.link, "%s/swap.link", dir);
    assert_int_equal(symlink(a.outside, a.link), 0);
    struct store_entry e;
    put_one(st, "swap", "x\n", 0, &e);                    /* DIR/swap exists */
    pthread_t th;
    pthread_create(&th, NULL, swapper, &a);
    for (int i = 0; i < 1000; i++) {
        char err[256];
        store_put *p = store_put_begin(st, "swap", 0, err, sizeof err);
        if (!p) continue;
        store_put_write(p, "data\n", 5);
        store_put_commit(p, &e);
    }
    atomic_store(&a.stop, 1);
    pthread_join(th, NULL);
    unlink(a.link);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", a.outside);
    assert_int_equal(system(cmd), 0);                      /* nothing outside the store */
    assert_int_equal(count_dir(".tmp"), 0);
    store_close(st);
}

/* A file put into the store by hand with a modification time past 2262 (a bad clock,
 * `touch -d 3000-01-01`) does not fit int64 nanoseconds: it must still list as the newest,
 * never wrap into the past and be the first that retention removes. */
static void test_far_future_mtime_is_newest(void **state)
{
    store *st = open_store();
    struct store_entry e;
    put_one(st, "r", "0123456789\n", 0, &e);
    set_age(e.id, 100);
    char p[512];
    snprintf(p, sizeof p, "%s/r/future.perf", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("x\n", f);
    fclose(f);
    struct timespec t[2] = { { 32503680000, 0 }, { 32503680000, 0 } };    /* year 3000 */
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    struct store_entry *v;
    size_t n;
    assert_int_equal(store_list(st, NULL, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].id, e.id);                   /* oldest first */
    assert_string_equal(v[1].id, "r/future.perf");
    assert_true(v[1].mtime_ns > v[0].mtime_ns);
    free(v);
    assert_int_equal(store_retain(st, 0, 3600), 0);       /* nothing is an hour old */
    assert_int_equal(store_stat(st, "r/future.perf", NULL), 0);
    store_close(st);
}

/* A trace replaced by hand with one of the same size and the same mtime (cp -p, touch -r)
 * keeps bytes and mtime_ns: its version (the change token) must differ, whether the file
 * was renamed over or rewritten in place; an untouched trace keeps its version. */
static void test_version_changes_when_replaced_with_same_size_and_mtime(void **state)
{
    store *st = open_store();
    struct store_entry e, a, b;
    put_one(st, "v", "first\n", 0, &e);
    assert_true(e.version[0]);
    assert_int_equal(store_stat(st, e.id, &a), 0);
    assert_string_equal(a.version, e.version);
    char p[STORE_ID_MAX + 300], tmp[300];
    snprintf(p, sizeof p, "%s/%s", dir, e.id);
    snprintf(tmp, sizeof tmp, "%s/v/.replacement", dir);
    struct timespec t[2] = { { 0, UTIME_OMIT }, { a.mtime_ns / 1000000000,
                                                   a.mtime_ns % 1000000000 } };
    /* rename-replace */
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs("other\n", f);
    fclose(f);
    assert_int_equal(utimensat(AT_FDCWD, tmp, t, 0), 0);
    assert_int_equal(rename(tmp, p), 0);
    assert_int_equal(store_stat(st, e.id, &b), 0);
    assert_int_equal(b.bytes, a.bytes);
    assert_true(b.mtime_ns == a.mtime_ns);
    assert_string_not_equal(b.version, a.version);
    /* in-place rewrite; ctime has the granularity of the kernel's clock tick */
    usleep(50000);
    f = fopen(p, "r+");
    assert_non_null(f);
    fputs("third\n", f);
    fclose(f);
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    assert_int_equal(store_stat(st, e.id, &a), 0);
    assert_int_equal(a.bytes, b.bytes);
    assert_true(a.mtime_ns == b.mtime_ns);
    assert_string_not_equal(a.version, b.version);
    store_close(st);
}

/* A --max-age far beyond the epoch ("1000000d", or the largest lib/units accepts) means
 * "keep for ever": nothing in the store is that old. */
static void test_retention_huge_age_keeps_everything(void **state)
{
    store *st = open_store();
    struct store_entry e;
    put_one(st, "r", "0123456789\n", 0, &e);
    set_age(e.id, 100);
    assert_int_equal(store_retain(st, 0, 86400000000LL), 0);       /* 1000000d */
    assert_int_equal(store_retain(st, 0, INT64_MAX / 1000), 0);    /* units' largest */
    assert_int_equal(store_retain(st, 0, INT64_MAX), 0);
    assert_int_equal(store_stat(st, e.id, NULL), 0);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_ids),
        cmocka_unit_test_setup_teardown(test_put_list_open_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debris_cleaned_live_writer_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_walks_any_depth_skips_dotfiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_puts_never_collide, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_never_disturbs_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_never_follows_a_swapped_in_symlink, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_far_future_mtime_is_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_huge_age_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_version_changes_when_replaced_with_same_size_and_mtime, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
