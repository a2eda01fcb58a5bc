/* timer_sampler — see timer_sampler.h for the design.  Layout of this file: the
 * process-wide region (slots, rings, snapshots) and its globals; the fault-safe walk and
 * the signal handler (nothing above the "tracing thread" line may lock or allocate);
 * then the tracing thread's side: slots, thread scan, snapshot refresh, drain. */
#define _GNU_SOURCE
#include "timer_sampler.h"
#include "errbuf.h"
#include "intmap.h"
#include "proctask.h"
#include "rng.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define TS_SLOTS 512                 /* threads sampled at once */
#define TS_RING_WORDS 4096u          /* per thread: 32 KiB, ~100 samples of 37 frames */
#define TS_MAX_FRAMES 127
#define TS_MAX_MAPS 8192
#define TS_MAGIC 0xf17eULL
#define TS_MAX_WEIGHT 1000u          /* periods one signal may stand for (si_overrun + 1) */

enum { SLOT_FREE, SLOT_BUSY, SLOT_ACTIVE, SLOT_RETIRED };

struct ts_slot {
    _Atomic int state;
    _Atomic uint32_t gen;
    _Atomic int tid;
    timer_t timer;
    _Atomic uint64_t head, tail, lost;
    _Atomic uintptr_t stack_lo, stack_hi;   /* the thread's own stack, when it told us */
    uint64_t last_ns;               /* the tracing thread's: time of the last sample drained */
};

struct ts_snap {
    size_t n;
    ts_map m[TS_MAX_MAPS];
};

struct ts_region {
    struct ts_slot slots[TS_SLOTS];
    struct ts_snap snaps[2];
    uint64_t rings[TS_SLOTS][TS_RING_WORDS];
};

static struct ts_region *g_region;              /* mapped once, never unmapped */
static _Atomic(struct ts_snap *) g_snap;        /* current mapping snapshot */
static _Atomic int g_inflight;                  /* handlers between load and last use of g_snap */
static _Atomic uint64_t g_misses;               /* stack pointer / pc outside the snapshot */
static _Atomic(timer_sampler *) g_active;
/* slot claims and releases (never taken in the handler) */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

struct timer_sampler {
    int pid;
    int freq;
    uint64_t period_ns;
    int skip_tid;
    char skip_comm[16];
    int disabled;
    int refresh;                    /* rebuild the snapshot at the next read */
    uint64_t misses_seen;
    int spare_free;                 /* the non-current snapshot buffer is not in use */
    uint64_t lost_released;         /* lost samples of slots already freed */
    uint64_t late;                  /* samples written for late signals' extra periods */
    int claim_err;                  /* last timer_create/settime failure, -errno */
    uint64_t rng;                   /* first-expiry phases (under g_lock) */
    long nthreads_seen;             /* num_threads at the last full scan */
    unsigned reads_since_scan;
    intmap skipped;                 /* tids never to sample */
};

/* ---- signal side: async-signal-safe only ------------------------------------------ */

static const ts_map *map_find(const ts_map *m, size_t n, uintptr_t a)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a < m[mid].start) hi = mid;
        else if (a >= m[mid].end) lo = mid + 1;
        else return &m[mid];
    }
    return NULL;
}

/* Plain loads of stack words the caller proved to be inside a mapped stack; the frame
 * chain is not ours, so the sanitizers must not judge these reads. */
__attribute__((no_sanitize("address", "undefined")))
static uintptr_t load_word(uintptr_t a)
{
    return *(volatile const uintptr_t *)a;
}

/* The walk, with the stack bounds known already (stack_hi 0: the mapping holding sp). */
static size_t walk(const ts_map *maps, size_t nmaps, uintptr_t ip, uintptr_t sp, uintptr_t fp,
                   uintptr_t stack_lo, uintptr_t stack_hi, uint64_t *out, size_t max)
{
    size_t k = 0;
    if (!max) return 0;
    out[k++] = ip;
    uintptr_t lo = sp, hi;
    if (stack_hi && sp >= stack_lo && sp < stack_hi) {
        hi = stack_hi;
    } else {
        const ts_map *st = map_find(maps, nmaps, sp);
        if (!st || !(st->flags & TS_MAP_STACK)) return k;
        hi = st->end;
    }
    while (k < max) {
        if (fp < lo || hi - lo < 2 * sizeof(uintptr_t) || fp > hi - 2 * sizeof(uintptr_t) ||
            (fp & (sizeof(uintptr_t) - 1)))
            break;
        uintptr_t next = load_word(fp), ret = load_word(fp + sizeof(uintptr_t));
        const ts_map *x = map_find(maps, nmaps, ret);
        if (!x || !(x->flags & TS_MAP_EXEC)) break;
        out[k++] = ret;
        if (next <= fp) break;                  /* the outermost frame (0), or a loop */
        lo = fp + 2 * sizeof(uintptr_t);
        fp = next;
    }
    return k;
}

