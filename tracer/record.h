/* record — what `fntrace record` does, as a function: start the target (a command,
 * stopped until the events exist, so its first instruction is sampled) or attach to a
 * running process, sample until the duration ends, the target exits or *stop is set
 * (SIGINT/SIGTERM in the main), then write the perf-script text to a file (atomically:
 * temporary file + rename) or stdout, and/or upload it.
 *
 * When recording ends before a command it started has exited (duration, signal), the
 * command gets SIGTERM (SIGKILL after 2 s) and is reaped: fntrace never leaves a child
 * behind.  An attached process (-p) is never signalled.
 *
 * Not thread-safe (forks, waits for its child); library code: logs nothing, returns a
 * code (lib/fterr.h) and a message in res->err. */
#ifndef FNTRACE_RECORD_H
#define FNTRACE_RECORD_H

#include <signal.h>

#include "fterr.h"
#include "tracer.h"
#include "uploader.h"

typedef struct record_opts {
    int pid;                       /* attach to this process, or 0 */
    enum tracer_sampler sampler;   /* perf (default) or bpf (timer is in-process only) */
    const int *pids;               /* bpf: more processes to attach to (-p repeated) */
    size_t npids;
    const char *cgroup;            /* bpf: a cgroup directory instead of processes */
    int all;                       /* bpf: every process (-a) */
    char *const *argv;             /* or start this command (NULL-terminated) */
    int freq;                      /* 0: 200 */
    double duration;               /* seconds; 0: until the target exits or *stop */
    const char *output;            /* file; NULL: stdout unless uploading */
    int user_only;
    const upload_opts *upload;     /* NULL: do not upload */
    volatile sig_atomic_t *stop;   /* set asynchronously to end the recording */
} record_opts;

typedef struct record_result {
    tracer_stats stats;
    double seconds;                /* how long sampling ran */
    int cmd_exited;                /* the command (argv) exited during the recording */
    int cmd_status;                /* its wait status */
    int cmd_terminated;            /* we ended the command (recording ended first) */
    upload_report upload;
    int upload_failed;             /* the error returned is the upload's */
    char err[512];
} record_result;

/* 0: recorded (and delivered); 1: recorded, and the trace went to the spool instead of
 * the collector (upload_submit's count); negative on failure, the detail in res->err:
 * -FT_ERR_NO_TARGET (cannot start, find or trace the target), -EPERM (the bpf backend
 * is not permitted: no root or CAP_BPF + CAP_PERFMON, or seccomp), -errno (cannot write
 * the output; checked before anything starts, then res->seconds is 0), or
 * upload_submit's code when the upload failed (res->upload_failed set). */
int record_run(const record_opts *o, record_result *res);

#endif
