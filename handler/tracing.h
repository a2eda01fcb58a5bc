/* tracing — the tracer inside the runtime (FNTRACE=1).
 *
 * tracing_start reads FNTRACE, FNTRACE_SAMPLER, FNTRACE_FREQ, FNTRACE_COLLECTOR,
 * FNTRACE_NAME, FNTRACE_WINDOW, FNTRACE_SPOOL and FNTRACE_INVOCATIONS (the most
 * invocations one trace carries); when tracing is on it starts a thread (named
 * `fntrace`) that starts sampling this process, all threads but itself and the threads it
 * creates (libcurl's), and every window writes the samples and the invocations of the
 * window (drained from the app's invlog) as one perf-script trace and uploads it.
 * FNTRACE_SAMPLER=timer (POSIX CPU timers, the default: no syscall a seccomp profile
 * refuses, nothing paid per context switch) or perf (perf_event_open).
 * Tracing never stops serving: when the sampler cannot start (and, with no
 * FNTRACE_SAMPLER, the other one cannot either) it logs one line and returns 0 with *out
 * NULL.  A negative code (with a message) only for malformed settings
 * (-FT_ERR_BAD_INPUT, -FT_ERR_BAD_NAME) or when out of memory.
 *
 * Thread-safety: start and stop from the main thread; the rest runs on its own thread. */
#ifndef FNHANDLER_TRACING_H
#define FNHANDLER_TRACING_H

#include <stddef.h>

struct fn_app;
struct tracing;

int tracing_start(struct fn_app *app, struct tracing **out, char *err, size_t errlen);
/* Flushes and uploads the last window, stops sampling, frees.  NULL is fine. */
void tracing_stop(struct tracing *tr);

/* Called by every thread the runtime creates, first and last thing: with the timer
 * sampler the thread is sampled from its first instruction (not only from the next
 * scan of the process's threads) and releases its timer as it ends.  Cheap no-ops
 * otherwise; thread-safe. */
void tracing_thread_begin(void);
void tracing_thread_end(void);

#endif
