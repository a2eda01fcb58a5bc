/* bodycheck — see bodycheck.h.  The body goes through take_text() as text: directly when
 * plain, through inflate() into a fixed buffer when gzip.  The first PS_SNIFF_MAX bytes of
 * text are kept and given to ps_sniff() (lib/perfscript) once there are that many (or at
 * the end).  A gzip body is complete when its last member ended (Z_STREAM_END) and no
 * partial member follows; several members back to back (`cat a.gz b.gz`) are fine. */
#include "bodycheck.h"
#include "fterr.h"
#include "perfscript.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define OUT_SIZE (64 * 1024)

struct bodycheck {
    int declared_gzip;
    enum bodycheck_mode mode;
    int verdict;                 /* sticky once not 0: a negative fterr code */
    unsigned char head[2];       /* the first byte, while the mode is unknown */
    size_t head_len;
    z_stream z;
    int z_init;
    int member_ended;            /* the current gzip member is complete */
    uint64_t text_bytes;
    uint64_t max_text;           /* 0: no limit on the inflated size */
    int sniffed;
    size_t sniff_len;
    char sniff[PS_SNIFF_MAX];
    unsigned char out[OUT_SIZE];
};

struct bodycheck *bodycheck_new(int declared_gzip)
{
    struct bodycheck *bc = malloc(sizeof *bc);
    if (!bc) return NULL;
    memset(bc, 0, offsetof(struct bodycheck, sniff));
    bc->declared_gzip = declared_gzip;
    return bc;
}

void bodycheck_free(struct bodycheck *bc)
{
    if (!bc) return;
    if (bc->z_init) inflateEnd(&bc->z);
    free(bc);
}

enum bodycheck_mode bodycheck_mode(const struct bodycheck *bc) { return bc->mode; }
uint64_t bodycheck_text_bytes(const struct bodycheck *bc) { return bc->text_bytes; }

static int fail(struct bodycheck *bc, int verdict, char *err, size_t errlen, const char *msg)
{
    bc->verdict = verdict;
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return verdict;
}

static int not_perf(struct bodycheck *bc, char *err, size_t errlen)
{
    return fail(bc, -FT_ERR_BODY_TYPE, err, errlen,
                bc->mode == BODY_GZIP
                ? "body is gzip, but not of perf script text (expected `perf script` output)"
                : "body is not perf script text (expected `perf script` output, plain or gzip)");
}

void bodycheck_set_max_text(struct bodycheck *bc, uint64_t max) { bc->max_text = max; }

static int take_text(struct bodycheck *bc, const void *data, size_t len, char *err, size_t errlen)
{
    bc->text_bytes += len;
    if (bc->max_text && bc->text_bytes > bc->max_text) {
        char msg[160];
        snprintf(msg, sizeof msg, "gzip body inflates to more than %llu bytes (--max-inflated)",
                 (unsigned long long)bc->max_text);
        return fail(bc, -FT_ERR_TOO_LARGE, err, errlen, msg);
    }
    if (bc->sniffed || !len) return 0;
    size_t n = PS_SNIFF_MAX - bc->sniff_len;
    if (n > len) n = len;
    memcpy(bc->sniff + bc->sniff_len, data, n);
    bc->sniff_len += n;
    if (bc->sniff_len < PS_SNIFF_MAX) return 0;
    bc->sniffed = 1;
    return ps_sniff(bc->sniff, bc->sniff_len) ? 0 : not_perf(bc, err, errlen);
}

static int bad_gzip(struct bodycheck *bc, char *err, size_t errlen)
{
    char msg[256];
    snprintf(msg, sizeof msg, "body is not valid gzip: %s",
             bc->z.msg ? bc->z.msg : "corrupt stream");
    return fail(bc, -FT_ERR_BODY_GZIP, err, errlen, msg);
}

