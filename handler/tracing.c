/* tracing — see tracing.h.
 *
 * One thread owns the tracer (the tracer library is single-threaded by design): it polls
 * the sampler every 100 ms so the rings never overflow, and at the end of every window
 * drains the app's invocation log, writes header + samples into memory through
 * tracer_flush(), and hands the text to the upload module (gzip, retries, spool).  The
 * trace of a window carries the invocations that ended in it, with their start and end
 * on CLOCK_MONOTONIC, the clock of the samples.  A window with neither samples nor
 * invocations is not uploaded.  Spooled traces are retried at the next windows. */
#define _GNU_SOURCE
#include "tracing.h"
#include "app.h"
#include "errbuf.h"
#include "fterr.h"
#include "tracename.h"
#include "invlog.h"
#include "log.h"
#include "runtime.h"
#include "timer_sampler.h"
#include "tracer.h"
#include "units.h"
#include "uploader.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_COLLECTOR "http://127.0.0.1:8081/"
#define DEFAULT_WINDOW_S 10.0
#define DEFAULT_MAX_INVOCATIONS 10000

struct tracing {
    fn_app *app;
    tracer *t;
    pthread_t th;
    atomic_int stop;
    double window_s;
    int freq;
    char url[1024], name[129], spool[1024];
    upload_opts up;
    size_t max_invocations;          /* per trace; more in a window are counted as dropped */
    enum tracer_sampler sampler;
    int sampler_set;                 /* FNTRACE_SAMPLER given: no fallback to the other */
    pthread_mutex_t mu;              /* start handshake with tracing_start */
    pthread_cond_t cv;
    int started;                     /* 1: sampling, -1: could not start */
    int kernel_frames;
    char why[512];
    struct invlog_rec *recs;
    ps_invocation *invs;
    struct wbuf { char *p; size_t len, cap; } out;   /* a window's text, kept between windows */
    uint64_t windows, sent, spooled, failed;
    uint64_t late_seen;             /* tracer_stats.late at the last window */
};

static int env_on(const char *v)
{
    return v && *v && strcmp(v, "0") && strcasecmp(v, "false") && strcasecmp(v, "no") &&
           strcasecmp(v, "off");
}

/* The window's text goes into one buffer that lives as long as the tracing thread:
 * open_memstream grew a new one every window, and at hundreds of KiB each growth was
 * fresh pages to fault in (a tenth of the tracing thread's CPU).  A buffer that grew past
 * KEEP_MAX for an unusual window is let go after it. */
#define KEEP_MAX (16u << 20)

static ssize_t wbuf_write(void *cookie, const char *b, size_t n)
{
    struct wbuf *w = cookie;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 1u << 16;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) { errno = ENOMEM; return 0; }
            cap *= 2;
        }
        char *p = realloc(w->p, cap);
        if (!p) { errno = ENOMEM; return 0; }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, b, n);
    w->len += n;
    return (ssize_t)n;
}

static FILE *wbuf_open(struct wbuf *w)
{
    w->len = 0;
    cookie_io_functions_t io = { .write = wbuf_write };
    FILE *f = fopencookie(w, "w", io);
    if (f) setvbuf(f, NULL, _IOFBF, 1u << 16);
    return f;
}

static void wbuf_done(struct wbuf *w)
{
    if (w->cap <= KEEP_MAX) return;
    free(w->p);
    *w = (struct wbuf){ 0 };
}

static double thread_cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void upload_window(struct tracing *tr, int last)
{
    double cpu0 = thread_cpu_ms();
    uint64_t dropped = 0;
    size_t n = !tr->app->invocations ? 0 : invlog_drain(tr->app->invocations, tr->recs,
                                                        tr->max_invocations, &dropped);
    for (size_t i = 0; i < n; i++) tr->invs[i] = invlog_to_ps(&tr->recs[i]);
    tracer_stats st;
    tracer_get_stats(tr->t, &st);
    if (!st.buffered && !n) return;
    char dropline[96];
    const char *lines[1] = { dropline };
    snprintf(dropline, sizeof dropline, "fntrace invocations dropped : %llu",
             (unsigned long long)dropped);
    tracer_header h = { .invocations = tr->invs, .ninvocations = n,
                        .lines = lines, .nlines = dropped ? 1 : 0 };
    FILE *f = wbuf_open(&tr->out);
    if (!f) {
        log_error("tracing: out of memory", "window=%llu", (unsigned long long)tr->windows);
        return;
    }
    int rc = tracer_flush(tr->t, f, &h);
    if (fclose(f) != 0 && rc >= 0) rc = -ENOMEM;
    tr->windows++;
    if (rc < 0) {
        log_error("tracing: cannot write the trace", "err=%s", strerror(-rc));
        wbuf_done(&tr->out);
        return;
    }
    size_t len = tr->out.len;
    upload_report rep = { 0 };
    char err[256] = "";
    rc = upload_submit(&tr->up, tr->out.p, len, &rep, err, sizeof err);
    wbuf_done(&tr->out);
    uint64_t late = st.late - tr->late_seen;
    tr->late_seen = st.late;
    if (rc == 0) tr->sent++;
    else if (rc > 0) tr->spooled++;
    else tr->failed++;
    if (rc < 0)
        log_error("tracing: upload failed", "collector=%s name=%s reason=\"%s\"", tr->url,
                  tr->name, err);
    else
        log_info(rc == 0 ? "tracing: trace uploaded"
                         : "tracing: collector unreachable, trace spooled",
                 "collector=%s name=%s samples=%llu late=%llu invocations=%zu bytes=%zu "
                 "evicted=%d cpu_ms=%.1f%s",
                 tr->url, tr->name, (unsigned long long)st.buffered,
                 (unsigned long long)late, n, len, rep.evicted,
                 thread_cpu_ms() - cpu0, last ? " last=1" : "");
    if (rc == 0 && tr->spool[0]) {
        upload_report dr = { 0 };
        if (upload_drain(&tr->up, &dr, err, sizeof err) < 0)
            log_warn("tracing: spool drain failed", "reason=\"%s\"", err);
        else if (dr.sent)
            log_info("tracing: spooled traces sent", "sent=%d left=%d", dr.sent, dr.left);
    }
}

