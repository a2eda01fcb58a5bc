/* units — parsing of sizes and durations given on command lines and in config:
 * sizes "1048576", "512K", "10M", "1G", "2T" (powers of 1024, optional trailing "B"/"iB",
 * case-insensitive) and durations "90s", "30m", "12h", "7d", "2w" (plain numbers are
 * seconds; "ms" for milliseconds in units_duration_ms()).
 * Whole numbers only; overflow, empty strings, junk and negative numbers are errors.
 * Pure functions, thread-safe.  Errors: -EINVAL (not a size/duration), -ERANGE (overflow). */
#ifndef FNTRACE_UNITS_H
#define FNTRACE_UNITS_H

#include <stdint.h>

int units_size(const char *s, uint64_t *out);
int units_duration_s(const char *s, int64_t *out);
int units_duration_ms(const char *s, int64_t *out);

#endif
