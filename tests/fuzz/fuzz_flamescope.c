/* Fuzz target: a profile file's bytes (plain or gzip) through flamescope's index and
 * every answer computed from it (heatmap, flame graphs of the whole and of a range,
 * differential against itself, invocations, all four exports).  Anything a client can
 * put in the profile directory reaches this code. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../flamescope/export.h"
#include "../../flamescope/ftree.h"
#include "../../flamescope/profile.h"
#include "../../flamescope/sbuf.h"
#include "../../flamescope/views.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return 0;
    }
    char err[256];
    int e;
    profile *p = profile_build(fd, 1 << 24, &e, err, sizeof err);
    close(fd);
    if (!p)
        return 0;
    sbuf b;
    sbuf_init(&b);
    views_heatmap(p, 7, &b, err, sizeof err);
    views_invocations(p, 0, 0, &b);
    struct profile_range r;
    profile_range_all(p, &r);
    ftree *t = ftree_build(p, &r);
    if (profile_range_parse(p, "0.5", "1", &r, err, sizeof err) == 0) {
        ftree *t2 = ftree_build(p, &r);
        if (t && t2) {
            ftree_differential(t, t2);
            ftree_json(t, &b);
            ftree_elided(t, t2);
            ftree_json(t2, &b);
        }
        ftree_free(t2);
    }
    ftree_free(t);
    size_t nf;
    const struct export_format *fmts = export_formats(&nf);
    for (size_t f = 0; f < nf; f++)
        export_write(p, f % 2 ? &r : NULL, &fmts[f], "fuzz", &b);
    /* invocations: their window, and their thread when the line names one */
    for (size_t i = 0; i < profile_ninvocations(p) && i < 4; i++) {
        struct profile_range ir;
        profile_invocation_range(p, profile_invocation(p, i), &ir);
        views_flamegraph(p, &ir, &b);
        export_write(p, &ir, export_find("speedscope"), "fuzz", &b);
    }
    sbuf_free(&b);
    profile_free(p);
    return 0;
}
