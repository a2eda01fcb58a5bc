/* fuzz_units: bytes as a size, a duration and a count in the lib/units grammar (the one
 * every CLI option and environment variable goes through).  A value that parses must be
 * in range: whole durations agree with the fractional one, counts stay under their max. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64) return 0;
    char s[65];
    memcpy(s, data, size);
    s[size] = 0;
    uint64_t v;
    int64_t d;
    double sec;
    (void)units_size(s, &v);
    if (units_uint(s, 1000, &v) == 0 && v > 1000) abort();
    int whole = units_duration_s(s, &d);
    int frac = units_seconds(s, &sec);
    if (whole == 0 && (frac != 0 || sec < (double)d * 0.999 || sec > (double)d * 1.001 + 1e-9))
        abort();
    if (units_duration_ms(s, &d) == 0 && d < 0) abort();
    return 0;
}
