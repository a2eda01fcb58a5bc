/* Unit tests for the seccomp component: the profile parser refuses malformed profiles
 * naming the problem; derive reproduces the shipped profiles byte for byte; includes/
 * excludes are evaluated as moby does; diff of Docker's default and fntrace-perf is
 * perf_event_open alone; and a built filter really does what the profile says (loaded
 * in a forked child: errnoRet, MASKED_EQ with valueTwo, default errno). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fterr.h"
#include "readfile.h"
#include "../../seccomp/caps.h"
#include "../../seccomp/derive.h"
#include "../../seccomp/diff.h"
#include "../../seccomp/filter.h"
#include "../../seccomp/policy.h"
#include "../../seccomp/profile.h"
#include "../../seccomp/syscalls.h"

static char *read_profile_file(const char *name, size_t *len)
{
    const char *root = getenv("FNTRACE_ROOT");
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/seccomp/profiles/%s", root && *root ? root : ".", name);
    char *text = NULL;
    int rc = read_small_file(path, SC_PROFILE_MAX_BYTES, &text, len, err, sizeof err);
    if (rc) fail_msg("%s", err);
    return text;
}

static struct sc_profile *load_shipped(const char *name)
{
    size_t len;
    char *text = read_profile_file(name, &len), err[512];
    struct sc_profile *p = sc_profile_parse(text, len, err, sizeof err, NULL);
    free(text);
    if (!p) fail_msg("%s: %s", name, err);
    return p;
}

static struct sc_profile *parse(const char *json, char *err, size_t errlen)
{
    return sc_profile_parse(json, strlen(json), err, errlen, NULL);
}

/* --- parser -------------------------------------------------------------------- */

static void test_malformed_profiles(void **st)
{
    static const struct { const char *json, *expect; } cases[] = {
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", ", "bad JSON at line 1" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\"} x", "trailing data" },
        { "[]", "must be a JSON object" },
        { "{}", "defaultAction: missing" },
        { "{\"defaultAction\": \"SCMP_ACT_DENY\"}", "defaultAction: unknown action "
          "\"SCMP_ACT_DENY\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_PERMIT\"}]}", "syscalls[0].action: unknown action "
          "\"SCMP_ACT_PERMIT\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\", "
          "\"raed\"], "
          "\"action\": \"SCMP_ACT_ALLOW\"}]}", "syscalls[0].names[1]: unknown syscall \"raed\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": \"read\", "
          "\"action\": \"SCMP_ACT_ALLOW\"}]}", "syscalls[0].names: must be an array of strings, "
          "not a string" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": \"1\"}",
          "defaultErrnoRet: must be a number, not a string" },
        { "{\"defaultAction\": 1}", "defaultAction: must be a string, not a number" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": -1}]}", "syscalls[0].errnoRet: must be "
          "a whole number" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_Z80\"]}",
          "architectures[0]: unknown architecture \"SCMP_ARCH_Z80\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"archMap\": [{\"architecture\": "
          "\"SCMP_ARCH_X86_64\", "
          "\"subArchitectures\": [\"SCMP_ARCH_PDP11\"]}]}", "archMap[0].subArchitectures[0]: "
          "unknown architecture" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"arches\": [\"vax\"]}}]}",
          "syscalls[0].includes.arches[0]: unknown architecture \"vax\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": "
          "\"SCMP_CMP_ABOUT\"}]}]}",
          "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ABOUT\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": "
          "\"SCMP_CMP_EQ\"}]}]}",
          "syscalls[0].args[0].index: 6 is out of range" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": "
          "18446744073709551615, "
          "\"op\": \"SCMP_CMP_EQ\"}]}]}", "cannot hold" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 3.3e123, "
          "\"op\": \"SCMP_CMP_EQ\"}]}]}", "cannot hold" },   /* found by fuzz_seccomp */
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": [\"CAP_ROOT\"]}}]}",
          "syscalls[0].includes.caps[0]: unknown capability \"CAP_ROOT\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"minKernel\": \"4.x\"}}]}",
          "syscalls[0].includes.minKernel: \"4.x\" is not a kernel version" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscals\": []}", "profile: unknown key "
          "\"syscals\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultAction\": "
          "\"SCMP_ACT_ALLOW\"}", "given twice" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"name\": \"read\", "
          "\"names\": [\"write\"], "
          "\"action\": \"SCMP_ACT_ALLOW\"}]}", "both \"name\" and \"names\"" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [], \"action\": "
          "\"SCMP_ACT_ALLOW\"}]}",
          "no syscall names" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_ALLOW\", \"errnoRet\": 1}]}", "errnoRet is only meaningful" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86\"], "
          "\"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}", "both \"architectures\" "
          "and \"archMap\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        int code = 0;
        struct sc_profile *p = sc_profile_parse(cases[i].json, strlen(cases[i].json), err,
                                                sizeof err, &code);
        if (p || !strstr(err, cases[i].expect))
            fail_msg("case %zu: %s\n  expected an error with \"%s\", got %s \"%s\"", i,
                     cases[i].json, cases[i].expect, p ? "a profile" : "", err);
        assert_int_equal(code, -FT_ERR_BAD_INPUT);
    }
}

