/* bpf_sampler — see bpf_sampler.h.  The perf events are opened here (one per online
 * CPU, in period mode: dither() redraws each period at every read) and the program
 * attached to each; the ring is drained with
 * ring_buffer__consume() after a plain sleep, because the program submits without
 * wakeups (an epoll wakeup per sample would cost more than the sampling). */
#define _GNU_SOURCE
#include "bpf_sampler.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/profile.h"
#include "errbuf.h"
#include "intmap.h"
#include "rng.h"
#include <profile.skel.h>          /* generated: build/gen (bpftool gen skeleton) */
#include <profile_btf.h>           /* generated: profile_min_btf, profile_btf_notes */

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define MAX_CGROUP_DEPTH 64          /* directories below a v1 cgroup walked for pids */

struct bpf_sampler {
    struct profile_bpf *skel;
    struct ring_buffer *rb;
    int *pfds;                       /* one cpu-clock event per online CPU */
    struct bpf_link **links;         /* the program attached to each */
    unsigned npfds;
    int freq;
    char *cgroup_v1;                 /* v1 directory whose pids are mirrored, or NULL */
    intmap v1_pids;                  /* pids currently in the kernel's set (v1 mode) */
    uint64_t weighted;               /* samples handed out, weights applied */
    uint64_t rng;                    /* dither(): the periods drawn */
    uint64_t dither_ns, dither_at;   /* its interval (0: every read) and next time */
    sampler_cb cb;                   /* during bpf_sampler_read */
    void *cb_arg;
    size_t nread;
    uint64_t ips[2 * PROF_MAX_DEPTH + 2];
    int have_ksyms;                  /* ksym_lookup is loaded */
    int btf_fd;                      /* the embedded BTF's memfd, until the load; or -1 */
    const char *btf;                 /* what CO-RE relocated against (bpf_sampler_stats) */
};

/* libbpf's messages: kept (the last warning) for the error text, never printed. */
static __thread char libbpf_last[256];
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG) return 0;
    vsnprintf(libbpf_last, sizeof libbpf_last, fmt, ap);
    libbpf_last[strcspn(libbpf_last, "\n")] = 0;
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int bpf_sampler_permitted(char *err, size_t errlen)
{
    struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, d) < 0) {
        int e = errno;
        err_set(err, errlen, "cannot read this process's capabilities: %s", strerror(e));
        return -e;
    }
    uint64_t eff = (uint64_t)d[0].effective | (uint64_t)d[1].effective << 32;
    int bpf = !!(eff & (1ULL << CAP_BPF)), perfmon = !!(eff & (1ULL << CAP_PERFMON));
    int sysadmin = !!(eff & (1ULL << CAP_SYS_ADMIN));
    if ((bpf && perfmon) || (sysadmin && geteuid() == 0)) return 0;
    err_set(err, errlen, "the bpf backend needs root or CAP_BPF and CAP_PERFMON: missing %s%s%s "
            "(the perf backend needs neither)", bpf ? "" : "CAP_BPF",
            !bpf && !perfmon ? " and " : "", perfmon ? "" : "CAP_PERFMON");
    return -EPERM;
}

