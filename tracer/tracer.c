/* tracer — see tracer.h.  Glue between the sampler (records from the rings), the
 * symbolizer (side-band records keep its process model current; sample frames are
 * resolved as soon as they are read, while the target is alive) and the perf-script
 * writer.  Samples are buffered as (header, range of resolved frames); comm strings are
 * interned for the session so a thread renaming itself never changes older samples.
 * The bpf backend hands out the same records without mmap/fork ones: a process's maps
 * are read from /proc the first time one of its samples arrives (known_pids). */
#include "tracer.h"
#include "bpf_sampler.h"
#include "proctask.h"
#include "intmap.h"
#include "sampler.h"
#include "timer_sampler.h"
#include "errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 512

struct rec {
    uint32_t pid, tid, cpu, nframes;
    uint64_t time, period;
    const char *comm;
    size_t first;           /* index into frames */
};

/* A distinct stack: frames [first, first + n) of t->frames; chained by hash. */
struct stack_ent {
    size_t first;
    uint32_t n;
    uint32_t next;          /* index + 1 of the next entry with the same hash, 0: end */
};

struct pooled {
    struct pooled *next;
    char s[];
};

struct tracer {
    sampler *smp;           /* perf sampler, or */
    timer_sampler *tsm;     /* the timer sampler, or */
    bpf_sampler *bpf;       /* the bpf sampler */
    intmap known_pids;      /* bpf: processes whose maps were read */
    uint64_t last_tick;     /* bpf: CLOCK_MONOTONIC ns of the last symbolizer epoch */
    void (*on_new_pid)(void *arg, int pid);
    void *on_new_pid_arg;
    symbolizer *sym;
    intmap comms;           /* tid -> interned comm */
    intmap born;            /* tids forked while tracing, not sampled yet -> (void *)1 */
    uint64_t unsampled;     /* tasks that exited unsampled: shorter than a period */
    uint64_t loops_cut;     /* samples whose callchain ended in a frame-pointer loop */
    uint64_t unsampled_written;
    intmap pool;            /* string hash -> struct pooled chain */
    struct rec *recs;
    size_t nrecs, caprecs;
    sym_frame *frames;      /* distinct stacks only: samples share them */
    size_t nframes, capframes;
    intmap stack_index;     /* hash of a stack -> index + 1 of its first stack_ent */
    struct stack_ent *stacks;
    size_t nstacks, capstacks;
    char *cmdline;
    int freq;
    int stopped;
    uint64_t samples;
    uint64_t lost_written;  /* lost samples already reported in a flushed file */
    size_t added;           /* samples added by the current tracer_poll */
    size_t sorted;          /* recs[0..sorted) is in time order and nothing came since */
};

static const char *intern(tracer *t, const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = s; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    struct pooled *head = intmap_get(&t->pool, h);
    for (struct pooled *e = head; e; e = e->next)
        if (!strcmp(e->s, s)) return e->s;
    size_t n = strlen(s) + 1;
    struct pooled *e = malloc(sizeof *e + n);
    if (!e) return NULL;
    memcpy(e->s, s, n);
    e->next = head;
    if (intmap_put(&t->pool, h, e) < 0) {
        free(e);
        return NULL;
    }
    return e->s;
}

static void set_comm(tracer *t, uint32_t tid, const char *comm)
{
    const char *c = intern(t, comm);
    if (c) intmap_put(&t->comms, tid, (void *)c);
}

/* Comm of a thread we have no COMM/FORK record for: ask /proc while it lives. */
static const char *comm_of(tracer *t, uint32_t pid, uint32_t tid)
{
    const char *c = intmap_get(&t->comms, tid);
    if (c) return c;
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%u/task/%u/comm", pid, tid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(buf, sizeof buf, f)) {
            buf[strcspn(buf, "\n")] = 0;
            set_comm(t, tid, buf);
        }
        fclose(f);
    }
    c = intmap_get(&t->comms, tid);
    if (c) return c;
    snprintf(buf, sizeof buf, ":%u", tid);    /* what perf prints for an unknown comm */
    set_comm(t, tid, buf);
    return intmap_get(&t->comms, tid);
}

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *nv = realloc(*v, nc * elem);
    if (!nv) return -ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}

/* Samples repeat their stacks: keep each distinct stack once (a long recording costs
 * ~40 bytes per sample plus its distinct stacks).  The new frames are at the end of
 * t->frames; if the same stack exists, they are dropped and the sample points to it. */