static void test_valid_profile_model(void **st)
{
    char err[512];
    struct sc_profile *p = parse(
        "{\"defaultAction\": \"SCMP_ACT_KILL\", \"defaultErrnoRet\": null, \"syscalls\": ["
        "{\"name\": \"clone\", \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38, \"args\": ["
        "{\"index\": 0, \"value\": 2114060288, \"valueTwo\": 0, \"op\": \"SCMP_CMP_MASKED_EQ\"}],"
        "\"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"], \"arches\": [\"s390x\"]}, "
        "\"includes\": {\"minKernel\": \"5.3\"}}]}", err, sizeof err);
    if (!p) fail_msg("%s", err);
    assert_int_equal(p->default_action, SC_ACT_KILL_THREAD);
    assert_false(p->has_default_errno);
    assert_int_equal(p->nrules, 1);
    const struct sc_rule *r = &p->rules[0];
    assert_int_equal(r->nnames, 1);
    assert_string_equal(r->names[0], "clone");
    assert_int_equal(r->action, SC_ACT_ERRNO);
    assert_int_equal(r->errno_ret, 38);
    assert_int_equal(r->nargs, 1);
    assert_true(r->args[0].value == 2114060288u);
    assert_int_equal(r->args[0].op, SC_OP_MASKED_EQ);
    assert_true(r->excludes.caps == 1ULL << sc_cap_number("CAP_SYS_ADMIN"));
    assert_int_equal(r->excludes.narches, 1);
    assert_int_equal(r->includes.min_major, 5);
    assert_int_equal(r->includes.min_minor, 3);
    sc_profile_free(p);
}

static void test_shipped_profiles_parse(void **st)
{
    const char *names[] = { "docker-default.json", "fntrace-perf.json", "fntrace-bpf.json" };
    for (size_t i = 0; i < 3; i++) {
        struct sc_profile *p = load_shipped(names[i]);
        assert_int_equal(p->default_action, SC_ACT_ERRNO);
        assert_int_equal(p->default_errno, EPERM);
        assert_true(p->narchmap > 0);
        sc_profile_free(p);
    }
    /* names Linux added after this libseccomp are known, typos are not */
    assert_int_equal(sc_syscall_kind("read"), SC_SYSCALL_LIBSECCOMP);
    assert_int_equal(sc_syscall_kind("chown32"), SC_SYSCALL_LIBSECCOMP);   /* not on x86_64 */
    assert_int_not_equal(sc_syscall_kind("mseal"), SC_SYSCALL_UNKNOWN);
    assert_int_equal(sc_syscall_kind("mseall"), SC_SYSCALL_UNKNOWN);
}

