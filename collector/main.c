/* fntrace-collector — receives uploaded traces and stores them (see collector.h).
 * This file only parses the command line, reads the token and TLS files and runs the
 * signal/tick loop. */
#include "collector.h"
#include "httpd.h"
#include "idxfile.h"
#include "log.h"
#include "readfile.h"
#include "units.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] =
    "usage: fntrace-collector [options]\n"
    "  --listen ADDR        address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
    "  --port N             port (default 8081)\n"
    "  --store SPEC         where traces go: dir:PATH or azblob://ACCOUNT/CONTAINER\n"
    "                       (Azure Blob Storage; credentials from\n"
    "                       AZURE_STORAGE_CONNECTION_STRING, else AZURE_STORAGE_KEY or\n"
    "                       AZURE_STORAGE_SAS_TOKEN)\n"
    "  --dir DIR            short for --store dir:DIR (default ./traces)\n"
    "  --store-allow-http   let a blob store endpoint be plain http beyond loopback\n"
    "  --token-file F       uploads, deletes and reads (listing, downloading) need\n"
    "                       `Authorization: Bearer TOKEN`, TOKEN being the first line of F\n"
    "                       (without it: uploads and reads are open, deletes refused)\n"
    "  --public-read        with --token-file: listing and downloading need no token\n"
    "                       (traces show code paths and command lines)\n"
    "  --max-body BYTES     largest upload (default 100M; 0: no limit)\n"
    "  --max-inflated BYTES largest trace a gzip upload may inflate to (default 8 x\n"
    "                       --max-body; 0: no limit): a gzip bomb is cut off there, 413\n"
    "  --max-bytes BYTES    keep the store under this size, oldest traces go first\n"
    "  --max-age DURATION   remove traces older than this (90s, 30m, 12h, 7d)\n"
    "  --max-conns N        concurrent connections (default 1024)\n"
    "  --threads N          worker threads (default 8)\n"
    "  --tls-cert F --tls-key F   serve HTTPS with this PEM certificate and key\n"
    "  --no-fsync           do not fsync stored traces (benchmarks, throwaway stores)\n"
    "  --index-dir DIR      write fntrace-flamescope's index file of each trace there\n"
    "                       after it is stored (default DIR/.index inside --dir)\n"
    "  --no-index           write no index files (the viewer indexes on first open)\n"
    "  --quiet              no access log\n"
    "Sizes take K, M, G, T suffixes (powers of 1024).\n";

/* A whole small file (lib/readfile.h), or NULL with the reason in err. */
static char *slurp(const char *path, size_t max, char *err, size_t errlen)
{
    char *buf;
    return read_small_file(path, max, &buf, NULL, err, errlen) < 0 ? NULL : buf;
}

