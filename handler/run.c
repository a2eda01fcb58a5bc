/* run — fn_app_run: picks the mode from the environment and the command line, starts the
 * server with that mode's routes, waits for SIGINT/SIGTERM and drains.
 *
 * Drain (every mode): the OpenFaaS mode first removes the lock file (health turns 503)
 * and keeps serving for healthcheck_interval so the platform stops routing here; then the
 * listening socket closes, requests in flight get up to write_timeout (10 s when unset)
 * to finish, and the server stops.  A second signal cuts the drain short. */
#define _GNU_SOURCE
#include "fnhandler.h"
#include "app.h"
#include "azure.h"
#include "log.h"
#include "openfaas.h"
#include "runtime.h"
#include "tracing.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)

static const char *mode_name(enum rt_mode m)
{
    return m == RT_AZURE ? "azure" : m == RT_LOCAL ? "local" : "openfaas";
}

static void usage(const fn_app *app, const char *prog, FILE *out)
{
    fprintf(out,
"usage: %s [--port N] [--listen ADDR] [--mode openfaas|azure|local] [--function NAME]\n"
"          [--script-root DIR] [--max-body BYTES] [--list] [--help]\n"
"\n"
"Serves the functions of the app \"%s\" over HTTP.\n"
"  Azure Functions custom handler when FUNCTIONS_CUSTOMHANDLER_PORT is set (127.0.0.1);\n"
"  local mode with --port N (127.0.0.1:N, /NAME calls NAME);\n"
"  OpenFaaS otherwise (0.0.0.0:${port:-8080}, watchdog contract, / calls --function).\n"
"\n"
"options:\n"
"  --port N            port to listen on (0: a free one, printed in the log)\n"
"  --listen ADDR       address to bind instead of the mode's default\n"
"  --mode MODE         force a mode\n"
"  --function NAME     what / calls in OpenFaaS mode (default: the only function)\n"
"  --script-root DIR   Azure: check DIR/*/function.json against the app and take binding\n"
"                      names from them (default $AzureWebJobsScriptRoot, or . with host.json)\n"
"  --max-body BYTES    largest request body (default 1 MiB)\n"
"  --list              print the function names and exit\n"
"environment:\n"
"  FUNCTIONS_CUSTOMHANDLER_PORT   Azure mode and its port\n"
"  port, exec_timeout, read_timeout, write_timeout, healthcheck_interval, max_inflight,\n"
"  suppress_lock                  OpenFaaS watchdog settings (durations: 10s, 500ms, 2m)\n"
"  FNHANDLER_LOCK_FILE            lock file (default /tmp/.lock)\n"
"  FNHANDLER_FUNCTION, FNHANDLER_MAX_BODY   as --function, --max-body\n"
"  FNHANDLER_THREADS              I/O threads (default 2 per CPU, at least 4)\n"
"  FNHANDLER_HEADER_BYTES         request header space per connection (default 32768;\n"
"                                 smaller is cheaper per keep-alive request)\n"
"  FNHANDLER_ACCESS_LOG=1         one log line per request\n"
"  FNTRACE=1, FNTRACE_SAMPLER, FNTRACE_FREQ, FNTRACE_COLLECTOR, FNTRACE_NAME, FNTRACE_WINDOW, FNTRACE_SPOOL,\n"
"  FNTRACE_INVOCATIONS\n"
"                                 in-process tracing (see the README)\n"
"  FNTRACE_LOG                    debug|info|warn|error\n",
            prog, app->name);
}

static int parse_port(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || errno || *end || end == s || v < 0 || v > 65535) return -1;
    *out = (unsigned)v;
    return 0;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v == 0 || v > (1ull << 31) || s[0] == '-') return -1;
    *out = (size_t)v;
    return 0;
}

/* Waits up to secs, returning early (1) on a signal. */
static int wait_or_signal(double secs)
{
    int ms = (int)(secs * 1000);
    return ms > 0 && httpd_wait_signal(ms) > 0;
}

