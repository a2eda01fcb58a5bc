/* plist — see plist.h.  The cache is an array of records and an oatable from a hash of
 * the id to the record's index + 1 (a multimap: the ids are compared).  A listing takes
 * the one mutex for its whole length, so two listings do not read the same headers. */
#define _GNU_SOURCE
#include "plist.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "errbuf.h"
#include "idxfile.h"
#include "oatable.h"
#include "pindex.h"
#include "strtab.h"
#include "units.h"

enum state { ST_NONE, ST_PENDING, ST_READY, ST_FAILED };
static const char *const state_name[] = {"none", "pending", "ready", "failed"};

struct rec {
    char *id;
    uint64_t bytes;
    int64_t mtime_ns;
    char version[STORE_VERSION_MAX + 1];
    enum state state;
    uint64_t samples, invocations, duration_ns;
    uint64_t seen;             /* the listing that last saw it */
};

struct plist {
    const char *dir;
    indexer *ix;
    pthread_mutex_t mu;
    struct rec **recs;
    size_t nrecs, cap;
    oatable by_id;
    uint64_t listing;
    struct plist_stats st;
};

#define HASH_SEED 0x706c697374ull

plist *plist_new(const char *index_dir, indexer *ix)
{
    plist *pl = calloc(1, sizeof *pl);
    if (!pl)
        return NULL;
    pl->dir = index_dir;
    pl->ix = ix;
    pthread_mutex_init(&pl->mu, NULL);
    return pl;
}

static void drop_all(plist *pl)
{
    for (size_t i = 0; i < pl->nrecs; i++) {
        free(pl->recs[i]->id);
        free(pl->recs[i]);
    }
    free(pl->recs);
    pl->recs = NULL;
    pl->nrecs = pl->cap = 0;
    oat_free(&pl->by_id);
}

void plist_free(plist *pl)
{
    if (!pl)
        return;
    drop_all(pl);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
}

/* ------------------------------------------------------------------ query */

static const char *const sort_name[] = {"time", "name", "samples", "duration", "invocations"};

int plist_query_parse(const char *sort, const char *order, const char *offset,
                      const char *limit, const char *q, const char *name,
                      struct plist_query *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->limit = PLIST_PAGE;
    out->desc = 1;
    if (sort && *sort) {
        size_t i, n = sizeof sort_name / sizeof sort_name[0];
        for (i = 0; i < n && strcmp(sort, sort_name[i]) != 0; i++)
            ;
        if (i == n) {
            err_set(err, errlen, "sort must be time, name, samples, duration or invocations");
            return -EINVAL;
        }
        out->sort = (enum plist_sort)i;
        out->desc = out->sort != PLIST_NAME;
    }
    if (order && *order) {
        if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
            err_set(err, errlen, "order must be asc or desc");
            return -EINVAL;
        }
        out->desc = order[0] == 'd';
    }
    if ((offset && units_uint(offset, UINT32_MAX, &out->offset)) ||
        (limit && (units_uint(limit, PLIST_PAGE_MAX, &out->limit) || !out->limit))) {
        err_set(err, errlen, "offset must be a count, limit between 1 and %d", PLIST_PAGE_MAX);
        return -EINVAL;
    }
    out->q = q && *q ? q : NULL;
    out->name = name && *name ? name : NULL;
    return 0;
}

/* ------------------------------------------------------------------ cache */

static uint64_t id_hash(const char *id) { return strtab_hash(id, strlen(id), HASH_SEED); }

static struct rec *find(plist *pl, const char *id)
{
    uint64_t h = id_hash(id);
    size_t i = oat_find(&pl->by_id, h);
    for (; i != OAT_NONE && pl->by_id.slot[i].val; i = oat_next(&pl->by_id, i, h)) {
        struct rec *r = pl->recs[pl->by_id.slot[i].val - 1];
        if (strcmp(r->id, id) == 0)
            return r;
    }
    return NULL;
}

static struct rec *add(plist *pl, const char *id)
{
    if (pl->nrecs == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 256;
        struct rec **v = realloc(pl->recs, cap * sizeof *v);
        if (!v)
            return NULL;
        pl->recs = v;
        pl->cap = cap;
    }
    struct rec *r = calloc(1, sizeof *r);
    if (!r || !(r->id = strdup(id))) {
        free(r);
        return NULL;
    }
    uint64_t h = id_hash(id);
    size_t i = oat_find(&pl->by_id, h);
    while (i != OAT_NONE && pl->by_id.slot[i].val)
        i = oat_next(&pl->by_id, i, h);
    if (oat_insert_at(&pl->by_id, i, h, pl->nrecs + 1)) {
        free(r->id);
        free(r);
        return NULL;
    }
    pl->recs[pl->nrecs++] = r;
    return r;
}

