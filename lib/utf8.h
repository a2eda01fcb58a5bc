/* utf8 — keeps text that goes into JSON valid UTF-8 (RFC 8259 requires it; cJSON copies
 * bytes as they are).  utf8_valid() checks; utf8_cut() shortens a string to a character
 * boundary; utf8_fix() replaces every invalid or truncated sequence (overlongs,
 * surrogates, code points past U+10FFFF included) with U+FFFD.
 * Pure functions over caller buffers; thread-safe. */
#ifndef FNTRACE_UTF8_H
#define FNTRACE_UTF8_H

#include <stddef.h>

/* Length of the valid sequence at s[0..len), or 0 when s starts an invalid one. */
size_t utf8_seq(const unsigned char *s, size_t len);
int utf8_valid(const char *s, size_t len);
/* The largest n <= len such that s[0..n) does not end inside a multi-byte character
 * that s[0..len) cut; for a string whose tail was cut off by a byte limit. */
size_t utf8_cut(const char *s, size_t len);
/* A malloc'd, NUL-terminated valid copy of s[0..len) (invalid bytes -> U+FFFD), its
 * length in *outlen; NULL on out of memory. */
char *utf8_fix(const char *s, size_t len, size_t *outlen);
/* For a malloc'd NUL-terminated string of length *len: returns it when valid, else a
 * fixed copy (and frees s; *len updated); NULL (s freed) on out of memory.  The one call
 * every JSON writer makes on its serialised text. */
char *utf8_fix_owned(char *s, size_t *len);

#endif
