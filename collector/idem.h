/* idem — the collector's Idempotency-Key index: each key is stored once, so a client that
 * gave up and retried (or a tracer draining its spool after a timeout) gets the id of its
 * first upload back (200) instead of a second copy (201).
 *
 * A key maps to the stored trace's id and size.  The index lives in memory and in an
 * append-only journal, `.idempotency` in the store directory (ids never start with '.',
 * so the store does not list it); it is read, its expired and malformed lines dropped,
 * and rewritten at open.  Keys older than the retention window count as unknown.
 * A key being uploaded is "claimed": a second request with it meanwhile is told so
 * (-EBUSY, 409) and retries later.  With a blob store the keys are store records instead
 * (idem_share), and every claim reads the key's record first.
 *
 * Thread-safety: every function locks the index; callers share one idem.  Errors:
 * negative errno with a message in err. */
#ifndef FNTRACE_IDEM_H
#define FNTRACE_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define IDEM_KEY_MAX 200
#define IDEM_WINDOW_DEFAULT (7 * 86400)
#define IDEM_MAX_KEYS (1u << 20)    /* keys held at once (~300 MB at most) */

struct idem;

/* Checks an Idempotency-Key header value: a bare token or an sf-string ("..."), 1..200
 * printable ASCII characters without spaces, quotes or backslashes inside.  Writes the
 * key without quotes to out (IDEM_KEY_MAX + 1 bytes); returns 0 or -EINVAL. */
int idem_key_parse(const char *value, size_t len, char *out);

/* dir NULL: no journal (keys live in memory only, until the collector stops). */
struct idem *idem_open(const char *dir, int64_t window_s, char *err, size_t errlen);
void idem_close(struct idem *ix);

/* 0: the key is new and now claimed by the caller (idem_commit or idem_release follows);
 * 1: known: *id (STORE_ID_MAX + 1 bytes) and *bytes are the first upload's;
 * 2: the index is full (IDEM_MAX_KEYS, logged once): store without a key;
 * -EBUSY: another request holds the claim; -ENOMEM. */
int idem_claim(struct idem *ix, const char *key, char *id, uint64_t *bytes);
/* Shared mode, for stores with records (store_records(): a blob container): each key is a
 * record created with If-None-Match: *, so collectors on several machines sharing the
 * store agree on the first upload, across restarts; the journal is then not used. */
void idem_share(struct idem *ix, store *st);
/* The store's precommit hook for a claimed key (store_put_on_commit): records key -> id
 * before the trace becomes visible, so a crash between the two never loses the key (a
 * key whose trace is not there counts as unknown on lookup, after PENDING_S).
 * 0: go on with the commit; -EEXIST: another collector stored this key first, its id is
 * in first_id (STORE_ID_MAX + 1 bytes); -EBUSY: another collector is storing it now; or
 * a store error.  Without a journal or store, 0. */
int idem_prepare(struct idem *ix, const char *key, const char *id, uint64_t bytes,
                 char *first_id);
/* Records the claimed key's upload, in memory and (unless idem_prepare did) in the journal. */
int idem_commit(struct idem *ix, const char *key, const char *id, uint64_t bytes);
/* Gives a claim back (the upload failed), or forgets a known key (its trace is gone). */
void idem_release(struct idem *ix, const char *key);
/* Keys known (claimed or committed, not yet expired). */
size_t idem_count(struct idem *ix);

#endif
