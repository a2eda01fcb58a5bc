/* sampler — see sampler.h for the design (per-CPU inherited events, one ring per CPU,
 * attach by /proc/PID/task enumeration until stable, enable_on_exec for commands). */
#include "sampler.h"
#include "proctask.h"
#include "errbuf.h"
#include "intmap.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS      4096
#define MAX_ATTACH_ROUNDS 50

struct ring {
    int cpu;
    int fd;                 /* the event whose buffer this is; -1 until one opens */
    void *base;
    size_t data_size;
};

struct pending;

struct sampler {
    int pid;
    struct perf_event_attr attr;
    int kernel;
    int ncpu;
    struct ring *rings;
    int *fds;
    size_t nfds, capfds;
    intmap opened;          /* tids with events of their own */
    intmap announced;       /* while attaching: tids seen in FORK records (covered by
                               inheritance); emptied once attached */
    int attaching;
    uint64_t lost;
    size_t page;
    unsigned ring_pages;
    char *batch;            /* records of one sampler_read, copied out of the rings */
    size_t batch_len, batch_cap;
    struct pending *pending;
    size_t npending, cap_pending;
};

static int online_cpus(int *cpus, int max)
{
    int n = 0;
    FILE *f = fopen("/sys/devices/system/cpu/online", "re");
    if (f) {
        char buf[4096];
        if (fgets(buf, sizeof buf, f)) {
            char *p = buf;
            while (*p && *p != '\n' && n < max) {
                char *end;
                long a = strtol(p, &end, 10), b = a;
                if (end == p || a < 0) break;
                if (*end == '-') {
                    p = end + 1;
                    b = strtol(p, &end, 10);
                    if (end == p || b < a) break;
                }
                for (long c = a; c <= b && n < max; c++) cpus[n++] = (int)c;
                p = end;
                if (*p == ',') p++;
            }
        }
        fclose(f);
    }
    if (!n) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < c && n < max; i++) cpus[n++] = (int)i;
    }
    return n;
}

