/* errbuf — the message half of the library error convention: functions that fail
 * return a negative errno (or NULL) and describe the failure in a caller's buffer.
 * err_set() formats into that buffer; a NULL buffer or zero length is allowed and
 * ignored, so callers that do not want the message pass NULL, 0.  Reentrant. */
#ifndef FNTRACE_ERRBUF_H
#define FNTRACE_ERRBUF_H

#include <stddef.h>

void err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