/* Drops the records the last listing did not see (the table is rebuilt). */
static void prune(plist *pl)
{
    size_t k = 0;
    oat_free(&pl->by_id);
    for (size_t i = 0; i < pl->nrecs; i++) {
        struct rec *r = pl->recs[i];
        if (r->seen != pl->listing) {
            free(r->id);
            free(r);
            continue;
        }
        pl->recs[k++] = r;
    }
    pl->nrecs = k;
    for (size_t i = 0; i < k; i++) {
        uint64_t h = id_hash(pl->recs[i]->id);
        size_t s = oat_find(&pl->by_id, h);
        while (s != OAT_NONE && pl->by_id.slot[s].val)
            s = oat_next(&pl->by_id, s, h);
        if (oat_insert_at(&pl->by_id, s, h, i + 1)) {
            drop_all(pl);            /* out of memory: start again empty */
            return;
        }
    }
}

static int same_version(const struct rec *r, const struct store_entry *e)
{
    return r->bytes == e->bytes && r->mtime_ns == e->mtime_ns &&
           strcmp(r->version, e->version) == 0;
}

static void set_version(struct rec *r, const struct store_entry *e)
{
    r->bytes = e->bytes;
    r->mtime_ns = e->mtime_ns;
    snprintf(r->version, sizeof r->version, "%s", e->version);
    r->state = ST_NONE;
    r->samples = r->invocations = r->duration_ns = 0;
}

static void set_summary(struct rec *r, uint64_t samples, uint64_t inv, uint64_t first,
                        uint64_t last)
{
    r->state = ST_READY;
    r->samples = samples;
    r->invocations = inv;
    r->duration_ns = last > first ? last - first : 0;
}

/* Reads e's index header into r: 1 when it names this version of the trace. */
static int read_header(plist *pl, struct rec *r, const struct store_entry *e)
{
    struct pindex_summary s;
    char why[160];
    pl->st.header_reads++;
    if (idxfile_summary(pl->dir, e->id, &s, NULL, why, sizeof why) != 0)
        return 0;
    if (s.key.size != e->bytes || s.key.mtime_ns != e->mtime_ns ||
        strcmp(s.key.version, e->version) != 0)
        return 0;
    set_summary(r, s.samples, s.invocations, s.first_ns, s.last_ns);
    return 1;
}

/* r's summary, brought up to date for e without parsing. */
static void refresh(plist *pl, struct rec *r, const struct store_entry *e)
{
    if (!same_version(r, e)) {
        set_version(r, e);
        if (pl->dir && read_header(pl, r, e))
            return;
    } else if (r->state == ST_READY || r->state == ST_FAILED || !pl->dir) {
        return;
    } else if (r->state == ST_PENDING) {
        /* ask the indexer first: an index written after the read is seen next time */
        int queued = pl->ix && indexer_pending(pl->ix, e->id);
        if (!read_header(pl, r, e) && !queued)
            r->state = ST_FAILED;
        return;
    } else if (read_header(pl, r, e)) {
        return;                       /* indexed on an open since the last listing */
    }
    if (pl->ix && indexer_push(pl->ix, e->id) == 0) {
        r->state = ST_PENDING;
        pl->st.queued++;
    }
}

void plist_note(plist *pl, const struct store_entry *ent, const profile *p)
{
    size_t len;
    const void *img = pindex_of(p, &len);
    struct pindex_summary s;
    if (!img || pindex_summary(img, len, len, &s, NULL, 0) != 0)
        return;
    pthread_mutex_lock(&pl->mu);
    struct rec *r = find(pl, ent->id);
    if (!r)
        r = add(pl, ent->id);
    if (r) {
        set_version(r, ent);
        set_summary(r, s.samples, s.invocations, s.first_ns, s.last_ns);
        r->seen = pl->listing;
    }
    pthread_mutex_unlock(&pl->mu);
}

void plist_stats_get(plist *pl, struct plist_stats *out)
{
    pthread_mutex_lock(&pl->mu);
    *out = pl->st;
    out->cached = pl->nrecs;
    pthread_mutex_unlock(&pl->mu);
}

/* ------------------------------------------------------------------ listing */

