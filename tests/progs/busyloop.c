/* busyloop — a fixed amount of CPU work for benchmarks: MILLIONS million rounds of a
 * hash loop in one thread, spread over a few functions so stacks have some depth.
 *   busyloop MILLIONS
 * Prints `cpu_seconds=X wall_seconds=Y` on stderr at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static volatile uint64_t sink;

__attribute__((noinline, noclone)) static uint64_t mix(uint64_t h, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) h = (h ^ i) * 1099511628211ULL;
    return h;
}

__attribute__((noinline, noclone)) static uint64_t stage(uint64_t h, int depth)
{
    return depth ? stage(h, depth - 1) : mix(h, 1000000);
}

int main(int argc, char **argv)
{
    long millions = argc > 1 ? atol(argv[1]) : 1000;
    if (millions <= 0) {
        fprintf(stderr, "usage: busyloop MILLIONS\n");
        return 2;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t h = 1469598103934665603ULL;
    for (long i = 0; i < millions; i++) h = stage(h, (int)(i % 8));
    sink = h;
    clock_gettime(CLOCK_MONOTONIC, &b);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "cpu_seconds=%.6f wall_seconds=%.6f\n",
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
            (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
