/* invlog — see invlog.h.  An array of at most cap records under one mutex, filled in
 * order, then sampled with Li's Algorithm L: rather than drawing for every call whether
 * it replaces a record (Algorithm R), the keeper of a record draws how many calls to pass
 * over before the next one that does, so a call that keeps nothing, nearly every call of
 * a busy runtime, costs one atomic add and one load, with no lock and no draw.  The
 * sample is the same uniform one.
 *
 * seen holds the window's number (epoch) above the count of its calls, and a drain
 * starts the next epoch in the same atomic exchange.  A call that reaches the lock after
 * the drain of its own window keeps nothing: it was counted there, as dropped.  So every
 * call is counted exactly once, in its window: dropped = seen - records returned.  Each
 * record carries its call's number (seq), so a drain returns the kept ones in call
 * order. */
#define _GNU_SOURCE            /* qsort_r */
#include "invlog.h"
#include "rng.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEEN_BITS 40           /* calls per window: 10^12, days at any rate */
#define SEEN_MASK ((1ULL << SEEN_BITS) - 1)
#define NO_NEXT UINT64_MAX     /* next while the window is still filling */

struct invlog {
    pthread_mutex_t mu;
    struct invlog_rec *recs;
    uint64_t *seq;                 /* recs[i]'s call number */
    size_t cap, count;             /* under mu */
    uint64_t replaced;             /* under mu: kept records replaced by later ones */
    uint64_t epoch;                /* under mu: this window's number (seen's high bits) */
    double w;                      /* under mu: Algorithm L's W */
    uint64_t rng;                  /* under mu */
    _Atomic uint64_t seen;         /* epoch << SEEN_BITS | calls offered in this window */
    _Atomic uint64_t next;         /* number of the next call past cap to keep */
};

uint64_t invlog_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

invlog *invlog_new(size_t capacity)
{
    if (!capacity) capacity = 1;
    invlog *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->recs = calloc(capacity, sizeof *log->recs);
    log->seq = calloc(capacity, sizeof *log->seq);
    if (!log->recs || !log->seq) { invlog_free(log); return NULL; }
    log->cap = capacity;
    log->rng = invlog_now_ns() ^ (uint64_t)(uintptr_t)log;
    atomic_init(&log->next, NO_NEXT);
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

/* uniform in (0, 1) */
static double unit_open(uint64_t *rng)
{
    return ((double)(rng_next(rng) >> 11) + 0.5) * 0x1p-53;
}

/* Algorithm L's step, under mu, after call n was kept: W shrinks as a window's sample
 * gets older, and the calls passed over before the next keep are geometric in 1 - W. */
static void plan_next(invlog *il, uint64_t n)
{
    il->w *= exp(log(unit_open(&il->rng)) / (double)il->cap);
    double skip = floor(log(unit_open(&il->rng)) / log1p(-il->w));
    if (!(skip < (double)SEEN_MASK)) skip = (double)SEEN_MASK;     /* also NaN */
    atomic_store_explicit(&il->next, n + 1 + (uint64_t)skip, memory_order_relaxed);
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

/* Call n of window epoch keeps its record, if it still may: filling, or chosen.  Out of
 * line, so that the path of the calls that keep nothing saves no registers. */
__attribute__((noinline)) static void keep(invlog *log, uint64_t epoch, uint64_t n,
                                           const char *id, const char *fn, uint64_t start_ns,
                                           uint64_t end_ns, int status, int tid,
                                           const char *trace_id)
{
    pthread_mutex_lock(&log->mu);
    size_t slot;
    if (epoch != (log->epoch & (UINT64_MAX >> SEEN_BITS))) {
        slot = SIZE_MAX;                            /* its window was drained */
    } else if (n <= log->cap) {
        slot = log->count++;                        /* n is unique: count stays <= cap */
        if (log->count == log->cap) {
            log->w = 1;
            plan_next(log, log->cap);
        }
    } else if (n >= atomic_load_explicit(&log->next, memory_order_relaxed)) {
        slot = (size_t)rng_below(&log->rng, log->cap);
        log->replaced++;
        plan_next(log, n);
    } else {
        slot = SIZE_MAX;                            /* a concurrent keeper moved next on */
    }
    if (slot != SIZE_MAX) {
        struct invlog_rec *r = &log->recs[slot];
        log->seq[slot] = n;
        copy_bounded(r->id, sizeof r->id, id);
        copy_bounded(r->fn, sizeof r->fn, fn);
        r->start_ns = start_ns;
        r->end_ns = end_ns;
        r->status = status;
        r->tid = tid > 0 ? tid : 0;
        copy_bounded(r->trace_id, sizeof r->trace_id, trace_id);
    }
    pthread_mutex_unlock(&log->mu);
}

void invlog_push_traced(invlog *log, const char *id, const char *fn, uint64_t start_ns,
                        uint64_t end_ns, int status, int tid, const char *trace_id)
{
    uint64_t v = atomic_fetch_add_explicit(&log->seen, 1, memory_order_relaxed);
    uint64_t n = (v & SEEN_MASK) + 1;
    if (n > log->cap && n < atomic_load_explicit(&log->next, memory_order_relaxed)) return;
    keep(log, v >> SEEN_BITS, n, id, fn, start_ns, end_ns, status, tid, trace_id);
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
    log->epoch++;
    uint64_t seen = atomic_exchange_explicit(&log->seen, log->epoch << SEEN_BITS,
                                             memory_order_relaxed) & SEEN_MASK;
    atomic_store_explicit(&log->next, NO_NEXT, memory_order_relaxed);
    uint64_t lost = seen > n ? seen - n : 0;
    log->count = 0;
    log->replaced = 0;
    pthread_mutex_unlock(&log->mu);
    if (dropped) *dropped = lost;
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
