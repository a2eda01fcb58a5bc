/* pingpong — context switches for benchmarks: this process and a child forked at start,
 * both pinned to the first CPU this process may use, pass a byte back and forth through
 * two pipes ROUNDS times, so every round switches this process out and in once.
 *   pingpong ROUNDS [DELAY_MS]
 * Waits DELAY_MS (default 500) before the rounds, time for a profiler to attach to this
 * process (the child, forked before, is not one of its threads), then prints
 * `cpu_ns_per_round=X wall_ns_per_round=Y` on stdout: this process's CPU time per
 * round, which grows with what the kernel does at each of its context switches. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 0;
    long delay_ms = argc > 2 ? atol(argv[2]) : 500;
    if (rounds <= 0 || delay_ms < 0) {
        fprintf(stderr, "usage: pingpong ROUNDS [DELAY_MS]\n");
        return 2;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (CPU_ISSET(c, &set)) {
                CPU_ZERO(&set);
                CPU_SET(c, &set);
                sched_setaffinity(0, sizeof set, &set);   /* inherited by the child */
                break;
            }
        }
    }
    int to_child[2], to_parent[2];
    if (pipe(to_child) || pipe(to_parent)) {
        perror("pipe");
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    char c = 'x';
    if (child == 0) {
        close(to_child[1]);          /* so that the parent's close is an end of file here */
        close(to_parent[0]);
        while (read(to_child[0], &c, 1) == 1 && write(to_parent[1], &c, 1) == 1) {}
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    struct timespec d = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
    nanosleep(&d, NULL);
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < rounds; i++) {
        if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1) {
            perror("pingpong");
            kill(child, SIGKILL);
            return 1;
        }
    }
    double w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID);
    close(to_child[1]);
    waitpid(child, NULL, 0);
    printf("cpu_ns_per_round=%.0f wall_ns_per_round=%.0f\n", (c1 - c0) / rounds,
           (w1 - w0) / rounds);
    return 0;
}
