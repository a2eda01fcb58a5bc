/*
 * web_assets.h — the browser UI of fntrace-flamescope, built into the binary.
 *
 * flamescope/web/build.mjs bundles the UI (flamescope/web/src + d3, d3-flame-graph from
 * npm) and tools/embed-assets.mjs turns the bundle into $(BUILD)/gen/web_assets.c, which
 * defines the table below (see flamescope/module.mk).  Paths are URL paths: "/" and
 * "/index.html" are the page, "/app.js" and "/app.css" what it loads.
 *
 * Everything here is static, read-only data: safe from any thread, nothing to free.
 */
#ifndef FNTRACE_FLAMESCOPE_WEB_ASSETS_H
#define FNTRACE_FLAMESCOPE_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;                /* URL path, e.g. "/", "/app.js" */
    const char *content_type;        /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data;       /* the file as is */
    size_t len;
    const unsigned char *gzip;       /* the same, gzip-compressed, for clients sending
                                        Accept-Encoding: gzip (Content-Encoding: gzip);
                                        NULL when compression does not make it smaller */
    size_t gzip_len;
    const char *etag;                /* strong ETag, with its quotes */
};

/* The asset served at PATH (exact match, no query string), or NULL. */
const struct web_asset *web_asset_find(const char *path);

/* Every asset, sorted by path. */
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
