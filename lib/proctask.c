/* proctask — see proctask.h.  Entries that are not decimal thread ids are skipped. */
#include "proctask.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int proc_tasks(int pid, int **tids)
{
    *tids = NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? -ESRCH : -errno;
    size_t cap = 64, n = 0;
    int *v = malloc(cap * sizeof *v);
    struct dirent *de;
    while (v && (de = readdir(d))) {
        char *end;
        long tid = strtol(de->d_name, &end, 10);
        if (*end || end == de->d_name || tid <= 0 || tid > INT32_MAX) continue;
        if (n == cap) {
            int *nv = realloc(v, cap * 2 * sizeof *nv);
            if (!nv) { free(v); v = NULL; break; }
            v = nv;
            cap *= 2;
        }
        v[n++] = (int)tid;
    }
    closedir(d);
    if (!v) return -ENOMEM;
    *tids = v;
    return (int)n;
}
