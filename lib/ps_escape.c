/* ps_escape — the escaping of names in fntrace header lines (see perfscript.h "escaping"):
 * backslash, newline, CR, tab and \xHH, and the reverse.  Pure functions; thread-safe. */
#include "perfscript.h"
#include "ps_internal.h"

#include <stddef.h>

/* ------------------------------------------------------------------ escaping */


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
            PUT(ps_hexdig[c >> 4]);
            PUT(ps_hexdig[c & 15]);
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