/* --- derive -------------------------------------------------------------------- */

static void check_derived(const char *allow_list, const char *shipped)
{
    struct sc_profile *base = load_shipped("docker-default.json");
    char list[256], err[512], *save = NULL;
    const char *allow[8];
    size_t n = 0;
    snprintf(list, sizeof list, "%s", allow_list);
    for (char *t = strtok_r(list, ",", &save); t && n < 8; t = strtok_r(NULL, ",", &save))
        allow[n++] = t;
    char *out = sc_derive_text(base, allow, n, err, sizeof err);
    if (!out) fail_msg("derive %s: %s", allow_list, err);
    size_t len;
    char *want = read_profile_file(shipped, &len);
    if (strlen(out) != len || memcmp(out, want, len))
        fail_msg("derive --allow %s does not reproduce %s byte for byte", allow_list, shipped);
    free(out);
    free(want);
    sc_profile_free(base);
}

static void test_derive_reproduces_shipped(void **st)
{
    check_derived("perf_event_open", "fntrace-perf.json");
    check_derived("perf_event_open,bpf", "fntrace-bpf.json");
    check_derived("bpf,perf_event_open", "fntrace-bpf.json");   /* order does not matter */
}

static void test_derive_changes_nothing_else(void **st)
{
    /* with nothing to allow, the output is Docker's file itself (plus a final newline) */
    struct sc_profile *base = load_shipped("docker-default.json");
    char err[512];
    char *out = sc_derive_text(base, NULL, 0, err, sizeof err);
    size_t len;
    char *want = read_profile_file("docker-default.json", &len);
    assert_non_null(out);
    assert_int_equal(strlen(out), len + 1);
    assert_memory_equal(out, want, len);
    assert_string_equal(out + len, "\n");
    free(out);
    free(want);
    /* allowing what is allowed already is a no-op; a typo is refused */
    const char *again[] = { "read" }, *typo[] = { "perf_event_opne" };
    out = sc_derive_text(base, again, 1, err, sizeof err);
    want = read_profile_file("docker-default.json", &len);
    assert_int_equal(strlen(out), len + 1);
    free(out);
    free(want);
    assert_null(sc_derive_text(base, typo, 1, err, sizeof err));
    assert_non_null(strstr(err, "unknown syscall \"perf_event_opne\""));
    sc_profile_free(base);

    /* a base with no unconditional allow rule gets one */
    struct sc_profile *p = parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\"}", err, sizeof err);
    const char *perf[] = { "perf_event_open" };
    out = sc_derive_text(p, perf, 1, err, sizeof err);
    assert_string_equal(out, "{\n\t\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\t\"syscalls\": "
        "[\n\t\t{\n"
                             "\t\t\t\"names\": [\n\t\t\t\t\"perf_event_open\"\n\t\t\t],\n"
                             "\t\t\t\"action\": \"SCMP_ACT_ALLOW\"\n\t\t}\n\t]\n}\n");
    free(out);
    sc_profile_free(p);
}

/* --- policy and diff ----------------------------------------------------------- */

static struct sc_env env_with(const char *caps, const char *arch, int maj, int min)
{
    struct sc_env e = { 0, arch, maj, min };
    assert_int_equal(sc_caps_parse(caps, &e.caps, NULL, 0), 0);
    return e;
}

