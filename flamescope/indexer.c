/* indexer — see indexer.h.  The queue is a ring of fixed-size id slots under one mutex;
 * the worker sleeps on a condition variable.  The duplicate check scans the ring (256
 * slots at most). */
#include "indexer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idxfile.h"
#include "log.h"
#include "profile.h"

struct indexer {
    store *st;
    const char *dir;
    uint64_t max_text;
    size_t max_mem;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int stopping;
    size_t head, count;
    char (*ids)[STORE_ID_MAX + 1];
    char busy[STORE_ID_MAX + 1];   /* the id being built, "" when none */
    struct indexer_stats st_;
};

static void index_one(indexer *ix, const char *id)
{
    int fd = -1, ok = 0;
    struct store_entry ent;
    char err[256] = "";
    if (store_open(ix->st, id, &fd, &ent) == 0) {
        struct pindex_key key;
        int e = 0;
        profile *p = NULL;
        if (idxfile_key(fd, ent.bytes, ent.mtime_ns, ent.version, &key) == 0 &&
            (p = profile_build_budget(fd, ix->max_text, ix->max_mem, &e, err, sizeof err)) != NULL)
            ok = idxfile_save(ix->dir, id, &key, p, err, sizeof err) == 0;
        profile_free(p);
        close(fd);
    }
    pthread_mutex_lock(&ix->mu);
    ix->busy[0] = 0;
    if (ok)
        ix->st_.written++;
    else
        ix->st_.failed++;
    pthread_mutex_unlock(&ix->mu);
    if (!ok)
        log_warn("no index file for the trace", "id=%s error=\"%s\"", id, err);
}

static void *worker(void *arg)
{
    indexer *ix = arg;
    char id[STORE_ID_MAX + 1];
    pthread_mutex_lock(&ix->mu);
    for (;;) {
        while (!ix->stopping && ix->count == 0)
            pthread_cond_wait(&ix->cv, &ix->mu);
        if (ix->stopping)
            break;
        memcpy(id, ix->ids[ix->head], sizeof id);
        memcpy(ix->busy, id, sizeof id);
        ix->head = (ix->head + 1) % INDEXER_QUEUE;
        ix->count--;
        pthread_mutex_unlock(&ix->mu);
        index_one(ix, id);
        pthread_mutex_lock(&ix->mu);
    }
    pthread_mutex_unlock(&ix->mu);
    return NULL;
}

indexer *indexer_new(store *st, const char *index_dir, uint64_t max_text, size_t max_mem)
{
    indexer *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->ids = calloc(INDEXER_QUEUE, sizeof *ix->ids))) {
        free(ix);
        return NULL;
    }
    ix->st = st;
    ix->dir = index_dir;
    ix->max_text = max_text;
    ix->max_mem = max_mem;
    pthread_mutex_init(&ix->mu, NULL);
    pthread_cond_init(&ix->cv, NULL);
    if (pthread_create(&ix->th, NULL, worker, ix)) {
        pthread_cond_destroy(&ix->cv);
        pthread_mutex_destroy(&ix->mu);
        free(ix->ids);
        free(ix);
        return NULL;
    }
    return ix;
}

void indexer_free(indexer *ix)
{
    if (!ix)
        return;
    pthread_mutex_lock(&ix->mu);
    ix->stopping = 1;
    pthread_cond_signal(&ix->cv);
    pthread_mutex_unlock(&ix->mu);
    pthread_join(ix->th, NULL);
    pthread_cond_destroy(&ix->cv);
    pthread_mutex_destroy(&ix->mu);
    free(ix->ids);
    free(ix);
}

/* id queued or being built (the lock held). */
static int pending_locked(const indexer *ix, const char *id)
{
    if (strcmp(ix->busy, id) == 0)
        return 1;
    for (size_t i = 0; i < ix->count; i++)
        if (strcmp(ix->ids[(ix->head + i) % INDEXER_QUEUE], id) == 0)
            return 1;
    return 0;
}

int indexer_pending(indexer *ix, const char *id)
{
    pthread_mutex_lock(&ix->mu);
    int r = pending_locked(ix, id);
    pthread_mutex_unlock(&ix->mu);
    return r;
}

int indexer_push(indexer *ix, const char *id)
{
    int rc = 0;
    pthread_mutex_lock(&ix->mu);
    if (pending_locked(ix, id)) {
        rc = 0;
    } else if (ix->count == INDEXER_QUEUE || strlen(id) > STORE_ID_MAX) {
        ix->st_.dropped++;
        rc = -EAGAIN;
    } else {
        snprintf(ix->ids[(ix->head + ix->count) % INDEXER_QUEUE], STORE_ID_MAX + 1, "%s", id);
        ix->count++;
        pthread_cond_signal(&ix->cv);
    }
    pthread_mutex_unlock(&ix->mu);
    return rc;
}

void indexer_stats(indexer *ix, struct indexer_stats *out)
{
    pthread_mutex_lock(&ix->mu);
    *out = ix->st_;
    pthread_mutex_unlock(&ix->mu);
}
