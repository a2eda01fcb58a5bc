/* profile_query — the read side of a profile index (profile.h): sample accessors,
 * time ranges ("start"/"end" as FlameScope parses them, the per-second windows),
 * the FlameScope and folded stack views, invocations.  Pure reads of an immutable
 * index: thread-safe. */
#define _GNU_SOURCE
#include "profile_index.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fterr.h"

size_t profile_nsamples(const profile *p) { return p->n; }
uint64_t profile_time_ns(const profile *p, size_t i) { return p->t_ns[i]; }
double profile_base_s(const profile *p) { return p->base_s; }
uint64_t profile_parsed_bytes(const profile *p) { return p->parsed_bytes; }

/* ------------------------------------------------------------------ ranges */

void profile_range_all(const profile *p, struct profile_range *out)
{
    out->start_s = p->base_s;
    out->end_s = p->end_s;
    out->tid = 0;
}

/* Python's float(): decimal text with optional sign/spaces; we refuse inf/nan. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v))
        return -1;
    while (*end == ' ')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int profile_range_parse(const profile *p, const char *start, const char *end,
                        struct profile_range *out, char *err, size_t errlen)
{
    double s = 0, e = 0;
    if (start && *start && parse_seconds(start, &s)) {
        snprintf(err, errlen, "start must be a number of seconds");
        return -EINVAL;
    }
    if (end && *end && parse_seconds(end, &e)) {
        snprintf(err, errlen, "end must be a number of seconds");
        return -EINVAL;
    }
    double rs = p->base_s, re = p->end_s;
    if (e != 0) {
        if (rs + e > re) {
            snprintf(err, errlen, "end %g is past the end of the profile (%g s long)", e,
                     re - rs);
            return -ERANGE;
        }
        re = rs + e;
    }
    if (s != 0)
        rs = rs + s;
    if (rs > re) {
        snprintf(err, errlen, "start %g is after end %g", rs - p->base_s, re - p->base_s);
        return -ERANGE;
    }
    out->start_s = rs;
    out->end_s = re;
    out->tid = 0;
    return 0;
}

static size_t lower_bound(const profile *p, size_t lo, size_t hi, double t, int upper)
{
    /* first index in [lo,hi) with time >= t (upper: > t) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double v = (double)p->t_ns[mid] / 1e9;
        if (upper ? v <= t : v < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void sec_window(const profile *p, double t, size_t *lo, size_t *hi)
{
    double c = floor(t - p->base_s);
    if (c < 0) {
        *lo = 0;
        *hi = p->sec_first[0];
    } else if (c >= p->nsec) {
        *lo = p->sec_first[p->nsec];
        *hi = p->n;
    } else {
        *lo = p->sec_first[(size_t)c];
        *hi = p->sec_first[(size_t)c + 1];
    }
    /* rounding at the second's edge: widen by one on each side */
    if (*lo > 0)
        (*lo)--;
    if (*hi < p->n)
        (*hi)++;
}

void profile_range_bounds(const profile *p, const struct profile_range *r, size_t *lo,
                          size_t *hi)
{
    if (!p->sec_first) {
        *lo = 0;
        *hi = p->n;
        return;
    }
    size_t a, b;
    sec_window(p, r->start_s, &a, &b);
    *lo = lower_bound(p, a, b, r->start_s, 0);
    sec_window(p, r->end_s, &a, &b);
    *hi = lower_bound(p, a, b, r->end_s, 1);
    if (*hi < *lo)
        *hi = *lo;
}

/* A range that names a thread the index can tell apart. */
static int range_tid(const profile *p, const struct profile_range *r)
{
    return p->tid && r->tid > 0;
}

int profile_in_range(const profile *p, size_t i, const struct profile_range *r)
{
    if (range_tid(p, r) && p->tid[i] != r->tid)
        return 0;
    double t = (double)p->t_ns[i] / 1e9;
    return t >= r->start_s && t <= r->end_s;
}

/* ------------------------------------------------------------------ FlameScope view */

uint32_t profile_fs_nstacks(const profile *p) { return p->fs.n; }
const uint32_t *profile_fs_parents(const profile *p) { return p->fs.parent; }
uint32_t profile_fs_frame(const profile *p, uint32_t node) { return p->fs.label[node]; }
/* One lock for every index's first derivation: it is taken once per index. */
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

/* Preorder positions without child lists: subtree sizes in one backward pass, then each
 * node, in id order (its siblings' creation order), takes the next free position
 * under its parent and hands its own subtree's positions to its children. */
static uint32_t *derive_order(const struct ptree *t)
{
    uint32_t n = t->n;
    uint32_t *o = malloc((size_t)n * 4 * sizeof *o), *cur = malloc((size_t)n * sizeof *cur);
    if (!o || !cur) {
        free(o);
        free(cur);
        return NULL;
    }
    uint32_t *node = o, *frame = o + n, *end = o + 2 * (size_t)n, *at = o + 3 * (size_t)n;
    for (uint32_t i = 0; i < n; i++)
        cur[i] = 1;
    for (uint32_t i = n; i-- > 1;)       /* checked: parent[i] < i */
        cur[t->parent[i]] += cur[i];
    node[0] = 0;
    frame[0] = 0;
    end[0] = n;
    at[0] = 0;
    cur[0] = 1;                           /* from here on: the next free position */
    for (uint32_t i = 1; i < n; i++) {
        uint32_t size = cur[i], pos = cur[t->parent[i]];
        cur[t->parent[i]] = pos + size;
        cur[i] = pos + 1;
        node[pos] = i;
        frame[pos] = t->label[i];
        end[pos] = pos + size;
        at[i] = pos;
    }
    free(cur);
    return o;
}

