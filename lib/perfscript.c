/* perfscript — parser, writer and sniffer of `perf script --header` text (contract in
 * perfscript.h and docs/perfscript.md).
 *
 * Parser design. The core, parse_text(), walks complete lines of one contiguous buffer
 * with memchr and dispatches on the first byte: `#` -> header callback; blank -> end
 * of the open sample; whitespace -> frame line of the open sample (or an event line
 * printed with perf's right-aligned %16s comm); anything else -> event line. Samples
 * are collected as views into the buffer plus a preallocated frame array, and handed
 * to the callback at the blank line (or the next event line, or the end of input).
 *
 * Streaming (file, fd, feed) runs the same core over an internal buffer: it parses the
 * complete lines, then keeps the tail that is still needed (the incomplete last line,
 * plus the open sample's text, whose views the sample holds) and moves it to the front
 * before reading more; the open sample's views are rebased when that happens. A sample
 * whose text grows past MAX_SAMPLE_TEXT is delivered early (its remaining frames are
 * counted as dropped), and a line longer than max_line is skipped without being kept,
 * so the buffer stays bounded whatever the input.
 *
 * Frame line: `ws* HEX ' ' SYMBOL[+0xOFF] [' (' MODULE ')']`. The module is the last
 * balanced parenthesised group preceded by a space (so symbols may hold parentheses,
 * `operator()`, and modules may hold `(deleted)`); when the parentheses are not
 * balanced the last " (" wins, like FlameScope's regex. The offset is a final
 * `+0x<hex>` of the symbol (so `operator+` stays whole).
 *
 * Event line: found by its time field: the first `<space>DIGITS[.DIGITS]:` followed by
 * a space or the line end whose left part reads, from the right, as optional `[cpu]`,
 * `pid/tid` or `tid`, and a non-empty comm. Right of it: optional period (digits and a
 * space), the event name (a non-space token ending with ':'), optional extra text. */
#include "perfscript.h"
#include "ps_internal.h"
#include "errbuf.h"
#include "fterr.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define READ_CHUNK       (1u << 20)         /* bytes per read from a file */
#define FEED_CHUNK       (64u * 1024u)      /* buffer room kept free for feeds */
#define MAX_SAMPLE_TEXT  (4u << 20)         /* open-sample text kept while streaming */


/* ------------------------------------------------------------------ small helpers */

ps_str ps_cstr(const char *s)
{
    return s ? (ps_str){ s, strlen(s) } : (ps_str){ "", 0 };
}

