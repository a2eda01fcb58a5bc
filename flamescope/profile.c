/* profile — see profile.h.
 *
 * Building: the perf-script parser (lib/perfscript) interns comm, symbol and module
 * strings; a raw frame (symbol id, module id, plus the two "is java" flags the namings
 * depend on) is translated once into its FlameScope frames and its folded names and the
 * result is memoised in `rawmap`, so the per-sample work is a few hash lookups: one per
 * frame, one for each of the two stack keys.  Idle detection is memoised the same way:
 * every raw piece (comm, event, symbol+module) carries three bits saying whether it
 * holds "swapper", an idle function name, or both in that order. */
#define _GNU_SOURCE
#include "profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "perfscript.h"
#include "strtab.h"

#define HEAT_IDLE_BIT 0x80000000u

/* idle-piece bits */
#define IP_SW 1      /* holds "swapper" */
#define IP_IDLE 2    /* holds an idle function name */
#define IP_SELF 4    /* holds "swapper" followed by an idle name */

/* Stacks as a tree of frames (a trie): node 0 is the root, every other node is
 * (parent, label) with parent < node, so one pass in id order visits parents first.
 * A sample's stack is its leaf node.  The hash (parent, label) -> node is only needed
 * while building and is freed by trie_seal(), which builds the child lists instead. */
struct trie_slot {
    uint64_t key;              /* (parent << 32 | label) + 1, 0 = empty */
    uint32_t node;
};

struct trie {
    uint32_t *parent, *label;
    uint8_t *state;            /* FlameScope trie: idle regex state of the path */
    uint32_t n, cap;
    /* Building: a node's first child is found through first/first_label (stacks that
     * go on where no stack went before make chains: that node was just created, so its
     * line is in the cache), later children through the hash. */
    uint32_t *first, *first_label;
    struct trie_slot *h;       /* key and node in one cache line */
    size_t hcap, hcount;
    uint32_t *next;            /* next sibling, after trie_seal() */
};

struct profile {
    size_t n, cap;
    uint64_t *t_ns;
    uint32_t *fstack;          /* | HEAT_IDLE_BIT */
    uint32_t *cstack;
    uint64_t *period;          /* NULL while every period equals period_const */
    int32_t *tid;              /* each sample's tid; NULL unless an invocation has a tid */
    int inv_tids;              /* some invocation line carries a tid */
    uint64_t period_const;
    int period_set;

    uint64_t min_ns, max_ns, last_ns;
    double py_start, py_end;   /* FlameScope's start/end tracking (with its elif) */
    int sorted;
    double base_s, end_s;      /* floor(min), ceil(end) as FlameScope computes them */
    uint32_t nsec;
    size_t *sec_first;         /* nsec + 1 entries, sorted profiles only */

    strtab *names;             /* FlameScope frame names */
    strtab *frames;            /* (name id u32, type u8) -> frame id */
    uint8_t *frame_bits;       /* idle bits (IP_*) of each frame's name */
    size_t frame_bits_cap;
    struct trie fs;            /* FlameScope stacks: labels are frame ids */

    strtab *cnames;            /* folded names */
    struct trie folded;        /* stackcollapse stacks: labels are folded name ids */
    char *event;

    struct profile_invocation *inv;
    size_t ninv, invcap;
    size_t inv_bytes;          /* their id and fn strings */
    uint64_t parsed_bytes;
};

const char *profile_ftype_name(int type)
{
    static const char *const n[FT__COUNT] = {"", "user", "kernel", "jit", "inlined"};
    return type >= 0 && type < FT__COUNT ? n[type] : "";
}

/* ------------------------------------------------------------------ idle matching */

static const char *const idle_words[] = {
    "cpuidle", "cpu_idle", "cpu_bringup_and_idle", "native_safe_halt",
    "xen_hypercall_sched_op", "xen_hypercall_vcpu_op",
};

/* IP_* bits of s[0..len): FlameScope's idle regex is "swapper.*(word|…)". */
static unsigned idle_bits(const char *s, size_t len)
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
static int idle_step(int *seen_sw, unsigned bits)
{
    if ((bits & IP_SELF) || (*seen_sw && (bits & IP_IDLE)))
        return 1;
    if (bits & IP_SW)
        *seen_sw = 1;
    return 0;
}

/* The regex state along a path: bit 0 "swapper" seen, bit 1 matched. */
static unsigned idle_state(unsigned st, unsigned bits)
{
    int seen = st & 1;
    if ((st & 2) || idle_step(&seen, bits))
        return 3;
    return (unsigned)seen;
}

/* ------------------------------------------------------------------ build state */

struct comm_info {
    int known;
    uint32_t fs_frame;        /* FlameScope comm frame */
    unsigned fs_idle;         /* idle bits of the FlameScope comm name */
    unsigned heat_bits;       /* idle bits of the comm as printed */
    int fs_java, c_java;
    uint32_t pname;           /* folded process name */
};

struct raw_info {
    uint32_t fs_off, fs_n;    /* FlameScope frames in pool, root first */
    uint32_t c_off, c_n;      /* folded names in pool, root first */
    unsigned heat_bits;       /* idle bits of "sym (module)" as printed */
    unsigned fs_bits;         /* idle bits of the FlameScope name (before "->" split) */
};

