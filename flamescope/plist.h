/* plist — fntrace's profile listing (GET /api/v1/profiles): every trace with what tells
 * a real trace from an idle one (its sample count, first-to-last-sample duration,
 * invocation count) and its upload time, filtered, sorted and paged.  FlameScope's own
 * /profile/ stays as upstream defines it (filename and type only).
 *
 * A listing never parses a trace.  Each trace's summary comes from, in order:
 *   - the summary cache, keyed by store id and valid while the store entry's size,
 *     mtime and change token are those it was made for;
 *   - the header of the trace's index file (idxfile_summary: one open and one read of
 *     about 600 bytes), accepted when the key in it names this size, mtime and change
 *     token (the index's content hash is not recomputed: that would read the trace; an
 *     open checks it, and the whole index, and rebuilds a stale one);
 *   - a profile the viewer built or loaded for a query (plist_note).
 * A trace with none of these is listed as not indexed ("index": "none") and handed to
 * the background indexer (indexer.h: one thread, a bounded queue, no duplicates), so a
 * later listing shows it ("pending" while queued; "failed" when the indexer could not
 * index that version of the trace, which is not queued again).
 *
 * Cost of a listing of N traces: the store's listing, N cache lookups (the first
 * listing: N index headers), a sort of N rows, and the JSON of one page.  The cache
 * holds one small record per trace (about 150 bytes and the id); records of traces no
 * longer listed are dropped when the cache has grown to twice the listing.
 *
 * Thread-safety: every function may be called from any thread (one mutex). */
#ifndef FLAMESCOPE_PLIST_H
#define FLAMESCOPE_PLIST_H

#include <stddef.h>
#include <stdint.h>

#include "indexer.h"
#include "profile.h"
#include "sbuf.h"
#include "store.h"

#define PLIST_PAGE 100             /* default limit= */
#define PLIST_PAGE_MAX 10000

enum plist_sort { PLIST_TIME, PLIST_NAME, PLIST_SAMPLES, PLIST_DURATION, PLIST_INVOCATIONS };

struct plist_query {
    enum plist_sort sort;      /* default PLIST_TIME */
    int desc;                  /* default 1 for time, samples, duration, invocations */
    uint64_t offset, limit;
    const char *q;             /* substring of the id (case-insensitive), NULL: all */
    const char *name;          /* the function (first id component), NULL: all */
};

typedef struct plist plist;

/* index_dir (NULL: no index files) and ix (NULL: no background indexing) are borrowed. */
plist *plist_new(const char *index_dir, indexer *ix);
void plist_free(plist *pl);

/* The query of sort= (time|name|samples|duration|invocations), order= (asc|desc),
 * offset=, limit= (1 to PLIST_PAGE_MAX), q=, name=; any may be NULL.  0, or -EINVAL
 * with the reason in err. */
int plist_query_parse(const char *sort, const char *order, const char *offset,
                      const char *limit, const char *q, const char *name,
                      struct plist_query *out, char *err, size_t errlen);

/* The page of ents[0, n) (a store listing) that q selects, as a JSON array of
 * {"filename","type","name","bytes","uploaded","index","samples","duration",
 * "invocations"} (the last three null when not indexed) into out; *total is the count
 * of traces the filter matches.  0 or -ENOMEM. */
int plist_list(plist *pl, const struct store_entry *ents, size_t n,
               const struct plist_query *q, sbuf *out, size_t *total);

/* Records the summary of ent from p, a profile built or loaded for ent. */
void plist_note(plist *pl, const struct store_entry *ent, const profile *p);

struct plist_stats {
    uint64_t cached;           /* records in the cache */
    uint64_t header_reads;     /* index headers read */
    uint64_t queued;           /* traces handed to the indexer */
};
void plist_stats_get(plist *pl, struct plist_stats *out);

#endif
