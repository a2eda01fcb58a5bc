/* plthook — point one loaded shared library's calls of one function that it imports
 * (its GOT slots for that symbol) at a replacement, leaving every other caller of the
 * function alone.  lib/httpd uses it to take libmicrohttpd's needless per-request pool
 * zeroing out of the hot path (see httpd.c, "Pool zeroing").
 *
 * Only the slots the dynamic loader has already filled are changed, each with one atomic
 * store, so the library's threads may run meanwhile; a replacement they reach before
 * plthook_replace returns must not need *original yet.  Full RELRO (read-only GOT) is
 * handled: the page is made writable for the store and read-only again.  ELF RELA
 * platforms (x86-64, arm64). */
#ifndef FNTRACE_PLTHOOK_H
#define FNTRACE_PLTHOOK_H

#include <stddef.h>

/* In the first loaded object whose file name (its last path component) starts with
 * lib_prefix (e.g. "libmicrohttpd.so"), replaces every GOT slot that relocates against
 * symbol with replacement; *original gets what the slots held (the function the library
 * called until now, which the replacement may call on).  Returns the slots replaced
 * (> 0), -ENOENT (no such library loaded, or it does not import symbol),
 * -FT_ERR_UNSUPPORTED (a relocation format this code does not read, or slots that
 * disagree), or -errno of mprotect; the message goes into err. */
int plthook_replace(const char *lib_prefix, const char *symbol, void *replacement,
                    void **original, char *err, size_t errlen);

#endif