struct sym_cache {
    uint8_t used, java;
    uint32_t module, raw;
};

struct build {
    profile *p;
    strtab *pst;              /* the parser's interner */
    struct comm_info *comms;
    size_t ncomms;
    strtab *rawmap;
    struct raw_info *raws;
    size_t nraws, rawcap;
    struct sym_cache *symc;
    size_t nsymc;
    uint32_t *ridx;            /* raw_info index of each frame of the current sample */
    size_t ridxcap;
    uint8_t *evbits;           /* idle bits + 1 by event id, 0: not computed */
    size_t nevbits;
    uint32_t *pool;
    size_t npool, poolcap;
    int err;
    char *errmsg;
    size_t errlen;
};

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *n = realloc(*arr, c * elem);
    if (!n)
        return -ENOMEM;
    *arr = n;
    *cap = c;
    return 0;
}

static int trie_init(struct trie *t, int with_state)
{
    memset(t, 0, sizeof *t);
    t->cap = 1024;
    t->parent = malloc(t->cap * sizeof *t->parent);
    t->label = malloc(t->cap * sizeof *t->label);
    t->first = malloc(t->cap * sizeof *t->first);
    t->first_label = malloc(t->cap * sizeof *t->first_label);
    t->state = with_state ? malloc(t->cap) : NULL;
    t->hcap = 2048;
    t->h = calloc(t->hcap, sizeof *t->h);
    if (!t->parent || !t->label || !t->first || !t->first_label || (with_state && !t->state) ||
        !t->h)
        return -ENOMEM;
    t->first[0] = PROFILE_NONE;
    t->parent[0] = PROFILE_NONE;
    t->label[0] = PROFILE_NONE;
    if (t->state)
        t->state[0] = 0;
    t->n = 1;
    return 0;
}

static void trie_free(struct trie *t)
{
    free(t->parent);
    free(t->label);
    free(t->state);
    free(t->h);
    free(t->first);
    free(t->first_label);
    free(t->next);
    memset(t, 0, sizeof *t);
}

static inline uint64_t trie_mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

/* A zeroed slot table; big ones are asked for in huge pages, since every lookup is a
 * random access (a TLB miss per lookup with 4 KiB pages). */
static struct trie_slot *slots_alloc(size_t n)
{
    size_t bytes = n * sizeof(struct trie_slot);
    if (bytes < (4u << 20))
        return calloc(n, sizeof(struct trie_slot));
    void *p = NULL;
    if (posix_memalign(&p, 2u << 20, bytes))
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE);
    memset(p, 0, bytes);
    return p;
}

static int trie_rehash(struct trie *t)
{
    size_t nc = t->hcap * 2;
    struct trie_slot *h = slots_alloc(nc);
    if (!h)
        return -ENOMEM;
    for (size_t i = 0; i < t->hcap; i++) {
        if (!t->h[i].key)
            continue;
        size_t j = trie_mix(t->h[i].key) & (nc - 1);
        while (h[j].key)
            j = (j + 1) & (nc - 1);
        h[j] = t->h[i];
    }
    free(t->h);
    t->h = h;
    t->hcap = nc;
    return 0;
}

static int trie_grow(struct trie *t)
{
    uint32_t c = t->cap * 2;
    uint32_t **arrs[] = {&t->parent, &t->label, &t->first, &t->first_label};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        uint32_t *a = realloc(*arrs[i], (size_t)c * sizeof *a);
        if (!a)
            return -ENOMEM;
        *arrs[i] = a;
    }
    if (t->state) {
        uint8_t *st = realloc(t->state, c);
        if (!st)
            return -ENOMEM;
        t->state = st;
    }
    t->cap = c;
    return 0;
}

static uint32_t trie_new_node(struct trie *t, uint32_t parent, uint32_t label)
{
    if (t->n >= 0x7fffffffu)       /* ids keep the top bit free (HEAT_IDLE_BIT) */
        return PROFILE_NONE;
    if (t->n == t->cap && trie_grow(t))
        return PROFILE_NONE;
    uint32_t id = t->n++;
    t->parent[id] = parent;
    t->label[id] = label;
    t->first[id] = PROFILE_NONE;
    return id;
}

/* The child of parent labelled label, created when new (*created set); PROFILE_NONE
 * when out of memory. */
static uint32_t trie_child(struct trie *t, uint32_t parent, uint32_t label, int *created)
{
    *created = 0;
    uint32_t fc = t->first[parent];
    if (fc == PROFILE_NONE) {
        uint32_t id = trie_new_node(t, parent, label);
        if (id != PROFILE_NONE) {
            t->first[parent] = id;
            t->first_label[parent] = label;
            *created = 1;
        }
        return id;
    }
    if (t->first_label[parent] == label)
        return fc;
    uint64_t key = (((uint64_t)parent << 32) | label) + 1;
    size_t j = trie_mix(key) & (t->hcap - 1);
    while (t->h[j].key) {
        if (t->h[j].key == key)
            return t->h[j].node;
        j = (j + 1) & (t->hcap - 1);
    }
    uint32_t id = trie_new_node(t, parent, label);
    if (id == PROFILE_NONE)
        return PROFILE_NONE;
    t->h[j].key = key;
    t->h[j].node = id;
    *created = 1;
    if (++t->hcount * 2 > t->hcap && trie_rehash(t))
        return PROFILE_NONE;
    return id;
}

