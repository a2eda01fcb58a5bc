/* caps — Linux capability names and capability sets for evaluating a profile's
 * `includes.caps` / `excludes.caps` the way Docker does (against the bounding set).
 *
 * A set is a 64-bit mask by capability number.  Names are "CAP_SYS_ADMIN"; the
 * parser of lists also takes "SYS_ADMIN", any case, and the words "all" and "none".
 * Pure functions except sc_caps_bounding(), which reads /proc/self/status.  Thread-safe. */
#ifndef FNTRACE_SECCOMP_CAPS_H
#define FNTRACE_SECCOMP_CAPS_H

#include <stddef.h>
#include <stdint.h>

#define SC_CAP_COUNT 41   /* CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40) */

/* The number of a capability named "CAP_X" (exact, as profiles spell it), or -1. */
int sc_cap_number(const char *name);
/* "CAP_X" for a number, or NULL. */
const char *sc_cap_name(int number);

/* Parses "CAP_PERFMON,sys_admin" / "all" / "none" / "" into *set.  0 or -FT_ERR_BAD_INPUT
 * with the offending word in err. */
int sc_caps_parse(const char *list, uint64_t *set, char *err, size_t errlen);

/* Docker's default capability set for containers (what `docker run` grants). */
uint64_t sc_caps_docker_default(void);

/* The calling process's bounding set from /proc/self/status (CapBnd). 0 or -errno /
 * -FT_ERR_BAD_INPUT with err set. */
int sc_caps_bounding(uint64_t *set, char *err, size_t errlen);

/* Writes the set as "CAP_A,CAP_B" (or "none") into buf; returns buf. */
char *sc_caps_format(uint64_t set, char *buf, size_t len);

#endif
