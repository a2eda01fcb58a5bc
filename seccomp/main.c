/* fntrace-seccomp — command line over the seccomp modules: derive (profile.c,
 * derive.c, jsonfmt.c), diff (policy.c, diff.c), check (profile.c, filter.c) and exec
 * (filter.c).  Argument parsing and wiring only. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "derive.h"
#include "fterr.h"
#include "profile.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
"usage: fntrace-seccomp derive --base DEFAULT.json --allow SYSCALL [--allow SYSCALL...]\n"
"       fntrace-seccomp diff A.json B.json [--caps LIST] [--kernel X.Y]\n"
"       fntrace-seccomp check PROFILE.json...\n"
"       fntrace-seccomp exec PROFILE.json [--caps LIST] -- CMD [ARG...]\n"
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
    char **allow = calloc((size_t)argc * 2 + 1, sizeof *allow);  /* names, comma-split */
    char *copies[256];
    size_t nallow = 0, ncopies = 0;
    int c, rc = EXIT_USAGE;
    if (!allow) return EXIT_FAIL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': base = optarg; break;
        case 'a': {
            if (ncopies == sizeof copies / sizeof copies[0]) goto usage;
            char *s = strdup(optarg), *save = NULL;
            if (!s) goto out;
            copies[ncopies++] = s;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (nallow >= (size_t)argc * 2) goto usage;
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
    free(allow);
    return rc;
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
    (void)wants_help;
    if (!strcmp(cmd, "derive")) return cmd_derive(argc - 1, argv + 1);
    fprintf(stderr, "fntrace-seccomp: unknown command \"%s\"\n", cmd);
    print_text(stderr, usage_text);
    return EXIT_USAGE;
}
