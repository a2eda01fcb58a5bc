/* ps_header — header lines of perf-script text (see perfscript.h "header lines"): `# key : value`
 * and fntrace's invocation lines.  Pure functions over views; thread-safe. */
#include "perfscript.h"
#include "ps_internal.h"

#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ header lines */

int ps_header_kv(ps_str line, ps_str *key, ps_str *value)
{
    if (!line.p || line.len < 2 || line.p[0] != '#')
        return 0;
    const char *b = line.p + 1, *e = line.p + line.len;
    while (b < e && is_ws(*b))
        b++;
    const char *colon = memchr(b, ':', (size_t)(e - b));
    if (!colon)
        return 0;
    const char *ke = colon;
    while (ke > b && is_ws(ke[-1]))
        ke--;
    if (ke == b)
        return 0;
    const char *v = colon + 1;
    if (v < e && *v == ' ')
        v++;
    *key = (ps_str){ b, (size_t)(ke - b) };
    *value = (ps_str){ v, (size_t)(e - v) };
    return 1;
}

int ps_header_invocation(ps_str line, ps_invocation *out)
{
    ps_str key, val;
    if (!ps_header_kv(line, &key, &val) || !ps_str_eqc(key, "fntrace invocation"))
        return 0;
    ps_invocation inv = { .status = 0 };
    int have = 0;
    const char *b = val.p, *e = val.p + val.len;
    while (b < e) {
        while (b < e && is_ws(*b))
            b++;
        const char *te = b;
        while (te < e && !is_ws(*te))
            te++;
        if (te == b)
            break;
        const char *eq = memchr(b, '=', (size_t)(te - b));
        if (eq) {
            ps_str k = { b, (size_t)(eq - b) }, v = { eq + 1, (size_t)(te - eq - 1) };
            if (ps_str_eqc(k, "id") && v.len) {
                inv.id = v;
                have |= 1;
            } else if (ps_str_eqc(k, "fn") && v.len) {
                inv.fn = v;
                have |= 2;
            } else if (ps_str_eqc(k, "start")) {
                if (!parse_secs(v.p, v.p + v.len, &inv.start_ns))
                    return 0;
                have |= 4;
            } else if (ps_str_eqc(k, "end")) {
                if (!parse_secs(v.p, v.p + v.len, &inv.end_ns))
                    return 0;
                inv.flags |= PS_INV_END;
            } else if (ps_str_eqc(k, "status")) {
                if (!parse_i32(v.p, v.p + v.len, &inv.status))
                    return 0;
                inv.flags |= PS_INV_STATUS;
            } else if (ps_str_eqc(k, "tid")) {
                int32_t tid;   /* a bad tid only loses the thread, not the invocation */
                if (parse_i32(v.p, v.p + v.len, &tid) && tid > 0) {
                    inv.tid = tid;
                    inv.flags |= PS_INV_TID;
                } else {
                    inv.tid = 0;
                    inv.flags &= ~(uint32_t)PS_INV_TID;
                }
            } else if (ps_str_eqc(k, "trace_id")) {
                inv.trace_id = ps_is_trace_id(v) ? v : (ps_str){ NULL, 0 };
            }
        }
        b = te;
    }
    if (have != 7)
        return 0;
    *out = inv;
    return 1;
}