static char *read_token(const char *path, char *err, size_t errlen)
{
    char *t = slurp(path, 4096, err, errlen);
    if (!t) return NULL;
    t[strcspn(t, "\r\n")] = 0;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) t[--n] = 0;
    if (!n) {
        snprintf(err, errlen, "%s: the first line (the token) is empty", path);
        free(t);
        return NULL;
    }
    return t;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
    uint64_t v;
    if (units_uint(s, max, &v) < 0) return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_PORT, O_DIR, O_TOKEN, O_MAX_BODY, O_MAX_BYTES, O_MAX_AGE,
           O_MAX_CONNS, O_THREADS, O_CERT, O_KEY, O_NO_FSYNC, O_QUIET, O_VERSION, O_STORE,
           O_STORE_HTTP, O_INDEX_DIR, O_NO_INDEX, O_MAX_INFLATED, O_PUBLIC_READ };
    static const struct option lopts[] = {
        { "listen", required_argument, 0, O_LISTEN }, { "port", required_argument, 0, O_PORT },
        { "dir", required_argument, 0, O_DIR }, { "token-file", required_argument, 0, O_TOKEN },
        { "max-body", required_argument, 0, O_MAX_BODY },
        { "max-bytes", required_argument, 0, O_MAX_BYTES },
        { "max-age", required_argument, 0, O_MAX_AGE },
        { "max-conns", required_argument, 0, O_MAX_CONNS },
        { "threads", required_argument, 0, O_THREADS },
        { "tls-cert", required_argument, 0, O_CERT }, { "tls-key", required_argument, 0, O_KEY },
        { "no-fsync", no_argument, 0, O_NO_FSYNC }, { "quiet", no_argument, 0, O_QUIET },
        { "version", no_argument, 0, O_VERSION }, { "store", required_argument, 0, O_STORE },
        { "store-allow-http", no_argument, 0, O_STORE_HTTP },      /* in enum order */
        { "index-dir", required_argument, 0, O_INDEX_DIR },
        { "no-index", no_argument, 0, O_NO_INDEX },
        { "max-inflated", required_argument, 0, O_MAX_INFLATED },
        { "public-read", no_argument, 0, O_PUBLIC_READ },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    struct collector_opts o = { .dir = "./traces", .port = 8081, .max_body = 100ull << 20 };
    const char *token_file = NULL, *cert_file = NULL, *key_file = NULL, *index_dir = NULL;
    int no_index = 0;
    int inflated_set = 0;
    char err[512];
    int opt;
    unsigned u;
    while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        switch (opt) {
        case O_LISTEN: o.listen = optarg; break;
        case O_PORT:
            if (parse_uint(optarg, 65535, &u)) goto bad;
            o.port = (uint16_t)u;
            break;
        case O_DIR: o.dir = optarg; o.store = NULL; break;
        case O_STORE: o.store = optarg; break;
        case O_STORE_HTTP: o.store_allow_http = 1; break;
        case O_TOKEN: token_file = optarg; break;
        case O_MAX_BODY: if (units_size(optarg, &o.max_body)) goto bad; break;
        case O_MAX_INFLATED:
            if (units_size(optarg, &o.max_inflated)) goto bad;
            inflated_set = 1;
            break;
        case O_MAX_BYTES: if (units_size(optarg, &o.max_bytes)) goto bad; break;
        case O_MAX_AGE: if (units_duration_s(optarg, &o.max_age_s)) goto bad; break;
        case O_MAX_CONNS:
            if (parse_uint(optarg, 1000000, &o.max_conns) || !o.max_conns) goto bad;
            break;
        case O_THREADS: if (parse_uint(optarg, 1024, &o.threads) || !o.threads) goto bad; break;
        case O_CERT: cert_file = optarg; break;
        case O_KEY: key_file = optarg; break;
        case O_NO_FSYNC: o.no_fsync = 1; break;
        case O_QUIET: o.quiet = 1; break;
        case O_PUBLIC_READ: o.public_read = 1; break;
        case O_INDEX_DIR: index_dir = optarg; break;
        case O_NO_INDEX: no_index = 1; break;
        case O_VERSION: printf("fntrace-collector %s\n", FNTRACE_VERSION); return 0;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        bad:
            fprintf(stderr, "fntrace-collector: bad value \"%s\" for --%s\n%s", optarg,
                    lopts[opt - O_LISTEN].name, usage);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fntrace-collector: unexpected argument %s\n%s", argv[optind], usage);
        return 2;
    }
    if (!inflated_set) o.max_inflated = o.max_body * 8;
    if (!cert_file != !key_file) {
        fprintf(stderr, "fntrace-collector: --tls-cert and --tls-key go together\n");
        return 2;
    }
    char *token = NULL, *cert = NULL, *key = NULL;
    if (token_file && !(token = read_token(token_file, err, sizeof err))) goto fail;
    if (cert_file && (!(cert = slurp(cert_file, 1 << 20, err, sizeof err)) ||
                      !(key = slurp(key_file, 1 << 20, err, sizeof err))))
        goto fail;
    char defidx[4096];
    if (!index_dir)
        index_dir = idxfile_default_dir(o.store, o.dir, defidx, sizeof defidx);
    o.index_dir = no_index ? NULL : index_dir;
    o.token = token;
    o.tls_cert_pem = cert;
    o.tls_key_pem = key;
    if (o.max_bytes && o.max_body > o.max_bytes)
        log_warn("--max-body is over --max-bytes: a trace that large evicts everything",
                 "max_body=%llu max_bytes=%llu",
                 (unsigned long long)o.max_body, (unsigned long long)o.max_bytes);

    /* each upload in flight holds a socket and a temporary file: allow what the hard
     * limit allows (the soft default, 1024, is less than --max-conns' default times 2) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    httpd_block_signals();
    struct collector *c = collector_start(&o, err, sizeof err);
    if (!c) goto fail;
    log_info("listening", "addr=%s port=%u store=%s tls=%d token=%d fsync=%d",
             o.listen ? o.listen : "127.0.0.1", (unsigned)collector_port(c),
             store_describe(c->st), cert != NULL, token != NULL, !o.no_fsync);
    int sig;
    while (!(sig = httpd_wait_signal(1000))) collector_tick(c);
    log_info("stopping", "signal=%d", sig);
    httpd_drain(c->srv, 10, NULL, NULL);
    collector_stop(c);
    free(token); free(cert); free(key);
    return 0;
fail:
    fprintf(stderr, "fntrace-collector: %s\n", err);
    free(token); free(cert); free(key);
    return 1;
}