size_t timer_walk(const ts_map *maps, size_t nmaps, uintptr_t ip, uintptr_t sp,
                  uintptr_t fp, uint64_t *out, size_t max)
{
    return walk(maps, nmaps, ip, sp, fp, 0, 0, out, max);
}

static void on_sigprof(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    int saved = errno;
    struct ts_region *r = g_region;
    if (!r || si->si_code != SI_TIMER) goto out;
    uintptr_t v = (uintptr_t)si->si_value.sival_ptr;
    unsigned idx = (unsigned)(v & 0xffff);
    uint32_t gen = (uint32_t)(v >> 16);
    if (idx >= TS_SLOTS) goto out;
    struct ts_slot *sl = &r->slots[idx];
    if (atomic_load_explicit(&sl->state, memory_order_acquire) != SLOT_ACTIVE ||
        atomic_load_explicit(&sl->gen, memory_order_relaxed) != gen)
        goto out;

    const ucontext_t *uc = ucv;
    uintptr_t ip, sp, fp;
#if defined(__x86_64__)
    ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
    ip = (uintptr_t)uc->uc_mcontext.pc;
    sp = (uintptr_t)uc->uc_mcontext.sp;
    fp = (uintptr_t)uc->uc_mcontext.regs[29];
#else
    ip = 0; sp = 0; fp = 0;
    (void)uc;
#endif
    uint64_t frames[TS_MAX_FRAMES];
    size_t n;
    atomic_fetch_add(&g_inflight, 1);
    struct ts_snap *snap = atomic_load(&g_snap);
    uintptr_t slo = atomic_load_explicit(&sl->stack_lo, memory_order_relaxed);
    uintptr_t shi = atomic_load_explicit(&sl->stack_hi, memory_order_relaxed);
    if (snap) {
        n = walk(snap->m, snap->n, ip, sp, fp, slo, shi, frames, TS_MAX_FRAMES);
        if (!map_find(snap->m, snap->n, ip) ||
            (n == 1 && !(shi && sp >= slo && sp < shi) && !map_find(snap->m, snap->n, sp)))
            atomic_fetch_add_explicit(&g_misses, 1, memory_order_relaxed);
    } else {
        frames[0] = ip;
        n = 1;
    }
    atomic_fetch_sub(&g_inflight, 1);

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int cpu = sched_getcpu();
    int over = si->si_overrun > 0 ? si->si_overrun : 0;
    uint64_t need = 3 + n;
    uint64_t head = atomic_load_explicit(&sl->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&sl->tail, memory_order_acquire);
    if (head - tail > TS_RING_WORDS || TS_RING_WORDS - (head - tail) < need) {
        atomic_fetch_add_explicit(&sl->lost, 1, memory_order_relaxed);
        goto out;
    }
    uint64_t *ring = r->rings[idx];
    const uint64_t mask = TS_RING_WORDS - 1;
    ring[head & mask] = (TS_MAGIC << 48) | ((uint64_t)n << 32) | (uint32_t)(cpu < 0 ? 0 : cpu);
    ring[(head + 1) & mask] = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    ring[(head + 2) & mask] = (uint64_t)(1 + over);
    for (size_t i = 0; i < n; i++) ring[(head + 3 + i) & mask] = frames[i];
    atomic_store_explicit(&sl->head, head + need, memory_order_release);
out:
    errno = saved;
}

/* ---- tracing thread side ----------------------------------------------------------- */

