/* azxml — see azxml.h.  One pass over the bytes: a stack of element names (depth at
 * most 16, names at most 63 bytes), the text of the innermost element gathered into a
 * fixed buffer (entities decoded), and the fields of the blob being read. */
#include "azxml.h"
#include "errbuf.h"
#include "fterr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 16
#define ELEM_MAX 63

struct px {
    const char *p, *end;
    char stack[DEPTH_MAX][ELEM_MAX + 1];
    int depth;
    char text[AZXML_TEXT_MAX + 1];
    size_t tlen;
    int text_over;
    struct azxml_blob blob;
    int in_blob, blob_encoded;
    char *next_marker;
    size_t nmlen;
    char *err;
    size_t errlen;
};

static int fail(struct px *x, const char *what)
{
    err_set(x->err, x->errlen, "bad List Blobs answer: %s", what);
    return -FT_ERR_BAD_INPUT;
}

static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':';
}

static void text_put(struct px *x, const char *s, size_t n)
{
    if (x->tlen + n > AZXML_TEXT_MAX) { x->text_over = 1; return; }
    memcpy(x->text + x->tlen, s, n);
    x->tlen += n;
}

/* Appends code point cp as UTF-8. */
static int text_cp(struct px *x, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) {
        b[0] = (char)(0xc0 | cp >> 6); b[1] = (char)(0x80 | (cp & 0x3f)); n = 2;
    }
    else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | cp >> 12); b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f)); n = 3;
    } else {
        b[0] = (char)(0xf0 | cp >> 18); b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); b[3] = (char)(0x80 | (cp & 0x3f)); n = 4;
    }
    text_put(x, b, n);
    return 0;
}

