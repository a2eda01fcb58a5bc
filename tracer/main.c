/* fntrace — command line: `fntrace record` samples a process or a command and writes
 * perf-script text (or uploads it); `fntrace upload` sends existing files and drains the
 * spool.  Argument parsing and wiring only: the work is in record.c, tracer.c, uploader.c. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "fterr.h"
#include "log.h"
#include "record.h"
#include "units.h"
#include "uploader.h"
#include "tracename.h"

/* exit codes (documented in --help and docs/tracer.md) */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1,        /* recording or writing failed */
    EXIT_USAGE = 2,        /* bad arguments */
    EXIT_TARGET = 3,       /* target not found, not startable, or not traceable */
    EXIT_UPLOAD = 4,       /* upload refused, or failed with no spool */
    EXIT_PERM = 4,         /* the bpf backend is not permitted (no root, CAP_BPF...) */
    EXIT_SPOOLED = 75,     /* EX_TEMPFAIL: collector unreachable, trace kept in the spool */
};

/* The one table from a code (lib/fterr.h) to an exit code.  Any other negative code is
 * EXIT_UPLOAD when the upload failed and EXIT_ERROR otherwise; a positive count of
 * spooled traces is EXIT_SPOOLED. */
static const struct { int code, exit; } exit_codes[] = {
    { -FT_ERR_NO_TARGET, EXIT_TARGET },
    { -FT_ERR_STORE_DOWN, EXIT_UPLOAD },      /* unreachable and no spool */
    { -FT_ERR_UNAUTHORIZED, EXIT_UPLOAD },
    { -FT_ERR_TOO_LARGE, EXIT_UPLOAD },
    { -FT_ERR_BAD_INPUT, EXIT_UPLOAD },
    { -FT_ERR_BAD_NAME, EXIT_UPLOAD },
};

static int exit_code(int rc, int uploading)
{
    if (rc == 0) return EXIT_OK;
    if (rc > 0) return EXIT_SPOOLED;
    for (size_t i = 0; i < sizeof exit_codes / sizeof exit_codes[0]; i++)
        if (exit_codes[i].code == rc) return exit_codes[i].exit;
    return uploading ? EXIT_UPLOAD : EXIT_ERROR;
}

static const char usage_text[] =
"usage: fntrace record [-F HZ] [-d TIME] [-o FILE] [--user-only]\n"
"                      [--upload URL --name NAME [--spool DIR]] (-p PID | -- CMD [ARG...])\n"
"       fntrace record --backend bpf [-F HZ] [-d SECONDS] [-o FILE] [--upload ...]\n"
"                      (-p PID... | --cgroup PATH | -a | -- CMD [ARG...])\n"
"       fntrace agent --collector URL [--cgroup-root PATH] [--window SECONDS] [-F HZ]\n"
"       fntrace upload --name NAME [--spool DIR] URL [FILE...]\n"
"       fntrace --help | --version\n"
"\n"
"record: samples every thread of a process (and the threads and processes it starts)\n"
"with perf_event_open (software cpu-clock, frame-pointer callchains) and writes them as\n"
"`perf script --header` text.  No root and no perf tool needed: perf_event_paranoid <= 2\n"
"allows your own processes; kernel frames are recorded when the kernel permits.\n"
"  -F, --freq HZ          sampling frequency per thread (default 200)\n"
"  -d, --duration TIME    stop after this long: 30s, 1.5s, 500ms, 2m; a plain number is\n"
"                         seconds (default: when the target exits or on SIGINT/SIGTERM;\n"
"                         what was recorded is always written)\n"
"  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
"  -p, --pid PID          attach to a running process, all its threads\n"
"  -- CMD [ARG...]        start CMD and record it from its first instruction; when the\n"
"                         recording ends first, CMD gets SIGTERM\n"
"      --user-only        do not record kernel frames\n"
"      --backend perf|bpf the sampling backend: perf (default; perf_event_open per\n"
"                         thread, no privilege for your own processes) or bpf (one BPF\n"
"                         program on every CPU; root or CAP_BPF + CAP_PERFMON)\n"
"  -p PID...              bpf: -p may be repeated; forked children are followed\n"
"      --cgroup PATH      bpf: every process in a cgroup directory (v2 or v1) and below\n"
"  -a, --all              bpf: every process on the machine (idle excluded)\n"
"      --sampler NAME     --backend's other name; `timer` (POSIX CPU timers, no\n"
"                         perf_event_open) samples its own process only: it is the\n"
"                         handler's FNTRACE_SAMPLER=timer and the tracer library's\n"
"                         TRACER_SAMPLER_TIMER, not a way to record another process\n"
"      --upload URL       POST the trace to a collector (with X-name: NAME, gzip when\n"
"                         accepted, retries with backoff); with -o, also keep the file\n"
"      --name NAME        trace name: " TRACE_NAME_RULE "\n"
"      --spool DIR        keep traces that could not be delivered in DIR (bounded) and\n"
"                         send them first next time\n"
"      --spool-max-bytes SIZE  spool bound: bytes, or 512K, 10M, 1G (default 64M)\n"
"      --retries N        tries per upload (default 3)\n"
"\n"
"upload: sends FILEs (perf-script text) to URL, after what the spool holds; with no\n"
"FILE it only drains the spool.\n"
"\n"
"agent: one per node; samples every process (or those under --cgroup-root) with the\n"
"bpf backend, splits the samples by container and uploads one trace per container\n"
"and window, named after the container (Docker name, OpenFaaS function label, else\n"
"the cgroup leaf).  SIGTERM/SIGINT uploads what it holds, then exits.\n"
"      --collector URL    where traces go (POST, X-name: container name)\n"
"      --cgroup-root PATH only processes in this cgroup directory and below\n"
"      --window SECONDS   one trace per container every SECONDS (default 10)\n"
"      --spool DIR        keep undeliverable traces (bounded), send them first\n"
"      --docker-sock PATH Docker's API socket, asked first for container names\n"
"                         (default /var/run/docker.sock)\n"
"      --docker-root DIR  Docker's data root, whose containers/ID/config.v2.json\n"
"                         names a container the socket does not (default\n"
"                         /var/lib/docker)\n"
"\n"
"exit status: 0 ok, 1 recording/writing failed, 2 usage, 3 target cannot be traced,\n"
"4 upload refused (or failed without --spool), or the bpf backend not permitted,\n"
"75 collector unreachable: kept in spool.\n"
"Environment: FNTRACE_LOG=debug|info|warn|error.\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

