/* trie — see trie.h. */
#include "trie.h"
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int trie_init(struct trie *t, int with_state)
{
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->parent = malloc(t->cap * sizeof *t->parent);
    t->label = malloc(t->cap * sizeof *t->label);
    t->first = malloc(t->cap * sizeof *t->first);
    t->first_label = malloc(t->cap * sizeof *t->first_label);
    t->state = with_state ? malloc(t->cap) : NULL;
    if (!t->parent || !t->label || !t->first || !t->first_label || (with_state && !t->state) ||
        oat_init(&t->h, 1024))
        return -ENOMEM;
    t->first[0] = PROFILE_NONE;
    t->parent[0] = PROFILE_NONE;
    t->label[0] = PROFILE_NONE;
    if (t->state)
        t->state[0] = 0;
    t->n = 1;
    return 0;
}

void trie_free(struct trie *t)
{
    free(t->parent);
    free(t->label);
    free(t->state);
    oat_free(&t->h);
    free(t->first);
    free(t->first_label);
    free(t->next);
    memset(t, 0, sizeof *t);
}

static int trie_grow(struct trie *t)
{
    uint32_t c = t->cap * 2;
    uint32_t **arrs[] = {&t->parent, &t->label, &t->first, &t->first_label};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        uint32_t *a = realloc(*arrs[i], (size_t)c * sizeof *a);
        if (!a)
            return -ENOMEM;
        *arrs[i] = a;
    }
    if (t->state) {
        uint8_t *st = realloc(t->state, c);
        if (!st)
            return -ENOMEM;
        t->state = st;
    }
    t->cap = c;
    return 0;
}

static uint32_t trie_new_node(struct trie *t, uint32_t parent, uint32_t label)
{
    if (t->n >= 0x7fffffffu)       /* ids keep the top bit free (HEAT_IDLE_BIT) */
        return PROFILE_NONE;
    if (t->n == t->cap && trie_grow(t))
        return PROFILE_NONE;
    uint32_t id = t->n++;
    t->parent[id] = parent;
    t->label[id] = label;
    t->first[id] = PROFILE_NONE;
    return id;
}

uint32_t trie_child(struct trie *t, uint32_t parent, uint32_t label, int *created)
{
    *created = 0;
    uint32_t fc = t->first[parent];
    if (fc == PROFILE_NONE) {
        uint32_t id = trie_new_node(t, parent, label);
        if (id != PROFILE_NONE) {
            t->first[parent] = id;
            t->first_label[parent] = label;
            *created = 1;
        }
        return id;
    }
    if (t->first_label[parent] == label)
        return fc;
    uint64_t key = ((uint64_t)parent << 32) | label;
    size_t j = oat_find(&t->h, key);
    if (t->h.slot[j].val)
        return (uint32_t)t->h.slot[j].val;
    uint32_t id = trie_new_node(t, parent, label);   /* never 0: the root has no parent */
    if (id == PROFILE_NONE || oat_insert_at(&t->h, j, key, id))
        return PROFILE_NONE;
    *created = 1;
    return id;
}

/* Drops the build hash, links the children (in creation order) after the first. */
int trie_seal(struct trie *t)
{
    oat_free(&t->h);
    free(t->first_label);
    t->first_label = NULL;
    t->next = malloc((size_t)t->n * sizeof *t->next);
    uint32_t *last = malloc((size_t)t->n * sizeof *last);
    if (!t->next || !last) {
        free(last);
        return -ENOMEM;
    }
    memset(t->next, 0xff, (size_t)t->n * sizeof *t->next);
    for (uint32_t i = 0; i < t->n; i++)
        last[i] = t->first[i];
    for (uint32_t i = 1; i < t->n; i++) {
        uint32_t pa = t->parent[i];
        if (t->first[pa] == i)
            continue;
        t->next[last[pa]] = i;
        last[pa] = i;
    }
    free(last);
    return 0;
}

size_t trie_memory(const struct trie *t)
{
    size_t per = 3 * sizeof(uint32_t) + (t->state ? 1 : 0) + (t->next ? 4 : 0) +
                 (t->first_label ? 4 : 0);
    return (size_t)t->cap * per + oat_memory(&t->h);
}
