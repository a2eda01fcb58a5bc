/* profile — see profile.h.  One pass over the cJSON tree per section; every check
 * reports the JSON path of the value it refused.  Arrays are allocated to their exact
 * size up front (counts come from the tree), so there is no realloc dance. */
#include "profile.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "errbuf.h"
#include "fterr.h"
#include "readfile.h"
#include "syscalls.h"

static const char *const action_names[] = {
    [SC_ACT_KILL_THREAD] = "SCMP_ACT_KILL_THREAD", [SC_ACT_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
    [SC_ACT_TRAP] = "SCMP_ACT_TRAP", [SC_ACT_ERRNO] = "SCMP_ACT_ERRNO",
    [SC_ACT_TRACE] = "SCMP_ACT_TRACE", [SC_ACT_ALLOW] = "SCMP_ACT_ALLOW",
    [SC_ACT_LOG] = "SCMP_ACT_LOG", [SC_ACT_NOTIFY] = "SCMP_ACT_NOTIFY",
};

static const char *const op_names[] = {
    [SC_OP_NE] = "SCMP_CMP_NE", [SC_OP_LT] = "SCMP_CMP_LT", [SC_OP_LE] = "SCMP_CMP_LE",
    [SC_OP_EQ] = "SCMP_CMP_EQ", [SC_OP_GE] = "SCMP_CMP_GE", [SC_OP_GT] = "SCMP_CMP_GT",
    [SC_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

/* profile spelling, libseccomp token (0: not in this libseccomp), moby's native name */
static const struct { const char *scmp; uint32_t token; const char *native; } arches[] = {
    { "SCMP_ARCH_X86", SCMP_ARCH_X86, "x86" },
    { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64, "amd64" },
    { "SCMP_ARCH_X32", SCMP_ARCH_X32, "x32" },
    { "SCMP_ARCH_ARM", SCMP_ARCH_ARM, "arm" },
    { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64, "arm64" },
    { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS, "mips" },
    { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64, "mips64" },
    { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32, "mips64n32" },
    { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL, "mipsle" },
    { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64, "mipsel64" },
    { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32, "mips3l64n32" },
    { "SCMP_ARCH_PPC", SCMP_ARCH_PPC, "ppc" },
    { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64, "ppc64" },
    { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE, "ppc64le" },
    { "SCMP_ARCH_S390", SCMP_ARCH_S390, "s390" },
    { "SCMP_ARCH_S390X", SCMP_ARCH_S390X, "s390x" },
    { "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC, "parisc" },
    { "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64, "parisc64" },
    { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64, "riscv64" },
#ifdef SCMP_ARCH_LOONGARCH64
    { "SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64, "loong64" },
#else
    { "SCMP_ARCH_LOONGARCH64", 0, "loong64" },
#endif
};
#define NARCHES (sizeof arches / sizeof arches[0])

/* native names includes/excludes may use besides the table's: moby's spellings */
static const char *const native_aliases[] = { "386", "mipsel", "loongarch64" };

const char *sc_action_name(enum sc_action a)
{
    return (unsigned)a < sizeof action_names / sizeof action_names[0] ? action_names[a] : "?";
}

int sc_action_from_name(const char *name)
{
    if (!strcmp(name, "SCMP_ACT_KILL")) return SC_ACT_KILL_THREAD;
    for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++)
        if (!strcmp(action_names[i], name)) return (int)i;
    return -1;
}

const char *sc_op_name(enum sc_op op)
{
    return (unsigned)op < sizeof op_names / sizeof op_names[0] ? op_names[op] : "?";
}

int sc_op_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (!strcmp(op_names[i], name)) return (int)i;
    return -1;
}

int sc_arch_known(const char *scmp_name)
{
    for (size_t i = 0; i < NARCHES; i++)
        if (!strcmp(arches[i].scmp, scmp_name)) return 1;
    return 0;
}

uint32_t sc_arch_token(const char *scmp_name)
{
    for (size_t i = 0; i < NARCHES; i++)
        if (!strcmp(arches[i].scmp, scmp_name)) return arches[i].token;
    return 0;
}

int sc_native_arch_known(const char *native_name)
{
    for (size_t i = 0; i < NARCHES; i++)
        if (!strcmp(arches[i].native, native_name)) return 1;
    for (size_t i = 0; i < sizeof native_aliases / sizeof native_aliases[0]; i++)
        if (!strcmp(native_aliases[i], native_name)) return 1;
    return 0;
}

static size_t native_index(void)
{
    uint32_t tok = seccomp_arch_native();
    for (size_t i = 0; i < NARCHES; i++)
        if (arches[i].token == tok) return i;
    return NARCHES;
}

const char *sc_arch_native_scmp(void)
{
    size_t i = native_index();
    return i < NARCHES ? arches[i].scmp : "SCMP_ARCH_NATIVE";
}

const char *sc_arch_native_name(void)
{
    size_t i = native_index();
    return i < NARCHES ? arches[i].native : "unknown";
}

/* ---- parsing ---------------------------------------------------------------- */

struct ctx {
    char *err;
    size_t errlen;
};

/* a JSON path for messages; a cut path is still a useful message */
#define PATHF(buf, ...) ((void)(snprintf(buf, sizeof buf, __VA_ARGS__) < 0))

#define FAIL(c, ...) \
    do { err_set((c)->err, (c)->errlen, __VA_ARGS__); return -FT_ERR_BAD_INPUT; } while (0)

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "invalid";
}

/* Every key of obj must be in keys (NULL-terminated) and appear once. */
static int check_keys(struct ctx *c, const cJSON *obj, const char *path, const char *const *keys)
{
    for (const cJSON *k = obj->child; k; k = k->next) {
        int ok = 0;
        for (size_t i = 0; keys[i]; i++)
            if (!strcmp(keys[i], k->string)) { ok = 1; break; }
        if (!ok) FAIL(c, "%s: unknown key \"%s\"", path, k->string);
        for (const cJSON *o = obj->child; o != k; o = o->next)
            if (!strcmp(o->string, k->string))
                FAIL(c, "%s: key \"%s\" given twice", path, k->string);
    }
    return 0;
}

/* A non-negative integer that a double holds exactly, at most max. */
static int get_uint(struct ctx *c, const cJSON *v, const char *path, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) FAIL(c, "%s: must be a number, not %s", path, type_name(v));
    double d = v->valuedouble;
    /* range first: converting a double beyond uint64_t is undefined */
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d)
        FAIL(c, "%s: must be a whole number from 0 to 2^53 (cannot hold %.17g exactly)", path, d);
    if ((uint64_t)d > max)
        FAIL(c, "%s: %llu is out of range (at most %llu)", path, (unsigned long long)d,
             (unsigned long long)max);
    *out = (uint64_t)d;
    return 0;
}

/* An array of strings, or null / absent (0 entries).  The array is allocated. */
static int get_strings(struct ctx *c, const cJSON *v, const char *path, const char ***out,
                       size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsArray(v)) FAIL(c, "%s: must be an array of strings, not %s", path, type_name(v));
    size_t count = (size_t)cJSON_GetArraySize(v);
    if (!count) return 0;
    const char **a = calloc(count, sizeof *a);
    if (!a) { err_set(c->err, c->errlen, "out of memory"); return -ENOMEM; }
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) {
            free(a);
            FAIL(c, "%s[%zu]: must be a string, not %s", path, i, type_name(e));
        }
        a[i] = e->valuestring;
    }
    *out = a;
    *n = count;
    return 0;
}

