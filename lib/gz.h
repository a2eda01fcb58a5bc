/* gz — gzip compression of a buffer in memory, the one home for it: the tracer's upload
 * bodies and flamescope's pprof export both call gz_compress().  (Reading gzip is the
 * parser's own business: lib/perfscript inflates as it parses.)
 * Reentrant: no state outside the call. */
#ifndef FNTRACE_GZ_H
#define FNTRACE_GZ_H

#include <stddef.h>

/* Levels: fast for what runs inside a traced process, default for files people keep. */
#define GZ_FAST 1
#define GZ_DEFAULT 6

/* Compresses in[0..len) into one gzip member at level (1..9) in a new malloc'd buffer
 * *out of *outlen bytes (free it).  Any len, also 0 and over 4 GB.
 * 0, or -ENOMEM, or -EINVAL for a bad level, or -EIO if zlib fails. */
int gz_compress(const void *in, size_t len, int level, unsigned char **out, size_t *outlen);

#endif
