/* Unit tests for the tracer library API as the handler runtime uses it: a process
 * sampling itself (threads started after tracer_start included), flushed in windows to
 * memory with invocation lines, the output read back with lib/perfscript's parser
 * (zero skipped lines), and errors for targets that do not exist. */
#define _GNU_SOURCE              /* gettid */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../tracer/sampler.h"
#include "../../tracer/tracer.h"
#include "perfscript.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile unsigned long sink;
static int workers_done;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void burn_cpu_in_test(double seconds);
__attribute__((noinline)) void burn_cpu_in_test(double seconds)
{
    double end = thread_cpu() + seconds;     /* CPU time: a busy machine only slows it */
    unsigned long x = 1;
    while (thread_cpu() < end)
        for (int i = 0; i < 100000; i++) x = x * 6364136223846793005UL + 1;
    sink += x;
}

static void *worker(void *arg)
{
    burn_cpu_in_test(*(double *)arg);
    __atomic_add_fetch(&workers_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

struct seen {
    int samples, burn, pids_ok;
    int invocations;
    int cmdline_lines;
    uint64_t first_ns;
};

static int on_sample(void *ctx, const ps_sample *s)
{
    struct seen *v = ctx;
    v->samples++;
    if (s->pid == getpid()) v->pids_ok++;
    for (uint32_t i = 0; i < s->nframes; i++)
        if (ps_str_eqc(s->frames[i].sym, "burn_cpu_in_test")) {
            v->burn++;
            break;
        }
    if (!v->first_ns) v->first_ns = s->time_ns;
    return 0;
}

static int on_header(void *ctx, ps_str line, uint64_t lineno)
{
    struct seen *v = ctx;
    ps_invocation inv;
    if (ps_header_invocation(line, &inv)) {
        assert_true(ps_str_eqc(inv.fn, "hello"));
        assert_int_equal(inv.status, 200);
        v->invocations++;
    }
    ps_str k, val;
    if (ps_header_kv(line, &k, &val) && ps_str_eqc(k, "cmdline")) v->cmdline_lines++;
    return 0;
}

static void parse_text(const char *buf, size_t len, struct seen *v)
{
    ps_parse_opts po = { .on_sample = on_sample, .on_header = on_header, .ctx = v };
    ps_parser *p = ps_parser_new(&po);
    assert_non_null(p);
    assert_int_equal(ps_parse_mem(p, buf, len), 0);
    assert_int_equal(ps_parser_stats(p)->skipped, 0);
    ps_parser_free(p);
}

static void test_self_sampling_in_windows(void **state)
{
    (void)state;
    char err[256];
    tracer_opts o = { .pid = getpid(), .freq = 200, .cmdline = "handler --port 8080\nsecond line" };
    tracer *t = tracer_start(&o, err, sizeof err);
    assert_non_null(t);
    tracer_stats st;
    tracer_get_stats(t, &st);
    assert_true(st.events >= 1);

    /* window 1: two threads created after tracer_start burn CPU */
    double secs = 0.5;
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, &secs);
    double end = now() + 60;
    while (__atomic_load_n(&workers_done, __ATOMIC_SEQ_CST) < 2 && now() < end) tracer_poll(t, 50);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    tracer_poll(t, 0);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t t_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    ps_invocation inv = { .id = PS_STR("inv 1"), .fn = PS_STR("hello"),
                         .start_ns = t_ns - 500000000,
                          .end_ns = t_ns, .status = 200, .flags = PS_INV_END | PS_INV_STATUS };
    const char *lines[] = { "fntrace window : 1" };
    tracer_header h = { .invocations = &inv, .ninvocations = 1, .lines = lines, .nlines = 1 };
    assert_int_equal(tracer_flush(t, f, &h), 0);
    fclose(f);
    struct seen v = { 0 };
    parse_text(buf, len, &v);
    /* two threads x 0.5 CPU-s at 200 Hz: 200 samples */
    assert_true(v.samples >= 190);
    assert_true(v.burn >= 0.8 * v.samples);
    assert_int_equal(v.pids_ok, v.samples);
    assert_int_equal(v.invocations, 1);
    assert_int_equal(v.cmdline_lines, 1);
    assert_non_null(strstr(buf, "# fntrace window : 1\n"));
    assert_non_null(strstr(buf, "handler --port 8080\\nsecond line"));
    /* the sample clock is CLOCK_MONOTONIC: the samples lie inside the window */
    assert_true(v.first_ns > t_ns - 60000000000ull && v.first_ns < t_ns);
    free(buf);
    tracer_get_stats(t, &st);
    assert_int_equal(st.buffered, 0);

    /* window 2: only what came after the first flush */
    burn_cpu_in_test(0.2);
    tracer_stop(t);
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_int_equal(tracer_flush(t, f, NULL), 0);
    fclose(f);
    struct seen w = { 0 };
    parse_text(buf, len, &w);
    assert_true(w.samples >= 10 && w.samples < v.samples);
    assert_int_equal(w.invocations, 0);
    assert_non_null(strstr(buf, "# fntrace lost samples : 0\n"));
    free(buf);
    tracer_free(t);
}

/* A ring too small for what arrives between two reads: the kernel drops samples, and
 * the count shows up in the stats and in the header, never hidden. */
static void test_lost_samples_reported(void **state)
{
    (void)state;
    char err[256];
    tracer_opts o = { .pid = getpid(), .freq = 1000, .ring_pages = 4 };
    tracer *t = tracer_start(&o, err, sizeof err);
    assert_non_null(t);
    __atomic_store_n(&workers_done, 0, __ATOMIC_SEQ_CST);
    double secs = 0.4;
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, &secs);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);   /* no reads meanwhile */
    tracer_poll(t, 0);
    burn_cpu_in_test(0.05);      /* the kernel reports the loss with its next record */
    tracer_stop(t);
    tracer_stats st;
    tracer_get_stats(t, &st);
    assert_true(st.lost > 0);
    assert_true(st.samples > 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tracer_flush(t, f, NULL), 0);
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "# fntrace lost samples : %llu\n", (unsigned long long)st.lost);
    assert_non_null(strstr(buf, want));
    struct seen v = { 0 };
    parse_text(buf, len, &v);                    /* and the text is still well-formed */
    assert_int_equal((uint64_t)v.samples, st.samples);
    free(buf);
    tracer_free(t);
}

