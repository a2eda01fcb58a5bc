/* bodycheck — decides, as an upload streams in, whether it is something to store:
 * perf-script text, plain or gzip.  gzip is recognised by Content-Encoding or by its magic
 * bytes; a gzip body is inflated through a bounded buffer (output thrown away except the
 * first bytes, kept for sniffing) so that a corrupt or truncated stream is caught before
 * anything is stored.  Memory per check is fixed (about 80 KB), whatever the body size.
 *
 * Use: bodycheck_new(); bodycheck_feed() for each chunk (it may reject early, as soon as
 * the first bytes are known to be wrong); bodycheck_finish() at the end; bodycheck_free().
 * bodycheck_mode() says plain or gzip once the first two bytes are in.
 * One check per request, used by one thread at a time. */
#ifndef FNTRACE_COLLECTOR_BODYCHECK_H
#define FNTRACE_COLLECTOR_BODYCHECK_H

#include <stddef.h>
#include <stdint.h>

enum bodycheck_mode { BODY_UNKNOWN, BODY_PLAIN, BODY_GZIP };

/* Errors follow lib/fterr.h: 0 to go on, else a negative code with a message in err:
 *   -FT_ERR_BODY_TYPE  not perf-script text, or empty (HTTP 415)
 *   -FT_ERR_BODY_GZIP  says or looks gzip but is corrupt, truncated or plain (HTTP 400)
 *   -FT_ERR_TOO_LARGE  a gzip body inflating past bodycheck_set_max_text (HTTP 413):
 *                      the check stops there, a gzip bomb costs at most that much CPU
 *   -ENOMEM            (HTTP 503)
 * A refusal is sticky: later calls return the same code. */

struct bodycheck;

/* declared_gzip: the request said Content-Encoding: gzip. NULL on out of memory. */
struct bodycheck *bodycheck_new(int declared_gzip);
void bodycheck_free(struct bodycheck *bc);

int bodycheck_feed(struct bodycheck *bc, const void *data, size_t len, char *err, size_t errlen);
int bodycheck_finish(struct bodycheck *bc, char *err, size_t errlen);
enum bodycheck_mode bodycheck_mode(const struct bodycheck *bc);
/* Limit on the inflated size of a gzip body (0: none). */
void bodycheck_set_max_text(struct bodycheck *bc, uint64_t max);
/* Inflated bytes seen so far (gzip), or the body bytes (plain). */
uint64_t bodycheck_text_bytes(const struct bodycheck *bc);

#endif
