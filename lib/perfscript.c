/* perfscript — parser, writer and sniffer of `perf script --header` text (contract in
 * perfscript.h and DESIGN.md "perf-script format").
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
#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define READ_CHUNK       (1u << 20)         /* bytes per read from a file */
#define FEED_CHUNK       (64u * 1024u)      /* buffer room kept free for feeds */
#define MAX_SAMPLE_TEXT  (4u << 20)         /* open-sample text kept while streaming */
#define WRITER_BUF       (64u * 1024u)

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

static inline int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static inline int is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static const signed char hexval_tab[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
    ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
    ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
    ['F'] = 16,
};

/* value of hex digit + 1, 0 when not a hex digit */
static inline int hexv(char c)
{
    return hexval_tab[(unsigned char)c];
}

/* Parses digits in [b, e) as an int32 with an optional leading '-'. */
static int parse_i32(const char *b, const char *e, int32_t *out)
{
    int neg = 0;
    if (b < e && *b == '-') {
        neg = 1;
        b++;
    }
    if (b >= e || e - b > 10)
        return 0;
    int64_t v = 0;
    for (; b < e; b++) {
        if (!is_digit(*b))
            return 0;
        v = v * 10 + (*b - '0');
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return 0;
    *out = (int32_t)v;
    return 1;
}

static int parse_u64(const char *b, const char *e, uint64_t *out)
{
    if (b >= e || e - b > 20)
        return 0;
    uint64_t v = 0;
    for (; b < e; b++) {
        if (!is_digit(*b))
            return 0;
        unsigned d = (unsigned)(*b - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* "SECS[.FRAC]" with 1..10 digits of seconds and 0..9 decimals -> ns, exact. */
static int parse_secs(const char *b, const char *e, uint64_t *ns)
{
    const char *dot = memchr(b, '.', (size_t)(e - b));
    const char *se = dot ? dot : e;
    if (se == b || se - b > 10)
        return 0;
    uint64_t s = 0;
    for (const char *q = b; q < se; q++) {
        if (!is_digit(*q))
            return 0;
        s = s * 10 + (uint64_t)(*q - '0');
    }
    uint64_t frac = 0;
    if (dot) {
        const char *fb = dot + 1;
        if (fb == e || e - fb > 9)
            return 0;
        int nd = 0;
        for (const char *q = fb; q < e; q++, nd++) {
            if (!is_digit(*q))
                return 0;
            frac = frac * 10 + (uint64_t)(*q - '0');
        }
        for (; nd < 9; nd++)
            frac *= 10;
    }
    *ns = s * PS_NSEC_PER_SEC + frac;
    return 1;
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

/* ------------------------------------------------------------------ header lines */

int ps_header_kv(ps_str line, ps_str *key, ps_str *value)
{
    if (!line.p || line.len < 2 || line.p[0] != '#')
        return 0;
    const char *b = line.p + 1, *e = line.p + line.len;
    while (b < e && is_ws(*b))
        b++;
    const char *colon = memchr(b, ':', (size_t)(e - b));
    if (!colon)
        return 0;
    const char *ke = colon;
    while (ke > b && is_ws(ke[-1]))
        ke--;
    if (ke == b)
        return 0;
    const char *v = colon + 1;
    if (v < e && *v == ' ')
        v++;
    *key = (ps_str){ b, (size_t)(ke - b) };
    *value = (ps_str){ v, (size_t)(e - v) };
    return 1;
}

int ps_header_invocation(ps_str line, ps_invocation *out)
{
    ps_str key, val;
    if (!ps_header_kv(line, &key, &val) || !ps_str_eqc(key, "fntrace invocation"))
        return 0;
    ps_invocation inv = { .status = 0 };
    int have = 0;
    const char *b = val.p, *e = val.p + val.len;
    while (b < e) {
        while (b < e && is_ws(*b))
            b++;
        const char *te = b;
        while (te < e && !is_ws(*te))
            te++;
        if (te == b)
            break;
        const char *eq = memchr(b, '=', (size_t)(te - b));
        if (eq) {
            ps_str k = { b, (size_t)(eq - b) }, v = { eq + 1, (size_t)(te - eq - 1) };
            if (ps_str_eqc(k, "id") && v.len) {
                inv.id = v;
                have |= 1;
            } else if (ps_str_eqc(k, "fn") && v.len) {
                inv.fn = v;
                have |= 2;
            } else if (ps_str_eqc(k, "start")) {
                if (!parse_secs(v.p, v.p + v.len, &inv.start_ns))
                    return 0;
                have |= 4;
            } else if (ps_str_eqc(k, "end")) {
                if (!parse_secs(v.p, v.p + v.len, &inv.end_ns))
                    return 0;
                inv.flags |= PS_INV_END;
            } else if (ps_str_eqc(k, "status")) {
                if (!parse_i32(v.p, v.p + v.len, &inv.status))
                    return 0;
                inv.flags |= PS_INV_STATUS;
            } else if (ps_str_eqc(k, "tid")) {
                int32_t tid;   /* a bad tid only loses the thread, not the invocation */
                if (parse_i32(v.p, v.p + v.len, &tid) && tid > 0) {
                    inv.tid = tid;
                    inv.flags |= PS_INV_TID;
                } else {
                    inv.tid = 0;
                    inv.flags &= ~(uint32_t)PS_INV_TID;
                }
            }
        }
        b = te;
    }
    if (have != 7)
        return 0;
    *out = inv;
    return 1;
}

/* ------------------------------------------------------------------ escaping */

static const char hexdig[] = "0123456789abcdef";

size_t ps_escape(ps_str s, char *out, size_t outcap, int flags)
{
    size_t n = 0;
#define PUT(ch)                                                                         \
    do {                                                                                \
        if (n + 1 < outcap)                                                             \
            out[n] = (ch);                                                              \
        n++;                                                                            \
    } while (0)
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '\\') {
            PUT('\\');
            PUT('\\');
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c == '\r') {
            PUT('\\');
            PUT('r');
        } else if (c == '\t') {
            PUT('\\');
            PUT('t');
        } else if (c < 0x20 || c == 0x7f || (c == ' ' && (flags & PS_ESC_SPACE))) {
            PUT('\\');
            PUT('x');
            PUT(hexdig[c >> 4]);
            PUT(hexdig[c & 15]);
        } else {
            PUT((char)c);
        }
    }
    if (outcap)
        out[n < outcap ? n : outcap - 1] = '\0';
    return n;
}

size_t ps_unescape(ps_str s, char *out, size_t outcap)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == '\\' && i + 1 < s.len) {
            char d = s.p[i + 1];
            if (d == '\\' || d == 'n' || d == 'r' || d == 't') {
                PUT(d == 'n' ? '\n' : d == 'r' ? '\r' : d == 't' ? '\t' : '\\');
                i++;
                continue;
            }
            if (d == 'x' && i + 3 < s.len && hexv(s.p[i + 2]) && hexv(s.p[i + 3])) {
                PUT((char)(((hexv(s.p[i + 2]) - 1) << 4) | (hexv(s.p[i + 3]) - 1)));
                i += 3;
                continue;
            }
        }
        PUT(c);
    }
#undef PUT
    if (outcap)
        out[n < outcap ? n : outcap - 1] = '\0';
    return n;
}