/* why `fntrace record` has no timer sampler (tracer/timer_sampler.h) */
static const char timer_in_process[] =
    "the timer sampler works in-process only (a SIGPROF handler inside the sampled "
    "program): use FNTRACE_SAMPLER=timer in the handler runtime, or link the tracer "
    "library; fntrace record samples other processes with --sampler perf";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "fntrace: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'fntrace --help'.\n");
    return EXIT_USAGE;
}

enum { OPT_UPLOAD = 256, OPT_NAME, OPT_SPOOL, OPT_USER_ONLY, OPT_BACKEND, OPT_SPOOL_MAX,
       OPT_RETRIES, OPT_CGROUP, OPT_COLLECTOR, OPT_CGROUP_ROOT, OPT_WINDOW,
       OPT_DOCKER_ROOT, OPT_SAMPLER, OPT_DOCKER_SOCK };

static const struct option long_opts[] = {
    { "freq", required_argument, NULL, 'F' },
    { "duration", required_argument, NULL, 'd' },
    { "output", required_argument, NULL, 'o' },
    { "pid", required_argument, NULL, 'p' },
    { "upload", required_argument, NULL, OPT_UPLOAD },
    { "name", required_argument, NULL, OPT_NAME },
    { "spool", required_argument, NULL, OPT_SPOOL },
    { "spool-max-bytes", required_argument, NULL, OPT_SPOOL_MAX },
    { "retries", required_argument, NULL, OPT_RETRIES },
    { "user-only", no_argument, NULL, OPT_USER_ONLY },
    { "backend", required_argument, NULL, OPT_BACKEND },
    { "cgroup", required_argument, NULL, OPT_CGROUP },
    { "all", no_argument, NULL, 'a' },
    { "collector", required_argument, NULL, OPT_COLLECTOR },
    { "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
    { "window", required_argument, NULL, OPT_WINDOW },
    { "docker-root", required_argument, NULL, OPT_DOCKER_ROOT },
    { "docker-sock", required_argument, NULL, OPT_DOCKER_SOCK },
    { "sampler", required_argument, NULL, OPT_SAMPLER },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* A number lo..hi in the lib/units grammar (no suffix); 0 or -1. */
static int parse_count(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    return units_uint(s, hi, out) < 0 || *out < lo ? -1 : 0;
}

/* The options `record --upload` and `upload` share; 0, or -1 after a usage error. */
static int upload_option(int opt, const char *arg, upload_opts *uo)
{
    uint64_t v;
    switch (opt) {
    case OPT_NAME: uo->name = arg; return 0;
    case OPT_SPOOL: uo->spool_dir = arg; return 0;
    case OPT_SPOOL_MAX:
        if (units_size(arg, &v) < 0 || v < 1) { usage_error("invalid size: %s", arg); return -1; }
        uo->spool_max_bytes = v;
        return 0;
    case OPT_RETRIES:
        if (parse_count(arg, 1, 100, &v)) { usage_error("invalid retries: %s", arg); return -1; }
        uo->attempts = (int)v;
        return 0;
    }
    return -1;
}

static int exit_for_upload(int rc, const char *err)
{
    if (rc > 0) log_warn("upload deferred", "reason=\"%s\"", err);
    if (rc < 0) log_error("upload failed", "reason=\"%s\" error=\"%s\"", err, ft_strerror(rc));
    return exit_code(rc, 1);
}

static int cmd_record(int argc, char **argv)
{
    record_opts ro = { .freq = 200 };
    upload_opts uo = { 0 };
    const char *url = NULL;
    int extra_pids[64];
    size_t nextra = 0;
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+F:d:o:p:ah", long_opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if (parse_count(optarg, 1, 100000, &v))
                return usage_error("invalid frequency: %s", optarg);
            ro.freq = (int)v;
            break;
        case 'd':
            if (units_seconds(optarg, &ro.duration) < 0 || !(ro.duration > 0) || ro.duration > 1e7)
                return usage_error("invalid duration: %s", optarg);
            break;
        case 'o': ro.output = optarg; break;
        case 'p':
            if (parse_count(optarg, 1, 0x7fffffff, &v))
                return usage_error("invalid pid: %s", optarg);
            if (!ro.pid) ro.pid = (int)v;
            else if (nextra < sizeof extra_pids / sizeof *extra_pids) extra_pids[nextra++] = (int)v;
            else return usage_error("%s", "at most 65 -p");
            break;
        case 'a': ro.all = 1; break;
        case OPT_CGROUP: ro.cgroup = optarg; break;
        case OPT_UPLOAD: url = optarg; break;
        case OPT_NAME: case OPT_SPOOL: case OPT_SPOOL_MAX: case OPT_RETRIES:
            if (upload_option(c, optarg, &uo)) return EXIT_USAGE;
            break;
        case OPT_USER_ONLY: ro.user_only = 1; break;
        case OPT_BACKEND:
        case OPT_SAMPLER:                       /* --sampler NAME: --backend's other name */
            if (!strcmp(optarg, "bpf")) ro.sampler = TRACER_SAMPLER_BPF;
            else if (!strcmp(optarg, "perf")) ro.sampler = TRACER_SAMPLER_PERF;
            else if (!strcmp(optarg, "timer")) return usage_error("%s", timer_in_process);
            else return usage_error("unknown backend: %s", optarg);
            break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage_error("%s", "invalid option");
        }
    }
    if (optind < argc) ro.argv = argv + optind;
    ro.pids = extra_pids;
    ro.npids = nextra;
    int ntargets = !!ro.pid + !!ro.argv + !!ro.cgroup + ro.all;
    if (ro.sampler == TRACER_SAMPLER_BPF) {
        if (ntargets != 1)
            return usage_error("%s", "give one of -p PID..., --cgroup PATH, -a or -- CMD");
        if (ro.user_only) return usage_error("%s", "--user-only goes with --backend perf");
    } else {
        if (ro.cgroup || ro.all || nextra)
            return usage_error("%s", "-a, --cgroup and several -p need --backend bpf");
        if (ntargets != 1) return usage_error("%s", "give either -p PID or -- CMD");
    }
    if (url) {
        if (!trace_name_valid(uo.name))
            return usage_error("%s", "--upload needs --name NAME (" TRACE_NAME_RULE ")");
        uo.url = url;
        ro.upload = &uo;
    } else if (uo.name || uo.spool_dir) {
        return usage_error("%s", "--name and --spool go with --upload");
    }
    ro.stop = &stop_flag;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    record_result res;
    int rc = record_run(&ro, &res);
    if (rc == -FT_ERR_NO_TARGET) {
        log_error("cannot trace", "reason=\"%s\"", res.err);
        return exit_code(rc, 0);
    }
    if (rc == -EPERM) {
        log_error("not permitted", "reason=\"%s\"", res.err);
        return EXIT_PERM;
    }
    if (rc < 0 && !res.upload_failed && !res.seconds) {   /* -o refused before sampling */
        log_error("cannot write the trace; nothing recorded", "reason=\"%s\"", res.err);
        return EXIT_ERROR;
    }
    log_info("recorded", "samples=%llu lost=%llu seconds=%.3f kernel_frames=%s events=%u%s%s",
             (unsigned long long)res.stats.samples, (unsigned long long)res.stats.lost,
             res.seconds, res.stats.kernel_frames ? "yes" : "no", res.stats.events,
             res.stats.core_btf ? " btf=" : "", res.stats.core_btf ? res.stats.core_btf : "");
    if (res.stats.lost)
        log_warn("samples lost", "lost=%llu (ring buffer overflow; try a lower -F)",
                 (unsigned long long)res.stats.lost);
    if (res.stats.unsampled_tasks)
        log_warn("short-lived tasks not sampled", "tasks=%llu (each exited before a sampling "
                 "period of CPU time; the header says so; --backend bpf -a samples them)",
                 (unsigned long long)res.stats.unsampled_tasks);
    if (res.stats.jit_maps_capped)
        log_warn("JIT maps cut short", "maps=%u (byte, time or symbol cap; their later "
                 "frames print as [unknown])", res.stats.jit_maps_capped);
    if (res.stats.tables_over_budget)
        log_warn("symbol tables left out", "tables=%u (symbol memory budget spent; their "
                 "frames print as [unknown])", res.stats.tables_over_budget);
    if (res.cmd_exited && WIFEXITED(res.cmd_status) && WEXITSTATUS(res.cmd_status))
        log_info("command exited", "status=%d", WEXITSTATUS(res.cmd_status));
    if (res.cmd_terminated) log_info("command stopped", "reason=\"recording ended first\"");
    if (res.cmd_exited && WIFSIGNALED(res.cmd_status))
        log_info("command killed", "signal=%d", WTERMSIG(res.cmd_status));
    if (rc == 0 && ro.upload) log_info("uploaded", "url=%s name=%s", uo.url, uo.name);
    if (rc > 0 || res.upload_failed) return exit_for_upload(rc, res.err);
    if (rc < 0) log_error("cannot write the trace", "reason=\"%s\"", res.err);
    return exit_code(rc, 0);
}

