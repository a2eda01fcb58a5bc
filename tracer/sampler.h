/* sampler — the perf_event_open backend: cpu-clock samples with callchains of one process
 * and all its threads (including threads and child processes created later), read from
 * mmap ring buffers, plus the side-band records the symbolizer needs.
 *
 * Design.  The kernel lets an inherited event (inherit=1, follows every thread and child
 * the task creates after the event exists) be mmap'ed only when it is bound to a CPU, so
 * the sampler opens one event per (thread, online CPU) with pid=TID, cpu=N, inherit=1 and
 * funnels all events of a CPU into one ring buffer (PERF_EVENT_IOC_SET_OUTPUT): one
 * ring per CPU, whatever the number of threads.  Inheritance covers what is created
 * later; threads that already exist are found in /proc/PID/task:
 *   - attach (-p PID, or the handler sampling its own process): enumerate the tasks, open
 *     events for each, then repeat "enumerate, drain the rings, open what is neither
 *     opened nor announced by a PERF_RECORD_FORK" until nothing is new.  Enumerating
 *     before draining closes the race with threads born meanwhile: a thread created by a
 *     covered thread is always announced by a FORK record written before it runs.
 *   - exec (-- CMD): the caller forks a child that waits before exec; the sampler opens
 *     disabled events with enable_on_exec on it, so sampling starts at the first
 *     instruction of the new program and everything it starts is inherited.
 * Kernel frames: events are opened with exclude_kernel=0 first; if the kernel refuses
 * (perf_event_paranoid, EACCES/EPERM) they are reopened user-only and
 * sampler_kernel_frames() says so.  Timestamps use CLOCK_MONOTONIC (use_clockid).
 * Each sampler_read() copies what all rings hold and hands the records to a callback in
 * time order across CPUs (an mmap is seen before the samples in it, an exec after the
 * samples of the old image);
 * PERF_RECORD_LOST and LOST_SAMPLES are counted, never hidden.
 *
 * Ownership: the sampler owns its fds and rings; record pointers passed to the callback
 * are valid only during the call.  Not thread-safe: one thread drives a sampler. */
#ifndef FNTRACE_SAMPLER_H
#define FNTRACE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sampler sampler;

enum sampler_rec_type {
    SREC_SAMPLE,     /* pid, tid, time, cpu, period, ips/nips (with context markers) */
    SREC_MMAP,       /* pid, tid, addr, len, pgoff, maj, min, ino, name */
    SREC_COMM,       /* pid, tid, name, exec */
    SREC_FORK,       /* pid, tid (the new task), ppid, ptid */
    SREC_EXIT,       /* pid, tid */
};

typedef struct sampler_rec {
    enum sampler_rec_type type;
    uint32_t pid, tid, ppid, ptid, cpu;
    uint64_t time, period;
    const uint64_t *ips;      /* callchain: PERF_CONTEXT_* markers, then addresses */
    uint64_t nips;
    uint64_t addr, len, pgoff, ino;
    uint32_t maj, min;
    const char *name;         /* mmap file name or comm, NUL-terminated */
    int exec;                 /* COMM caused by exec */
} sampler_rec;

typedef void (*sampler_cb)(void *arg, const sampler_rec *rec);

typedef struct sampler_opts {
    int pid;                  /* target process */
    int freq;                 /* samples per second per thread (cpu-clock frequency) */
    int exec;                 /* pid is a child stopped before exec: enable_on_exec */
    int user_only;            /* do not even try kernel frames */
    int skip_tid;             /* attach: a thread not to sample (e.g. the sampling thread
                                 of a process sampling itself); 0: none.  Threads it
                                 creates later are not followed either */
    unsigned ring_pages;      /* data pages per CPU ring, power of two; 0: 64 */
    sampler_cb cb;            /* receives records drained while attaching */
    void *cb_arg;
} sampler_opts;

/* Opens and (unless exec) enables sampling.  Returns 0, or a negative errno with a
 * human-readable reason in err. */
int sampler_open(sampler **out, const sampler_opts *o, char *err, size_t errlen);

/* Waits up to timeout_ms for a ring to pass its watermark (or a signal); 0 or -errno. */
int sampler_wait(sampler *s, int timeout_ms);

/* Drains every ring through cb; returns the number of records read. */
size_t sampler_read(sampler *s, sampler_cb cb, void *arg);

/* Stops sampling (records already in the rings can still be read). */
void sampler_disable(sampler *s);

int sampler_kernel_frames(const sampler *s);   /* 1 when kernel frames are recorded */
uint64_t sampler_lost(const sampler *s);       /* samples the kernel reported lost */
unsigned sampler_nevents(const sampler *s);    /* perf events open */
void sampler_close(sampler *s);

/* Frame-pointer loops: a callchain walked by frame pointers (the kernel's user-stack walk
 * for the perf and bpf backends) that meets a frame whose saved frame pointer leads back
 * into the chain repeats one address, or a short cycle of them, until the walk's depth
 * limit (a demo sample had 119 repeated [unknown] frames).  sampler_chain_cut() gives how
 * many of ips[0, n) (one context, leaf first) to keep: when the chain ENDS in at least
 * SAMPLER_LOOP_REPEATS copies of a cycle of 1 to SAMPLER_LOOP_CYCLE_MAX addresses, the
 * first copy is kept and the rest dropped.  Recursion that returns to distinct outer
 * frames (main, start_thread) does not end in a cycle and is kept whole; recursion that
 * itself fills the walk's depth limit is indistinguishable and is cut the same way.
 * The timer backend's own walk stops at a frame pointer that does not move up the
 * stack, so it never loops. */
#define SAMPLER_LOOP_REPEATS 4
#define SAMPLER_LOOP_CYCLE_MAX 8
size_t sampler_chain_cut(const uint64_t *ips, size_t n);

/* A record that stands for `weight` periods of rec->period CPU time (a timer signal with
 * overruns, a bpf sample weighted by its task's run time) handed to cb as that many
 * samples of one period each, so that readers which count samples (FlameScope, perf
 * script's users) and readers which add periods (stackcollapse-perf.pl) both see the CPU
 * time.  The copies are spread back over (weight - 1) periods of wall time ending at
 * rec->time (where that CPU time went at the soonest), never at or before *last_ns (the
 * task's previous sample; NULL: no bound), which is then advanced to rec->time.  weight
 * is clamped to [1, max_weight]; returns the samples given to cb.  rec->time is changed. */
size_t sampler_emit_weighted(sampler_rec *rec, uint64_t weight, uint64_t max_weight,
                             uint64_t *last_ns, sampler_cb cb, void *arg);

/* Callchain context markers are >= this value (PERF_CONTEXT_MAX as unsigned). */
#define SAMPLER_CONTEXT_MIN ((uint64_t)-4095)
#define SAMPLER_CONTEXT_KERNEL ((uint64_t)-128)
#define SAMPLER_CONTEXT_USER ((uint64_t)-512)

#endif
