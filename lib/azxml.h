/* azxml — a small strict reader for the one XML document the blob store reads: the
 * answer of Azure Blob Storage's List Blobs (EnumerationResults).  It is not a general
 * XML parser: no DTD (a <!DOCTYPE is an error, so no entity can expand), no CDATA, only
 * the five predefined entities and numeric character references; every element name,
 * text and nesting depth is bounded, and anything malformed is an error, never a guess.
 *
 * For every EnumerationResults/Blobs/Blob it calls fn with the blob's Name and the
 * Properties it knows (Content-Length, Last-Modified, Etag); blobs whose Name is marked
 * Encoded="true" (Azure percent-encodes names with characters XML cannot carry) are
 * skipped, as no valid store id holds such characters.  NextMarker is copied out.
 *
 * Pure and reentrant: all state lives on the caller's stack. */
#ifndef FNTRACE_AZXML_H
#define FNTRACE_AZXML_H

#include <stddef.h>
#include <stdint.h>

#define AZXML_TEXT_MAX 2048

struct azxml_blob {
    char name[AZXML_TEXT_MAX + 1];
    char etag[128];
    char last_modified[64];        /* RFC 1123, as Azure sends it */
    uint64_t content_length;
    int have_length;
};

/* fn returns 0 to go on, non-zero to stop (that value is returned). */
typedef int (*azxml_blob_fn)(void *ctx, const struct azxml_blob *b);

/* Returns 0, fn's non-zero value, or -FT_ERR_BAD_INPUT with a message in err. */
int azxml_list_parse(const char *xml, size_t len, azxml_blob_fn fn, void *ctx,
                     char *next_marker, size_t nmlen, char *err, size_t errlen);

#endif
