/* ps_internal — what the perfscript modules share and nobody else sees: the byte
 * classes and number parsers of the format (inline: the parser's hot path uses them),
 * and the escaping rules the writer applies.  Not installed, not for other modules.
 *
 * The perfscript library behind perfscript.h is cut along its seams:
 *   perfscript.c  the parser: event and frame lines, samples, streaming, gzip files
 *   ps_header.c   header lines: `# key : value`, `# fntrace invocation : ...`
 *   ps_escape.c   escaping of names in header lines
 *   ps_write.c    the writer: samples, header lines, fntrace lines
 *   ps_sniff.c    does a body look like perf-script text? */
#ifndef FNTRACE_PS_INTERNAL_H
#define FNTRACE_PS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "perfscript.h"

static const char ps_hexdig[] = "0123456789abcdef";

static inline int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* 32 lower-case hex digits, not all zero: a W3C trace id (the trace_id= of invocations) */
static inline int ps_is_trace_id(ps_str v)
{
    int nonzero = 0;
    if (v.len != 32)
        return 0;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        nonzero |= c != '0';
    }
    return nonzero;
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
static inline int parse_i32(const char *b, const char *e, int32_t *out)
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

static inline int parse_u64(const char *b, const char *e, uint64_t *out)
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
static inline int parse_secs(const char *b, const char *e, uint64_t *ns)
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

#define ESC_LINE 0x100   /* control characters only: keeps tabs and backslashes */

static inline int needs_escape(unsigned char c, int flags)
{
    if (flags & ESC_LINE)
        return (c < 0x20 && c != '\t') || c == 0x7f;
    return c < 0x20 || c == 0x7f || c == '\\' || (c == ' ' && (flags & PS_ESC_SPACE));
}

#endif