/* Drops the build hash, links the children (in creation order) after the first. */
static int trie_seal(struct trie *t)
{
    free(t->h);
    t->h = NULL;
    t->hcap = 0;
    free(t->first_label);
    t->first_label = NULL;
    t->next = malloc((size_t)t->n * sizeof *t->next);
    uint32_t *last = malloc((size_t)t->n * sizeof *last);
    if (!t->next || !last) {
        free(last);
        return -ENOMEM;
    }
    memset(t->next, 0xff, (size_t)t->n * sizeof *t->next);
    for (uint32_t i = 0; i < t->n; i++)
        last[i] = t->first[i];
    for (uint32_t i = 1; i < t->n; i++) {
        uint32_t pa = t->parent[i];
        if (t->first[pa] == i)
            continue;
        t->next[last[pa]] = i;
        last[pa] = i;
    }
    free(last);
    return 0;
}

static size_t trie_memory(const struct trie *t)
{
    size_t per = 3 * sizeof(uint32_t) + (t->state ? 1 : 0) + (t->next ? 4 : 0) +
                 (t->first_label ? 4 : 0);
    return (size_t)t->cap * per + t->hcap * sizeof(struct trie_slot);
}

static int pool_push(struct build *b, uint32_t v)
{
    if (grow((void **)&b->pool, &b->poolcap, b->npool + 1, sizeof *b->pool))
        return -ENOMEM;
    b->pool[b->npool++] = v;
    return 0;
}

static uint32_t frame_intern(profile *p, const char *name, size_t len, int type)
{
    uint32_t nid = strtab_intern(p->names, name, len);
    if (nid == STRTAB_NONE)
        return STRTAB_NONE;
    unsigned char k[5];
    memcpy(k, &nid, 4);
    k[4] = (unsigned char)type;
    uint32_t fid = strtab_intern(p->frames, k, sizeof k);
    if (fid == STRTAB_NONE)
        return STRTAB_NONE;
    if (fid >= p->frame_bits_cap || !p->frame_bits[fid]) {
        size_t old = p->frame_bits_cap;
        if (grow((void **)&p->frame_bits, &p->frame_bits_cap, (size_t)fid + 1, 1))
            return STRTAB_NONE;
        memset(p->frame_bits + old, 0, p->frame_bits_cap - old);
        /* +1 marks "computed" */
        p->frame_bits[fid] = (uint8_t)(idle_bits(name, len) + 1);
    }
    return fid;
}

static int library_type(const char *m, size_t len, int has_module)
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

/* FlameScope's comm: `^ *([^0-9]+)` of the event line, right-stripped. */
static int comm_info_get(struct build *b, const ps_sample *s, struct comm_info **out)
{
    uint32_t id = s->comm_id;
    if (id >= b->ncomms) {
        size_t n = b->ncomms ? b->ncomms : 64;
        while (n <= id)
            n *= 2;
        struct comm_info *c = realloc(b->comms, n * sizeof *c);
        if (!c)
            return -ENOMEM;
        memset(c + b->ncomms, 0, (n - b->ncomms) * sizeof *c);
        b->comms = c;
        b->ncomms = n;
    }
    struct comm_info *ci = &b->comms[id];
    if (!ci->known) {
        const char *c = s->comm.p ? s->comm.p : "";
        size_t len = s->comm.len, cut = 0;
        while (cut < len && (c[cut] < '0' || c[cut] > '9'))
            cut++;
        size_t end = cut;
        while (end > 0 && (c[end - 1] == ' ' || c[end - 1] == '\t'))
            end--;
        size_t lead = 0;
        while (lead < end && c[lead] == ' ')
            lead++;
        const char *name = c + lead;
        size_t nlen = end - lead;
        if (cut == 0 || cut == lead) {   /* no non-digit text before the first digit */
            name = "<unknown>";
            nlen = 9;
        }
        ci->fs_frame = frame_intern(b->p, name, nlen, FT_NONE);
        if (ci->fs_frame == STRTAB_NONE)
            return -ENOMEM;
        ci->fs_idle = idle_bits(name, nlen);
        ci->heat_bits = idle_bits(c, len);
        ci->fs_java = nlen == 4 && memcmp(name, "java", 4) == 0;
        /* stackcollapse: comm with spaces turned into '_' */
        char tmp[512];
        size_t pl = len < sizeof tmp ? len : sizeof tmp;
        for (size_t i = 0; i < pl; i++)
            tmp[i] = c[i] == ' ' ? '_' : c[i];
        ci->pname = strtab_intern(b->p->cnames, tmp, pl);
        if (ci->pname == STRTAB_NONE)
            return -ENOMEM;
        ci->c_java = pl == 4 && memcmp(tmp, "java", 4) == 0;
        ci->known = 1;
    }
    *out = ci;
    return 0;
}

