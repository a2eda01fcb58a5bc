/* naming — the rules that turn perf's raw frames into names, as the two tools whose
 * answers flamescope reproduces apply them: FlameScope's idle regex
 * ("swapper.*(cpuidle|…)"), its library types, perf's "->" inline chains, and
 * stackcollapse-perf.pl's tidying of function names.  Pure functions; thread-safe.
 * The profile index (profile.c) calls them once per distinct raw frame and memoises. */
#ifndef FLAMESCOPE_NAMING_H
#define FLAMESCOPE_NAMING_H

#include <stddef.h>

/* idle-piece bits */
#define IP_SW 1      /* holds "swapper" */
#define IP_IDLE 2    /* holds an idle function name */
#define IP_SELF 4    /* holds "swapper" followed by an idle name */

/* IP_* bits of s[0..len): FlameScope's idle regex is "swapper.*(word|…)". */
unsigned idle_bits(const char *s, size_t len);
/* Folds piece bits in text order; returns 1 once the regex matched. */
int idle_step(int *seen_sw, unsigned bits);
/* The regex state along a path: bit 0 "swapper" seen, bit 1 matched. */
unsigned idle_state(unsigned st, unsigned bits);
/* FlameScope's library type (FT_*) of a frame's module. */
int library_type(const char *m, size_t len, int has_module);
/* Where the next "->" (perf's inline-chain separator) starts in s[pos, end), or end. */
size_t arrow_at(const char *s, size_t pos, size_t end);
/* stackcollapse-perf.pl's tidying of one function name (one "->" part) into out
 * (cap bytes); java strips the "L" of JVM class names, inlined appends "_[i]".
 * Returns the length written. */
size_t folded_tidy(const char *f, size_t len, const char *mod, size_t mlen, int java,
                   int inlined, char *out, size_t cap);

#endif
