/* profile_index — the layout of a profile index, private to the profile module's two
 * halves: profile.c builds it (parser callbacks, naming, tries) and profile_query.c
 * answers from it (ranges, the two stack views, invocations).  Everyone else goes
 * through profile.h.  A built index is immutable: safe to read from many threads. */
#ifndef FLAMESCOPE_PROFILE_INDEX_H
#define FLAMESCOPE_PROFILE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "strtab.h"
#include "trie.h"

#define HEAT_IDLE_BIT 0x80000000u

struct profile {
    size_t n, cap;
    uint64_t *t_ns;
    uint32_t *fstack;          /* | HEAT_IDLE_BIT */
    uint32_t *cstack;
    uint64_t *period;          /* NULL while every period equals period_const */
    int32_t *tid;              /* each sample's tid; NULL unless an invocation has a tid */
    int inv_tids;              /* some invocation line carries a tid */
    uint64_t period_const;
    int period_set;

    uint64_t min_ns, max_ns, last_ns;
    double py_start, py_end;   /* FlameScope's start/end tracking (with its elif) */
    int sorted;
    double base_s, end_s;      /* floor(min), ceil(end) as FlameScope computes them */
    uint32_t nsec;
    size_t *sec_first;         /* nsec + 1 entries, sorted profiles only */

    strtab *names;             /* FlameScope frame names */
    strtab *frames;            /* (name id u32, type u8) -> frame id */
    uint8_t *frame_bits;       /* idle bits (IP_*) of each frame's name */
    size_t frame_bits_cap;
    struct trie fs;            /* FlameScope stacks: labels are frame ids */

    strtab *cnames;            /* folded names */
    struct trie folded;        /* stackcollapse stacks: labels are folded name ids */
    char *event;

    struct profile_invocation *inv;
    size_t ninv, invcap;
    size_t inv_bytes;          /* their id and fn strings */
    uint64_t parsed_bytes;
};

#endif
