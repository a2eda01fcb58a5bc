/* sysprobe — tries syscalls that a seccomp profile may block and prints, one line each,
 * `NAME ok` or `NAME errno=N ENAME`, then `seccomp=MODE` from /proc/self/status.
 *   sysprobe [NAME...]      (default: kexec_load mount bpf perf_event_open)
 * Every call is made with arguments the kernel refuses after its permission checks
 * (unknown flags, a missing mount point, an unknown bpf command, a NULL perf attr), so
 * even as root without a filter nothing is loaded, mounted or opened: a filter that
 * blocks the call shows as EPERM, a call that reaches the kernel as EINVAL, ENOENT,
 * ENODEV or EFAULT. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *errno_name(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case ENODEV: return "ENODEV";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EBUSY: return "EBUSY";
    default: return "E?";
    }
}

static long probe(const char *name)
{
    if (!strcmp(name, "kexec_load"))   /* unknown flag bits and a foreign arch: EINVAL */
        return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead8000UL);
    if (!strcmp(name, "mount"))
        return syscall(SYS_mount, "none", "/nonexistent/sysprobe", "sysprobe-nofs", 0UL, NULL);
    if (!strcmp(name, "bpf"))          /* no such command */
        return syscall(SYS_bpf, 0x7fffffff, NULL, 0);
    if (!strcmp(name, "perf_event_open"))
        return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL);
    if (!strcmp(name, "unshare"))      /* no flag: a no-op when allowed */
        return syscall(SYS_unshare, 0);
    errno = ENOSYS;
    return -2;
}

int main(int argc, char **argv)
{
    static const char *dflt[] = { "kexec_load", "mount", "bpf", "perf_event_open" };
    int n = argc > 1 ? argc - 1 : (int)(sizeof dflt / sizeof dflt[0]);
    for (int i = 0; i < n; i++) {
        const char *name = argc > 1 ? argv[i + 1] : dflt[i];
        errno = 0;
        long r = probe(name);
        if (r == -2) printf("%s unknown-probe\n", name);
        else if (r < 0) printf("%s errno=%d %s\n", name, errno, errno_name(errno));
        else printf("%s ok\n", name);
    }
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Seccomp:", 8)) printf("seccomp=%s", line + 8 + strspn(line + 8, " \t"));
    if (f) fclose(f);
    return 0;
}
