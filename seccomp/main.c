/* fntrace-seccomp — command line over the seccomp modules: derive (profile.c,
 * derive.c, jsonfmt.c), diff (policy.c, diff.c), check (profile.c, filter.c) and exec
 * (filter.c).  Argument parsing and wiring only. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "derive.h"
#include "diff.h"
#include "filter.h"
#include "fterr.h"
#include "policy.h"
#include "profile.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_EXEC = 127 };

static const char usage_text[] =
"usage: fntrace-seccomp derive --base DEFAULT.json --allow SYSCALL [--allow SYSCALL...]\n"
"       fntrace-seccomp diff A.json B.json [--caps LIST] [--kernel X.Y]\n"
"       fntrace-seccomp check PROFILE.json...\n"
"       fntrace-seccomp exec PROFILE.json [--caps LIST] [--kernel X.Y] [-v] -- CMD [ARG...]\n"
"       fntrace-seccomp COMMAND --help | --help | --version\n"
"\n"
"Docker-format seccomp profiles: make them, compare them, check them, and run a\n"
"command under one the way Docker would, without Docker.\n";

static const char derive_help[] =
"usage: fntrace-seccomp derive --base DEFAULT.json --allow SYSCALL [--allow SYSCALL...]\n"
"\n"
"Prints (to stdout) the base profile with each SYSCALL allowed for every container:\n"
"added, at its sorted place, to the base's first unconditional SCMP_ACT_ALLOW rule.\n"
"Nothing else changes, and the output is deterministic (same input, same bytes), in\n"
"the layout of Docker's own profile.  --allow may list several names separated by\n"
"commas.  The base is checked first, like `check`.\n"
"  --base FILE     the profile to start from (Docker's default: profiles/docker-default.json)\n"
"  --allow NAMES   syscall(s) to allow unconditionally\n"
"exit status: 0 ok, 1 bad base or unknown syscall, 2 usage.\n";

static const char diff_help[] =
"usage: fntrace-seccomp diff A.json B.json [--caps LIST] [--kernel X.Y]\n"
"\n"
"Lists the syscalls the two profiles treat differently for a container with the\n"
"capability bounding set LIST, on this machine's architecture, after evaluating each\n"
"rule's includes/excludes the way Docker does.  One line per syscall:\n"
"  - NAME   allowed by A, not by B\n"
"  + NAME   allowed by B, not by A\n"
"  ~ NAME   allowed by both, but only one of them whatever the arguments\n"
"(an entry allowed only when its arguments match is marked \"(if args match)\").\n"
"  --caps LIST     capabilities, comma-separated (CAP_PERFMON or perfmon), \"all\" or\n"
"                  \"none\"; default: Docker's default set for containers (CHOWN,\n"
"                  DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID,\n"
"                  SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE)\n"
"  --kernel X.Y    evaluate minKernel against this kernel instead of the running one\n"
"exit status: 0 no difference, 1 differences, 2 usage or a bad profile.\n";

static const char check_help[] =
"usage: fntrace-seccomp check PROFILE.json...\n"
"\n"
"Checks each profile: JSON syntax, the type of every field, no unknown keys, actions,\n"
"operators, architectures, capabilities, minKernel, syscall names (libseccomp's table\n"
"for every arch it knows, plus the syscalls Linux added after it), and that a filter\n"
"can be built from it here for this machine's arch with every capability (nothing is\n"
"loaded).  Prints one line per profile; a problem names its place in the file.\n"
"exit status: 0 all good, 1 a profile is refused, 2 usage.\n";

static const char exec_help[] =
"usage: fntrace-seccomp exec PROFILE.json [--caps LIST] [--kernel X.Y] -- CMD [ARG...]\n"
"\n"
"Runs CMD under the profile the way Docker would apply it to a container: includes/\n"
"excludes evaluated against the capability bounding set, this machine's architecture\n"
"and kernel; the filter built with libseccomp (default action and errno, per-rule\n"
"action, errnoRet and argument conditions, archMap's sub-architectures); then\n"
"no_new_privs is set, the filter loaded and CMD executed (searched in PATH).  A profile\n"
"that cannot be fully expressed is refused and CMD does not run.  Capabilities and\n"
"user are not changed (combine with setpriv for that).\n"
"  --caps LIST     evaluate against these capabilities (as in diff) instead of this\n"
"                  process's bounding set (CapBnd in /proc/self/status)\n"
"  --kernel X.Y    evaluate minKernel against this kernel instead of the running one\n"
"  -v, --verbose   say on stderr what was built (rules, architectures)\n"
"exit status: CMD's own; 1 profile refused or filter not loaded, 2 usage, 127 CMD\n"
"could not be executed.\n";

static void print_text(FILE *f, const char *t) { fputs(t, f); }

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) return 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    }
    return 0;
}

static int cmd_derive(int argc, char **argv)
{
    static const struct option opts[] = {
        { "base", required_argument, NULL, 'b' },
        { "allow", required_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *base = NULL;
    char *allow[512];      /* names, comma-split, pointing into copies */
    char *copies[256];
    size_t nallow = 0, ncopies = 0;
    int c, rc = EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': base = optarg; break;
        case 'a': {
            if (ncopies == sizeof copies / sizeof copies[0]) {
                fprintf(stderr, "fntrace-seccomp: derive: more than %zu --allow options\n",
                        ncopies);
                goto out;
            }
            char *s = strdup(optarg), *save = NULL;
            if (!s) goto out;
            copies[ncopies++] = s;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (nallow == sizeof allow / sizeof allow[0]) {
                    fprintf(stderr, "fntrace-seccomp: derive: more than %zu syscalls to allow\n",
                            nallow);
                    goto out;
                }
                allow[nallow++] = t;
            }
            break;
        }
        case 'h': print_text(stdout, derive_help); rc = EXIT_OK; goto out;
        default: goto usage;
        }
    }
    if (!base || optind != argc) goto usage;
    char err[512];
    struct sc_profile *p = sc_profile_load(base, err, sizeof err, NULL);
    if (!p) {
        fprintf(stderr, "fntrace-seccomp: %s\n", err);
        rc = EXIT_FAIL;
        goto out;
    }
    char *text = sc_derive_text(p, (const char *const *)allow, nallow, err, sizeof err);
    sc_profile_free(p);
    if (!text) {
        fprintf(stderr, "fntrace-seccomp: derive: %s\n", err);
        rc = EXIT_FAIL;
        goto out;
    }
    rc = fputs(text, stdout) < 0 || fflush(stdout) ? EXIT_FAIL : EXIT_OK;
    if (rc) fprintf(stderr, "fntrace-seccomp: writing the profile: %s\n", strerror(errno));
    free(text);
    goto out;
