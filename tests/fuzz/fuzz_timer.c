/* libFuzzer target over the timer sampler's two readers of untrusted shapes: the
 * /proc/PID/maps parser (timer_parse_maps) and the frame-pointer walk (timer_walk) over a
 * stack whose every word comes from the input.  Besides "no crash, no UB", it asserts
 * what the walk promises: at most max frames, every return address inside an executable
 * range, and no read outside the stack range (the fake stack is the only STACK range, so
 * a read elsewhere would be a wild pointer that ASan reports). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tracer/timer_sampler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ts_map maps[64];
    int trunc;
    size_t n = timer_parse_maps((const char *)data, size, maps, 64, &trunc);
    assert(n <= 64);
    for (size_t i = 0; i < n; i++) {
        assert(maps[i].start < maps[i].end && maps[i].flags);
        if (i) assert(maps[i - 1].end <= maps[i].start);
    }

    /* the walk: a stack of 64 words from the input, code at [0x1000, 0x2000) */
    uintptr_t stk[64];
    memset(stk, 0, sizeof stk);
    memcpy(stk, data, size < sizeof stk ? size : sizeof stk);
    uintptr_t lo = (uintptr_t)stk, hi = (uintptr_t)(stk + 64);
    /* frame pointers that land in the stack: words are offsets into it when small */
    for (int i = 0; i < 64; i += 2)
        if (stk[i] < 64 * sizeof(uintptr_t)) stk[i] += lo;
    ts_map m[2] = { { 0x1000, 0x2000, TS_MAP_EXEC }, { lo, hi, TS_MAP_STACK } };
    if (lo < 0x2000) return 0;
    uint64_t out[32];
    uintptr_t fp = size > 0 ? lo + (data[0] % 64) * sizeof(uintptr_t) : lo;
    size_t k = timer_walk(m, 2, 0x1234, lo, fp, out, 32);
    assert(k >= 1 && k <= 32);
    for (size_t i = 1; i < k; i++) assert(out[i] >= 0x1000 && out[i] < 0x2000);
    return 0;
}
