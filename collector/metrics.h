/* metrics — the collector's counters and their Prometheus text rendering.
 * Counters are atomics: any thread may count, any thread may render. */
#ifndef FNTRACE_COLLECTOR_METRICS_H
#define FNTRACE_COLLECTOR_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum reject_reason {
    REJECT_BAD_NAME,       /* 400 */
    REJECT_BAD_REQUEST,    /* 400: other request errors (bad id, bad encoding header) */
    REJECT_UNAUTHORIZED,   /* 401 */
    REJECT_TOO_LARGE,      /* 413 */
    REJECT_NOT_PERF,       /* 415 */
    REJECT_BAD_GZIP,       /* 400 */
    REJECT_DISK_FULL,      /* 507 */
    REJECT_STORE_ERROR,    /* 500 */
    REJECT_STORE_DOWN,     /* 503: the store cannot be reached; the client retries */
    REJECT_ABORTED,        /* the client went away mid-body */
    REJECT_IN_PROGRESS,    /* 409: the same Idempotency-Key is being uploaded */
    REJECT_COUNT
};

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
void metrics_upload(struct metrics *m, uint64_t bytes);
void metrics_reject(struct metrics *m, enum reject_reason why);
void metrics_retained(struct metrics *m, unsigned removed);
const char *metrics_reason_name(enum reject_reason why);
/* The counters since start: traces stored (and their bytes) and uploads refused. */
void metrics_totals(struct metrics *m, uint64_t *uploads, uint64_t *bytes, uint64_t *rejects);
struct store_op_stats;
/* Renders every metric, with the store gauges and operation counts given (ops may be
 * NULL), into a malloc'd string. */
char *metrics_render(struct metrics *m, uint64_t store_bytes, uint64_t store_files,
                     const struct store_op_stats *ops, size_t *len);

#endif
