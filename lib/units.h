/* units — the one grammar for numbers, sizes and durations given on command lines, in
 * the environment and in config, for every component:
 * sizes "1048576", "512K", "10M", "1G", "2T" (powers of 1024, optional trailing "B"/"iB",
 * case-insensitive) and durations "250us", "500ms", "90s", "30m", "12h", "7d", "2w"
 * (plain numbers are seconds).  Sizes and the integer durations take whole numbers;
 * units_seconds() also takes a decimal fraction ("1.5s", "0.5") for the options and
 * variables that are fractional seconds (OpenFaaS timeouts, `fntrace record -d`).
 * Overflow, empty strings, junk, spaces and negative numbers are errors.
 * units_format_ns() writes a duration back for people to read.
 * Pure functions, thread-safe.  Errors: -EINVAL (not a size/duration), -ERANGE (overflow
 * or over max). */
#ifndef FNTRACE_UNITS_H
#define FNTRACE_UNITS_H

#include <stddef.h>
#include <stdint.h>

int units_size(const char *s, uint64_t *out);
int units_duration_s(const char *s, int64_t *out);
int units_duration_ms(const char *s, int64_t *out);
/* A duration in seconds, fractions allowed: "1.5s", "500ms", "2m", "7". */
int units_seconds(const char *s, double *out);
/* A plain decimal number 0..max (counts, ports, frequencies: no suffix). */
int units_uint(const char *s, uint64_t max, uint64_t *out);

/* The other way round: a duration in nanoseconds as people read it, in the unit that
 * keeps it short: "850 ns", "12.3 µs", "12.3 ms", "1.204 s".  Writes at most len bytes
 * (NUL included) into buf and returns buf. */
char *units_format_ns(uint64_t ns, char *buf, size_t len);
/* v in decimal, zero-padded to at least width digits (printf's "%0*llu" without
 * printf: for the numbers written on every request).  buf holds at least
 * UNITS_U64_MAX bytes; the digits are NUL-terminated and their count returned. */
#define UNITS_U64_MAX 21
size_t units_u64(uint64_t v, int width, char *buf);

#endif
