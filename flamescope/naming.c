/* naming — see naming.h. */
#define _GNU_SOURCE
#include "naming.h"
#include "profile.h"

#include <string.h>

/* ------------------------------------------------------------------ idle matching */

static const char *const idle_words[] = {
    "cpuidle", "cpu_idle", "cpu_bringup_and_idle", "native_safe_halt",
    "xen_hypercall_sched_op", "xen_hypercall_vcpu_op",
};

/* IP_* bits of s[0..len): FlameScope's idle regex is "swapper.*(word|…)". */
unsigned idle_bits(const char *s, size_t len)
{
    if (!s || len == 0)
        return 0;
    unsigned bits = 0;
    const char *sw = memmem(s, len, "swapper", 7);
    size_t sw_end = 0;
    if (sw) {
        bits |= IP_SW;
        sw_end = (size_t)(sw - s) + 7;
    }
    /* the last idle word start decides "swapper before idle" */
    for (size_t w = 0; w < sizeof idle_words / sizeof idle_words[0]; w++) {
        size_t wl = strlen(idle_words[w]);
        const char *from = s;
        size_t left = len;
        const char *hit;
        while ((hit = memmem(from, left, idle_words[w], wl))) {
            bits |= IP_IDLE;
            if (sw && (size_t)(hit - s) >= sw_end)
                bits |= IP_SELF;
            from = hit + 1;
            left = len - (size_t)(from - s);
        }
    }
    return bits;
}

/* Folds piece bits in text order; returns 1 once the regex matched. */
int idle_step(int *seen_sw, unsigned bits)
{
    if ((bits & IP_SELF) || (*seen_sw && (bits & IP_IDLE)))
        return 1;
    if (bits & IP_SW)
        *seen_sw = 1;
    return 0;
}

/* The regex state along a path: bit 0 "swapper" seen, bit 1 matched. */
unsigned idle_state(unsigned st, unsigned bits)
{
    int seen = st & 1;
    if ((st & 2) || idle_step(&seen, bits))
        return 3;
    return (unsigned)seen;
}

int library_type(const char *m, size_t len, int has_module)
{
    if (!has_module || len == 0)
        return FT_NONE;
    if (len >= 10 && memcmp(m, "/tmp/perf-", 10) == 0)
        return FT_JIT;
    if (m[0] == '[')
        return FT_KERNEL;
    const char *v = memmem(m, len, "vmlinux", 7);
    if (v && v > m)
        return FT_KERNEL;
    return FT_USER;
}

/* Where the next "->" (perf's inline-chain separator) starts in s[pos, end), or end. */
size_t arrow_at(const char *s, size_t pos, size_t end)
{
    for (size_t i = pos; i + 1 < end; i++)
        if (s[i] == '-' && s[i + 1] == '>')
            return i;
    return end;
}

/* stackcollapse-perf.pl's tidying of one function name (one "->" part) into out. */
size_t folded_tidy(const char *f, size_t len, const char *mod, size_t mlen, int java,
                          int inlined, char *out, size_t cap)
{
    char tmp[4096];
    size_t n = 0;
    if (len == 9 && memcmp(f, "[unknown]", 9) == 0) {
        const char *base = "unknown";
        size_t bl = 7;
        if (!(mlen == 9 && memcmp(mod, "[unknown]", 9) == 0)) {
            const char *slash = mod ? memrchr(mod, '/', mlen) : NULL;
            base = slash ? slash + 1 : (mod ? mod : "");
            bl = mlen - (size_t)(base - (mod ? mod : base));
        }
        if (bl > sizeof tmp - 3)
            bl = sizeof tmp - 3;
        tmp[n++] = '[';
        memcpy(tmp + n, base, bl);
        n += bl;
        tmp[n++] = ']';
    } else {
        n = len < sizeof tmp ? len : sizeof tmp;
        memcpy(tmp, f, n);
    }
    for (size_t i = 0; i < n; i++)
        if (tmp[i] == ';')
            tmp[i] = ':';
    /* a Go method name like "net/http.(*Client).Do" keeps its parentheses */
    const char *open = memmem(tmp, n, ".(", 2);
    int go = 0;
    if (open) {
        for (size_t i = n; i >= 2 && !go; i--)
            if (tmp[i - 2] == ')' && tmp[i - 1] == '.' && &tmp[i - 2] >= open + 2)
                go = 1;
    }
    if (!go) {
        static const char anon[] = "anonymous namespace)";
        for (size_t i = 0; i < n; i++) {
            if (tmp[i] != '(')
                continue;
            if (n - i - 1 >= sizeof anon - 1 && memcmp(tmp + i + 1, anon, sizeof anon - 1) == 0)
                continue;
            n = i;
            break;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (tmp[i] != '"' && tmp[i] != '\'')
            tmp[o++] = tmp[i];
    n = o;
    size_t start = 0;
    if (java && n > 0 && tmp[0] == 'L' && memchr(tmp, '/', n))
        start = 1;
    size_t w = n - start;
    if (w > cap)
        w = cap;
    memcpy(out, tmp + start, w);
    if (inlined && w + 4 <= cap) {
        memcpy(out + w, "_[i]", 4);
        w += 4;
    }
    return w;
}
