/* ingest — the route callbacks of POST / and POST /api/v1/traces: token, name and size
 * checks when the headers are in; the body streamed into a store_put while bodycheck
 * watches it; commit and 201 at the end; abort (nothing left behind) on every failure and
 * when the client goes away.  Route arg: struct collector.  Per-request state lives in
 * the httpd_req and is freed by ingest_done. */
#ifndef FNTRACE_COLLECTOR_INGEST_H
#define FNTRACE_COLLECTOR_INGEST_H

#include <stddef.h>

#include "httpd.h"

int ingest_begin(httpd_req *req, void *arg);
int ingest_data(httpd_req *req, const char *data, size_t len, void *arg);
int ingest_handle(httpd_req *req, void *arg);
void ingest_done(httpd_req *req, int completed, void *arg);

/* The trace name of a request: X-name header, else ?name=.  Returns the name, or NULL
 * with a message in err (missing, or breaking the rule of lib/tracename.h). */
const char *ingest_name(httpd_req *req, char *err, size_t errlen);

#endif