static void intern_stack(tracer *t, struct rec *rec)
{
    const sym_frame *f = &t->frames[rec->first];
    uint64_t h = 1469598103934665603ULL ^ rec->nframes;
    for (uint32_t i = 0; i < rec->nframes; i++) {
        h = (h ^ f[i].addr) * 1099511628211ULL;
        h = (h ^ (uint64_t)(uintptr_t)f[i].sym) * 1099511628211ULL;
        h = (h ^ (uint64_t)(uintptr_t)f[i].module) * 1099511628211ULL;
    }
    uint32_t head = (uint32_t)(uintptr_t)intmap_get(&t->stack_index, h);
    for (uint32_t e = head; e; e = t->stacks[e - 1].next) {
        const struct stack_ent *se = &t->stacks[e - 1];
        if (se->n == rec->nframes &&
            !memcmp(&t->frames[se->first], f, rec->nframes * sizeof *f)) {
            t->nframes = rec->first;             /* already known: drop the copy */
            rec->first = se->first;
            return;
        }
    }
    if (t->nstacks >= UINT32_MAX - 1 ||
        grow((void **)&t->stacks, &t->capstacks, t->nstacks + 1, sizeof *t->stacks))
        return;                                  /* keep the copy, unshared */
    t->stacks[t->nstacks] = (struct stack_ent){ rec->first, rec->nframes, head };
    t->nstacks++;
    intmap_put(&t->stack_index, h, (void *)(uintptr_t)t->nstacks);
}

/* The backend calls, whichever it is. */
static int src_wait(tracer *t, int ms)
{
    return t->bpf ? bpf_sampler_wait(t->bpf, ms) : sampler_wait(t->smp, ms);
}
static void on_record(void *arg, const sampler_rec *r);
static void src_read(tracer *t)
{
    if (t->bpf) bpf_sampler_read(t->bpf, on_record, t);
    else sampler_read(t->smp, on_record, t);
}
static void src_disable(tracer *t)
{
    if (t->bpf) bpf_sampler_disable(t->bpf);
    else sampler_disable(t->smp);
}
static uint64_t src_lost(const tracer *t)
{
    return t->bpf ? bpf_sampler_lost(t->bpf) : t->tsm ? timer_sampler_lost(t->tsm)
         : t->smp ? sampler_lost(t->smp) : 0;
}
static int src_kernel_frames(const tracer *t)
{
    return t->bpf ? 1 : t->smp ? sampler_kernel_frames(t->smp) : 0;
}

/* bpf: the first sample of a process (or the first after its exec) */
static void see_pid(tracer *t, const sampler_rec *r)
{
    if (intmap_get(&t->known_pids, r->pid)) return;
    intmap_put(&t->known_pids, r->pid, (void *)1);
    symbolizer_add_proc(t->sym, (int)r->pid);
    if (t->on_new_pid) t->on_new_pid(t->on_new_pid_arg, (int)r->pid);
}

