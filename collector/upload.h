/* upload — the route callbacks of POST / and POST /api/v1/traces: token, name and size
 * checks when the headers are in; the body streamed into a store_put while bodycheck
 * watches it; commit and 201 at the end; abort (nothing left behind) on every failure and
 * when the client goes away.  Route arg: struct collector.  Per-request state lives in
 * the httpd_req and is freed by upload_done. */
#ifndef FNTRACE_COLLECTOR_UPLOAD_H
#define FNTRACE_COLLECTOR_UPLOAD_H

#include <stddef.h>

#include "httpd.h"

int upload_begin(httpd_req *req, void *arg);
int upload_data(httpd_req *req, const char *data, size_t len, void *arg);
int upload_handle(httpd_req *req, void *arg);
void upload_done(httpd_req *req, int completed, void *arg);

/* The trace name of a request: X-name header, else ?name=.  Returns the name, or NULL
 * with a message in err (missing, or breaking the rule of lib/tracename.h). */
const char *upload_name(httpd_req *req, char *err, size_t errlen);

#endif
