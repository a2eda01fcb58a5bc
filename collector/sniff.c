/* sniff — see sniff.h.  Yes when the text starts (after blank lines) with a "#" header
 * line, or its first data line looks like a perf event line ("comm pid[/tid] [cpu]
 * secs.usecs: ... event:"); no for NUL bytes, "#!" scripts and anything else. */
#include "sniff.h"

#include <string.h>

/* " 716.253785:" somewhere in the line */
static int has_timestamp(const char *l, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (l[i - 1] != ' ' || l[i] < '0' || l[i] > '9') continue;
        size_t j = i;
        while (j < n && l[j] >= '0' && l[j] <= '9') j++;
        if (j >= n || l[j] != '.') continue;
        size_t k = ++j;
        while (j < n && l[j] >= '0' && l[j] <= '9') j++;
        if (j > k && j < n && l[j] == ':') return 1;
    }
    return 0;
}

int sniff_perfscript(const void *data, size_t len)
{
    const char *b = data;
    if (len > SNIFF_MAX) len = SNIFF_MAX;
    if (!len || memchr(b, 0, len)) return 0;
    size_t i = 0;
    while (i < len && (b[i] == '\n' || b[i] == '\r')) i++;
    if (i == len) return 0;
    if (b[i] == '#') return !(i + 1 < len && b[i + 1] == '!');
    const char *nl = memchr(b + i, '\n', len - i);
    size_t n = nl ? (size_t)(nl - (b + i)) : len - i;
    return has_timestamp(b + i, n);
}