/* stackcollapse-perf.pl's tidying of one function name (one "->" part) into out. */
static size_t folded_tidy(const char *f, size_t len, const char *mod, size_t mlen, int java,
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

/* Translates one raw frame into its FlameScope frames and folded names (memoised):
 * *out gets the index of its raw_info.  A direct-mapped cache by symbol id answers
 * almost every frame (a symbol nearly always comes with the same module) without
 * hashing; the interner behind it is exact. */
static int raw_info_get(struct build *b, const ps_frame *f, const struct comm_info *ci,
                        uint32_t *out)
{
    uint32_t mid = (f->flags & PS_FRAME_MODULE) ? f->module_id : STRTAB_NONE;
    uint8_t jf = (uint8_t)(ci->fs_java | ci->c_java << 1);
    size_t slot = (size_t)f->sym_id * 4 + jf;   /* one entry per java flag pair */
    if (slot < b->nsymc) {
        struct sym_cache *sc = &b->symc[slot];
        if (sc->used && sc->module == mid && sc->java == jf) {
            *out = sc->raw;
            return 0;
        }
    }
    unsigned char k[12];
    memcpy(k, &f->sym_id, 4);
    memcpy(k + 4, &mid, 4);
    k[8] = (unsigned char)ci->fs_java;
    k[9] = (unsigned char)ci->c_java;
    k[10] = k[11] = 0;
    uint32_t id = strtab_intern(b->rawmap, k, sizeof k);
    if (id == STRTAB_NONE)
        return -ENOMEM;
    if (f->sym_id < (1u << 24)) {
        size_t cap = b->nsymc;
        if (slot >= cap) {
            size_t nc = cap ? cap : 4096;
            while (nc <= slot)
                nc *= 2;
            struct sym_cache *n = realloc(b->symc, nc * sizeof *n);
            if (!n)
                return -ENOMEM;
            memset(n + cap, 0, (nc - cap) * sizeof *n);
            b->symc = n;
            b->nsymc = nc;
        }
        b->symc[slot] = (struct sym_cache){1, jf, mid, id};
    }
    *out = id;
    if (id < b->nraws)
        return 0;
    if (grow((void **)&b->raws, &b->rawcap, (size_t)id + 1, sizeof *b->raws))
        return -ENOMEM;
    b->nraws = id + 1;
    struct raw_info *ri = &b->raws[id];
    memset(ri, 0, sizeof *ri);

    const char *sym = f->sym.p ? f->sym.p : "";
    size_t slen = f->sym.len;
    const char *mod = f->module.p ? f->module.p : "";
    size_t mlen = f->module.len;
    int has_mod = (f->flags & PS_FRAME_MODULE) != 0;

    unsigned sb = idle_bits(sym, slen), mb = idle_bits(mod, mlen);
    ri->heat_bits = sb | mb | (((sb & IP_SW) && (mb & IP_IDLE)) ? IP_SELF : 0);

    ri->fs_off = (uint32_t)b->npool;
    ri->c_off = (uint32_t)b->npool;
    if (!has_mod)              /* both tools drop a frame without "(module)" */
        return 0;
    /* FlameScope: name cut at its first '+' (not at position 0), split at "->" */
    size_t nl = slen;
    const char *plus = slen > 1 ? memchr(sym + 1, '+', slen - 1) : NULL;
    if (plus)
        nl = (size_t)(plus - sym);
    ri->fs_bits = idle_bits(sym, nl);
    int lt = library_type(mod, mlen, has_mod);
    size_t pos = 0;
    for (int part = 0;; part++) {
        const char *arrow = NULL;
        for (size_t i = pos; i + 1 < nl; i++)
            if (sym[i] == '-' && sym[i + 1] == '>') {
                arrow = sym + i;
                break;
            }
        size_t pend = arrow ? (size_t)(arrow - sym) : nl;
        const char *name = sym + pos;
        size_t len = pend - pos;
        if (ci->fs_java && len > 0 && name[0] == 'L') {
            name++;
            len--;
        }
        uint32_t fr = frame_intern(b->p, name, len, part == 0 ? lt : FT_INLINED);
        if (fr == STRTAB_NONE || pool_push(b, fr))
            return -ENOMEM;
        ri->fs_n++;
        if (!arrow)
            break;
        pos = pend + 2;
    }
    /* stackcollapse-perf.pl: skip "(…" process names, split at "->" dropping trailing
     * empty parts, tidy each part */
    b->raws[id].c_off = (uint32_t)b->npool;
    if (slen > 0 && sym[0] == '(')
        return 0;
    size_t parts_end = slen;
    while (parts_end >= 2 && sym[parts_end - 2] == '-' && sym[parts_end - 1] == '>')
        parts_end -= 2;
    pos = 0;
    for (int part = 0; parts_end > 0; part++) {
        const char *arrow = NULL;
        for (size_t i = pos; i + 1 < parts_end; i++)
            if (sym[i] == '-' && sym[i + 1] == '>') {
                arrow = sym + i;
                break;
            }
        size_t pend = arrow ? (size_t)(arrow - sym) : parts_end;
        char out_name[4200];
        size_t ol = folded_tidy(sym + pos, pend - pos, mod, mlen, ci->c_java, part > 0,
                                out_name, sizeof out_name);
        uint32_t cn = strtab_intern(b->p->cnames, out_name, ol);
        if (cn == STRTAB_NONE || pool_push(b, cn))
            return -ENOMEM;
        b->raws[id].c_n++;
        if (!arrow)
            break;
        pos = pend + 2;
    }
    return 0;
}

static int on_header(void *ctx, ps_str line, uint64_t lineno)
{
    struct build *b = ctx;
    ps_invocation iv;
    if (!ps_header_invocation(line, &iv))
        return 0;
    profile *p = b->p;
    if (grow((void **)&p->inv, &p->invcap, p->ninv + 1, sizeof *p->inv))
        return -ENOMEM;
    struct profile_invocation *o = &p->inv[p->ninv];
    memset(o, 0, sizeof *o);
    o->id = malloc(iv.id.len + 1);
    o->fn = malloc(iv.fn.len + 1);
    if (!o->id || !o->fn) {
        free(o->id);
        free(o->fn);
        return -ENOMEM;
    }
    ps_unescape(iv.id, o->id, iv.id.len + 1);
    ps_unescape(iv.fn, o->fn, iv.fn.len + 1);
    o->start_ns = iv.start_ns;
    o->end_ns = iv.end_ns;
    o->has_end = (iv.flags & PS_INV_END) != 0;
    o->has_status = (iv.flags & PS_INV_STATUS) != 0;
    o->status = iv.status;
    p->inv_bytes += iv.id.len + iv.fn.len + 2;
    o->tid = (iv.flags & PS_INV_TID) ? iv.tid : 0;
    if (o->tid > 0)
        p->inv_tids = 1;
    p->ninv++;
    return 0;
}

static int on_sample(void *ctx, const ps_sample *s)
{
    struct build *b = ctx;
    profile *p = b->p;
    if (p->n == p->cap) {
        size_t c = p->cap ? p->cap * 2 : 4096;
        uint64_t *t = realloc(p->t_ns, c * sizeof *t);
        if (!t)
            return -ENOMEM;
        p->t_ns = t;
        uint32_t *f = realloc(p->fstack, c * sizeof *f);
        if (!f)
            return -ENOMEM;
        p->fstack = f;
        uint32_t *cs = realloc(p->cstack, c * sizeof *cs);
        if (!cs)
            return -ENOMEM;
        p->cstack = cs;
        int32_t *td = realloc(p->tid, c * sizeof *td);
        if (!td)
            return -ENOMEM;
        p->tid = td;
        if (p->period) {
            uint64_t *pe = realloc(p->period, c * sizeof *pe);
            if (!pe)
                return -ENOMEM;
            p->period = pe;
        }
        p->cap = c;
    }
    struct comm_info *ci;
    int rc = comm_info_get(b, s, &ci);
    if (rc)
        return rc;

    if (grow((void **)&b->ridx, &b->ridxcap, (size_t)s->nframes + 1, sizeof *b->ridx))
        return -ENOMEM;
    /* heatmap idle: the event line's text, then the frame lines as printed */
    int seen = 0, heat_idle = 0;
    heat_idle |= idle_step(&seen, ci->heat_bits);
    if (s->event_id < (1u << 16)) {
        if (s->event_id >= b->nevbits) {
            size_t n = b->nevbits;
            if (grow((void **)&b->evbits, &n, (size_t)s->event_id + 1, 1))
                return -ENOMEM;
            memset(b->evbits + b->nevbits, 0, n - b->nevbits);
            b->nevbits = n;
        }
        if (!b->evbits[s->event_id])
            b->evbits[s->event_id] = (uint8_t)(idle_bits(s->event.p, s->event.len) + 1);
        heat_idle |= idle_step(&seen, b->evbits[s->event_id] - 1u);
    } else {
        heat_idle |= idle_step(&seen, idle_bits(s->event.p, s->event.len));
    }
    if (s->extra.len)
        heat_idle |= idle_step(&seen, idle_bits(s->extra.p, s->extra.len));

    for (uint32_t i = 0; i < s->nframes; i++) {
        rc = raw_info_get(b, &s->frames[i], ci, &b->ridx[i]);
        if (rc)
            return rc;
        if (!heat_idle)
            heat_idle |= idle_step(&seen, b->raws[b->ridx[i]].heat_bits);
    }
    /* FlameScope stack: comm, then the frames from the root (they are printed leaf
     * first); each new node carries the idle regex's state along its path */
    int created;
    uint32_t fs = trie_child(&p->fs, 0, ci->fs_frame, &created);
    if (fs == PROFILE_NONE)
        return -ENOMEM;
    if (created)
        p->fs.state[fs] = (uint8_t)idle_state(0, ci->fs_idle);
    for (uint32_t i = s->nframes; i-- > 0;) {
        const struct raw_info *ri = &b->raws[b->ridx[i]];
        for (uint32_t k = 0; k < ri->fs_n; k++) {
            uint32_t fr = b->pool[ri->fs_off + k];
            uint32_t child = trie_child(&p->fs, fs, fr, &created);
            if (child == PROFILE_NONE)
                return -ENOMEM;
            if (created)
                p->fs.state[child] =
                    (uint8_t)idle_state(p->fs.state[fs], p->frame_bits[fr] - 1u);
            fs = child;
        }
    }

    uint32_t cs = PROFILE_NONE;
    ps_str ev = s->event;
    if (!p->event) {
        p->event = strndup(ev.p ? ev.p : "", ev.len);
        if (!p->event)
            return -ENOMEM;
    }
    if (strlen(p->event) == ev.len && (ev.len == 0 || memcmp(p->event, ev.p, ev.len) == 0)) {
        cs = trie_child(&p->folded, 0, ci->pname, &created);
        for (uint32_t i = s->nframes; i-- > 0 && cs != PROFILE_NONE;) {
            const struct raw_info *ri = &b->raws[b->ridx[i]];
            for (uint32_t k = 0; k < ri->c_n && cs != PROFILE_NONE; k++)
                cs = trie_child(&p->folded, cs, b->pool[ri->c_off + k], &created);
        }
        if (cs == PROFILE_NONE)
            return -ENOMEM;
    }

    uint64_t per = (s->flags & PS_SAMPLE_PERIOD) && s->period ? s->period : 1;
    if (!p->period_set) {
        p->period_const = per;
        p->period_set = 1;
    } else if (!p->period && per != p->period_const) {
        p->period = malloc(p->cap * sizeof *p->period);
        if (!p->period)
            return -ENOMEM;
        for (size_t i = 0; i < p->n; i++)
            p->period[i] = p->period_const;
    }
    if (p->period)
        p->period[p->n] = per;

    uint64_t t = s->time_ns;
    double td = (double)t / 1e9;
    if (p->n == 0) {
        p->min_ns = p->max_ns = t;
        p->sorted = 1;
    } else {
        if (t < p->last_ns)
            p->sorted = 0;
        if (t < p->min_ns)
            p->min_ns = t;
        if (t > p->max_ns)
            p->max_ns = t;
    }
    if (td < p->py_start)
        p->py_start = td;
    else if (td > p->py_end)
        p->py_end = td;
    p->last_ns = t;
    p->t_ns[p->n] = t;
    p->fstack[p->n] = fs | (heat_idle ? HEAT_IDLE_BIT : 0);
    p->cstack[p->n] = cs;
    p->tid[p->n] = s->tid;
    p->n++;
    return 0;
}

static void finish(profile *p)
{
    if (!p->inv_tids) {        /* nobody will ask for a thread: no cost */
        free(p->tid);
        p->tid = NULL;
    }
    if (p->n == 0) {
        p->base_s = 0;
        p->end_s = 0;
        return;
    }
    double min_s = (double)p->min_ns / 1e9, max_s = (double)p->max_ns / 1e9;
    p->base_s = floor(min_s);
    /* FlameScope's end skips a sample that lowered the start (its elif); with no such
     * end it would fail, we use the maximum */
    p->end_s = ceil(isinf(p->py_end) ? max_s : p->py_end);
    if (!p->sorted)
        return;
    double span = ceil(max_s) - p->base_s;
    /* the table costs a word a second: a sparse profile (a few samples years apart)
     * would pay far more for it than for its samples, so it scans instead */
    if (span < 0 || span > 100000000 || span > (double)p->n + 65536)
        return;
    p->nsec = (uint32_t)span + 1;
    p->sec_first = malloc(((size_t)p->nsec + 1) * sizeof *p->sec_first);
    if (!p->sec_first) {
        p->nsec = 0;
        return;
    }
    size_t i = 0;
    for (uint32_t c = 0; c <= p->nsec; c++) {
        double edge = p->base_s + c;
        while (i < p->n && (double)p->t_ns[i] / 1e9 < edge)
            i++;
        p->sec_first[c] = i;
    }
}

static void build_release(struct build *b)
{
    strtab_free(b->pst);
    strtab_free(b->rawmap);
    free(b->comms);
    free(b->raws);
    free(b->pool);
    free(b->symc);
    free(b->ridx);
    free(b->evbits);
}

profile *profile_build(int fd, uint64_t max_text, int *errp, char *err, size_t errlen)
{
    return profile_build_read(NULL, &fd, max_text, errp, err, errlen);
}

profile *profile_build_read(ssize_t (*rd)(void *ctx, void *buf, size_t len), void *ctx,
                            uint64_t max_text, int *errp, char *err,
                            size_t errlen)
{
    struct build b;
    memset(&b, 0, sizeof b);
    profile *p = calloc(1, sizeof *p);
    int rc = -ENOMEM;
    ps_parser *ps = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!p)
        goto fail;
    p->py_start = INFINITY;
    p->py_end = -INFINITY;
    p->names = strtab_new();
    p->frames = strtab_new();
    p->cnames = strtab_new();
    b.pst = strtab_new();
    b.rawmap = strtab_new();
    b.p = p;
    if (!p->names || !p->frames || !p->cnames || !b.pst || !b.rawmap ||
        trie_init(&p->fs, 1) || trie_init(&p->folded, 0))
        goto fail;
    ps_parse_opts o;
    memset(&o, 0, sizeof o);
    o.on_sample = on_sample;
    o.on_header = on_header;
    o.ctx = &b;
    o.strtab = b.pst;
    o.max_bytes = max_text;
    ps = ps_parser_new(&o);
    if (!ps)
        goto fail;
    rc = rd ? ps_parse_read(ps, rd, ctx, err, errlen) : ps_parse_fd(ps, *(int *)ctx, err, errlen);
    const ps_stats *st = ps_parser_stats(ps);
    p->parsed_bytes = st->bytes;
    if (rc == 0 && p->n == 0 && st->skipped > 0) {
        rc = -EMEDIUMTYPE;
        if (err)
            snprintf(err, errlen, "not perf script text (%llu unreadable lines, no sample)",
                     (unsigned long long)st->skipped);
    }
    if (rc > 0)
        rc = -EIO;
    if (rc)
        goto fail;
    ps_parser_free(ps);
    ps = NULL;
    build_release(&b);
    memset(&b, 0, sizeof b);
    if (trie_seal(&p->fs) || trie_seal(&p->folded)) {
        rc = -ENOMEM;
        goto fail;
    }
    finish(p);
    build_release(&b);
    return p;
fail:
    if (rc == -ENOMEM && err && !err[0])
        snprintf(err, errlen, "out of memory while indexing");
    else if (err && !err[0])
        snprintf(err, errlen, "%s", strerror(-rc));
    if (errp)
        *errp = rc;
    ps_parser_free(ps);
    build_release(&b);
    profile_free(p);
    return NULL;
}