static int parse_cond(struct ctx *c, const cJSON *v, const char *path, struct sc_cond *out)
{
    static const char *const keys[] = { "caps", "arches", "minKernel", NULL };
    char sub[192];
    int rc;
    memset(out, 0, sizeof *out);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsObject(v)) FAIL(c, "%s: must be an object, not %s", path, type_name(v));
    if ((rc = check_keys(c, v, path, keys))) return rc;

    const char **caps;
    size_t ncaps;
    PATHF(sub, "%s.caps", path);
    if ((rc = get_strings(c, cJSON_GetObjectItemCaseSensitive(v, "caps"), sub, &caps, &ncaps)))
        return rc;
    for (size_t i = 0; i < ncaps; i++) {
        int n = sc_cap_number(caps[i]);
        if (n < 0) {
            err_set(c->err, c->errlen, "%s[%zu]: unknown capability \"%s\"", sub, i, caps[i]);
            free(caps);
            return -FT_ERR_BAD_INPUT;
        }
        out->caps |= 1ULL << n;
    }
    free(caps);
    out->ncaps = ncaps;

    PATHF(sub, "%s.arches", path);
    if ((rc = get_strings(c, cJSON_GetObjectItemCaseSensitive(v, "arches"), sub, &out->arches,
                          &out->narches)))
        return rc;
    for (size_t i = 0; i < out->narches; i++)
        if (!sc_native_arch_known(out->arches[i]))
            FAIL(c, "%s[%zu]: unknown architecture \"%s\" (moby's names: amd64, arm64, x86, "
                 "s390x ...)", sub, i, out->arches[i]);

    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(v, "minKernel");
    if (mk && !cJSON_IsNull(mk)) {
        PATHF(sub, "%s.minKernel", path);
        if (!cJSON_IsString(mk))
            FAIL(c, "%s: must be a string \"X.Y\", not %s", sub, type_name(mk));
        unsigned maj, min;
        char extra;
        if (sscanf(mk->valuestring, "%u.%u%c", &maj, &min, &extra) != 2 || maj > 1000 || min > 1000
            || strchr(mk->valuestring, '-') || strchr(mk->valuestring, '+')
            || strchr(mk->valuestring, ' '))
            FAIL(c, "%s: \"%s\" is not a kernel version \"X.Y\"", sub, mk->valuestring);
        out->has_min_kernel = 1;
        out->min_major = (int)maj;
        out->min_minor = (int)min;
    }
    return 0;
}