static void add_sample(tracer *t, const sampler_rec *r)
{
    if (t->bpf) {
        see_pid(t, r);
        const char *c = intmap_get(&t->comms, r->tid);
        if (r->name && (!c || strcmp(c, r->name))) set_comm(t, r->tid, r->name);
    }
    if (grow((void **)&t->recs, &t->caprecs, t->nrecs + 1, sizeof *t->recs) ||
        grow((void **)&t->frames, &t->capframes,
             t->nframes + (r->nips < MAX_FRAMES ? r->nips : MAX_FRAMES), sizeof *t->frames))
        return;
    struct rec *rec = &t->recs[t->nrecs];
    rec->pid = r->pid;
    rec->tid = r->tid;
    rec->cpu = r->cpu;
    rec->time = r->time;
    rec->period = r->period;
    rec->comm = comm_of(t, r->pid, r->tid);
    rec->first = t->nframes;
    rec->nframes = 0;
    if (t->bpf) {                     /* the kernel frames not seen yet, in one lookup */
        uint64_t kips[MAX_FRAMES], c = SAMPLER_CONTEXT_USER;
        size_t nk = 0;
        for (uint64_t i = 0; i < r->nips && nk < MAX_FRAMES; i++) {
            if (r->ips[i] >= SAMPLER_CONTEXT_MIN) c = r->ips[i];
            else if (c == SAMPLER_CONTEXT_KERNEL) kips[nk++] = r->ips[i];
        }
        if (nk) symbolizer_prefetch_kernel(t->sym, kips, nk);
    }
    uint64_t ctx = SAMPLER_CONTEXT_USER;
    uint64_t seg_end = 0, keep_end = 0;   /* this context's frames, and the kept ones */
    for (uint64_t i = 0; i < r->nips && rec->nframes < MAX_FRAMES; i++) {
        uint64_t ip = r->ips[i];
        if (ip >= SAMPLER_CONTEXT_MIN) {
            ctx = ip;
            continue;
        }
        if (i >= seg_end) {
            /* the first frame of a context: a frame-pointer loop at its end is cut */
            for (seg_end = i; seg_end < r->nips && r->ips[seg_end] < SAMPLER_CONTEXT_MIN;)
                seg_end++;
            keep_end = i + sampler_chain_cut(r->ips + i, (size_t)(seg_end - i));
            if (keep_end < seg_end)
                t->loops_cut++;
        }
        if (i >= keep_end)
            continue;
        sym_frame *f = &t->frames[t->nframes];
        if (ctx == SAMPLER_CONTEXT_KERNEL) symbolizer_resolve_kernel(t->sym, ip, f);
        else if (ctx == SAMPLER_CONTEXT_USER) symbolizer_resolve_user(t->sym, (int)r->pid, ip, f);
        else continue;                        /* hypervisor / guest contexts */
        t->nframes++;
        rec->nframes++;
    }
    intern_stack(t, rec);
    if (t->born.len) intmap_del(&t->born, r->tid);
    t->nrecs++;
    t->samples++;
    t->added++;
}

static void on_record(void *arg, const sampler_rec *r)
{
    tracer *t = arg;
    switch (r->type) {
    case SREC_SAMPLE:
        add_sample(t, r);
        break;
    case SREC_MMAP:
        symbolizer_mmap(t->sym, (int)r->pid, r->addr, r->len, r->pgoff, r->maj, r->min,
                        r->ino, r->name);
        break;
    case SREC_COMM:
        if (r->exec && r->pid == r->tid) {
            symbolizer_exec(t->sym, (int)r->pid);
            intmap_del(&t->known_pids, r->pid);       /* bpf: read its new maps */
        }
        set_comm(t, r->tid, r->name);
        break;
    case SREC_FORK: {
        const char *c = intmap_get(&t->comms, r->ptid);
        if (c && !intmap_get(&t->comms, r->tid)) intmap_put(&t->comms, r->tid, (void *)c);
        if (r->pid != r->ppid) symbolizer_fork(t->sym, (int)r->pid, (int)r->ppid);
        intmap_put(&t->born, r->tid, (void *)1);
        break;
    }
    case SREC_EXIT:
        /* a per-task cpu-clock event samples a task only after a whole period of its
         * CPU time: one that ends sooner is structurally missed, counted here */
        if (intmap_del(&t->born, r->tid)) t->unsampled++;
        if (r->pid == r->tid) {
            symbolizer_exit(t->sym, (int)r->pid);
            intmap_del(&t->known_pids, r->pid);       /* bpf: a reused pid is new */
        }
        intmap_del(&t->comms, r->tid);   /* the interned name stays for its samples */
        break;
    }
}

/* The target's command line, arguments joined by spaces (the header escapes newlines). */
static char *read_cmdline(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    while (n && !buf[n - 1]) n--;
    for (size_t i = 0; i < n; i++)
        if (!buf[i]) buf[i] = ' ';
    buf[n] = 0;
    return buf;
}

/* Comms of the threads that exist now (later ones come from COMM/FORK records). */
static void seed_comms(tracer *t, int pid)
{
    int *tids;
    int n = proc_tasks(pid, &tids);
    for (int i = 0; i < n; i++) comm_of(t, (uint32_t)pid, (uint32_t)tids[i]);
    free(tids);
}