int ps_str_eq(ps_str a, ps_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int ps_str_eqc(ps_str a, const char *s)
{
    return ps_str_eq(a, ps_cstr(s));
}

int ps_parse_seconds(ps_str s, uint64_t *ns)
{
    if (!s.p)
        return 0;
    return parse_secs(s.p, s.p + s.len, ns);
}

/* ------------------------------------------------------------------ line parsers */

/* The part left of the time field, [b, e): comm, pid/tid or tid, optional [cpu]. */
static int parse_event_head(const char *b, const char *e, ps_sample *s)
{
    while (e > b && is_ws(e[-1]))
        e--;
    int32_t cpu = -1;
    uint32_t flags = 0;
    if (e > b && e[-1] == ']') {
        /* "[cpu]" is short: a bounded search keeps hostile lines linear */
        const char *lb = e - 1, *lim = (size_t)(e - b) > 16 ? e - 16 : b;
        while (lb > lim && *lb != '[')
            lb--;
        if (*lb != '[' || !parse_i32(lb + 1, e - 1, &cpu))
            return 0;
        if (cpu >= 0)
            flags |= PS_SAMPLE_CPU;
        else
            cpu = -1;
        e = lb;
        while (e > b && is_ws(e[-1]))
            e--;
    }
    /* pid/tid or tid: [-]digits[/[-]digits] */
    const char *te = e, *tb = e;
    while (tb > b && (is_digit(tb[-1]) || tb[-1] == '-'))
        tb--;
    int32_t pid = -1, tid;
    if (!parse_i32(tb, te, &tid))
        return 0;
    if (tb > b && tb[-1] == '/') {
        const char *pe = tb - 1, *pb = pe;
        while (pb > b && (is_digit(pb[-1]) || pb[-1] == '-'))
            pb--;
        if (!parse_i32(pb, pe, &pid))
            return 0;
        flags |= PS_SAMPLE_PID;
        tb = pb;
    }
    if (tb == b || !is_ws(tb[-1]))
        return 0;
    const char *ce = tb;
    while (ce > b && is_ws(ce[-1]))
        ce--;
    const char *cb = b;
    if (cb == ce)
        return 0;
    s->comm = (ps_str){ cb, (size_t)(ce - cb) };
    s->pid = pid;
    s->tid = tid;
    s->cpu = cpu;
    s->flags = flags;
    return 1;
}

/* Right of "time:": [period] event: [extra] */
static int parse_event_tail(const char *b, const char *e, ps_sample *s)
{
    while (b < e && is_ws(*b))
        b++;
    while (e > b && is_ws(e[-1]))
        e--;
    const char *q = b;
    while (q < e && is_digit(*q))
        q++;
    s->period = 0;
    if (q > b && q < e && is_ws(*q)) {
        if (!parse_u64(b, q, &s->period))
            return 0;
        s->flags |= PS_SAMPLE_PERIOD;
        b = q;
        while (b < e && is_ws(*b))
            b++;
    }
    q = b;
    while (q < e && !is_ws(*q))
        q++;
    if (q - b < 2 || q[-1] != ':')
        return 0;
    s->event = (ps_str){ b, (size_t)(q - 1 - b) };
    while (q < e && is_ws(*q))
        q++;
    s->extra = (ps_str){ q, (size_t)(e - q) };
    return 1;
}

int ps_parse_event_line(ps_str line, ps_sample *s)
{
    const char *b = line.p, *e = line.p + line.len;
    if (!b)
        return 0;
    while (b < e && is_ws(*b))          /* perf right-aligns comms with %16s */
        b++;
    if (b == e || *b == '#')            /* a `#` line is a header, whatever follows */
        return 0;
    /* candidates: ':' followed by whitespace or the line end, preceded by the time */
    for (const char *c = b; c < e; c++) {
        c = memchr(c, ':', (size_t)(e - c));
        if (!c)
            return 0;
        if (c + 1 < e && !is_ws(c[1]))
            continue;
        const char *tb = c;
        while (tb > b && (is_digit(tb[-1]) || tb[-1] == '.'))
            tb--;
        if (tb == c || tb == b || !is_ws(tb[-1]))
            continue;
        uint64_t ns;
        if (!parse_secs(tb, c, &ns))
            continue;
        if (!parse_event_head(b, tb - 1, s))
            continue;
        s->time_ns = ns;
        if (!parse_event_tail(c + 1, e, s))
            return 0;
        return 1;
    }
    return 0;
}

int ps_parse_frame_line(ps_str line, ps_frame *f)
{
    const char *b = line.p, *e = line.p + line.len;
    if (!b)
        return 0;
    while (b < e && is_ws(*b))
        b++;
    const char *a = b;
    uint64_t addr = 0;
    while (a < e && hexv(*a)) {
        addr = (addr << 4) | (uint64_t)(hexv(*a) - 1);
        a++;
    }
    if (a == b || a - b > 16 || (a < e && *a != ' '))
        return 0;
    f->addr = addr;
    f->flags = 0;
    f->off = 0;
    f->sym_id = f->module_id = 0;
    f->module = (ps_str){ NULL, 0 };
    if (a < e)
        a++;
    while (e > a && is_ws(e[-1]))
        e--;
    const char *se = e;
    if (e - a >= 2 && e[-1] == ')') {
        /* the last balanced "( … )" preceded by a space */
        const char *q = e - 1, *open = NULL;
        int depth = 0;
        for (;;) {
            if (*q == ')')
                depth++;
            else if (*q == '(' && --depth == 0) {
                open = q;
                break;
            }
            if (q == a)
                break;
            q--;
        }
        if (!open || open == a || open[-1] != ' ') {
            /* unbalanced: the last " (" */
            open = NULL;
            for (q = e - 2; q > a; q--) {
                if (*q == '(' && q[-1] == ' ') {
                    open = q;
                    break;
                }
            }
        }
        if (open) {
            f->module = (ps_str){ open + 1, (size_t)(e - 1 - (open + 1)) };
            f->flags |= PS_FRAME_MODULE;
            if (f->module.len == 7 && memcmp(f->module.p, "inlined", 7) == 0)
                f->flags |= PS_FRAME_INLINED;
            se = open - 1;
        }
    }
    while (se > a && is_ws(se[-1]))
        se--;
    /* +0xOFF at the end of the symbol */
    const char *h = se;
    while (h > a && hexv(h[-1]))
        h--;
    if (h < se && se - h <= 16 && h - a >= 3 && h[-1] == 'x' && h[-2] == '0' &&
        h[-3] == '+') {
        uint64_t off = 0;
        for (const char *q = h; q < se; q++)
            off = (off << 4) | (uint64_t)(hexv(*q) - 1);
        f->off = off;
        f->flags |= PS_FRAME_OFF;
        se = h - 3;
    }
    f->sym = (ps_str){ a, (size_t)(se - a) };
    return 1;
}

/* ------------------------------------------------------------------ parser */

struct ps_parser {
    ps_parse_opts o;
    ps_stats st;
    ps_frame *frames;
    ps_sample cur;
    int in_sample;            /* 0 none, 1 open, 2 delivered early: drop its frames */
    const char *sample_start; /* event line of the open sample (streaming) */
    uint64_t lineno;
    int skip_long;            /* streaming: discarding the rest of an over-long line */
    uint64_t fed;             /* streaming: bytes taken in, for max_bytes */
    /* streaming buffer */
    char *buf;
    size_t blen, bcap;
    size_t bpos;              /* where parsing resumes: buf[0..bpos) is kept text */
    size_t room;              /* free space compact() leaves: READ_CHUNK or FEED_CHUNK */
    /* one-entry cache for module interning */
    const char *last_mod;
    size_t last_mod_len;
    uint32_t last_mod_id;
};

ps_parser *ps_parser_new(const ps_parse_opts *opts)
{
    ps_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (opts)
        p->o = *opts;
    if (!p->o.max_line)
        p->o.max_line = PS_DEFAULT_MAX_LINE;
    if (!p->o.max_frames)
        p->o.max_frames = PS_DEFAULT_MAX_FRAMES;
    if (p->o.max_frames > PS_LIMIT_MAX_FRAMES)
        p->o.max_frames = PS_LIMIT_MAX_FRAMES;
    p->frames = calloc(p->o.max_frames, sizeof(*p->frames));
    if (!p->frames) {
        free(p);
        return NULL;
    }
    return p;
}

void ps_parser_free(ps_parser *p)
{
    if (!p)
        return;
    free(p->frames);
    free(p->buf);
    free(p);
}

static void stream_reset(ps_parser *p)
{
    p->in_sample = 0;
    p->sample_start = NULL;
    p->lineno = 0;
    p->skip_long = 0;
    p->fed = 0;
    p->blen = 0;
    p->bpos = 0;
    p->room = 0;
    p->last_mod = NULL;
}

void ps_parser_reset(ps_parser *p)
{
    stream_reset(p);
    memset(&p->st, 0, sizeof(p->st));
}

const ps_stats *ps_parser_stats(const ps_parser *p)
{
    return &p->st;
}

static int deliver(ps_parser *p)
{
    p->cur.frames = p->frames;
    p->st.samples++;
    p->st.frames += p->cur.nframes;
    int rc = 0;
    if (p->o.on_sample)
        rc = p->o.on_sample(p->o.ctx, &p->cur);
    return rc;
}

/* Ends the open sample (if any): delivers it. */
static int close_sample(ps_parser *p)
{
    int st = p->in_sample;
    p->in_sample = 0;
    p->sample_start = NULL;
    return st == 1 ? deliver(p) : 0;
}

static int intern_sample(ps_parser *p)
{
    strtab *t = p->o.strtab;
    p->cur.comm_id = strtab_intern(t, p->cur.comm.p, p->cur.comm.len);
    p->cur.event_id = strtab_intern(t, p->cur.event.p, p->cur.event.len);
    return (p->cur.comm_id == STRTAB_NONE || p->cur.event_id == STRTAB_NONE) ? -ENOMEM : 0;
}

static int intern_frame(ps_parser *p, ps_frame *f)
{
    strtab *t = p->o.strtab;
    f->sym_id = strtab_intern(t, f->sym.p, f->sym.len);
    if (p->last_mod && f->module.len == p->last_mod_len &&
        (f->module.len == 0 || memcmp(f->module.p, p->last_mod, f->module.len) == 0)) {
        f->module_id = p->last_mod_id;
    } else {
        f->module_id = strtab_intern(t, f->module.p ? f->module.p : "", f->module.len);
        p->last_mod = f->module.p ? f->module.p : "";
        p->last_mod_len = f->module.len;
        p->last_mod_id = f->module_id;
    }
    return (f->sym_id == STRTAB_NONE || f->module_id == STRTAB_NONE) ? -ENOMEM : 0;
}

/* Starts a new sample from a parsed event line in p->cur. */
static int open_sample(ps_parser *p, const char *line_start)
{
    p->cur.nframes = 0;
    p->cur.frames_dropped = 0;
    p->cur.line = p->lineno;
    p->in_sample = 1;
    p->sample_start = line_start;
    p->last_mod = NULL;
    if (p->o.strtab)
        return intern_sample(p);
    p->cur.comm_id = p->cur.event_id = 0;
    return 0;
}

static int add_frame(ps_parser *p, ps_str line)
{
    if (p->in_sample == 2 || p->cur.nframes >= p->o.max_frames) {
        ps_frame tmp;
        if (!ps_parse_frame_line(line, &tmp))
            return 1;
        if (p->in_sample == 1)
            p->cur.frames_dropped++;
        p->st.frames_dropped++;
        return 0;
    }
    ps_frame *f = &p->frames[p->cur.nframes];
    if (!ps_parse_frame_line(line, f))
        return 1;
    p->cur.nframes++;
    if (p->o.strtab && intern_frame(p, f) < 0)
        return -ENOMEM;
    return 0;
}

/* One line [b, e) without its '\n'. Returns 0 or a stop value. */
static int parse_line(ps_parser *p, const char *b, const char *e)
{
    p->st.lines++;
    p->lineno++;
    if ((size_t)(e - b) > p->o.max_line) {
        p->st.long_lines++;
        p->st.skipped++;
        return 0;
    }
    while (e > b && e[-1] == '\r')     /* CRLF (and stray CRs) end the line */
        e--;
    if (b == e)
        return close_sample(p);
    char c0 = *b;
    if (c0 == '#') {
        p->st.header_lines++;
        if (p->o.on_header)
            return p->o.on_header(p->o.ctx, (ps_str){ b, (size_t)(e - b) }, p->lineno);
        return 0;
    }
    ps_str line = { b, (size_t)(e - b) };
    if (is_ws(c0)) {
        const char *q = b;
        while (q < e && is_ws(*q))
            q++;
        if (q == e)
            return close_sample(p);          /* whitespace-only: a blank line */
        if (p->in_sample) {
            int r = add_frame(p, line);
            if (r <= 0)
                return r;
        }
    }
    ps_sample s;
    if (ps_parse_event_line(line, &s)) {
        int rc = close_sample(p);
        if (rc)
            return rc;
        p->cur.comm = s.comm;
        p->cur.pid = s.pid;
        p->cur.tid = s.tid;
        p->cur.cpu = s.cpu;
        p->cur.time_ns = s.time_ns;
        p->cur.period = s.period;
        p->cur.event = s.event;
        p->cur.extra = s.extra;
        p->cur.flags = s.flags;
        return open_sample(p, b);
    }
    p->st.skipped++;
    return 0;
}

/* Parses the complete lines of [buf, buf+len); with final, the last line even without
 * '\n', and closes the open sample. *used gets the offset of the first byte not
 * parsed (the start of an incomplete last line). */
static int parse_text(ps_parser *p, const char *buf, size_t len, int final, size_t *used)
{
    const char *q = buf, *end = buf + len;
    int rc = 0;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl) {
            if (!final)
                break;
            nl = end;
        }
        rc = parse_line(p, q, nl);
        q = nl < end ? nl + 1 : end;
        if (rc)
            break;
    }
    p->st.bytes += (uint64_t)(q - buf);
    *used = (size_t)(q - buf);
    if (!rc && final)
        rc = close_sample(p);
    return rc;
}

