/* policy — which rules of a profile apply to a container, decided the way Docker (moby's
 * profiles/seccomp) decides before it hands the filter to the runtime:
 *
 *   a rule is dropped when  excludes.arches names the native arch, or
 *                           any of excludes.caps is in the bounding set, or
 *                           excludes.minKernel <= the running kernel;
 *   and also when           includes.arches is given and does not name the native arch, or
 *                           some of includes.caps is not in the bounding set, or
 *                           includes.minKernel > the running kernel.
 *
 * "Native arch" is moby's spelling of the machine ("amd64"); the environment is a plain
 * value so tests and `diff` can ask about other capability sets and kernels.  Pure
 * functions, thread-safe. */
#ifndef FNTRACE_SECCOMP_POLICY_H
#define FNTRACE_SECCOMP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct sc_env {
    uint64_t caps;            /* bounding set (caps.h) */
    const char *arch;         /* moby's native name, "amd64" */
    int kernel_major, kernel_minor;
};

/* The running machine: native arch and kernel from uname; caps as given. */
int sc_env_current(struct sc_env *env, uint64_t caps, char *err, size_t errlen);

/* Parses "6.1" (or a uname release "6.1.0-18-amd64") into major/minor. 0 or
 * -FT_ERR_BAD_INPUT. */
int sc_kernel_parse(const char *s, int *major, int *minor);

int sc_rule_applies(const struct sc_rule *r, const struct sc_env *env);

/* What a profile does with one syscall under an environment. */
enum sc_verdict {
    SC_DENIED = 0,            /* no applicable rule allows it (and the default does not) */
    SC_ALLOWED_IF,            /* allowed only when its arguments match some rule's args */
    SC_ALLOWED,               /* allowed whatever its arguments */
};

/* The verdict for name; SCMP_ACT_LOG counts as allowing. */
enum sc_verdict sc_verdict(const struct sc_profile *p, const struct sc_env *env,
                           const char *name);

#endif
