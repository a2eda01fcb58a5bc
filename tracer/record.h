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
 * status and a message. */
#ifndef FNTRACE_RECORD_H
#define FNTRACE_RECORD_H

#include <signal.h>

#include "tracer.h"
#include "upload.h"

typedef struct record_opts {
    int pid;                       /* attach to this process, or 0 */
    enum tracer_backend backend;   /* perf (default) or bpf */
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

enum record_status {
    RECORD_OK = 0,
    RECORD_ERR_TARGET,             /* cannot start, find or trace the target */
    RECORD_ERR_PERM,               /* the backend is not permitted (bpf: no CAP_BPF...) */
    RECORD_ERR_OUTPUT,             /* cannot write the output */
    RECORD_UPLOAD_SPOOLED,         /* written to the spool, not delivered yet */
    RECORD_UPLOAD_FAILED,          /* refused by the server, or no spool to fall back on */
};

typedef struct record_result {
    tracer_stats stats;
    double seconds;                /* how long sampling ran */
    int cmd_exited;                /* the command (argv) exited during the recording */
    int cmd_status;                /* its wait status */
    int cmd_terminated;            /* we ended the command (recording ended first) */
    upload_report upload;
    char err[512];
} record_result;

enum record_status record_run(const record_opts *o, record_result *res);

#endif