static int start_bpf(tracer *t, const tracer_opts *o, char *err, size_t errlen)
{
    int *pids = NULL;
    size_t npids = 0;
    if (o->pid > 0 || o->npids) {
        pids = malloc((o->npids + 1) * sizeof *pids);
        if (!pids) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        if (o->pid > 0) pids[npids++] = o->pid;
        for (size_t i = 0; i < o->npids; i++) pids[npids++] = o->pids[i];
    }
    if (!npids && !o->cgroup && !o->all) {
        snprintf(err, errlen, "nothing to sample: give pids, a cgroup or all");
        free(pids);
        return -EINVAL;
    }
    for (size_t i = 0; i < npids && !o->exec; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d", pids[i]);
        if (access(path, F_OK) < 0) {
            snprintf(err, errlen, "process %d: no such process", pids[i]);
            free(pids);
            return -ESRCH;
        }
    }
    t->on_new_pid = o->on_new_pid;
    t->on_new_pid_arg = o->on_new_pid_arg;
    bpf_sampler_opts bo = {
        .pids = pids, .npids = npids, .cgroup = o->cgroup, .all = o->all,
        .want_idle = o->want_idle, .freq = t->freq, .skip_pid = o->skip_self ? getpid() : 0,
        .dither_ms = o->dither_ms,
    };
    int rc = bpf_sampler_open(&t->bpf, &bo, err, errlen);
    free(pids);
    if (rc == 0) symbolizer_set_kernel_lookup(t->sym, bpf_sampler_ksyms, t->bpf);
    return rc;
}

tracer *tracer_start(const tracer_opts *o, char *err, size_t errlen)
{
    tracer *t;
    return tracer_open(&t, o, err, errlen) < 0 ? NULL : t;
}