static int cmd_upload(int argc, char **argv)
{
    upload_opts uo = { 0 };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_NAME: case OPT_SPOOL: case OPT_SPOOL_MAX: case OPT_RETRIES:
            if (upload_option(c, optarg, &uo)) return EXIT_USAGE;
            break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage_error("%s", "invalid option for upload");
        }
    }
    if (optind >= argc) return usage_error("%s", "upload needs a URL");
    uo.url = argv[optind++];
    if (!trace_name_valid(uo.name) && (optind < argc || !uo.spool_dir))
        return usage_error("%s", "upload needs --name NAME (" TRACE_NAME_RULE ")");
    signal(SIGPIPE, SIG_IGN);
    char err[512] = "";
    upload_report rep = { 0 };
    int worst = EXIT_OK;
    int drc = upload_drain(&uo, &rep, err, sizeof err);
    if (drc < 0) log_warn("spool unreadable", "reason=\"%s\"", err);
    for (int i = optind; i < argc; i++) {
        int rc = upload_submit_file(&uo, argv[i], &rep, err, sizeof err);
        int ec = exit_for_upload(rc, err);
        if (ec == EXIT_OK) log_info("uploaded", "file=%s url=%s name=%s", argv[i], uo.url, uo.name);
        if (ec != EXIT_OK && (worst == EXIT_OK || worst == EXIT_SPOOLED)) worst = ec;
    }
    if (rep.evicted) log_warn("spool full", "evicted=%d oldest traces deleted", rep.evicted);
    if (rep.rejected)
        log_warn("spool entries refused", "rejected=%d kept as .rejected.*", rep.rejected);
    int left = upload_spool_count(&uo);     /* after this run's own spooling too */
    log_info("upload done", "sent=%d spooled=%d evicted=%d left_in_spool=%d", rep.sent,
             rep.spooled, rep.evicted, left < 0 ? rep.left : left);
    if (worst == EXIT_OK && drc > 0) worst = EXIT_SPOOLED;
    return worst;
}

