/* invlog — the invocations the runtime served, kept for the tracer.
 *
 * Each finished call is recorded (id, function, start and end on CLOCK_MONOTONIC — the
 * clock the tracer's samples use — the HTTP status and the thread that ran it, so a
 * viewer can tell its samples from those of concurrent calls, and the W3C trace id the
 * request came with, so a tracing tool's trace leads to its profile) in a bounded ring.
 * The tracing part drains it once per upload window and writes one `# fntrace invocation` line per
 * record.  When the ring is full the oldest record is overwritten and counted as dropped,
 * so a runtime without tracing (nobody drains) uses a fixed amount of memory.
 *
 * Thread-safety: every function may be called from any thread (one mutex; a push is a
 * copy of two short strings).  The invlog owns its records; drain copies them out. */
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
/* Moves up to max records (oldest first) into out; returns how many.  *dropped (may be
 * NULL) gets the number of records overwritten since the last drain. */
size_t invlog_drain(invlog *log, struct invlog_rec *out, size_t max, uint64_t *dropped);
/* Records waiting. */
size_t invlog_count(invlog *log);

/* Nanoseconds on CLOCK_MONOTONIC (what start and end are measured with). */
uint64_t invlog_now_ns(void);

/* The record as the perf-script writer takes it (id and fn point into r). */
ps_invocation invlog_to_ps(const struct invlog_rec *r);

#endif
