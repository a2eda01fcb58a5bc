/* filter — see filter.h. */
#include "filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "errbuf.h"
#include "fterr.h"
#include "syscalls.h"

static int permissive(enum sc_action a) { return a == SC_ACT_ALLOW || a == SC_ACT_LOG; }

/* libseccomp's action value; -1 for what cannot be expressed */
static int64_t action_value(enum sc_action a, int has_errno, unsigned errno_ret)
{
    unsigned e = has_errno ? errno_ret : EPERM;
    switch (a) {
    case SC_ACT_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
    case SC_ACT_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
    case SC_ACT_TRAP: return SCMP_ACT_TRAP;
    case SC_ACT_ERRNO: return SCMP_ACT_ERRNO(e);
    case SC_ACT_TRACE: return SCMP_ACT_TRACE(e);
    case SC_ACT_ALLOW: return SCMP_ACT_ALLOW;
    case SC_ACT_LOG: return SCMP_ACT_LOG;
    default: return -1;
    }
}

static enum scmp_compare op_value(enum sc_op op)
{
    switch (op) {
    case SC_OP_NE: return SCMP_CMP_NE;
    case SC_OP_LT: return SCMP_CMP_LT;
    case SC_OP_LE: return SCMP_CMP_LE;
    case SC_OP_EQ: return SCMP_CMP_EQ;
    case SC_OP_GE: return SCMP_CMP_GE;
    case SC_OP_GT: return SCMP_CMP_GT;
    default: return SCMP_CMP_MASKED_EQ;
    }
}

static int add_arch(scmp_filter_ctx ctx, const char *name, struct sc_filter_stats *st, char *err,
                    size_t errlen)
{
    uint32_t tok = sc_arch_token(name);
    if (!tok) {
        err_set(err, errlen, "architecture %s is not supported by this libseccomp (%u.%u.%u); "
                "refusing to load a filter without it", name, SCMP_VER_MAJOR, SCMP_VER_MINOR,
                SCMP_VER_MICRO);
        return -FT_ERR_UNSUPPORTED;
    }
    int rc = seccomp_arch_add(ctx, tok);
    if (rc == -EEXIST) return 0;
    if (rc) {
        err_set(err, errlen, "libseccomp refused architecture %s: %s", name, strerror(-rc));
        return rc;
    }
    st->arches++;
    return 0;
}

