/* sniff — STOPGAP until lib/perfscript lands on main: a minimal "does this look like
 * perf-script text" check on the first bytes of a body, with the same contract as
 * ps_sniff() in lib/perfscript.h (which replaces this file: delete sniff.{h,c} then).
 * Pure function, thread-safe. */
#ifndef FNTRACE_COLLECTOR_SNIFF_H
#define FNTRACE_COLLECTOR_SNIFF_H

#include <stddef.h>

#define SNIFF_MAX 4096

/* buf[0..len) are the first bytes of the body (all of it when len < SNIFF_MAX). 1 or 0. */
int sniff_perfscript(const void *buf, size_t len);

#endif
