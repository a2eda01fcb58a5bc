/* query — the collector's read side and service endpoints: GET /api/v1/traces[?name=],
 * GET and DELETE /api/v1/traces/ID, GET /healthz, GET /metrics, GET / (status page).
 * Route arg: struct collector.  Stateless per request; thread-safe through the store and
 * the metrics. */
#ifndef FNTRACE_COLLECTOR_QUERY_H
#define FNTRACE_COLLECTOR_QUERY_H

#include "httpd.h"

#define QUERY_TRACES "/api/v1/traces"

int query_list(httpd_req *req, void *arg);
int query_get(httpd_req *req, void *arg);
int query_delete(httpd_req *req, void *arg);
int query_healthz(httpd_req *req, void *arg);
int query_metrics(httpd_req *req, void *arg);
/* GET /: a text/plain page for a person who opens the collector's address: what it is,
 * the curl line that uploads a trace, the endpoints, and what it holds. */
int query_status(httpd_req *req, void *arg);

/* Seconds a client should wait when the store is unavailable (503). */
#define STORE_RETRY_AFTER "5"

/* Replies to a failed store operation (what: "cannot list the store"…): 503 with
 * Retry-After when the store cannot be reached, else the status of code r. */
int query_store_failed(httpd_req *req, int r, const char *what);

/* The id in a /api/v1/traces/ID path, or NULL when the path has none. */
const char *query_id_of_path(const char *path);

#endif