static int set_flags(const struct sc_profile *p, scmp_filter_ctx ctx, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->nflags; i++) {
        const char *f = p->flags[i];
        enum scmp_filter_attr attr;
        if (!strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC")) attr = SCMP_FLTATR_CTL_TSYNC;
        else if (!strcmp(f, "SECCOMP_FILTER_FLAG_LOG")) attr = SCMP_FLTATR_CTL_LOG;
        else if (!strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW")) attr = SCMP_FLTATR_CTL_SSB;
        else {
            err_set(err, errlen, "flags[%zu]: %s cannot be expressed here (known: "
                    "SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW)", i, f);
            return -FT_ERR_UNSUPPORTED;
        }
        int rc = seccomp_attr_set(ctx, attr, 1);
        if (rc) {
            err_set(err, errlen, "flags[%zu]: libseccomp refused %s: %s", i, f, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static int add_rule(const struct sc_profile *p, size_t ri, scmp_filter_ctx ctx, uint32_t act,
                    struct sc_filter_stats *st, char *err, size_t errlen)
{
    const struct sc_rule *r = &p->rules[ri];
    struct scmp_arg_cmp conds[64];
    unsigned per_index[6] = { 0 };
    int repeated = 0;
    for (size_t i = 0; i < r->nargs; i++) {
        const struct sc_arg *a = &r->args[i];
        conds[i] = (struct scmp_arg_cmp){
            .arg = a->index, .op = op_value(a->op), .datum_a = a->value, .datum_b = a->value_two,
        };
        if (++per_index[a->index] > 1) repeated = 1;
    }
    for (size_t n = 0; n < r->nnames; n++) {
        const char *name = r->names[n];
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) {
            if (sc_syscall_kind(name) == SC_SYSCALL_NEWER && permissive(r->action)
                && !permissive(p->default_action)) {
                st->newer_dropped++;
                if (!st->newer_example) st->newer_example = name;
                continue;
            }
            err_set(err, errlen, "syscalls[%zu]: libseccomp %u.%u.%u cannot name syscall \"%s\", "
                    "and leaving it out would make the filter weaker than the profile",
                    ri, SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO, name);
            return -FT_ERR_UNSUPPORTED;
        }
        int rc = 0;
        if (repeated) {
            for (size_t i = 0; i < r->nargs && !rc; i++) {
                rc = seccomp_rule_add_array(ctx, act, nr, 1, &conds[i]);
                st->syscall_rules++;
            }
        } else {
            rc = seccomp_rule_add_array(ctx, act, nr, (unsigned)r->nargs, conds);
            st->syscall_rules++;
        }
        if (rc) {
            err_set(err, errlen, "syscalls[%zu]: libseccomp refused the rule for \"%s\" (%s, %zu "
                    "argument condition%s): %s", ri, name, sc_action_name(r->action), r->nargs,
                    r->nargs == 1 ? "" : "s", strerror(-rc));
            return rc;
        }
    }
    return 0;
}

int sc_filter_build(const struct sc_profile *p, const struct sc_env *env, scmp_filter_ctx *out,
                    struct sc_filter_stats *st, char *err, size_t errlen)
{
    struct sc_filter_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    *out = NULL;
    if (p->listener_path) {
        err_set(err, errlen, "listenerPath: a seccomp notify listener cannot be used here");
        return -FT_ERR_UNSUPPORTED;
    }
    int64_t def = action_value(p->default_action, p->has_default_errno, p->default_errno);
    if (def < 0) {
        err_set(err, errlen, "defaultAction: %s needs a listener and cannot be used here",
                sc_action_name(p->default_action));
        return -FT_ERR_UNSUPPORTED;
    }
    scmp_filter_ctx ctx = seccomp_init((uint32_t)def);
    if (!ctx) {
        err_set(err, errlen, "libseccomp could not create a filter (defaultAction %s)",
                sc_action_name(p->default_action));
        return -ENOMEM;
    }
    int rc = 0;
    st->arches = 1;   /* the native one */
    for (size_t i = 0; i < p->narchitectures && !rc; i++)
        rc = add_arch(ctx, p->architectures[i], st, err, errlen);
    const char *native = sc_arch_native_scmp();
    for (size_t i = 0; i < p->narchmap && !rc; i++) {
        if (strcmp(p->archmap[i].arch, native)) continue;
        rc = add_arch(ctx, p->archmap[i].arch, st, err, errlen);
        for (size_t j = 0; j < p->archmap[i].nsubs && !rc; j++)
            rc = add_arch(ctx, p->archmap[i].subs[j], st, err, errlen);
        break;
    }
    if (!rc) rc = set_flags(p, ctx, err, errlen);
    for (size_t i = 0; i < p->nrules && !rc; i++) {
        const struct sc_rule *r = &p->rules[i];
        if (!sc_rule_applies(r, env)) {
            st->rules_skipped++;
            continue;
        }
        st->rules_applied++;
        int64_t act = action_value(r->action, r->has_errno, r->errno_ret);
        if (act < 0) {
            err_set(err, errlen, "syscalls[%zu]: %s needs a listener and cannot be used here", i,
                    sc_action_name(r->action));
            rc = -FT_ERR_UNSUPPORTED;
            break;
        }
        if (act == def) continue;   /* same as the default: nothing to add */
        rc = add_rule(p, i, ctx, (uint32_t)act, st, err, errlen);
    }
    if (rc) {
        seccomp_release(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

int sc_filter_load(scmp_filter_ctx ctx, char *err, size_t errlen)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        int e = errno;
        err_set(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(e));
        return -e;
    }
    int rc = seccomp_load(ctx);
    if (rc) {
        err_set(err, errlen, "loading the seccomp filter: %s", strerror(-rc));
        return rc;
    }
    return 0;
}