static int region_get(void)
{
    if (g_region) return 0;
    void *p = mmap(NULL, sizeof(struct ts_region), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return -errno;
    g_region = p;
    return 0;
}

static clockid_t thread_clock(int tid)
{
    /* what pthread_getcpuclockid returns: ~tid << 3 | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED */
    return (clockid_t)((~(unsigned)tid << 3) | 6u);
}

/* Gives tid a timer.  Lock held.  0 (also when it has one), or -errno. */
static int slot_claim(timer_sampler *s, int tid)
{
    struct ts_region *r = g_region;
    int fr = -1;
    for (int i = 0; i < TS_SLOTS; i++) {
        int st = atomic_load(&r->slots[i].state);
        if (st == SLOT_ACTIVE && atomic_load(&r->slots[i].tid) == tid) return 0;
        if (st == SLOT_FREE && fr < 0) fr = i;
    }
    if (fr < 0) return -ENOSPC;
    struct ts_slot *sl = &r->slots[fr];
    atomic_store(&sl->state, SLOT_BUSY);
    uint32_t gen = (atomic_load(&sl->gen) + 1) & 0xffffffu;
    atomic_store(&sl->gen, gen);
    atomic_store(&sl->tid, tid);
    atomic_store(&sl->head, 0);
    atomic_store(&sl->tail, 0);
    atomic_store(&sl->lost, 0);
    atomic_store(&sl->stack_lo, 0);
    atomic_store(&sl->stack_hi, 0);
    sl->last_ns = 0;
    if (tid == gettid() && tid != getpid()) {   /* our own stack: exact, and never stale */
        pthread_attr_t at;
        void *addr;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &at) == 0) {
            if (pthread_attr_getstack(&at, &addr, &size) == 0) {
                atomic_store(&sl->stack_lo, (uintptr_t)addr);
                atomic_store(&sl->stack_hi, (uintptr_t)addr + size);
            }
            pthread_attr_destroy(&at);
        }
    }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGPROF;
    sev._sigev_un._tid = tid;
    sev.sigev_value.sival_ptr = (void *)((uintptr_t)fr | ((uintptr_t)gen << 16));
    if (timer_create(thread_clock(tid), &sev, &sl->timer) < 0) {
        int e = errno;
        atomic_store(&sl->state, SLOT_FREE);
        if (e != ESRCH && e != EINVAL) s->claim_err = -e;   /* EINVAL: the thread is gone */
        return -e;
    }
    atomic_store_explicit(&sl->state, SLOT_ACTIVE, memory_order_release);
    /* the first expiry at a random phase of the period: a thread that lives for less
     * than a period (a call on a thread of its own) is then sampled with the probability
     * its CPU time deserves, instead of never */
    s->rng += (uint64_t)tid;
    uint64_t first = 1 + rng_below(&s->rng, s->period_ns);
    struct itimerspec its = {
        .it_interval = { (time_t)(s->period_ns / 1000000000ULL),
                         (long)(s->period_ns % 1000000000ULL) },
        .it_value = { (time_t)(first / 1000000000ULL), (long)(first % 1000000000ULL) },
    };
    if (timer_settime(sl->timer, 0, &its, NULL) < 0) {
        int e = errno;
        timer_delete(sl->timer);
        atomic_store(&sl->state, SLOT_FREE);
        s->claim_err = -e;
        return -e;
    }
    s->refresh = 1;                             /* its stack may be new to the snapshot */
    return 0;
}

/* Deletes the slot's timer; the tracing thread drains it and frees it.  Lock held. */
static void slot_retire(struct ts_slot *sl)
{
    if (atomic_load(&sl->state) != SLOT_ACTIVE) return;
    atomic_store(&sl->state, SLOT_RETIRED);
    timer_delete(sl->timer);
}

static int comm_is(int tid, const char *comm)
{
    char path[64], buf[32];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return !strcmp(buf, comm);
}

