/* tracename — see tracename.h. */
#include "tracename.h"

#include "errbuf.h"
#include "fterr.h"

#include <string.h>

_Static_assert(TRACE_NAME_MAX == 128, "TRACE_NAME_RULE states the limit: change both");

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

int trace_name_valid_n(const char *name, size_t len)
{
    if (!name || len < 1 || len > TRACE_NAME_MAX || name[0] == '.') return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char(name[i])) return 0;     /* a NUL inside is not a name char */
    return 1;
}

int trace_name_valid(const char *name)
{
    return name && trace_name_valid_n(name, strnlen(name, TRACE_NAME_MAX + 1));
}

int trace_name_error(char *err, size_t errlen, const char *what, const char *name, size_t len)
{
    char shown[48];
    size_t j = 0;
    for (size_t i = 0; name && i < len && j + 4 < sizeof shown; i++) {
        unsigned char ch = (unsigned char)name[i];
        shown[j++] = ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '?';
    }
    if (name && j + 4 >= sizeof shown && j < len) {
        shown[j++] = '.';
        shown[j++] = '.';
        shown[j++] = '.';
    }
    shown[j] = 0;
    err_set(err, errlen, "%s \"%s\" is not a valid trace name: use " TRACE_NAME_RULE,
            what ? what : "trace name", shown);
    return -FT_ERR_BAD_NAME;
}

void trace_name_sanitize(const char *in, const char *fallback, char *out, size_t outlen)
{
    if (!outlen) return;
    size_t o = 0, max = outlen - 1 < TRACE_NAME_MAX ? outlen - 1 : TRACE_NAME_MAX;
    for (const char *p = in ? in : ""; *p && o < max; p++) {
        int ok = name_char(*p);
        if (!o && (*p == '.' || *p == '_' || !ok)) continue;   /* no leading dot */
        out[o++] = ok ? *p : '_';
    }
    out[o] = 0;
    if (!o && fallback && fallback != in) trace_name_sanitize(fallback, NULL, out, outlen);
    if (!out[0] && outlen >= 8) memcpy(out, "unknown", 8);
}