int ps_parse_mem(ps_parser *p, const void *buf, size_t len)
{
    if (!len)
        buf = "";
    stream_reset(p);
    size_t used;
    int rc = parse_text(p, buf, len, 1, &used);
    stream_reset(p);
    return rc;
}

/* --- streaming over p->buf */

static void rebase_str(ps_str *s, const char *from, const char *to)
{
    if (s->p)
        s->p = to + (s->p - from);
}

/* The open sample's views point into [from, …) of the old buffer; they move to to. */
static void rebase(ps_parser *p, const char *from, const char *to)
{
    if (p->in_sample != 1)
        return;
    rebase_str(&p->cur.comm, from, to);
    rebase_str(&p->cur.event, from, to);
    rebase_str(&p->cur.extra, from, to);
    for (uint32_t i = 0; i < p->cur.nframes; i++) {
        rebase_str(&p->frames[i].sym, from, to);
        rebase_str(&p->frames[i].module, from, to);
    }
    p->sample_start = to + (p->sample_start - from);
    p->last_mod = NULL;
}

/* Makes room for p->room more bytes after keeping p->buf[keep..blen); parsing
 * resumes at `resume` (>= keep). */
static int compact(ps_parser *p, size_t keep, size_t resume)
{
    size_t n = p->blen - keep;
    size_t cap = p->bcap ? p->bcap : 2 * p->room;
    while (cap - n < p->room)
        cap *= 2;
    if (cap != p->bcap) {
        char *nb = malloc(cap);
        if (!nb)
            return -ENOMEM;
        if (p->buf) {
            if (n)
                memcpy(nb, p->buf + keep, n);
            rebase(p, p->buf + keep, nb);
            free(p->buf);
        }
        p->buf = nb;
        p->bcap = cap;
    } else if (keep) {
        memmove(p->buf, p->buf + keep, n);
        rebase(p, p->buf + keep, p->buf);
    }
    p->blen = n;
    p->bpos = resume - keep;
    return 0;
}

