/* metrics — see metrics.h.  Rendering follows the Prometheus text exposition format 0.0.4:
 * HELP and TYPE lines, then samples; every reject reason is always listed (0 included). */
#include "metrics.h"
#include "store.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metrics {
    atomic_uint_fast64_t uploads, upload_bytes, retained;
    atomic_uint_fast64_t rejects[REJECT_COUNT];
};

static const char *const reason_names[REJECT_COUNT] = {
    [REJECT_BAD_NAME] = "bad_name",
    [REJECT_BAD_REQUEST] = "bad_request",
    [REJECT_UNAUTHORIZED] = "unauthorized",
    [REJECT_TOO_LARGE] = "too_large",
    [REJECT_NOT_PERF] = "not_perf_script",
    [REJECT_BAD_GZIP] = "bad_gzip",
    [REJECT_DISK_FULL] = "disk_full",
    [REJECT_STORE_ERROR] = "store_error",
    [REJECT_STORE_DOWN] = "store_unavailable",
    [REJECT_ABORTED] = "aborted",
    [REJECT_IN_PROGRESS] = "in_progress",
};

struct metrics *metrics_new(void) { return calloc(1, sizeof(struct metrics)); }
void metrics_free(struct metrics *m) { free(m); }

void metrics_upload(struct metrics *m, uint64_t bytes)
{
    atomic_fetch_add(&m->uploads, 1);
    atomic_fetch_add(&m->upload_bytes, bytes);
}

void metrics_reject(struct metrics *m, enum reject_reason why)
{
    if ((unsigned)why < REJECT_COUNT) atomic_fetch_add(&m->rejects[why], 1);
}

void metrics_retained(struct metrics *m, unsigned removed)
{
    atomic_fetch_add(&m->retained, removed);
}

const char *metrics_reason_name(enum reject_reason why)
{
    return (unsigned)why < REJECT_COUNT ? reason_names[why] : "unknown";
}

struct out { char *p; size_t n, cap; int oom; };

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (n < 0) { o->oom = 1; return; }
        if ((size_t)n < o->cap - o->n) { o->n += (size_t)n; return; }
        size_t cap = o->cap * 2 + (size_t)n;
        char *p = realloc(o->p, cap);
        if (!p) { o->oom = 1; return; }
        o->p = p;
        o->cap = cap;
    }
}

static void metric(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_totals(struct metrics *m, uint64_t *uploads, uint64_t *bytes, uint64_t *rejects)
{
    *uploads = atomic_load(&m->uploads);
    *bytes = atomic_load(&m->upload_bytes);
    *rejects = 0;
    for (int i = 0; i < REJECT_COUNT; i++) *rejects += atomic_load(&m->rejects[i]);
}

char *metrics_render(struct metrics *m, uint64_t store_bytes, uint64_t store_files,
                     const struct store_op_stats *ops, size_t *len)
{
    struct out o = { malloc(2048), 0, 2048, 0 };
    if (!o.p) return NULL;
    metric(&o, "fntrace_collector_uploads_total", "counter", "Traces stored.");
    put(&o, "fntrace_collector_uploads_total %llu\n",
        (unsigned long long)atomic_load(&m->uploads));
    metric(&o, "fntrace_collector_upload_bytes_total", "counter",
           "Bytes of traces stored (as stored: compressed for gzip uploads).");
    put(&o, "fntrace_collector_upload_bytes_total %llu\n",
        (unsigned long long)atomic_load(&m->upload_bytes));
    metric(&o, "fntrace_collector_rejects_total", "counter", "Uploads refused, by reason.");
    for (int i = 0; i < REJECT_COUNT; i++)
        put(&o, "fntrace_collector_rejects_total{reason=\"%s\"} %llu\n", reason_names[i],
            (unsigned long long)atomic_load(&m->rejects[i]));
    metric(&o, "fntrace_collector_retention_deleted_total", "counter",
           "Traces removed by retention (--max-bytes, --max-age).");
    put(&o, "fntrace_collector_retention_deleted_total %llu\n",
        (unsigned long long)atomic_load(&m->retained));
    metric(&o, "fntrace_collector_store_bytes", "gauge", "Bytes of traces in the store.");
    put(&o, "fntrace_collector_store_bytes %llu\n", (unsigned long long)store_bytes);
    metric(&o, "fntrace_collector_store_files", "gauge", "Traces in the store.");
    put(&o, "fntrace_collector_store_files %llu\n", (unsigned long long)store_files);
    if (ops) {
        metric(&o, "fntrace_collector_store_operations_total", "counter",
               "Operations on the trace store, by kind (put counts each trace once).");
        for (int i = 0; i < STORE_OP_COUNT; i++)
            put(&o, "fntrace_collector_store_operations_total{op=\"%s\"} %llu\n",
                store_op_name(i), (unsigned long long)ops->count[i]);
        metric(&o, "fntrace_collector_store_errors_total", "counter",
               "Store operations that failed (after retries), by kind.");
        for (int i = 0; i < STORE_OP_COUNT; i++)
            put(&o, "fntrace_collector_store_errors_total{op=\"%s\"} %llu\n",
                store_op_name(i), (unsigned long long)ops->errors[i]);
        metric(&o, "fntrace_collector_store_seconds_total", "counter",
               "Time spent in store operations, by kind (divide by the operations for the "
               "mean latency).");
        for (int i = 0; i < STORE_OP_COUNT; i++)
            put(&o, "fntrace_collector_store_seconds_total{op=\"%s\"} %.6f\n",
                store_op_name(i), (double)ops->ns[i] / 1e9);
    }
    if (o.oom) { free(o.p); return NULL; }
    *len = o.n;
    return o.p;
}