int bpf_cgroup_probe(const char *path, uint64_t *id, int *level, char *err, size_t errlen)
{
    struct statfs fs;
    struct stat st;
    if (statfs(path, &fs) < 0 || stat(path, &st) < 0) {
        int e = errno;
        err_set(err, errlen, "cgroup %s: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        err_set(err, errlen, "cgroup %s: not a directory", path);
        return -ENOTDIR;
    }
    if ((unsigned long)fs.f_type == CGROUP_SUPER_MAGIC) return BPF_CGROUP_V1;
    if ((unsigned long)fs.f_type != CGROUP2_SUPER_MAGIC) {
        err_set(err, errlen, "cgroup %s: not in a cgroup filesystem (v1 or v2)", path);
        return -EINVAL;
    }
    /* depth below the v2 mount: walk up while the parent is the same cgroup2 mount */
    char cur[PATH_MAX];
    if (!realpath(path, cur)) {
        int e = errno;
        err_set(err, errlen, "cgroup %s: %s", path, strerror(e));
        return -e;
    }
    int depth = 0;
    for (;;) {
        char *slash = strrchr(cur, '/');
        if (!slash || slash == cur) break;
        *slash = 0;
        struct statfs pfs;
        struct stat pst;
        if (statfs(cur, &pfs) < 0 || stat(cur, &pst) < 0 ||
            (unsigned long)pfs.f_type != CGROUP2_SUPER_MAGIC || pst.st_dev != st.st_dev)
            break;
        if (++depth > 4096) break;
    }
    *id = (uint64_t)st.st_ino;           /* a v2 cgroup's id is its kernfs inode number */
    *level = depth;
    return BPF_CGROUP_V2;
}

static int on_event(void *ctx, void *data, size_t size)
{
    bpf_sampler *s = ctx;
    const struct prof_event *e = data;
    if (size < sizeof *e) return 0;
    char comm[PROF_COMM_LEN + 1];
    memcpy(comm, e->comm, PROF_COMM_LEN);
    comm[PROF_COMM_LEN] = 0;
    sampler_rec r = { .pid = e->pid, .tid = e->tid, .cpu = e->cpu, .time = e->time_ns,
                      .name = comm };
    s->nread++;
    switch (e->type) {
    case PROF_EXEC:
        r.type = SREC_COMM;
        r.exec = 1;
        r.tid = r.pid;
        s->cb(s->cb_arg, &r);
        return 0;
    case PROF_EXIT:
        r.type = SREC_EXIT;
        s->cb(s->cb_arg, &r);
        return 0;
    case PROF_SAMPLE:
        break;
    default:
        return 0;
    }
    /* the frames follow the header: kn kernel ones, then un user ones */
    if (e->kn > PROF_MAX_DEPTH || e->un > PROF_MAX_DEPTH ||
        size < sizeof *e + (size_t)(e->kn + e->un) * sizeof(uint64_t))
        return 0;
    const unsigned char *ips = (const unsigned char *)data + sizeof *e;
    uint32_t n = 0;
    if (e->kn) {
        s->ips[n++] = SAMPLER_CONTEXT_KERNEL;
        memcpy(&s->ips[n], ips, e->kn * sizeof(uint64_t));
        n += e->kn;
    }
    if (e->un) {
        s->ips[n++] = SAMPLER_CONTEXT_USER;
        memcpy(&s->ips[n], ips + e->kn * sizeof(uint64_t), e->un * sizeof(uint64_t));
        n += e->un;
    }
    r.type = SREC_SAMPLE;
    r.ips = s->ips;
    r.nips = n;
    r.period = 1000000000ULL / (uint64_t)s->freq;
    s->weighted += sampler_emit_weighted(&r, e->weight, PROF_MAX_WEIGHT, NULL, s->cb, s->cb_arg);
    return 0;
}

/* v1 mode: every pid of every cgroup.procs at or below dir, into the kernel's set. */
static void v1_collect(const char *dir, int depth, intmap *seen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) return;
    FILE *f = fopen(path, "re");
    if (f) {
        char line[32];
        while (fgets(line, sizeof line, f)) {
            char *end;
            long pid = strtol(line, &end, 10);
            if (pid > 0 && pid <= INT_MAX && (*end == '\n' || !*end))
                intmap_put(seen, (uint64_t)pid, (void *)1);
        }
        fclose(f);
    }
    if (depth >= MAX_CGROUP_DEPTH) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        v1_collect(path, depth + 1, seen);
    }
    closedir(d);
}

static void v1_refresh(bpf_sampler *s)
{
    intmap now = { 0 };
    v1_collect(s->cgroup_v1, 0, &now);
    int fd = bpf_map__fd(s->skel->maps.pids);
    size_t pos = 0;
    uint64_t key;
    void *val;
    uint8_t one = 1;
    while (intmap_next(&now, &pos, &key, &val))
        if (!intmap_get(&s->v1_pids, key)) {
            uint32_t k = (uint32_t)key;
            bpf_map_update_elem(fd, &k, &one, BPF_ANY);
        }
    pos = 0;
    while (intmap_next(&s->v1_pids, &pos, &key, &val))
        if (!intmap_get(&now, key)) {
            uint32_t k = (uint32_t)key;
            bpf_map_delete_elem(fd, &k);
        }
    intmap_free(&s->v1_pids);
    s->v1_pids = now;
}

static unsigned ring_size(unsigned want, int ncpus)
{
    uint64_t b = want ? want : (uint64_t)256 * 1024 * (uint64_t)(ncpus > 0 ? ncpus : 1);
    if (b < (1u << 20) && !want) b = 1u << 20;
    if (b < 4096) b = 4096;
    if (b > (1u << 30)) b = 1u << 30;
    unsigned p = 4096;
    while (p < b) p <<= 1;
    return p;
}