static int parse_arg(struct ctx *c, const cJSON *v, const char *path, struct sc_arg *out)
{
    static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };
    char sub[192];
    int rc;
    uint64_t u;
    if (!cJSON_IsObject(v)) FAIL(c, "%s: must be an object, not %s", path, type_name(v));
    if ((rc = check_keys(c, v, path, keys))) return rc;

    const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, "index");
    PATHF(sub, "%s.index", path);
    if (!f) FAIL(c, "%s: missing", sub);
    if ((rc = get_uint(c, f, sub, 5, &u))) return rc;
    out->index = (unsigned)u;

    f = cJSON_GetObjectItemCaseSensitive(v, "value");
    PATHF(sub, "%s.value", path);
    if (!f) FAIL(c, "%s: missing", sub);
    if ((rc = get_uint(c, f, sub, UINT64_MAX, &out->value))) return rc;

    out->value_two = 0;
    f = cJSON_GetObjectItemCaseSensitive(v, "valueTwo");
    PATHF(sub, "%s.valueTwo", path);
    if (f && (rc = get_uint(c, f, sub, UINT64_MAX, &out->value_two))) return rc;

    f = cJSON_GetObjectItemCaseSensitive(v, "op");
    PATHF(sub, "%s.op", path);
    if (!f) FAIL(c, "%s: missing", sub);
    if (!cJSON_IsString(f)) FAIL(c, "%s: must be a string, not %s", sub, type_name(f));
    int op = sc_op_from_name(f->valuestring);
    if (op < 0) FAIL(c, "%s: unknown operator \"%s\"", sub, f->valuestring);
    out->op = (enum sc_op)op;
    return 0;
}

