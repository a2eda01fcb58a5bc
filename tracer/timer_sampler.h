/* timer_sampler — the in-process sampling backend: POSIX CPU timers and a signal handler
 * that walks the interrupted thread's frame pointers.  No perf_event_open, no privilege,
 * nothing that Docker's default seccomp profile refuses; a process can only sample
 * itself this way (the handler runtime, or any program linking the tracer library).
 *
 * Design.
 *   - One timer per thread: timer_create on the thread's CPU clock (the clock id of
 *     pthread_getcpuclockid, built from the tid) with SIGEV_THREAD_ID, so SIGPROF goes to
 *     the thread that spent the CPU time, every 1/freq seconds of its own CPU time.  The
 *     kernel checks such timers at its tick and never at a context switch, which is what
 *     makes this cheaper than per-thread perf events for servers that switch at every
 *     request.  (A process CPU timer costs the same per switch (bench_timer.sh: +1 to +2 %
 *     per ping-pong round for either, within the noise) but was rejected: it signals
 *     whichever thread happens to run, the tracing thread included, and cannot leave a
 *     thread out.)  A timer signal
 *     that covers several periods (its overrun count + 1, the weight, stored with the
 *     sample) is drained as that many samples of one period each, spread back over the
 *     wall time the periods took at most and never before the thread's previous sample:
 *     readers that count sample lines (FlameScope) and readers that add periods
 *     (stackcollapse-perf.pl) then agree, at the rate asked, however late the kernel saw
 *     the expiry (on a loaded machine, only at its tick).
 *   - Threads: those that exist at open, then a scan of /proc/self/task gives new
 *     threads their timer and releases the timers of threads that are gone: at a read
 *     (the tracing thread's poll, every 100 ms) whose thread count (/proc/self/stat, one
 *     read) differs from the last scan's, and at every tenth read in any case; a thread
 *     can also take its timer at once (timer_sampler_thread_attach, called by the
 *     handler runtime's own threads as they start) and release it as it ends
 *     (timer_sampler_thread_detach).  skip_tid,
 *     and every thread whose name is skip_comm (threads created by the tracing thread
 *     inherit its name), are never given a timer.
 *   - The signal handler is async-signal-safe: it takes no lock and allocates nothing;
 *     it saves errno, stamps CLOCK_MONOTONIC, walks the frame chain from the interrupted
 *     context (rip/rsp/rbp; pc/sp/x29 on arm64) and appends the record to its thread's
 *     single-producer single-consumer ring.  The slot is named by the timer's sigev
 *     value (index and generation), so the handler looks nothing up; a stale signal of
 *     a released slot fails the generation check and is dropped.  SA_RESTART, so a
 *     sampled thread's system calls are restarted.
 *   - Fault-safe walk: the handler reads memory only inside the interrupted thread's
 *     stack, from the stack pointer upwards: its exact bounds when the thread took its
 *     timer itself (pthread_getattr_np at attach), else the mapping of the snapshot that
 *     holds the stack pointer (an anonymous read-write mapping or [stack]); every frame
 *     pointer must be 8-aligned and above the previous one (a loop cannot continue), and
 *     every return address must lie in an executable mapping, or the walk ends.  The
 *     mappings come from a snapshot of /proc/self/maps that the tracing thread rebuilds
 *     (when new threads appear, or when handlers report misses) into one of two fixed
 *     buffers and publishes with an atomic pointer; a buffer is rewritten only once no
 *     handler can still hold it (a count of handlers in flight was seen at zero after
 *     the swap).
 *     Limit: for a thread found by the scan, a mapping merged or replaced between two
 *     snapshots around its stack is the one case the snapshot cannot know.
 *   - The first expiry of each timer falls at a random phase of the period, so threads
 *     that live less than a period are sampled in proportion to their CPU time.
 *   - Memory: slots, rings and snapshots live in one region mapped at the first open
 *     and kept for the life of the process, so no late signal can ever write freed
 *     memory.  One timer sampler per process at a time (SIGPROF is process-wide); open
 *     fails if another SIGPROF handler is installed.  The SIGPROF handler stays
 *     installed after close and ignores what is not its own.
 *   - Frames are user frames only (the handler sees the user context); records go to
 *     the same callback as the perf backend's (sampler.h: SREC_SAMPLE with a
 *     PERF_CONTEXT_USER marker, SREC_EXIT when a thread's timer is released).
 *
 * Thread-safety: open, read, disable and close from one thread (the tracing thread);
 * timer_sampler_thread_attach/detach from any thread; the signal handler anywhere. */
#ifndef FNTRACE_TIMER_SAMPLER_H
#define FNTRACE_TIMER_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

typedef struct timer_sampler timer_sampler;

typedef struct timer_sampler_opts {
    int freq;                 /* samples per CPU-second per thread */
    int skip_tid;             /* never sampled (the tracing thread); 0: none */
    const char *skip_comm;    /* threads with this name are never sampled; NULL: none */
} timer_sampler_opts;

/* Installs the SIGPROF handler, gives every thread of this process (but the skipped)
 * its timer.  0, or a negative errno with a reason in err (-EBUSY: a timer sampler or
 * another SIGPROF handler is active). */
int timer_sampler_open(timer_sampler **out, const timer_sampler_opts *o, char *err,
                       size_t errlen);

/* Gives new threads their timer, releases those of threads that ended, refreshes the
 * mapping snapshot when needed, and hands every buffered sample (then SREC_EXIT for
 * released threads) to cb.  Returns the number of records. */
size_t timer_sampler_read(timer_sampler *s, sampler_cb cb, void *arg);

/* Deletes every timer (buffered samples can still be read).  Idempotent. */
void timer_sampler_disable(timer_sampler *s);

uint64_t timer_sampler_lost(const timer_sampler *s);      /* samples dropped: ring full */
/* samples written for the periods late signals covered beyond their first (of all the
 * samples read): how often the kernel's tick saw a thread's expiry late */
uint64_t timer_sampler_late(const timer_sampler *s);
unsigned timer_sampler_nthreads(const timer_sampler *s);  /* threads with a timer now */
void timer_sampler_close(timer_sampler *s);

/* The calling thread gets its timer now / releases it (threads a runtime creates call
 * these as they start and end, so even a short-lived thread is sampled).  No-ops when
 * no timer sampler is active in this process; 0 or a negative errno. */
int timer_sampler_thread_attach(void);
void timer_sampler_thread_detach(void);

/* The walk itself, for tests.  maps: sorted, non-overlapping [start, end) ranges.
 * Writes ip, then each return address found, at most max; returns the count. */
#define TS_MAP_EXEC 1u        /* executable: return addresses may point here */
#define TS_MAP_STACK 2u       /* read-write anonymous or [stack]: frames may live here */
typedef struct ts_map {
    uintptr_t start, end;
    unsigned flags;
} ts_map;
size_t timer_walk(const ts_map *maps, size_t nmaps, uintptr_t ip, uintptr_t sp,
                  uintptr_t fp, uint64_t *out, size_t max);

/* Parses /proc/PID/maps text into ts_map entries (only EXEC and STACK ones); returns
 * how many were written (at most max; *truncated set when more were there). */
size_t timer_parse_maps(const char *text, size_t len, ts_map *out, size_t max,
                        int *truncated);

#endif
