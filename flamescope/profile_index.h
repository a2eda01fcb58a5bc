/* profile_index — the layout of a profile index, private to the profile module:
 * profile.c builds it (parser callbacks, naming, tries), pindex.c lays it out as one
 * flat image (the on-disk index file, docs/flamescope.md) and checks images it did not
 * make, and profile_query.c answers from it.  Everyone else goes through profile.h.
 *
 * One representation: a struct profile is a set of flat arrays inside one image, the
 * same whether the image was just built (malloc'd) or loaded from an index file
 * (mmap'd), so both answer every query with the same code and the same bytes.  Every
 * array is read-only; an index is immutable: safe to read from many threads. */
#ifndef FLAMESCOPE_PROFILE_INDEX_H
#define FLAMESCOPE_PROFILE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

#define HEAT_IDLE_BIT 0x80000000u

/* Interned strings: string i is bytes[off[i] .. off[i + 1] - 1), NUL-terminated. */
struct pstrs {
    uint32_t n;
    const uint64_t *off;       /* n + 1 entries */
    const char *bytes;
};

/* A stack trie (see trie.h): node 0 the root, parent[i] < i, children linked in
 * creation order through first/next (PROFILE_NONE ends a list) while it is built;
 * an index keeps the parents only. */
struct ptree {
    uint32_t n;
    const uint32_t *parent, *label, *first, *next;
    const uint8_t *state;      /* FlameScope trie only: idle regex state of the path */
};

struct profile {
    size_t n;                  /* samples, file order */
    const uint64_t *t_ns;
    const uint32_t *fstack;    /* | HEAT_IDLE_BIT */
    const uint32_t *cstack;    /* PROFILE_NONE: another event than the first */
    const uint64_t *period;    /* NULL while every period equals period_const */
    const int32_t *tid;        /* NULL unless an invocation line names a thread */
    uint64_t period_const;
    uint64_t min_ns, max_ns;
    double base_s, end_s;      /* floor(min), ceil(end) as FlameScope computes them */
    uint32_t nsec;
    const uint64_t *sec_first; /* nsec + 1 first-sample indexes; NULL: scan */

    struct ptree fs;           /* FlameScope stacks: labels are frame ids */
    uint32_t nframes;
    const uint32_t *frame_name;/* frame -> names id */
    const uint8_t *frame_type; /* frame -> enum profile_ftype */
    struct pstrs names;        /* FlameScope frame names */
    struct ptree folded;       /* stackcollapse stacks: labels are cnames ids */
    struct pstrs cnames;       /* folded names */
    const uint32_t *cname_mod; /* folded name -> mods id (PROFILE_NONE: no module) */
    const uint64_t *cname_addr;/* folded name -> address of its first framed line */
    struct pstrs mods;         /* modules, the "(path)" of frame lines */
    const char *event;         /* the first event ("" if none) */

    struct profile_invocation *inv;   /* malloc'd; id and fn point into the image */
    size_t ninv;
    uint64_t parsed_bytes;

    uint32_t *order;           /* fs in depth-first order (profile_fs_order): derived on
                                * first use under a lock, published by order_ready */
    int order_ready;
    void *lazy;                /* pindex's record of the parts verified so far, NULL:
                                * built here, or checked whole when opened */
    void *image;               /* owns every other array above */
    size_t image_len;
    int mapped;                /* image is an mmap (munmap), else malloc (free) */
};

#endif