void profile_free(profile *p)
{
    if (!p)
        return;
    free(p->t_ns);
    free(p->fstack);
    free(p->cstack);
    free(p->period);
    free(p->tid);
    free(p->sec_first);
    strtab_free(p->names);
    strtab_free(p->frames);
    trie_free(&p->fs);
    free(p->frame_bits);
    strtab_free(p->cnames);
    trie_free(&p->folded);
    free(p->event);
    for (size_t i = 0; i < p->ninv; i++) {
        free(p->inv[i].id);
        free(p->inv[i].fn);
    }
    free(p->inv);
    free(p);
}

size_t profile_memory(const profile *p)
{
    size_t m = sizeof *p;
    m += p->cap * (sizeof(uint64_t) + 2 * sizeof(uint32_t));
    if (p->period)
        m += p->cap * sizeof(uint64_t);
    if (p->tid)
        m += p->cap * sizeof *p->tid;
    m += (p->nsec + 1) * sizeof(size_t) * (p->sec_first != NULL);
    m += strtab_memory(p->names) + strtab_memory(p->frames) + p->frame_bits_cap;
    m += strtab_memory(p->cnames) + trie_memory(&p->fs) + trie_memory(&p->folded);
    m += p->invcap * sizeof *p->inv + p->inv_bytes;
    return m;
}

