/* jitmap — opens a process's JIT symbol map (/tmp/perf-PID.map, written by node
 * --perf-basic-prof, JVM agents, python -X perf) where that process sees it.
 *
 * A process in another pid namespace (a container) names the file after its own pid
 * (the last NSpid of /proc/PID/status) in its own /tmp (another mount namespace): the
 * file is then /proc/PID/root/tmp/perf-NSPID.map, opened with openat2(RESOLVE_IN_ROOT)
 * so that symlinks inside the container resolve inside it, never to the host's files.
 * Same namespaces: /tmp/perf-PID.map.  The final component is never followed as a
 * symlink, and a FIFO does not block (O_NONBLOCK).
 *
 * Thread-safe (no state).  Returns an fd or a negative errno. */
#ifndef FNTRACE_JITMAP_H
#define FNTRACE_JITMAP_H

#include <stddef.h>

/* display receives the name frames print as module: "/tmp/perf-NSPID.map". */
int jitmap_open(int pid, char *display, size_t dlen);

/* The innermost namespace pid of pid (last NSpid field), pid itself when unknown. */
int jitmap_nspid(int pid);

#endif