static int perm_error(int e, const char *what, char *err, size_t errlen)
{
    char why[256] = "";
    if (bpf_sampler_permitted(why, sizeof why) < 0) {
        err_set(err, errlen, "%s", why);
        return -EPERM;
    }
    int perm = e == EPERM || e == EACCES;
    char text[128];
    libbpf_strerror(e, text, sizeof text);         /* strerror, and libbpf's own codes */
    err_set(err, errlen, "%s: %s%s%s%s", what, text, libbpf_last[0] ? " — " : "",
            libbpf_last, perm ? " (the capabilities are there: a seccomp profile may refuse "
            "bpf or perf_event_open; in a container use seccomp/profiles/fntrace-bpf.json)" : "");
    return perm ? -EPERM : -e;
}

/* Gives each CPU's timer a period drawn afresh, its rate uniform in [0.8, 1.2] x freq
 * (so freq on average), restarted from now: a period that sits on the scheduler's tick
 * does so for one read interval at a phase of its own, never for a whole run.  The
 * weights (profile.bpf.c) make the rate exact; this keeps them near 1, so the stacks
 * are as many as the samples and fall on every phase of a task's slice. */
static void dither(bpf_sampler *s)
{
    for (unsigned i = 0; i < s->npfds; i++) {
        uint64_t permille = 800 + rng_below(&s->rng, 401);
        uint64_t period = 1000000000000ULL / ((uint64_t)s->freq * permille);
        if (period < 10000) period = 10000;          /* the kernel's cpu-clock minimum */
        ioctl(s->pfds[i], PERF_EVENT_IOC_PERIOD, &period);
    }
}

/* The BTF that CO-RE relocates the program against: FNTRACE_BTF when set; else, on the
 * kernel fntrace was built on (its /sys/kernel/notes, which hold the build id, are the
 * recorded ones), the types the program reads cut from that kernel's BTF at build time,
 * in a memfd whose /proc/self/fd path is written to path; else NULL: libbpf's default,
 * the running kernel's /sys/kernel/btf/vmlinux, 5 MB read and parsed at every start
 * (two thirds of the start-up CPU, in a process that runs for 10 ms). */
static const char *core_btf(int *fd, char *path, size_t pathlen)
{
    const char *env = getenv("FNTRACE_BTF");
    if (env && *env) return env;
    if (!profile_btf_notes_len) return NULL;
    unsigned char notes[4096];
    int nfd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
    if (nfd < 0) return NULL;
    ssize_t n = read(nfd, notes, sizeof notes);
    close(nfd);
    if (n != (ssize_t)profile_btf_notes_len || memcmp(notes, profile_btf_notes, (size_t)n))
        return NULL;
    *fd = memfd_create("fntrace-btf", MFD_CLOEXEC);
    if (*fd < 0) return NULL;
    if (write(*fd, profile_min_btf, profile_min_btf_len) != (ssize_t)profile_min_btf_len ||
        snprintf(path, pathlen, "/proc/self/fd/%d", *fd) >= (int)pathlen ||
        access(path, R_OK) < 0) {
        close(*fd);
        *fd = -1;
        return NULL;
    }
    return path;
}