static const char *sampler_name(enum tracer_sampler s)
{
    return s == TRACER_SAMPLER_TIMER ? "timer" : "perf";
}

/* The tracer is started here, by the thread that polls it, so that this thread (and
 * libcurl's threads, which inherit its name) is never sampled: a quiet app then has
 * nothing to upload.  Without FNTRACE_SAMPLER a refused sampler falls back to the
 * other one. */
static int start_sampling(struct tracing *tr)
{
    tracer_opts o = { .pid = getpid(), .freq = tr->freq, .skip_tid = gettid(),
                      .sampler = tr->sampler, .skip_comm = "fntrace" };
    char why[256] = "", why2[256] = "";
    tr->t = tracer_start(&o, why, sizeof why);
    if (!tr->t && !tr->sampler_set) {
        o.sampler = tr->sampler == TRACER_SAMPLER_TIMER ? TRACER_SAMPLER_PERF
                                                        : TRACER_SAMPLER_TIMER;
        tr->t = tracer_start(&o, why2, sizeof why2);
        if (tr->t) {
            log_warn("tracing: sampler refused, using the other one",
                     "sampler=%s fallback=%s reason=\"%s\"",
                     sampler_name(tr->sampler), sampler_name(o.sampler), why);
            tr->sampler = o.sampler;
        }
    }
    if (!tr->t)
        snprintf(tr->why, sizeof tr->why, "%s: %s%s%s", sampler_name(tr->sampler), why,
                 why2[0] ? "; then " : "", why2);
    return tr->t ? 0 : -1;
}

static void *tracing_thread(void *arg)
{
    struct tracing *tr = arg;
    pthread_setname_np(pthread_self(), "fntrace");
    sigset_t prof;                       /* never interrupted by the samplers' signal */
    sigemptyset(&prof);
    sigaddset(&prof, SIGPROF);
    pthread_sigmask(SIG_BLOCK, &prof, NULL);
    int ok = start_sampling(tr) == 0;
    if (ok) {
        tracer_stats st;
        tracer_get_stats(tr->t, &st);
        tr->kernel_frames = st.kernel_frames;
        /* only once sampling runs (before the server starts: tracing_start waits) */
        if (tr->max_invocations && app_record_invocations(tr->app, tr->max_invocations))
            log_warn("tracing: out of memory for the invocation log; traces will have none",
                     "max=%zu", tr->max_invocations);
    }
    pthread_mutex_lock(&tr->mu);
    tr->started = ok ? 1 : -1;
    pthread_cond_signal(&tr->cv);
    pthread_mutex_unlock(&tr->mu);
    if (!ok) return NULL;
    uint64_t next = invlog_now_ns() + (uint64_t)(tr->window_s * 1e9);
    while (!atomic_load(&tr->stop)) {
        int rc = tracer_poll(tr->t, 100);
        if (rc < 0 && rc != -EINTR) {
            log_error("tracing: sampling stopped", "err=%s", strerror(-rc));
            break;
        }
        if (invlog_now_ns() >= next) {
            upload_window(tr, 0);
            next += (uint64_t)(tr->window_s * 1e9);
            if (next < invlog_now_ns()) next = invlog_now_ns() + (uint64_t)(tr->window_s * 1e9);
        }
    }
    tracer_stop(tr->t);
    upload_window(tr, 1);
    return NULL;
}

