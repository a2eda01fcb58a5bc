/* bpf_sampler — the BPF backend: cpu-clock samples of every online CPU, filtered in the
 * kernel (a pid set, a cgroup, idle), with kernel and user frame-pointer callchains,
 * handed out as the same sampler_rec records the perf_event_open backend produces, so
 * the tracer, symbolizer and writer are shared.
 *
 * Design.  tracer/bpf/profile.bpf.c (a libbpf CO-RE object embedded through its
 * skeleton) runs on a software cpu-clock perf event opened per online CPU; each sample
 * is one ring-buffer record (CLOCK_MONOTONIC time, pid, tid, cpu, comm, weight, then its
 * kernel and user frames).
 * Rate under contention: a per-CPU timer fires at wall-clock times and records whoever
 * runs; tasks sharing a CPU switch at the scheduler's tick, and a period near a multiple
 * of the tick's phase-locks with it (at 200-250 Hz against a 4 ms tick, a contended
 * task got 53-581 samples per CPU-second instead of the rate asked).  So (1) the program
 * weights each sample by its task's run time since the task's previous sample
 * (sum_exec_runtime in task storage, rounded to periods with the remainder carried:
 * 0 drops the sample, n > 1 is handed out as n samples of one period through
 * sampler_emit_weighted), which makes a task's samples add up to its CPU time, and
 * (2) each CPU's period is redrawn at every read, its rate uniform in [0.8, 1.2] x freq,
 * so the timer never holds one phase of the tick and the weights stay near 1.
 * Filters:
 *   - pids: those processes and the processes they fork later (tracked in the kernel);
 *   - cgroup: a cgroup v2 directory is matched in the kernel by id, descendants
 *     included (bpf_get_current_ancestor_cgroup_id); a cgroup v1 directory (Docker on a
 *     v1 or hybrid machine) becomes a pid set refreshed from its cgroup.procs files,
 *     recursively, at every read;
 *   - all: every process; idle (pid 0) only with want_idle.
 * Lost samples are ring-buffer drops; a stack the kernel could not give is counted
 * (stack_errors) and its sample kept without those frames.
 * Exec and exit of a traced process arrive as SREC_COMM (exec = 1) and SREC_EXIT.
 * The reader sees no mmap records: the tracer reads /proc/PID/maps of each new process.
 * Kernel symbols: bpf_sampler_ksyms() runs the object's ksym_lookup program, so the
 * symbolizer need not read /proc/kallsyms (symbolizer_set_kernel_lookup).
 *
 * Privilege: root, or CAP_BPF + CAP_PERFMON (kernel >= 5.8).  bpf_sampler_permitted()
 * names what is missing before anything is loaded.
 *
 * Ownership: the sampler owns the BPF object, its perf events and caches; record
 * pointers given to the callback are valid during the call only.  Not thread-safe: one
 * thread drives a sampler.  Errors: negative errno with a message in err. */
#ifndef FNTRACE_BPF_SAMPLER_H
#define FNTRACE_BPF_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

typedef struct bpf_sampler bpf_sampler;

typedef struct bpf_sampler_opts {
    const int *pids;          /* sample these processes (and what they fork); or */
    size_t npids;
    const char *cgroup;       /* a cgroup directory (v2 or v1), descendants included; or */
    int all;                  /* every process */
    int want_idle;            /* also the idle task (pid 0) */
    int skip_pid;             /* a process never sampled (the agent passes itself); 0: none */
    int freq;                 /* samples per second per CPU */
    unsigned ring_bytes;      /* ring buffer size, power of two; 0: 256 KiB per CPU, >= 1 MiB */
    unsigned dither_ms;       /* each CPU's period redrawn this often; 0: at every read.
                                 A redraw is an ioctl per CPU, an IPI and a timer MSR
                                 write each: on a VM 30-40 % of a 250 ms reader's CPU */
} bpf_sampler_opts;

/* 0 when this process may load the backend; -EPERM with the missing capabilities named
 * in err ("missing CAP_BPF and CAP_PERFMON") otherwise. */
int bpf_sampler_permitted(char *err, size_t errlen);

/* Loads the program, opens and enables one perf event per online CPU.  0 or -errno
 * (-EPERM: not permitted, with the reason). */
int bpf_sampler_open(bpf_sampler **out, const bpf_sampler_opts *o, char *err, size_t errlen);

/* Sleeps up to timeout_ms (the program never wakes the reader: it polls); 0 or -EINTR. */
int bpf_sampler_wait(bpf_sampler *s, int timeout_ms);

/* Reads every record in the ring through cb; returns the number of records. */
size_t bpf_sampler_read(bpf_sampler *s, sampler_cb cb, void *arg);

/* Names kernel addresses through the kernel's own symbol lookup (the ksym_lookup
 * program; kernels >= 5.17): put(ctx, i, name, off) for each ips[i] the kernel knows
 * (name without module or offset).  0, or -EOPNOTSUPP when the kernel lacks the
 * program type or helper (then read /proc/kallsyms), or -errno.  The signature of
 * symbolizer_set_kernel_lookup(). */
int bpf_sampler_ksyms(void *s, const uint64_t *ips, size_t n,
                      void (*put)(void *ctx, size_t i, const char *name, uint64_t off),
                      void *ctx);

/* Stops sampling (what the ring holds can still be read). */
void bpf_sampler_disable(bpf_sampler *s);

typedef struct bpf_sampler_stats {
    uint64_t samples;         /* samples the program wrote */
    uint64_t ring_drops;      /* records lost: ring buffer full */
    uint64_t stack_errors;    /* stacks the kernel could not give (samples kept) */
    uint64_t pids_full;       /* forked children not followed: pid set full */
    uint64_t weighted;        /* samples handed out once weighted (see Design) */
    uint64_t weight_errors;   /* samples the program could not weight (counted once) */
    unsigned cpus;            /* perf events open */
    const char *btf;          /* what CO-RE relocated the program against: "embedded" (the
                                 build kernel's types, on that kernel), "kernel"
                                 (/sys/kernel/btf/vmlinux) or FNTRACE_BTF's path */
} bpf_sampler_stats;
void bpf_sampler_get_stats(const bpf_sampler *s, bpf_sampler_stats *out);

/* Samples lost: ring-buffer drops. */
uint64_t bpf_sampler_lost(const bpf_sampler *s);
unsigned bpf_sampler_nevents(const bpf_sampler *s);
void bpf_sampler_close(bpf_sampler *s);

/* cgroup helpers (also used by the agent) */
enum bpf_cgroup_kind { BPF_CGROUP_NONE = 0, BPF_CGROUP_V1 = 1, BPF_CGROUP_V2 = 2 };
/* What path is: a cgroup v2 directory (then *id and *level are set: its cgroup id and
 * depth below the v2 root), a v1 directory, or -ENOTDIR/-EINVAL/-errno. */
int bpf_cgroup_probe(const char *path, uint64_t *id, int *level, char *err, size_t errlen);

#endif
