/* fuzz_handler: bytes as an Azure invocation payload through the runtime's translation —
 * payload parsing (rt_call_set_payload), Data.req into a request (azure_request_from_data),
 * the request read the way functions read it, fn_request_json on the body, and the http
 * output binding built back — and the same bytes as an HTTP body for fn_request_json. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../handler/app.h"
#include "../../handler/azure.h"
#include "../../handler/runtime.h"
#include "log.h"

static int reader(const fn_request *req, fn_response *res, void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nquery; i++)
        n += strlen(req->query[i].name) + strlen(req->query[i].value);
    for (size_t i = 0; i < req->nheaders; i++) n += strlen(req->headers[i].name);
    (void)fn_request_query(req, "name");
    (void)fn_request_header(req, "content-type");
    char err[128];
    cJSON *j = fn_request_json(req, err, sizeof err);
    cJSON_Delete(j);
    fn_response_header(res, "X-N", "1");
    return fn_response_printf(res, "%zu %s", n, req->method);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fn_app *app;
    if (!app) {
        log_set_level(LOG_ERROR);
        app = fn_app_new("fuzz");
        fn_app_http(app, "f", reader, NULL);
    }
    const struct fn_func *fn = app_find(app, "f");
    struct app_call *c = app_call_new(app, fn, NULL);
    if (!c) return 0;
    char err[256];
    if (rt_call_set_payload(c, (const char *)data, size, err, sizeof err) == 0 && c->inv.data) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(c->inv.data, "req");
        if (r && azure_request_from_data(c, r, err, sizeof err) == 0 &&
            app_call_run(c, 0, 0) == APP_DONE) {
            cJSON *o = azure_http_output(&c->res);
            char *s = cJSON_PrintUnformatted(o);
            free(s);
            cJSON_Delete(o);
        }
    }
    app_call_free(c);

    /* the bytes as a body */
    char *body = malloc(size + 1);
    if (!body) return 0;
    memcpy(body, data, size);
    body[size] = 0;
    fn_request req = { .body = body, .body_len = size };
    cJSON *j = fn_request_json(&req, err, sizeof err);
    cJSON_Delete(j);
    free(body);
    return 0;
}
