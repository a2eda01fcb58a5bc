/* pcache — see pcache.h.  Entries sit in one doubly linked list, most recently used
 * first; the list is short (a budget of bytes, indexes of megabytes) so lookups walk
 * it.  One mutex guards the list; one condition variable wakes waiters when any build
 * finishes. */
#include "pcache.h"
#include "fterr.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { E_BUILDING, E_READY, E_FAILED };

struct pcache_entry {
    char *id;
    uint64_t size;
    int64_t mtime_ns;
    char *version;
    int state;
    int err;
    char msg[256];
    profile *prof;
    size_t bytes;
    unsigned refs;
    int unlinked;          /* removed from the list; freed by the last release */
    struct pcache_entry *prev, *next;
};

struct pcache {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pcache_entry *head, *tail;
    size_t max_bytes, bytes, entries;
    unsigned max_builds, building;   /* build queue: at most max_builds at once */
    struct pcache_stats st;
};

/* Refusals that the same bytes would earn again: cached like an index (0 bytes). */
static int permanent(int err)
{
    return err == -FT_ERR_TOO_LARGE || err == -EFBIG || err == -FT_ERR_OVER_BUDGET ||
           err == -FT_ERR_BAD_GZIP || err == -FT_ERR_NOT_PERF;
}

pcache *pcache_new(size_t max_bytes)
{
    pcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->max_builds = cores > 0 ? (unsigned)cores : 1;
    c->max_bytes = max_bytes;
    return c;
}

static void entry_free(struct pcache_entry *e)
{
    profile_free(e->prof);
    free(e->id);
    free(e->version);
    free(e);
}

static void unlink_entry(pcache *c, struct pcache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
    e->unlinked = 1;
    c->bytes -= e->bytes;
    c->entries--;
}

static void push_front(pcache *c, struct pcache_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

void pcache_free(pcache *c)
{
    if (!c)
        return;
    struct pcache_entry *e = c->head;
    while (e) {
        struct pcache_entry *n = e->next;
        entry_free(e);
        e = n;
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Drops unused entries, oldest first, while over budget (lock held). */
static void evict(pcache *c)
{
    struct pcache_entry *e = c->tail;
    while (e && c->bytes > c->max_bytes) {
        struct pcache_entry *p = e->prev;
        if (e->refs == 0 && e->state == E_READY) {
            unlink_entry(c, e);
            entry_free(e);
            c->st.evictions++;
        }
        e = p;
    }
}

const profile *pcache_get(pcache *c, const char *id, uint64_t size, int64_t mtime_ns,
                          const char *version, pcache_build_fn build, void *ctx,
                          pcache_entry **ref, int *err, char *msg, size_t msglen)
{
    *ref = NULL;
    if (!version)
        version = "";
    pthread_mutex_lock(&c->mu);
    struct pcache_entry *e = c->head, *found = NULL;
    while (e) {
        struct pcache_entry *n = e->next;
        if (strcmp(e->id, id) == 0) {
            if (e->size == size && e->mtime_ns == mtime_ns &&
                strcmp(e->version, version) == 0 && !found) {
                found = e;
            } else if (e->refs == 0 && e->state != E_BUILDING) {
                /* an older version of the same profile (or its refusal): stale */
                unlink_entry(c, e);
                entry_free(e);
                c->st.evictions++;
            }
        }
        e = n;
    }
    if (found) {
        e = found;
        e->refs++;
        if (e->state == E_BUILDING)
            c->st.waits++;
        else
            c->st.hits++;
        while (e->state == E_BUILDING)
            pthread_cond_wait(&c->cv, &c->mu);
        if (e->state == E_FAILED) {
            *err = e->err;
            snprintf(msg, msglen, "%s", e->msg);
            if (--e->refs == 0 && e->unlinked)
                entry_free(e);
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
        /* most recently used first */
        if (!e->unlinked && c->head != e) {
            unlink_entry(c, e);
            e->unlinked = 0;
            c->entries++;
            c->bytes += e->bytes;
            push_front(c, e);
        }
        *ref = e;
        pthread_mutex_unlock(&c->mu);
        return e->prof;
    }
    c->st.misses++;
    e = calloc(1, sizeof *e);
    if (!e || !(e->id = strdup(id)) || !(e->version = strdup(version))) {
        if (e)
            free(e->id);
        free(e);
        pthread_mutex_unlock(&c->mu);
        *err = -ENOMEM;
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    e->size = size;
    e->mtime_ns = mtime_ns;
    e->state = E_BUILDING;
    e->refs = 1;
    push_front(c, e);
    c->entries++;
    c->st.builds++;
    /* the build queue: requests for other profiles wait here, their waiters on e */
    while (c->building >= c->max_builds) {
        c->st.queued++;
        pthread_cond_wait(&c->cv, &c->mu);
    }
    c->building++;
    pthread_mutex_unlock(&c->mu);

    int berr = 0;
    char bmsg[256] = "";
    profile *p = build(ctx, &berr, bmsg, sizeof bmsg);

    pthread_mutex_lock(&c->mu);
    c->building--;
    if (!p) {
        e->state = E_FAILED;
        e->err = berr ? berr : -EIO;
        snprintf(e->msg, sizeof e->msg, "%s", bmsg);
        if (permanent(e->err)) c->st.refusals++;
        else unlink_entry(c, e);   /* not cached: waiters hold references */
        *err = e->err;
        snprintf(msg, msglen, "%s", e->msg);
        pthread_cond_broadcast(&c->cv);
        if (--e->refs == 0 && e->unlinked)
            entry_free(e);
        pthread_mutex_unlock(&c->mu);
        return NULL;
    }
    e->prof = p;
    e->bytes = profile_memory(p);
    e->state = E_READY;
    if (!e->unlinked)
        c->bytes += e->bytes;
    evict(c);
    pthread_cond_broadcast(&c->cv);
    *ref = e;
    pthread_mutex_unlock(&c->mu);
    return p;
}

void pcache_release(pcache *c, pcache_entry *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&c->mu);
    if (--e->refs == 0) {
        if (e->unlinked)
            entry_free(e);
        else
            evict(c);
    }
    pthread_mutex_unlock(&c->mu);
}

int pcache_drop(pcache *c, pcache_entry *e)
{
    if (!e)
        return 0;
    pthread_mutex_lock(&c->mu);
    int dropped = !e->unlinked;
    if (dropped) {
        unlink_entry(c, e);
        c->st.evictions++;
    }
    if (--e->refs == 0)
        entry_free(e);
    pthread_mutex_unlock(&c->mu);
    return dropped;
}

void pcache_set_max_builds(pcache *c, unsigned n)
{
    pthread_mutex_lock(&c->mu);
    c->max_builds = n ? n : 1;
    pthread_mutex_unlock(&c->mu);
}

void pcache_stats_get(pcache *c, struct pcache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->bytes = c->bytes;
    out->entries = c->entries;
    pthread_mutex_unlock(&c->mu);
}
