/* sbuf — see sbuf.h. */
#include "sbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void sbuf_init(sbuf *b) { memset(b, 0, sizeof *b); }

void sbuf_free(sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int sbuf_failed(const sbuf *b) { return b->failed; }

/* Large buffers (a whole-profile flame graph is tens of MB) ask for transparent huge
 * pages: one page fault per 2 MiB instead of one per 4 KiB as the reply is written. */
#define HUGE_PAGE (2u << 20)
static void *grow(void *old, size_t cap)
{
    if (cap < 2 * HUGE_PAGE)
        return realloc(old, cap);
    void *p = old ? realloc(old, cap) : aligned_alloc(HUGE_PAGE, cap);
    if (p) {
        uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
        uintptr_t e = ((uintptr_t)p + cap) & ~(uintptr_t)(HUGE_PAGE - 1);
        if (e > a)
            madvise((void *)a, e - a, MADV_HUGEPAGE);   /* advice only: errors ignored */
    }
    return p;
}

char *sbuf_reserve(sbuf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = 1;
                return NULL;
            }
            cap *= 2;
        }
        char *p = grow(b->p, cap);
        if (!p) {
            b->failed = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

void sbuf_add(sbuf *b, const void *data, size_t len)
{
    char *d = sbuf_reserve(b, len);
    if (!d)
        return;
    memcpy(d, data, len);
    b->len += len;
}

void sbuf_adds(sbuf *b, const char *s) { sbuf_add(b, s, strlen(s)); }

void sbuf_addc(sbuf *b, char c)
{
    char *d = sbuf_reserve(b, 1);
    if (d) {
        *d = c;
        b->len++;
    }
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    char *d = sbuf_reserve(b, (size_t)n);
    if (!d)
        return;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sbuf_u64(sbuf *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sbuf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

void sbuf_i64(sbuf *b, int64_t v)
{
    if (v < 0) {
        sbuf_addc(b, '-');
        sbuf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        sbuf_u64(b, (uint64_t)v);
    }
}

size_t sbuf_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void sbuf_add_utf8(sbuf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t l = sbuf_utf8_len((const unsigned char *)s + i, len - i);
        if (l == 0) {
            sbuf_add(b, "\xef\xbf\xbd", 3);
            i++;
            continue;
        }
        size_t j = i + l;     /* copy runs of valid text at once */
        while (j < len && (l = sbuf_utf8_len((const unsigned char *)s + j, len - j)))
            j += l;
        sbuf_add(b, s + i, j - i);
        i = j;
    }
}

void sbuf_json_str(sbuf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    /* worst case: every byte becomes \ufffd (6 bytes) */
    if (len > (SIZE_MAX - 2) / 6) {
        b->failed = 1;
        return;
    }
    char *d = sbuf_reserve(b, len * 6 + 2);
    if (!d)
        return;
    char *o = d;
    *o++ = '"';
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            switch (c) {
            case '\n': *o++ = '\\'; *o++ = 'n'; break;
            case '\t': *o++ = '\\'; *o++ = 't'; break;
            case '\r': *o++ = '\\'; *o++ = 'r'; break;
            default:
                memcpy(o, "\\u00", 4);
                o += 4;
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
            i++;
            continue;
        }
        size_t l = sbuf_utf8_len(s + i, len - i);
        if (l == 0) {
            memcpy(o, "\\ufffd", 6);
            o += 6;
            i++;
        } else {
            memcpy(o, s + i, l);
            o += l;
            i += l;
        }
    }
    *o++ = '"';
    b->len += (size_t)(o - d);
}

void sbuf_pyfloat(sbuf *b, double v)
{
    char tmp[80];
    if (isnan(v)) {
        sbuf_adds(b, "NaN");
        return;
    }
    if (isinf(v)) {
        sbuf_adds(b, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* Python repr: plain notation for 1e-4 <= |v| < 1e16, with ".0" for integers */
    double a = fabs(v);
    if (a != 0 && (a < 1e-4 || a >= 1e16)) {
        sbuf_adds(b, tmp);
        return;
    }
    if (strchr(tmp, 'e')) {
        /* %g chose an exponent that Python would not: print positionally */
        char alt[72];
        for (int prec = 0; prec <= 20; prec++) {
            snprintf(alt, sizeof alt, "%.*f", prec, v);
            if (strtod(alt, NULL) == v)
                break;
        }
        snprintf(tmp, sizeof tmp, "%s", alt);
    }
    sbuf_adds(b, tmp);
    if (!strchr(tmp, '.'))
        sbuf_adds(b, ".0");
}

char *sbuf_take(sbuf *b, size_t *len)
{
    if (!sbuf_reserve(b, 0)) {
        sbuf_free(b);
        return NULL;
    }
    b->p[b->len] = 0;
    char *p = b->p;
    if (len)
        *len = b->len;
    memset(b, 0, sizeof *b);
    return p;
}
