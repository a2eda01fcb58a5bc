/* sbuf — a growable byte buffer with the few formatters flamescope's replies need:
 * JSON strings, Python-style float repr (FlameScope's JSON comes from Python, so its
 * numbers print like Python's repr), integers.
 *
 * Ownership: the buffer owns its memory; sbuf_take() hands it to the caller.
 * Errors are sticky: after an allocation failure every call is a no-op and sbuf_failed()
 * says so, so writers can format a whole reply and check once.
 * Thread-safety: one buffer per thread. */
#ifndef FLAMESCOPE_SBUF_H
#define FLAMESCOPE_SBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

void sbuf_init(sbuf *b);
void sbuf_free(sbuf *b);
int sbuf_failed(const sbuf *b);
/* Makes room for n more bytes; returns a pointer to them or NULL. */
char *sbuf_reserve(sbuf *b, size_t n);
void sbuf_add(sbuf *b, const void *data, size_t len);
void sbuf_adds(sbuf *b, const char *s);
void sbuf_addc(sbuf *b, char c);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_u64(sbuf *b, uint64_t v);
void sbuf_i64(sbuf *b, int64_t v);
/* A JSON string literal (with quotes). Control characters and invalid UTF-8 are escaped
 * (invalid bytes become U+FFFD), valid UTF-8 passes through. */
void sbuf_json_str(sbuf *b, const char *s, size_t len);
/* Length of the valid UTF-8 sequence at s[0..n) (1..4), 0 if invalid (n >= 1). */
size_t sbuf_utf8_len(const unsigned char *s, size_t n);
/* s[0..len) with each byte that is not part of valid UTF-8 written as U+FFFD. */
void sbuf_add_utf8(sbuf *b, const char *s, size_t len);
/* The shortest text that reads back as v, as Python's repr(float) prints it ("980.0"). */
void sbuf_pyfloat(sbuf *b, double v);
/* NUL-terminates and returns the buffer (the caller frees it); *len excludes the NUL.
 * NULL if an allocation failed. The sbuf is left empty. */
char *sbuf_take(sbuf *b, size_t *len);

#endif
