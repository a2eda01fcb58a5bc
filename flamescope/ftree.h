/* ftree — FlameScope's flame graph tree: root -> comm -> outermost frame … -> leaf,
 * children merged by (name, type), `v` the self count (a sample adds to its leaf only).
 * Also FlameScope's differential (adds `d` to the nodes it visits) and elided (the
 * compare tree, what both have zeroed, the rest scaled) computations, and the JSON.
 *
 * Node names point into the profile the tree was built from: keep the profile alive
 * while the tree is used.  Thread-safety: a tree belongs to one thread. */
#ifndef FLAMESCOPE_FTREE_H
#define FLAMESCOPE_FTREE_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "sbuf.h"

typedef struct ftree ftree;

ftree *ftree_new(void);
void ftree_free(ftree *t);
/* Fills a new tree (root only) from a tree given as parent[] (node 0 the root, parents
 * before children) and per-node self counts: the nodes with a non-zero subtree, in id
 * order, named by fn. */
typedef const char *(*ftree_label_fn)(const void *ctx, uint32_t node, size_t *len, int *type);
int ftree_add_tree(ftree *t, uint32_t n, const uint32_t *parent, const uint64_t *counts,
                   ftree_label_fn fn, const void *ctx);
/* Read access for layouts (exports): node 0 is the root; parents come before their
 * children; FTREE_NIL ends a child list. */
#define FTREE_NIL UINT32_MAX
struct ftree_node {
    const char *name;
    size_t len;
    int type;
    int64_t value;                 /* self */
    uint32_t first, next, parent;
};
size_t ftree_count(const ftree *t);
void ftree_node_get(const ftree *t, uint32_t id, struct ftree_node *out);

/* The depth cap of the flame graphs the viewer draws: a stack of more than
 * FTREE_MAX_DEPTH frames below its comm (a frame-pointer loop in an old trace, runaway
 * recursion) keeps its FTREE_MAX_DEPTH - 1 innermost frames, under one marker frame
 * named FTREE_CUT_NAME that holds the place of the outer ones.  Stacks within the cap
 * are untouched (every real profile of the tests: FlameScope's answers stay exact). */
#define FTREE_MAX_DEPTH 128
#define FTREE_CUT_NAME "[stack deeper than 128 frames: outer frames cut]"
/* 1 when a node with counts (profile_fs_count's) is deeper than the cap, 0 when none
 * is, -ENOMEM. */
int ftree_too_deep(const profile *p, const uint64_t *counts);

/* The FlameScope tree of a profile's range, depth capped (NULL when out of memory). */
ftree *ftree_build(const profile *p, const struct profile_range *r);
/* The same from counts (profile_fs_count's, profile_fs_nstacks() of them). */
ftree *ftree_build_counts(const profile *p, const uint64_t *counts);
/* Sum of all node values (FlameScope's "full value"). */
uint64_t ftree_total(const ftree *t);
/* FlameScope's differential: t gets `d` = round(v - v_cmp * total(t)/total(cmp)) on
 * every node matched in cmp (and their children), d = v on the first unmatched node of
 * a path.  -FT_ERR_EMPTY when cmp is empty. */
int ftree_differential(ftree *t, const ftree *cmp);
/* FlameScope's elided: cmp's nodes also in t get v = 0; the subtrees missing from t are
 * scaled by total(t)/total(cmp).  The result is cmp.  -FT_ERR_EMPTY when cmp is empty. */
int ftree_elided(const ftree *t, ftree *cmp);
/* {"n":…,"l":…,"v":…[,"d":…],"c":[…]} */
void ftree_json(const ftree *t, sbuf *out);

#endif
