/* jsonfmt — prints a cJSON tree the way Docker's profiles are written (Go's
 * json.MarshalIndent with a tab: one member or element per line, `"key": value`,
 * `[]`/`{}` when empty), so a profile derived from Docker's default differs from it
 * only where something was changed, and printing is byte-for-byte deterministic
 * (members in tree order, integers without exponent).
 *
 * Returns a malloc'd NUL-terminated string ending in a newline, or NULL on allocation
 * failure.  Pure, thread-safe. */
#ifndef FNTRACE_SECCOMP_JSONFMT_H
#define FNTRACE_SECCOMP_JSONFMT_H

struct cJSON;

char *sc_json_print(const struct cJSON *v);

#endif