/* New threads get a timer, timers of ended threads are retired. */
static void scan_threads(timer_sampler *s)
{
    int *tids = NULL;
    int nt = proc_tasks(s->pid, &tids);
    if (nt < 0) return;
    intmap live = { 0 };
    for (int i = 0; i < nt; i++) intmap_put(&live, (uint64_t)tids[i], (void *)1);
    free(tids);
    struct ts_region *r = g_region;
    intmap timed = { 0 };                       /* tids that keep their timer */
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < TS_SLOTS; i++) {
        struct ts_slot *sl = &r->slots[i];
        if (atomic_load(&sl->state) != SLOT_ACTIVE) continue;
        struct itimerspec cur;
        int tid = atomic_load(&sl->tid);
        /* gone, or a dead thread's timer (disarmed: its tid may already be reused) */
        if (!intmap_get(&live, (uint64_t)tid) ||
            (timer_gettime(sl->timer, &cur) == 0 && !cur.it_value.tv_sec && !cur.it_value.tv_nsec))
            slot_retire(sl);
        else
            intmap_put(&timed, (uint64_t)tid, (void *)1);
    }
    size_t pos = 0;
    uint64_t tid;
    void *val;
    while (intmap_next(&live, &pos, &tid, &val)) {
        if ((int)tid == s->skip_tid || intmap_get(&s->skipped, tid) || intmap_get(&timed, tid))
            continue;
        if (s->skip_comm[0] && comm_is((int)tid, s->skip_comm)) {
            intmap_put(&s->skipped, tid, (void *)1);
            continue;
        }
        slot_claim(s, (int)tid);                /* -ESRCH: it ended meanwhile */
    }
    pthread_mutex_unlock(&g_lock);
    intmap_free(&timed);
    /* forget skipped tids that are gone (their numbers may come back as app threads) */
    pos = 0;
    while (intmap_next(&s->skipped, &pos, &tid, &val))
        if (!intmap_get(&live, tid)) {
            intmap_del(&s->skipped, tid);
            pos = 0;
        }
    intmap_free(&live);
}

/* The process's thread count from /proc/self/stat (one read), or -1. */
static long thread_count(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char *p = strrchr(buf, ')');          /* the name may hold spaces and parens */
    if (!p) return -1;
    for (int field = 2; field < 20 && p; field++) p = strchr(p + 1, ' ');
    return p ? strtol(p + 1, NULL, 10) : -1;
}

/* A full scan when the thread count moved, and at least every TS_SCAN_EVERY reads (a
 * thread that ended while another started in between keeps the count).  The runtime's
 * own threads take and release their timers themselves; the scan is for the others,
 * and it was a third of the tracing thread's polling work. */
#define TS_SCAN_EVERY 10

static void maybe_scan(timer_sampler *s)
{
    long n = thread_count();
    if (n >= 0 && n == s->nthreads_seen && ++s->reads_since_scan < TS_SCAN_EVERY) return;
    s->nthreads_seen = n;
    s->reads_since_scan = 0;
    scan_threads(s);
}

size_t timer_parse_maps(const char *text, size_t len, ts_map *out, size_t max, int *truncated)
{
    size_t n = 0;
    *truncated = 0;
    const char *p = text, *e = text + len;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        const char *le = nl ? nl : e;
        char line[512];
        size_t ll = (size_t)(le - p) < sizeof line - 1 ? (size_t)(le - p) : sizeof line - 1;
        memcpy(line, p, ll);
        line[ll] = 0;
        p = nl ? nl + 1 : e;
        unsigned long long a, b, ino;
        char perms[8];
        int pathpos = 0;
        if (sscanf(line, "%llx-%llx %7s %*s %*s %llu %n", &a, &b, perms, &ino, &pathpos) < 4 ||
            b <= a || strlen(perms) < 3)
            continue;
        const char *path = pathpos > 0 && pathpos <= (int)ll ? line + pathpos : "";
        unsigned flags = 0;
        if (perms[2] == 'x') flags |= TS_MAP_EXEC;
        if (perms[0] == 'r' && perms[1] == 'w' && perms[2] != 'x' &&
            ((ino == 0 && (!*path || !strcmp(path, "[stack]"))) ))
            flags |= TS_MAP_STACK;
        if (!flags) continue;
        if (n && (uintptr_t)a < out[n - 1].end) continue;   /* must stay sorted, disjoint */
        if (n == max) {
            *truncated = 1;
            break;
        }
        out[n++] = (ts_map){ (uintptr_t)a, (uintptr_t)b, flags };
    }
    return n;
}

/* Rebuilds the snapshot into the buffer no handler holds, then publishes it. */
static void refresh_snapshot(timer_sampler *s)
{
    struct ts_region *r = g_region;
    struct ts_snap *cur = atomic_load(&g_snap);
    struct ts_snap *spare = cur == &r->snaps[0] ? &r->snaps[1] : &r->snaps[0];
    if (cur && !s->spare_free) {
        if (atomic_load(&g_inflight) != 0) return;    /* try again at the next read */
        s->spare_free = 1;
    }
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            if (cap >= (64u << 20)) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
    }
    close(fd);
    if (!buf) return;
    int trunc;
    spare->n = timer_parse_maps(buf, len, spare->m, TS_MAX_MAPS, &trunc);
    free(buf);
    atomic_store(&g_snap, spare);
    s->spare_free = 0;
    s->refresh = 0;
}