/* Text up to the next '<', entities decoded. */
static int read_text(struct px *x)
{
    while (x->p < x->end && *x->p != '<') {
        if (*x->p != '&') {
            const char *s = x->p;
            while (x->p < x->end && *x->p != '<' && *x->p != '&') x->p++;
            text_put(x, s, (size_t)(x->p - s));
            continue;
        }
        size_t left = (size_t)(x->end - x->p);
        const char *semi = memchr(x->p, ';', left < 12 ? left : 12);
        if (!semi) return fail(x, "an unterminated entity");
        const char *e = x->p + 1;
        size_t n = (size_t)(semi - e);
        static const struct { const char *name; char c; } ents[] = {
            { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
        };
        int done = 0;
        for (size_t i = 0; i < sizeof ents / sizeof ents[0] && !done; i++)
            if (strlen(ents[i].name) == n && !memcmp(e, ents[i].name, n)) {
                text_put(x, &ents[i].c, 1);
                done = 1;
            }
        if (!done) {
            if (n < 2 || e[0] != '#') return fail(x, "an unknown entity");
            int hex = e[1] == 'x';
            const char *d = e + 1 + hex;
            if (d >= semi) return fail(x, "an empty character reference");
            unsigned long cp = 0;
            for (; d < semi; d++) {
                int v = *d >= '0' && *d <= '9' ? *d - '0'
                      : hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
                      : hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10 : -1;
                if (v < 0) return fail(x, "a bad character reference");
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                if (cp > 0x10ffff) return fail(x, "a character reference out of range");
            }
            if (text_cp(x, cp)) return fail(x, "a character reference out of range");
        }
        x->p = semi + 1;
    }
    return 0;
}

static int skip_past(struct px *x, const char *needle)
{
    size_t n = strlen(needle);
    while (x->p + n <= x->end) {
        if (!memcmp(x->p, needle, n)) { x->p += n; return 0; }
        x->p++;
    }
    return fail(x, "an unterminated declaration or comment");
}

static void skip_space(struct px *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\r' || *x->p == '\n'))
        x->p++;
}

static int path_is(const struct px *x, const char *const *names, int n)
{
    if (x->depth != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(x->stack[i], names[i])) return 0;
    return 1;
}

/* The element x->stack[depth-1] closes with x->text as its text. */
static int on_close(struct px *x, azxml_blob_fn fn, void *ctx)
{
    static const char *const p_blob[] = { "EnumerationResults", "Blobs", "Blob" };
    static const char *const p_next[] = { "EnumerationResults", "NextMarker" };
    const char *top = x->stack[x->depth - 1];
    x->text[x->tlen] = 0;
    if (x->in_blob && x->depth == 4 && !strcmp(x->stack[2], "Blob") && !strcmp(top, "Name")) {
        if (x->text_over) return fail(x, "a blob name too long");
        memcpy(x->blob.name, x->text, x->tlen + 1);
    } else if (x->in_blob && x->depth == 5 && !strcmp(x->stack[3], "Properties")) {
        if (!strcmp(top, "Content-Length")) {
            char *end;
            if (!x->tlen || x->text[0] < '0' || x->text[0] > '9')
                return fail(x, "a bad Content-Length");
            unsigned long long v = strtoull(x->text, &end, 10);
            if (*end || v > (1ull << 62)) return fail(x, "a bad Content-Length");
            x->blob.content_length = v;
            x->blob.have_length = 1;
        } else if (!strcmp(top, "Etag")) {
            if (x->tlen >= sizeof x->blob.etag) return fail(x, "an Etag too long");
            memcpy(x->blob.etag, x->text, x->tlen + 1);
        } else if (!strcmp(top, "Last-Modified")) {
            if (x->tlen >= sizeof x->blob.last_modified) return fail(x, "a Last-Modified too long");
            memcpy(x->blob.last_modified, x->text, x->tlen + 1);
        }
    } else if (path_is(x, p_blob, 3)) {
        x->in_blob = 0;
        if (!x->blob_encoded && x->blob.name[0]) {
            int r = fn(ctx, &x->blob);
            if (r) return r;
        }
    } else if (path_is(x, p_next, 2) && x->next_marker) {
        if (x->tlen >= x->nmlen) return fail(x, "a NextMarker too long");
        memcpy(x->next_marker, x->text, x->tlen + 1);
    }
    return 0;
}

/* After '<' of a start tag: name, attributes, '>' or "/>". */
static int start_tag(struct px *x, azxml_blob_fn fn, void *ctx)
{
    static const char *const p_blob[] = { "EnumerationResults", "Blobs", "Blob" };
    const char *s = x->p;
    while (x->p < x->end && is_name_char((unsigned char)*x->p)) x->p++;
    size_t n = (size_t)(x->p - s);
    if (!n || n > ELEM_MAX) return fail(x, "a bad element name");
    if (x->depth >= DEPTH_MAX) return fail(x, "elements nested too deep");
    if (x->depth == 0 && (n != 18 || memcmp(s, "EnumerationResults", 18)))
        return fail(x, "not an EnumerationResults document");
    memcpy(x->stack[x->depth], s, n);
    x->stack[x->depth][n] = 0;
    x->depth++;
    int encoded = 0;
    for (;;) {                                   /* attributes */
        skip_space(x);
        if (x->p >= x->end) return fail(x, "an unterminated tag");
        if (*x->p == '>' || *x->p == '/') break;
        const char *an = x->p;
        while (x->p < x->end && is_name_char((unsigned char)*x->p)) x->p++;
        size_t anl = (size_t)(x->p - an);
        if (!anl || x->p + 2 > x->end || *x->p != '=' || (x->p[1] != '"' && x->p[1] != '\''))
            return fail(x, "a bad attribute");
        char q = x->p[1];
        x->p += 2;
        const char *av = x->p;
        while (x->p < x->end && *x->p != q && *x->p != '<') x->p++;
        if (x->p >= x->end || *x->p != q) return fail(x, "an unterminated attribute");
        if (anl == 7 && !memcmp(an, "Encoded", 7) && x->p - av == 4 && !memcmp(av, "true", 4))
            encoded = 1;
        x->p++;
    }
    if (path_is(x, p_blob, 3)) {
        memset(&x->blob, 0, sizeof x->blob);
        x->in_blob = 1;
        x->blob_encoded = 0;
    }
    if (encoded && x->in_blob && x->depth == 4) x->blob_encoded = 1;
    x->tlen = 0;
    x->text_over = 0;
    if (*x->p == '/') {                          /* <Empty/> */
        if (x->p + 1 >= x->end || x->p[1] != '>') return fail(x, "a bad empty element");
        x->p += 2;
        int r = on_close(x, fn, ctx);
        x->depth--;
        return r;
    }
    x->p++;
    return 0;
}

static int end_tag(struct px *x, azxml_blob_fn fn, void *ctx)
{
    const char *s = x->p;
    while (x->p < x->end && is_name_char((unsigned char)*x->p)) x->p++;
    size_t n = (size_t)(x->p - s);
    skip_space(x);
    if (x->p >= x->end || *x->p != '>') return fail(x, "an unterminated end tag");
    x->p++;
    if (!x->depth || strlen(x->stack[x->depth - 1]) != n || memcmp(x->stack[x->depth - 1], s, n))
        return fail(x, "mismatched end tag");
    int r = on_close(x, fn, ctx);
    x->depth--;
    x->tlen = 0;
    x->text_over = 0;
    return r;
}

int azxml_list_parse(const char *xml, size_t len, azxml_blob_fn fn, void *ctx,
                     char *next_marker, size_t nmlen, char *err, size_t errlen)
{
    struct px *x = calloc(1, sizeof *x);
    if (!x) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    x->p = xml;
    x->end = xml + len;
    x->next_marker = next_marker;
    x->nmlen = nmlen;
    x->err = err;
    x->errlen = errlen;
    if (next_marker && nmlen) next_marker[0] = 0;
    /* a UTF-8 byte order mark may lead */
    if (len >= 3 && !memcmp(xml, "\xef\xbb\xbf", 3)) x->p += 3;
    int r = 0, seen_root = 0;
    while (!r && x->p < x->end) {
        if (*x->p != '<') {
            if (x->depth == 0) {               /* only white space outside the root */
                if (*x->p != ' ' && *x->p != '\t' && *x->p != '\r' && *x->p != '\n') {
                    r = fail(x, "text outside the document element");
                    break;
                }
                x->p++;
                continue;
            }
            r = read_text(x);
            continue;
        }
        x->p++;
        if (x->p >= x->end) { r = fail(x, "a lone '<'"); break; }
        if (*x->p == '?')
            r = x->depth || seen_root ? fail(x, "a misplaced declaration") : skip_past(x, "?>");
        else if (x->end - x->p >= 3 && !memcmp(x->p, "!--", 3)) r = skip_past(x, "-->");
        else if (*x->p == '!') r = fail(x, "a DOCTYPE or CDATA section");
        else if (*x->p == '/') { x->p++; r = end_tag(x, fn, ctx); }
        else if (seen_root && x->depth == 0) r = fail(x, "a second document element");
        else { seen_root = 1; r = start_tag(x, fn, ctx); }
    }
    if (!r && (x->depth || !seen_root)) r = fail(x, "the document ends early");
    free(x);
    return r;
}
