/* ftree — see ftree.h.  Nodes live in one array; children are a singly linked list in
 * insertion order.  A tree is made from a profile's stack tree in one pass (the
 * profile already merged frames per parent), keeping only the nodes with samples. */
#include "ftree.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fterr.h"
#include "oatable.h"
#include "strtab.h"

#define NIL UINT32_MAX

struct node {
    const char *name;
    uint32_t nlen;
    uint8_t type;
    uint8_t has_d;
    uint32_t first, last, next, parent;
    int64_t v, d;
};

struct ftree {
    struct node *n;
    size_t count, cap;
};

static uint32_t node_add(ftree *t, uint32_t parent, const char *name, size_t nlen, int type)
{
    if (t->count == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 256;
        struct node *n = realloc(t->n, c * sizeof *n);
        if (!n)
            return NIL;
        t->n = n;
        t->cap = c;
    }
    uint32_t id = (uint32_t)t->count++;
    struct node *x = &t->n[id];
    memset(x, 0, sizeof *x);
    x->name = name;
    x->nlen = (uint32_t)nlen;
    x->type = (uint8_t)type;
    x->first = x->last = x->next = NIL;
    x->parent = parent;
    if (parent != NIL) {
        struct node *p = &t->n[parent];
        if (p->last == NIL)
            p->first = id;
        else
            t->n[p->last].next = id;
        p->last = id;
    }
    return id;
}

ftree *ftree_new(void)
{
    ftree *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (node_add(t, NIL, "root", 4, FT_NONE) == NIL) {
        free(t);
        return NULL;
    }
    return t;
}

void ftree_free(ftree *t)
{
    if (!t)
        return;
    free(t->n);
    free(t);
}

int ftree_add_tree(ftree *t, uint32_t n, const uint32_t *parent, const uint64_t *counts,
                   ftree_label_fn fn, const void *ctx)
{
    if (t->count != 1 || n == 0)
        return -EINVAL;
    uint64_t *total = malloc((size_t)n * sizeof *total);
    uint32_t *map = malloc((size_t)n * sizeof *map);
    if (!total || !map) {
        free(total);
        free(map);
        return -ENOMEM;
    }
    memcpy(total, counts, (size_t)n * sizeof *total);
    /* children have larger ids than their parents: one backward pass sums subtrees */
    for (uint32_t i = n; i-- > 1;)
        total[parent[i]] += total[i];
    map[0] = 0;
    t->n[0].v += (int64_t)counts[0];
    int rc = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (!total[i])
            continue;
        size_t len = 0;
        int type = FT_NONE;
        const char *name = fn(ctx, i, &len, &type);
        uint32_t id = node_add(t, map[parent[i]], name, len, type);
        if (id == NIL) {
            rc = -ENOMEM;
            break;
        }
        t->n[id].v = (int64_t)counts[i];
        map[i] = id;
    }
    free(total);
    free(map);
    return rc;
}

static const char *fs_label(const void *ctx, uint32_t node, size_t *len, int *type)
{
    const profile *p = ctx;
    uint32_t frame = profile_fs_frame(p, node);
    *type = profile_fs_frame_type(p, frame);
    return profile_fs_frame_name(p, frame, len);
}

int ftree_too_deep(const profile *p, const uint64_t *counts)
{
    uint32_t n = profile_fs_nstacks(p);
    const uint32_t *parent = profile_fs_parents(p);
    uint32_t *depth = malloc((n ? n : 1) * sizeof *depth);
    if (!depth)
        return -ENOMEM;
    int deep = 0;
    depth[0] = 0;
    for (uint32_t i = 1; i < n && !deep; i++) {
        depth[i] = depth[parent[i]] + 1;          /* the comm is depth 1 */
        deep = counts[i] && depth[i] > FTREE_MAX_DEPTH + 1;
    }
    free(depth);
    return deep;
}

/* The capped tree: each stack with samples is added as a path (comm, then the marker
 * and its innermost frames when it is too deep), children found by (parent, frame). */