#define ESC_LINE 0x100   /* control characters only: keeps tabs and backslashes */

static inline int needs_escape(unsigned char c, int flags)
{
    if (flags & ESC_LINE)
        return (c < 0x20 && c != '\t') || c == 0x7f;
    return c < 0x20 || c == 0x7f || c == '\\' || (c == ' ' && (flags & PS_ESC_SPACE));
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
                rc = -EBADMSG;
                err_set(err, errlen, "gzip: %s", zmsg ? zmsg : "corrupt data");
            }
            break;
        }
        if (n == 0) {
            if (zerr == Z_BUF_ERROR) {
                rc = -EBADMSG;
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
    if (rc < 0 && rc != -EBADMSG && rc != -EFBIG && err && errlen && !err[0])
        err_set(err, errlen, "%s", strerror(-rc));
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
                err_set(err, errlen, "read: %s", strerror(-rc < 4000 ? -rc : EIO));
                goto done;
            }
            if (n == 0) eof = 1;
            have += (size_t)n;
        }
        if (gz < 0) {
            if (have < 2 && !eof) continue;
            gz = ps_is_gzip(in, have);
        }
        if (!gz) {
            if (have && (rc = ps_parser_feed(p, in, have)) != 0) goto fed;
            have = 0;
            if (eof) break;
            continue;
        }
        if (member_done) {                    /* another member, or the end */
            if (have < 2 && !eof) continue;
            if (!ps_is_gzip(in, have)) break;
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
                rc = zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
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
            rc = -EBADMSG;
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
        err_set(err, errlen, "%s", strerror(-rc < 4000 ? -rc : EIO));
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

static void fmt_frame(struct out *o, const ps_frame *f)
{
    out_printf(o, "\t%16" PRIx64 " ", f->addr);
    out_field(o, f->sym);
    if (f->flags & PS_FRAME_OFF)
        out_printf(o, "+0x%" PRIx64, f->off);
    if (f->flags & PS_FRAME_MODULE) {
        out_put(o, " (", 2);
        out_field(o, f->module);
        out_put(o, ")", 1);
    }
    out_put(o, "\n", 1);
}

size_t ps_format_event(const ps_sample *s, char *out, size_t outcap)
{
    struct out o = { out, outcap, 0 };
    fmt_event(&o, s);
    return out_end(&o);
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
    return ps_write_raw(w, "\n", 1);
}

/* ------------------------------------------------------------------ sniffing */

int ps_is_gzip(const void *buf, size_t len)
{
    const unsigned char *b = buf;
    return len >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 0x08;
}

static int starts_with(const char *b, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - b) >= n && memcmp(b, lit, n) == 0;
}