/* The handler's set-up: a sampling thread samples its own process but not itself. */
struct sampler_thread {
    int ready, stop, tid;
    char *buf;
    size_t len;
};

static int tid_seen;
static int on_sample_tid(void *ctx, const ps_sample *s)
{
    if (s->tid == *(int *)ctx) tid_seen = 1;
    return 0;
}

static void *sampling_thread(void *arg)
{
    struct sampler_thread *st = arg;
    char err[256];
    st->tid = gettid();
    tracer_opts o = { .pid = getpid(), .freq = 200, .skip_tid = st->tid };
    tracer *t = tracer_start(&o, err, sizeof err);
    __atomic_store_n(&st->ready, t ? 1 : -1, __ATOMIC_SEQ_CST);
    if (!t) return NULL;
    while (!__atomic_load_n(&st->stop, __ATOMIC_SEQ_CST)) {
        tracer_poll(t, 20);
        burn_cpu_in_test(0.002);             /* CPU of its own, which must not show */
    }
    tracer_stop(t);
    FILE *f = open_memstream(&st->buf, &st->len);
    tracer_flush(t, f, NULL);
    fclose(f);
    tracer_free(t);
    return NULL;
}

static void test_sampling_thread_skips_itself(void **state)
{
    (void)state;
    struct sampler_thread st = { 0 };
    pthread_t s;
    pthread_create(&s, NULL, sampling_thread, &st);
    while (!__atomic_load_n(&st.ready, __ATOMIC_SEQ_CST)) usleep(1000);
    assert_int_equal(st.ready, 1);
    __atomic_store_n(&workers_done, 0, __ATOMIC_SEQ_CST);
    double secs = 0.2;
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, &secs);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    __atomic_store_n(&st.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(s, NULL);
    struct seen v = { 0 };
    parse_text(st.buf, st.len, &v);
    assert_true(v.burn >= 60);                   /* the workers: 0.4 CPU-s at 200 Hz */
    ps_parse_opts po = { .on_sample = on_sample_tid, .ctx = &st.tid };
    ps_parser *p = ps_parser_new(&po);
    tid_seen = 0;
    ps_parse_mem(p, st.buf, st.len);
    ps_parser_free(p);
    assert_false(tid_seen);
    free(st.buf);
}

static void test_no_such_process(void **state)
{
    (void)state;
    char err[256] = "";
    tracer_opts o = { .pid = 4000000 };
    assert_null(tracer_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "no such process"));
}

/* sampler_chain_cut: a chain ending in copies of one address or of a short cycle keeps
 * the first copy; recursion that returns to distinct outer frames is kept whole. */
