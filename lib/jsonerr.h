/* jsonerr — the JSON error body every fntrace server answers with: {"error": "<text>"}.
 * One home for its shape, used by lib/httpd (httpd_reply_error) and the handler's
 * fn_response_error, so a client parses one format whichever component replied.
 * Reentrant: the message goes into the caller's buffer. */
#ifndef FNTRACE_JSONERR_H
#define FNTRACE_JSONERR_H

#include <stdarg.h>
#include <stddef.h>

struct cJSON;

/* Formats fmt/ap into msg (msglen bytes, always NUL-terminated) and returns a new
 * {"error": msg} object for the caller to serialise and free; NULL on out of memory
 * (msg is filled in any case). */
struct cJSON *json_error_v(char *msg, size_t msglen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
