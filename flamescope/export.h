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

enum export_format { EXPORT_FOLDED, EXPORT_SVG, EXPORT_PPROF, EXPORT_SPEEDSCOPE };

/* "folded", "svg", "pprof", "speedscope" -> format; -1 if unknown. */
int export_format_parse(const char *name);
const char *export_content_type(int format);
const char *export_file_ext(int format);

/* Writes the samples of range r (NULL: all) in format into out; title names the
 * profile in the svg and speedscope outputs.  0 or a negative errno. */
int export_write(const profile *p, const struct profile_range *r, int format,
                 const char *title, sbuf *out);

#endif