size_t profile_nsamples(const profile *p) { return p->n; }
uint64_t profile_time_ns(const profile *p, size_t i) { return p->t_ns[i]; }
double profile_base_s(const profile *p) { return p->base_s; }
uint64_t profile_parsed_bytes(const profile *p) { return p->parsed_bytes; }

/* ------------------------------------------------------------------ ranges */

void profile_range_all(const profile *p, struct profile_range *out)
{
    out->start_s = p->base_s;
    out->end_s = p->end_s;
    out->tid = 0;
}

/* Python's float(): decimal text with optional sign/spaces; we refuse inf/nan. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v))
        return -1;
    while (*end == ' ')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

int profile_range_parse(const profile *p, const char *start, const char *end,
                        struct profile_range *out, char *err, size_t errlen)
{
    double s = 0, e = 0;
    if (start && *start && parse_seconds(start, &s)) {
        snprintf(err, errlen, "start must be a number of seconds");
        return -EINVAL;
    }
    if (end && *end && parse_seconds(end, &e)) {
        snprintf(err, errlen, "end must be a number of seconds");
        return -EINVAL;
    }
    double rs = p->base_s, re = p->end_s;
    if (e != 0) {
        if (rs + e > re) {
            snprintf(err, errlen, "end %g is past the end of the profile (%g s long)", e,
                     re - rs);
            return -ERANGE;
        }
        re = rs + e;
    }
    if (s != 0)
        rs = rs + s;
    if (rs > re) {
        snprintf(err, errlen, "start %g is after end %g", rs - p->base_s, re - p->base_s);
        return -ERANGE;
    }
    out->start_s = rs;
    out->end_s = re;
    out->tid = 0;
    return 0;
}

static size_t lower_bound(const profile *p, size_t lo, size_t hi, double t, int upper)
{
    /* first index in [lo,hi) with time >= t (upper: > t) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double v = (double)p->t_ns[mid] / 1e9;
        if (upper ? v <= t : v < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void sec_window(const profile *p, double t, size_t *lo, size_t *hi)
{
    double c = floor(t - p->base_s);
    if (c < 0) {
        *lo = 0;
        *hi = p->sec_first[0];
    } else if (c >= p->nsec) {
        *lo = p->sec_first[p->nsec];
        *hi = p->n;
    } else {
        *lo = p->sec_first[(size_t)c];
        *hi = p->sec_first[(size_t)c + 1];
    }
    /* rounding at the second's edge: widen by one on each side */
    if (*lo > 0)
        (*lo)--;
    if (*hi < p->n)
        (*hi)++;
}

