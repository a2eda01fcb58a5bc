/* selftrace — a program that links the tracer library and samples itself, the way the
 * handler runtime does: a tracing thread (named `fntrace`, never sampled itself) starts
 * the tracer on its own process, polls it every 100 ms, and at the end the trace is
 * written to OUT.  Workloads:
 *   selftrace [-s timer|perf] [-F HZ] -o OUT hotspots [ARGS…]   tests/progs/hotspots.c's
 *       workload, in this process (the fidelity test compares it with perf record -g);
 *   selftrace [-s timer|perf] [-F HZ] -o OUT stress [N]          signal-safety stress:
 *       four threads malloc, free, take a shared lock and write to stdio while the main
 *       thread creates and joins N short threads (half of them take their timer at once
 *       with timer_sampler_thread_attach) and forks a child every 10th round (the child
 *       computes a little and exits: it inherits the handler but no timer).
 * On stderr: `cpu_seconds=` (hotspots only), then `tracer_cpu_seconds=X samples=N
 * lost=N late=N` (late: the samples that stand for late signals' periods beyond their
 * first).  Exit 0 when the workload ran to completion and the trace was written; 1
 * otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timer_sampler.h"
#include "tracer.h"

int hotspots_main(int argc, char **argv);     /* tests/progs/hotspots.c, renamed */

static atomic_int stop_tracing;
static atomic_int ready;                       /* 1: started, -1: failed */
static tracer *g_tracer;
static enum tracer_sampler g_sampler = TRACER_SAMPLER_TIMER;
static int g_freq = 200;
static double g_tracer_cpu;
static char g_err[512];

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *tracing_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "fntrace");
    tracer_opts o = { .pid = getpid(), .freq = g_freq, .skip_tid = gettid(),
                      .sampler = g_sampler, .skip_comm = "fntrace" };
    g_tracer = tracer_start(&o, g_err, sizeof g_err);
    atomic_store(&ready, g_tracer ? 1 : -1);
    if (!g_tracer) return NULL;
    while (!atomic_load(&stop_tracing)) tracer_poll(g_tracer, 100);
    tracer_stop(g_tracer);
    g_tracer_cpu = thread_cpu();
    return NULL;
}

/* ---- stress ---------------------------------------------------------------------- */

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stress_done;
static volatile unsigned long sink;

__attribute__((noinline)) static void stress_alloc(unsigned *seed)
{
    void *p[16];
    for (int i = 0; i < 16; i++) {
        p[i] = malloc(16 + rand_r(seed) % 4096);
        if (p[i]) memset(p[i], i, 16);
    }
    for (int i = 0; i < 16; i++) free(p[i]);
}

__attribute__((noinline)) static void stress_lock(void)
{
    pthread_mutex_lock(&shared_lock);
    for (int i = 0; i < 2000; i++) sink = sink * 31 + (unsigned long)i;
    pthread_mutex_unlock(&shared_lock);
}

static void *stress_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    FILE *devnull = fopen("/dev/null", "we");
    while (!atomic_load(&stress_done)) {
        stress_alloc(&seed);
        stress_lock();
        if (devnull) fprintf(devnull, "%lu\n", sink);
        usleep(100);                           /* leave the short threads some CPU */
    }
    if (devnull) fclose(devnull);
    return NULL;
}

__attribute__((noinline)) static void stress_short_work(void)
{
    double end = thread_cpu() + 0.002;
    unsigned seed = 7;
    while (thread_cpu() < end) {
        stress_alloc(&seed);
        stress_lock();
    }
}

static void *stress_short(void *arg)
{
    int attach = (int)(uintptr_t)arg;
    if (attach) timer_sampler_thread_attach();
    stress_short_work();
    if (attach) timer_sampler_thread_detach();
    return NULL;
}

static int stress(int n)
{
    pthread_t w[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&w[i], NULL, stress_worker, (void *)(uintptr_t)(i + 1))) return 1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, stress_short, (void *)(uintptr_t)(i & 1))) rc = 1;
        else pthread_join(t, NULL);
        if (i % 10 == 0) {
            pid_t c = fork();
            if (c == 0) {
                /* a child of a threaded process may only do async-signal-safe work
                 * (another thread may have held the allocator's or the shared lock at
                 * the fork; ASan's allocator is not fork-safe at all) */
                for (int k = 0; k < 100000; k++) sink = sink * 31 + (unsigned long)k;
                _exit(0);
            }
            int st;
            if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) rc = 1;
        }
    }
    atomic_store(&stress_done, 1);
    for (int i = 0; i < 4; i++) pthread_join(w[i], NULL);
    return rc;
}

/* ---- main ------------------------------------------------------------------------ */


int main(int argc, char **argv)
{
    const char *out = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+s:F:o:")) != -1) {
        if (opt == 's')
            g_sampler = !strcmp(optarg, "perf") ? TRACER_SAMPLER_PERF : TRACER_SAMPLER_TIMER;
        else if (opt == 'F') g_freq = atoi(optarg);
        else if (opt == 'o') out = optarg;
        else return 2;
    }
    if (!out || optind >= argc) {
        fprintf(stderr, "usage: selftrace [-s timer|perf] [-F HZ] -o OUT "
                        "hotspots|stress [ARGS…]\n");
        return 2;
    }
    FILE *f = fopen(out, "we");
    if (!f) {
        fprintf(stderr, "selftrace: %s: %s\n", out, strerror(errno));
        return 1;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, tracing_thread, NULL)) return 1;
    while (!atomic_load(&ready)) usleep(1000);
    if (atomic_load(&ready) < 0) {
        fprintf(stderr, "selftrace: cannot trace: %s\n", g_err);
        pthread_join(th, NULL);
        return 1;
    }
    int rc;
    if (!strcmp(argv[optind], "hotspots"))
        rc = hotspots_main(argc - optind, argv + optind);
    else if (!strcmp(argv[optind], "stress"))
        rc = stress(optind + 1 < argc ? atoi(argv[optind + 1]) : 1000);
    else
        rc = 2;
    atomic_store(&stop_tracing, 1);
    pthread_join(th, NULL);
    tracer_stats st;
    tracer_get_stats(g_tracer, &st);
    uint64_t n = st.buffered;
    int wrc = tracer_flush(g_tracer, f, NULL);
    if (fclose(f) || wrc < 0) rc = 1;
    fprintf(stderr, "tracer_cpu_seconds=%.6f samples=%llu lost=%llu late=%llu\n", g_tracer_cpu,
            (unsigned long long)n, (unsigned long long)st.lost, (unsigned long long)st.late);
    tracer_free(g_tracer);
    return rc;
}
