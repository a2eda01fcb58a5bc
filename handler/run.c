/* run — fn_app_run: reads the command line (parse_cli), picks the mode and applies what
 * every mode shares (config_common), then that mode's own config step from the modes[]
 * table (config_openfaas, config_local, config_azure: a new mode is one function and one
 * row), starts the server with the mode's routes, waits for SIGINT/SIGTERM and drains
 * (serve).
 *
 * Drain (every mode): the OpenFaaS mode first removes the lock file (health turns 503)
 * and keeps serving for healthcheck_interval so the platform stops routing here; then the
 * listening socket closes, requests in flight get up to write_timeout (10 s when unset)
 * to finish, and the server stops.  A second signal cuts the drain short. */
#define _GNU_SOURCE
#include "fnhandler.h"
#include "app.h"
#include "azure.h"
#include "bindings.h"
#include "log.h"
#include "openfaas.h"
#include "runtime.h"
#include "tracing.h"
#include "units.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)

static void usage(const fn_app *app, const char *prog, FILE *out)
{
    fprintf(out,
"usage: %s [--port N] [--listen ADDR] [--mode openfaas|azure|local] [--function NAME]\n"
"          [--script-root DIR] [--max-body SIZE] [--list] [--help]\n"
"       %s --azure-init DIR [--azure-exe PATH]\n"
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
"  --max-body SIZE     largest request body: bytes, or 512K, 10M (default 1M)\n"
"  --list              print the function names and exit\n"
"  --azure-init DIR    write the Azure script root from the bindings declared in the code:\n"
"                      DIR/host.json and DIR/FUNCTION/function.json, then exit\n"
"  --azure-exe PATH    host.json's defaultExecutablePath (default: this program's name)\n"
"environment:\n"
"  FUNCTIONS_CUSTOMHANDLER_PORT   Azure mode and its port\n"
"  port, exec_timeout, read_timeout, write_timeout, healthcheck_interval, max_inflight,\n"
"  suppress_lock                  OpenFaaS watchdog settings (durations: 10s, 500ms, 2m)\n"
"  FNHANDLER_LOCK_FILE            lock file (default /tmp/.lock)\n"
"  FNHANDLER_FUNCTION, FNHANDLER_MAX_BODY   as --function, --max-body\n"
"  FNHANDLER_THREADS              I/O threads (default one per CPU it may run on, at\n"
"                                 least 2)\n"
"  FNHANDLER_HEADER_BYTES         request header space per connection (default 32768)\n"
"  FNHANDLER_POOL_ZEROING=1       keep libmicrohttpd's zeroing of that space after each\n"
"                                 request (skipped by default: it is not needed)\n"
"  FNHANDLER_ACCESS_LOG=1         one log line per request\n"
"  FNTRACE=1, FNTRACE_SAMPLER, FNTRACE_FREQ, FNTRACE_COLLECTOR, FNTRACE_NAME,\n"
"  FNTRACE_WINDOW, FNTRACE_SPOOL,\n"
"  FNTRACE_INVOCATIONS\n"
"                                 in-process tracing (see the README)\n"
"  FNTRACE_LOG                    debug|info|warn|error\n",
            prog, prog, app->name);
}


/* httpd_drain's busy callback: functions still executing (timed-out ones included). */
static unsigned functions_running(void *arg)
{
    fn_app *app = arg;
    return atomic_load(&app->running) + atomic_load(&app->holds);
}

/* Waits up to secs, returning early (1) on a signal. */
static int wait_or_signal(double secs)
{
    int ms = (int)(secs * 1000);
    return ms > 0 && httpd_wait_signal(ms) > 0;
}

/* What the command line and the environment say, before any mode is applied. */
struct run_args {
    const char *prog, *listen, *mode, *script_root, *fname, *port_arg, *body_arg;
    const char *azure_init, *azure_exe;
};

/* --- the command line ----------------------------------------------------------------- */