static int parse_action(struct ctx *c, const cJSON *v, const char *path, enum sc_action *out)
{
    if (!v) FAIL(c, "%s: missing", path);
    if (!cJSON_IsString(v)) FAIL(c, "%s: must be a string, not %s", path, type_name(v));
    int a = sc_action_from_name(v->valuestring);
    if (a < 0) FAIL(c, "%s: unknown action \"%s\"", path, v->valuestring);
    *out = (enum sc_action)a;
    return 0;
}

static int parse_rule(struct ctx *c, const cJSON *v, size_t idx, struct sc_rule *r)
{
    static const char *const keys[] = { "name", "names", "action", "errnoRet", "args",
                                        "comment", "includes", "excludes", NULL };
    char path[64], sub[128];
    int rc;
    PATHF(path, "syscalls[%zu]", idx);
    if (!cJSON_IsObject(v)) FAIL(c, "%s: must be an object, not %s", path, type_name(v));
    if ((rc = check_keys(c, v, path, keys))) return rc;

    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(v, "names");
    if (name && !cJSON_IsNull(name)) {
        if (names && !cJSON_IsNull(names))
            FAIL(c, "%s: both \"name\" and \"names\" given; use one", path);
        if (!cJSON_IsString(name))
            FAIL(c, "%s.name: must be a string, not %s", path, type_name(name));
        r->names = calloc(1, sizeof *r->names);
        if (!r->names) { err_set(c->err, c->errlen, "out of memory"); return -ENOMEM; }
        r->names[0] = name->valuestring;
        r->nnames = 1;
    } else {
        PATHF(sub, "%s.names", path);
        if ((rc = get_strings(c, names, sub, &r->names, &r->nnames))) return rc;
        if (!r->nnames) FAIL(c, "%s: no syscall names (\"names\" missing or empty)", path);
    }
    for (size_t i = 0; i < r->nnames; i++)
        if (sc_syscall_kind(r->names[i]) == SC_SYSCALL_UNKNOWN)
            FAIL(c, "%s.names[%zu]: unknown syscall \"%s\"", path, i, r->names[i]);

    PATHF(sub, "%s.action", path);
    if ((rc = parse_action(c, cJSON_GetObjectItemCaseSensitive(v, "action"), sub, &r->action)))
        return rc;

    const cJSON *e = cJSON_GetObjectItemCaseSensitive(v, "errnoRet");
    if (e && !cJSON_IsNull(e)) {
        uint64_t u;
        PATHF(sub, "%s.errnoRet", path);
        if ((rc = get_uint(c, e, sub, 0xffff, &u))) return rc;
        if (r->action != SC_ACT_ERRNO && r->action != SC_ACT_TRACE)
            FAIL(c, "%s: errnoRet is only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, "
                 "not %s", sub, sc_action_name(r->action));
        r->has_errno = 1;
        r->errno_ret = (unsigned)u;
    }

    const cJSON *args = cJSON_GetObjectItemCaseSensitive(v, "args");
    if (args && !cJSON_IsNull(args)) {
        if (!cJSON_IsArray(args))
            FAIL(c, "%s.args: must be an array, not %s", path, type_name(args));
        size_t n = (size_t)cJSON_GetArraySize(args);
        if (n > 64) FAIL(c, "%s.args: %zu conditions (at most 64)", path, n);
        if (n) {
            r->args = calloc(n, sizeof *r->args);
            if (!r->args) { err_set(c->err, c->errlen, "out of memory"); return -ENOMEM; }
        }
        size_t i = 0;
        for (const cJSON *a = args->child; a; a = a->next, i++) {
            PATHF(sub, "%s.args[%zu]", path, i);
            if ((rc = parse_arg(c, a, sub, &r->args[i]))) return rc;
            r->nargs = i + 1;
        }
    }

    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(v, "comment");
    if (cm && !cJSON_IsNull(cm)) {
        if (!cJSON_IsString(cm))
            FAIL(c, "%s.comment: must be a string, not %s", path, type_name(cm));
        r->comment = cm->valuestring;
    }
    PATHF(sub, "%s.includes", path);
    if ((rc = parse_cond(c, cJSON_GetObjectItemCaseSensitive(v, "includes"), sub, &r->includes)))
        return rc;
    PATHF(sub, "%s.excludes", path);
    return parse_cond(c, cJSON_GetObjectItemCaseSensitive(v, "excludes"), sub, &r->excludes);
}