static int add_capped(ftree *t, const profile *p, const uint64_t *counts)
{
    uint32_t n = profile_fs_nstacks(p);
    const uint32_t *parent = profile_fs_parents(p);
    oatable kids = {0};
    uint32_t *path = NULL;
    size_t cap = 0;
    int rc = 0;
    t->n[0].v += (int64_t)counts[0];
    for (uint32_t i = 1; i < n && !rc; i++) {
        if (!counts[i])
            continue;
        size_t d = 0;
        for (uint32_t x = i; x != 0; x = parent[x]) {
            if (d == cap) {
                size_t c = cap ? cap * 2 : 256;
                uint32_t *np = realloc(path, c * sizeof *np);
                if (!np) {
                    rc = -ENOMEM;
                    break;
                }
                path = np;
                cap = c;
            }
            path[d++] = x;                        /* leaf first, the comm last */
        }
        if (rc)
            break;
        /* path[d-1] is the comm; keep the innermost frames below it */
        size_t frames = d - 1, keep = frames > FTREE_MAX_DEPTH ? FTREE_MAX_DEPTH - 1 : frames;
        uint32_t cur = 0;
        for (size_t k = 0; k < keep + 2 && !rc; k++) {
            uint32_t node, frame;
            if (k == 0) {
                node = path[d - 1];
            } else if (k == 1) {
                if (frames <= FTREE_MAX_DEPTH)
                    continue;
                node = PROFILE_NONE;              /* the marker */
            } else {
                node = path[keep - (k - 2) - 1];
            }
            frame = node == PROFILE_NONE ? PROFILE_NONE : profile_fs_frame(p, node);
            uint64_t key = (uint64_t)cur << 32 | frame;
            uint64_t got = oat_get(&kids, key);
            if (got) {
                cur = (uint32_t)(got - 1);
                continue;
            }
            size_t len = sizeof FTREE_CUT_NAME - 1;
            const char *name = FTREE_CUT_NAME;
            int type = FT_NONE;
            if (node != PROFILE_NONE) {
                name = profile_fs_frame_name(p, frame, &len);
                type = profile_fs_frame_type(p, frame);
            }
            uint32_t id = node_add(t, cur, name, len, type);
            if (id == NIL || oat_put(&kids, key, (uint64_t)id + 1))
                rc = -ENOMEM;
            cur = id;
        }
        if (!rc)
            t->n[cur].v += (int64_t)counts[i];
    }
    oat_free(&kids);
    free(path);
    return rc;
}

ftree *ftree_build_counts(const profile *p, const uint64_t *counts)
{
    ftree *t = ftree_new();
    if (!t)
        return NULL;
    int deep = ftree_too_deep(p, counts);
    int rc = deep < 0 ? deep
           : deep ? add_capped(t, p, counts)
                  : ftree_add_tree(t, profile_fs_nstacks(p), profile_fs_parents(p), counts,
                                   fs_label, p);
    if (rc) {
        ftree_free(t);
        return NULL;
    }
    return t;
}

ftree *ftree_build(const profile *p, const struct profile_range *r)
{
    uint32_t n = profile_fs_nstacks(p);
    uint64_t *counts = calloc(n ? n : 1, sizeof *counts);
    if (!counts)
        return NULL;
    profile_fs_count(p, r, counts);
    ftree *t = ftree_build_counts(p, counts);
    free(counts);
    return t;
}

size_t ftree_count(const ftree *t) { return t->count; }

void ftree_node_get(const ftree *t, uint32_t id, struct ftree_node *out)
{
    const struct node *x = &t->n[id];
    out->name = x->name;
    out->len = x->nlen;
    out->type = x->type;
    out->value = x->v;
    out->first = x->first;
    out->next = x->next;
    out->parent = x->parent;
}

uint64_t ftree_total(const ftree *t)
{
    uint64_t s = 0;
    for (size_t i = 0; i < t->count; i++)
        s += (uint64_t)t->n[i].v;
    return s;
}

/* Children by (parent, name, type): a hash over a whole tree, so matching a node's
 * children costs one lookup each, not a scan of the siblings (quadratic in a wide
 * node).  A lib/oatable multimap from the hash to node id + 1, filled in id order: the
 * first match is the first such child. */
struct cindex {
    oatable h;
};

static uint64_t child_hash(uint32_t parent, const struct node *x)
{
    return strtab_hash(x->name, x->nlen, ((uint64_t)parent << 8 | x->type) * 0x9e3779b97f4a7c15ull);
}

static int cindex_build(struct cindex *ci, const ftree *t)
{
    memset(ci, 0, sizeof *ci);
    if (oat_init(&ci->h, t->count))
        return -ENOMEM;
    for (uint32_t i = 1; i < t->count; i++) {
        uint64_t h = child_hash(t->n[i].parent, &t->n[i]);
        size_t j = oat_find(&ci->h, h);
        while (ci->h.slot[j].val)
            j = oat_next(&ci->h, j, h);
        if (oat_insert_at(&ci->h, j, h, (uint64_t)i + 1))
            return -ENOMEM;
    }
    return 0;
}

