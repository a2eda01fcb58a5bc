/* hotspots — the tracer's fidelity workload: THREADS threads each spend CPU time in three
 * hot functions with known shares, measured on the thread's own CPU clock so the shares
 * hold on a loaded machine: hot_hash 50 %, hot_pi 30 %, hot_fib 20 % (a little less each:
 * the clock reads and the loop around them take the rest).
 *   hotspots [THREADS [CPU_SECONDS_PER_THREAD [DELAY_SECONDS [fork]]]]
 * (defaults 3 threads, 2 s each).  DELAY: the process sleeps that long before it starts
 * its threads (so a tracer attached meanwhile must follow threads created later).
 * fork: after the delay the process forks, and parent and child both run the workload.
 * At exit it prints `cpu_seconds=X` (user+sys of the whole process) on stderr. */
#include <math.h>
#include <pthread.h>
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

/* Each hot function works in chunks (~0.1-0.3 ms, so the clock reads cost little) until
 * `ms` of thread CPU time have passed. */
__attribute__((noinline, noclone)) static void hot_hash(double ms)
{
    double end = thread_cpu() + ms / 1000;
    uint64_t h = 1469598103934665603ULL;
    do {
        for (int i = 0; i < 200000; i++) h = (h ^ (uint64_t)i) * 1099511628211ULL;
    } while (thread_cpu() < end);
    sink += h;
}

__attribute__((noinline, noclone)) static void hot_pi(double ms)
{
    double end = thread_cpu() + ms / 1000, pi = 0;
    do {
        for (int k = 0; k < 50000; k++) pi += (k & 1 ? -4.0 : 4.0) / (2 * k + 1);
    } while (thread_cpu() < end);
    sink += (uint64_t)pi;
}

__attribute__((noinline, noclone)) static uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline, noclone)) static void hot_fib(double ms)
{
    double end = thread_cpu() + ms / 1000;
    do {
        sink += fib(fib_n);
    } while (thread_cpu() < end);
}

static void *worker(void *arg)
{
    /* One cycle is 8.09 ms of CPU: 5 ms (the 200 Hz sampling period) times the golden
     * ratio, so successive samples fall on evenly spread phases of the cycle and never
     * alias with it; the shares converge quickly for any sampler. */
    (void)arg;
    double start = thread_cpu();
    const double cycle_ms = 5.0 * 1.6180339887;
    while (thread_cpu() - start < budget) {
        hot_hash(cycle_ms * 0.5);
        hot_pi(cycle_ms * 0.3);
        hot_fib(cycle_ms * 0.2);
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
    for (int i = 1; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
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
