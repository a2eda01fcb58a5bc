/* Fuzz target: an index file's bytes through flamescope's loader, as they are and
 * "sealed" (size and every hash made to match, so the structural checks are what must
 * refuse a bad image), each opened two ways: with every check at once (pindex_open
 * PINDEX_CHECK), and lazily as the server does (PINDEX_CHECK_LAZY: the heatmap once
 * its part verifies, then the rest).  An accepted image is asked every answer
 * (heatmap, flame graphs, invocations, every export), which must stay inside it.
 * Anyone who can write the index folder reaches this code. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../flamescope/export.h"
#include "../../flamescope/pindex.h"
#include "../../flamescope/profile.h"
#include "../../flamescope/sbuf.h"
#include "../../flamescope/views.h"

/* The flame graph's length is computed before it is streamed (its Content-Length): a
 * walk that disagrees with it is a bug, whatever the image. */
static void flamegraph(const profile *p, const struct profile_range *r, sbuf *b)
{
    if (views_flamegraph(p, r, b) == -EIO)
        abort();
}

static void answer(const profile *p)
{
    sbuf b;
    sbuf_init(&b);
    char err[256];
    views_heatmap(p, 5, &b, err, sizeof err);
    views_invocations(p, 0, 0, &b);
    struct profile_range r;
    profile_range_all(p, &r);
    flamegraph(p, &r, &b);
    size_t nf;
    const struct export_format *fmts = export_formats(&nf);
    for (size_t f = 0; f < nf; f++)
        export_write(p, NULL, &fmts[f], "fuzz", &b);
    for (size_t i = 0; i < profile_ninvocations(p) && i < 4; i++) {
        profile_invocation_range(p, profile_invocation(p, i), &r);
        flamegraph(p, &r, &b);
    }
    free(sbuf_take(&b, NULL));
}

static void try_open(const uint8_t *data, size_t size, int seal, int check)
{
    void *img = malloc(size ? size : 1);
    if (!img)
        return;
    memcpy(img, data, size);
    if (seal)
        pindex_seal(img, size);
    profile *p = NULL;
    char err[256];
    if (pindex_open(img, size, 0, check, NULL, &p, err, sizeof err) == 0) {
        /* a part's check does not change its bytes: the heatmap of an image whose
         * heat part alone verified is asked here, every answer of one wholly verified
         * in answer() */
        int heat = profile_verify(p, PROFILE_PART_HEAT, err, sizeof err);
        if (profile_verify(p, PROFILE_PART_ALL, err, sizeof err) == 0) {
            answer(p);
        } else if (check == PINDEX_CHECK) {
            abort();       /* checked whole when opened: nothing left to refuse */
        } else if (heat == 0) {
            sbuf b;
            sbuf_init(&b);
            views_heatmap(p, 5, &b, err, sizeof err);
            free(sbuf_take(&b, NULL));
        }
        profile_free(p);   /* frees img */
    } else {
        free(img);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int seal = 0; seal < 2; seal++) {
        try_open(data, size, seal, PINDEX_CHECK);
        try_open(data, size, seal, PINDEX_CHECK_LAZY);
    }
    return 0;
}
