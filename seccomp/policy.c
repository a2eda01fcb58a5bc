/* policy — see policy.h. */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "errbuf.h"
#include "fterr.h"

int sc_kernel_parse(const char *s, int *major, int *minor)
{
    unsigned a, b;
    int n = 0;
    if (!s || sscanf(s, "%u.%u%n", &a, &b, &n) != 2 || n == 0 || a > 1000 || b > 1000)
        return -FT_ERR_BAD_INPUT;
    if (s[n] && s[n] != '.' && s[n] != '-' && s[n] != '+' && s[n] != '_')
        return -FT_ERR_BAD_INPUT;
    *major = (int)a;
    *minor = (int)b;
    return 0;
}

int sc_env_current(struct sc_env *env, uint64_t caps, char *err, size_t errlen)
{
    struct utsname u;
    if (uname(&u) != 0) {
        int e = errno;
        err_set(err, errlen, "uname: %s", strerror(e));
        return -e;
    }
    env->caps = caps;
    env->arch = sc_arch_native_name();
    if (sc_kernel_parse(u.release, &env->kernel_major, &env->kernel_minor)) {
        err_set(err, errlen, "cannot read a kernel version from uname release \"%s\"", u.release);
        return -FT_ERR_BAD_INPUT;
    }
    return 0;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

static int kernel_at_least(const struct sc_env *env, int major, int minor)
{
    return env->kernel_major > major || (env->kernel_major == major && env->kernel_minor >= minor);
}

int sc_rule_applies(const struct sc_rule *r, const struct sc_env *env)
{
    const struct sc_cond *ex = &r->excludes, *in = &r->includes;
    if (ex->narches && in_list(ex->arches, ex->narches, env->arch)) return 0;
    if (ex->ncaps && (ex->caps & env->caps)) return 0;
    if (ex->has_min_kernel && kernel_at_least(env, ex->min_major, ex->min_minor)) return 0;
    if (in->narches && !in_list(in->arches, in->narches, env->arch)) return 0;
    if (in->ncaps && (in->caps & env->caps) != in->caps) return 0;
    if (in->has_min_kernel && !kernel_at_least(env, in->min_major, in->min_minor)) return 0;
    return 1;
}

static int allows(enum sc_action a) { return a == SC_ACT_ALLOW || a == SC_ACT_LOG; }

enum sc_verdict sc_verdict(const struct sc_profile *p, const struct sc_env *env, const char *name)
{
    int mentioned = 0, cond_allow = 0, cond_deny = 0;
    for (size_t i = 0; i < p->nrules; i++) {
        const struct sc_rule *r = &p->rules[i];
        if (!in_list(r->names, r->nnames, name) || !sc_rule_applies(r, env)) continue;
        mentioned = 1;
        if (allows(r->action)) {
            if (!r->nargs) return SC_ALLOWED;
            cond_allow = 1;
        } else if (r->nargs) {
            cond_deny = 1;
        }
    }
    if (cond_allow) return SC_ALLOWED_IF;
    if (allows(p->default_action)) {
        if (!mentioned) return SC_ALLOWED;
        return cond_deny ? SC_ALLOWED_IF : SC_DENIED;
    }
    return SC_DENIED;
}
