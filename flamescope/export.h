/* export — a profile, or a time range of it, in the formats other tools read:
 *   folded      stackcollapse-perf.pl's output ("comm;outer;…;leaf WEIGHT", sorted,
 *               weighted by period, first event type only);
 *   svg         a standalone interactive flame graph (click to zoom, search, reset),
 *               from the folded stacks;
 *   pprof       gzip'd profile.proto (`go tool pprof` reads it): values samples/count
 *               and the period sum (cpu/nanoseconds for clock events);
 *   speedscope  speedscope's file format, one "sampled" profile in time order.
 * All read the immutable profile index: thread-safe. */
#ifndef FLAMESCOPE_EXPORT_H
#define FLAMESCOPE_EXPORT_H

#include "profile.h"
#include "sbuf.h"

/* The input of a writer: the profile, the range, the aggregated stacks, the title. */
struct export_job;

/* One export format: a row of the table in export.c.  Adding a format is adding a row
 * (and its writer): the server's ?format= check, the download name and type, and the
 * web UI's links (GET /api/v1/exports) all come from the table. */
struct export_format {
    const char *name;          /* ?format= value and the link text */
    const char *ext;           /* download name suffix, after the profile's name and "." */
    const char *content_type;
    const char *description;   /* one line for people: the link's title */
    int (*write)(const struct export_job *job, sbuf *out);   /* 0 or a negative code */
};

/* The formats, in the order the UI shows them; *n set to their count. */
const struct export_format *export_formats(size_t *n);
/* The format named name, NULL if none (or name is NULL). */
const struct export_format *export_find(const char *name);

/* Writes the samples of range r (NULL: all) in format f into out; title names the
 * profile in the svg and speedscope outputs.  0 or a negative code (fterr.h). */
int export_write(const profile *p, const struct profile_range *r,
                 const struct export_format *f, const char *title, sbuf *out);

#endif