static size_t drain_slot(timer_sampler *s, int idx, sampler_cb cb, void *arg)
{
    struct ts_region *r = g_region;
    struct ts_slot *sl = &r->slots[idx];
    const uint64_t mask = TS_RING_WORDS - 1;
    uint64_t *ring = r->rings[idx];
    uint64_t tail = atomic_load_explicit(&sl->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&sl->head, memory_order_acquire);
    uint64_t ips[TS_MAX_FRAMES + 1];
    size_t nrec = 0;
    int tid = atomic_load(&sl->tid);
    if (head - tail > TS_RING_WORDS) {          /* cannot happen with one writer: resync */
        atomic_fetch_add(&sl->lost, 1);
        tail = head;
    }
    while (head - tail >= 3) {
        uint64_t w0 = ring[tail & mask];
        uint64_t n = (w0 >> 32) & 0xffff;
        if ((w0 >> 48) != TS_MAGIC || n < 1 || n > TS_MAX_FRAMES || head - tail < 3 + n) {
            atomic_fetch_add(&sl->lost, 1);
            tail = head;
            break;
        }
        sampler_rec rec = {
            .type = SREC_SAMPLE, .pid = (uint32_t)s->pid, .tid = (uint32_t)tid,
            .cpu = (uint32_t)(w0 & 0xffffffffu), .time = ring[(tail + 1) & mask],
            .period = s->period_ns, .ips = ips, .nips = n + 1,
        };
        ips[0] = SAMPLER_CONTEXT_USER;
        for (uint64_t i = 0; i < n; i++) ips[1 + i] = ring[(tail + 3 + i) & mask];
        /* a signal that came late (the kernel looks at CPU timers on its tick only)
         * covers 1 + si_overrun periods of the thread's CPU time */
        size_t w = sampler_emit_weighted(&rec, ring[(tail + 2) & mask], TS_MAX_WEIGHT,
                                         &sl->last_ns, cb, arg);
        s->late += w - 1;
        nrec += w;
        tail += 3 + n;
    }
    atomic_store_explicit(&sl->tail, tail, memory_order_release);
    return nrec;
}

size_t timer_sampler_read(timer_sampler *s, sampler_cb cb, void *arg)
{
    if (!s->disabled) maybe_scan(s);
    uint64_t m = atomic_load(&g_misses);
    if (m != s->misses_seen) {
        s->misses_seen = m;
        s->refresh = 1;
    }
    if (s->refresh && !s->disabled) refresh_snapshot(s);
    struct ts_region *r = g_region;
    size_t nrec = 0;
    for (int i = 0; i < TS_SLOTS; i++) {
        struct ts_slot *sl = &r->slots[i];
        int st = atomic_load(&sl->state);
        if (st != SLOT_ACTIVE && st != SLOT_RETIRED) continue;
        nrec += drain_slot(s, i, cb, arg);
        if (st == SLOT_RETIRED) {
            sampler_rec ex = { .type = SREC_EXIT, .pid = (uint32_t)s->pid,
                               .tid = (uint32_t)atomic_load(&sl->tid) };
            cb(arg, &ex);
            nrec++;
            pthread_mutex_lock(&g_lock);
            s->lost_released += atomic_load(&sl->lost);
            atomic_store(&sl->state, SLOT_FREE);
            pthread_mutex_unlock(&g_lock);
        }
    }
    return nrec;
}

