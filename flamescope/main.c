/* fntrace-flamescope — serves FlameScope's API, fntrace's /api/v1/ and the web UI over
 * the profiles of a trace store (see routes.h).  This file parses the command line, opens
 * the store, starts the server and waits for SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "routes.h"
#include "idxfile.h"
#include "fterr.h"
#include "httpd.h"
#include "log.h"
#include "store.h"
#include "units.h"

static const char usage[] =
    "usage: fntrace-flamescope [options]\n"
    "  --listen ADDR      address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
    "  --port N           port (default 5000; 0 picks a free one)\n"
    "  --store SPEC       the collector's store: dir:PATH or azblob://ACCOUNT/CONTAINER\n"
    "                     (credentials as for fntrace-collector)\n"
    "  --dir DIR          short for --store dir:DIR (default ./traces)\n"
    "  --blob-cache DIR   local copies of blobs read from a blob store (default\n"
    "                     $TMPDIR/fntrace-flamescope-UID)\n"
    "  --blob-cache-size SIZE  bound of that cache (default 4G)\n"
    "  --list-ttl-ms N    a blob store's listing is reused this long (default 2000)\n"
    "  --store-allow-http let a blob store endpoint be plain http beyond loopback\n"
    "  --cache SIZE       memory for cached profile indexes (default 1G)\n"
    "  --max-profile SIZE largest profile text to index, after gunzip (default 4G;\n"
    "                     0: no limit)\n"
    "  --cache-mb N, --max-profile-mb N   the same in MiB (older spelling)\n"
    "Sizes take K, M, G, T suffixes (powers of 1024).\n"
    "  --index-dir DIR    index files, one per trace, loaded instead of parsing the\n"
    "                     trace again (default DIR/.index inside --dir)\n"
    "  --no-index         keep indexes in memory only (no index files)\n"
    "  --threads N        worker threads (default 4)\n"
    "  --quiet            no access log\n";

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    return units_uint(s, max, out) < 0 ? -1 : 0;
}

/* A size option (lib/units: 512M, 4G) in MiB, at most max MiB. */
static int parse_mib(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (units_size(s, &v) < 0 || v / (1u << 20) > max) return -1;
    *out = v >> 20;
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_PORT, O_DIR, O_CACHE, O_MAXPROF, O_THREADS, O_QUIET, O_VERSION,
           O_CACHE_SIZE, O_MAXPROF_SIZE, O_STORE, O_BCACHE, O_BCACHE_SIZE, O_TTL, O_HTTP,
           O_INDEX_DIR, O_NO_INDEX };
    static const struct option lopts[] = {
        {"listen", required_argument, 0, O_LISTEN},
        {"port", required_argument, 0, O_PORT},
        {"dir", required_argument, 0, O_DIR},
        {"cache-mb", required_argument, 0, O_CACHE},
        {"max-profile-mb", required_argument, 0, O_MAXPROF},
        {"threads", required_argument, 0, O_THREADS},
        {"quiet", no_argument, 0, O_QUIET},
        {"version", no_argument, 0, O_VERSION},
        {"cache", required_argument, 0, O_CACHE_SIZE},
        {"max-profile", required_argument, 0, O_MAXPROF_SIZE},
        {"store", required_argument, 0, O_STORE},
        {"blob-cache", required_argument, 0, O_BCACHE},
        {"blob-cache-size", required_argument, 0, O_BCACHE_SIZE},
        {"list-ttl-ms", required_argument, 0, O_TTL},
        {"store-allow-http", no_argument, 0, O_HTTP},
        {"index-dir", required_argument, 0, O_INDEX_DIR},
        {"no-index", no_argument, 0, O_NO_INDEX},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *listen = "127.0.0.1", *dir = "./traces", *spec = NULL, *bcache = NULL;
    uint64_t port = 5000, cache_mb = 1024, maxprof_mb = 4096, threads = 4, bcache_mb = 4096,
             ttl_ms = 2000;
    const char *index_dir = NULL;
    int quiet = 0, allow_http = 0, no_index = 0, opt;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case O_LISTEN: listen = optarg; break;
        case O_PORT: if (parse_u64(optarg, 65535, &port)) goto bad; break;
        case O_DIR: dir = optarg; spec = NULL; break;
        case O_STORE: spec = optarg; break;
        case O_BCACHE: bcache = optarg; break;
        case O_BCACHE_SIZE:
            if (parse_mib(optarg, 1u << 24, &bcache_mb) || !bcache_mb) goto bad;
            break;
        case O_TTL: if (parse_u64(optarg, 3600000, &ttl_ms)) goto bad; break;
        case O_HTTP: allow_http = 1; break;
        case O_CACHE: if (parse_u64(optarg, 1u << 20, &cache_mb)) goto bad; break;
        case O_MAXPROF: if (parse_u64(optarg, 1u << 24, &maxprof_mb)) goto bad; break;
        case O_THREADS: if (parse_u64(optarg, 256, &threads) || !threads) goto bad; break;
        case O_CACHE_SIZE: if (parse_mib(optarg, 1u << 20, &cache_mb)) goto bad; break;
        case O_MAXPROF_SIZE: if (parse_mib(optarg, 1u << 24, &maxprof_mb)) goto bad; break;
        case O_QUIET: quiet = 1; break;
        case O_INDEX_DIR: index_dir = optarg; break;
        case O_NO_INDEX: no_index = 1; break;
        case O_VERSION: printf("fntrace-flamescope %s\n", FNTRACE_VERSION); return 0;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        bad:
            fprintf(stderr, "fntrace-flamescope: bad value \"%s\" for --%s\n%s", optarg,
                    lopts[opt - O_LISTEN].name, usage);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fntrace-flamescope: unexpected argument %s\n%s", argv[optind], usage);
        return 2;
    }
    /* Indexes, flame graph JSON and build tables are large and short-lived: a fixed
     * mmap threshold gives them back to the system when freed (glibc would otherwise
     * raise the threshold and keep them in per-thread arenas, so memory would grow
     * with every thread that once built a big index). */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    char err[512], dirspec[4096], cachedir[4096];
    snprintf(dirspec, sizeof dirspec, "dir:%s", dir);
    if (!bcache) {
        const char *tmp = getenv("TMPDIR");
        snprintf(cachedir, sizeof cachedir, "%s/fntrace-flamescope-%u", tmp && *tmp ? tmp : "/tmp",
                 (unsigned)getuid());
        bcache = cachedir;
    }
    struct store_opts so = {
        .allow_http = allow_http,
        .cache_dir = bcache,
        .cache_bytes = bcache_mb << 20,
        .list_ttl_ms = (int)ttl_ms,
        .no_create = 1,
    };
    int code = 0;
    store *st = store_open_spec(spec ? spec : dirspec, &so, &code, err, sizeof err);
    if (!st) {
        log_error("cannot open the store", "store=%s error=\"%s\"", spec ? spec : dirspec, err);
        return 1;
    }
    char defidx[4096];
    int dir_store = !spec || strncmp(spec, "dir:", 4) == 0;
    if (!index_dir)
        index_dir = idxfile_default_dir(spec, dir, defidx, sizeof defidx);
    if (!index_dir && snprintf(defidx, sizeof defidx, "%s/.index", bcache) < (int)sizeof defidx)
        index_dir = defidx;                 /* a blob store's: in the blob cache */
    struct routes_opts ao = {
        .cache_bytes = (size_t)cache_mb << 20,
        .max_text = maxprof_mb << 20,
        .index_dir = no_index ? NULL : index_dir,
        .index_by_version = !dir_store,     /* an ETag changes with every write */
    };
    if (ao.index_dir) {                     /* the index files of traces deleted meanwhile */
        int gc = idxfile_gc(ao.index_dir, st);
        if (gc > 0)
            log_info("index files of deleted traces removed", "count=%d", gc);
        else if (gc < 0)
            log_warn("index files not collected", "error=\"%s\"", ft_strerror(gc));
    }
    routes *a = routes_new(st, &ao);
    if (!a) {
        log_error("out of memory", "%s", "");
        store_close(st);
        return 1;
    }
    struct httpd_opts ho = {
        .listen = listen,
        .port = (uint16_t)port,
        .threads = (unsigned)threads,
        .flags = quiet ? HTTPD_QUIET : 0,
        .name = "flamescope",
    };
    httpd_block_signals();
    httpd *srv = httpd_start(&ho, routes_table(a), err, sizeof err);
    if (!srv) {
        log_error("cannot start the server", "error=\"%s\"", err);
        routes_free(a);
        store_close(st);
        return 1;
    }
    log_info("listening", "addr=%s port=%u store=%s cache_mb=%llu index_dir=%s", listen,
             (unsigned)httpd_port(srv), store_describe(st), (unsigned long long)cache_mb,
             ao.index_dir ? ao.index_dir : "none");
    int sig = httpd_wait_signal(-1);
    log_info("stopping", "signal=%d", sig);
    httpd_drain(srv, 10, NULL, NULL);
    httpd_stop(srv);
    routes_free(a);
    store_close(st);
    return 0;
}
