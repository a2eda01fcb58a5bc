/* derive — makes a profile from a base profile by allowing syscalls for every
 * container, and changing nothing else.
 *
 * Each syscall is added to the base's first unconditional allow rule (action
 * SCMP_ACT_ALLOW, no args, no includes/excludes: in Docker's default, the big list),
 * at its sorted place among those names; a syscall already there is left alone; if
 * the base has no such rule, one is appended.  Rules that allow the syscall under a
 * condition (perf_event_open with CAP_PERFMON) stay as they are.  The result is
 * printed by jsonfmt, so deriving is deterministic: same base, same list, same bytes.
 *
 * sc_derive() edits the profile's cJSON tree in place (the parsed model is not
 * updated; print it, or parse the output again).  Not thread-safe on one profile. */
#ifndef FNTRACE_SECCOMP_DERIVE_H
#define FNTRACE_SECCOMP_DERIVE_H

#include <stddef.h>

struct sc_profile;

/* Adds the syscalls; 0, or -FT_ERR_BAD_INPUT (an unknown name, or a base whose default
 * action already allows everything) / -ENOMEM with err set. */
int sc_derive(struct sc_profile *base, const char *const *allow, size_t nallow, char *err,
              size_t errlen);

/* sc_derive then print: a malloc'd profile text, or NULL with err set. */
char *sc_derive_text(struct sc_profile *base, const char *const *allow, size_t nallow,
                     char *err, size_t errlen);

#endif