static int take_gzip(struct bodycheck *bc, const unsigned char *data, size_t len,
                     char *err, size_t errlen)
{
    z_stream *z = &bc->z;
    while (len) {
        /* avail_in is 32 bits: feed big chunks in slices */
        uInt slice = len > (1u << 30) ? (1u << 30) : (uInt)len;
        z->next_in = (Bytef *)data;
        z->avail_in = slice;
        do {
            if (bc->member_ended) {         /* another member follows, if any input is left */
                if (!z->avail_in) break;
                if (inflateReset(z) != Z_OK) return bad_gzip(bc, err, errlen);
                bc->member_ended = 0;
            }
            z->next_out = bc->out;
            z->avail_out = OUT_SIZE;
            int r = inflate(z, Z_NO_FLUSH);
            int v = take_text(bc, bc->out, OUT_SIZE - z->avail_out, err, errlen);
            if (v) return v;
            if (r == Z_STREAM_END) { bc->member_ended = 1; continue; }
            if (r == Z_BUF_ERROR) break;    /* needs more input */
            if (r != Z_OK) return bad_gzip(bc, err, errlen);
        } while (z->avail_in > 0 || z->avail_out == 0);
        data += slice;
        len -= slice;
    }
    return 0;
}

static int take(struct bodycheck *bc, const unsigned char *data, size_t len,
                char *err, size_t errlen)
{
    if (bc->mode == BODY_GZIP) return take_gzip(bc, data, len, err, errlen);
    return take_text(bc, data, len, err, errlen);
}

/* Decides plain or gzip from the first bytes (first[0..n), n is 1 only at the end). */
static int decide(struct bodycheck *bc, const unsigned char *first, size_t n,
                  char *err, size_t errlen)
{
    int magic = n >= 2 && first[0] == 0x1f && first[1] == 0x8b;
    if (bc->declared_gzip && !magic)
        return fail(bc, -FT_ERR_BODY_GZIP, err, errlen,
                    "Content-Encoding is gzip but the body is not gzip");
    if (!magic) { bc->mode = BODY_PLAIN; return 0; }
    if (inflateInit2(&bc->z, 16 + MAX_WBITS) != Z_OK)
        return fail(bc, -ENOMEM, err, errlen, "out of memory");
    bc->z_init = 1;
    bc->mode = BODY_GZIP;
    return 0;
}

int bodycheck_feed(struct bodycheck *bc, const void *data, size_t len, char *err, size_t errlen)
{
    const unsigned char *d = data;
    if (bc->verdict) return bc->verdict;
    if (!len) return 0;
    if (bc->mode == BODY_UNKNOWN) {
        if (bc->head_len + len < 2) {        /* one byte so far: wait for the second */
            bc->head[bc->head_len++] = d[0];
            return 0;
        }
        unsigned char first[2];
        size_t k = 0;
        for (; k < bc->head_len; k++) first[k] = bc->head[k];
        for (size_t i = 0; k < 2; k++, i++) first[k] = d[i];
        int v = decide(bc, first, 2, err, errlen);
        if (v) return v;
        if (bc->head_len && (v = take(bc, bc->head, bc->head_len, err, errlen))) return v;
        bc->head_len = 0;
    }
    return take(bc, d, len, err, errlen);
}

int bodycheck_finish(struct bodycheck *bc, char *err, size_t errlen)
{
    if (bc->verdict) return bc->verdict;
    if (bc->mode == BODY_UNKNOWN) {
        if (!bc->head_len)
            return fail(bc, -FT_ERR_BODY_TYPE, err, errlen,
                        "empty body: expected perf script text");
        int v = decide(bc, bc->head, bc->head_len, err, errlen);
        if (v || (v = take(bc, bc->head, bc->head_len, err, errlen))) return v;
    }
    if (bc->mode == BODY_GZIP && !bc->member_ended)
        return fail(bc, -FT_ERR_BODY_GZIP, err, errlen,
                    "gzip body is truncated: the stream does not end properly");
    if (!bc->text_bytes)
        return fail(bc, -FT_ERR_BODY_TYPE, err, errlen, "empty body: expected perf script text");
    if (!bc->sniffed) {
        bc->sniffed = 1;
        if (!ps_sniff(bc->sniff, bc->sniff_len)) return not_perf(bc, err, errlen);
    }
    return 0;
}
