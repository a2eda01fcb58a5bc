/* ps_write — the perf-script writer (see perfscript.h "writer"): samples, header lines and
 * fntrace lines into a buffered sink.  One writer per thread. */
#include "perfscript.h"
#include "ps_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define WRITER_BUF (64u * 1024u)

/* ------------------------------------------------------------------ formatting */

struct out {
    char *p;
    size_t cap, n;
};

static void out_put(struct out *o, const void *data, size_t len)
{
    if (len && o->n < o->cap) {
        size_t room = o->cap - o->n;
        memcpy(o->p + o->n, data, len < room ? len : room);
    }
    o->n += len;
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        out_put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static size_t out_end(struct out *o)
{
    if (o->cap)
        o->p[o->n < o->cap ? o->n : o->cap - 1] = '\0';
    return o->n;
}

/* A field of a sample line: control characters (a newline in a comm or a file name)
 * are escaped so that the sample keeps its lines; everything else goes as it is. */
static void out_field(struct out *o, ps_str f)
{
    size_t i = 0;
    while (i < f.len) {
        size_t j = i;
        while (j < f.len && !needs_escape((unsigned char)f.p[j], ESC_LINE))
            j++;
        out_put(o, f.p + i, j - i);
        if (j < f.len) {
            char e[8];
            out_put(o, e, ps_escape((ps_str){ f.p + j, 1 }, e, sizeof(e), 0));
            j++;
        }
        i = j;
    }
}

static void fmt_event(struct out *o, const ps_sample *s)
{
    if (s->comm.len)
        out_field(o, s->comm);
    else
        out_put(o, ":-1", 3);       /* perf's name for an unknown thread */
    out_put(o, " ", 1);
    if (s->flags & PS_SAMPLE_PID)
        out_printf(o, "%5d/%-5d ", s->pid, s->tid);
    else
        out_printf(o, "%5d ", s->tid);
    if ((s->flags & PS_SAMPLE_CPU) && s->cpu >= 0)
        out_printf(o, "[%03d] ", s->cpu);
    char t[40];
    snprintf(t, sizeof(t), "%" PRIu64 ".%06" PRIu64, s->time_ns / PS_NSEC_PER_SEC,
             (s->time_ns % PS_NSEC_PER_SEC) / 1000);
    out_printf(o, "%12s: ", t);
    if (s->flags & PS_SAMPLE_PERIOD)
        out_printf(o, "%10" PRIu64 " ", s->period);
    out_field(o, s->event);
    out_put(o, ": ", 2);
    out_field(o, s->extra);
    out_put(o, "\n", 1);
}

/* v in lowercase hex, right-aligned in width columns (printf's "%*" PRIx64): a frame
 * line is most of a trace, and vsnprintf was most of its cost. */
static void out_hex(struct out *o, uint64_t v, int width)
{
    char tmp[32];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while ((int)sizeof tmp - i < width)
        tmp[--i] = ' ';
    out_put(o, tmp + i, sizeof tmp - (size_t)i);
}

static void fmt_frame(struct out *o, const ps_frame *f)
{
    out_put(o, "\t", 1);
    out_hex(o, f->addr, 16);
    out_put(o, " ", 1);
    out_field(o, f->sym);
    if (f->flags & PS_FRAME_OFF) {
        out_put(o, "+0x", 3);
        out_hex(o, f->off, 0);
    }
    if (f->flags & PS_FRAME_MODULE) {
        out_put(o, " (", 2);
        out_field(o, f->module);
        out_put(o, ")", 1);
    }
    out_put(o, "\n", 1);
}

size_t ps_format_frame(const ps_frame *f, char *out, size_t outcap)
{
    struct out o = { out, outcap, 0 };
    fmt_frame(&o, f);
    return out_end(&o);
}

/* ------------------------------------------------------------------ writer */

struct ps_writer {
    ps_sink_fn sink;
    void *ctx;
    FILE *fp;
    int fd;
    int err;
    uint64_t total;
    size_t len;
    char buf[WRITER_BUF];
};

ps_writer *ps_writer_new(ps_sink_fn sink, void *ctx)
{
    ps_writer *w = malloc(sizeof(*w));
    if (!w)
        return NULL;
    w->sink = sink;
    w->ctx = ctx;
    w->fp = NULL;
    w->fd = -1;
    w->err = 0;
    w->total = 0;
    w->len = 0;
    return w;
}

static int sink_fp(void *ctx, const void *data, size_t len)
{
    FILE *fp = ctx;
    if (fwrite(data, 1, len, fp) != len)
        return errno ? -errno : -EIO;
    return 0;
}

static int sink_fd(void *ctx, const void *data, size_t len)
{
    int fd = *(int *)ctx;
    const char *d = data;
    while (len) {
        ssize_t n = write(fd, d, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        d += n;
        len -= (size_t)n;
    }
    return 0;
}

ps_writer *ps_writer_new_fp(FILE *fp)
{
    ps_writer *w = ps_writer_new(sink_fp, fp);
    if (w)
        w->fp = fp;
    return w;
}

ps_writer *ps_writer_new_fd(int fd)
{
    ps_writer *w = ps_writer_new(sink_fd, NULL);
    if (w) {
        w->fd = fd;
        w->ctx = &w->fd;
    }
    return w;
}

int ps_writer_flush(ps_writer *w)
{
    if (w->err)
        return w->err;
    if (w->len) {
        int rc = w->sink(w->ctx, w->buf, w->len);
        w->len = 0;
        if (rc) {
            w->err = rc < 0 ? rc : -EIO;
            return w->err;
        }
    }
    if (w->fp && fflush(w->fp) != 0)
        w->err = errno ? -errno : -EIO;
    return w->err;
}

int ps_writer_close(ps_writer *w)
{
    if (!w)
        return 0;
    int rc = ps_writer_flush(w);
    free(w);
    return rc;
}

int ps_writer_error(const ps_writer *w)
{
    return w->err;
}

uint64_t ps_writer_bytes(const ps_writer *w)
{
    return w->total;
}

int ps_write_raw(ps_writer *w, const void *data, size_t len)
{
    if (w->err || !len)
        return w->err;
    const char *d = data;
    w->total += len;
    while (len) {
        size_t room = WRITER_BUF - w->len;
        if (!room) {
            int rc = w->sink(w->ctx, w->buf, w->len);
            w->len = 0;
            if (rc) {
                w->err = rc < 0 ? rc : -EIO;
                return w->err;
            }
            room = WRITER_BUF;
        }
        if (len >= WRITER_BUF && w->len == 0) {
            /* big pieces go straight through */
            int rc = w->sink(w->ctx, d, len);
            if (rc)
                w->err = rc < 0 ? rc : -EIO;
            return w->err;
        }
        size_t n = len < room ? len : room;
        memcpy(w->buf + w->len, d, n);
        w->len += n;
        d += n;
        len -= n;
    }
    return 0;
}

/* Formats with fmt_fn into a stack buffer (or the heap when it is too small) and
 * writes the result. */
static int write_formatted(ps_writer *w, void (*fn)(struct out *, const void *),
                           const void *arg)
{
    char tmp[1024];
    struct out o = { tmp, sizeof(tmp), 0 };
    fn(&o, arg);
    if (o.n <= sizeof(tmp))
        return ps_write_raw(w, tmp, o.n);
    char *big = malloc(o.n);
    if (!big)
        return w->err ? w->err : (w->err = -ENOMEM);
    struct out o2 = { big, o.n, 0 };
    fn(&o2, arg);
    int rc = ps_write_raw(w, big, o2.n);
    free(big);
    return rc;
}

static void fmt_event_v(struct out *o, const void *s)
{
    fmt_event(o, s);
}

static void fmt_frame_v(struct out *o, const void *f)
{
    fmt_frame(o, f);
}

int ps_write_event(ps_writer *w, const ps_sample *s)
{
    return write_formatted(w, fmt_event_v, s);
}

int ps_write_frame(ps_writer *w, const ps_frame *f)
{
    return write_formatted(w, fmt_frame_v, f);
}

int ps_write_sample_end(ps_writer *w)
{
    return ps_write_raw(w, "\n", 1);
}

int ps_write_sample(ps_writer *w, const ps_sample *s)
{
    ps_write_event(w, s);
    for (uint32_t i = 0; i < s->nframes; i++)
        ps_write_frame(w, &s->frames[i]);
    return ps_write_sample_end(w);
}

/* Writes s escaped (flags as ps_escape, or ESC_LINE). */
static int write_escaped(ps_writer *w, ps_str s, int flags)
{
    size_t i = 0;
    while (i < s.len) {
        /* runs of bytes that need no escape go through as they are */
        size_t j = i;
        while (j < s.len && !needs_escape((unsigned char)s.p[j], flags))
            j++;
        if (j > i)
            ps_write_raw(w, s.p + i, j - i);
        if (j < s.len) {
            char e[8];
            size_t n = ps_escape((ps_str){ s.p + j, 1 }, e, sizeof(e), flags & PS_ESC_SPACE);
            ps_write_raw(w, e, n);
            j++;
        }
        i = j;
    }
    return w->err;
}

int ps_write_header_begin(ps_writer *w)
{
    return ps_write_raw(w, "# ========\n", 11);
}

int ps_write_header_end(ps_writer *w)
{
    return ps_write_raw(w, "# ========\n#\n", 13);
}

int ps_write_header_kv(ps_writer *w, const char *key, const char *value)
{
    ps_write_raw(w, "# ", 2);
    write_escaped(w, ps_cstr(key), 0);
    ps_write_raw(w, " : ", 3);
    write_escaped(w, ps_cstr(value), 0);
    return ps_write_raw(w, "\n", 1);
}

int ps_write_header_kvf(ps_writer *w, const char *key, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return w->err ? w->err : (w->err = -EINVAL);
    if ((size_t)n < sizeof(tmp))
        return ps_write_header_kv(w, key, tmp);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return w->err ? w->err : (w->err = -ENOMEM);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ps_write_header_kv(w, key, big);
    free(big);
    return rc;
}

int ps_write_header_event(ps_writer *w, const char *name, unsigned freq_hz)
{
    return ps_write_header_kvf(
        w, "event",
        "name = %s, , type = 1, size = 128, { sample_period, sample_freq } = %u, "
        "sample_type = IP|TID|TIME|CALLCHAIN|CPU|PERIOD, disabled = 1, inherit = 1, "
        "freq = 1, sample_id_all = 1, use_clockid = 1, clockid = 1",
        name, freq_hz);
}

static void fmt_secs(char *out, size_t cap, uint64_t ns)
{
    snprintf(out, cap, "%" PRIu64 ".%06" PRIu64, ns / PS_NSEC_PER_SEC,
             (ns % PS_NSEC_PER_SEC) / 1000);
}

int ps_write_header_times(ps_writer *w, uint64_t first_ns, uint64_t last_ns)
{
    char a[40], b[40];
    fmt_secs(a, sizeof(a), first_ns);
    fmt_secs(b, sizeof(b), last_ns);
    ps_write_header_kv(w, "time of first sample", a);
    ps_write_header_kv(w, "time of last sample", b);
    uint64_t d = last_ns > first_ns ? last_ns - first_ns : 0;
    uint64_t us = (d + 500) / 1000;
    return ps_write_header_kvf(w, "sample duration", "%6" PRIu64 ".%03" PRIu64 " ms",
                               us / 1000, us % 1000);
}

int ps_write_header_perf(ps_writer *w, const ps_header_info *h)
{
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof(u));
    time_t when = h->captured_on ? h->captured_on : time(NULL);
    struct tm tm;
    char date[64] = "";
    if (localtime_r(&when, &tm))
        strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
    long online = h->nrcpus_online ? h->nrcpus_online : sysconf(_SC_NPROCESSORS_ONLN);
    long avail = h->nrcpus_avail ? h->nrcpus_avail : sysconf(_SC_NPROCESSORS_CONF);
    ps_write_header_begin(w);
    ps_write_header_kv(w, "captured on", date);
    ps_write_header_kv(w, "hostname", h->hostname ? h->hostname : u.nodename);
    ps_write_header_kv(w, "os release", h->os_release ? h->os_release : u.release);
    ps_write_header_kv(w, "arch", h->arch ? h->arch : u.machine);
    ps_write_header_kvf(w, "nrcpus online", "%ld", online);
    ps_write_header_kvf(w, "nrcpus avail", "%ld", avail);
    if (h->cmdline)
        ps_write_header_kv(w, "cmdline", h->cmdline);
    if (h->freq_hz)
        ps_write_header_event(w, h->event ? h->event : "cpu-clock", h->freq_hz);
    if (h->first_ns || h->last_ns)
        ps_write_header_times(w, h->first_ns, h->last_ns);
    return ps_write_header_end(w);
}

int ps_write_header_line(ps_writer *w, ps_str line)
{
    if (!line.len || line.p[0] != '#')
        ps_write_raw(w, "#", 1);
    write_escaped(w, line, ESC_LINE);   /* a copied line keeps its backslashes */
    return ps_write_raw(w, "\n", 1);
}

int ps_write_fntrace_version(ps_writer *w, const char *version)
{
    return ps_write_header_kv(w, "fntrace version", version);
}

int ps_write_fntrace_backend(ps_writer *w, const char *backend)
{
    return ps_write_header_kv(w, "fntrace backend", backend);
}

int ps_write_fntrace_frames(ps_writer *w, int kernel)
{
    return ps_write_header_kv(w, "fntrace frames", kernel ? "kernel+user" : "user");
}

int ps_write_fntrace_lost(ps_writer *w, uint64_t lost)
{
    return ps_write_header_kvf(w, "fntrace lost samples", "%" PRIu64, lost);
}

int ps_write_invocation(ps_writer *w, const ps_invocation *inv)
{
    char t[40];
    ps_write_raw(w, "# fntrace invocation : id=", 26);
    write_escaped(w, inv->id, PS_ESC_SPACE);
    ps_write_raw(w, " fn=", 4);
    write_escaped(w, inv->fn, PS_ESC_SPACE);
    fmt_secs(t, sizeof(t), inv->start_ns);
    ps_write_raw(w, " start=", 7);
    ps_write_raw(w, t, strlen(t));
    if (inv->flags & PS_INV_END) {
        fmt_secs(t, sizeof(t), inv->end_ns);
        ps_write_raw(w, " end=", 5);
        ps_write_raw(w, t, strlen(t));
    }
    if (inv->flags & PS_INV_STATUS) {
        snprintf(t, sizeof(t), " status=%d", inv->status);
        ps_write_raw(w, t, strlen(t));
    }
    if ((inv->flags & PS_INV_TID) && inv->tid > 0) {
        snprintf(t, sizeof(t), " tid=%d", inv->tid);
        ps_write_raw(w, t, strlen(t));
    }
    if (ps_is_trace_id(inv->trace_id)) {
        ps_write_raw(w, " trace_id=", 10);
        ps_write_raw(w, inv->trace_id.p, inv->trace_id.len);
    }
    return ps_write_raw(w, "\n", 1);
}
