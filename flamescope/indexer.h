/* indexer — writes the index file (idxfile.h) of traces off the request path, so the
 * viewer's first open maps an index instead of parsing the text.  Two users: the
 * collector pushes each trace it commits; flamescope's listing (plist.h) pushes the
 * traces it finds without an index, so their sample counts show on a later listing.
 *
 * One worker thread builds one index at a time (memory: one profile build, bounded by
 * max_mem, and the text by max_text); a bounded queue of ids feeds it.  An id already
 * queued or being built is not queued twice; an id that finds the queue full is dropped
 * (counted): a later push, or the viewer's first open, indexes it.  A trace that does
 * not parse gets no index.  indexer_push() never blocks on a build.
 *
 * Ownership: indexer_new() borrows the store and the folder name (both outlive it).
 * Thread-safety: indexer_push() and indexer_stats() from any thread; indexer_free()
 * once, after the last push (it finishes the build in progress, drops the queue). */
#ifndef FLAMESCOPE_INDEXER_H
#define FLAMESCOPE_INDEXER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define INDEXER_QUEUE 256

typedef struct indexer indexer;

/* max_text bounds a trace's (inflated) text, max_mem a build's memory (0: none). */
indexer *indexer_new(store *st, const char *index_dir, uint64_t max_text, size_t max_mem);
void indexer_free(indexer *ix);
/* Queues id (copied) for indexing; 0 (also when it is queued or being built already),
 * or -EAGAIN when the queue is full. */
int indexer_push(indexer *ix, const char *id);
/* 1 while id is queued or being built, else 0. */
int indexer_pending(indexer *ix, const char *id);

struct indexer_stats {
    uint64_t written, failed, dropped;
};
void indexer_stats(indexer *ix, struct indexer_stats *out);

#endif
