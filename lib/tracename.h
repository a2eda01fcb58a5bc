/* tracename — the one trace-name rule of fntrace, used by every component that names,
 * stores, lists or uploads a trace (store, collector, tracer, handler).
 *
 * A trace name is 1 to TRACE_NAME_MAX of A-Z a-z 0-9 . _ -, not starting with a dot: it
 * becomes a directory of the store, so it can never be "..", hidden, or hold a slash.
 * Change the rule here and nowhere else: the check, the limit and the message that tells
 * a user the rule all live in this module.  Pure functions, thread-safe. */
#ifndef FNTRACE_TRACENAME_H
#define FNTRACE_TRACENAME_H

#include <stddef.h>

#define TRACE_NAME_MAX 128
#define TRACE_NAME_STR_(x) #x
#define TRACE_NAME_STR(x) TRACE_NAME_STR_(x)
/* The rule in words, for usage texts and messages. */
#define TRACE_NAME_RULE \
    "1 to " TRACE_NAME_STR(TRACE_NAME_MAX) " of A-Z a-z 0-9 . _ -, not starting with a dot"

/* 1 when name (NUL-terminated) follows the rule, else 0 (NULL is invalid). */
int trace_name_valid(const char *name);
/* The same for a name given with its length: a NUL byte inside makes it invalid. */
int trace_name_valid_n(const char *name, size_t len);

/* Writes into err the message for a name that broke the rule:
 *   <what> "<name, made printable and cut>" is not a valid trace name: use <rule>
 * what names where the name came from ("trace name", "FNTRACE_NAME=", "--name").
 * name may be NULL or not NUL-terminated (len bytes).  Returns -FT_ERR_BAD_NAME, so a
 * caller can `return trace_name_error(...)`. */
int trace_name_error(char *err, size_t errlen, const char *what, const char *name, size_t len);

/* Makes any text a valid trace name (the agent names traces after containers and
 * cgroups): characters outside the rule become '_', leading dots and underscores are
 * dropped, the result is cut at TRACE_NAME_MAX; when nothing is left, fallback is made
 * a name the same way, else "unknown".  out needs outlen >= 8. */
void trace_name_sanitize(const char *in, const char *fallback, char *out, size_t outlen);

#endif
