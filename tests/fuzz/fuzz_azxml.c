/* libFuzzer target for lib/azxml, the List Blobs reader of the blob store.
 *
 * For any input: no crash, no leak, no read past the input (ASan); every blob handed to
 * the callback has a NUL-terminated name within AZXML_TEXT_MAX and printable bounded
 * fields; the NextMarker fits its buffer; parsing the same bytes twice gives the same
 * blobs (no hidden state); and a callback that stops at the first blob stops the parse
 * with its value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "azxml.h"

struct acc {
    unsigned n;
    uint64_t hash;
};

static int on_blob(void *ctx, const struct azxml_blob *b)
{
    struct acc *a = ctx;
    size_t n = strnlen(b->name, sizeof b->name);
    if (n >= sizeof b->name || !n) abort();
    if (strnlen(b->etag, sizeof b->etag) >= sizeof b->etag) abort();
    if (strnlen(b->last_modified, sizeof b->last_modified) >= sizeof b->last_modified) abort();
    for (size_t i = 0; i < n; i++) a->hash = a->hash * 131 + (unsigned char)b->name[i];
    a->hash += b->content_length;
    a->n++;
    return 0;
}

static int stop_first(void *ctx, const struct azxml_blob *b)
{
    (void)b;
    ++*(unsigned *)ctx;
    return 7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char marker[1024], marker2[1024], err[256];
    struct acc a = { 0 }, b = { 0 };
    int r1 = azxml_list_parse((const char *)data, size, on_blob, &a, marker, sizeof marker,
                              err, sizeof err);
    if (strnlen(marker, sizeof marker) >= sizeof marker) abort();
    int r2 = azxml_list_parse((const char *)data, size, on_blob, &b, marker2, sizeof marker2,
                              err, sizeof err);
    if (r1 != r2 || a.n != b.n || a.hash != b.hash || strcmp(marker, marker2)) abort();
    unsigned calls = 0;
    int r3 = azxml_list_parse((const char *)data, size, stop_first, &calls, NULL, 0, NULL, 0);
    if (calls > 1 || (calls == 1 && r3 != 7)) abort();
    if (a.n && calls != 1) abort();
    return 0;
}