static void test_includes_excludes(void **st)
{
    struct sc_profile *p = load_shipped("docker-default.json");
    struct sc_env none = env_with("none", "amd64", 6, 1);
    struct sc_env admin = env_with("SYS_ADMIN", "amd64", 6, 1);
    struct sc_env old = env_with("none", "amd64", 4, 7);
    struct sc_env arm = env_with("none", "arm64", 6, 1);
    /* clone: any flags with CAP_SYS_ADMIN, else only without namespace flags (MASKED_EQ) */
    assert_int_equal(sc_verdict(p, &none, "clone"), SC_ALLOWED_IF);
    assert_int_equal(sc_verdict(p, &admin, "clone"), SC_ALLOWED);
    /* ptrace: includes minKernel 4.8 */
    assert_int_equal(sc_verdict(p, &none, "ptrace"), SC_ALLOWED);
    assert_int_equal(sc_verdict(p, &old, "ptrace"), SC_DENIED);
    /* arch_prctl: includes arches amd64, x32 */
    assert_int_equal(sc_verdict(p, &none, "arch_prctl"), SC_ALLOWED);
    assert_int_equal(sc_verdict(p, &arm, "arch_prctl"), SC_DENIED);
    /* perf_event_open: CAP_PERFMON or CAP_SYS_ADMIN */
    struct sc_env perfmon = env_with("perfmon", "amd64", 6, 1);
    assert_int_equal(sc_verdict(p, &none, "perf_event_open"), SC_DENIED);
    assert_int_equal(sc_verdict(p, &perfmon, "perf_event_open"), SC_ALLOWED);
    assert_int_equal(sc_verdict(p, &admin, "perf_event_open"), SC_ALLOWED);
    /* never mentioned: the default (errno) */
    assert_int_equal(sc_verdict(p, &admin, "kexec_load"), SC_DENIED);
    sc_profile_free(p);

    /* includes.caps needs all of them; excludes.caps any of them */
    char err[512];
    p = parse("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": ["
              "{\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"caps\": "
              "[\"CAP_SYS_ADMIN\", \"CAP_NET_ADMIN\"]}},"
              "{\"names\": [\"umount2\"], \"action\": \"SCMP_ACT_ALLOW\", \"excludes\": {\"caps\": "
              "[\"CAP_SYS_ADMIN\", \"CAP_NET_ADMIN\"], \"minKernel\": "
              "\"7.0\"}}]}", err, sizeof err);
    if (!p) fail_msg("%s", err);
    struct sc_env both = env_with("SYS_ADMIN,NET_ADMIN", "amd64", 6, 1);
    struct sc_env net = env_with("NET_ADMIN", "amd64", 6, 1);
    struct sc_env future = env_with("none", "amd64", 7, 0);
    assert_int_equal(sc_verdict(p, &both, "mount"), SC_ALLOWED);
    assert_int_equal(sc_verdict(p, &admin, "mount"), SC_DENIED);
    assert_int_equal(sc_verdict(p, &none, "umount2"), SC_ALLOWED);
    assert_int_equal(sc_verdict(p, &net, "umount2"), SC_DENIED);
    assert_int_equal(sc_verdict(p, &future, "umount2"), SC_DENIED);
    sc_profile_free(p);
}

static size_t diff_count(const struct sc_profile *a, const struct sc_profile *b, const char *caps,
                         const char *only)
{
    struct sc_env env = env_with(caps, sc_arch_native_name(), 6, 1);
    struct sc_diff d;
    char err[256];
    assert_int_equal(sc_diff_compute(a, b, &env, &d, err, sizeof err), 0);
    size_t n = d.n;
    if (only) {
        if (n != 1 || strcmp(d.entries[0].name, only) || d.entries[0].a != SC_DENIED
            || d.entries[0].b != SC_ALLOWED)
            fail_msg("caps %s: expected exactly +%s, got %zu entries (first %s)", caps, only, n,
                     n ? d.entries[0].name : "-");
    }
    sc_diff_free(&d);
    return n;
}

static void test_diff_default_perf(void **st)
{
    struct sc_profile *dflt = load_shipped("docker-default.json");
    struct sc_profile *perf = load_shipped("fntrace-perf.json");
    struct sc_profile *bpf = load_shipped("fntrace-bpf.json");
    char dockercaps[1024];
    sc_caps_format(sc_caps_docker_default(), dockercaps, sizeof dockercaps);
    diff_count(dflt, perf, "none", "perf_event_open");
    diff_count(dflt, perf, dockercaps, "perf_event_open");
    /* with CAP_PERFMON or CAP_SYS_ADMIN Docker's default allows it already: no difference */
    assert_int_equal(diff_count(dflt, perf, "CAP_PERFMON", NULL), 0);
    assert_int_equal(diff_count(dflt, perf, "CAP_SYS_ADMIN", NULL), 0);
    assert_int_equal(diff_count(dflt, dflt, "all", NULL), 0);
    /* fntrace-bpf against fntrace-perf: bpf, unless CAP_BPF / CAP_SYS_ADMIN */
    diff_count(perf, bpf, "none", "bpf");
    assert_int_equal(diff_count(perf, bpf, "CAP_BPF", NULL), 0);
    assert_int_equal(diff_count(dflt, bpf, "none", NULL), 2);
    sc_profile_free(dflt);
    sc_profile_free(perf);
    sc_profile_free(bpf);
}

static void test_caps(void **st)
{
    uint64_t s;
    char err[128], buf[256];
    assert_int_equal(sc_caps_parse("CAP_PERFMON, sys_admin", &s, err, sizeof err), 0);
    assert_string_equal(sc_caps_format(s, buf, sizeof buf), "CAP_SYS_ADMIN,CAP_PERFMON");
    assert_int_equal(sc_caps_parse("", &s, err, sizeof err), 0);
    assert_true(s == 0);
    assert_string_equal(sc_caps_format(s, buf, sizeof buf), "none");
    assert_int_equal(sc_caps_parse("CAP_WIZARD", &s, err, sizeof err), -FT_ERR_BAD_INPUT);
    assert_non_null(strstr(err, "CAP_WIZARD"));
    assert_int_equal(sc_caps_bounding(&s, err, sizeof err), 0);
}

/* --- filter -------------------------------------------------------------------- */

/* Loads the profile in a child, runs dup(fd) and returns errno (0 on success), or -1. */
static int child_dup_errno(const char *json, const char *caps, int fd)
{
    char err[512];
    struct sc_profile *p = parse(json, err, sizeof err);
    if (!p) fail_msg("%s", err);
    struct sc_env env;
    assert_int_equal(sc_env_current(&env, 0, err, sizeof err), 0);
    assert_int_equal(sc_caps_parse(caps, &env.caps, NULL, 0), 0);
    scmp_filter_ctx ctx;
    if (sc_filter_build(p, &env, &ctx, NULL, err, sizeof err)) fail_msg("%s", err);
    sc_profile_free(p);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (sc_filter_load(ctx, err, sizeof err)) _exit(200);
        int r = dup(fd);
        _exit(r >= 0 ? 0 : errno);
    }
    seccomp_release(ctx);
    /* bounded: a child stuck under its filter is killed and the test fails */
    int status;
    for (int i = 0; waitpid(pid, &status, WNOHANG) == 0; i++) {
        if (i == 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("the child under the filter did not exit in 10 s");
        }
        usleep(10000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_filter_behaves(void **st)
{
    /* MASKED_EQ: value is the mask, valueTwo the datum: (fd & 0xf0) == 0x10 -> errno 33 */
    const char *masked =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"dup\"], "
        "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33, \"args\": [{\"index\": 0, "
        "\"value\": 240, \"valueTwo\": 16, \"op\": \"SCMP_CMP_MASKED_EQ\"}]}]}";
    assert_int_equal(child_dup_errno(masked, "none", 0x13), 33);
    assert_int_equal(child_dup_errno(masked, "none", 0x23), EBADF);   /* reached the kernel */
    assert_int_equal(child_dup_errno(masked, "none", 1), 0);
    /* errnoRet absent: EPERM; rule excluded by a capability: not in the filter at all */
    const char *excl =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"dup\"], "
        "\"action\": \"SCMP_ACT_ERRNO\", \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}}]}";
    assert_int_equal(child_dup_errno(excl, "none", 1), EPERM);
    assert_int_equal(child_dup_errno(excl, "SYS_ADMIN", 1), 0);
    /* defaultErrnoRet, and a repeated argument index: one rule per condition (any match) */
    const char *dflt =
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 77, \"syscalls\": ["
        /* what the child and a sanitizer runtime need to finish and exit */
        "{\"names\": [\"exit\", \"exit_group\", \"close\", \"write\", \"mmap\", \"munmap\", "
        "\"mprotect\", \"madvise\", \"brk\", \"futex\", \"sched_yield\", \"rt_sigprocmask\", "
        "\"rt_sigaction\", \"sigaltstack\", \"getpid\", \"gettid\", \"tgkill\", \"prctl\"], "
        "\"action\": \"SCMP_ACT_ALLOW\"},"
        "{\"names\": [\"dup\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": ["
        "{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}, {\"index\": 0, \"value\": 2, "
        "\"op\": \"SCMP_CMP_EQ\"}]}]}";
    assert_int_equal(child_dup_errno(dflt, "none", 1), 0);
    assert_int_equal(child_dup_errno(dflt, "none", 2), 0);
    assert_int_equal(child_dup_errno(dflt, "none", 0), 77);
}

static void test_filter_refuses_what_it_cannot_express(void **st)
{
    static const struct { const char *json, *expect; } cases[] = {
        { "{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "needs a listener" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
          "\"action\": \"SCMP_ACT_NOTIFY\"}]}", "syscalls[0]: SCMP_ACT_NOTIFY needs a listener" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"listenerPath\": "
          "\"/run/x.sock\"}", "listenerPath" },
        { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": "
          "[\"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}",
          "flags[0]: SECCOMP_FILTER_FLAG_NEW_LISTENER cannot be expressed" },
        /* a deny rule for a syscall libseccomp cannot name would silently not deny */
        { "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mseal\"], "
          "\"action\": \"SCMP_ACT_ERRNO\"}]}", "cannot name syscall \"mseal\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        struct sc_profile *p = parse(cases[i].json, err, sizeof err);
        if (!p) fail_msg("case %zu does not parse: %s", i, err);
        struct sc_env env = env_with("none", sc_arch_native_name(), 6, 1);
        scmp_filter_ctx ctx = NULL;
        int rc = sc_filter_build(p, &env, &ctx, NULL, err, sizeof err);
        if (!rc || !strstr(err, cases[i].expect))
            fail_msg("case %zu: expected refusal with \"%s\", got rc=%d \"%s\"", i,
                     cases[i].expect, rc, err);
        assert_null(ctx);
        sc_profile_free(p);
    }
}

static void test_filter_shipped(void **st)
{
    struct sc_profile *p = load_shipped("fntrace-perf.json");
    struct sc_env env = env_with("none", sc_arch_native_name(), 6, 1);
    scmp_filter_ctx ctx;
    struct sc_filter_stats stats;
    char err[512];
    if (sc_filter_build(p, &env, &ctx, &stats, err, sizeof err)) fail_msg("%s", err);
    if (seccomp_arch_native() == SCMP_ARCH_X86_64)
        assert_int_equal(stats.arches, 3);  /* + x86, x32 */
    assert_true(stats.rules_applied > 0 && stats.rules_skipped > 0);
    seccomp_release(ctx);
    sc_profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_profiles),
        cmocka_unit_test(test_valid_profile_model),
        cmocka_unit_test(test_shipped_profiles_parse),
        cmocka_unit_test(test_derive_reproduces_shipped),
        cmocka_unit_test(test_derive_changes_nothing_else),
        cmocka_unit_test(test_includes_excludes),
        cmocka_unit_test(test_diff_default_perf),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_filter_behaves),
        cmocka_unit_test(test_filter_refuses_what_it_cannot_express),
        cmocka_unit_test(test_filter_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
