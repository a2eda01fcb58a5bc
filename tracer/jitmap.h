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

/* Where pid's map is, found once (its namespaces do not change with exec): a caller that
 * looks for the map again and again (a reader polling a JIT that appends) keeps this and
 * opens with jitmap_open_at, saving the /proc/PID/status read and the namespace stats. */
typedef struct jitmap_loc {
    int pid, nspid;
    int other_mnt;            /* pid's mount namespace is not ours */
} jitmap_loc;
void jitmap_locate(int pid, jitmap_loc *out);
int jitmap_open_at(const jitmap_loc *l, char *display, size_t dlen);

/* The innermost namespace pid of pid (last NSpid field), pid itself when unknown. */
int jitmap_nspid(int pid);

#endif
