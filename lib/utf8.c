/* utf8 — see utf8.h.  The decoder follows the well-formed byte sequences of Unicode's
 * table 3-7: the second byte's range depends on the first (E0, ED, F0, F4). */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

size_t utf8_seq(const unsigned char *s, size_t len)
{
    if (!len) return 0;
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;      /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;      /* up to U+10FFFF */
    } else return 0;
    if (len < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

int utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) { i++; continue; }
        size_t n = utf8_seq(p + i, len - i);
        if (!n) return 0;
        i += n;
    }
    return 1;
}

size_t utf8_cut(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    /* back over at most 3 continuation bytes to the lead byte of the last character */
    size_t i = len, k = 0;
    while (i > 0 && k < 3 && (p[i - 1] & 0xc0) == 0x80) { i--; k++; }
    if (i == 0) return len;
    unsigned char c = p[i - 1];
    size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (c >= 0x80 && k + 1 < need) return i - 1;       /* the last character is cut */
    return len;
}

char *utf8_fix_owned(char *s, size_t *len)
{
    if (!s || utf8_valid(s, *len)) return s;
    char *t = utf8_fix(s, *len, len);
    free(s);
    return t;
}

char *utf8_fix(const char *s, size_t len, size_t *outlen)
{
    /* each invalid byte may become 3 bytes */
    if (len > ((size_t)-1 - 1) / 3) return NULL;
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) { out[o++] = (char)p[i++]; continue; }
        size_t n = utf8_seq(p + i, len - i);
        if (n) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    if (outlen) *outlen = o;
    return out;
}
