/* rng — the one pseudo-random stream for sampling decisions (random phases, periods,
 * which invocation record to keep): Knuth's MMIX linear congruential step, drawn from
 * with a multiply-high, which uses the state's strong high bits and has no modulo bias.
 * Not for secrets.  The caller owns the state (any value, a lock or a thread of its own). */
#ifndef FNTRACE_RNG_H
#define FNTRACE_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state;
}

/* uniform in [0, n) */
static inline uint64_t rng_below(uint64_t *state, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rng_next(state) * n) >> 64);
}

#endif