static int perf_open(struct perf_event_attr *a, int pid, int cpu)
{
    return (int)syscall(SYS_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int push_fd(sampler *s, int fd)
{
    if (s->nfds == s->capfds) {
        size_t nc = s->capfds ? s->capfds * 2 : 64;
        int *nv = realloc(s->fds, nc * sizeof *nv);
        if (!nv) return -ENOMEM;
        s->fds = nv;
        s->capfds = nc;
    }
    s->fds[s->nfds++] = fd;
    return 0;
}

static int ring_map(sampler *s, struct ring *r, int fd)
{
    for (unsigned pages = s->ring_pages; pages >= 4; pages /= 2) {
        size_t len = (pages + 1) * s->page;
        void *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base != MAP_FAILED) {
            r->base = base;
            r->data_size = pages * s->page;
            r->fd = fd;
            return 0;
        }
        if (errno != EPERM && errno != ENOMEM) return -errno;
        /* over perf_event_mlock_kb: try a smaller ring */
    }
    return -EPERM;
}

static int read_paranoid(void)
{
    int v = -99;
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
    if (f) {
        if (fscanf(f, "%d", &v) != 1) v = -99;
        fclose(f);
    }
    return v;
}

/* Opens the events of one thread on every CPU.  Returns 0, -ESRCH when the thread is
 * gone, or another -errno. */
static int open_thread(sampler *s, int tid, char *err, size_t errlen)
{
    for (int i = 0; i < s->ncpu; i++) {
        struct ring *r = &s->rings[i];
        int fd = perf_open(&s->attr, tid, r->cpu);
        if (fd < 0 && (errno == EACCES || errno == EPERM) && !s->attr.exclude_kernel &&
            s->nfds == 0) {
            /* the kernel does not allow kernel frames here: user frames only */
            s->attr.exclude_kernel = 1;
            s->kernel = 0;
            fd = perf_open(&s->attr, tid, r->cpu);
        }
        if (fd < 0) {
            int e = errno;
            if (e == ENODEV) continue;          /* CPU went offline */
            if (e == ESRCH) return -ESRCH;
            if (e == EACCES || e == EPERM)
                err_set(err, errlen, "perf_event_open on tid %d: %s (kernel.perf_event_paranoid"
                        "=%d: 2 allows your own processes, 3 or more nothing without "
                        "CAP_PERFMON; in a container the seccomp profile must allow "
                        "perf_event_open)", tid, strerror(e), read_paranoid());
            else if (e == EINVAL)
                err_set(err, errlen, "perf_event_open on tid %d: %s (frequency %llu above "
                        "kernel.perf_event_max_sample_rate?)", tid, strerror(e),
                        (unsigned long long)s->attr.sample_freq);
            else if (e == EMFILE || e == ENFILE)
                err_set(err, errlen, "perf_event_open on tid %d: %s (one event per thread "
                        "and CPU)", tid, strerror(e));
            else if (e == ENOSYS || e == ENOENT)
                err_set(err, errlen, "perf_event_open: %s (no perf events in this kernel or "
                        "blocked by seccomp)", strerror(e));
            else
                err_set(err, errlen, "perf_event_open on tid %d cpu %d: %s", tid, r->cpu,
                        strerror(e));
            return -e;
        }
        int rc;
        if (r->fd < 0) {
            rc = ring_map(s, r, fd);
            if (rc < 0) {
                err_set(err, errlen, "mmap of the perf ring buffer: %s (perf_event_mlock_kb)",
                        strerror(-rc));
                close(fd);
                return rc;
            }
        } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd) < 0) {
            rc = -errno;
            err_set(err, errlen, "PERF_EVENT_IOC_SET_OUTPUT: %s", strerror(errno));
            close(fd);
            return rc;
        }
        if ((rc = push_fd(s, fd)) < 0) {
            close(fd);
            err_set(err, errlen, "out of memory");
            return rc;
        }
    }
    return intmap_put(&s->opened, (uint64_t)tid, (void *)1);
}

/* One enumeration of /proc/PID/task; opens events for uncovered tids.  Returns the
 * number opened, or -errno. */
