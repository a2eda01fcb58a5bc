/* api — the collector's read side and service endpoints: GET /api/v1/traces[?name=],
 * GET and DELETE /api/v1/traces/ID, GET /healthz, GET /metrics, GET / (status page).
 * Route arg: struct collector.  Stateless per request; thread-safe through the store and
 * the metrics. */
#ifndef FNTRACE_COLLECTOR_API_H
#define FNTRACE_COLLECTOR_API_H

#include "httpd.h"

#define API_TRACES "/api/v1/traces"

int api_list(httpd_req *req, void *arg);
int api_get(httpd_req *req, void *arg);
int api_delete(httpd_req *req, void *arg);
int api_healthz(httpd_req *req, void *arg);
int api_metrics(httpd_req *req, void *arg);
/* GET /: a text/plain page for a person who opens the collector's address: what it is,
 * the curl line that uploads a trace, the endpoints, and what it holds. */
int api_status(httpd_req *req, void *arg);

/* The id in a /api/v1/traces/ID path, or NULL when the path has none. */
const char *api_id_of_path(const char *path);

#endif
