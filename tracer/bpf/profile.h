/* profile.h — what the BPF program (profile.bpf.c) and its user-space reader
 * (tracer/bpf_sampler.c) agree on: the ring-buffer event layout and the counter slots.
 * Plain fixed-width fields only, so both compilers lay the struct out the same way. */
#ifndef FNTRACE_BPF_PROFILE_H
#define FNTRACE_BPF_PROFILE_H

#define PROF_COMM_LEN 16
#define PROF_MAX_DEPTH 127           /* PERF_MAX_STACK_DEPTH: frames of one kind */
#define PROF_MAX_WEIGHT 1000         /* periods one sample may stand for */

enum prof_event_type {
    PROF_SAMPLE = 1,                 /* a cpu-clock sample: the header, then its frames */
    PROF_EXEC = 2,                   /* a traced process exec'ed: new image */
    PROF_EXIT = 3,                   /* a traced thread exited (pid == tid: the process) */
};

/* one ring-buffer record's header; exec and exit records are the header alone */
struct prof_event {
    __u64 time_ns;                   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
    __u32 type;
    __u32 pid;                       /* tgid, as user space calls it */
    __u32 tid;
    __u32 cpu;
    __u32 kn;                        /* kernel frames that follow the header */
    __u32 un;                        /* user frames that follow those */
    __u32 weight;                    /* samples of one period this one stands for (>= 1) */
    __u32 pad;
    char comm[PROF_COMM_LEN];
};

/* a sample as the program builds it (per CPU) before copying its used part into the
 * ring: the header and then kn kernel and un user frames, each at most PROF_MAX_DEPTH */
struct prof_sample {
    struct prof_event e;
    __u64 ips[2 * PROF_MAX_DEPTH];
};

/* ksym_lookup (a syscall program user space runs with BPF_PROG_TEST_RUN): the kernel
 * names up to PROF_KSYM_BATCH addresses of ksym_addrs[0..ksym_n) into ksym_out[i] as
 * %pS prints them ("name+0xoff/0xsize [module]", or "0x..." when unknown); ksym_len[i]
 * is bpf_snprintf's result (a length >= PROF_KSYM_LEN: cut short). */
#define PROF_KSYM_BATCH 64
#define PROF_KSYM_LEN 256

/* counters[], atomically incremented by the program */
enum prof_counter {
    PROF_CNT_SAMPLES = 0,            /* samples that passed the filters */
    PROF_CNT_RB_DROPS,               /* events lost: ring buffer full */
    PROF_CNT_STACK_ERRORS,           /* bpf_get_stack() errors other than -EFAULT (no
                                        frames of that kind here): the sample is kept */
    PROF_CNT_PIDS_FULL,              /* a forked child not followed: the pid set is full */
    PROF_CNT_WEIGHT_ERRORS,          /* no task storage for a sample: weighted 1 */
    PROF_CNT_MAX,
};

#endif