usage:
    print_text(stderr, derive_help);
out:
    for (size_t i = 0; i < ncopies; i++) free(copies[i]);
    return rc;
}

/* --caps / --kernel (/ --verbose) of diff and exec */
struct env_opts {
    const char *caps, *kernel;
    int verbose;
};

static const struct option env_long_opts[] = {
    { "caps", required_argument, NULL, 'c' },
    { "kernel", required_argument, NULL, 'k' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Reads options until the first non-option ("+": CMD's options are never ours).
 * Returns -1 to go on, or the exit status (help, usage). */
static int read_env_opts(int argc, char **argv, struct env_opts *o, const char *help)
{
    int c;
    while ((c = getopt_long(argc, argv, "+hv", env_long_opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->caps = optarg; break;
        case 'k': o->kernel = optarg; break;
        case 'v': o->verbose = 1; break;
        case 'h': print_text(stdout, help); return EXIT_OK;
        default: print_text(stderr, help); return EXIT_USAGE;
        }
    }
    return -1;
}

/* --caps / --kernel shared by diff and exec */
static int env_options(struct sc_env *env, const char *caps, const char *kernel, char *err,
                       size_t errlen)
{
    if (caps && sc_caps_parse(caps, &env->caps, err, errlen)) return -1;
    if (kernel && sc_kernel_parse(kernel, &env->kernel_major, &env->kernel_minor)) {
        snprintf(err, errlen, "--kernel %s: expected a version X.Y", kernel);
        return -1;
    }
    return 0;
}

static int cmd_diff(int argc, char **argv)
{
    struct env_opts o = { 0 };
    const char *files[2];
    int nfiles = 0, rc;
    optind = 1;
    /* A.json B.json and options in any order */
    while ((rc = read_env_opts(argc, argv, &o, diff_help)) == -1 && optind < argc) {
        if (nfiles == 2) {
            print_text(stderr, diff_help);
            return EXIT_USAGE;
        }
        files[nfiles++] = argv[optind++];
    }
    if (rc != -1) return rc;
    if (nfiles != 2) {
        print_text(stderr, diff_help);
        return EXIT_USAGE;
    }
    char err[512];
    struct sc_env env;
    if (sc_env_current(&env, sc_caps_docker_default(), err, sizeof err)
        || env_options(&env, o.caps, o.kernel, err, sizeof err)) {
        fprintf(stderr, "fntrace-seccomp: diff: %s\n", err);
        return EXIT_USAGE;
    }
    const char *pa = files[0], *pb = files[1];
    struct sc_profile *a = sc_profile_load(pa, err, sizeof err, NULL), *b = NULL;
    if (a) b = sc_profile_load(pb, err, sizeof err, NULL);
    if (!a || !b) {
        fprintf(stderr, "fntrace-seccomp: %s\n", err);
        sc_profile_free(a);
        return EXIT_USAGE;
    }
    struct sc_diff d;
    rc = sc_diff_compute(a, b, &env, &d, err, sizeof err);
    sc_profile_free(a);
    sc_profile_free(b);
    if (rc) {
        fprintf(stderr, "fntrace-seccomp: diff: %s\n", err);
        return EXIT_USAGE;
    }
    char capbuf[1024];
    printf("# diff %s %s: arch %s, kernel %d.%d, caps %s\n", pa, pb, env.arch, env.kernel_major,
           env.kernel_minor, sc_caps_format(env.caps, capbuf, sizeof capbuf));
    for (size_t i = 0; i < d.n; i++) {
        const struct sc_diff_entry *e = &d.entries[i];
        char mark = e->a == SC_DENIED ? '+' : e->b == SC_DENIED ? '-' : '~';
        enum sc_verdict allowing = mark == '+' ? e->b : e->a;
        if (mark == '~')
            printf("~ %s (%s: %s; %s: %s)\n", e->name, pa, sc_verdict_name(e->a), pb,
                   sc_verdict_name(e->b));
        else
            printf("%c %s%s\n", mark, e->name, allowing == SC_ALLOWED_IF ? " (if args match)" : "");
    }
    size_t n = d.n;
    sc_diff_free(&d);
    if (fflush(stdout)) return EXIT_USAGE;
    return n ? EXIT_FAIL : EXIT_OK;
}

static int cmd_check(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        print_text(stdout, check_help);
        return EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-') {
        print_text(stderr, check_help);
        return EXIT_USAGE;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        char err[512];
        struct sc_profile *p = sc_profile_load(argv[i], err, sizeof err, NULL);
        if (!p) {
            fprintf(stderr, "fntrace-seccomp: %s\n", err);
            bad = 1;
            continue;
        }
        struct sc_env env;
        scmp_filter_ctx ctx = NULL;
        struct sc_filter_stats st;
        uint64_t all;
        sc_caps_parse("all", &all, NULL, 0);
        int rc = sc_env_current(&env, all, err, sizeof err);
        if (!rc) rc = sc_filter_build(p, &env, &ctx, &st, err, sizeof err);
        if (rc) {
            fprintf(stderr, "fntrace-seccomp: %s: %s\n", argv[i], err);
            bad = 1;
        } else {
            size_t names = 0;
            for (size_t r = 0; r < p->nrules; r++) names += p->rules[r].nnames;
            printf("%s: ok: %zu rules, %zu syscall names, default %s", argv[i], p->nrules, names,
                   sc_action_name(p->default_action));
            if (st.newer_dropped)
                printf("; %zu names newer than libseccomp %u.%u.%u (e.g. %s) get the default "
                       "action here", st.newer_dropped, SCMP_VER_MAJOR, SCMP_VER_MINOR,
                       SCMP_VER_MICRO, st.newer_example);
            printf("\n");
        }
        seccomp_release(ctx);
        sc_profile_free(p);
    }
    return bad ? EXIT_FAIL : EXIT_OK;
}

static int cmd_exec(int argc, char **argv)
{
    struct env_opts o = { 0 };
    int rc;
    optind = 1;
    /* [options] PROFILE.json [options] -- CMD... */
    if ((rc = read_env_opts(argc, argv, &o, exec_help)) != -1) return rc;
    if (optind >= argc || !strcmp(argv[optind - 1], "--")) {   /* "exec -- CMD": no profile */
        print_text(stderr, exec_help);
        return EXIT_USAGE;
    }
    const char *path = argv[optind++];
    if ((rc = read_env_opts(argc, argv, &o, exec_help)) != -1) return rc;
    if (optind > 0 && optind <= argc && !strcmp(argv[optind - 1], "--")) {
        /* getopt consumed the "--" */
    } else if (optind < argc) {
        fprintf(stderr, "fntrace-seccomp: exec: expected -- before the command, got \"%s\"\n",
                argv[optind]);
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "fntrace-seccomp: exec: no command given (PROFILE.json -- CMD ...)\n");
        return EXIT_USAGE;
    }
    char **cmd = argv + optind;
    char err[512];
    struct sc_env env;
    uint64_t bnd = 0;
    if (!o.caps && sc_caps_bounding(&bnd, err, sizeof err)) {
        fprintf(stderr, "fntrace-seccomp: exec: %s\n", err);
        return EXIT_FAIL;
    }
    if (sc_env_current(&env, bnd, err, sizeof err)
        || env_options(&env, o.caps, o.kernel, err, sizeof err)) {
        fprintf(stderr, "fntrace-seccomp: exec: %s\n", err);
        return EXIT_USAGE;
    }
    struct sc_profile *p = sc_profile_load(path, err, sizeof err, NULL);
    if (!p) {
        fprintf(stderr, "fntrace-seccomp: %s\n", err);
        return EXIT_FAIL;
    }
    scmp_filter_ctx ctx;
    struct sc_filter_stats st;
    rc = sc_filter_build(p, &env, &ctx, &st, err, sizeof err);
    if (rc) {
        fprintf(stderr, "fntrace-seccomp: %s: refused: %s\n", path, err);
        sc_profile_free(p);
        return EXIT_FAIL;
    }
    if (o.verbose) {
        char capbuf[1024];
        fprintf(stderr, "fntrace-seccomp: %s: %zu of %zu rules apply (arch %s, kernel %d.%d, caps "
                "%s), %zu libseccomp rules, %zu architectures, %zu names newer than libseccomp "
                "left to the default\n", path, st.rules_applied, p->nrules, env.arch,
                env.kernel_major, env.kernel_minor, sc_caps_format(env.caps, capbuf, sizeof capbuf),
                st.syscall_rules, st.arches, st.newer_dropped);
    }
    sc_profile_free(p);
    rc = sc_filter_load(ctx, err, sizeof err);
    seccomp_release(ctx);
    if (rc) {
        fprintf(stderr, "fntrace-seccomp: %s\n", err);
        return EXIT_FAIL;
    }
    execvp(cmd[0], cmd);
    fprintf(stderr, "fntrace-seccomp: exec %s: %s\n", cmd[0], strerror(errno));
    return EXIT_EXEC;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_text(stderr, usage_text);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_text(stdout, usage_text);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("fntrace-seccomp %s\n", FNTRACE_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "derive")) return cmd_derive(argc - 1, argv + 1);
    if (!strcmp(cmd, "diff")) return cmd_diff(argc - 1, argv + 1);
    if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "exec")) return cmd_exec(argc - 1, argv + 1);
    fprintf(stderr, "fntrace-seccomp: unknown command \"%s\"\n", cmd);
    print_text(stderr, usage_text);
    return EXIT_USAGE;
}