/* Fills a; returns -1 to go on, else the exit code (after --help, --list, a usage error). */
static int parse_cli(fn_app *app, int argc, char **argv, struct run_args *a)
{
    static const struct option opts[] = {
        { "port", required_argument, 0, 'p' },     { "listen", required_argument, 0, 'l' },
        { "mode", required_argument, 0, 'm' },     { "function", required_argument, 0, 'f' },
        { "script-root", required_argument, 0, 's' }, { "max-body", required_argument, 0, 'b' },
        { "list", no_argument, 0, 'L' },           { "help", no_argument, 0, 'h' },
        { "azure-init", required_argument, 0, 'A' }, { "azure-exe", required_argument, 0, 'E' },
        { 0, 0, 0, 0 },
    };
    *a = (struct run_args){ .prog = argc > 0 ? argv[0] : "fnhandler",
                            .fname = getenv("FNHANDLER_FUNCTION"),
                            .body_arg = getenv("FNHANDLER_MAX_BODY") };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hp:", opts, NULL)) != -1) {
        switch (c) {
        case 'p': a->port_arg = optarg; break;
        case 'l': a->listen = optarg; break;
        case 'm': a->mode = optarg; break;
        case 'f': a->fname = optarg; break;
        case 's': a->script_root = optarg; break;
        case 'b': a->body_arg = optarg; break;
        case 'A': a->azure_init = optarg; break;
        case 'E': a->azure_exe = optarg; break;
        case 'L':
            for (size_t i = 0; i < app->nfuncs; i++)
                printf("%s\t%s\n", app->funcs[i].name, app->funcs[i].http ? "http" : "generic");
            return 0;
        case 'h': usage(app, a->prog, stdout); return 0;
        default: usage(app, a->prog, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument %s (see --help)\n", a->prog, argv[optind]);
        return 2;
    }
    if (a->azure_init) {
        const char *exe = a->azure_exe;
        if (!exe) exe = strrchr(a->prog, '/') ? strrchr(a->prog, '/') + 1 : a->prog;
        char err[512];
        if (bd_azure_init(app, a->azure_init, exe, stdout, err, sizeof err) < 0) {
            fprintf(stderr, "%s: --azure-init: %s\n", a->prog, err);
            return 1;
        }
        return 0;
    }
    return -1;
}

/* --- one config step per mode ------------------------------------------------------------ */

/* Azure: binding names from the script root's function.json files, when there is one. */
static int config_azure(struct rt *rt, const struct run_args *a, char *err, size_t errlen)
{
    const char *root = a->script_root;
    if (!root) root = getenv("AzureWebJobsScriptRoot");
    if (!root && access("host.json", F_OK) == 0) root = ".";
    if (root && *root) {
        int mism = azure_load_bindings(rt, root, err, errlen);
        if (mism < 0) return mism;
    }
    azure_routes(rt, rt->routes);
    return 0;
}

/* OpenFaaS: the watchdog's variables, with the of-watchdog's defaults for those unset. */
static int config_openfaas(struct rt *rt, const struct run_args *a, char *err, size_t errlen)
{
    int rc = openfaas_config(rt, err, errlen);
    if (rc < 0) return rc;
    if (!getenv("exec_timeout")) rt->exec_timeout = 10;
    if (!getenv("read_timeout")) rt->read_timeout = 10;
    if (!getenv("write_timeout")) rt->write_timeout = 10;
    if (!getenv("healthcheck_interval")) rt->healthcheck_interval = rt->write_timeout;
    openfaas_routes(rt, rt->routes);
    return 0;
}

/* Local: the OpenFaaS routes and variables, no lock file, no defaults. */
static int config_local(struct rt *rt, const struct run_args *a, char *err, size_t errlen)
{
    int rc = openfaas_config(rt, err, errlen);
    if (rc < 0) return rc;
    rt->suppress_lock = 1;
    openfaas_routes(rt, rt->routes);
    return 0;
}

static const struct mode {
    const char *name;
    enum rt_mode mode;
    const char *listen;             /* default address */
    int (*config)(struct rt *rt, const struct run_args *a, char *err, size_t errlen);
} modes[] = {
    { "openfaas", RT_OPENFAAS, "0.0.0.0", config_openfaas },
    { "local", RT_LOCAL, "127.0.0.1", config_local },
    { "azure", RT_AZURE, "127.0.0.1", config_azure },
};

/* The mode (--mode, else Azure's variable, else local with --port, else OpenFaaS) and
 * what every mode shares: port, listen address, body limit, default function. */
static const struct mode *config_common(struct rt *rt, const struct run_args *a,
                                        unsigned *port, char *err, size_t errlen)
{
    fn_app *app = rt->app;
    const char *azure_port = getenv("FUNCTIONS_CUSTOMHANDLER_PORT");
    enum rt_mode want = RT_OPENFAAS;
    if (a->mode) {
        size_t i = 0;
        while (i < sizeof modes / sizeof modes[0] && strcmp(a->mode, modes[i].name)) i++;
        if (i == sizeof modes / sizeof modes[0]) {
            snprintf(err, errlen, "unknown mode %s (openfaas, azure or local)", a->mode);
            return NULL;
        }
        want = modes[i].mode;
    } else if (azure_port && *azure_port) want = RT_AZURE;
    else if (a->port_arg) want = RT_LOCAL;
    const struct mode *m = &modes[0];
    while (m->mode != want) m++;
    rt->mode = m->mode;

    const char *port_src = a->port_arg;
    if (!port_src) port_src = rt->mode == RT_AZURE ? azure_port : getenv("port");
    uint64_t u;
    *port = 8080;
    if (port_src && *port_src) {
        if (units_uint(port_src, 65535, &u) < 0) {
            snprintf(err, errlen, "port %s is not a port number", port_src);
            return NULL;
        }
        *port = (unsigned)u;
    }
    if (rt->mode == RT_AZURE && !port_src) {
        snprintf(err, errlen, "Azure mode needs FUNCTIONS_CUSTOMHANDLER_PORT or --port");
        return NULL;
    }
    if (a->body_arg) {
        if (units_size(a->body_arg, &u) < 0 || u < 1 || u > (1ull << 31)) {
            snprintf(err, errlen, "max body %s is not a size (1..2G: bytes, 512K, 10M)",
                     a->body_arg);
            return NULL;
        }
        rt->max_body = (size_t)u;
    }
    if (app->nfuncs == 0) { snprintf(err, errlen, "the app has no functions"); return NULL; }
    if (a->fname && *a->fname) {
        if (!(rt->default_fn = app_find(app, a->fname))) {
            snprintf(err, errlen, "no function named %s in the app", a->fname);
            return NULL;
        }
    } else if (app->nfuncs == 1) rt->default_fn = &app->funcs[0];
    return m;
}

/* I/O threads: quick functions run on them, the others are handed to threads.  One per
 * CPU the process may run on (its affinity: taskset, a container's cpuset), at least two
 * so that one long parse never holds every connection: more threads than CPUs only
 * switch between each other at every request (hello pinned to one CPU: 0.89-0.95 of
 * the CPU per request with one or two threads against four). */
static int io_threads(unsigned *out, char *err, size_t errlen)
{
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                        : sysconf(_SC_NPROCESSORS_ONLN);
    *out = n < 2 ? 2 : (unsigned)n;
    const char *iot = getenv("FNHANDLER_THREADS");
    if (!iot || !*iot) return 0;
    uint64_t v;
    if (units_uint(iot, 256, &v) < 0 || v < 1) {
        snprintf(err, errlen, "FNHANDLER_THREADS=%s is not a thread count (1..256)", iot);
        return -FT_ERR_BAD_INPUT;
    }
    *out = (unsigned)v;
    return 0;
}

/* libmicrohttpd keeps a request's headers in its per-connection pool: the pool is the
 * header limit.  FNHANDLER_HEADER_BYTES sizes it; 0 (unset): libmicrohttpd's 32 KiB.
 * Its zeroing after every keep-alive request is skipped (lib/httpd.c, "Pool zeroing"),
 * so the size is no longer paid per request; FNHANDLER_POOL_ZEROING=1 keeps it. */
static int header_bytes(size_t *out, char *err, size_t errlen)
{
    *out = 0;
    const char *hb = getenv("FNHANDLER_HEADER_BYTES");
    if (!hb || !*hb) return 0;
    uint64_t v;
    if (units_size(hb, &v) < 0 || v < 4096 || v > (1u << 20)) {
        snprintf(err, errlen, "FNHANDLER_HEADER_BYTES=%s is not a size (4096..1048576)", hb);
        return -FT_ERR_BAD_INPUT;
    }
    *out = (size_t)v;
    return 0;
}

/* --- start, wait, drain ------------------------------------------------------------------ */

/* Serves until SIGINT/SIGTERM and drains.  Returns the exit code; *busy is set when a
 * request or a function still holds the app (the caller must not free it then). */
static int serve(struct rt *rt, const struct mode *m, const char *listen, unsigned port,
                 int *busy, char *err, size_t errlen)
{
    fn_app *app = rt->app;
    *busy = 0;
    unsigned threads;
    if (io_threads(&threads, err, errlen) < 0) return 2;
    size_t pool;
    if (header_bytes(&pool, err, errlen) < 0) return 2;
    httpd_block_signals();          /* before any thread starts: they inherit the mask */
    struct tracing *tr = NULL;
    if (tracing_start(app, &tr, err, errlen) < 0) return 1;
    rt->handoff = 1;
    struct httpd_opts ho = {
        .listen = listen,
        .port = (uint16_t)port,
        .flags = HTTPD_ALLOW_SUSPEND | (getenv("FNHANDLER_ACCESS_LOG") ? 0 : HTTPD_QUIET) |
                 (getenv("FNHANDLER_POOL_ZEROING") ? HTTPD_POOL_ZEROING : 0),
        .threads = threads,
        .timeout_s = rt->read_timeout > 0 ? (unsigned)(rt->read_timeout + 0.999) : 60,
        /* read_timeout bounds a request's headers as a whole, not only each silence */
        .header_timeout_ms = rt->read_timeout > 0 ? (unsigned)(rt->read_timeout * 1e3) : 0,
        .name = app->name,
        .conn_memory = pool,
    };
    httpd *srv = httpd_start(&ho, rt->routes, err, errlen);
    if (!srv) { tracing_stop(tr); return 1; }
    if (rt->mode == RT_OPENFAAS) {
        if (openfaas_lock(rt, err, errlen) < 0) { httpd_stop(srv); tracing_stop(tr); return 1; }
    } else {
        atomic_store(&rt->healthy, 1);
    }
    log_info("serving",
             "app=%s mode=%s listen=%s port=%u functions=%zu default=%s exec_timeout_s=%.3f "
             "max_inflight=%u pool_zeroing=\"%s\"",
             app->name, m->name, listen, (unsigned)httpd_port(srv), app->nfuncs,
             rt->default_fn ? rt->default_fn->name : "-", rt->exec_timeout, rt->max_inflight,
             httpd_pool_zeroing());

    int sig;
    while ((sig = httpd_wait_signal(-1)) == 0) {}
    log_info("draining", "signal=%s inflight=%u", strsignal(sig), httpd_inflight(srv));
    int cut = 0;
    if (rt->mode == RT_OPENFAAS) {
        openfaas_unlock(rt);
        cut = wait_or_signal(rt->healthcheck_interval);
    }
    double grace = rt->write_timeout > 0 ? rt->write_timeout : 10;
    unsigned left = httpd_drain(srv, cut ? 0 : grace, functions_running, app);
    unsigned running = atomic_load(&app->running) + atomic_load(&app->holds);
    /* parked requests must be answered before the server stops: leave it to exit then */
    if (!left) httpd_stop(srv);
    tracing_stop(tr);
    log_info("stopped", "app=%s unfinished_requests=%u running_functions=%u", app->name, left,
             running);
    *busy = running || left;
    return 0;
}

int fn_app_run(fn_app *app, int argc, char **argv)
{
    if (!app) return 1;
    struct run_args a;
    int exit_code = parse_cli(app, argc, argv, &a);
    if (exit_code >= 0) { fn_app_free(app); return exit_code; }

    struct rt *rt = calloc(1, sizeof *rt);
    if (!rt) { fn_app_free(app); return 1; }
    rt->app = app;
    rt->max_body = DEFAULT_MAX_BODY;
    char err[512] = "";
    unsigned port;
    int busy = 0;
    exit_code = 2;
    const struct mode *m = config_common(rt, &a, &port, err, sizeof err);
    int rc = m ? m->config(rt, &a, err, sizeof err) : 0;
    if (m && rc < 0) exit_code = rt->mode == RT_AZURE ? 1 : 2;   /* unreadable root : usage */
    if (m && rc == 0)
        exit_code = serve(rt, m, a.listen ? a.listen : m->listen, port, &busy, err, sizeof err);
    if (err[0] && exit_code) log_error("cannot serve", "app=%s reason=\"%s\"", app->name, err);
    if (busy) return exit_code;       /* a function still holds the app and rt: leave them */
    azure_free_bindings(rt);
    free(rt);
    fn_app_free(app);
    return exit_code;
}
