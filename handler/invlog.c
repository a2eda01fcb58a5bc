/* invlog — see invlog.h.  A ring of fixed-size records under one mutex: head is the
 * oldest record, count how many follow it. */
#include "invlog.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct invlog {
    pthread_mutex_t mu;
    struct invlog_rec *recs;
    size_t cap, head, count;
    uint64_t dropped;
};

invlog *invlog_new(size_t capacity)
{
    if (!capacity) capacity = 1;
    invlog *log = calloc(1, sizeof *log);
    if (!log) return NULL;
    log->recs = calloc(capacity, sizeof *log->recs);
    if (!log->recs) { free(log); return NULL; }
    log->cap = capacity;
    pthread_mutex_init(&log->mu, NULL);
    return log;
}

void invlog_free(invlog *log)
{
    if (!log) return;
    pthread_mutex_destroy(&log->mu);
    free(log->recs);
    free(log);
}

uint64_t invlog_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
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

void invlog_push_traced(invlog *log, const char *id, const char *fn, uint64_t start_ns,
                        uint64_t end_ns, int status, int tid, const char *trace_id)
{
    pthread_mutex_lock(&log->mu);
    size_t slot;
    if (log->count == log->cap) {
        slot = log->head;
        log->head = (log->head + 1) % log->cap;
        log->dropped++;
    } else {
        slot = (log->head + log->count++) % log->cap;
    }
    struct invlog_rec *r = &log->recs[slot];
    copy_bounded(r->id, sizeof r->id, id);
    copy_bounded(r->fn, sizeof r->fn, fn);
    r->start_ns = start_ns;
    r->end_ns = end_ns;
    r->status = status;
    r->tid = tid > 0 ? tid : 0;
    copy_bounded(r->trace_id, sizeof r->trace_id, trace_id);
    pthread_mutex_unlock(&log->mu);
}

size_t invlog_drain(invlog *log, struct invlog_rec *out, size_t max, uint64_t *dropped)
{
    pthread_mutex_lock(&log->mu);
    size_t n = log->count < max ? log->count : max;
    for (size_t i = 0; i < n; i++) out[i] = log->recs[(log->head + i) % log->cap];
    log->head = (log->head + n) % log->cap;
    log->count -= n;
    if (dropped) *dropped = log->dropped;
    log->dropped = 0;
    pthread_mutex_unlock(&log->mu);
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
