/* units — see units.h.  A number, then an optional suffix looked up in a small table;
 * multiplication is checked for overflow. */
#include "units.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct suffix { const char *s; uint64_t mul; };

/* Reads the leading decimal digits of s into *n; returns the rest or NULL on error. */
static const char *parse_digits(const char *s, uint64_t *n, int *err)
{
    *n = 0;
    *err = -EINVAL;
    if (!s || *s < '0' || *s > '9') return NULL;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (*n > (UINT64_MAX - d) / 10) { *err = -ERANGE; return NULL; }
        *n = *n * 10 + d;
    }
    *err = 0;
    return s;
}

static int parse(const char *s, const struct suffix *tab, uint64_t *out)
{
    uint64_t n;
    int err;
    const char *rest = parse_digits(s, &n, &err);
    if (!rest) return err;
    for (const struct suffix *t = tab; t->s; t++) {
        if (strcasecmp(rest, t->s)) continue;
        if (t->mul && n > UINT64_MAX / t->mul) return -ERANGE;
        *out = n * t->mul;
        return 0;
    }
    return -EINVAL;
}

int units_size(const char *s, uint64_t *out)
{
    static const struct suffix tab[] = {
        { "", 1 }, { "b", 1 },
        { "k", 1ull << 10 }, { "kb", 1ull << 10 }, { "kib", 1ull << 10 },
        { "m", 1ull << 20 }, { "mb", 1ull << 20 }, { "mib", 1ull << 20 },
        { "g", 1ull << 30 }, { "gb", 1ull << 30 }, { "gib", 1ull << 30 },
        { "t", 1ull << 40 }, { "tb", 1ull << 40 }, { "tib", 1ull << 40 },
        { NULL, 0 },
    };
    return parse(s, tab, out);
}

/* The one duration table, in microseconds: every duration the project reads (CLI
 * options, OpenFaaS watchdog variables, FNTRACE_WINDOW) goes through it. */
static const struct suffix duration_us_tab[] = {
    { "us", 1 }, { "\xc2\xb5s", 1 }, { "ms", 1000 }, { "", 1000000 }, { "s", 1000000 },
    { "m", 60000000ull }, { "min", 60000000ull }, { "h", 3600000000ull },
    { "d", 86400000000ull }, { "w", 604800000000ull }, { NULL, 0 },
};

int units_duration_ms(const char *s, int64_t *out)
{
    uint64_t us;
    int r = parse(s, duration_us_tab, &us);
    if (r) return r;
    if (us % 1000) return -EINVAL;        /* "1500us" is not a whole number of ms */
    if (us / 1000 > INT64_MAX) return -ERANGE;
    *out = (int64_t)(us / 1000);
    return 0;
}

int units_duration_s(const char *s, int64_t *out)
{
    int64_t ms;
    int r = units_duration_ms(s, &ms);
    if (r) return r;
    if (ms % 1000) return -EINVAL;        /* "1500ms" is not a whole number of seconds */
    *out = ms / 1000;
    return 0;
}

int units_seconds(const char *s, double *out)
{
    uint64_t whole, frac = 0, scale = 1;
    int err;
    const char *rest = parse_digits(s, &whole, &err);
    if (!rest) return err;
    if (*rest == '.') {
        rest++;
        if (*rest < '0' || *rest > '9') return -EINVAL;
        for (; *rest >= '0' && *rest <= '9'; rest++)
            if (scale < 1000000000ull) { frac = frac * 10 + (uint64_t)(*rest - '0'); scale *= 10; }
    }
    for (const struct suffix *t = duration_us_tab; t->s; t++) {
        if (strcasecmp(rest, t->s)) continue;
        if (whole > UINT64_MAX / t->mul) return -ERANGE;
        *out = ((double)whole + (double)frac / (double)scale) * (double)t->mul / 1e6;
        return 0;
    }
    return -EINVAL;
}

int units_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;
    int err;
    const char *rest = parse_digits(s, &v, &err);
    if (!rest) return err;
    if (*rest) return -EINVAL;
    if (v > max) return -ERANGE;
    *out = v;
    return 0;
}

char *units_format_ns(uint64_t ns, char *buf, size_t len)
{
    if (!buf || !len)
        return buf;
    if (ns < 1000)
        snprintf(buf, len, "%llu ns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.1f \u00b5s", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    return buf;
}

size_t units_u64(uint64_t v, int width, char *buf)
{
    char tmp[UNITS_U64_MAX];
    size_t i = sizeof tmp;
    if (width > (int)sizeof tmp - 1) width = (int)sizeof tmp - 1;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while ((int)(sizeof tmp - i) < width) tmp[--i] = '0';
    size_t n = sizeof tmp - i;
    memcpy(buf, tmp + i, n);
    buf[n] = 0;
    return n;
}
