/* libFuzzer target for lib/perfscript.
 *
 * For any input:
 *   - the parser (from memory, with an interner) neither crashes nor leaks;
 *   - what it parsed, written back through the writer, parses again with no skipped
 *     line and writes back to the very same bytes (the writer's output is a fixed
 *     point of parse+write);
 *   - the streaming parser, fed in pieces whose sizes the input picks, with a small
 *     line limit, sees exactly what the in-memory parser sees with the same limit;
 *   - sniffing, header accessors, escaping and gzip prefix inflation do not crash,
 *     and unescape(escape(x)) == x. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perfscript.h"

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static int sink(void *ctx, const void *d, size_t n)
{
    buf *b = ctx;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return 0;
}

struct ctx {
    ps_writer *w;
};

static int on_sample(void *c, const ps_sample *s)
{
    struct ctx *x = c;
    for (uint32_t i = 0; i < s->nframes; i++)
        if (s->frames[i].sym.len > 1u << 20)
            abort();
    return ps_write_sample(x->w, s);
}

static int on_header(void *c, ps_str line, uint64_t lineno)
{
    struct ctx *x = c;
    ps_str k, v;
    ps_invocation inv;
    if (ps_header_kv(line, &k, &v) && (k.p < line.p || v.p + v.len > line.p + line.len))
        abort();
    if (ps_header_invocation(line, &inv)) {
        char tmp[256];
        ps_unescape(inv.id, tmp, sizeof(tmp));
        ps_unescape(inv.fn, tmp, sizeof(tmp));
        /* a tid is a thread or nothing, and it survives a write and a read */
        if ((inv.flags & PS_INV_TID) ? inv.tid <= 0 : inv.tid != 0)
            abort();
        buf one = { 0 };
        ps_writer *w = ps_writer_new(sink, &one);
        if (!w)
            abort();
        ps_write_invocation(w, &inv);
        ps_invocation back;
        if (ps_writer_close(w) == 0 && one.len &&
            (!ps_header_invocation((ps_str){ one.p, one.len - 1 }, &back) ||
             back.tid != inv.tid || (back.flags & PS_INV_TID) != (inv.flags & PS_INV_TID)))
            abort();
        free(one.p);
    }
    return ps_write_header_line(x->w, line);
}

/* Parses data (from memory, or streamed in pieces) and writes what it saw. */
static void parse_write(const uint8_t *data, size_t size, size_t max_line, strtab *t,
                        const uint8_t *pieces, size_t npieces, buf *out, ps_stats *st)
{
    struct ctx x = { .w = ps_writer_new(sink, out) };
    if (!x.w)
        abort();
    ps_parse_opts o = { .on_sample = on_sample, .on_header = on_header, .ctx = &x,
                        .strtab = t, .max_line = max_line, .max_frames = 64 };
    ps_parser *p = ps_parser_new(&o);
    if (!p)
        abort();
    int rc;
    if (!pieces) {
        rc = ps_parse_mem(p, data, size);
    } else {
        size_t off = 0, k = 0;
        rc = 0;
        while (off < size && !rc) {
            size_t n = 1 + (npieces ? pieces[k++ % npieces] : 7);
            if (n > size - off)
                n = size - off;
            rc = ps_parser_feed(p, data + off, n);
            off += n;
        }
        if (!rc)
            rc = ps_parser_finish(p);
    }
    if (rc)
        abort();
    *st = *ps_parser_stats(p);
    if (ps_writer_close(x.w) != 0)
        abort();
    ps_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* sniffing (gzip bodies are inflated and sniffed by collector/bodycheck) */
    ps_sniff(data, size);

    /* escaping round trip */
    size_t elen = ps_escape((ps_str){ (const char *)data, size }, NULL, 0, PS_ESC_SPACE);
    char *esc = malloc(elen + 1), *back = malloc(size + 1);
    if (!esc || !back)
        abort();
    ps_escape((ps_str){ (const char *)data, size }, esc, elen + 1, PS_ESC_SPACE);
    if (ps_unescape((ps_str){ esc, elen }, back, size + 1) != size ||
        memcmp(back, data, size) != 0)
        abort();
    free(esc);
    free(back);

    /* parse -> write is a fixed point after one round */
    strtab *t = strtab_new();
    buf out1 = { 0 }, out2 = { 0 };
    ps_stats st1, st2;
    parse_write(data, size, 1u << 20, t, NULL, 0, &out1, &st1);
    parse_write((const uint8_t *)out1.p, out1.len, 1u << 20, NULL, NULL, 0, &out2, &st2);
    if (st2.skipped != 0 || st2.samples != st1.samples || st2.frames != st1.frames ||
        st2.header_lines != st1.header_lines)
        abort();
    if (out1.len != out2.len || (out1.len && memcmp(out1.p, out2.p, out1.len) != 0))
        abort();

    /* streaming in pieces == memory, with a small line limit */
    buf m = { 0 }, s = { 0 };
    ps_stats sm, ss;
    size_t np = size < 16 ? size : 16;
    parse_write(data, size, 100, NULL, NULL, 0, &m, &sm);
    parse_write(data, size, 100, t, data, np, &s, &ss);
    if (m.len != s.len || (m.len && memcmp(m.p, s.p, m.len) != 0))
        abort();
    if (sm.samples != ss.samples || sm.frames != ss.frames || sm.skipped != ss.skipped ||
        sm.long_lines != ss.long_lines || sm.lines != ss.lines || sm.bytes != ss.bytes ||
        sm.bytes != size || sm.frames_dropped != ss.frames_dropped)
        abort();

    free(out1.p);
    free(out2.p);
    free(m.p);
    free(s.p);
    strtab_free(t);
    return 0;
}
