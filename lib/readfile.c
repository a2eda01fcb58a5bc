/* readfile — see readfile.h.  One read of max + 1 bytes tells a file that fits from one
 * that does not, without a stat that could race with a writer. */
#include "readfile.h"
#include "errbuf.h"
#include "fterr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int read_small_file(const char *path, size_t max, char **out, size_t *len, char *err,
                    size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int e = errno;
        err_set(err, errlen, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        err_set(err, errlen, "cannot read %s: out of memory", path);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, max + 1, f);
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (e) {
        free(buf);
        err_set(err, errlen, "cannot read %s: %s", path, strerror(e));
        return -e;
    }
    if (n > max) {
        free(buf);
        err_set(err, errlen, "cannot read %s: over %zu bytes", path, max);
        return -FT_ERR_TOO_LARGE;
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}