int fn_app_run(fn_app *app, int argc, char **argv)
{
    if (!app) return 1;
    static const struct option opts[] = {
        { "port", required_argument, 0, 'p' },     { "listen", required_argument, 0, 'l' },
        { "mode", required_argument, 0, 'm' },     { "function", required_argument, 0, 'f' },
        { "script-root", required_argument, 0, 's' }, { "max-body", required_argument, 0, 'b' },
        { "list", no_argument, 0, 'L' },           { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *prog = argc > 0 ? argv[0] : "fnhandler";
    const char *listen = NULL, *mode = NULL, *script_root = NULL;
    const char *fname = getenv("FNHANDLER_FUNCTION");
    const char *port_arg = NULL, *body_arg = getenv("FNHANDLER_MAX_BODY");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hp:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': port_arg = optarg; break;
        case 'l': listen = optarg; break;
        case 'm': mode = optarg; break;
        case 'f': fname = optarg; break;
        case 's': script_root = optarg; break;
        case 'b': body_arg = optarg; break;
        case 'L':
            for (size_t i = 0; i < app->nfuncs; i++)
                printf("%s\t%s\n", app->funcs[i].name, app->funcs[i].http ? "http" : "generic");
            fn_app_free(app);
            return 0;
        case 'h': usage(app, prog, stdout); fn_app_free(app); return 0;
        default: usage(app, prog, stderr); fn_app_free(app); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument %s (see --help)\n", prog, argv[optind]);
        fn_app_free(app);
        return 2;
    }

    struct rt *rt = calloc(1, sizeof *rt);
    if (!rt) { fn_app_free(app); return 1; }
    rt->app = app;
    rt->max_body = DEFAULT_MAX_BODY;
    int exit_code = 2;
    char err[512] = "";
    const char *azure_port = getenv("FUNCTIONS_CUSTOMHANDLER_PORT");
    if (mode) {
        if (!strcmp(mode, "azure")) rt->mode = RT_AZURE;
        else if (!strcmp(mode, "local")) rt->mode = RT_LOCAL;
        else if (!strcmp(mode, "openfaas")) rt->mode = RT_OPENFAAS;
        else { snprintf(err, sizeof err, "unknown mode %s (openfaas, azure or local)", mode); goto out; }
    } else if (azure_port && *azure_port) rt->mode = RT_AZURE;
    else if (port_arg) rt->mode = RT_LOCAL;
    else rt->mode = RT_OPENFAAS;

    unsigned port = 8080;
    const char *port_src = port_arg;
    if (!port_src) port_src = rt->mode == RT_AZURE ? azure_port : getenv("port");
    if (port_src && *port_src && parse_port(port_src, &port)) {
        snprintf(err, sizeof err, "port %s is not a port number", port_src);
        goto out;
    }
    if (rt->mode == RT_AZURE && !port_src) { snprintf(err, sizeof err, "Azure mode needs FUNCTIONS_CUSTOMHANDLER_PORT or --port"); goto out; }
    if (!listen) listen = rt->mode == RT_OPENFAAS ? "0.0.0.0" : "127.0.0.1";
    if (body_arg && parse_size(body_arg, &rt->max_body)) {
        snprintf(err, sizeof err, "max body %s is not a size in bytes (1..2^31)", body_arg);
        goto out;
    }
    if (app->nfuncs == 0) { snprintf(err, sizeof err, "the app has no functions"); goto out; }
    if (fname && *fname) {
        if (!(rt->default_fn = app_find(app, fname))) {
            snprintf(err, sizeof err, "no function named %s in the app", fname);
            goto out;
        }
    } else if (app->nfuncs == 1) rt->default_fn = &app->funcs[0];

    struct httpd_route routes[8];
    if (rt->mode == RT_AZURE) {
        if (!script_root) script_root = getenv("AzureWebJobsScriptRoot");
        if (!script_root && access("host.json", F_OK) == 0) script_root = ".";
        if (script_root && *script_root) {
            int mism = azure_load_bindings(rt, script_root, err, sizeof err);
            if (mism < 0) { exit_code = 1; goto out; }
            log_info("function.json files read", "root=%s functions=%zu mismatches=%d",
                     script_root, rt->nbindings, mism);
        }
        azure_routes(rt, routes);
    } else {
        if (openfaas_config(rt, err, sizeof err)) goto out;
        if (rt->mode == RT_OPENFAAS) {
            /* the of-watchdog's defaults */
            if (!getenv("exec_timeout")) rt->exec_timeout = 10;
            if (!getenv("read_timeout")) rt->read_timeout = 10;
            if (!getenv("write_timeout")) rt->write_timeout = 10;
            if (!getenv("healthcheck_interval")) rt->healthcheck_interval = rt->write_timeout;
        } else {
            rt->suppress_lock = 1;
        }
        openfaas_routes(rt, routes);
    }

    exit_code = 1;
    httpd_block_signals();          /* before any thread starts: they inherit the mask */
    struct tracing *tr = NULL;
    if (tracing_start(app, &tr, err, sizeof err) < 0) goto out;

    /* I/O threads: quick functions run on them, the others are handed to threads */
    unsigned io_threads = 2 * (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (io_threads < 4) io_threads = 4;
    const char *iot = getenv("FNHANDLER_THREADS");
    if (iot && *iot) {
        size_t v;
        if (parse_size(iot, &v) || v > 256) {
            snprintf(err, sizeof err, "FNHANDLER_THREADS=%s is not a thread count (1..256)", iot);
            exit_code = 2;
            tracing_stop(tr);
            goto out;
        }
        io_threads = (unsigned)v;
    }
    /* libmicrohttpd keeps a request's headers in its per-connection pool and zeroes the
     * whole pool after every keep-alive request: the pool is the header limit and its
     * size is paid per request (FNHANDLER_HEADER_BYTES; default libmicrohttpd's 32 KiB) */
    size_t header_bytes = 0;
    const char *hb = getenv("FNHANDLER_HEADER_BYTES");
    if (hb && *hb && (parse_size(hb, &header_bytes) || header_bytes < 4096 || header_bytes > (1u << 20))) {
        snprintf(err, sizeof err, "FNHANDLER_HEADER_BYTES=%s is not a size (4096..1048576)", hb);
        exit_code = 2;
        tracing_stop(tr);
        goto out;
    }
    rt->handoff = 1;
    struct httpd_opts ho = {
        .listen = listen,
        .port = (uint16_t)port,
        .flags = HTTPD_ALLOW_SUSPEND | (getenv("FNHANDLER_ACCESS_LOG") ? 0 : HTTPD_QUIET),
        .threads = io_threads,
        .timeout_s = rt->read_timeout > 0 ? (unsigned)(rt->read_timeout + 0.999) : 60,
        .name = app->name,
        .conn_memory = header_bytes,
    };
    httpd *srv = httpd_start(&ho, routes, err, sizeof err);
    if (!srv) { tracing_stop(tr); goto out; }
    if (rt->mode == RT_OPENFAAS) {
        if (openfaas_lock(rt, err, sizeof err)) { httpd_stop(srv); tracing_stop(tr); goto out; }
    } else {
        atomic_store(&rt->healthy, 1);
    }
    log_info("serving", "app=%s mode=%s listen=%s port=%u functions=%zu default=%s exec_timeout_s=%.3f max_inflight=%u",
             app->name, mode_name(rt->mode), listen, (unsigned)httpd_port(srv), app->nfuncs,
             rt->default_fn ? rt->default_fn->name : "-", rt->exec_timeout, rt->max_inflight);

    int sig;
    while ((sig = httpd_wait_signal(-1)) == 0) {}
    log_info("draining", "signal=%s inflight=%u", strsignal(sig), httpd_inflight(srv));
    int cut = 0;
    if (rt->mode == RT_OPENFAAS) {
        openfaas_unlock(rt);
        cut = wait_or_signal(rt->healthcheck_interval);
    }
    httpd_quiesce(srv);
    double grace = rt->write_timeout > 0 ? rt->write_timeout : 10;
    uint64_t end = invlog_now_ns() + (uint64_t)(grace * 1e9);
    while (!cut && (httpd_inflight(srv) > 0 || atomic_load(&app->running) > 0) &&
           invlog_now_ns() < end)
        cut = wait_or_signal(0.05);
    unsigned left = httpd_inflight(srv), running = atomic_load(&app->running);
    /* parked requests must be answered before the server stops: leave it to exit then */
    if (!left) httpd_stop(srv);
    tracing_stop(tr);
    log_info("stopped", "app=%s unfinished_requests=%u running_functions=%u", app->name, left, running);
    exit_code = 0;
    if (running || left) {  /* a function still holds the app: leave it be */
        free(rt->bindings);
        free(rt);
        return exit_code;
    }

out:
    if (err[0] && exit_code) log_error("cannot serve", "app=%s reason=\"%s\"", app->name, err);
    free(rt->bindings);
    free(rt);
    fn_app_free(app);
    return exit_code;
}