/* Parses what p->buf holds; keeps the tail still needed. */
static int stream_process(ps_parser *p, int final)
{
    size_t start = p->bpos;
    if (p->skip_long) {
        char *nl = memchr(p->buf + start, '\n', p->blen - start);
        if (!nl) {
            p->st.bytes += p->blen - start;
            p->blen = start;            /* drop it; what is kept stays */
            if (!final)
                return 0;
        } else {
            p->st.bytes += (size_t)(nl + 1 - (p->buf + start));
            start = (size_t)(nl + 1 - p->buf);
            p->skip_long = 0;
        }
    }
    size_t used;
    int rc = parse_text(p, p->buf + start, p->blen - start, final, &used);
    used += start;
    if (rc || final) {
        p->blen = p->bpos = 0;
        return rc;
    }
    size_t keep = used, resume = used;
    if (p->blen - used > p->o.max_line) {
        /* an over-long incomplete line: count it now, drop the rest as it comes */
        p->st.lines++;
        p->lineno++;
        p->st.long_lines++;
        p->st.skipped++;
        p->st.bytes += p->blen - used;
        p->skip_long = 1;
        p->blen = used;                 /* drop the partial line */
    }
    if (p->in_sample == 1) {
        size_t ss = (size_t)(p->sample_start - p->buf);
        if (keep - ss > MAX_SAMPLE_TEXT) {
            rc = deliver(p);        /* too big to keep: deliver it as it is */
            p->in_sample = 2;
            p->sample_start = NULL;
            if (rc)
                return rc;
        } else {
            keep = ss;
        }
    }
    return compact(p, keep, resume);
}

