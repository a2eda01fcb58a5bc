/* tracer — the library API of fntrace's sampling profiler: start sampling a process (all
 * of its threads, present and future), collect symbolized samples, write them as
 * perf-script text, stop.  `fntrace record` is a thin main over it, and the handler
 * runtime uses it to sample its own process in-process.
 *
 * Typical use (a sampling thread in the handler runtime):
 *
 *     tracer_opts o = { .pid = getpid(), .freq = 200 };
 *     char err[256];
 *     tracer *t = tracer_start(&o, err, sizeof err);   // NULL: err says why
 *     while (running) {
 *         tracer_poll(t, 100);                          // read + symbolize, <= 100 ms
 *         if (window_over) {
 *             ps_invocation inv[] = {{ .id = PS_STR("…"), .fn = PS_STR("hello"),
 *                                      .start_ns = …, .end_ns = …, .status = 200,
 *                                      .flags = PS_INV_END | PS_INV_STATUS }};
 *             FILE *f = open_memstream(&buf, &len);
 *             tracer_header h = { .invocations = inv, .ninvocations = n };
 *             tracer_flush(t, f, &h);                   // header + samples, then forgets them
 *             fclose(f);  … upload buf …
 *         }
 *     }
 *     tracer_stop(t);  tracer_flush(t, f, NULL);  tracer_free(t);
 *
 * The pieces: sampler.h (perf_event_open, rings, attach/inherit design), symbolizer.h
 * (ELF, debug files, kallsyms, vdso, JIT maps; resolution while the target is alive),
 * lib/perfscript (the writer of the perf-script format, header included).
 *
 * Ownership: a tracer owns its sampler, symbolizer and buffered samples.  Thread-safety:
 * none; one thread calls every function of a given tracer (the sampled process may have
 * any number of threads).  Errors: NULL / negative errno, with a message in err. */
#ifndef FNTRACE_TRACER_H
#define FNTRACE_TRACER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "perfscript.h"
#include "symbolizer.h"

#define TRACER_DEFAULT_FREQ 200

typedef struct tracer tracer;

/* How samples are taken.  perf: perf_event_open (any process of the user, kernel frames
 * when allowed; sampler.h).  timer: POSIX CPU timers and a signal handler inside this
 * process (pid must be getpid(); user frames only; no syscall that Docker's default
 * seccomp profile refuses; nothing paid at context switches; timer_sampler.h).  bpf: a
 * per-CPU BPF program (root or CAP_BPF + CAP_PERFMON; pids, a cgroup or every process;
 * kernel frames always; bpf_sampler.h). */
enum tracer_sampler { TRACER_SAMPLER_PERF = 0, TRACER_SAMPLER_TIMER, TRACER_SAMPLER_BPF };

typedef struct tracer_opts {
    int pid;                /* the process to sample, with all its threads */
    /* bpf backend only: what to sample besides pid (which may be 0) */
    const int *pids;        /* more processes (each with what it forks later) */
    size_t npids;
    const char *cgroup;     /* a cgroup directory (v2 or v1), descendants included */
    int all;                /* every process on the machine */
    int want_idle;          /* also the idle task (pid 0) */
    int skip_self;          /* bpf: never sample this process (the node agent: its own
                               reading and symbolizing would come back as samples) */
    unsigned dither_ms;     /* bpf: bpf_sampler_opts.dither_ms */
    /* bpf backend: called with each process the first time one of its samples is read
     * (again after it exec'ed or its pid was reused), while it most likely still lives */
    void (*on_new_pid)(void *arg, int pid);
    void *on_new_pid_arg;
    int exec;               /* pid is our child, stopped before exec (record -- CMD):
                               sampling starts at exec; the caller releases the child
                               after tracer_start() returns */
    int freq;               /* samples per second per thread; 0: 200 */
    int user_only;          /* never record kernel frames */
    int skip_tid;           /* a thread of pid not to sample: a process sampling itself
                               passes its sampling thread (gettid()); 0: none */
    const char *cmdline;    /* header `cmdline` value; NULL: this process's command line */
    unsigned ring_pages;    /* ring buffer data pages per CPU; 0: 64 */
    enum tracer_sampler sampler;
    const char *skip_comm;  /* timer: threads with this name are not sampled (threads the
                               sampling thread creates inherit its name); NULL: none */
} tracer_opts;