int bpf_sampler_open(bpf_sampler **out, const bpf_sampler_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    int rc = bpf_sampler_permitted(err, errlen);
    if (rc < 0) return rc;
    if (o->freq <= 0) {
        err_set(err, errlen, "invalid frequency %d", o->freq);
        return -EINVAL;
    }
    int mode = 0;
    uint64_t cg_id = 0;
    int cg_level = 0;
    if (o->cgroup) {
        mode = bpf_cgroup_probe(o->cgroup, &cg_id, &cg_level, err, errlen);
        if (mode < 0) return mode;
    }
    libbpf_set_print(libbpf_log);
    libbpf_last[0] = 0;
    bpf_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->btf_fd = -1;
    char btf_path[64];
    const char *btf = core_btf(&s->btf_fd, btf_path, sizeof btf_path);
    s->btf = btf == btf_path ? "embedded" : btf ? btf : "kernel";
    LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf);
    s->skel = profile_bpf__open_opts(&oo);
    if (!s->skel) {
        rc = perm_error(errno, "opening the BPF object", err, errlen);
        if (s->btf_fd >= 0) close(s->btf_fd);
        free(s);
        return rc;
    }
    int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0) ncpus = 1;
    s->skel->rodata->want_idle = o->want_idle;
    s->freq = o->freq;
    s->dither_ns = (uint64_t)o->dither_ms * 1000000ULL;
    s->skel->rodata->filter_pids = o->npids > 0 || mode == BPF_CGROUP_V1;
    s->skel->rodata->follow_forks = 1;
    s->skel->rodata->filter_cgroup = mode == BPF_CGROUP_V2;
    s->skel->rodata->cg_id = cg_id;
    s->skel->rodata->cg_level = cg_level;
    s->skel->rodata->skip_tgid = o->skip_pid > 0 ? (uint32_t)o->skip_pid : 0;
    s->skel->rodata->period_ns = 1000000000ULL / (uint64_t)o->freq;
    s->skel->rodata->open_ns = mono_ns();
    bpf_map__set_max_entries(s->skel->maps.events, ring_size(o->ring_bytes, ncpus));
    /* the pid set is preallocated: one slot when there is none (-a, a v2 cgroup) */
    if (!s->skel->rodata->filter_pids) bpf_map__set_max_entries(s->skel->maps.pids, 1);
    if (!o->npids && mode != BPF_CGROUP_V1)
        bpf_program__set_autoload(s->skel->progs.on_fork, false);
    /* the kernel symbol lookup: a syscall program (5.14) calling bpf_loop (5.17) and
     * bpf_snprintf (5.13); one probe loads a syscall program calling bpf_loop */
    s->have_ksyms = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SYSCALL, BPF_FUNC_loop, NULL) > 0;
    if (!s->have_ksyms) bpf_program__set_autoload(s->skel->progs.ksym_lookup, false);
    rc = profile_bpf__load(s->skel);
    if (s->btf_fd >= 0) close(s->btf_fd);
    s->btf_fd = -1;
    if (rc) {
        char what[PATH_MAX + 64] = "loading the BPF program";
        if (btf && btf != btf_path)
            snprintf(what, sizeof what, "loading the BPF program against FNTRACE_BTF=%s", btf);
        rc = perm_error(-rc, what, err, errlen);
        goto fail;
    }
    int pfd = bpf_map__fd(s->skel->maps.pids);
    uint8_t one = 1;
    for (size_t i = 0; i < o->npids; i++) {
        uint32_t k = (uint32_t)o->pids[i];
        if (bpf_map_update_elem(pfd, &k, &one, BPF_ANY)) {
            rc = -errno;
            err_set(err, errlen, "pid set: %s", strerror(errno));
            goto fail;
        }
    }
    if (mode == BPF_CGROUP_V1) {
        if (!(s->cgroup_v1 = strdup(o->cgroup))) {
            rc = -ENOMEM;
            err_set(err, errlen, "out of memory");
            goto fail;
        }
        v1_refresh(s);
    }
    /* exec/exit/fork tracepoints; the perf_event program is attached per CPU below */
    if (!(s->skel->links.on_exec = bpf_program__attach(s->skel->progs.on_exec)) ||
        !(s->skel->links.on_exit = bpf_program__attach(s->skel->progs.on_exit)) ||
        (bpf_program__autoload(s->skel->progs.on_fork) &&
         !(s->skel->links.on_fork = bpf_program__attach(s->skel->progs.on_fork)))) {
        rc = perm_error(errno, "attaching the process tracepoints", err, errlen);
        goto fail;
    }
    s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), on_event, s, NULL);
    if (!s->rb) {
        rc = -errno;
        err_set(err, errlen, "ring buffer: %s", strerror(errno));
        goto fail;
    }
    s->pfds = calloc((size_t)ncpus, sizeof *s->pfds);
    s->links = calloc((size_t)ncpus, sizeof *s->links);
    if (!s->pfds || !s->links) {
        rc = -ENOMEM;
        err_set(err, errlen, "out of memory");
        goto fail;
    }
    struct perf_event_attr a = {
        .type = PERF_TYPE_SOFTWARE, .size = sizeof a, .config = PERF_COUNT_SW_CPU_CLOCK,
        .sample_period = 1000000000ULL / (uint64_t)o->freq,   /* ns; dithered below */
    };
    for (int cpu = 0; cpu < ncpus; cpu++) {
        int fd = (int)syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0) {
            if (errno == ENODEV || errno == ENOENT) continue;     /* CPU offline */
            rc = perm_error(errno, "perf_event_open (cpu-clock, per CPU)", err, errlen);
            goto fail;
        }
        s->pfds[s->npfds++] = fd;
        struct bpf_link *l = bpf_program__attach_perf_event(s->skel->progs.on_sample, fd);
        if (!l) {
            rc = perm_error(errno, "attaching to the cpu-clock event", err, errlen);
            goto fail;
        }
        s->links[s->npfds - 1] = l;
    }
    if (!s->npfds) {
        rc = -ENODEV;
        err_set(err, errlen, "no online CPU to sample");
        goto fail;
    }
    uint64_t now = mono_ns();
    s->rng = now ^ (uint64_t)getpid() << 32;
    dither(s);
    s->dither_at = now + s->dither_ns;
    *out = s;
    return 0;