int ps_sniff(const void *data, size_t len)
{
    if (!data || !len)
        return 0;
    const char *b = data;
    if (len > PS_SNIFF_MAX)
        len = PS_SNIFF_MAX;
    const char *end = b + len;
    if (memchr(b, '\0', len))
        return 0;
    int first = 1;
    const char *q = b;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        const char *le = nl ? nl : end;
        const char *lb = q;
        q = nl ? nl + 1 : end;
        const char *t = lb;
        while (t < le && (is_ws(*t) || *t == '\r'))
            t++;
        if (t == le)
            continue;                           /* blank */
        if (*lb == '#') {
            if (first && starts_with(lb, le, "#!"))
                return 0;
            if (starts_with(lb, le, "# ========") || starts_with(lb, le, "# fntrace "))
                return 1;
            first = 0;
            continue;
        }
        first = 0;
        if (!nl)
            return 0;                           /* cut mid-line: cannot tell */
        const char *ev_end = le;
        if (ev_end > lb && ev_end[-1] == '\r')
            ev_end--;
        ps_sample s;
        if (!ps_parse_event_line((ps_str){ lb, (size_t)(ev_end - lb) }, &s))
            return 0;
        if (q == end)
            return 1;                           /* the event line ends the data */
        nl = memchr(q, '\n', (size_t)(end - q));
        le = nl ? nl : end;
        if (le > q && le[-1] == '\r')
            le--;
        t = q;
        while (t < le && is_ws(*t))
            t++;
        if (t == le)
            return 1;                           /* blank line: a sample without frames */
        ps_frame f;
        return t > q && ps_parse_frame_line((ps_str){ q, (size_t)(le - q) }, &f);
    }
    return 0;
}

long ps_gunzip_prefix(const void *gz, size_t len, void *out, size_t outcap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)gz;
    z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
    z.next_out = out;
    z.avail_out = outcap > UINT32_MAX ? UINT32_MAX : (uInt)outcap;
    long rc = 0;
    while (z.avail_out > 0 && z.avail_in > 0) {
        int r = inflate(&z, Z_SYNC_FLUSH);
        if (r == Z_STREAM_END) {
            if (z.avail_in == 0 || inflateReset(&z) != Z_OK)
                break;
            continue;
        }
        if (r == Z_BUF_ERROR)
            break;
        if (r != Z_OK) {
            if (z.total_out == 0 && (outcap - z.avail_out) == 0)
                rc = -EBADMSG;
            break;
        }
    }
    if (rc == 0)
        rc = (long)(outcap - z.avail_out);
    inflateEnd(&z);
    return rc;
}

int ps_sniff_body(const void *buf, size_t len)
{
    if (!ps_is_gzip(buf, len))
        return ps_sniff(buf, len);
    char text[PS_SNIFF_MAX];
    long n = ps_gunzip_prefix(buf, len, text, sizeof(text));
    return n > 0 && ps_sniff(text, (size_t)n);
}
