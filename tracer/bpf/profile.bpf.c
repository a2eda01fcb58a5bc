/* profile.bpf.c — fntrace's BPF sampler: a cpu-clock perf event on every online CPU runs
 * on_sample(), which filters in the kernel and writes one record per sample into a ring
 * buffer: CLOCK_MONOTONIC time, pid/tid/cpu, comm, its weight (how many periods of its
 * task's CPU time it stands for: weight(), below) and then the frames themselves, kernel
 * and user frame-pointer callchains (bpf_get_stack into a per-CPU buffer, of which only
 * the used part is copied into the ring).
 *
 * Filters (read-only config set before load, plus the pids map):
 *   - idle (pid 0) is dropped unless want_idle, and skip_tgid (the reader) always;
 *   - filter_pids: only processes (tgid) present in pids; with follow_forks a child
 *     forked by a traced process joins the set (sched_process_fork);
 *   - filter_cgroup: only tasks whose cgroup v2 ancestor at cg_level is cg_id, i.e. the
 *     chosen cgroup and every cgroup below it.
 *
 * Frames in the record, not ids into a STACK_TRACE map: such a map must be preallocated
 * and zeroed at load (~1 KiB a bucket), two of them swapped so that an id is never
 * reused under a waiting sample, each id read back with a syscall per generation, and
 * a collision recovered; a record of its own frames needs none of that and costs the
 * ring ~8 bytes a frame.  Ring-buffer drops are counted, never hidden.
 *
 * Process events for the symbolizer: exec of a traced process (its maps change) and
 * thread exit (the last chance to read a JIT map), as raw_tp programs: unlike tp_btf,
 * libbpf loads them without parsing the kernel's BTF (docs/tracer.md, "Start-up").
 * ksym_lookup names kernel addresses for the symbolizer (see profile.h).
 *
 * SPDX-License-Identifier: GPL-2.0 (the kernel helpers used need a GPL program) */
#include <vmlinux.h>               /* generated: build/gen (bpftool btf dump) */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "profile.h"

#define EFAULT 14

const volatile int want_idle = 0;
const volatile int filter_pids = 0;
const volatile int follow_forks = 0;
const volatile int filter_cgroup = 0;
const volatile __u64 cg_id = 0;
const volatile int cg_level = 0;
const volatile __u32 skip_tgid = 0;      /* a process never sampled (the agent itself) */
const volatile __u64 period_ns = 0;      /* 1 s / freq: the CPU time one sample stands for */
const volatile __u64 open_ns = 0;        /* CLOCK_MONOTONIC when user space loaded us */

__u64 counters[PROF_CNT_MAX];

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20);    /* resized by user space before load */
} events SEC(".maps");

/* where on_sample builds its record: one per CPU, as a perf_event program never nests
 * on its CPU (the kernel's bpf_prog_active guard) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct prof_sample);
} scratch SEC(".maps");

/* weighting: per task, its on-CPU time when last sampled and the credit carried */
struct task_weight {
    __u64 last_runtime;              /* task->se.sum_exec_runtime at its last sample */
    __u64 acc;                       /* credit + period/2, in [0, period) after a sample */
    __u64 seen;                      /* 0 until the task's first sample */
};
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct task_weight);
} weights SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);              /* tgid */
    __type(value, __u8);
    __uint(max_entries, 8192);
} pids SEC(".maps");

static __always_inline void count(int i)
{
    __sync_fetch_and_add(&counters[i], 1);
}

static __always_inline int traced(__u32 tgid)
{
    if (tgid == 0) return want_idle;
    if (skip_tgid && tgid == skip_tgid) return 0;
    if (filter_pids && !bpf_map_lookup_elem(&pids, &tgid)) return 0;
    if (filter_cgroup && bpf_get_current_ancestor_cgroup_id(cg_level) != cg_id) return 0;
    return 1;
}

/* bpf_get_stack()'s result as frames: an error (counted unless -EFAULT, which means no
 * frames of that kind in this context) is none; at most PROF_MAX_DEPTH, which the
 * verifier must see to bound the offset and the record's size */
static __always_inline __u32 frames(long bytes)
{
    if (bytes < 0) {
        if (bytes != -EFAULT) count(PROF_CNT_STACK_ERRORS);
        return 0;
    }
    __u32 n = (__u32)((__u64)bytes / sizeof(__u64));
    return n > PROF_MAX_DEPTH ? PROF_MAX_DEPTH : n;
}

/* How many samples of period_ns this one stands for: the on-CPU time the task has run
 * since its previous sample (the scheduler's own sum_exec_runtime, updated at every tick
 * and switch), plus what earlier samples carried over, rounded to periods.  The
 * wall-clock timer of a per-CPU event can phase-lock with the scheduler tick on a
 * contended CPU and sample one task more or less often than its CPU time says; the
 * weights add up to that CPU time whatever the timer's phase.  A task's first sample
 * stands for one period (what wall-clock sampling finds on average before the first and
 * after the last sample of a task), or for the task's whole CPU time when it started
 * after the sampler did and already ran longer.  Idle (pid 0) is never weighted: it
 * keeps no run time.  0: the time goes to the task's next sample. */
