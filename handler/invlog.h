/* invlog — the invocations the runtime served, kept for the tracer.
 *
 * Each finished call is recorded (id, function, start and end on CLOCK_MONOTONIC — the
 * clock the tracer's samples use — the HTTP status and the thread that ran it, so a
 * viewer can tell its samples from those of concurrent calls, and the W3C trace id the
 * request came with, so a tracing tool's trace leads to its profile), in bounded memory.
 * The tracing part drains it once per upload window and writes one `# fntrace invocation` line per
 * record.  It holds at most `capacity` records: past that, each new call replaces a
 * random one with the chance capacity/calls (reservoir sampling), so a window's records
 * are a uniform sample of all its calls, not only its last ones, and the others are
 * counted as dropped.  A busy runtime then writes almost no records: at 180,000 calls a
 * second and 10,000 records a window, 3 % of the calls in a 10 s window write one, and
 * the others only count themselves (one atomic add, no lock).  Writing every call
 * into a 2 MB ring cost a hello request 1 % of its CPU in the lock alone, plus the cache
 * lines the ring pushed out.
 *
 * Thread-safety: every function may be called from any thread (one mutex for the
 * records; a push that keeps nothing takes no lock).  The invlog owns its records;
 * drain copies them out. */
#ifndef FNHANDLER_INVLOG_H
#define FNHANDLER_INVLOG_H

#include <stddef.h>
#include <stdint.h>

#include "perfscript.h"

#define INVLOG_ID_MAX 64     /* longer ids are cut (raw bytes, escaped by the writer) */
#define INVLOG_FN_MAX 65

struct invlog_rec {
    char id[INVLOG_ID_MAX + 1];
    char fn[INVLOG_FN_MAX];
    uint64_t start_ns, end_ns;   /* CLOCK_MONOTONIC */
    int status;
    int tid;                     /* thread that ran the function, 0: unknown */
    char trace_id[33];           /* W3C trace id (32 hex digits) or "" */
};

typedef struct invlog invlog;

invlog *invlog_new(size_t capacity);
void invlog_free(invlog *log);
void invlog_push(invlog *log, const char *id, const char *fn, uint64_t start_ns,
                 uint64_t end_ns, int status, int tid);
/* The same with the call's W3C trace id (NULL or "": none). */
void invlog_push_traced(invlog *log, const char *id, const char *fn, uint64_t start_ns,
                        uint64_t end_ns, int status, int tid, const char *trace_id);
/* Moves the records into out, in the order the calls ended (up to max; the others are
 * dropped), and starts a new sample; returns how many.  *dropped (may be NULL) gets the
 * number of calls since the last drain whose records are not in out. */
size_t invlog_drain(invlog *log, struct invlog_rec *out, size_t max, uint64_t *dropped);
/* Records waiting. */
size_t invlog_count(invlog *log);

/* Nanoseconds on CLOCK_MONOTONIC (what start and end are measured with). */
uint64_t invlog_now_ns(void);

/* The record as the perf-script writer takes it (id and fn point into r). */
ps_invocation invlog_to_ps(const struct invlog_rec *r);

#endif
