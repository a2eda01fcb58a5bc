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
/* Adds counts[stack] samples of every FlameScope stack of p (NULL counts: none).
 * A tree takes the stacks of one profile only (children are keyed by frame id). */
int ftree_add_counts(ftree *t, const profile *p, const uint32_t *counts);
/* Generic form: a path of n uint32 keys (possibly unaligned), root first, whose names
 * fn gives (the name must outlive the tree); count is added to the last node. */
typedef const char *(*ftree_name_fn)(void *ctx, uint32_t key, size_t *len, int *type);
int ftree_add_path(ftree *t, const void *keys, size_t n, ftree_name_fn fn, void *ctx,
                   uint64_t count);

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
/* Builds the tree of a range in one call. */
ftree *ftree_build(const profile *p, const struct profile_range *r);
/* Sum of all node values (FlameScope's "full value"). */
uint64_t ftree_total(const ftree *t);
/* FlameScope's differential: t gets `d` = round(v - v_cmp * total(t)/total(cmp)) on
 * every node matched in cmp (and their children), d = v on the first unmatched node of
 * a path.  -EDOM when cmp is empty. */
int ftree_differential(ftree *t, const ftree *cmp);
/* FlameScope's elided: cmp's nodes also in t get v = 0; the subtrees missing from t are
 * scaled by total(t)/total(cmp).  The result is cmp.  -EDOM when cmp is empty. */
int ftree_elided(const ftree *t, ftree *cmp);
/* {"n":…,"l":…,"v":…[,"d":…],"c":[…]} */
void ftree_json(const ftree *t, sbuf *out);

#endif
