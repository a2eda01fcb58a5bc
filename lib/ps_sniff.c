/* ps_sniff — does the start of a body look like perf-script text (see perfscript.h
 * "sniffing")?  Pure function; thread-safe. */
#include "perfscript.h"
#include "ps_internal.h"

#include <stddef.h>
#include <string.h>

/* ------------------------------------------------------------------ sniffing */

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
