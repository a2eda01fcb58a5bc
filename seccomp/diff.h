/* diff — the syscalls two profiles treat differently for one environment (capability
 * set, arch, kernel; policy.h): allowed by one and not the other, or allowed by both but
 * only one of them checks the arguments.
 *
 * The syscalls compared are every name either profile mentions plus every syscall
 * libseccomp knows for the native arch (so a profile whose default allows differs from
 * one whose default denies on the names neither lists).  The result owns its names;
 * entries are sorted by name.  Pure, thread-safe. */
#ifndef FNTRACE_SECCOMP_DIFF_H
#define FNTRACE_SECCOMP_DIFF_H

#include <stddef.h>

#include "policy.h"

struct sc_diff_entry {
    char *name;
    enum sc_verdict a, b;
};

struct sc_diff {
    struct sc_diff_entry *entries;
    size_t n;
};

/* 0 (d filled, maybe with no entries) or -ENOMEM with err set. */
int sc_diff_compute(const struct sc_profile *a, const struct sc_profile *b,
                    const struct sc_env *env, struct sc_diff *d, char *err, size_t errlen);
void sc_diff_free(struct sc_diff *d);

const char *sc_verdict_name(enum sc_verdict v);

#endif