static void on_agent_trace(void *arg, const agent_trace *t)
{
    (void)arg;
    if (t->rc == 0) log_info("trace uploaded", "name=%s samples=%llu", t->name,
                             (unsigned long long)t->samples);
    else if (t->rc == 1) log_warn("trace spooled", "name=%s samples=%llu reason=\"%s\"", t->name,
                                  (unsigned long long)t->samples, t->err);
    else log_error("trace not uploaded", "name=%s samples=%llu reason=\"%s\"", t->name,
                   (unsigned long long)t->samples, t->err);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The CPU the agent spent starting (loading the program, attaching to every CPU): paid
 * once, apart from what sampling costs per second (bench/bench_agent.sh reads it). */
static void on_agent_sampling(void *arg, const tracer_stats *ts)
{
    (void)arg;
    log_info("agent sampling", "startup_cpu_s=%.3f btf=%s", cpu_seconds(),
             ts->core_btf ? ts->core_btf : "none");
}

static int cmd_agent(int argc, char **argv)
{
    agent_opts ao = { .freq = 200, .window = 10, .on_trace = on_agent_trace,
                      .on_sampling = on_agent_sampling };
    upload_opts uo = { 0 };
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+F:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'F':
            if (parse_count(optarg, 1, 100000, &v))
                return usage_error("invalid frequency: %s", optarg);
            ao.freq = (int)v;
            break;
        case OPT_COLLECTOR: uo.url = optarg; break;
        case OPT_CGROUP_ROOT: ao.cgroup_root = optarg; break;
        case OPT_DOCKER_ROOT: ao.docker_root = optarg; break;
        case OPT_DOCKER_SOCK: ao.docker_sock = optarg; break;
        case OPT_WINDOW:
            if (units_seconds(optarg, &ao.window) < 0 || !(ao.window >= 0.1) || ao.window > 86400)
                return usage_error("invalid window: %s", optarg);
            break;
        case OPT_SPOOL: case OPT_SPOOL_MAX: case OPT_RETRIES:
            if (upload_option(c, optarg, &uo)) return EXIT_USAGE;
            break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage_error("%s", "invalid option for agent");
        }
    }
    if (optind < argc) return usage_error("unexpected argument: %s", argv[optind]);
    if (!uo.url) return usage_error("%s", "agent needs --collector URL");
    /* the Docker client's own variable names the daemon when --docker-sock does not */
    const char *dh = getenv("DOCKER_HOST");
    if (!ao.docker_sock && dh && !strncmp(dh, "unix://", 7)) ao.docker_sock = dh + 7;
    ao.upload = &uo;
    ao.stop = &stop_flag;
    ao.cmdline = "fntrace agent";
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[512] = "";
    agent_stats st;
    log_info("agent started", "collector=%s cgroup_root=%s window=%.1f freq=%d", uo.url,
             ao.cgroup_root ? ao.cgroup_root : "(all)", ao.window, ao.freq);
    int rc = agent_run(&ao, &st, err, sizeof err);
    if (rc == -EPERM) {
        log_error("not permitted", "reason=\"%s\"", err);
        return EXIT_PERM;
    }
    if (rc < 0) {
        log_error("cannot sample", "reason=\"%s\"", err);
        return EXIT_TARGET;
    }
    log_info("agent stopped", "windows=%u sent=%u spooled=%u failed=%u samples=%llu lost=%llu "
             "cpu_s=%.3f", st.windows, st.sent, st.spooled, st.failed,
             (unsigned long long)st.samples, (unsigned long long)st.lost, cpu_seconds());
    if (st.lost)
        log_warn("samples lost", "lost=%llu (ring buffer overflow; try a lower -F)",
                 (unsigned long long)st.lost);
    return st.failed ? EXIT_UPLOAD : st.spooled ? EXIT_SPOOLED : EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("fntrace %s (backends: perf bpf)\n", FNTRACE_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "record")) return cmd_record(argc - 1, argv + 1);
    if (!strcmp(argv[1], "upload")) return cmd_upload(argc - 1, argv + 1);
    if (!strcmp(argv[1], "agent")) return cmd_agent(argc - 1, argv + 1);
    return usage_error("unknown command: %s", argv[1]);
}
