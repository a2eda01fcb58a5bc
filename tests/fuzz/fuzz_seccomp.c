/* fuzz_seccomp: bytes as a Docker-format seccomp profile.
 *
 * For any input: the parser neither crashes nor leaks, and either refuses with a message
 * or yields a model; for a model, the policy evaluation of every name it lists, a diff
 * against itself (which must be empty), building the libseccomp filter (never loaded)
 * and derive + print do not crash; and what derive prints parses again and prints to the
 * same bytes (the printer's output is a fixed point). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../seccomp/derive.h"
#include "../../seccomp/diff.h"
#include "../../seccomp/filter.h"
#include "../../seccomp/jsonfmt.h"
#include "../../seccomp/policy.h"
#include "../../seccomp/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct sc_profile *p = sc_profile_parse((const char *)data, size, err, sizeof err, NULL);
    if (!p) {
        if (!err[0]) abort();   /* a refusal always says why */
        return 0;
    }
    struct sc_env env = { (uint64_t)size * 0x9e3779b97f4a7c15ULL, "amd64", 5, (int)(size % 20) };
    for (size_t i = 0; i < p->nrules; i++)
        for (size_t j = 0; j < p->rules[i].nnames; j++)
            (void)sc_verdict(p, &env, p->rules[i].names[j]);

    struct sc_diff d;
    if (sc_diff_compute(p, p, &env, &d, err, sizeof err) == 0) {
        if (d.n) abort();
        sc_diff_free(&d);
    }

    scmp_filter_ctx ctx;
    if (sc_filter_build(p, &env, &ctx, NULL, err, sizeof err) == 0) seccomp_release(ctx);

    static const char *const allow[] = { "perf_event_open", "bpf" };
    char *out = sc_derive_text(p, allow, 2, err, sizeof err);
    sc_profile_free(p);
    if (!out) return 0;
    struct sc_profile *q = sc_profile_parse(out, strlen(out), err, sizeof err, NULL);
    if (!q) abort();            /* derive printed something its own parser refuses */
    char *again = sc_json_print(q->root);
    if (!again || strcmp(again, out)) abort();
    free(again);
    sc_profile_free(q);
    free(out);
    return 0;
}
