/* api — fntrace-flamescope's HTTP routes: FlameScope 0.3's endpoints (/profile/,
 * /heatmap/, /flamegraph/, /differential/, /elided/), fntrace's /api/v1/ (invocations,
 * per-invocation flame graph, exports) and the web UI's static files.
 *
 * Every request names a profile by its store id (`filename`); the id is validated by
 * the store, opened through it, and its index comes from the cache (built once per
 * id, size and mtime).  Errors are JSON {"error": …} with a 4xx status: 400 bad
 * argument, 404 no such profile, 416 range outside the profile, 413 too large,
 * 422 not readable as perf script (corrupt gzip, binary).
 *
 * Ownership: api_new() borrows the store; api_free() after the server stopped.
 * Thread-safety: the routes run on the server's threads concurrently. */
#ifndef FLAMESCOPE_API_H
#define FLAMESCOPE_API_H

#include <stddef.h>
#include <stdint.h>

#include "httpd.h"
#include "store.h"

struct api_opts {
    size_t cache_bytes;        /* index cache budget */
    uint64_t max_text;         /* largest (decompressed) profile, 0: no limit */
};

typedef struct api api;

api *api_new(store *st, const struct api_opts *opts);
void api_free(api *a);
/* The route table (ends with a NULL path), valid while a lives. */
const struct httpd_route *api_routes(api *a);

#endif
