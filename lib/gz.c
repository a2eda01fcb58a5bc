/* gz — see gz.h.  One deflate pass into a buffer of deflateBound size (so Z_FINISH ends
 * in one go); input over zlib's 32-bit avail_in is fed in slices. */
#include "gz.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#define SLICE (1u << 30)

int gz_compress(const void *in, size_t len, int level, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (level < 1 || level > 9) return -EINVAL;
    z_stream z = { 0 };
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    /* deflateBound is for one call; slices add a few bytes each for their block ends */
    size_t cap = (size_t)deflateBound(&z, (uLong)len) + 64 + (len / SLICE) * 64;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    const unsigned char *p = in;
    size_t left = len;
    z.next_out = buf;
    int rc;
    do {
        uInt slice = left > SLICE ? SLICE : (uInt)left;
        z.next_in = (Bytef *)(uintptr_t)p;
        z.avail_in = slice;
        p += slice;
        left -= slice;
        size_t room = cap - (size_t)(z.next_out - buf);
        z.avail_out = room > SLICE ? SLICE : (uInt)room;
        rc = deflate(&z, left ? Z_NO_FLUSH : Z_FINISH);
    } while (left && rc == Z_OK);
    *outlen = (size_t)(z.next_out - buf);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        *outlen = 0;
        return -EIO;
    }
    *out = buf;
    return 0;
}