void profile_range_bounds(const profile *p, const struct profile_range *r, size_t *lo,
                          size_t *hi)
{
    if (!p->sec_first) {
        *lo = 0;
        *hi = p->n;
        return;
    }
    size_t a, b;
    sec_window(p, r->start_s, &a, &b);
    *lo = lower_bound(p, a, b, r->start_s, 0);
    sec_window(p, r->end_s, &a, &b);
    *hi = lower_bound(p, a, b, r->end_s, 1);
    if (*hi < *lo)
        *hi = *lo;
}

/* A range that names a thread the index can tell apart. */
static int range_tid(const profile *p, const struct profile_range *r)
{
    return p->tid && r->tid > 0;
}

int profile_in_range(const profile *p, size_t i, const struct profile_range *r)
{
    if (range_tid(p, r) && p->tid[i] != r->tid)
        return 0;
    double t = (double)p->t_ns[i] / 1e9;
    return t >= r->start_s && t <= r->end_s;
}

/* ------------------------------------------------------------------ FlameScope view */

uint32_t profile_fs_nstacks(const profile *p) { return p->fs.n; }
const uint32_t *profile_fs_parents(const profile *p) { return p->fs.parent; }
uint32_t profile_fs_frame(const profile *p, uint32_t node) { return p->fs.label[node]; }
uint32_t profile_fs_first_child(const profile *p, uint32_t node) { return p->fs.first[node]; }
uint32_t profile_fs_next_sibling(const profile *p, uint32_t node) { return p->fs.next[node]; }

