/* jitmap — see jitmap.h. */
#define _GNU_SOURCE
#include "jitmap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int jitmap_nspid(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    if (!f) return pid;
    int ns = pid;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "NSpid:", 6)) continue;
        char *p = line + 6, *end;
        for (;;) {
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno) break;
            if (v > 0 && v <= 0x3fffffff) ns = (int)v;
            p = end;
        }
        break;
    }
    fclose(f);
    return ns;
}

/* 1 when pid's mount namespace is not ours */
static int other_mnt_ns(int pid)
{
    char path[64];
    struct stat a, b;
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", pid);
    if (stat(path, &a) < 0 || stat("/proc/self/ns/mnt", &b) < 0) return 0;
    return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

void jitmap_locate(int pid, jitmap_loc *out)
{
    out->pid = pid;
    out->nspid = jitmap_nspid(pid);
    out->other_mnt = out->nspid == pid ? other_mnt_ns(pid) : 1;
}

int jitmap_open(int pid, char *display, size_t dlen)
{
    jitmap_loc l;
    jitmap_locate(pid, &l);
    return jitmap_open_at(&l, display, dlen);
}

int jitmap_open_at(const jitmap_loc *l, char *display, size_t dlen)
{
    int pid = l->pid, ns = l->nspid;
    snprintf(display, dlen, "/tmp/perf-%d.map", ns);
    int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    if (ns == pid && !l->other_mnt) {
        int fd = open(display, flags);
        return fd < 0 ? -errno : fd;
    }
#ifdef SYS_openat2
    char root[64], rel[64];
    snprintf(root, sizeof root, "/proc/%d/root", pid);
    snprintf(rel, sizeof rel, "tmp/perf-%d.map", ns);
    int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -errno;
    struct open_how how = { .flags = (unsigned)flags,
                            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    int fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
    int e = errno;
    close(dfd);
    return fd < 0 ? -e : fd;
#else
    return -ENOSYS;                  /* no safe way to resolve inside the container */
#endif
}
