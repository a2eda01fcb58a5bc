/* Unit tests for the timer sampler (tracer/timer_sampler.h): the fault-safe frame walk
 * on crafted stacks (a good chain, loops, a chain into unmapped memory, return addresses
 * outside code, a stack pointer outside any stack), the /proc/PID/maps reader, and the
 * real thing: SIGPROF samples of this process's own threads, with a thread that takes
 * its timer itself and one found by the scan. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../tracer/timer_sampler.h"

#define TEXT_LO 0x400000u
#define TEXT_HI 0x500000u

static uintptr_t stk[64] __attribute__((aligned(16)));

static size_t maps_for(ts_map *m)
{
    uintptr_t a = (uintptr_t)stk, b = (uintptr_t)(stk + 64);
    size_t n = 0;
    if (a < TEXT_LO) {
        m[n++] = (ts_map){ a, b, TS_MAP_STACK };
        m[n++] = (ts_map){ TEXT_LO, TEXT_HI, TS_MAP_EXEC };
    } else {
        m[n++] = (ts_map){ TEXT_LO, TEXT_HI, TS_MAP_EXEC };
        m[n++] = (ts_map){ a, b, TS_MAP_STACK };
    }
    return n;
}

/* frames at stk[8], stk[16], stk[24]; the outermost has a zero frame pointer */
static void good_chain(void)
{
    memset(stk, 0, sizeof stk);
    stk[8] = (uintptr_t)&stk[16];  stk[9] = TEXT_LO + 0x100;
    stk[16] = (uintptr_t)&stk[24]; stk[17] = TEXT_LO + 0x200;
    stk[24] = 0;                   stk[25] = TEXT_LO + 0x300;
}

static void test_walk_good_chain(void **state)
{
    (void)state;
    ts_map m[4];
    size_t nm = maps_for(m);
    uint64_t out[16];
    good_chain();
    size_t n = timer_walk(m, nm, TEXT_LO + 0x50, (uintptr_t)&stk[2], (uintptr_t)&stk[8], out, 16);
    assert_int_equal(n, 4);
    assert_int_equal(out[0], TEXT_LO + 0x50);
    assert_int_equal(out[1], TEXT_LO + 0x100);
    assert_int_equal(out[3], TEXT_LO + 0x300);
    /* bounded by max */
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 2), 2);
}

static void test_walk_loops_end(void **state)
{
    (void)state;
    ts_map m[4];
    size_t nm = maps_for(m);
    uint64_t out[200];
    good_chain();
    stk[24] = (uintptr_t)&stk[8];                   /* back to the first frame */
    size_t n = timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 200);
    assert_int_equal(n, 4);
    good_chain();
    stk[8] = (uintptr_t)&stk[8];                    /* a frame that points to itself */
    n = timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 200);
    assert_int_equal(n, 2);
}

static void test_walk_unmapped_and_bad_values(void **state)
{
    (void)state;
    ts_map m[4];
    size_t nm = maps_for(m);
    uint64_t out[16];
    long pg = sysconf(_SC_PAGESIZE);
    void *hole = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(hole != MAP_FAILED);
    munmap(hole, (size_t)pg);
    good_chain();
    stk[16] = (uintptr_t)hole;                      /* the chain leaves into unmapped memory */
    size_t n = timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 16);
    assert_int_equal(n, 3);
    good_chain();
    stk[17] = (uintptr_t)hole;                      /* a return address outside any code */
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 16), 2);
    good_chain();
    stk[16] = (uintptr_t)&stk[24] + 3;              /* misaligned */
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 16), 3);
    good_chain();
    stk[16] = (uintptr_t)&stk[63];                  /* its return address would be past the end */
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 16), 3);
    good_chain();
    stk[16] = (uintptr_t)&stk[4];                   /* below the previous frame (downwards) */
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 16), 3);
    /* stack pointer in no known stack: the leaf only, nothing read */
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)hole, (uintptr_t)hole, out, 16), 1);
    /* frame pointer below the stack pointer */
    good_chain();
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)&stk[10], (uintptr_t)&stk[8], out, 16),
                     1);
    assert_int_equal(timer_walk(m, nm, TEXT_LO, (uintptr_t)stk, 0, out, 16), 1);
    assert_int_equal(timer_walk(NULL, 0, TEXT_LO, (uintptr_t)stk, (uintptr_t)&stk[8], out, 16), 1);
}

