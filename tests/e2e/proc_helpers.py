"""Helpers of the tracer's end-to-end tests (test_tracer_*.py, and the docker suite's
agent test through them) that read a workload's or a tracer's state: CPU-seconds a
workload reported, a process's anonymous descriptors, its threads.  Kept out of
conftest.py so that a suite with its own conftest can import them."""
import os
import re


def cpu_seconds(stderr):
    """CPU-seconds a workload reported (`cpu_seconds=X` lines on its stderr: hotspots and
    selftrace print getrusage's user+sys, which Linux keeps in nanoseconds of run time),
    summed over the lines; `tracer_cpu_seconds=` is not one of them."""
    return sum(float(x) for x in re.findall(r"(?<![\w])cpu_seconds=([0-9.]+)", stderr))


def anon_fds(pid, kind):
    """How many of PID's descriptors are anonymous inodes of KIND ("bpf_link",
    "[perf_event]"); 0 once the process is gone."""
    n = 0
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return 0
    for fd in fds:
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}") == f"anon_inode:{kind}"
        except OSError:
            pass
    return n


def threads_of(pid):
    """Number of threads of PID (0 once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0
