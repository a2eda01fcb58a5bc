/* timer_switch — what a CPU timer costs a thread that context-switches at every step,
 * the way a server does at every request: two threads of this process ping-pong a byte
 * over pipes on one CPU, with no timer, with a CPU timer per thread at 200 Hz
 * (timer_create on CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID: the timer sampler's choice),
 * or with one process CPU timer at 200 Hz (setitimer ITIMER_PROF, what gperftools uses).
 *   timer_switch none|thread|process ROUNDS  → prints `mode=M cpu_ns_per_round=N`
 * The signals go to an empty handler: only the timers' own cost is measured. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int a2b[2], b2a[2];
static long rounds;
static int per_thread;

static void on_prof(int sig) { (void)sig; }

static int arm_thread_timer(void)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGPROF;
    sev._sigev_un._tid = gettid();
    timer_t t;
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t) < 0) return -1;
    struct itimerspec its = { { 0, 5000000 }, { 0, 5000000 } };
    return timer_settime(t, 0, &its, NULL);
}

static void *partner(void *arg)
{
    (void)arg;
    if (per_thread && arm_thread_timer() < 0) return NULL;
    char c;
    for (long i = 0; i < rounds; i++)
        if (read(a2b[0], &c, 1) != 1 || write(b2a[1], &c, 1) != 1) break;
    return NULL;
}

static double process_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "none") && strcmp(argv[1], "thread") &&
                      strcmp(argv[1], "process"))) {
        fprintf(stderr, "usage: timer_switch none|thread|process ROUNDS\n");
        return 2;
    }
    rounds = atol(argv[2]);
    per_thread = !strcmp(argv[1], "thread");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    if (pipe(a2b) < 0 || pipe(b2a) < 0) return 1;
    if (per_thread && arm_thread_timer() < 0) return 1;
    if (!strcmp(argv[1], "process")) {
        struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
        if (setitimer(ITIMER_PROF, &it, NULL) < 0) return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL)) return 1;
    double c0 = process_cpu();
    char c = 'x';
    for (long i = 0; i < rounds; i++)
        if (write(a2b[1], &c, 1) != 1 || read(b2a[0], &c, 1) != 1) break;
    double c1 = process_cpu();
    pthread_join(t, NULL);
    printf("mode=%s cpu_ns_per_round=%.0f\n", argv[1], 1e9 * (c1 - c0) / (double)rounds);
    return 0;
}