static int attach_round(sampler *s, const sampler_opts *o, char *err, size_t errlen)
{
    int *tids;
    int ntids = proc_tasks(s->pid, &tids);
    if (ntids < 0) {
        err_set(err, errlen, "/proc/%d/task: %s", s->pid,
                ntids == -ESRCH ? "no such process" : strerror(-ntids));
        return ntids;
    }
    /* enumerate first, then drain: every FORK of a thread born before the enumeration
     * by an already covered thread is in the rings now */
    sampler_read(s, o->cb, o->cb_arg);
    int opened = 0, rc = 0;
    for (int i = 0; i < ntids; i++) {
        if (intmap_get(&s->opened, (uint64_t)tids[i]) ||
            intmap_get(&s->announced, (uint64_t)tids[i]) || tids[i] == o->skip_tid)
            continue;
        rc = open_thread(s, tids[i], err, errlen);
        if (rc == -ESRCH) {
            rc = 0;
            continue;
        }
        if (rc < 0) break;
        opened++;
    }
    free(tids);
    return rc < 0 ? rc : opened;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int sampler_open(sampler **out, const sampler_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    if (o->pid <= 0 || o->freq <= 0) {
        err_set(err, errlen, "invalid pid or frequency");
        return -EINVAL;
    }
    sampler *s = calloc(1, sizeof *s);
    int *cpus = calloc(MAX_CPUS, sizeof *cpus);
    if (!s || !cpus) {
        free(s);
        free(cpus);
        err_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->pid = o->pid;
    s->page = (size_t)sysconf(_SC_PAGESIZE);
    s->ring_pages = o->ring_pages ? o->ring_pages : 64;
    if (s->ring_pages & (s->ring_pages - 1)) s->ring_pages = 64;
    s->ncpu = online_cpus(cpus, MAX_CPUS);
    s->rings = calloc((size_t)s->ncpu, sizeof *s->rings);
    if (!s->rings) {
        free(cpus);
        sampler_close(s);
        err_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < s->ncpu; i++) {
        s->rings[i].cpu = cpus[i];
        s->rings[i].fd = -1;
    }
    free(cpus);

    struct perf_event_attr *a = &s->attr;
    a->size = sizeof *a;
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_CPU_CLOCK;
    a->freq = 1;
    a->sample_freq = (uint64_t)o->freq;
    a->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
                     PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN;
    a->disabled = o->exec ? 1 : 0;
    a->enable_on_exec = o->exec ? 1 : 0;
    a->inherit = 1;
    a->mmap = 1;
    a->mmap2 = 1;
    a->comm = 1;
    a->comm_exec = 1;
    a->task = 1;
    a->sample_id_all = 1;
    a->exclude_hv = 1;
    a->exclude_kernel = o->user_only ? 1 : 0;
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    a->watermark = 1;
    a->wakeup_watermark = (uint32_t)(s->ring_pages * s->page / 4);
    s->kernel = !a->exclude_kernel;
    raise_nofile();

    int rc;
    if (o->exec) {
        rc = open_thread(s, o->pid, err, errlen);
        if (rc == -ESRCH) err_set(err, errlen, "process %d is gone", o->pid);
    } else {
        rc = 0;
        s->attaching = 1;
        for (int round = 0; round < MAX_ATTACH_ROUNDS; round++) {
            rc = attach_round(s, o, err, errlen);
            if (rc <= 0) break;
        }
        s->attaching = 0;
        intmap_free(&s->announced);
        if (rc == 0 && !s->opened.len) {
            err_set(err, errlen, "process %d: no thread to sample (gone, or only skip_tid)",
                    o->pid);
            rc = -ESRCH;
        }
    }
    if (rc < 0) {
        sampler_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sampler_wait(sampler *s, int timeout_ms)
{
    struct pollfd pfd[64];
    int n = 0;
    for (int i = 0; i < s->ncpu && n < 64; i++)
        if (s->rings[i].fd >= 0)
            pfd[n++] = (struct pollfd){ .fd = s->rings[i].fd, .events = POLLIN };
    int rc = poll(pfd, (nfds_t)n, timeout_ms);
    if (rc < 0) return -errno;
    int in = 0;
    for (int i = 0; i < n; i++) in |= pfd[i].revents & POLLIN;
    if (rc > 0 && !in && timeout_ms > 0) {
        /* POLLHUP only (every traced task is gone): do not spin */
        struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int parse_record(sampler *s, const struct perf_event_header *h, sampler_rec *r)
{
    const char *p = (const char *)(h + 1), *end = (const char *)h + h->size;
    memset(r, 0, sizeof *r);
#define NEED(n) do { if ((size_t)(end - p) < (size_t)(n)) return -1; } while (0)
#define U64() (p += 8, *(const uint64_t *)(p - 8))
#define U32() (p += 4, *(const uint32_t *)(p - 4))
    switch (h->type) {
    case PERF_RECORD_SAMPLE:
        NEED(8 + 8 + 8 + 8 + 8 + 8);
        r->type = SREC_SAMPLE;
        (void)U64();                         /* ip: repeated as the first callchain entry */
        r->pid = U32();
        r->tid = U32();
        r->time = U64();
        r->cpu = U32();
        (void)U32();
        r->period = U64();
        r->nips = U64();
        if (r->nips > 4096) return -1;
        NEED(r->nips * 8);
        r->ips = (const uint64_t *)p;
        return 0;
    case PERF_RECORD_MMAP2:
    case PERF_RECORD_MMAP:
        r->type = SREC_MMAP;
        NEED(8 + 24);
        r->pid = U32();
        r->tid = U32();
        r->addr = U64();
        r->len = U64();
        r->pgoff = U64();
        if (h->type == PERF_RECORD_MMAP2) {
            NEED(4 + 4 + 8 + 8 + 4 + 4);
            if (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
                p += 24;
            } else {
                r->maj = U32();
                r->min = U32();
                r->ino = U64();
                (void)U64();                 /* ino generation */
            }
            (void)U32();                     /* prot */
            (void)U32();                     /* flags */
        }
        if (!memchr(p, 0, (size_t)(end - p))) return -1;
        r->name = p;
        return 0;
    case PERF_RECORD_COMM:
        NEED(8 + 1);
        r->type = SREC_COMM;
        r->pid = U32();
        r->tid = U32();
        if (!memchr(p, 0, (size_t)(end - p))) return -1;
        r->name = p;
        r->exec = !!(h->misc & PERF_RECORD_MISC_COMM_EXEC);
        return 0;
    case PERF_RECORD_FORK:
    case PERF_RECORD_EXIT:
        NEED(16 + 8);
        r->type = h->type == PERF_RECORD_FORK ? SREC_FORK : SREC_EXIT;
        r->pid = U32();
        r->ppid = U32();
        r->tid = U32();
        r->ptid = U32();
        r->time = U64();
        return 0;
    case PERF_RECORD_LOST:
        NEED(16);
        (void)U64();
        s->lost += U64();
        return 1;
    case PERF_RECORD_LOST_SAMPLES:
        NEED(8);
        s->lost += U64();
        return 1;
    default:
        return 1;
    }
#undef NEED
#undef U64
#undef U32
}

/* When a record happened: samples and FORK/EXIT carry the time in their body, the other
 * records in the sample_id trailer (sample_id_all: pid, tid, time, cpu, res). */
static uint64_t record_time(const struct perf_event_header *h)
{
    const char *base = (const char *)h;
    switch (h->type) {
    case PERF_RECORD_SAMPLE:
        return h->size >= 32 ? *(const uint64_t *)(base + 24) : 0;
    case PERF_RECORD_FORK:
    case PERF_RECORD_EXIT:
        return h->size >= 32 ? *(const uint64_t *)(base + 24) : 0;
    default:
        return h->size >= 8 + 24 ? *(const uint64_t *)(base + h->size - 16) : 0;
    }
}

struct pending {
    uint64_t time;
    size_t off;                 /* into s->batch */
};

static int pending_cmp(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;   /* ring order for equal times */
}

/* Copies what the rings hold into one batch, then hands the records out in time order
 * across CPUs (like perf's ordered events): a library mapped on one CPU is known before
 * a sample taken in it on another, an exec resets the address space after the samples
 * of the old image. */
size_t sampler_read(sampler *s, sampler_cb cb, void *arg)
{
    size_t count = 0;
    s->batch_len = 0;
    s->npending = 0;
    for (int i = 0; i < s->ncpu; i++) {
        struct ring *r = &s->rings[i];
        if (!r->base) continue;
        struct perf_event_mmap_page *pg = r->base;
        char *data = (char *)r->base + s->page;
        uint64_t mask = r->data_size - 1;
        uint64_t head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
        uint64_t tail = pg->data_tail;
        if (head - tail > r->data_size) tail = head - r->data_size;   /* never more than a ring */
        while (head - tail >= sizeof(struct perf_event_header)) {
            struct perf_event_header hdr;
            size_t off = (size_t)(tail & mask);
            for (size_t k = 0; k < sizeof hdr; k++)
                ((char *)&hdr)[k] = data[(off + k) & mask];
            if (hdr.size < sizeof hdr || hdr.size > head - tail) {
                tail = head;                 /* corrupt: drop the rest of this ring */
                break;
            }
            if (s->batch_len + hdr.size > s->batch_cap) {
                size_t nc = s->batch_cap ? s->batch_cap * 2 : 1 << 20;
                while (nc < s->batch_len + hdr.size) nc *= 2;
                char *nb = realloc(s->batch, nc);
                if (!nb) break;              /* out of memory: leave it in the ring */
                s->batch = nb;
                s->batch_cap = nc;
            }
            if (s->npending == s->cap_pending) {
                size_t nc = s->cap_pending ? s->cap_pending * 2 : 4096;
                struct pending *np = realloc(s->pending, nc * sizeof *np);
                if (!np) break;
                s->pending = np;
                s->cap_pending = nc;
            }
            char *dst = s->batch + s->batch_len;
            size_t first = off + hdr.size <= r->data_size ? hdr.size : r->data_size - off;
            memcpy(dst, data + off, first);
            memcpy(dst + first, data, hdr.size - first);
            s->pending[s->npending].time = record_time((const void *)dst);
            s->pending[s->npending].off = s->batch_len;
            s->npending++;
            /* records are 8-byte multiples: the batch stays aligned */
            s->batch_len += hdr.size;
            tail += hdr.size;
        }
        __atomic_store_n(&pg->data_tail, tail, __ATOMIC_RELEASE);
    }
    if (s->npending > 1) qsort(s->pending, s->npending, sizeof *s->pending, pending_cmp);
    for (size_t i = 0; i < s->npending; i++) {
        sampler_rec sr;
        if (parse_record(s, (const void *)(s->batch + s->pending[i].off), &sr) == 0) {
            if (sr.type == SREC_FORK && s->attaching) intmap_put(&s->announced, sr.tid, (void *)1);
            if (cb) cb(arg, &sr);
        }
        count++;
    }
    return count;
}

void sampler_disable(sampler *s)
{
    for (size_t i = 0; i < s->nfds; i++) ioctl(s->fds[i], PERF_EVENT_IOC_DISABLE, 0);
}

int sampler_kernel_frames(const sampler *s) { return s->kernel; }
uint64_t sampler_lost(const sampler *s) { return s->lost; }
unsigned sampler_nevents(const sampler *s) { return (unsigned)s->nfds; }

void sampler_close(sampler *s)
{
    if (!s) return;
    for (int i = 0; s->rings && i < s->ncpu; i++)
        if (s->rings[i].base) munmap(s->rings[i].base, s->rings[i].data_size + s->page);
    for (size_t i = 0; i < s->nfds; i++) close(s->fds[i]);
    free(s->fds);
    free(s->rings);
    free(s->batch);
    free(s->pending);
    intmap_free(&s->opened);
    intmap_free(&s->announced);
    free(s);
}

size_t sampler_emit_weighted(sampler_rec *rec, uint64_t weight, uint64_t max_weight,
                             uint64_t *last_ns, sampler_cb cb, void *arg)
{
    if (weight < 1) weight = 1;
    if (weight > max_weight) weight = max_weight;
    uint64_t t = rec->time, from = t, last = last_ns ? *last_ns : 0;
    if (weight > 1) {
        uint64_t span = (weight - 1) * rec->period;
        from = t > span ? t - span : 0;
        if (last && from <= last) from = last < t ? last + 1 : t;
    }
    uint64_t step = weight > 1 ? (t - from) / (weight - 1) : 0;
    for (uint64_t i = 0; i < weight; i++) {
        rec->time = i + 1 == weight ? t : from + i * step;
        cb(arg, rec);
    }
    if (last_ns && t > *last_ns) *last_ns = t;
    return (size_t)weight;
}

size_t sampler_chain_cut(const uint64_t *ips, size_t n)
{
    size_t keep = n;
    for (size_t len = 1; len <= SAMPLER_LOOP_CYCLE_MAX && len * SAMPLER_LOOP_REPEATS <= n;
         len++) {
        /* the periodic tail: [s, n) with ips[i] == ips[i - len] */
        size_t s = n;
        while (s > len && ips[s - 1] == ips[s - 1 - len])
            s--;
        /* s - len is where the first copy of the cycle starts */
        size_t start = s - len;
        if (n - start >= len * SAMPLER_LOOP_REPEATS && start + len < keep)
            keep = start + len;
    }
    return keep;
}