static void test_parse_maps(void **state)
{
    (void)state;
    const char *text =
        "55d0c0a00000-55d0c0a01000 r--p 00000000 fe:01 123 /srv/fn/app\n"
        "55d0c0a01000-55d0c0a05000 r-xp 00001000 fe:01 123 /srv/fn/app\n"
        "55d0c0a08000-55d0c0a09000 rw-p 00007000 fe:01 123 /srv/fn/app\n"
        "55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0          [heap]\n"
        "7f0000000000-7f0000800000 rw-p 00000000 00:00 0 \n"
        "garbage line\n"
        "7f0000900000-7f0000800000 rw-p 00000000 00:00 0\n"
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0          [stack]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]";
    ts_map m[8];
    int trunc;
    size_t n = timer_parse_maps(text, strlen(text), m, 8, &trunc);
    assert_int_equal(n, 4);
    assert_false(trunc);
    assert_int_equal(m[0].start, 0x55d0c0a01000u);
    assert_int_equal(m[0].flags, TS_MAP_EXEC);
    assert_int_equal(m[1].start, 0x7f0000000000u);
    assert_int_equal(m[1].flags, TS_MAP_STACK);
    assert_int_equal(m[2].flags, TS_MAP_STACK);
    assert_int_equal(m[3].flags, TS_MAP_EXEC);
    n = timer_parse_maps(text, strlen(text), m, 2, &trunc);
    assert_int_equal(n, 2);
    assert_true(trunc);
}

/* ---- the real sampler ------------------------------------------------------------ */

static volatile unsigned long sink;

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void timer_test_burn(double s);
__attribute__((noinline)) void timer_test_burn(double s)
{
    double end = thread_cpu() + s;
    while (thread_cpu() < end)
        for (int i = 0; i < 10000; i++) sink = sink * 33 + (unsigned long)i;
}

struct got {
    int samples, deep, exits;
    uint64_t weight_ns;          /* sum of the samples' periods */
    int tids[8];
    int ntids;
};

static void collect(void *arg, const sampler_rec *r)
{
    struct got *g = arg;
    if (r->type == SREC_EXIT) { g->exits++; return; }
    if (r->type != SREC_SAMPLE) return;
    g->samples++;
    g->weight_ns += r->period;
    assert_int_equal(r->pid, getpid());
    assert_true(r->nips >= 2 && r->ips[0] == SAMPLER_CONTEXT_USER);
    assert_int_equal(r->period, 5000000);     /* a late signal is several samples */
    if (r->nips >= 4) g->deep++;
    int k;
    for (k = 0; k < g->ntids && g->tids[k] != (int)r->tid; k++) {}
    if (k == g->ntids && g->ntids < 8) g->tids[g->ntids++] = (int)r->tid;
}

static void *attached(void *arg)
{
    (void)arg;
    assert_int_equal(timer_sampler_thread_attach(), 0);
    timer_test_burn(0.3);
    timer_sampler_thread_detach();
    return NULL;
}

static void test_sampler_samples_threads(void **state)
{
    (void)state;
    timer_sampler *s;
    char err[256];
    timer_sampler_opts o = { .freq = 200, .skip_tid = 0 };
    assert_int_equal(timer_sampler_open(&s, &o, err, sizeof err), 0);
    assert_true(timer_sampler_nthreads(s) >= 1);
    timer_sampler *s2;
    assert_int_equal(timer_sampler_open(&s2, &o, err, sizeof err), -EBUSY);   /* one per process */
    struct got g = { 0 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, attached, NULL), 0);
    timer_test_burn(0.3);
    pthread_join(th, NULL);
    timer_sampler_read(s, collect, &g);
    timer_sampler_disable(s);
    timer_sampler_read(s, collect, &g);
    /* 0.6 CPU-s at 200 Hz, two threads.  The kernel sees CPU timers at its tick, so on a
     * busy machine one signal can cover several periods: it is drained as that many
     * samples, so the count and the periods add up to the CPU time, less what was not
     * seen yet when the timers went */
    assert_in_range(g.weight_ns / 1000000, 450, 700);
    assert_in_range(g.samples, 90, 140);
    assert_true(g.weight_ns == (uint64_t)g.samples * 5000000u);
    assert_true(g.deep >= g.samples / 2);
    assert_int_equal(g.ntids, 2);
    assert_true(g.exits >= 2);
    assert_int_equal(timer_sampler_lost(s), 0);
    timer_sampler_close(s);
    /* closed: a new session may start, and attach without one is a no-op */
    assert_int_equal(timer_sampler_thread_attach(), 0);
    assert_int_equal(timer_sampler_open(&s, &o, err, sizeof err), 0);
    timer_sampler_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_good_chain),
        cmocka_unit_test(test_walk_loops_end),
        cmocka_unit_test(test_walk_unmapped_and_bad_values),
        cmocka_unit_test(test_parse_maps),
        cmocka_unit_test(test_sampler_samples_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