static __always_inline __u32 weight(__u32 tgid)
{
    if (!tgid || !period_ns) return 1;
    struct task_struct *t = bpf_get_current_task_btf();
    struct task_weight *w = bpf_task_storage_get(&weights, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!w) {
        count(PROF_CNT_WEIGHT_ERRORS);
        return 1;
    }
    __u64 rt = t->se.sum_exec_runtime;
    if (!w->seen) {
        __u64 first = period_ns;
        if (t->start_time >= open_ns && rt > first) first = rt;
        w->acc = period_ns / 2 + first;
        w->seen = 1;
    } else if (rt > w->last_runtime) {
        w->acc += rt - w->last_runtime;
    }
    w->last_runtime = rt;
    __u64 n = w->acc / period_ns;
    w->acc -= n * period_ns;
    return n > PROF_MAX_WEIGHT ? PROF_MAX_WEIGHT : (__u32)n;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    if (!traced(tgid)) return 0;
    __u32 wt = weight(tgid);
    if (!wt) return 0;
    __u32 zero = 0;
    struct prof_sample *s = bpf_map_lookup_elem(&scratch, &zero);
    if (!s) return 0;
    __u32 kn = frames(bpf_get_stack(ctx, s->ips, PROF_MAX_DEPTH * sizeof(__u64), 0));
    __u32 un = tgid ? frames(bpf_get_stack(ctx, &s->ips[kn], PROF_MAX_DEPTH * sizeof(__u64),
                                           BPF_F_USER_STACK))
                    : 0;
    s->e.time_ns = bpf_ktime_get_ns();
    s->e.type = PROF_SAMPLE;
    s->e.pid = tgid;
    s->e.tid = tid;
    s->e.cpu = bpf_get_smp_processor_id();
    s->e.kn = kn;
    s->e.un = un;
    s->e.weight = wt;
    s->e.pad = 0;
    bpf_get_current_comm(s->e.comm, sizeof(s->e.comm));
    __u64 size = sizeof(s->e) + (__u64)(kn + un) * sizeof(__u64);
    if (bpf_ringbuf_output(&events, s, size, BPF_RB_NO_WAKEUP)) {
        count(PROF_CNT_RB_DROPS);
        return 0;
    }
    count(PROF_CNT_SAMPLES);
    return 0;
}

static __always_inline void task_event(__u32 type, struct task_struct *p)
{
    __u32 tgid = BPF_CORE_READ(p, tgid);
    if (!traced(tgid)) return;
    struct prof_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count(PROF_CNT_RB_DROPS);
        return;
    }
    e->time_ns = bpf_ktime_get_ns();
    e->type = type;
    e->pid = tgid;
    e->tid = BPF_CORE_READ(p, pid);
    e->cpu = bpf_get_smp_processor_id();
    e->kn = e->un = 0;
    e->weight = 1;
    e->pad = 0;
    bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), p->comm);
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    task_event(PROF_EXEC, p);
    return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
    task_event(PROF_EXIT, p);
    return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    if (!filter_pids || !follow_forks) return 0;
    __u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
    if (ptgid == ctgid || !bpf_map_lookup_elem(&pids, &ptgid)) return 0;
    __u8 one = 1;
    if (bpf_map_update_elem(&pids, &ctgid, &one, BPF_ANY)) count(PROF_CNT_PIDS_FULL);
    return 0;
}

/* Kernel symbols for user space, one batch per run: the kernel's own lookup answers for
 * the few addresses a profile holds, instead of user space reading all of /proc/kallsyms.
 * Only the reader's thread runs it (BPF_PROG_TEST_RUN), so the globals are its own.  The
 * batch is a bpf_loop (5.17): the verifier checks its body once, where a bounded loop is
 * checked once per iteration (64: a millisecond at every start). */
__u64 ksym_addrs[PROF_KSYM_BATCH];
__u32 ksym_n = 0;
char ksym_out[PROF_KSYM_BATCH][PROF_KSYM_LEN];
long ksym_len[PROF_KSYM_BATCH];
/* a named constant lands in .rodata; a string literal would get a map of its own
 * (.rodata.str1.1), which libbpf creates, freezes and binds to every program */
static const char ksym_fmt[] = "%pS";

static long ksym_one(__u32 i, void *unused)
{
    if (i >= PROF_KSYM_BATCH) return 1;
    __u64 a = ksym_addrs[i];
    ksym_len[i] = bpf_snprintf(ksym_out[i], PROF_KSYM_LEN, ksym_fmt, &a, sizeof a);
    return 0;
}

SEC("syscall")
int ksym_lookup(void *ctx)
{
    bpf_loop(ksym_n < PROF_KSYM_BATCH ? ksym_n : PROF_KSYM_BATCH, ksym_one, NULL, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
