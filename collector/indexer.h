/* indexer — writes flamescope's index file (flamescope/idxfile.h) of each trace the
 * collector commits, off the request path, so the viewer's first open maps an index
 * instead of parsing the text.
 *
 * One worker thread builds one index at a time (memory: one profile build, bounded by
 * the upload size limit); a bounded queue of committed ids feeds it, and an id that
 * finds the queue full is dropped (counted): flamescope then indexes that trace on its
 * first open, as it does for every trace without an index.  A trace that does not parse
 * gets no index.  indexer_push() never blocks on a build.
 *
 * Ownership: indexer_new() borrows the store and the folder name (both outlive it).
 * Thread-safety: indexer_push() and indexer_stats() from any thread; indexer_free()
 * once, after the last push (it finishes the build in progress, drops the queue). */
#ifndef COLLECTOR_INDEXER_H
#define COLLECTOR_INDEXER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define INDEXER_QUEUE 256

typedef struct indexer indexer;

indexer *indexer_new(store *st, const char *index_dir, uint64_t max_text);
void indexer_free(indexer *ix);
/* Queues id (copied) for indexing; 0, or -EAGAIN when the queue is full. */
int indexer_push(indexer *ix, const char *id);

struct indexer_stats {
    uint64_t written, failed, dropped;
};
void indexer_stats(indexer *ix, struct indexer_stats *out);

#endif
