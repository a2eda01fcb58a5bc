/* profile — a Docker-format seccomp profile (moby's profiles/seccomp JSON): parsed,
 * validated and held as a read-only model.
 *
 * sc_profile_parse() checks everything that can be checked without a kernel: JSON
 * syntax, the type of every field, no unknown keys, actions, operators, architecture
 * names, capability names, minKernel "X.Y", argument index/value ranges, syscall names
 * (syscalls.h).  The first problem found is reported in err with its place in the file
 * ("syscalls[18].args[0].op: unknown operator \"SCMP_CMP_FOO\"").
 *
 * The profile owns its cJSON tree (kept for derive, which edits and prints it) and every
 * array below; the strings point into the tree.  Nothing is shared between profiles;
 * a profile is safe to read from several threads, not to modify. */
#ifndef FNTRACE_SECCOMP_PROFILE_H
#define FNTRACE_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

#define SC_PROFILE_MAX_BYTES (4u << 20)   /* larger files are refused */

enum sc_action {
    SC_ACT_KILL_THREAD,   /* SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD */
    SC_ACT_KILL_PROCESS,
    SC_ACT_TRAP,
    SC_ACT_ERRNO,
    SC_ACT_TRACE,
    SC_ACT_ALLOW,
    SC_ACT_LOG,
    SC_ACT_NOTIFY,
};

enum sc_op { SC_OP_NE, SC_OP_LT, SC_OP_LE, SC_OP_EQ, SC_OP_GE, SC_OP_GT, SC_OP_MASKED_EQ };

struct sc_arg {
    unsigned index;           /* 0..5 */
    uint64_t value, value_two;
    enum sc_op op;
};

/* includes / excludes */
struct sc_cond {
    uint64_t caps;            /* capability mask (caps.h) */
    size_t ncaps;             /* how many caps were listed (0: no cap condition) */
    const char **arches;      /* native arch names as moby spells them ("amd64") */
    size_t narches;
    int has_min_kernel;
    int min_major, min_minor;
};

struct sc_rule {
    const char **names;
    size_t nnames;
    enum sc_action action;
    int has_errno;
    unsigned errno_ret;       /* errnoRet, for ERRNO and TRACE */
    struct sc_arg *args;
    size_t nargs;
    struct sc_cond includes, excludes;
    const char *comment;
};

struct sc_archmap {
    const char *arch;         /* "SCMP_ARCH_X86_64" */
    const char **subs;
    size_t nsubs;
};

struct sc_profile {
    struct cJSON *root;
    enum sc_action default_action;
    int has_default_errno;
    unsigned default_errno;
    const char **architectures;   /* the older flat list; never together with archMap */
    size_t narchitectures;
    struct sc_archmap *archmap;
    size_t narchmap;
    const char **flags;
    size_t nflags;
    const char *listener_path;
    struct sc_rule *rules;
    size_t nrules;
};

/* Parses len bytes of JSON.  Returns a new profile, or NULL with err set (the code,
 * -FT_ERR_BAD_INPUT or -ENOMEM, in *code when code is not NULL). */
struct sc_profile *sc_profile_parse(const char *text, size_t len, char *err, size_t errlen,
                                    int *code);
/* Reads (lib/readfile, at most SC_PROFILE_MAX_BYTES) and parses a file; err names it. */
struct sc_profile *sc_profile_load(const char *path, char *err, size_t errlen, int *code);
void sc_profile_free(struct sc_profile *p);

/* Names as profiles spell them, and back. */
const char *sc_action_name(enum sc_action a);
int sc_action_from_name(const char *name);           /* -1 if unknown */
const char *sc_op_name(enum sc_op op);
int sc_op_from_name(const char *name);               /* -1 if unknown */

/* Architectures.  Profile arch names ("SCMP_ARCH_X86_64") map to libseccomp tokens
 * (0 when this libseccomp cannot filter for it) and to the native names that
 * includes/excludes.arches use ("amd64"). */
int sc_arch_known(const char *scmp_name);
uint32_t sc_arch_token(const char *scmp_name);
int sc_native_arch_known(const char *native_name);
/* The running machine's arch: profile spelling and moby's native spelling. */
const char *sc_arch_native_scmp(void);
const char *sc_arch_native_name(void);

#endif
