/* views — the JSON answers computed from a profile index: FlameScope's heatmap and
 * flame graph, and fntrace's invocation list.  (Differential and elided graphs, which
 * combine two profiles, are in ftree.)
 * Pure functions of an immutable profile: thread-safe. */
#ifndef FLAMESCOPE_VIEWS_H
#define FLAMESCOPE_VIEWS_H

#include "profile.h"
#include "sbuf.h"

#define HEATMAP_DEFAULT_ROWS 50
#define HEATMAP_MAX_ROWS 1000
#define HEATMAP_MAX_CELLS (20u * 1000u * 1000u)

/* {"columns":[0..N-1],"rows":[…],"values":[[…]…],"maxvalue":M} as FlameScope computes
 * it.  -EINVAL for rows outside 1..HEATMAP_MAX_ROWS.  A grid over HEATMAP_MAX_CELLS
 * (outliers far from the rest: a sample at t = 2^32) shows the densest stretch of
 * seconds that fits: columns then start at its second, and "clipped":K counts the
 * samples left out. */
int views_heatmap(const profile *p, long rows, sbuf *out, char *err, size_t errlen);

/* FlameScope's flame graph of range r as JSON, written straight from the profile's
 * stack tree (no intermediate tree: the whole-profile graph of a large profile is
 * tens of MB of JSON).  -ENOMEM. */
int views_flamegraph(const profile *p, const struct profile_range *r, sbuf *out);
/* The same in pieces, for a streamed reply: views_fg_new() prepares the graph of range r
 * (counts, frame texts) and gives its exact length; each views_fg_read() writes the next
 * bytes into buf[0, cap) and returns how many (0: the end).  The profile must outlive
 * the writer.  -ENOMEM. */
typedef struct views_fg views_fg;
int views_fg_new(const profile *p, const struct profile_range *r, views_fg **out,
                 uint64_t *len);
size_t views_fg_read(views_fg *g, char *buf, size_t cap);
void views_fg_free(views_fg *g);

/* [{"id","fn","start","end","status","tid","rel_start","rel_end"}…]: times in seconds on
 * the samples' clock, rel_* relative to floor(first sample time) like the heatmap's
 * columns; end/status null while unknown, tid null when the line named no thread (the
 * invocation's flame graph then takes every thread's samples in its window). */
/* Invocations [offset, offset + limit) as a JSON array (limit 0: all). */
void views_invocations(const profile *p, size_t offset, size_t limit, sbuf *out);
/* The invocations of p whose trace id is trace_id (NULL: all), as comma-separated objects
 * (a leading comma unless first); filename (NULL: none) adds "filename", "flamegraph" (the
 * API URL of the invocation's flame graph) and "ui" (the viewer's link).  Returns how many. */
size_t views_invocations_matching(const profile *p, const char *trace_id, const char *filename,
                                  int first, sbuf *out);
/* s percent-escaped for a URL query value ('/' kept). */
void views_url_escape(sbuf *out, const char *s);

#endif
