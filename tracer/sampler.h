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
 * Records are handed to a callback in ring order (per CPU, not globally time-sorted);
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

/* Callchain context markers are >= this value (PERF_CONTEXT_MAX as unsigned). */
#define SAMPLER_CONTEXT_MIN ((uint64_t)-4095)
#define SAMPLER_CONTEXT_KERNEL ((uint64_t)-128)
#define SAMPLER_CONTEXT_USER ((uint64_t)-512)

#endif