fail:
    bpf_sampler_close(s);
    return rc;
}

int bpf_sampler_wait(bpf_sampler *s, int timeout_ms)
{
    (void)s;
    if (timeout_ms <= 0) return 0;
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    return nanosleep(&ts, NULL) < 0 ? -errno : 0;
}

size_t bpf_sampler_read(bpf_sampler *s, sampler_cb cb, void *arg)
{
    s->cb = cb;
    s->cb_arg = arg;
    s->nread = 0;
    ring_buffer__consume(s->rb);
    uint64_t now = mono_ns();
    if (now >= s->dither_at) {
        dither(s);
        s->dither_at = now + s->dither_ns;
    }
    if (s->cgroup_v1) v1_refresh(s);
    return s->nread;
}

int bpf_sampler_ksyms(void *arg, const uint64_t *ips, size_t n,
                      void (*put)(void *ctx, size_t i, const char *name, uint64_t off),
                      void *ctx)
{
    bpf_sampler *s = arg;
    if (!s->have_ksyms) return -EOPNOTSUPP;
    struct profile_bpf__bss *bss = s->skel->bss;
    int fd = bpf_program__fd(s->skel->progs.ksym_lookup);
    for (size_t done = 0; done < n;) {
        size_t k = n - done < PROF_KSYM_BATCH ? n - done : PROF_KSYM_BATCH;
        memcpy(bss->ksym_addrs, ips + done, k * sizeof *ips);
        bss->ksym_n = (uint32_t)k;
        LIBBPF_OPTS(bpf_test_run_opts, ro);
        if (bpf_prog_test_run_opts(fd, &ro) < 0) return -errno;
        for (size_t i = 0; i < k; i++) {
            /* "name+0xoff/0xsize[ [module]]"; "0x..." (unknown) or cut short: skipped */
            char *out = bss->ksym_out[i];
            long len = bss->ksym_len[i];     /* with the NUL */
            if (len <= 0 || len >= PROF_KSYM_LEN) continue;
            out[PROF_KSYM_LEN - 1] = 0;
            out[strcspn(out, " ")] = 0;
            char *slash = strrchr(out, '/'), *plus;
            if (!slash) continue;
            *slash = 0;
            if (!(plus = strrchr(out, '+')) || plus == out || strncmp(plus, "+0x", 3)) continue;
            char *end;
            errno = 0;
            uint64_t off = strtoull(plus + 3, &end, 16);
            if (errno || end == plus + 3 || *end) continue;
            *plus = 0;
            put(ctx, done + i, out, off);
        }
        done += k;
    }
    return 0;
}

void bpf_sampler_disable(bpf_sampler *s)
{
    for (unsigned i = 0; i < s->npfds; i++) ioctl(s->pfds[i], PERF_EVENT_IOC_DISABLE, 0);
}

void bpf_sampler_get_stats(const bpf_sampler *s, bpf_sampler_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return;
    const __u64 *c = s->skel->bss->counters;
    out->samples = __atomic_load_n(&c[PROF_CNT_SAMPLES], __ATOMIC_RELAXED);
    out->ring_drops = __atomic_load_n(&c[PROF_CNT_RB_DROPS], __ATOMIC_RELAXED);
    out->stack_errors = __atomic_load_n(&c[PROF_CNT_STACK_ERRORS], __ATOMIC_RELAXED);
    out->pids_full = __atomic_load_n(&c[PROF_CNT_PIDS_FULL], __ATOMIC_RELAXED);
    out->weight_errors = __atomic_load_n(&c[PROF_CNT_WEIGHT_ERRORS], __ATOMIC_RELAXED);
    out->weighted = s->weighted;
    out->cpus = s->npfds;
    out->btf = s->btf;
}

uint64_t bpf_sampler_lost(const bpf_sampler *s)
{
    bpf_sampler_stats st;
    bpf_sampler_get_stats(s, &st);
    return st.ring_drops;
}

unsigned bpf_sampler_nevents(const bpf_sampler *s)
{
    return s ? s->npfds : 0;
}

void bpf_sampler_close(bpf_sampler *s)
{
    if (!s) return;
    for (unsigned i = 0; i < s->npfds; i++) {
        bpf_link__destroy(s->links[i]);
        close(s->pfds[i]);
    }
    free(s->links);
    free(s->pfds);
    ring_buffer__free(s->rb);
    profile_bpf__destroy(s->skel);
    intmap_free(&s->v1_pids);
    free(s->cgroup_v1);
    if (s->btf_fd >= 0) close(s->btf_fd);
    free(s);
}
