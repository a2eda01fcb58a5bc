/* libFuzzer target over the collector's request path: the trace-name check, the id check
 * (with the /api/v1/traces/ID path split), and the streamed body check (gzip detection,
 * inflate, perf-script sniffing) fed in pieces whose sizes come from the input.
 * Besides "no crash, no leak, no UB", it asserts the promises the checks make: a valid
 * name or id can never name a path outside the store. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/query.h"
#include "../../collector/bodycheck.h"
#include "../../collector/ingest.h"
#include "store.h"

static void check_name(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    if (trace_name_valid_n(s, size)) {
        assert(size >= 1 && size <= TRACE_NAME_MAX);
        assert(s[0] != '.' && !strchr(s, '/') && !memchr(s, 0, size));
        assert(store_id_valid(s));
    }
    free(s);
}

static void check_id(const uint8_t *data, size_t size)
{
    char *s = malloc(size + sizeof "/api/v1/traces/");
    memcpy(s, "/api/v1/traces/", 15);
    memcpy(s + 15, data, size);
    s[15 + size] = 0;
    const char *id = query_id_of_path(s);
    assert(id == s + 15);
    if (store_id_valid(id)) {
        assert(id[0] != '/' && strlen(id) <= STORE_ID_MAX);
        for (const char *p = id; p; p = strchr(p, '/')) {
            if (*p == '/') p++;
            assert(*p != '.' && *p != '/' && *p);          /* no "", ".", "..", dotfiles */
        }
    }
    free(s);
}

static void check_body(const uint8_t *data, size_t size, int declared_gzip)
{
    if (!size) return;
    size_t step = (size_t)data[0] % 97 + 1;               /* chunking from the input */
    struct bodycheck *bc = bodycheck_new(declared_gzip);
    if (!bc) return;
    char err[256];
    int v = 0;
    for (size_t off = 1; off < size && !v; off += step)
        v = bodycheck_feed(bc, data + off, size - off < step ? size - off : step, err, sizeof err);
    if (!v) v = bodycheck_finish(bc, err, sizeof err);
    if (v) assert(err[0]);                                 /* every refusal says why */
    bodycheck_free(bc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_name(data, size);
    check_id(data, size);
    check_body(data, size, 0);
    check_body(data, size, 1);
    return 0;
}
