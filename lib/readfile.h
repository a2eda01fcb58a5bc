/* readfile — reading a whole small file (a token, a PEM certificate, a function.json)
 * into memory, bounded: the one place that does it for every component.
 *
 * read_small_file() returns 0 and a malloc'd, NUL-terminated copy in *out (its length
 * in *len when len is not NULL; the caller frees it), or a negative code with the detail
 * in err: -errno when the file cannot be opened or read, -FT_ERR_TOO_LARGE when it holds
 * more than max bytes (nothing is returned then).  Reentrant, thread-safe. */
#ifndef FNTRACE_READFILE_H
#define FNTRACE_READFILE_H

#include <stddef.h>

int read_small_file(const char *path, size_t max, char **out, size_t *len, char *err,
                    size_t errlen);

#endif