struct row {
    const struct store_entry *e;
    enum state state;
    uint64_t samples, invocations, duration_ns;
};

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = hay; *h; h++)
        if (strncasecmp(h, needle, n) == 0)
            return 1;
    return n == 0;
}

static int matches(const struct store_entry *e, const struct plist_query *q)
{
    return (!q->name || strcmp(e->name, q->name) == 0) && (!q->q || contains_ci(e->id, q->q));
}

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

static int cmp_time(const struct row *x, const struct row *y)
{
    int c = (x->e->mtime_ns > y->e->mtime_ns) - (x->e->mtime_ns < y->e->mtime_ns);
    return c ? c : strcmp(x->e->id, y->e->id);
}

static int cmp_row(const void *a, const void *b, void *ctx)
{
    const struct row *x = a, *y = b;
    const struct plist_query *q = ctx;
    enum plist_sort cur_sort = q->sort;
    int c = 0;
    if (cur_sort >= PLIST_SAMPLES) {
        int kx = x->state == ST_READY, ky = y->state == ST_READY;
        if (kx != ky)
            return ky - kx;          /* traces without a summary last, either way */
        if (cur_sort == PLIST_SAMPLES)
            c = cmp_u64(x->samples, y->samples);
        else if (cur_sort == PLIST_DURATION)
            c = cmp_u64(x->duration_ns, y->duration_ns);
        else
            c = cmp_u64(x->invocations, y->invocations);
    }
    if (!c)
        c = cur_sort == PLIST_NAME ? strcmp(x->e->id, y->e->id) : cmp_time(x, y);
    return q->desc ? -c : c;
}

static void add_time(sbuf *b, int64_t ns)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    char buf[64];
    if (ns < 0 || !gmtime_r(&s, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm)) {
        sbuf_adds(b, "null");
        return;
    }
    sbuf_printf(b, "\"%s.%03dZ\"", buf, (int)(ns / 1000000 % 1000));
}

static void add_row(sbuf *b, const struct row *r)
{
    const struct store_entry *e = r->e;
    sbuf_adds(b, "{\"filename\":");
    sbuf_json_str(b, e->id, strlen(e->id));
    sbuf_adds(b, ",\"type\":\"perf\",\"name\":");
    sbuf_json_str(b, e->name, strlen(e->name));
    sbuf_adds(b, ",\"bytes\":");
    sbuf_u64(b, e->bytes);
    sbuf_adds(b, ",\"uploaded\":");
    add_time(b, e->mtime_ns);
    sbuf_printf(b, ",\"index\":\"%s\"", state_name[r->state]);
    if (r->state == ST_READY)
        sbuf_printf(b, ",\"samples\":%llu,\"duration\":%llu.%09llu,\"invocations\":%llu}",
                    (unsigned long long)r->samples,
                    (unsigned long long)(r->duration_ns / 1000000000),
                    (unsigned long long)(r->duration_ns % 1000000000),
                    (unsigned long long)r->invocations);
    else
        sbuf_adds(b, ",\"samples\":null,\"duration\":null,\"invocations\":null}");
}

int plist_list(plist *pl, const struct store_entry *ents, size_t n,
               const struct plist_query *q, sbuf *out, size_t *total)
{
    struct row *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows)
        return -ENOMEM;
    size_t m = 0;
    pthread_mutex_lock(&pl->mu);
    pl->listing++;
    for (size_t i = 0; i < n; i++) {
        const struct store_entry *e = &ents[i];
        if (!matches(e, q))
            continue;
        struct rec *r = find(pl, e->id);
        if (!r && (r = add(pl, e->id)) != NULL)
            r->mtime_ns = -1;          /* no version yet: refresh reads the header */
        struct row *w = &rows[m++];
        *w = (struct row){.e = e};
        if (!r)
            continue;                  /* out of memory: listed without a summary */
        refresh(pl, r, e);
        r->seen = pl->listing;
        *w = (struct row){e, r->state, r->samples, r->invocations, r->duration_ns};
    }
    if (!q->q && !q->name && pl->nrecs > 2 * n + 1024)
        prune(pl);
    pthread_mutex_unlock(&pl->mu);
    qsort_r(rows, m, sizeof *rows, cmp_row, (void *)q);
    *total = m;
    sbuf_addc(out, '[');
    for (uint64_t i = q->offset; i < m && i < q->offset + q->limit; i++) {
        if (i > q->offset)
            sbuf_addc(out, ',');
        add_row(out, &rows[i]);
    }
    sbuf_addc(out, ']');
    free(rows);
    return sbuf_failed(out) ? -ENOMEM : 0;
}
