/* hotspots — the tracer's fidelity workload: THREADS threads each spend CPU time in three
 * hot functions, about hot_hash 50 %, hot_pi 30 %, hot_fib 20 % (within a point on a
 * quiet machine, up to 4 off under contention, which changes one function's speed more
 * than the others'; the fidelity tests compare two samplers of the same run).
 *   hotspots [THREADS [CPU_SECONDS_PER_THREAD [DELAY_SECONDS [fork]]]]
 * (defaults 3 threads, 2 s each).  DELAY: the process sleeps that long before it starts
 * its threads (so a tracer attached meanwhile must follow threads created later).
 * fork: after the delay the process forks, and parent and child both run the workload.
 * At exit it prints `cpu_seconds=X` (user+sys of the whole process) on stderr.
 *
 * Each function does an amount of work calibrated on the thread CPU clock (90 ms when the
 * threads start, then one function timed in three blocks of nine, a block being 8 cycles
 * or ~0.1 s), and the budget is checked after each block: a thread reads its clock about
 * 16 times a second.  Reading it is a system call that brings the scheduler's accounting
 * up to date, and may end a contended thread's time slice there, between ticks; the
 * kernel checks CPU timers only at a tick, so where those reads fall at one phase of the
 * workload, the timer sampler's signals avoid the phase that follows.  Read in every
 * function (4,000 times a second), threads went up to 100 ms without a timer signal and
 * the timer sampler's shares were up to 4.8 points off perf's beside a busy loop; read
 * 100 times a second, 3-5 points toward hot_fib with four threads on one CPU; now 1.4. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double budget = 2.0;
static volatile uint64_t sink;
static volatile unsigned fib_n = 22;   /* opaque: no compiler may fold fib(22) */

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Each hot function begins with a call, so that it is not a leaf: gcc leaves a leaf
 * without a frame pointer (-mno-omit-leaf-frame-pointer notwithstanding), and a sample
 * in it would lose its caller. */
static volatile uint64_t entries;
__attribute__((noinline, noclone)) static void enter(void)
{
    entries++;
}

/* A unit of hot_hash is 1,000 steps, of hot_pi 1,000 terms, of hot_fib one fib(22). */
__attribute__((noinline, noclone)) static void hot_hash(long units)
{
    enter();
    uint64_t h = 1469598103934665603ULL;
    for (long u = 0; u < units; u++)
        for (int i = 0; i < 1000; i++) h = (h ^ (uint64_t)i) * 1099511628211ULL;
    sink += h;
}

__attribute__((noinline, noclone)) static void hot_pi(long units)
{
    enter();
    double pi = 0;
    for (long u = 0; u < units; u++)
        for (int k = 0; k < 1000; k++) pi += (k & 1 ? -4.0 : 4.0) / (2 * k + 1);
    sink += (uint64_t)pi;
}

__attribute__((noinline, noclone)) static uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline, noclone)) static void hot_fib(long units)
{
    enter();
    for (long u = 0; u < units; u++) sink += fib(fib_n);
}

/* units per ms of FN: the best of three 10 ms runs (the least disturbed) */
static double per_ms(void (*fn)(long))
{
    double best = 0;
    for (int r = 0; r < 3; r++) {
        long units = 0, step = 1;
        double t0 = thread_cpu(), t;
        while ((t = thread_cpu() - t0) < 0.010) {
            fn(step);
            units += step;
            step *= 2;
        }
        double rate = (double)units / (t * 1000);
        if (rate > best) best = rate;
    }
    return best;
}

/* work units per ms of CPU, first measured by the first thread while the others wait,
 * then kept by each thread as it runs */
static double calibrated_per_ms[3];
static atomic_int calibrated;
static void (*const hot[3])(long) = { hot_hash, hot_pi, hot_fib };
static const double share[3] = { 0.5, 0.3, 0.2 };

static void calibrate(int first)
{
    if (first) {
        for (int f = 0; f < 3; f++) calibrated_per_ms[f] = per_ms(hot[f]);
        atomic_store(&calibrated, 1);
    }
    while (!atomic_load(&calibrated)) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
}

/* ARG is NULL in the first thread (main's), which calibrates */
static void *worker(void *arg)
{
    /* One cycle is 13.09 ms of CPU: 5 ms (the 200 Hz sampling period) times the golden
     * ratio squared, so successive samples fall on evenly spread phases of the cycle and
     * never alias with it; the shares converge quickly for any sampler.  The timer
     * sampler's samples fall on the kernel's 4 ms tick (at 250 Hz), which 13.09 ms does
     * not divide either (with a clock read every cycle: at 8.09 ms, two ticks and a
     * little, its shares were up to 2.5 points off perf's in 8 runs, at 13.09 ms 1.6).
     * The cycle must keep that length, and its parts their shares, as the CPU's speed for
     * each function changes (with what the other threads run beside it), hence the timed
     * runs that update the rates. */
    const double cycle_ms = 5.0 * 1.6180339887 * 1.6180339887;
    double start = thread_cpu();                /* the calibration counts in the budget */
    calibrate(arg == NULL);
    double t = thread_cpu();
    double per[3];
    memcpy(per, calibrated_per_ms, sizeof per);
    for (unsigned block = 0; t - start < budget; block++) {
        long n[3];
        for (int f = 0; f < 3; f++) {
            n[f] = (long)(per[f] * cycle_ms * share[f] + 0.5);
            if (n[f] < 1) n[f] = 1;
        }
        /* cycles to the next clock read: 8, or what the budget has left */
        double left_ms = (budget - (t - start)) * 1000;
        int cycles = left_ms >= 8 * cycle_ms ? 8 : (int)(left_ms / cycle_ms) + 1;
        /* in three blocks of nine, one function each, timed once */
        const int timed = block % 9 < 3 ? (int)(block % 9) : -1;
        for (int c = 0; c < cycles; c++) {
            for (int f = 0; f < 3; f++) {
                if (c || f != timed) {
                    hot[f](n[f]);
                    continue;
                }
                double t0 = thread_cpu();
                hot[f](n[f]);
                double ms = (thread_cpu() - t0) * 1000;
                if (ms > 0) per[f] = 0.5 * per[f] + 0.5 * (double)n[f] / ms;
            }
        }
        t = thread_cpu();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 3;
    if (argc > 2) budget = atof(argv[2]);
    double delay = argc > 3 ? atof(argv[3]) : 0;
    int do_fork = argc > 4 && !strcmp(argv[4], "fork");
    if (threads < 1 || threads > 1024 || !(budget > 0) || delay < 0) {
        fprintf(stderr, "usage: hotspots [THREADS [CPU_SECONDS_PER_THREAD [DELAY [fork]]]]\n");
        return 2;
    }
    if (delay > 0) {
        struct timespec ts = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };
        nanosleep(&ts, NULL);
    }
    pid_t child = do_fork ? fork() : -1;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    for (int i = 1; i < threads; i++) pthread_create(&t[i], NULL, worker, &t[i]);
    worker(NULL);
    for (int i = 1; i < threads; i++) pthread_join(t[i], NULL);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "cpu_seconds=%.6f\n",
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    free(t);
    if (child > 0) waitpid(child, NULL, 0);
    return 0;
}