int tracer_open(tracer **out, const tracer_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    tracer *t = calloc(1, sizeof *t);
    if (!t || !(t->sym = symbolizer_new())) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    t->freq = o->freq > 0 ? o->freq : TRACER_DEFAULT_FREQ;
    t->cmdline = o->cmdline ? strdup(o->cmdline) : o->pid > 0 ? read_cmdline(o->pid) : NULL;
    int rc;
    if (o->sampler == TRACER_SAMPLER_BPF) {
        rc = start_bpf(t, o, err, errlen);
    } else if (o->sampler == TRACER_SAMPLER_TIMER) {
        if (o->pid != getpid() || o->exec) {
            err_set(err, errlen, "the timer sampler samples its own process only (link the "
                    "tracer library, or use the handler's FNTRACE_SAMPLER=timer); use the "
                    "perf sampler for other processes");
            rc = -EINVAL;
        } else {
            seed_comms(t, o->pid);
            timer_sampler_opts to = { .freq = t->freq, .skip_tid = o->skip_tid,
                                      .skip_comm = o->skip_comm };
            rc = timer_sampler_open(&t->tsm, &to, err, errlen);
        }
    } else {
        /* what is mapped now (a command held before exec has nothing of its own yet:
         * its image arrives as MMAP2 records) */
        rc = o->exec ? 0 : symbolizer_add_proc(t->sym, o->pid);
        if (rc == -ENOENT || rc == -ESRCH) {
            snprintf(err, errlen, "process %d: no such process", o->pid);
            rc = -ESRCH;
        } else {
            if (!o->exec) seed_comms(t, o->pid);
            sampler_opts so = {
                .pid = o->pid, .freq = t->freq, .exec = o->exec, .user_only = o->user_only,
                .skip_tid = o->skip_tid,
                .ring_pages = o->ring_pages, .cb = on_record, .cb_arg = t,
            };
            rc = sampler_open(&t->smp, &so, err, errlen);
        }
    }
    if (rc < 0) {
        tracer_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* A new symbolizer epoch: every read for the perf backend; at most once a second for
 * the bpf backend, whose many processes (all of a node) would otherwise re-read their
 * /proc/PID/maps at every read for each frame that resolves nowhere. */
static void tick(tracer *t)
{
    if (t->bpf) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        if (now - t->last_tick < 1000000000ULL) return;
        t->last_tick = now;
    }
    symbolizer_tick(t->sym);
}

int tracer_poll(tracer *t, int timeout_ms)
{
    if (t->stopped) return 0;
    if (t->tsm) {                       /* no fd to wait on: the rings are read per poll */
        if (timeout_ms > 0) {
            struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        t->added = 0;
        symbolizer_tick(t->sym);
        timer_sampler_read(t->tsm, on_record, t);
        return (int)t->added;
    }
    if (timeout_ms > 0) {
        int rc = src_wait(t, timeout_ms);
        if (rc < 0 && rc != -EINTR) return rc;
    }
    t->added = 0;
    tick(t);
    src_read(t);
    return (int)t->added;
}

void tracer_stop(tracer *t)
{
    if (t->stopped) return;
    if (t->tsm) {
        timer_sampler_disable(t->tsm);
        symbolizer_tick(t->sym);
        timer_sampler_read(t->tsm, on_record, t);
        t->stopped = 1;
        return;
    }
    /* The kernel reports samples it dropped on a full ring (PERF_RECORD_LOST) with the
     * next record it writes there: read once to make room, give a live target two
     * sampling periods to write again, then stop. */
    symbolizer_tick(t->sym);
    src_read(t);
    int ms = 2 * 1000 / t->freq + 1;
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    src_disable(t);
    symbolizer_tick(t->sym);
    src_read(t);
    t->stopped = 1;
}

void tracer_get_stats(const tracer *t, tracer_stats *out)
{
    out->samples = t->samples;
    out->lost = src_lost(t);
    out->buffered = t->nrecs;
    out->loops_cut = t->loops_cut;
    out->late = t->tsm ? timer_sampler_late(t->tsm) : 0;
    out->kernel_frames = src_kernel_frames(t);
    out->events = t->bpf ? bpf_sampler_nevents(t->bpf)
                : t->tsm ? timer_sampler_nthreads(t->tsm) : sampler_nevents(t->smp);
    out->sampler = t->bpf ? TRACER_SAMPLER_BPF : t->tsm ? TRACER_SAMPLER_TIMER
                 : TRACER_SAMPLER_PERF;
    out->core_btf = NULL;
    if (t->bpf) {
        bpf_sampler_stats bs;
        bpf_sampler_get_stats(t->bpf, &bs);
        out->core_btf = bs.btf;
    }
    symbolizer_stats ss;
    symbolizer_get_stats(t->sym, &ss);
    out->tables_over_budget = ss.tables_over_budget;
    out->jit_maps_capped = ss.jit_maps_capped;
    out->unsampled_tasks = t->unsampled;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return 0;
}

/* Time order, once per batch of new samples: the agent writes one file per container
 * from the same buffer, and each would otherwise sort it again. */
static void sort_recs(tracer *t)
{
    if (t->nrecs > 1 && t->sorted != t->nrecs)
        qsort(t->recs, t->nrecs, sizeof *t->recs, rec_cmp);
    t->sorted = t->nrecs;
}

void tracer_foreach(tracer *t, int (*fn)(void *arg, const tracer_sample *s), void *arg)
{
    sort_recs(t);
    for (size_t i = 0; i < t->nrecs; i++) {
        const struct rec *r = &t->recs[i];
        tracer_sample s = {
            .comm = r->comm, .pid = r->pid, .tid = r->tid, .cpu = r->cpu,
            .time_ns = r->time, .period = r->period,
            .frames = &t->frames[r->first], .nframes = r->nframes,
        };
        if (fn(arg, &s)) break;
    }
}

static int write_header(tracer *t, ps_writer *w, const tracer_header *h, int keep_lost)
{
    char buf[128];
    time_t now = time(NULL);
    struct tm tm;
    struct utsname u;
    int have_uts = uname(&u) == 0;
    localtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);   /* ctime(3), as perf */
    ps_write_header_begin(w);
    ps_write_header_kv(w, "captured on", buf);
    if (have_uts) {
        ps_write_header_kv(w, "hostname", u.nodename);
        ps_write_header_kv(w, "os release", u.release);
    }
    ps_write_header_kvf(w, "perf version", "fntrace %s", FNTRACE_VERSION);
    if (have_uts) ps_write_header_kv(w, "arch", u.machine);
    ps_write_header_kvf(w, "nrcpus online", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    ps_write_header_kvf(w, "nrcpus avail", "%ld", sysconf(_SC_NPROCESSORS_CONF));
    ps_write_header_kv(w, "cmdline", t->cmdline ? t->cmdline : "");
    ps_write_header_event(w, "cpu-clock", (unsigned)t->freq);
    if (t->nrecs) ps_write_header_times(w, t->recs[0].time, t->recs[t->nrecs - 1].time);
    ps_write_header_end(w);
    uint64_t lost = src_lost(t);
    ps_write_fntrace_version(w, FNTRACE_VERSION);
    ps_write_fntrace_backend(w, t->bpf ? "bpf" : t->tsm ? "timer" : "perf");
    ps_write_fntrace_frames(w, src_kernel_frames(t));
    ps_write_fntrace_lost(w, lost - t->lost_written);
    if (!keep_lost) t->lost_written = lost;
    if (t->unsampled > t->unsampled_written) {
        ps_write_header_kvf(w, "fntrace unsampled tasks",
                            "%llu (exited before a sampling period of CPU time; "
                            "--backend bpf -a samples them)",
                            (unsigned long long)(t->unsampled - t->unsampled_written));
        t->unsampled_written = t->unsampled;
    }
    for (size_t i = 0; h && i < h->ninvocations; i++) ps_write_invocation(w, &h->invocations[i]);
    for (size_t i = 0; h && i < h->nlines; i++) {
        char line[4096];
        snprintf(line, sizeof line, "%s%s", h->lines[i][0] == '#' ? "" : "# ", h->lines[i]);
        ps_write_header_line(w, ps_cstr(line));
    }
    return ps_writer_error(w);
}

static const ps_str unknown = PS_STR("[unknown]");

/* keep: a selection (samples stay, lost samples are counted again in the next file) */
static int write_samples(tracer *t, ps_writer *w, const tracer_header *h,
                         int (*keep)(void *arg, const tracer_sample *s), void *arg, int select)
{
    sort_recs(t);
    int rc = write_header(t, w, h, select);
    for (size_t i = 0; i < t->nrecs && !rc; i++) {
        const struct rec *r = &t->recs[i];
        if (keep) {
            tracer_sample ts = {
                .comm = r->comm, .pid = r->pid, .tid = r->tid, .cpu = r->cpu,
                .time_ns = r->time, .period = r->period,
                .frames = &t->frames[r->first], .nframes = r->nframes,
            };
            if (!keep(arg, &ts)) continue;
        }
        ps_sample s = {
            .comm = ps_cstr(r->comm), .pid = (int32_t)r->pid, .tid = (int32_t)r->tid,
            .cpu = (int32_t)r->cpu, .time_ns = r->time, .period = r->period,
            .event = PS_STR("cpu-clock"),
            .flags = PS_SAMPLE_PID | PS_SAMPLE_CPU | PS_SAMPLE_PERIOD,
        };
        ps_write_event(w, &s);
        for (uint32_t k = 0; k < r->nframes; k++) {
            const sym_frame *sf = &t->frames[r->first + k];
            ps_frame f = {
                .addr = sf->addr, .off = sf->off,
                .sym = sf->sym ? ps_cstr(sf->sym) : unknown,
                .module = sf->module ? ps_cstr(sf->module) : unknown,
                .flags = PS_FRAME_MODULE | (sf->sym ? PS_FRAME_OFF : 0),
            };
            ps_write_frame(w, &f);
        }
        rc = ps_write_sample_end(w);
    }
    if (!rc) rc = ps_writer_flush(w);
    return rc;
}

void tracer_forget(tracer *t)
{
    t->nrecs = 0;
    t->sorted = 0;
    t->nframes = 0;
    t->nstacks = 0;
    intmap_free(&t->stack_index);
    t->lost_written = src_lost(t);
}

int tracer_write_select(tracer *t, ps_writer *w, const tracer_header *h,
                        int (*keep)(void *arg, const tracer_sample *s), void *arg)
{
    return write_samples(t, w, h, keep, arg, 1);
}

int tracer_write(tracer *t, ps_writer *w, const tracer_header *h)
{
    int rc = write_samples(t, w, h, NULL, NULL, 0);
    tracer_forget(t);
    return rc;
}

int tracer_flush(tracer *t, FILE *out, const tracer_header *h)
{
    ps_writer *w = ps_writer_new_fp(out);
    if (!w) return -ENOMEM;
    int rc = tracer_write(t, w, h);
    int crc = ps_writer_close(w);
    if (!rc) rc = crc;
    if (!rc && fflush(out)) rc = -errno;
    return rc;
}

void tracer_free(tracer *t)
{
    if (!t) return;
    sampler_close(t->smp);
    timer_sampler_close(t->tsm);
    bpf_sampler_close(t->bpf);
    intmap_free(&t->known_pids);
    symbolizer_free(t->sym);
    size_t pos = 0;
    uint64_t key;
    void *val;
    while (intmap_next(&t->pool, &pos, &key, &val))
        for (struct pooled *e = val, *n; e; e = n) {
            n = e->next;
            free(e);
        }
    intmap_free(&t->pool);
    intmap_free(&t->comms);
    intmap_free(&t->born);
    intmap_free(&t->stack_index);
    free(t->stacks);
    free(t->recs);
    free(t->frames);
    free(t->cmdline);
    free(t);
}
