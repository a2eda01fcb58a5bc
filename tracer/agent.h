/* agent — what `fntrace agent` does, as a function: one process per node samples every
 * process (or every process under a cgroup directory) with the bpf backend, splits the
 * samples by container and, every window, uploads one perf-script trace per container
 * through the uploader and its spool.  The trace is named after the container: Docker's
 * name or the OpenFaaS function label when cgroupmap can learn them, else the leaf of
 * the process's cgroup (in the --cgroup-root hierarchy when one is given), sanitized to
 * the trace-name rule.  Setting *stop (SIGTERM/SIGINT in the main) ends the current
 * window early: what is held is uploaded (or spooled) before agent_run returns.
 *
 * A process is mapped to its container the first time one of its samples is read
 * (tracer_opts.on_new_pid), while it most likely still runs; a pid reused later is
 * mapped again.  The agent's own process is never sampled (tracer_opts.skip_self; in a
 * container it would be one more container).  Each trace's header carries
 * `# fntrace container : NAME` and the window's lost samples.
 *
 * Library code: logs nothing; reports each trace through on_trace.  Not thread-safe. */
#ifndef FNTRACE_AGENT_H
#define FNTRACE_AGENT_H

#include <signal.h>
#include <stdint.h>

#include "tracer.h"
#include "uploader.h"

typedef struct agent_trace {
    const char *name;             /* the container's trace name */
    uint64_t samples;
    int rc;                       /* upload_submit(): 0 sent, 1 spooled, < 0 failed */
    const char *err;              /* why, when rc != 0 */
} agent_trace;

typedef struct agent_opts {
    const char *cgroup_root;      /* NULL: every process */
    double window;                /* seconds per trace; 0: 10 */
    int freq;                     /* per CPU; 0: 200 */
    const upload_opts *upload;    /* url, spool, retries (name is set per container) */
    const char *docker_sock;      /* NULL: /var/run/docker.sock */
    const char *docker_root;      /* NULL: /var/lib/docker */
    const char *cmdline;          /* header cmdline */
    volatile sig_atomic_t *stop;
    void (*on_trace)(void *arg, const agent_trace *t);
    /* once: the program is attached, sampling runs (what came before is the agent's
     * start-up); the tracer's stats then */
    void (*on_sampling)(void *arg, const tracer_stats *ts);
    void *arg;
} agent_opts;

typedef struct agent_stats {
    uint64_t samples, lost;
    unsigned windows, sent, spooled, failed;
} agent_stats;

/* Runs until *stop.  0, or a negative code with the reason in err: -EPERM (the bpf
 * backend is not permitted), -ENOENT/-EINVAL (cgroup root), others from the backend. */
int agent_run(const agent_opts *o, agent_stats *st, char *err, size_t errlen);

#endif
