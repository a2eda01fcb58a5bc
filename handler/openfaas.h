/* openfaas — the OpenFaaS watchdog contract and the local mode's routes.
 *
 * Routes: GET /_/health (200 while the lock file exists and the runtime is not draining,
 * else 503), GET /_/ready (as health, and 429 while max_inflight calls run), and every
 * other path calls a function: /NAME[/…] calls NAME, anything else calls the default
 * function (the only one, or FNHANDLER_FUNCTION), / without a default is 404 listing the
 * functions.  Replies carry X-Duration-Seconds.  The lock file (/tmp/.lock, or
 * FNHANDLER_LOCK_FILE) is written once the server listens and removed when draining starts.
 *
 * Thread-safety: the route callbacks run concurrently; they only read struct rt. */
#ifndef FNHANDLER_OPENFAAS_H
#define FNHANDLER_OPENFAAS_H

#include "runtime.h"

#define OPENFAAS_NROUTES 4
/* Fills routes (OPENFAAS_NROUTES entries, the last the terminator) for rt. */
void openfaas_routes(struct rt *rt, struct httpd_route *routes);
/* Reads exec_timeout, read_timeout, write_timeout, healthcheck_interval, max_inflight,
 * suppress_lock, FNHANDLER_LOCK_FILE from the environment into rt (durations in the
 * lib/units grammar: 10s, 500ms, 1.5s).  -FT_ERR_BAD_INPUT with a message when a value
 * is malformed. */
int openfaas_config(struct rt *rt, char *err, size_t errlen);
/* Writes the lock file and marks the runtime healthy; -errno with a message on failure. */
int openfaas_lock(struct rt *rt, char *err, size_t errlen);
/* Calls fn for an HTTP request as these modes (and Azure's forwarding mode) do: an http
 * function gets the request as it came; a generic function gets its body as the
 * invocation payload and answers the envelope (400 when the body is not one). */
int openfaas_call(struct rt *rt, httpd_req *req, const struct fn_func *fn, int duration_header);
/* Marks the runtime unhealthy and removes the lock file (start of a drain). */
void openfaas_unlock(struct rt *rt);

#endif