static uint32_t child_find(const ftree *t, const struct cindex *ci, uint32_t parent,
                           const struct node *like)
{
    uint64_t h = child_hash(parent, like);
    for (size_t j = oat_find(&ci->h, h); ci->h.slot[j].val; j = oat_next(&ci->h, j, h)) {
        const struct node *x = &t->n[ci->h.slot[j].val - 1];
        if (x->parent == parent && x->type == like->type && x->nlen == like->nlen &&
            memcmp(x->name, like->name, x->nlen) == 0)
            return (uint32_t)(ci->h.slot[j].val - 1);
    }
    return NIL;
}

struct pair {
    uint32_t a, b;
};

/* Breadth-first over pairs, like FlameScope's queue (the order does not change the
 * result, only which nodes are reached). */
int ftree_differential(ftree *t, const ftree *cmp)
{
    uint64_t full1 = ftree_total(t), full2 = ftree_total(cmp);
    if (full2 == 0)
        return -FT_ERR_EMPTY;
    double w = (double)full1 / (double)full2;
    struct pair *q = malloc(t->count * sizeof *q);
    struct cindex ci = {0};
    if (!q || cindex_build(&ci, cmp)) {
        free(q);
        return -ENOMEM;
    }
    size_t head = 0, tail = 0;
    q[tail++] = (struct pair){0, 0};
    while (head < tail) {
        struct pair pr = q[head++];
        struct node *x = &t->n[pr.a];
        x->has_d = 1;
        if (pr.b == NIL) {
            x->d = x->v;
            continue;
        }
        x->d = (int64_t)rint((double)x->v - (double)cmp->n[pr.b].v * w);
        for (uint32_t c = x->first; c != NIL; c = t->n[c].next)
            q[tail++] = (struct pair){c, child_find(cmp, &ci, pr.b, &t->n[c])};
    }
    free(q);
    oat_free(&ci.h);
    return 0;
}

int ftree_elided(const ftree *t, ftree *cmp)
{
    uint64_t full1 = ftree_total(t), full2 = ftree_total(cmp);
    if (full2 == 0)
        return -FT_ERR_EMPTY;
    double w = (double)full1 / (double)full2;
    struct pair *q = malloc(cmp->count * sizeof *q);
    uint32_t *sub = malloc(cmp->count * sizeof *sub);
    struct cindex ci = {0};
    if (!q || !sub || cindex_build(&ci, t)) {
        free(q);
        free(sub);
        return -ENOMEM;
    }
    size_t head = 0, tail = 0;
    q[tail++] = (struct pair){0, 0};
    while (head < tail) {
        struct pair pr = q[head++];
        struct node *y = &cmp->n[pr.b];
        if (pr.a == NIL) {
            /* elided: scale the whole subtree */
            size_t sp = 0;
            sub[sp++] = pr.b;
            while (sp) {
                struct node *z = &cmp->n[sub[--sp]];
                z->v = (int64_t)rint((double)z->v * w);
                for (uint32_t c = z->first; c != NIL; c = cmp->n[c].next)
                    sub[sp++] = c;
            }
            continue;
        }
        y->v = 0;
        for (uint32_t c = y->first; c != NIL; c = cmp->n[c].next)
            q[tail++] = (struct pair){child_find(t, &ci, pr.a, &cmp->n[c]), c};
    }
    free(q);
    free(sub);
    oat_free(&ci.h);
    return 0;
}

void ftree_json(const ftree *t, sbuf *out)
{
    /* iterative depth-first walk: stacks can be thousands of frames deep */
    uint32_t *st = malloc((2 * t->count + 1) * sizeof *st);
    if (!st) {
        out->failed = 1;
        return;
    }
    size_t sp = 0;
    st[sp++] = 0;
    int first_in_list = 1;
    while (sp) {
        uint32_t id = st[--sp];
        if (id == NIL) {              /* end of a child list */
            sbuf_adds(out, "]}");
            first_in_list = 0;
            continue;
        }
        const struct node *x = &t->n[id];
        if (!first_in_list)
            sbuf_addc(out, ',');
        sbuf_adds(out, "{\"n\":");
        sbuf_json_str(out, x->name, x->nlen);
        sbuf_adds(out, ",\"l\":\"");
        sbuf_adds(out, profile_ftype_name(x->type));
        sbuf_adds(out, "\",\"v\":");
        sbuf_i64(out, x->v);
        if (x->has_d) {
            sbuf_adds(out, ",\"d\":");
            sbuf_i64(out, x->d);
        }
        sbuf_adds(out, ",\"c\":[");
        first_in_list = 1;
        st[sp++] = NIL;
        /* push children in reverse so they come out in order */
        size_t mark = sp;
        for (uint32_t c = x->first; c != NIL; c = t->n[c].next)
            st[sp++] = c;
        for (size_t i = mark, j = sp - 1; i < j; i++, j--) {
            uint32_t tmp = st[i];
            st[i] = st[j];
            st[j] = tmp;
        }
    }
    free(st);
}