int ps_parser_feed(ps_parser *p, const void *data, size_t len)
{
    if (!len)
        return 0;
    const char *d = data;
    if (!p->room)
        p->room = FEED_CHUNK;
    if (!p->buf) {
        int rc = compact(p, 0, 0);
        if (rc)
            return rc;
    }
    while (len) {
        if (p->o.max_bytes && p->fed + len > p->o.max_bytes)
            return -EFBIG;
        size_t room = p->bcap - p->blen;
        size_t n = len < room ? len : room;
        memcpy(p->buf + p->blen, d, n);
        p->blen += n;
        p->fed += n;
        d += n;
        len -= n;
        if (p->bcap - p->blen < p->room / 2 || !len) {
            int rc = stream_process(p, 0);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int ps_parser_finish(ps_parser *p)
{
    int rc = p->buf ? stream_process(p, 1) : close_sample(p);
    stream_reset(p);
    return rc;
}

/* Reads all of gz through the streaming buffer. Takes ownership of gz. */
static int parse_gz(ps_parser *p, gzFile gz, char *err, size_t errlen)
{
    stream_reset(p);
    int rc = 0;
    p->room = READ_CHUNK;
    if ((rc = compact(p, 0, 0)) != 0) {
        gzclose(gz);
        return rc;
    }
    gzbuffer(gz, 256 * 1024);
    for (;;) {
        size_t room = p->bcap - p->blen;
        unsigned want = room > READ_CHUNK ? READ_CHUNK : (unsigned)room;
        int n = gzread(gz, p->buf + p->blen, want);
        int zerr = Z_OK;
        const char *zmsg = gzerror(gz, &zerr);
        if (n < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
            if (zerr == Z_ERRNO) {
                rc = errno ? -errno : -EIO;
                err_set(err, errlen, "read: %s", strerror(-rc));
            } else {
                rc = -FT_ERR_BAD_GZIP;
                err_set(err, errlen, "gzip: %s", zmsg ? zmsg : "corrupt data");
            }
            break;
        }
        if (n == 0) {
            if (zerr == Z_BUF_ERROR) {
                rc = -FT_ERR_BAD_GZIP;
                err_set(err, errlen, "gzip: %s", zmsg ? zmsg : "unexpected end of file");
                break;
            }
            rc = stream_process(p, 1);
            break;
        }
        p->blen += (size_t)n;
        p->fed += (size_t)n;
        if (p->o.max_bytes && p->fed > p->o.max_bytes) {
            rc = -EFBIG;
            err_set(err, errlen, "input larger than %" PRIu64 " bytes", p->o.max_bytes);
            break;
        }
        if ((rc = stream_process(p, 0)) != 0)
            break;
    }
    if (rc < 0 && rc != -FT_ERR_BAD_GZIP && rc != -EFBIG && err && errlen && !err[0])
        err_set(err, errlen, "%s", ft_strerror(rc));
    gzclose(gz);
    stream_reset(p);
    return rc;
}

/* Parses through zlib from fd, which it takes over (closed at the end). */
static int parse_owned_fd(ps_parser *p, int fd, char *err, size_t errlen)
{
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        err_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return parse_gz(p, gz, err, errlen);
}

int ps_parse_fd(ps_parser *p, int fd, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) {
        int e = errno;
        err_set(err, errlen, "dup: %s", strerror(e));
        return -e;
    }
    return parse_owned_fd(p, d, err, errlen);
}

/* Inflates (when gzip) or passes on what rd gives, into ps_parser_feed.  Several gzip
 * members follow each other; bytes after the last member that are not another member
 * end the input, as zlib's gzread does. */
int ps_parse_read(ps_parser *p, ps_read_fn rd, void *ctx, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    stream_reset(p);
    p->room = READ_CHUNK;
    enum { IN = 256 * 1024, OUT = 1024 * 1024 };
    unsigned char *in = malloc(IN), *out = malloc(OUT);
    z_stream z;
    memset(&z, 0, sizeof z);
    int rc = 0, gz = -1, zinit = 0, eof = 0, member_done = 0;
    size_t have = 0;
    if (!in || !out) {
        rc = -ENOMEM;
        goto done;
    }
    for (;;) {
        if (!eof && have < IN) {
            ssize_t n = rd(ctx, in + have, IN - have);
            if (n < 0) {
                rc = (int)n;
                err_set(err, errlen, "read: %s", ft_strerror(rc));
                goto done;
            }
            if (n == 0) eof = 1;
            have += (size_t)n;
        }
        if (gz < 0) {
            if (have < 2 && !eof) continue;
            gz = have >= 2 && in[0] == 0x1f && in[1] == 0x8b;
        }
        if (!gz) {
            if (have && (rc = ps_parser_feed(p, in, have)) != 0) goto fed;
            have = 0;
            if (eof) break;
            continue;
        }
        if (member_done) {                    /* another member, or the end */
            if (have < 2 && !eof) continue;
            if (have < 2 || in[0] != 0x1f || in[1] != 0x8b) break;
            inflateReset(&z);
            member_done = 0;
        }
        if (!zinit) {
            if (inflateInit2(&z, 15 + 16) != Z_OK) { rc = -ENOMEM; goto done; }
            zinit = 1;
        }
        z.next_in = in;
        z.avail_in = (uInt)have;
        do {
            z.next_out = out;
            z.avail_out = OUT;
            int zr = inflate(&z, Z_NO_FLUSH);
            if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
                rc = zr == Z_MEM_ERROR ? -ENOMEM : -FT_ERR_BAD_GZIP;
                err_set(err, errlen, "gzip: %s", z.msg ? z.msg : "corrupt data");
                goto done;
            }
            size_t got = OUT - z.avail_out;
            if (got && (rc = ps_parser_feed(p, out, got)) != 0) goto fed;
            if (zr == Z_STREAM_END) { member_done = 1; break; }
            if (zr == Z_BUF_ERROR && !got) break;
        } while (z.avail_in || !z.avail_out);
        memmove(in, z.next_in, z.avail_in);
        have = z.avail_in;
        if (eof && !member_done && z.avail_in == 0) {
            rc = -FT_ERR_BAD_GZIP;
            err_set(err, errlen, "gzip: unexpected end of file");
            goto done;
        }
        if (eof && member_done && have == 0) break;
    }
    rc = ps_parser_finish(p);
fed:
    if (rc == -EFBIG)
        err_set(err, errlen, "input larger than %" PRIu64 " bytes", p->o.max_bytes);
done:
    if (rc < 0 && err && errlen && !err[0])
        err_set(err, errlen, "%s", ft_strerror(rc));
    if (zinit) inflateEnd(&z);
    free(in);
    free(out);
    stream_reset(p);
    return rc;
}

int ps_parse_file(ps_parser *p, const char *path, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        err_set(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    return parse_owned_fd(p, fd, err, errlen);
}
