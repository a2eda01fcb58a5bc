/* azure — the Azure Functions custom handler protocol.
 *
 * Routes: GET / answers the host's readiness probe; POST /{FunctionName} takes the host's
 * invocation payload {"Data":{…},"Metadata":{…}} and answers {"Outputs":{…},"Logs":[…],
 * "ReturnValue":…}; /api/{FunctionName} (any method) is enableForwardingHttpRequest: the
 * original request in, the function's response out as it is.
 * For an HTTP function the request is Data[trigger] (Url, Method, Query, Headers as
 * name → [values], Params, Body) and the response goes to Outputs[http output] as
 * {"statusCode":"200","body":"…","headers":{…}} (or to ReturnValue for "$return").
 * Binding names come from the function.json files of the script root when there is one
 * ("req"/"res" otherwise); azure_load_bindings checks them against the app's functions.
 *
 * Thread-safety: routes run concurrently and only read struct rt. */
#ifndef FNHANDLER_AZURE_H
#define FNHANDLER_AZURE_H

#include "runtime.h"

#define AZURE_NROUTES 4
void azure_routes(struct rt *rt, struct httpd_route *routes);
/* Reads DIR/NAME/function.json for every folder of the script root into rt->bindings
 * (azure.c's table), logs what it read and one warning per mismatch (a function.json
 * without a function, a function without a function.json).  Returns the number of
 * mismatches, or a negative code with a message: -errno when the directory or a
 * function.json cannot be read, -FT_ERR_TOO_LARGE or -FT_ERR_BAD_INPUT when a
 * function.json is over 1 MiB or is not one. */
int azure_load_bindings(struct rt *rt, const char *script_root, char *err, size_t errlen);
/* Frees what azure_load_bindings read (rt->bindings; NULL is fine). */
void azure_free_bindings(struct rt *rt);
/* Fills the call's request from an HTTP trigger's Data object (Url, Method, Query,
 * Headers, Body).  -FT_ERR_BAD_INPUT (-ENOMEM) with a message when it is not one. */
int azure_request_from_data(struct app_call *call, const struct cJSON *reqobj, char *err,
                            size_t errlen);
/* The http output binding object {"statusCode":"N","body":"…","headers":{…}}. */
struct cJSON *azure_http_output(const fn_response *res);

#endif