const char *profile_fs_frame_name(const profile *p, uint32_t frame, size_t *len)
{
    const char *k = strtab_str(p->frames, frame, NULL);
    uint32_t nid;
    memcpy(&nid, k, 4);
    return strtab_str(p->names, nid, len);
}

int profile_fs_frame_type(const profile *p, uint32_t frame)
{
    const char *k = strtab_str(p->frames, frame, NULL);
    return (unsigned char)k[4];
}

uint32_t profile_fs_sample_stack(const profile *p, size_t i)
{
    return p->fstack[i] & ~HEAT_IDLE_BIT;
}

int profile_fs_heat_idle(const profile *p, size_t i) { return (p->fstack[i] & HEAT_IDLE_BIT) != 0; }

int profile_fs_stack_idle(const profile *p, uint32_t stack) { return (p->fs.state[stack] & 2) != 0; }

uint64_t profile_fs_count(const profile *p, const struct profile_range *r, uint64_t *counts)
{
    size_t lo, hi;
    uint64_t added = 0;
    profile_range_bounds(p, r, &lo, &hi);
    int check = p->sec_first == NULL;
    const int32_t *tids = range_tid(p, r) ? p->tid : NULL;
    for (size_t i = lo; i < hi; i++) {
        if (check && !profile_in_range(p, i, r))
            continue;
        if (tids && tids[i] != r->tid)
            continue;
        uint32_t s = p->fstack[i] & ~HEAT_IDLE_BIT;
        if ((p->fs.state[s] & 2) && i != p->n - 1)
            continue;
        counts[s]++;
        added++;
    }
    return added;
}

/* ------------------------------------------------------------------ folded view */

uint32_t profile_folded_nstacks(const profile *p) { return p->folded.n; }
const uint32_t *profile_folded_parents(const profile *p) { return p->folded.parent; }
uint32_t profile_folded_label(const profile *p, uint32_t node) { return p->folded.label[node]; }

const char *profile_folded_name(const profile *p, uint32_t name, size_t *len)
{
    return strtab_str(p->cnames, name, len);
}

uint32_t profile_folded_nnames(const profile *p) { return strtab_count(p->cnames); }

uint32_t profile_folded_sample_stack(const profile *p, size_t i) { return p->cstack[i]; }

uint64_t profile_period(const profile *p, size_t i)
{
    return p->period ? p->period[i] : p->period_const;
}

const char *profile_event(const profile *p) { return p->event ? p->event : ""; }

/* ------------------------------------------------------------------ invocations */

size_t profile_ninvocations(const profile *p) { return p->ninv; }

const struct profile_invocation *profile_invocation(const profile *p, size_t i)
{
    return i < p->ninv ? &p->inv[i] : NULL;
}

const struct profile_invocation *profile_invocation_find(const profile *p, const char *id)
{
    for (size_t i = 0; i < p->ninv; i++)
        if (strcmp(p->inv[i].id, id) == 0)
            return &p->inv[i];
    return NULL;
}

void profile_invocation_range(const profile *p, const struct profile_invocation *inv,
                              struct profile_range *out)
{
    out->tid = inv->tid;
    out->start_s = (double)inv->start_ns / 1e9;
    if (inv->has_end)
        out->end_s = (double)inv->end_ns / 1e9;
    else
        out->end_s = p->n ? (double)p->max_ns / 1e9 : out->start_s;
}