int timer_sampler_open(timer_sampler **out, const timer_sampler_opts *o, char *err,
                       size_t errlen)
{
    *out = NULL;
    if (o->freq < 1 || o->freq > 100000) {
        err_set(err, errlen, "timer sampler: frequency %d out of range (1..100000 Hz)", o->freq);
        return -EINVAL;
    }
    timer_sampler *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->pid = getpid();
    s->freq = o->freq;
    s->period_ns = 1000000000ULL / (uint64_t)o->freq;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    s->rng = (uint64_t)now.tv_nsec ^ ((uint64_t)s->pid << 32);
    s->skip_tid = o->skip_tid;
    if (o->skip_comm) snprintf(s->skip_comm, sizeof s->skip_comm, "%s", o->skip_comm);
    int rc = region_get();
    if (rc < 0) {
        err_set(err, errlen, "timer sampler: cannot map its buffers: %s", strerror(-rc));
        free(s);
        return rc;
    }
    timer_sampler *none = NULL;
    if (!atomic_compare_exchange_strong(&g_active, &none, s)) {
        err_set(err, errlen, "timer sampler: this process already runs one");
        free(s);
        return -EBUSY;
    }
    struct sigaction sa, old;
    if (sigaction(SIGPROF, NULL, &old) == 0) {
        int ours = (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigprof;
        int none = !(old.sa_flags & SA_SIGINFO) &&
                   (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN);
        if (!ours && !none) {
            err_set(err, errlen, "timer sampler: SIGPROF already has a handler (another "
                    "profiler in this process?)");
            atomic_store(&g_active, NULL);
            free(s);
            return -EBUSY;
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigprof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, NULL) < 0) {
        rc = -errno;
        err_set(err, errlen, "timer sampler: sigaction(SIGPROF): %s", strerror(errno));
        atomic_store(&g_active, NULL);
        free(s);
        return rc;
    }
    s->refresh = 1;
    refresh_snapshot(s);
    if (!atomic_load(&g_snap)) {
        err_set(err, errlen, "timer sampler: cannot read /proc/self/maps");
        atomic_store(&g_active, NULL);
        free(s);
        return -EIO;
    }
    scan_threads(s);
    if (!timer_sampler_nthreads(s) && s->claim_err) {
        /* the kernel refused every timer (RLIMIT_SIGPENDING, a seccomp filter…) */
        rc = s->claim_err;
        err_set(err, errlen, "timer sampler: timer_create on a thread CPU clock: %s",
                strerror(-rc));
        timer_sampler_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void timer_sampler_disable(timer_sampler *s)
{
    if (!s || s->disabled) return;
    s->disabled = 1;
    struct ts_region *r = g_region;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < TS_SLOTS; i++) slot_retire(&r->slots[i]);
    pthread_mutex_unlock(&g_lock);
}

uint64_t timer_sampler_lost(const timer_sampler *s)
{
    uint64_t n = s->lost_released;
    struct ts_region *r = g_region;
    for (int i = 0; i < TS_SLOTS; i++) {
        int st = atomic_load(&r->slots[i].state);
        if (st == SLOT_ACTIVE || st == SLOT_RETIRED) n += atomic_load(&r->slots[i].lost);
    }
    return n;
}

uint64_t timer_sampler_late(const timer_sampler *s)
{
    return s->late;
}

unsigned timer_sampler_nthreads(const timer_sampler *s)
{
    (void)s;
    unsigned n = 0;
    for (int i = 0; i < TS_SLOTS; i++)
        if (atomic_load(&g_region->slots[i].state) == SLOT_ACTIVE) n++;
    return n;
}

static void ignore_rec(void *arg, const sampler_rec *r) { (void)arg; (void)r; }

void timer_sampler_close(timer_sampler *s)
{
    if (!s) return;
    timer_sampler_disable(s);
    timer_sampler_read(s, ignore_rec, NULL);
    pthread_mutex_lock(&g_lock);
    timer_sampler *me = s;
    atomic_compare_exchange_strong(&g_active, &me, NULL);
    pthread_mutex_unlock(&g_lock);
    intmap_free(&s->skipped);
    free(s);
}

/* attach and detach touch the sampler only under g_lock, which close takes to clear
 * g_active: a thread starting while the session ends never sees a freed sampler. */
int timer_sampler_thread_attach(void)
{
    if (!atomic_load(&g_active)) return 0;
    int rc = 0;
    pthread_mutex_lock(&g_lock);
    timer_sampler *s = atomic_load(&g_active);
    if (s && !s->disabled && s->pid == getpid())     /* not in a forked child */
        rc = slot_claim(s, gettid());
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void timer_sampler_thread_detach(void)
{
    if (!atomic_load(&g_active)) return;
    int tid = gettid();
    pthread_mutex_lock(&g_lock);
    timer_sampler *s = atomic_load(&g_active);
    for (int i = 0; s && s->pid == getpid() && i < TS_SLOTS; i++) {
        struct ts_slot *sl = &g_region->slots[i];
        if (atomic_load(&sl->state) == SLOT_ACTIVE && atomic_load(&sl->tid) == tid) {
            slot_retire(sl);
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
}