static int parse_arch_list(struct ctx *c, const cJSON *v, const char *path, const char ***out,
                           size_t *n)
{
    int rc = get_strings(c, v, path, out, n);
    if (rc) return rc;
    for (size_t i = 0; i < *n; i++)
        if (!sc_arch_known((*out)[i]))
            FAIL(c, "%s[%zu]: unknown architecture \"%s\" (expected SCMP_ARCH_X86_64, "
                 "SCMP_ARCH_AARCH64 ...)", path, i, (*out)[i]);
    return 0;
}

static int parse_top(struct ctx *c, struct sc_profile *p)
{
    static const char *const keys[] = { "defaultAction", "defaultErrnoRet", "architectures",
                                        "archMap", "syscalls", "listenerPath",
                                        "listenerMetadata", "flags", NULL };
    const cJSON *root = p->root;
    int rc;
    if (!cJSON_IsObject(root)) FAIL(c, "profile: must be a JSON object, not %s", type_name(root));
    if ((rc = check_keys(c, root, "profile", keys))) return rc;
    if ((rc = parse_action(c, cJSON_GetObjectItemCaseSensitive(root, "defaultAction"),
                           "defaultAction", &p->default_action)))
        return rc;

    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "defaultErrnoRet");
    if (e && !cJSON_IsNull(e)) {
        uint64_t u;
        if ((rc = get_uint(c, e, "defaultErrnoRet", 0xffff, &u))) return rc;
        p->has_default_errno = 1;
        p->default_errno = (unsigned)u;
    }

    if ((rc = parse_arch_list(c, cJSON_GetObjectItemCaseSensitive(root, "architectures"),
                              "architectures", &p->architectures, &p->narchitectures)))
        return rc;

    const cJSON *am = cJSON_GetObjectItemCaseSensitive(root, "archMap");
    if (am && !cJSON_IsNull(am)) {
        if (!cJSON_IsArray(am)) FAIL(c, "archMap: must be an array, not %s", type_name(am));
        size_t n = (size_t)cJSON_GetArraySize(am);
        if (n) {
            p->archmap = calloc(n, sizeof *p->archmap);
            if (!p->archmap) { err_set(c->err, c->errlen, "out of memory"); return -ENOMEM; }
        }
        size_t i = 0;
        for (const cJSON *m = am->child; m; m = m->next, i++) {
            static const char *const mkeys[] = { "architecture", "subArchitectures", NULL };
            char path[64], sub[96];
            PATHF(path, "archMap[%zu]", i);
            if (!cJSON_IsObject(m)) FAIL(c, "%s: must be an object, not %s", path, type_name(m));
            if ((rc = check_keys(c, m, path, mkeys))) return rc;
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "architecture");
            if (!a) FAIL(c, "%s.architecture: missing", path);
            if (!cJSON_IsString(a))
                FAIL(c, "%s.architecture: must be a string, not %s", path, type_name(a));
            if (!sc_arch_known(a->valuestring))
                FAIL(c, "%s.architecture: unknown architecture \"%s\"", path, a->valuestring);
            p->archmap[i].arch = a->valuestring;
            p->narchmap = i + 1;
            PATHF(sub, "%s.subArchitectures", path);
            if ((rc = parse_arch_list(c, cJSON_GetObjectItemCaseSensitive(m, "subArchitectures"),
                                      sub, &p->archmap[i].subs, &p->archmap[i].nsubs)))
                return rc;
        }
    }
    if (p->narchitectures && p->narchmap)
        FAIL(c, "profile: both \"architectures\" and \"archMap\" given; use one");

    if ((rc = get_strings(c, cJSON_GetObjectItemCaseSensitive(root, "flags"), "flags", &p->flags,
                          &p->nflags)))
        return rc;
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(root, "listenerPath");
    if (lp && !cJSON_IsNull(lp)) {
        if (!cJSON_IsString(lp)) FAIL(c, "listenerPath: must be a string, not %s", type_name(lp));
        p->listener_path = lp->valuestring;
    }
    const cJSON *lm = cJSON_GetObjectItemCaseSensitive(root, "listenerMetadata");
    if (lm && !cJSON_IsNull(lm) && !cJSON_IsString(lm))
        FAIL(c, "listenerMetadata: must be a string, not %s", type_name(lm));

    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(root, "syscalls");
    if (sc && !cJSON_IsNull(sc)) {
        if (!cJSON_IsArray(sc)) FAIL(c, "syscalls: must be an array, not %s", type_name(sc));
        size_t n = (size_t)cJSON_GetArraySize(sc);
        if (n) {
            p->rules = calloc(n, sizeof *p->rules);
            if (!p->rules) { err_set(c->err, c->errlen, "out of memory"); return -ENOMEM; }
        }
        size_t i = 0;
        for (const cJSON *r = sc->child; r; r = r->next, i++) {
            p->nrules = i + 1;
            if ((rc = parse_rule(c, r, i, &p->rules[i]))) return rc;
        }
    }
    return 0;
}

