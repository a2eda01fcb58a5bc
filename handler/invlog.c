/* invlog — see invlog.h.  An array of at most cap records under one mutex, filled in
 * order, then sampled (Algorithm R): the n-th call of a window draws j in [0, n) and
 * replaces record j when j < cap.  A call that keeps nothing, nearly every call of a busy
 * runtime, costs one atomic add and a draw from its thread's stream, and no lock.
 *
 * seen holds the window's number (epoch) above the count of its calls, and a drain
 * starts the next epoch in the same atomic exchange that reads the count.  A call that
 * reaches the lock after the drain of its own window keeps nothing: it was counted
 * there, as dropped.  So every call is counted exactly once, in its window, with no
 * second counter: dropped = seen - records returned.  Each record carries its call's
 * number (seq), so a drain returns the kept ones in call order. */
#define _GNU_SOURCE            /* qsort_r */
#include "invlog.h"
#include "rng.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEEN_BITS 40           /* calls per window: 10^12, days at any rate */
#define SEEN_MASK ((1ULL << SEEN_BITS) - 1)

struct invlog {
    pthread_mutex_t mu;
    struct invlog_rec *recs;
    uint64_t *seq;                 /* recs[i]'s call number */
    size_t cap, count;             /* under mu */
    uint64_t replaced;             /* under mu: kept records replaced by later ones */
    /* the window's number (epoch, changed only by a drain, under mu) << SEEN_BITS | the
     * calls offered in it */
    _Atomic uint64_t seen;
};

invlog *invlog_new(size_t capacity)
{
    if (!capacity) capacity = 1;
    invlog *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->recs = calloc(capacity, sizeof *log->recs);
    log->seq = calloc(capacity, sizeof *log->seq);
    if (!log->recs || !log->seq) { invlog_free(log); return NULL; }
    log->cap = capacity;
    pthread_mutex_init(&log->mu, NULL);
    return log;
}

void invlog_free(invlog *log)
{
    if (!log) return;
    pthread_mutex_destroy(&log->mu);
    free(log->recs);
    free(log->seq);
    free(log);
}

uint64_t invlog_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static _Thread_local uint64_t draw_state;

__attribute__((noinline)) static void draw_seed(void)
{
    draw_state = invlog_now_ns() ^ (uint64_t)(uintptr_t)&draw_state;
}

/* A uniform draw in [0, n) from a per-thread stream (no lock, no syscall). */
static uint64_t draw_below(uint64_t n)
{
    if (!draw_state) draw_seed();
    return rng_below(&draw_state, n);
}

static void copy_bounded(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = 0;
}

void invlog_push(invlog *log, const char *id, const char *fn, uint64_t start_ns,
                 uint64_t end_ns, int status, int tid)
{
    invlog_push_traced(log, id, fn, start_ns, end_ns, status, tid, NULL);
}

/* The record of call n of window epoch into slot j, or appended while there is room (a
 * call among the window's first cap may reach the lock after a later one), unless that
 * window was drained already.  Out of line, so that the path of the calls that keep
 * nothing saves no registers. */
__attribute__((noinline)) static void keep(invlog *log, uint64_t epoch, uint64_t j,
                                           uint64_t n, const char *id, const char *fn,
                                           uint64_t start_ns, uint64_t end_ns, int status,
                                           int tid, const char *trace_id)
{
    pthread_mutex_lock(&log->mu);
    if (epoch != atomic_load_explicit(&log->seen, memory_order_relaxed) >> SEEN_BITS) {
        pthread_mutex_unlock(&log->mu);
        return;
    }
    size_t slot = (size_t)j;
    if (log->count < log->cap) slot = log->count++;
    else log->replaced++;
    struct invlog_rec *r = &log->recs[slot];
    log->seq[slot] = n;
    copy_bounded(r->id, sizeof r->id, id);
    copy_bounded(r->fn, sizeof r->fn, fn);
    r->start_ns = start_ns;
    r->end_ns = end_ns;
    r->status = status;
    r->tid = tid > 0 ? tid : 0;
    copy_bounded(r->trace_id, sizeof r->trace_id, trace_id);
    pthread_mutex_unlock(&log->mu);
}

void invlog_push_traced(invlog *log, const char *id, const char *fn, uint64_t start_ns,
                        uint64_t end_ns, int status, int tid, const char *trace_id)
{
    uint64_t v = atomic_fetch_add_explicit(&log->seen, 1, memory_order_relaxed);
    uint64_t n = (v & SEEN_MASK) + 1, j = n - 1;
    if (n > log->cap && (j = draw_below(n)) >= log->cap) return;
    keep(log, v >> SEEN_BITS, j, n, id, fn, start_ns, end_ns, status, tid, trace_id);
}

static int by_seq(const void *a, const void *b, void *seq)
{
    const uint64_t *s = seq;
    uint64_t x = s[*(const uint32_t *)a], y = s[*(const uint32_t *)b];
    return x < y ? -1 : x > y;
}

size_t invlog_drain(invlog *log, struct invlog_rec *out, size_t max, uint64_t *dropped)
{
    pthread_mutex_lock(&log->mu);
    size_t n = log->count < max ? log->count : max;
    uint32_t *order = NULL;
    if (n && log->replaced && (order = malloc(log->count * sizeof *order))) {
        /* sampled: the kept records are scattered, put them back in call order */
        for (size_t i = 0; i < log->count; i++) order[i] = (uint32_t)i;
        qsort_r(order, log->count, sizeof *order, by_seq, log->seq);
    }
    for (size_t i = 0; i < n; i++) out[i] = log->recs[order ? order[i] : i];
    free(order);
    uint64_t next = (atomic_load_explicit(&log->seen, memory_order_relaxed) >> SEEN_BITS) + 1;
    uint64_t seen = atomic_exchange_explicit(&log->seen, next << SEEN_BITS,
                                             memory_order_relaxed) & SEEN_MASK;
    log->count = 0;
    log->replaced = 0;
    pthread_mutex_unlock(&log->mu);
    if (dropped) *dropped = seen > n ? seen - n : 0;
    return n;
}

size_t invlog_count(invlog *log)
{
    pthread_mutex_lock(&log->mu);
    size_t n = log->count;
    pthread_mutex_unlock(&log->mu);
    return n;
}

ps_invocation invlog_to_ps(const struct invlog_rec *r)
{
    return (ps_invocation){ .id = ps_cstr(r->id), .fn = ps_cstr(r->fn), .start_ns = r->start_ns,
                            .trace_id = ps_cstr(r->trace_id),
                            .end_ns = r->end_ns, .status = r->status, .tid = r->tid,
                            .flags = PS_INV_END | PS_INV_STATUS | (r->tid > 0 ? PS_INV_TID : 0) };
}
