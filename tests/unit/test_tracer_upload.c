/* Unit tests for tracer/upload: name validation, the spool when the collector is down
 * (a loopback port nobody listens on), its bounds (oldest evicted, counted), drains
 * that stop at the first failure and leave the entries, claims left by a dead process,
 * and delivery to a minimal HTTP peer on loopback (gzip body, X-name header). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../tracer/uploader.h"
#include "tracename.h"

static const char trace[] =
    "# ========\n# cmdline : test\n# ========\n#\n"
    "w 1/1 [000]     1.000000:    5000000 cpu-clock: \n"
    "\t            1217 hash_block+0x27 (/srv/fn/worker)\n\n";

/* A loopback port with nobody listening. */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (prefix ? !strncmp(de->d_name, prefix, strlen(prefix))
                   : de->d_name[0] != '.')   /* NULL: the queued entries */
            n++;
    closedir(d);
    return n;
}

static char spool[256];

static int setup(void **state)
{
    (void)state;
    snprintf(spool, sizeof spool, "/tmp/fntrace-spool-test-XXXXXX");
    return mkdtemp(spool) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", spool);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_names(void **state)
{
    (void)state;
    assert_true(trace_name_valid("fibonacci"));
    assert_true(trace_name_valid("a.b_c-9"));
    assert_false(trace_name_valid(""));
    assert_false(trace_name_valid(".hidden"));
    assert_false(trace_name_valid("../etc"));
    assert_false(trace_name_valid("a b"));
    assert_false(trace_name_valid(NULL));
    char long_name[130];
    memset(long_name, 'a', 129);
    long_name[129] = 0;
    assert_false(trace_name_valid(long_name));
}

static void test_spool_when_down(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
    upload_opts o = { .url = url, .name = "fib", .spool_dir = spool, .attempts = 2,
                      .backoff_ms = 10, .spool_max_files = 2 };
    upload_report rep = { 0 };
    char err[256];
    assert_int_equal(upload_submit(&o, trace, sizeof trace - 1, &rep, err, sizeof err), 1);
    assert_non_null(strstr(err, "spooled"));
    assert_int_equal(rep.spooled, 1);
    assert_int_equal(count_entries(spool, NULL), 1);
    /* bounded: the third trace evicts the oldest, and says so */
    assert_int_equal(upload_submit(&o, trace, sizeof trace - 1, &rep, err, sizeof err), 1);
    assert_int_equal(upload_submit(&o, trace, sizeof trace - 1, &rep, err, sizeof err), 1);
    assert_int_equal(rep.spooled, 3);
    assert_int_equal(rep.evicted, 1);
    assert_int_equal(count_entries(spool, NULL), 2);
    assert_int_equal(count_entries(spool, ".tmp"), 0);
    /* a drain against a collector that is still down leaves everything */
    upload_report dr = { 0 };
    assert_int_equal(upload_drain(&o, &dr, err, sizeof err), 2);
    assert_int_equal(dr.sent, 0);
    assert_int_equal(dr.left, 2);
    assert_int_equal(count_entries(spool, NULL), 2);
    assert_int_equal(count_entries(spool, ".claim"), 0);
    /* too big for the spool at all: an error, not a silent drop */
    o.spool_max_bytes = 10;
    assert_true(upload_submit(&o, trace, sizeof trace - 1, &rep, err, sizeof err) < 0);
}

/* Permanent refusals are not retried and not spooled. */
static void test_bad_name_refused(void **state)
{
    (void)state;
    upload_opts o = { .url = "http://127.0.0.1:9/", .name = "../x", .spool_dir = spool };
    char err[256];
    assert_int_equal(upload_submit(&o, trace, 10, NULL, err, sizeof err), -EINVAL);
    assert_int_equal(count_entries(spool, NULL), 0);
}

/* A minimal HTTP peer: answers each request with `status`, records the last one. */
struct peer {
    int fd, port, status, requests;
    char last[8192];
    size_t last_len;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    for (;;) {
        int c = accept(p->fd, NULL, NULL);
        if (c < 0) return NULL;
        size_t n = 0;
        char *body = NULL;
        long clen = -1;
        while (n < sizeof p->last - 1) {
            ssize_t r = read(c, p->last + n, sizeof p->last - 1 - n);
            if (r <= 0) break;
            n += (size_t)r;
            p->last[n] = 0;
            char *eoh = strstr(p->last, "\r\n\r\n");
            if (eoh && clen < 0) {
                char *cl = strcasestr(p->last, "content-length:");
                clen = cl ? strtol(cl + 15, NULL, 10) : 0;
                body = eoh + 4;
            }
            if (body && (long)(n - (size_t)(body - p->last)) >= clen) break;
        }
        p->last_len = n;
        p->requests++;
        char resp[128];
        int l = snprintf(resp, sizeof resp,
                         "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                         p->status);
        ssize_t w = write(c, resp, (size_t)l);
        (void)w;
        close(c);
    }
}

static void test_delivery_and_drain(void **state)
{
    (void)state;
    struct peer p = { .status = 201 };
    p.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(p.fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(p.fd, (struct sockaddr *)&a, &l);
    listen(p.fd, 8);
    pthread_t th;
    pthread_create(&th, NULL, peer_main, &p);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    upload_opts o = { .url = url, .name = "fib", .spool_dir = spool, .attempts = 1 };
    /* two entries wait in the spool, one of them claimed by a process that died */
    assert_int_equal(upload_spool(&o, "old-one", trace, sizeof trace - 1, NULL, NULL, 0), 0);
    assert_int_equal(upload_spool(&o, "old-two", trace, sizeof trace - 1, NULL, NULL, 0), 0);
    pid_t dead = fork();
    if (!dead) _exit(0);
    waitpid(dead, NULL, 0);
    DIR *d = opendir(spool);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strstr(de->d_name, "old-two")) {
            char from[600], to[600];
            snprintf(from, sizeof from, "%s/%s", spool, de->d_name);
            snprintf(to, sizeof to, "%s/.claim.%d.%s", spool, (int)dead, de->d_name);
            assert_int_equal(rename(from, to), 0);
        }
    }
    closedir(d);
    upload_report rep = { 0 };
    char err[256];
    assert_int_equal(upload_drain(&o, &rep, err, sizeof err), 0);
    assert_int_equal(rep.sent, 2);
    assert_int_equal(count_entries(spool, NULL), 0);
    assert_int_equal(count_entries(spool, ".claim"), 0);
    assert_non_null(strcasestr(p.last, "X-name: old-two"));
    /* a new trace: gzip body, X-name */
    assert_int_equal(upload_submit(&o, trace, sizeof trace - 1, &rep, err, sizeof err), 0);
    assert_int_equal(p.requests, 3);
    assert_non_null(strcasestr(p.last, "X-name: fib"));
    assert_non_null(strcasestr(p.last, "Content-Encoding: gzip"));
    /* a server that refuses gzip (415) gets plain text, from then on too */
    p.status = 415;
    assert_true(upload_send(&o, trace, sizeof trace - 1, &rep, err, sizeof err) < 0);
    assert_null(strcasestr(p.last, "Content-Encoding: gzip"));
    assert_non_null(strstr(p.last, "hash_block+0x27"));
    /* permanent refusals in the spool are set aside, not retried forever */
    p.status = 400;
    assert_int_equal(upload_spool(&o, "bad", trace, sizeof trace - 1, NULL, NULL, 0), 0);
    memset(&rep, 0, sizeof rep);
    assert_int_equal(upload_drain(&o, &rep, err, sizeof err), 0);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(count_entries(spool, ".rejected."), 1);
    shutdown(p.fd, SHUT_RDWR);
    close(p.fd);
    pthread_join(th, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_spool_when_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_name_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_and_drain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