struct sc_profile *sc_profile_parse(const char *text, size_t len, char *err, size_t errlen,
                                    int *code)
{
    struct ctx c = { err, errlen };
    int rc;
    if (code) *code = 0;
    if (len > SC_PROFILE_MAX_BYTES) {
        err_set(err, errlen, "profile: %zu bytes, larger than the %u-byte limit", len,
                SC_PROFILE_MAX_BYTES);
        if (code) *code = -FT_ERR_TOO_LARGE;
        return NULL;
    }
    struct sc_profile *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(err, errlen, "out of memory");
        if (code) *code = -ENOMEM;
        return NULL;
    }
    const char *end = NULL;
    p->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!p->root) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') { line++; col = 1; } else col++;
        }
        err_set(err, errlen, "bad JSON at line %zu, column %zu (byte %zu)", line, col, off);
        if (code) *code = -FT_ERR_BAD_INPUT;
        free(p);
        return NULL;
    }
    /* trailing bytes other than whitespace are refused (the parser stops at the value) */
    for (const char *q = end; q && q < text + len; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            err_set(err, errlen, "bad JSON: trailing data after the profile at byte %zu",
                    (size_t)(q - text));
            if (code) *code = -FT_ERR_BAD_INPUT;
            sc_profile_free(p);
            return NULL;
        }
    }
    if ((rc = parse_top(&c, p))) {
        if (code) *code = rc;
        sc_profile_free(p);
        return NULL;
    }
    return p;
}

void sc_profile_free(struct sc_profile *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nrules; i++) {
        free(p->rules[i].names);
        free(p->rules[i].args);
        free(p->rules[i].includes.arches);
        free(p->rules[i].excludes.arches);
    }
    free(p->rules);
    for (size_t i = 0; i < p->narchmap; i++) free(p->archmap[i].subs);
    free(p->archmap);
    free(p->architectures);
    free(p->flags);
    cJSON_Delete(p->root);
    free(p);
}

struct sc_profile *sc_profile_load(const char *path, char *err, size_t errlen, int *code)
{
    char *text;
    size_t len;
    char msg[512];
    int rc = read_small_file(path, SC_PROFILE_MAX_BYTES, &text, &len, err, errlen);
    if (rc) {
        if (code) *code = rc;
        return NULL;
    }
    struct sc_profile *p = sc_profile_parse(text, len, msg, sizeof msg, code);
    free(text);
    if (!p) err_set(err, errlen, "%s: %s", path, msg);
    return p;
}
