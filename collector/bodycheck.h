/* bodycheck — decides, as an upload streams in, whether it is something to store:
 * perf-script text, plain or gzip.  gzip is recognised by Content-Encoding or by its magic
 * bytes; a gzip body is inflated through a bounded buffer (output thrown away except the
 * first bytes, kept for sniffing) so that a corrupt or truncated stream is caught before
 * anything is stored.  Memory per check is fixed (about 80 KB), whatever the body size.
 *
 * Use: bodycheck_init(); bodycheck_feed() for each chunk (it may reject early, as soon as
 * the first bytes are known to be wrong); bodycheck_finish() at the end; bodycheck_free().
 * bodycheck_mode() says plain or gzip once the first two bytes are in.
 * One check per request, used by one thread at a time. */
#ifndef FNTRACE_COLLECTOR_BODYCHECK_H
#define FNTRACE_COLLECTOR_BODYCHECK_H

#include <stddef.h>
#include <stdint.h>

enum bodycheck_mode { BODY_UNKNOWN, BODY_PLAIN, BODY_GZIP };

/* Why a body was refused (for metrics and the HTTP status: all are 415 but BODY_BAD_GZIP,
 * which is 400). */
enum bodycheck_verdict { BODY_OK = 0, BODY_NOT_PERF, BODY_BAD_GZIP, BODY_EMPTY, BODY_NOMEM };

struct bodycheck;

/* declared_gzip: the request said Content-Encoding: gzip. NULL on out of memory. */
struct bodycheck *bodycheck_new(int declared_gzip);
void bodycheck_free(struct bodycheck *bc);

/* Returns BODY_OK to go on, else a verdict with a message in err. */
int bodycheck_feed(struct bodycheck *bc, const void *data, size_t len, char *err, size_t errlen);
int bodycheck_finish(struct bodycheck *bc, char *err, size_t errlen);
enum bodycheck_mode bodycheck_mode(const struct bodycheck *bc);
/* Inflated bytes seen so far (gzip), or the body bytes (plain). */
uint64_t bodycheck_text_bytes(const struct bodycheck *bc);

#endif
