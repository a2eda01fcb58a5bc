/* filter — turns a profile into a loaded seccomp filter the way Docker's stack does it
 * (moby evaluates includes/excludes, runc builds the filter with libseccomp):
 *
 *   - default action from defaultAction, with defaultErrnoRet (else EPERM) for
 *     SCMP_ACT_ERRNO / SCMP_ACT_TRACE;
 *   - architectures: the profile's flat list, or from archMap the entry of the native
 *     arch with its sub-architectures (x86_64: x86 and x32); the native arch always;
 *   - each applicable rule (policy.h) with its action and errnoRet (else EPERM); a rule
 *     whose action equals the default is left out (it changes nothing, and libseccomp
 *     refuses it); args become comparisons (index, value, valueTwo, op, MASKED_EQ as
 *     mask + datum): all in one rule when each argument index appears once, one rule
 *     per comparison when an index repeats (runc's reading of such profiles: any match);
 *   - flags SECCOMP_FILTER_FLAG_LOG / SPEC_ALLOW / TSYNC as libseccomp attributes.
 *
 * It refuses what it cannot express instead of loading a weaker filter: SCMP_ACT_NOTIFY
 * (no listener here), listenerPath, an unknown flag, an architecture this libseccomp does
 * not support, any rule libseccomp rejects, and a rule stricter than the default for a
 * syscall libseccomp cannot name.  A permissive rule (allow, log) for a syscall newer
 * than libseccomp is dropped, as runc does: that syscall then gets the default action,
 * which only makes the filter stricter; such names are counted in the stats.
 *
 * The built context belongs to the caller (seccomp_release).  Not thread-safe. */
#ifndef FNTRACE_SECCOMP_FILTER_H
#define FNTRACE_SECCOMP_FILTER_H

#include <seccomp.h>
#include <stddef.h>

#include "policy.h"
#include "profile.h"

struct sc_filter_stats {
    size_t rules_applied;     /* profile rules that applied to the environment */
    size_t rules_skipped;     /* dropped by includes/excludes */
    size_t syscall_rules;     /* libseccomp rules added */
    size_t newer_dropped;     /* permissive entries for syscalls libseccomp cannot name */
    const char *newer_example;/* one of them, for messages */
    size_t arches;            /* architectures in the filter */
};

/* Builds the filter in *ctx.  0, or a negative code with err naming the problem
 * (-FT_ERR_UNSUPPORTED for what cannot be expressed, -errno from libseccomp). */
int sc_filter_build(const struct sc_profile *p, const struct sc_env *env, scmp_filter_ctx *ctx,
                    struct sc_filter_stats *stats, char *err, size_t errlen);

/* Sets no_new_privs and loads the filter into the calling thread (all threads with
 * TSYNC).  0 or -errno with err set. */
int sc_filter_load(scmp_filter_ctx ctx, char *err, size_t errlen);

#endif
