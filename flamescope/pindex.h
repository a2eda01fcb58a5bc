/* pindex — the profile index as one flat image: the bytes of an index file and of an
 * index built in memory alike (profile_index.h's arrays point into it).
 *
 * Layout (native byte order, every section 8-byte aligned):
 *   header   magic "FNTRIDX\0", a hash of the header, format version, header and file
 *            size, a hash of the body, the trace key (size, mtime, a hash of the
 *            trace's first and last 64 KiB, the store's change token), the profile's
 *            scalars and counts, and a table of sections (offset, length);
 *   sections samples (times, FlameScope stack, folded stack, period, tid), the
 *            per-second table, the two tries (parent, label, idle state), frames (name,
 *            type), the two string tables (offsets, bytes), the event name,
 *            invocations (fixed records and their strings), each folded name's
 *            module id and address, the module string table.
 * The tries' child lists (first child, next sibling) are not stored: the first query
 * that walks the FlameScope tree derives its depth-first order from the checked parents
 * (profile_fs_order: two passes, 16 bytes a node of heap), which keeps the file at about
 * half the size and a load from paying for what a heatmap never reads.
 *
 * An image from a file is hostile until checked: the magic, version, sizes and the
 * header's hash, every count and offset against the file size (a count claiming 2^40
 * entries is refused before any multiplication) when it is opened; then each part's
 * section hashes and every value it holds that a query uses as an index (stack ids,
 * parents, labels, string offsets and terminators, the per-second table), so a query
 * on a verified part never reads outside the image.  Two parts: the heat part (sample
 * times, FlameScope stacks, the per-second table: all a heatmap reads, a tenth of a
 * typical index) and the rest; pindex_open(PINDEX_CHECK) verifies both at once,
 * PINDEX_CHECK_LAZY each on its first profile_verify().  A pass over a part at memory
 * speed.
 *
 * Ownership: pindex_open() takes the image on success (profile_free() releases it).
 * Thread-safety: pure functions. */
#ifndef FLAMESCOPE_PINDEX_H
#define FLAMESCOPE_PINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

#define PINDEX_VERSION 5     /* 3: XXH3 checksums; 4: folded names' modules, addresses;
                              * 5: one hash per section (lazy verification) */
#define PINDEX_KEY_VERSION_MAX 71
#define PINDEX_HEADER_MAX 1024    /* pindex_header_size() is at most this */

/* What ties an index to its trace: any difference makes the index stale. */
struct pindex_key {
    uint64_t size;
    int64_t mtime_ns;
    uint64_t content_hash;     /* of the trace's first and last 64 KiB */
    char version[PINDEX_KEY_VERSION_MAX + 1];   /* the store's change token */
};

/* A malloc'd image of p's arrays (p's own image is left alone), key zeroed; NULL when
 * out of memory.  Used by profile.c on a draft whose arrays live elsewhere. */
void *pindex_image(const struct profile *p, size_t *len);

/* An index over image[0, len).  check: PINDEX_TRUSTED (an image this process just
 * built), PINDEX_CHECK (the whole image is verified first) or PINDEX_CHECK_LAZY (the
 * header, its sizes and the section table now; each part's hashes and values on its
 * first profile_verify(), which every reader of that part must call first).  When want
 * is not NULL the key must equal *want (-ESTALE otherwise).  -FT_ERR_CORRUPT with a
 * message for an image that fails a check, -ENOMEM.  On success the profile owns the
 * image (munmap'd when mapped, else freed); on failure the caller keeps it. */
#define PINDEX_TRUSTED 0
#define PINDEX_CHECK 1
#define PINDEX_CHECK_LAZY 2
int pindex_open(void *image, size_t len, int mapped, int check, const struct pindex_key *want,
                profile **out, char *err, size_t errlen);

/* What a listing shows of a trace, from its index's header alone. */
struct pindex_summary {
    struct pindex_key key;     /* the trace the index was built from */
    uint64_t samples, invocations;
    uint64_t first_ns, last_ns;   /* first and last sample time (0 without samples) */
};
/* The summary in the first hlen bytes of an index file of file_size bytes (or of an
 * image): the magic, version, header hash, the header's sizes against file_size and
 * its values are checked, the body is not (an open checks it, and rebuilds a damaged
 * index).  0, or -FT_ERR_CORRUPT with the reason in err. */
int pindex_summary(const void *header, size_t hlen, uint64_t file_size,
                   struct pindex_summary *out, char *err, size_t errlen);

/* The image of an index and the size of its header. */
const void *pindex_of(const profile *p, size_t *len);
size_t pindex_header_size(void);
/* Sets the key in a copy of an image's header (pindex_header_size() bytes) and
 * updates the header's hash. */
void pindex_header_set_key(void *header, const struct pindex_key *key);

/* For tests and the fuzzer: sets an image's file size and both hashes to match its
 * bytes, so that what refuses a damaged image is the structural checks. */
void pindex_seal(void *image, size_t len);

#endif
