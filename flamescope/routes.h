/* routes — fntrace-flamescope's HTTP routes: FlameScope 0.3's endpoints (/profile/,
 * /heatmap/, /flamegraph/, /differential/, /elided/), fntrace's /api/v1/ (invocations,
 * per-invocation flame graph, exports) and the web UI's static files.
 *
 * Every request names a profile by its store id (`filename`); the id is validated by
 * the store, opened through it, and its index comes from the cache (built once per
 * id, size and mtime), loaded from its index file when one matches the trace, else
 * parsed from the text and saved as the index file for the next open.  Errors are
 * JSON {"error": …} with a 4xx status: 400 bad
 * argument, 404 no such profile, 416 range outside the profile, 413 too large,
 * 422 not readable as perf script (corrupt gzip, binary).
 *
 * Ownership: routes_new() borrows the store; routes_free() after the server stopped.
 * Thread-safety: the routes run on the server's threads concurrently. */
#ifndef FLAMESCOPE_ROUTES_H
#define FLAMESCOPE_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "httpd.h"
#include "store.h"

struct routes_opts {
    size_t cache_bytes;        /* index cache budget */
    uint64_t max_text;         /* largest (decompressed) profile, 0: no limit */
    const char *index_dir;     /* index files (idxfile.h), NULL: none; borrowed */
    int index_by_version;      /* key index files by the store's version (ETag) alone */
};

typedef struct routes routes;

routes *routes_new(store *st, const struct routes_opts *opts);
void routes_free(routes *a);
/* The route table (ends with a NULL path), valid while a lives. */
const struct httpd_route *routes_table(routes *a);

#endif