/* Opens the events and starts sampling (at exec with opts.exec).  NULL on failure with a
 * reason in err: no such process, permission (perf_event_paranoid), seccomp, limits. */
tracer *tracer_start(const tracer_opts *opts, char *err, size_t errlen);
/* The same, returning 0 or the negative errno (-EPERM: not permitted, -ESRCH: no such
 * process...), the tracer in *out. */
int tracer_open(tracer **out, const tracer_opts *opts, char *err, size_t errlen);

/* Waits up to timeout_ms for data (0: do not wait), then reads every ring and symbolizes
 * the new samples.  Returns the number of samples added, or a negative errno. */
int tracer_poll(tracer *t, int timeout_ms);

/* Stops sampling and reads what is still in the rings (waits two sampling periods so
 * the kernel can report samples it dropped on a full ring).  Buffered samples stay for
 * tracer_flush(); idempotent. */
void tracer_stop(tracer *t);

/* What the caller adds to the header of a flushed file (all optional). */
typedef struct tracer_header {
    const ps_invocation *invocations;  /* `# fntrace invocation : …` lines; id and fn
                                          raw (the writer escapes them) */
    size_t ninvocations;
    const char *const *lines;          /* other header lines, written as `# LINE`
                                          (newlines escaped, cut at 4 KiB) */
    size_t nlines;
} tracer_header;

typedef struct tracer_sample tracer_sample;

/* tracer_write() of the samples keep() accepts only (NULL: all), leaving every
 * buffered sample in place (call tracer_forget() after the last file of a window).
 * Lost samples in the header are those of the whole window. */
int tracer_write_select(tracer *t, ps_writer *w, const tracer_header *h,
                        int (*keep)(void *arg, const tracer_sample *s), void *arg);
/* Drops the buffered samples (after tracer_write_select()). */
void tracer_forget(tracer *t);

/* Writes a perf-script file through lib/perfscript's writer: the `# ========` header
 * (captured on, hostname, os release, version, arch, nrcpus, cmdline, event, times of
 * first/last sample), fntrace's lines (version, backend, frames, lost samples) and the
 * caller's, then the buffered samples in time order; then forgets those samples (the
 * next flush starts a new file; lost samples are counted per file).  h may be NULL.
 * Returns 0 or the writer's negative errno. */
int tracer_write(tracer *t, ps_writer *w, const tracer_header *h);
/* tracer_write() onto a stdio stream (not closed; flushed). */
int tracer_flush(tracer *t, FILE *out, const tracer_header *h);

/* Counters since tracer_start(). */
typedef struct tracer_stats {
    uint64_t samples;       /* samples read */
    uint64_t lost;          /* samples the kernel reported lost (ring overflow) */
    uint64_t buffered;      /* samples waiting for tracer_flush() */
    int kernel_frames;      /* 1: kernel frames recorded; 0: user frames only */
    unsigned events;        /* perf events open (threads x CPUs); timer: threads sampled */
    enum tracer_sampler sampler;
    unsigned tables_over_budget; /* symbol tables left out: the symbolizer's memory budget */
    unsigned jit_maps_capped;    /* JIT maps read no further (byte, time or symbol cap) */
    uint64_t unsampled_tasks;    /* tasks forked and exited unsampled (shorter-lived than a
                                    sampling period of CPU time: structurally missed) */
    uint64_t loops_cut;          /* samples whose callchain ended in a frame-pointer loop,
                                    cut after its first copy (sampler_chain_cut) */
    uint64_t late;               /* timer: samples of the samples read that stand for a
                                    late signal's periods beyond its first (the kernel
                                    looks at CPU timers at its tick) */
    const char *core_btf;        /* bpf: bpf_sampler_stats.btf; NULL otherwise */
} tracer_stats;
void tracer_get_stats(const tracer *t, tracer_stats *out);

/* One buffered sample, as handed to tracer_foreach(); frames leaf first. */
struct tracer_sample {
    const char *comm;
    uint32_t pid, tid, cpu;
    uint64_t time_ns;       /* CLOCK_MONOTONIC */
    uint64_t period;
    const sym_frame *frames;
    uint32_t nframes;
};

/* Calls fn for each buffered sample in time order; stops when fn returns non-zero. */
void tracer_foreach(tracer *t, int (*fn)(void *arg, const tracer_sample *s), void *arg);

void tracer_free(tracer *t);

#endif
