/* trie — flamescope's stacks as a tree of frames, shared by the profile index's two
 * views (FlameScope's frames and stackcollapse's folded names).  While the index is
 * built, a (parent, label) -> node lib/oatable finds children; trie_seal() frees it and
 * links the child lists the queries walk.  Owned by its profile; built by one thread,
 * then read-only (safe to read from many threads). */
#ifndef FLAMESCOPE_TRIE_H
#define FLAMESCOPE_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "oatable.h"

/* Stacks as a tree of frames (a trie): node 0 is the root, every other node is
 * (parent, label) with parent < node, so one pass in id order visits parents first.
 * A sample's stack is its leaf node.  The hash (parent, label) -> node is only needed
 * while building and is freed by trie_seal(), which builds the child lists instead. */
struct trie {
    uint32_t *parent, *label;
    uint8_t *state;            /* FlameScope trie: idle regex state of the path */
    uint32_t n, cap;
    /* Building: a node's first child is found through first/first_label (stacks that
     * go on where no stack went before make chains: that node was just created, so its
     * line is in the cache), later children through the hash. */
    uint32_t *first, *first_label;
    oatable h;                 /* parent << 32 | label -> node: key and node in one line */
    uint32_t *next;            /* next sibling, after trie_seal() */
};

/* An empty trie (the root, node 0); with_state keeps a byte of state per node. */
int trie_init(struct trie *t, int with_state);
void trie_free(struct trie *t);
/* The child of parent labelled label, created when new (*created set); PROFILE_NONE
 * when out of memory or past 2^31 nodes. */
uint32_t trie_child(struct trie *t, uint32_t parent, uint32_t label, int *created);
/* Ends building: drops the hash, links the children (in creation order). 0 or -ENOMEM. */
int trie_seal(struct trie *t);
size_t trie_memory(const struct trie *t);

#endif