static void test_chain_cut(void **state)
{
    (void)state;
    uint64_t self_loop[127] = {0x10, 0x20};
    for (int i = 2; i < 127; i++) self_loop[i] = 0x30;
    assert_int_equal(sampler_chain_cut(self_loop, 127), 3);
    uint64_t cycle[40] = {0x10};
    for (int i = 1; i < 40; i++) cycle[i] = 0x100 + (uint64_t)((i - 1) % 3);   /* a b c a b c… */
    assert_int_equal(sampler_chain_cut(cycle, 40), 4);
    uint64_t recursion[40];
    for (int i = 0; i < 37; i++) recursion[i] = 0x500;           /* fib called from fib */
    recursion[37] = 0x600, recursion[38] = 0x700, recursion[39] = 0x800;  /* main, start */
    assert_int_equal(sampler_chain_cut(recursion, 40), 40);
    uint64_t short_run[6] = {0x1, 0x2, 0x3, 0x3, 0x3, 0x4};
    assert_int_equal(sampler_chain_cut(short_run, 6), 6);
    uint64_t three[3] = {0x9, 0x9, 0x9};                        /* fewer than 4 copies */
    assert_int_equal(sampler_chain_cut(three, 3), 3);
    assert_int_equal(sampler_chain_cut(three, 0), 0);
}

#if defined(__x86_64__)
static volatile int loop_stop;

/* Spins with the frame pointer on a frame whose saved frame pointer is itself: the
 * kernel's user-stack walk repeats its return address to the depth limit. */
__attribute__((noinline)) void spin_in_fp_loop(void);
__attribute__((noinline)) void spin_in_fp_loop(void)
{
    volatile uintptr_t frame[2];
    frame[0] = (uintptr_t)frame;
    frame[1] = (uintptr_t)&burn_cpu_in_test + 16;   /* a return address inside code */
    __asm__ volatile("mov %%rbp, %%r12\n\t"
                     "mov %0, %%rbp\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %1\n\t"
                     "je 1b\n\t"
                     "mov %%r12, %%rbp\n\t"
                     : : "r"(frame), "m"(loop_stop) : "r12", "memory");
}

static void *loop_worker(void *arg)
{
    (void)arg;
    spin_in_fp_loop();
    return NULL;
}

struct depth {
    int samples, looped, deepest;
};

static int on_depth(void *ctx, const ps_sample *s)
{
    struct depth *d = ctx;
    d->samples++;
    int run = 1;
    for (uint32_t i = 1; i < s->nframes; i++) {
        run = s->frames[i].addr == s->frames[i - 1].addr ? run + 1 : 1;
        if (run > d->deepest) d->deepest = run;
    }
    if (s->nframes >= 100) d->looped++;
    return 0;
}

/* A real frame-pointer loop, sampled by the perf backend: the trace shows the loop's
 * frame once, not 127 times, and the stats count the samples cut. */
static void test_frame_pointer_loop_cut(void **state)
{
    (void)state;
    char err[256];
    tracer_opts o = { .pid = getpid(), .freq = 200 };
    tracer *t = tracer_start(&o, err, sizeof err);
    assert_non_null(t);
    pthread_t th;
    loop_stop = 0;
    pthread_create(&th, NULL, loop_worker, NULL);
    double end = now() + 0.6;
    while (now() < end) tracer_poll(t, 50);
    loop_stop = 1;
    pthread_join(th, NULL);
    tracer_stop(t);
    tracer_stats st;
    tracer_get_stats(t, &st);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tracer_flush(t, f, NULL), 0);
    fclose(f);
    struct depth d = { 0 };
    ps_parse_opts po = { .on_sample = on_depth, .ctx = &d };
    ps_parser *p = ps_parser_new(&po);
    assert_int_equal(ps_parse_mem(p, buf, len), 0);
    ps_parser_free(p);
    assert_true(d.samples >= 20);
    assert_int_equal(d.looped, 0);
    assert_true(d.deepest < SAMPLER_LOOP_REPEATS);
    assert_true(st.loops_cut >= 20);
    free(buf);
    tracer_free(t);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_sampling_in_windows),
        cmocka_unit_test(test_lost_samples_reported),
        cmocka_unit_test(test_sampling_thread_skips_itself),
        cmocka_unit_test(test_no_such_process),
        cmocka_unit_test(test_chain_cut),
#if defined(__x86_64__)
        cmocka_unit_test(test_frame_pointer_loop_cut),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