int profile_fs_order(const profile *cp, struct profile_fs_order *out)
{
    /* the order is a cache filled once and never changed after: the index stays
     * immutable to its readers, who see it only after order_ready is published */
    profile *p = (profile *)cp;
    if (!__atomic_load_n(&p->order_ready, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&order_lock);
        if (!p->order_ready) {
            p->order = derive_order(&p->fs);
            if (p->order)
                __atomic_store_n(&p->order_ready, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&order_lock);
        if (!p->order_ready)
            return -ENOMEM;
    }
    out->node = p->order;
    out->frame = p->order + p->fs.n;
    out->end = p->order + 2 * (size_t)p->fs.n;
    out->pos = p->order + 3 * (size_t)p->fs.n;
    return 0;
}

static const char *pstr(const struct pstrs *s, uint32_t id, size_t *len)
{
    if (len)
        *len = (size_t)(s->off[id + 1] - s->off[id] - 1);
    return s->bytes + s->off[id];
}

const char *profile_fs_frame_name(const profile *p, uint32_t frame, size_t *len)
{
    return pstr(&p->names, p->frame_name[frame], len);
}

int profile_fs_frame_type(const profile *p, uint32_t frame) { return p->frame_type[frame]; }
uint32_t profile_fs_nframes(const profile *p) { return p->nframes; }

uint32_t profile_fs_sample_stack(const profile *p, size_t i)
{
    return p->fstack[i] & ~HEAT_IDLE_BIT;
}

int profile_fs_heat_idle(const profile *p, size_t i) { return (p->fstack[i] & HEAT_IDLE_BIT) != 0; }

int profile_fs_stack_idle(const profile *p, uint32_t stack)
{
    return (p->fs.state[stack] & 2) != 0;
}

uint64_t profile_fs_count(const profile *p, const struct profile_range *r, uint64_t *counts)
{
    return profile_fs_count_at(p, r, counts, NULL);
}

uint64_t profile_fs_count_at(const profile *p, const struct profile_range *r, uint64_t *counts,
                             const uint32_t *at)
{
    size_t lo, hi;
    uint64_t added = 0;
    profile_range_bounds(p, r, &lo, &hi);
    int check = p->sec_first == NULL;
    const int32_t *tids = range_tid(p, r) ? p->tid : NULL;
    for (size_t i = lo; i < hi; i++) {
        if (check && !profile_in_range(p, i, r))
            continue;
        if (tids && tids[i] != r->tid)
            continue;
        uint32_t s = p->fstack[i] & ~HEAT_IDLE_BIT;
        if ((p->fs.state[s] & 2) && i != p->n - 1)
            continue;
        counts[at ? at[s] : s]++;
        added++;
    }
    return added;
}

/* ------------------------------------------------------------------ folded view */

uint32_t profile_folded_nstacks(const profile *p) { return p->folded.n; }
const uint32_t *profile_folded_parents(const profile *p) { return p->folded.parent; }
uint32_t profile_folded_label(const profile *p, uint32_t node) { return p->folded.label[node]; }

const char *profile_folded_name(const profile *p, uint32_t name, size_t *len)
{
    return pstr(&p->cnames, name, len);
}

uint32_t profile_folded_nnames(const profile *p) { return p->cnames.n; }

uint32_t profile_folded_module(const profile *p, uint32_t name, uint64_t *addr)
{
    *addr = p->cname_addr[name];
    return p->cname_mod[name];
}

uint32_t profile_nmodules(const profile *p) { return p->mods.n; }

const char *profile_module_name(const profile *p, uint32_t mod, size_t *len)
{
    return pstr(&p->mods, mod, len);
}

uint32_t profile_folded_sample_stack(const profile *p, size_t i) { return p->cstack[i]; }

uint64_t profile_period(const profile *p, size_t i)
{
    return p->period ? p->period[i] : p->period_const;
}

const char *profile_event(const profile *p) { return p->event; }
int32_t profile_tid(const profile *p, size_t i) { return p->tid ? p->tid[i] : 0; }
int profile_has_tids(const profile *p) { return p->tid != NULL; }

/* ------------------------------------------------------------------ invocations */

size_t profile_ninvocations(const profile *p) { return p->ninv; }

const struct profile_invocation *profile_invocation(const profile *p, size_t i)
{
    return i < p->ninv ? &p->inv[i] : NULL;
}

const struct profile_invocation *profile_invocation_find(const profile *p, const char *id)
{
    for (size_t i = 0; i < p->ninv; i++)
        if (strcmp(p->inv[i].id, id) == 0)
            return &p->inv[i];
    return NULL;
}

void profile_invocation_range(const profile *p, const struct profile_invocation *inv,
                              struct profile_range *out)
{
    out->tid = inv->tid;
    out->start_s = (double)inv->start_ns / 1e9;
    if (inv->has_end)
        out->end_s = (double)inv->end_ns / 1e9;
    else
        out->end_s = p->n ? (double)p->max_ns / 1e9 : out->start_s;
}
