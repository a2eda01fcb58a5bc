/* proctask — the threads of a process as /proc/PID/task lists them now: the one walk of
 * that directory for the sampler (attaching to every thread) and the tracer (their
 * names).  A thread may start or end right after; callers that need every thread repeat
 * the walk (see tracer/sampler.h).
 *
 * proc_tasks() returns the number of thread ids put in a malloc'd array *tids (the caller
 * frees it), or -ESRCH when the process does not exist, -errno when the directory cannot
 * be read, -ENOMEM.  Reentrant, thread-safe. */
#ifndef FNTRACE_PROCTASK_H
#define FNTRACE_PROCTASK_H

int proc_tasks(int pid, int **tids);

#endif
