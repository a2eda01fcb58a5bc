/* intmap — a map from a 64-bit integer key to a pointer, over lib/oatable.
 *
 * Used by the tracer for pid -> process state and tid -> comm.  The map owns only its
 * slot array; values belong to the caller (intmap_free does not free them, iterate with
 * intmap_next first).  Key 0 is allowed; a NULL value is not stored (putting NULL
 * removes the key).  A zeroed intmap is empty; m.len is the entry count.
 * Not thread-safe: one owner at a time. */
#ifndef FNTRACE_INTMAP_H
#define FNTRACE_INTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "oatable.h"

typedef oatable intmap;

/* Returns the value for key or NULL. */
void *intmap_get(const intmap *m, uint64_t key);
/* Inserts or replaces; returns 0 or -ENOMEM. */
int intmap_put(intmap *m, uint64_t key, void *val);
/* Removes key; returns its value or NULL. */
void *intmap_del(intmap *m, uint64_t key);
/* Iteration: start with *pos = 0; returns 0 at the end. */
int intmap_next(const intmap *m, size_t *pos, uint64_t *key, void **val);
void intmap_free(intmap *m);

#endif