int tracing_start(fn_app *app, struct tracing **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!env_on(getenv("FNTRACE"))) return 0;
    struct tracing *tr = calloc(1, sizeof *tr);
    if (!tr) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    tr->app = app;
    tr->freq = TRACER_DEFAULT_FREQ;
    tr->window_s = DEFAULT_WINDOW_S;
    const char *v;
    int rc = -FT_ERR_BAD_INPUT;
    uint64_t u;
    if ((v = getenv("FNTRACE_FREQ")) && *v) {
        if (units_uint(v, 10000, &u) < 0 || u < 1) {
            err_set(err, errlen, "FNTRACE_FREQ=%s is not a sampling frequency (1..10000 Hz)", v);
            goto fail;
        }
        tr->freq = (int)u;
    }
    if ((v = getenv("FNTRACE_WINDOW")) && *v) {
        double w;
        if (units_seconds(v, &w) < 0 || w < 0.1 || w > 3600) {
            err_set(err, errlen, "FNTRACE_WINDOW=%s is not a window (0.1s .. 1h; 10, 10s, 500ms)",
                    v);
            goto fail;
        }
        tr->window_s = w;
    }
    tr->sampler = TRACER_SAMPLER_TIMER;
    if ((v = getenv("FNTRACE_SAMPLER")) && *v) {
        if (!strcmp(v, "timer")) tr->sampler = TRACER_SAMPLER_TIMER;
        else if (!strcmp(v, "perf")) tr->sampler = TRACER_SAMPLER_PERF;
        else {
            err_set(err, errlen, "FNTRACE_SAMPLER=%s is not a sampler (timer or perf)", v);
            goto fail;
        }
        tr->sampler_set = 1;
    }
    v = getenv("FNTRACE_NAME");
    snprintf(tr->name, sizeof tr->name, "%s", v && *v ? v : app->name);
    if (!trace_name_valid(tr->name)) {
        rc = trace_name_error(err, errlen, "FNTRACE_NAME=", tr->name, strlen(tr->name));
        goto fail;
    }
    v = getenv("FNTRACE_COLLECTOR");
    snprintf(tr->url, sizeof tr->url, "%s", v && *v ? v : DEFAULT_COLLECTOR);
    if (strncmp(tr->url, "http://", 7) && strncmp(tr->url, "https://", 8)) {
        err_set(err, errlen, "FNTRACE_COLLECTOR=%s is not an http(s) URL", tr->url);
        goto fail;
    }
    v = getenv("FNTRACE_SPOOL");
    if (v && *v) snprintf(tr->spool, sizeof tr->spool, "%s", v);
    tr->up = (upload_opts){ .url = tr->url, .name = tr->name,
                            .spool_dir = tr->spool[0] ? tr->spool : NULL,
                            .attempts = 2, .backoff_ms = 200, .timeout_s = 10 };
    tr->max_invocations = DEFAULT_MAX_INVOCATIONS;
    if ((v = getenv("FNTRACE_INVOCATIONS")) && *v) {
        if (units_uint(v, 1000000, &u) < 0) {
            err_set(err, errlen, "FNTRACE_INVOCATIONS=%s is not a count (0..1000000)", v);
            goto fail;
        }
        tr->max_invocations = (size_t)u;
    }
    tr->recs = calloc(tr->max_invocations + 1, sizeof *tr->recs);
    tr->invs = calloc(tr->max_invocations + 1, sizeof *tr->invs);
    if (!tr->recs || !tr->invs) { err_set(err, errlen, "out of memory"); rc = -ENOMEM; goto fail; }

    pthread_mutex_init(&tr->mu, NULL);
    pthread_cond_init(&tr->cv, NULL);
    rc = pthread_create(&tr->th, NULL, tracing_thread, tr);
    if (rc) {
        log_warn("tracing off: cannot start the tracing thread", "err=%s", strerror(rc));
        goto off;
    }
    pthread_mutex_lock(&tr->mu);
    while (!tr->started) pthread_cond_wait(&tr->cv, &tr->mu);
    pthread_mutex_unlock(&tr->mu);
    if (tr->started < 0) {
        pthread_join(tr->th, NULL);
        /* never stop serving because of tracing: one line, and go on without it */
        log_warn("tracing off: cannot sample this process; the functions keep serving",
                 "reason=\"%s\"", tr->why);
        goto off;
    }
    log_info("tracing on",
             "sampler=%s freq_hz=%d window_s=%.3g collector=%s name=%s spool=%s frames=%s",
             sampler_name(tr->sampler), tr->freq, tr->window_s, tr->url, tr->name,
             tr->spool[0] ? tr->spool : "-", tr->kernel_frames ? "kernel+user" : "user");
    *out = tr;
    return 0;

off:
    free(tr->recs);
    free(tr->invs);
    free(tr);
    return 0;

fail:
    free(tr->recs);
    free(tr->invs);
    free(tr);
    return rc;
}

void tracing_thread_begin(void) { timer_sampler_thread_attach(); }
void tracing_thread_end(void) { timer_sampler_thread_detach(); }

void tracing_stop(struct tracing *tr)
{
    if (!tr) return;
    atomic_store(&tr->stop, 1);
    pthread_join(tr->th, NULL);
    log_info("tracing stopped", "windows=%llu sent=%llu spooled=%llu failed=%llu",
             (unsigned long long)tr->windows, (unsigned long long)tr->sent,
             (unsigned long long)tr->spooled, (unsigned long long)tr->failed);
    tracer_free(tr->t);
    free(tr->out.p);
    free(tr->recs);
    free(tr->invs);
    free(tr);
}
