/* units — see units.h.  A number, then an optional suffix looked up in a small table;
 * multiplication is checked for overflow. */
#include "units.h"

#include <errno.h>
#include <stddef.h>
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

static const struct suffix duration_ms_tab[] = {
    { "ms", 1 }, { "", 1000 }, { "s", 1000 }, { "m", 60000 }, { "min", 60000 },
    { "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 }, { NULL, 0 },
};

int units_duration_ms(const char *s, int64_t *out)
{
    uint64_t v;
    int r = parse(s, duration_ms_tab, &v);
    if (r) return r;
    if (v > INT64_MAX) return -ERANGE;
    *out = (int64_t)v;
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
