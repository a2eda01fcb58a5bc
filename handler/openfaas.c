/* openfaas — see openfaas.h. */
#define _GNU_SOURCE
#include "openfaas.h"
#include "errbuf.h"
#include "log.h"
#include "units.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int lock_present(const struct rt *rt)
{
    return rt->suppress_lock || access(rt->lock_path, F_OK) == 0;
}

static int h_health(httpd_req *req, void *arg)
{
    struct rt *rt = arg;
    if (atomic_load(&rt->healthy) && lock_present(rt))
        return httpd_reply(req, 200, "text/plain; charset=utf-8", "OK", 2);
    return httpd_reply_error(req, 503, "not ready");
}

static int h_ready(httpd_req *req, void *arg)
{
    struct rt *rt = arg;
    if (!atomic_load(&rt->healthy) || !lock_present(rt))
        return httpd_reply_error(req, 503, "not ready");
    if (rt->max_inflight && atomic_load(&rt->app->running) >= rt->max_inflight)
        return httpd_reply_error(req, 429, "at capacity (max_inflight=%u)", rt->max_inflight);
    return httpd_reply(req, 200, "text/plain; charset=utf-8", "OK", 2);
}

static int reply_not_found(httpd_req *req, struct rt *rt, const char *path)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(o, "functions");
    for (size_t i = 0; i < rt->app->nfuncs; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(rt->app->funcs[i].name));
    char msg[256];
    snprintf(msg, sizeof msg, "no function at %.200s", path);
    cJSON_AddStringToObject(o, "error", msg);
    return httpd_reply_json(req, 404, o);
}

/* /NAME or /NAME/… → NAME when registered; otherwise the default function. */
static const struct fn_func *route_function(struct rt *rt, const char *path)
{
    const char *seg = path[0] == '/' ? path + 1 : path;
    size_t n = strcspn(seg, "/");
    if (n && n <= APP_NAME_MAX) {
        char name[APP_NAME_MAX + 1];
        memcpy(name, seg, n);
        name[n] = 0;
        const struct fn_func *f = app_find(rt->app, name);
        if (f) return f;
    }
    return rt->default_fn;
}

int openfaas_call(struct rt *rt, httpd_req *req, const struct fn_func *fn, int duration_header)
{
    struct app_call *c = rt_call_from_http(rt, fn, req);
    if (!c) return httpd_reply_error(req, ft_http_status(-ENOMEM), "out of memory");
    if (fn->invoke) {
        char err[256];
        int rc = rt_call_set_payload(c, c->req.body, c->req.body_len, err, sizeof err);
        if (rc < 0) {
            app_call_free(c);
            return httpd_reply_error(req, ft_http_status(rc), "%s", err);
        }
    }
    return rt_dispatch(rt, req, c, NULL, duration_header);
}

static int h_function(httpd_req *req, void *arg)
{
    struct rt *rt = arg;
    const char *path = httpd_req_path(req);
    const struct fn_func *fn = route_function(rt, path);
    if (!fn) return reply_not_found(req, rt, path);
    return openfaas_call(rt, req, fn, 1);
}

void openfaas_routes(struct rt *rt, struct httpd_route *r)
{
    memset(r, 0, OPENFAAS_NROUTES * sizeof *r);
    r[0] = (struct httpd_route){ .method = "GET", .path = "/_/health", .handle = h_health,
                                .arg = rt };
    r[1] = (struct httpd_route){ .method = "GET", .path = "/_/ready", .handle = h_ready,
                                .arg = rt };
    r[2] = (struct httpd_route){ .method = NULL, .path = "/*", .handle = h_function,
                                 .max_body = rt->max_body, .arg = rt };
}

static int env_duration(const char *name, double *out, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    if (units_seconds(v, out) < 0) {
        err_set(err, errlen, "%s=%s is not a duration (like 10s, 500ms, 2m or seconds)", name, v);
        return -FT_ERR_BAD_INPUT;
    }
    return 0;
}

static int env_bool(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

int openfaas_config(struct rt *rt, char *err, size_t errlen)
{
    int rc;
    if ((rc = env_duration("exec_timeout", &rt->exec_timeout, err, errlen)) ||
        (rc = env_duration("read_timeout", &rt->read_timeout, err, errlen)) ||
        (rc = env_duration("write_timeout", &rt->write_timeout, err, errlen)))
        return rc;
    rt->healthcheck_interval = rt->write_timeout;
    if ((rc = env_duration("healthcheck_interval", &rt->healthcheck_interval, err, errlen)))
        return rc;
    const char *mi = getenv("max_inflight");
    if (mi && *mi) {
        uint64_t v;
        if (units_uint(mi, 1000000, &v) < 0) {
            err_set(err, errlen, "max_inflight=%s is not a number of requests", mi);
            return -FT_ERR_BAD_INPUT;
        }
        rt->max_inflight = (unsigned)v;
    }
    rt->suppress_lock = env_bool("suppress_lock");
    const char *lp = getenv("FNHANDLER_LOCK_FILE");
    snprintf(rt->lock_path, sizeof rt->lock_path, "%s", lp && *lp ? lp : "/tmp/.lock");
    return 0;
}

int openfaas_lock(struct rt *rt, char *err, size_t errlen)
{
    if (!rt->suppress_lock) {
        int fd = open(rt->lock_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
        if (fd < 0) {
            int e = errno;
            err_set(err, errlen, "cannot write the lock file %s: %s", rt->lock_path, strerror(e));
            return -e;
        }
        close(fd);
    }
    atomic_store(&rt->healthy, 1);
    return 0;
}

void openfaas_unlock(struct rt *rt)
{
    atomic_store(&rt->healthy, 0);
    if (!rt->suppress_lock && unlink(rt->lock_path) && errno != ENOENT)
        log_warn("cannot remove the lock file", "path=%s err=%s", rt->lock_path, strerror(errno));
}
