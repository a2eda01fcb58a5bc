/* profile — see profile.h: the building half (profile_query.c answers from the index).
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fterr.h"
#include "naming.h"
#include "perfscript.h"
#include "strtab.h"
#include "pindex.h"
#include "profile_index.h"
#include "trie.h"


const char *profile_ftype_name(int type)
{
    static const char *const n[FT__COUNT] = {"", "user", "kernel", "jit", "inlined"};
    return type >= 0 && type < FT__COUNT ? n[type] : "";
}

/* ------------------------------------------------------------------ build state */

/* The index while it is built: growable arrays, interners and tries; frozen into one
 * image (pindex.c) when the parse ends. */
struct draft {
    size_t n, cap;
    uint64_t *t_ns;
    uint32_t *fstack;          /* | HEAT_IDLE_BIT */
    uint32_t *cstack;
    uint64_t *period;          /* NULL while every period equals period_const */
    int32_t *tid;              /* each sample's tid (invocation ranges, speedscope threads) */
    int inv_tids;              /* some invocation line carries a tid */
    uint64_t period_const;
    int period_set;

    uint64_t min_ns, max_ns, last_ns;
    double py_start, py_end;   /* FlameScope's start/end tracking (with its elif) */
    int sorted;
    double base_s, end_s;      /* floor(min), ceil(end) as FlameScope computes them */
    uint32_t nsec;
    uint64_t *sec_first;       /* nsec + 1 entries, sorted profiles only */

    strtab *names;             /* FlameScope frame names */
    strtab *frames;            /* (name id u32, type u8) -> frame id */
    uint8_t *frame_bits;       /* idle bits (IP_*) of each frame's name */
    size_t frame_bits_cap;
    struct trie fs;            /* FlameScope stacks: labels are frame ids */

    strtab *cnames;            /* folded names */
    struct trie folded;        /* stackcollapse stacks: labels are folded name ids */
    char *event;
    strtab *mods;              /* modules ("(path)" of a frame line), first-seen order */
    uint32_t *cn_mod;          /* folded name -> mods id of its first framed occurrence */
    uint64_t *cn_addr;         /* ... and that frame line's address */
    size_t cn_len, cn_cap;     /* entries set (names past cn_len: no module) */

    struct profile_invocation *inv;
    size_t ninv, invcap;
    uint64_t parsed_bytes;
};
typedef struct draft draft;


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
    draft *p;
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
    size_t max_mem;            /* memory budget of this part's build, 0: none */
    ps_parser *ps;             /* its parser: the text bytes read so far (the size bound) */
    int size_bound_hit;        /* refused by the size bound, not by max_mem */
};

/* What a part's draft (the index to be) holds now, at allocated capacity. */
static size_t draft_memory(const draft *p)
{
    size_t m = sizeof *p + p->cap * (sizeof(uint64_t) + 2 * sizeof(uint32_t));
    if (p->period)
        m += p->cap * sizeof(uint64_t);
    if (p->tid)
        m += p->cap * sizeof *p->tid;
    m += strtab_memory(p->names) + strtab_memory(p->frames) + p->frame_bits_cap;
    m += strtab_memory(p->cnames) + trie_memory(&p->fs) + trie_memory(&p->folded);
    m += strtab_memory(p->mods) + p->cn_cap * (sizeof *p->cn_mod + sizeof *p->cn_addr);
    return m + p->invcap * sizeof *p->inv;
}

/* What a part's build holds now: its draft plus the build's own tables. */
static size_t build_memory(const struct build *b)
{
    return draft_memory(b->p) + strtab_memory(b->pst) + strtab_memory(b->rawmap) +
           b->rawcap * sizeof *b->raws + b->poolcap * sizeof *b->pool +
           b->nsymc * sizeof *b->symc + b->ridxcap * sizeof *b->ridx;
}

#define BUDGET_EVERY 1024      /* samples between two looks at the budget */

/* The size bound: whatever the input, the index a build makes holds at most the profile's
 * text size plus INDEX_SLACK.  The finished index is checked once, after freeze; while
 * building, every sample compares the index's size so far (index_bytes: its arrays and
 * tries at their counts, its string tables; what freeze will copy, not the growth room
 * and hash tables of the build) with the text read so far (the parser's count, which lags
 * by at most one read chunk), so a hostile profile is refused after a few MB, not at the
 * end.  The build's own room and memo tables come and go with it; they count toward
 * --cache (max_mem).  Ordinary profiles' indexes are 0.03 to 0.6 of their text; hostile
 * ones (millions of distinct stacks, frame lines of a few bytes each) reached 6x. */
#define INDEX_SLACK (8u << 20)

static size_t index_bytes(const draft *p)
{
    size_t per_sample = sizeof(uint64_t) + 2 * sizeof(uint32_t) + (p->tid ? 4 : 0) +
                        (p->period ? 8 : 0);
    size_t per_node = 4 * sizeof(uint32_t) + 2 * sizeof(uint32_t);   /* + links */
    return p->n * per_sample + ((size_t)p->fs.n + p->folded.n) * per_node + p->fs.n +
           strtab_memory(p->names) + strtab_memory(p->frames) + strtab_memory(p->cnames) +
           strtab_memory(p->mods) + p->cn_len * (sizeof *p->cn_mod + sizeof *p->cn_addr) +
           p->ninv * sizeof *p->inv;
}

static int over_size_bound(const struct build *b)
{
    uint64_t text = b->ps ? ps_parser_stats(b->ps)->bytes : 0;
    return (uint64_t)index_bytes(b->p) > text + INDEX_SLACK;
}

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

static int pool_push(struct build *b, uint32_t v)
{
    if (grow((void **)&b->pool, &b->poolcap, b->npool + 1, sizeof *b->pool))
        return -ENOMEM;
    b->pool[b->npool++] = v;
    return 0;
}

/* Folded name cn was seen in module mod (a mods id, STRTAB_NONE: none) at addr: the
 * first occurrence with a module is kept, the one a sequential parse meets first. */
static int cname_place(draft *p, uint32_t cn, uint32_t mod, uint64_t addr)
{
    if (cn < p->cn_len && (p->cn_mod[cn] != STRTAB_NONE || mod == STRTAB_NONE))
        return 0;
    if (cn >= p->cn_len) {
        if (mod == STRTAB_NONE)
            return 0;
        size_t cap = p->cn_cap, need = (size_t)cn + 1;
        if (grow((void **)&p->cn_mod, &cap, need, sizeof *p->cn_mod))
            return -ENOMEM;
        cap = p->cn_cap;
        if (grow((void **)&p->cn_addr, &cap, need, sizeof *p->cn_addr))
            return -ENOMEM;
        p->cn_cap = cap;
        for (size_t i = p->cn_len; i < need; i++) {
            p->cn_mod[i] = STRTAB_NONE;
            p->cn_addr[i] = 0;
        }
        p->cn_len = need;
    }
    p->cn_mod[cn] = mod;
    p->cn_addr[cn] = addr;
    return 0;
}

static uint32_t frame_intern(draft *p, const char *name, size_t len, int type)
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

/* The raw_info id of frame f for a comm with ci's java flags: *id, and 1 when it is new
 * (its raw_info still to fill), 0 when known.  A direct-mapped cache by symbol id
 * answers almost every frame (a symbol nearly always comes with the same module)
 * without hashing; the interner behind it is exact. */
static int raw_lookup(struct build *b, const ps_frame *f, const struct comm_info *ci,
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
        if (slot >= b->nsymc) {
            size_t cap = b->nsymc, nc = cap ? cap : 4096;
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
    memset(&b->raws[id], 0, sizeof b->raws[id]);
    return 1;
}

/* FlameScope's frames of a symbol: the name cut at its first '+' (not at position 0),
 * split at "->"; the first part typed by its library, the rest inlined. */
static int raw_fs_frames(struct build *b, struct raw_info *ri, const char *sym, size_t slen,
                         const char *mod, size_t mlen, const struct comm_info *ci)
{
    size_t nl = slen;
    const char *plus = slen > 1 ? memchr(sym + 1, '+', slen - 1) : NULL;
    if (plus)
        nl = (size_t)(plus - sym);
    ri->fs_bits = idle_bits(sym, nl);
    int lt = library_type(mod, mlen, 1);
    ri->fs_off = (uint32_t)b->npool;
    for (size_t pos = 0, part = 0;; part++) {
        size_t pend = arrow_at(sym, pos, nl);
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
        if (pend == nl)
            return 0;
        pos = pend + 2;
    }
}

/* stackcollapse-perf.pl's names of a symbol: none for "(…" process names, else split
 * at "->" dropping trailing empty parts, each part tidied. */
static int raw_folded_names(struct build *b, uint32_t id, const char *sym, size_t slen,
                            const char *mod, size_t mlen, const struct comm_info *ci,
                            uint32_t mid, uint64_t addr)
{
    b->raws[id].c_off = (uint32_t)b->npool;
    if (slen > 0 && sym[0] == '(')
        return 0;
    size_t parts_end = slen;
    while (parts_end >= 2 && sym[parts_end - 2] == '-' && sym[parts_end - 1] == '>')
        parts_end -= 2;
    for (size_t pos = 0, part = 0; parts_end > 0; part++) {
        size_t pend = arrow_at(sym, pos, parts_end);
        char out_name[4200];
        size_t ol = folded_tidy(sym + pos, pend - pos, mod, mlen, ci->c_java, part > 0,
                                out_name, sizeof out_name);
        uint32_t cn = strtab_intern(b->p->cnames, out_name, ol);
        if (cn == STRTAB_NONE || pool_push(b, cn) ||   /* may move b->raws: index again */
            cname_place(b->p, cn, mid, addr))
            return -ENOMEM;
        b->raws[id].c_n++;
        if (pend == parts_end)
            return 0;
        pos = pend + 2;
    }
    return 0;
}

/* Translates one raw frame into its FlameScope frames and folded names (memoised):
 * *out gets the index of its raw_info. */
static int raw_info_get(struct build *b, const ps_frame *f, const struct comm_info *ci,
                        uint32_t *out)
{
    int rc = raw_lookup(b, f, ci, out);
    if (rc <= 0)
        return rc;
    uint32_t id = *out;
    struct raw_info *ri = &b->raws[id];
    const char *sym = f->sym.p ? f->sym.p : "";
    size_t slen = f->sym.len;
    const char *mod = f->module.p ? f->module.p : "";
    size_t mlen = f->module.len;

    unsigned sb = idle_bits(sym, slen), mb = idle_bits(mod, mlen);
    ri->heat_bits = sb | mb | (((sb & IP_SW) && (mb & IP_IDLE)) ? IP_SELF : 0);
    ri->fs_off = (uint32_t)b->npool;
    ri->c_off = (uint32_t)b->npool;
    if (!(f->flags & PS_FRAME_MODULE))      /* both tools drop a frame without "(module)" */
        return 0;
    if ((rc = raw_fs_frames(b, ri, sym, slen, mod, mlen, ci)))
        return rc;
    /* the module and address pprof's mappings and locations carry (perf's "(inlined)"
     * frames name no module) */
    uint32_t mid = STRTAB_NONE;
    if (!(f->flags & PS_FRAME_INLINED) && mlen > 0 &&
        (mid = strtab_intern(b->p->mods, mod, mlen)) == STRTAB_NONE)
        return -ENOMEM;
    return raw_folded_names(b, id, sym, slen, mod, mlen, ci, mid, f->addr);
}

static int on_header(void *ctx, ps_str line, uint64_t lineno)
{
    struct build *b = ctx;
    ps_invocation iv;
    if (!ps_header_invocation(line, &iv))
        return 0;
    draft *p = b->p;
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
    if (iv.trace_id.len == sizeof o->trace_id - 1)
        memcpy(o->trace_id, iv.trace_id.p, iv.trace_id.len);
    o->tid = (iv.flags & PS_INV_TID) ? iv.tid : 0;
    if (o->tid > 0)
        p->inv_tids = 1;
    p->ninv++;
    return 0;
}

/* Room for one more sample in the per-sample arrays. */
static int samples_reserve(draft *p)
{
    if (p->n < p->cap)
        return 0;
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
    return 0;
}

/* The heatmap's idle test over the event line's text (comm, event, extra); *seen
 * carries the "swapper seen" state on to the frames.  1 when idle, <0 on error. */
static int event_idle(struct build *b, const ps_sample *s, const struct comm_info *ci,
                      int *seen)
{
    int idle = idle_step(seen, ci->heat_bits);
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
        idle |= idle_step(seen, b->evbits[s->event_id] - 1u);
    } else {
        idle |= idle_step(seen, idle_bits(s->event.p, s->event.len));
    }
    if (s->extra.len)
        idle |= idle_step(seen, idle_bits(s->extra.p, s->extra.len));
    return idle;
}

/* FlameScope stack: comm, then the frames from the root (they are printed leaf first);
 * each new node carries the idle regex's state along its path.  The leaf node, or
 * PROFILE_NONE when out of memory. */
static uint32_t fs_stack(struct build *b, const ps_sample *s, const struct comm_info *ci)
{
    draft *p = b->p;
    int created;
    uint32_t fs = trie_child(&p->fs, 0, ci->fs_frame, &created);
    if (fs == PROFILE_NONE)
        return PROFILE_NONE;
    if (created)
        p->fs.state[fs] = (uint8_t)idle_state(0, ci->fs_idle);
    for (uint32_t i = s->nframes; i-- > 0;) {
        const struct raw_info *ri = &b->raws[b->ridx[i]];
        for (uint32_t k = 0; k < ri->fs_n; k++) {
            uint32_t fr = b->pool[ri->fs_off + k];
            uint32_t child = trie_child(&p->fs, fs, fr, &created);
            if (child == PROFILE_NONE)
                return PROFILE_NONE;
            if (created)
                p->fs.state[child] =
                    (uint8_t)idle_state(p->fs.state[fs], p->frame_bits[fr] - 1u);
            fs = child;
        }
    }
    return fs;
}

/* Folded stack (first event type only): *cs, PROFILE_NONE for other events. */
static int folded_stack(struct build *b, const ps_sample *s, const struct comm_info *ci,
                        uint32_t *out)
{
    draft *p = b->p;
    ps_str ev = s->event;
    *out = PROFILE_NONE;
    if (!p->event) {
        p->event = strndup(ev.p ? ev.p : "", ev.len);
        if (!p->event)
            return -ENOMEM;
    }
    if (strlen(p->event) != ev.len || (ev.len && memcmp(p->event, ev.p, ev.len) != 0))
        return 0;
    int created;
    uint32_t cs = trie_child(&p->folded, 0, ci->pname, &created);
    for (uint32_t i = s->nframes; i-- > 0 && cs != PROFILE_NONE;) {
        const struct raw_info *ri = &b->raws[b->ridx[i]];
        for (uint32_t k = 0; k < ri->c_n && cs != PROFILE_NONE; k++)
            cs = trie_child(&p->folded, cs, b->pool[ri->c_off + k], &created);
    }
    if (cs == PROFILE_NONE)
        return -ENOMEM;
    *out = cs;
    return 0;
}

/* The sample's period: one constant until two differ, then an array. */
static int record_period(draft *p, const ps_sample *s)
{
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
    return 0;
}

/* The time bounds (and FlameScope's Python-float ones) and the order flag. */
static void record_time(draft *p, uint64_t t)
{
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
}

static int on_sample(void *ctx, const ps_sample *s)
{
    struct build *b = ctx;
    draft *p = b->p;
    struct comm_info *ci;
    int rc;
    if ((rc = samples_reserve(p)) || (rc = comm_info_get(b, s, &ci)))
        return rc;
    if (grow((void **)&b->ridx, &b->ridxcap, (size_t)s->nframes + 1, sizeof *b->ridx))
        return -ENOMEM;
    /* heatmap idle: the event line's text, then the frame lines as printed */
    int seen = 0;
    int heat_idle = event_idle(b, s, ci, &seen);
    if (heat_idle < 0)
        return heat_idle;
    for (uint32_t i = 0; i < s->nframes; i++) {
        if ((rc = raw_info_get(b, &s->frames[i], ci, &b->ridx[i])))
            return rc;
        if (!heat_idle)
            heat_idle |= idle_step(&seen, b->raws[b->ridx[i]].heat_bits);
    }
    uint32_t fs = fs_stack(b, s, ci), cs;
    if (fs == PROFILE_NONE)
        return -ENOMEM;
    if ((rc = folded_stack(b, s, ci, &cs)) || (rc = record_period(p, s)))
        return rc;
    record_time(p, s->time_ns);
    p->t_ns[p->n] = s->time_ns;
    p->fstack[p->n] = fs | (heat_idle ? HEAT_IDLE_BIT : 0);
    p->cstack[p->n] = cs;
    p->tid[p->n] = s->tid;
    p->n++;
    if (b->max_mem && p->n % BUDGET_EVERY == 0 && build_memory(b) > b->max_mem)
        return -FT_ERR_OVER_BUDGET;
    /* every sample: one sample of deep stacks can add many nodes (a sum of a few sizes) */
    if (over_size_bound(b)) {
        b->size_bound_hit = 1;
        return -FT_ERR_OVER_BUDGET;
    }
    return 0;
}

static void finish(draft *p)
{
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

static void draft_free(draft *p)
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
    strtab_free(p->mods);
    free(p->cn_mod);
    free(p->cn_addr);
    for (size_t i = 0; i < p->ninv; i++) {
        free(p->inv[i].id);
        free(p->inv[i].fn);
    }
    free(p->inv);
    free(p);
}

/* A strtab as offsets + NUL-terminated bytes (the image's string table). */
static int flat_strs(const strtab *t, struct pstrs *out, uint64_t **offp, char **bytesp)
{
    uint32_t n = strtab_count(t);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        strtab_str(t, i, &len);
        total += len + 1;
    }
    uint64_t *off = malloc(((size_t)n + 1) * sizeof *off);
    char *bytes = malloc(total ? total : 1);
    *offp = off;
    *bytesp = bytes;
    if (!off || !bytes)
        return -ENOMEM;
    uint64_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *str = strtab_str(t, i, &len);
        off[i] = o;
        memcpy(bytes + o, str, len + 1);
        o += len + 1;
    }
    off[n] = o;
    *out = (struct pstrs){n, off, bytes};
    return 0;
}

/* The draft laid out as one image (pindex.c): the index every query reads. */
static profile *freeze(const draft *d)
{
    struct profile v;
    memset(&v, 0, sizeof v);
    v.n = d->n;
    v.t_ns = d->t_ns;
    v.fstack = d->fstack;
    v.cstack = d->cstack;
    v.period = d->period;
    v.tid = d->tid;
    v.period_const = d->period_const;
    v.min_ns = d->min_ns;
    v.max_ns = d->max_ns;
    v.base_s = d->base_s;
    v.end_s = d->end_s;
    v.nsec = d->nsec;
    v.sec_first = d->sec_first;
    v.fs = (struct ptree){d->fs.n, d->fs.parent, d->fs.label, d->fs.first, d->fs.next,
                          d->fs.state};
    v.folded = (struct ptree){d->folded.n, d->folded.parent, d->folded.label,
                              d->folded.first, d->folded.next, NULL};
    v.event = d->event;
    v.inv = d->inv;
    v.ninv = d->ninv;
    v.parsed_bytes = d->parsed_bytes;
    uint32_t nf = strtab_count(d->frames);
    uint32_t *fname = malloc(((size_t)nf + 1) * sizeof *fname);
    uint8_t *ftype = malloc((size_t)nf + 1);
    uint32_t nc = strtab_count(d->cnames);
    uint32_t *cmod = malloc(((size_t)nc + 1) * sizeof *cmod);
    uint64_t *caddr = malloc(((size_t)nc + 1) * sizeof *caddr);
    uint64_t *noff = NULL, *coff = NULL, *moff = NULL;
    char *nbytes = NULL, *cbytes = NULL, *mbytes = NULL;
    void *img = NULL;
    size_t len = 0;
    if (fname && ftype && cmod && caddr && !flat_strs(d->names, &v.names, &noff, &nbytes) &&
        !flat_strs(d->cnames, &v.cnames, &coff, &cbytes) &&
        !flat_strs(d->mods, &v.mods, &moff, &mbytes)) {
        for (uint32_t c = 0; c < nc; c++) {
            cmod[c] = c < d->cn_len ? d->cn_mod[c] : PROFILE_NONE;
            caddr[c] = c < d->cn_len ? d->cn_addr[c] : 0;
        }
        v.cname_mod = cmod;
        v.cname_addr = caddr;
        for (uint32_t f = 0; f < nf; f++) {
            const char *k = strtab_str(d->frames, f, NULL);
            memcpy(&fname[f], k, 4);
            ftype[f] = (uint8_t)k[4];
        }
        v.nframes = nf;
        v.frame_name = fname;
        v.frame_type = ftype;
        img = pindex_image(&v, &len);
    }
    free(fname);
    free(ftype);
    free(cmod);
    free(caddr);
    free(moff);
    free(mbytes);
    free(noff);
    free(nbytes);
    free(coff);
    free(cbytes);
    profile *p = NULL;
    if (img && pindex_open(img, len, 0, 0, NULL, &p, NULL, 0))
        free(img);
    return p;
}

/* ------------------------------------------------------------------ parts */

/* One part of the text parsed into its own draft (the whole text, or one half of a
 * large plain file on its own thread). */
struct part {
    draft *d;
    struct build b;
    int ranged;                /* parse [off, off + len) of fd with pread, else read fd */
    uint64_t off, len;
    int fd;
    ssize_t (*rd)(void *ctx, void *buf, size_t len);   /* else: read through this */
    void *rdctx;
    uint64_t max_text;
    size_t max_mem;            /* this part's share of the memory budget, 0: none */
    int rc;
    int size_bound_hit;        /* its build passed the size bound (INDEX_SLACK) */
    uint64_t skipped;
    char err[256];
};

static draft *draft_new(void)
{
    draft *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->py_start = INFINITY;
    p->py_end = -INFINITY;
    p->names = strtab_new();
    p->frames = strtab_new();
    p->cnames = strtab_new();
    p->mods = strtab_new();
    if (!p->names || !p->frames || !p->cnames || !p->mods || trie_init(&p->fs, 1) ||
        trie_init(&p->folded, 0)) {
        draft_free(p);
        return NULL;
    }
    return p;
}

#define PART_CHUNK (1u << 20)

/* Feeds [off, off + len) of the file to the parser in chunks (the threads share fd:
 * pread only). */
static int parse_range(ps_parser *ps, struct part *pt)
{
    char *buf = malloc(PART_CHUNK);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    for (uint64_t done = 0; done < pt->len && !rc;) {
        size_t want = pt->len - done < PART_CHUNK ? (size_t)(pt->len - done) : PART_CHUNK;
        ssize_t r = pread(pt->fd, buf, want, (off_t)(pt->off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -errno : -EIO;
            break;
        }
        rc = ps_parser_feed(ps, buf, (size_t)r);
        done += (size_t)r;
    }
    if (!rc)
        rc = ps_parser_finish(ps);
    free(buf);
    return rc;
}

static void *parse_part(void *arg)
{
    struct part *pt = arg;
    struct build *b = &pt->b;
    memset(b, 0, sizeof *b);
    b->max_mem = pt->max_mem;
    pt->rc = -ENOMEM;
    pt->d = draft_new();
    b->p = pt->d;
    b->pst = strtab_new();
    b->rawmap = strtab_new();
    ps_parser *ps = NULL;
    ps_parse_opts o;
    memset(&o, 0, sizeof o);
    o.on_sample = on_sample;
    o.on_header = on_header;
    o.ctx = b;
    o.strtab = b->pst;
    o.max_bytes = pt->max_text;
    if (pt->d && b->pst && b->rawmap && (ps = ps_parser_new(&o))) {
        b->ps = ps;
        if (pt->ranged)
            pt->rc = parse_range(ps, pt);
        else if (pt->rd)
            pt->rc = ps_parse_read(ps, pt->rd, pt->rdctx, pt->err, sizeof pt->err);
        else
            pt->rc = ps_parse_fd(ps, pt->fd, pt->err, sizeof pt->err);
        const ps_stats *st = ps_parser_stats(ps);
        pt->d->parsed_bytes = st->bytes;
        pt->skipped = st->skipped;
    }
    b->ps = NULL;
    ps_parser_free(ps);
    pt->size_bound_hit = b->size_bound_hit;
    build_release(b);
    return NULL;
}

/* Room for n samples in every per-sample array. */
static int samples_reserve_n(draft *p, size_t n)
{
    while (p->cap < n) {
        size_t keep = p->n;
        p->n = p->cap;           /* samples_reserve grows when n == cap */
        int rc = samples_reserve(p);
        p->n = keep;
        if (rc)
            return rc;
    }
    return 0;
}

/* Appends part b's samples, strings, stacks and invocations to a, numbering what is
 * new to a in b's order: the ids a sequential parse of a's text then b's would give.
 * 1 when b cannot be merged (its first event differs from a's: the folded view keeps
 * a's only), 0, or -ENOMEM. */
static int merge(draft *a, draft *b)
{
    if (!a->event || !b->event || strcmp(a->event, b->event) != 0)
        return b->n ? 1 : 0;
    int rc = -ENOMEM;
    uint32_t nn = strtab_count(b->names), nf = strtab_count(b->frames);
    uint32_t nc = strtab_count(b->cnames);
    uint32_t *nmap = malloc(((size_t)nn + 1) * 4), *fmap = malloc(((size_t)nf + 1) * 4);
    uint32_t *cmap = malloc(((size_t)nc + 1) * 4);
    uint32_t *smap = malloc((size_t)b->fs.n * 4), *omap = malloc((size_t)b->folded.n * 4);
    if (!nmap || !fmap || !cmap || !smap || !omap)
        goto out;
    for (uint32_t i = 0; i < nn; i++) {
        size_t len;
        const char *str = strtab_str(b->names, i, &len);
        if ((nmap[i] = strtab_intern(a->names, str, len)) == STRTAB_NONE)
            goto out;
    }
    for (uint32_t i = 0; i < nc; i++) {
        size_t len;
        const char *str = strtab_str(b->cnames, i, &len);
        if ((cmap[i] = strtab_intern(a->cnames, str, len)) == STRTAB_NONE)
            goto out;
    }
    /* modules in b's order (a sequential parse meets them so), then the folded names'
     * modules and addresses where a has none yet */
    for (uint32_t i = 0; i < strtab_count(b->mods); i++) {
        size_t len;
        const char *str = strtab_str(b->mods, i, &len);
        if (strtab_intern(a->mods, str, len) == STRTAB_NONE)
            goto out;
    }
    for (size_t i = 0; i < b->cn_len; i++) {
        if (b->cn_mod[i] == STRTAB_NONE)
            continue;
        size_t len;
        const char *str = strtab_str(b->mods, b->cn_mod[i], &len);
        if (cname_place(a, cmap[i], strtab_find(a->mods, str, len), b->cn_addr[i]))
            goto out;
    }
    for (uint32_t i = 0; i < nf; i++) {
        const char *k = strtab_str(b->frames, i, NULL);
        unsigned char key[5];
        uint32_t nid;
        memcpy(&nid, k, 4);
        nid = nmap[nid];
        memcpy(key, &nid, 4);
        key[4] = (unsigned char)k[4];
        uint32_t fid = strtab_intern(a->frames, key, sizeof key);
        if (fid == STRTAB_NONE)
            goto out;
        if (fid >= a->frame_bits_cap) {
            size_t old = a->frame_bits_cap;
            if (grow((void **)&a->frame_bits, &a->frame_bits_cap, (size_t)fid + 1, 1))
                goto out;
            memset(a->frame_bits + old, 0, a->frame_bits_cap - old);
        }
        if (!a->frame_bits[fid])
            a->frame_bits[fid] = b->frame_bits[i];
        fmap[i] = fid;
    }
    smap[0] = omap[0] = 0;
    for (uint32_t k = 1; k < b->fs.n; k++) {
        int created;
        uint32_t id = trie_child(&a->fs, smap[b->fs.parent[k]], fmap[b->fs.label[k]], &created);
        if (id == PROFILE_NONE)
            goto out;
        if (created)
            a->fs.state[id] = b->fs.state[k];
        smap[k] = id;
    }
    for (uint32_t k = 1; k < b->folded.n; k++) {
        int created;
        omap[k] = trie_child(&a->folded, omap[b->folded.parent[k]], cmap[b->folded.label[k]],
                             &created);
        if (omap[k] == PROFILE_NONE)
            goto out;
    }
    /* periods: one constant while both parts agree, else an array */
    int need_period = a->period || b->period ||
                      (a->period_set && b->period_set && a->period_const != b->period_const);
    if (need_period && !a->period) {
        a->period = malloc((a->cap ? a->cap : 1) * sizeof *a->period);
        if (!a->period)
            goto out;
        for (size_t i = 0; i < a->n; i++)
            a->period[i] = a->period_const;
    }
    if (!a->period_set && b->period_set) {
        a->period_const = b->period_const;
        a->period_set = 1;
    }
    if (samples_reserve_n(a, a->n + b->n))
        goto out;
    for (size_t i = 0; i < b->n; i++) {
        size_t j = a->n + i;
        a->t_ns[j] = b->t_ns[i];
        a->fstack[j] = smap[b->fstack[i] & ~HEAT_IDLE_BIT] | (b->fstack[i] & HEAT_IDLE_BIT);
        a->cstack[j] = b->cstack[i] == PROFILE_NONE ? PROFILE_NONE : omap[b->cstack[i]];
        a->tid[j] = b->tid[i];
        if (a->period)
            a->period[j] = b->period ? b->period[i] : b->period_const;
    }
    a->n += b->n;
    if (grow((void **)&a->inv, &a->invcap, a->ninv + b->ninv, sizeof *a->inv))
        goto out;
    if (b->ninv)
        memcpy(a->inv + a->ninv, b->inv, b->ninv * sizeof *b->inv);
    a->ninv += b->ninv;
    b->ninv = 0;               /* their strings now belong to a */
    a->inv_tids |= b->inv_tids;
    a->parsed_bytes += b->parsed_bytes;
    /* the time bounds and FlameScope's order-dependent start/end, over the whole */
    size_t total = a->n;
    a->n = 0;
    a->py_start = INFINITY;
    a->py_end = -INFINITY;
    for (size_t i = 0; i < total; i++, a->n++)
        record_time(a, a->t_ns[i]);
    rc = 0;
out:
    free(nmap);
    free(fmap);
    free(cmap);
    free(smap);
    free(omap);
    return rc;
}

#define PAR_MIN_BYTES (16u << 20)
#define PAR_WINDOW (1u << 20)

/* Where a plain (not gzip) regular file large enough to parse in two halves can be
 * split: just after the first blank line (a sample's end) past the middle; 0: parse
 * sequentially. */
static uint64_t split_point(int fd, uint64_t max_text, uint64_t *size)
{
    struct stat sb;
    unsigned char magic[2];
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || fstat(fd, &sb) || !S_ISREG(sb.st_mode) ||
        sb.st_size < PAR_MIN_BYTES || (max_text && (uint64_t)sb.st_size > max_text) ||
        pread(fd, magic, 2, 0) != 2 || (magic[0] == 0x1f && magic[1] == 0x8b))
        return 0;
    char *win = malloc(PAR_WINDOW);
    if (!win)
        return 0;
    uint64_t mid = (uint64_t)sb.st_size / 2, at = 0;
    ssize_t r = pread(fd, win, PAR_WINDOW, (off_t)mid);
    const char *cut = r > 0 ? memmem(win, (size_t)r, "\n\n", 2) : NULL;
    if (cut)
        at = mid + (uint64_t)(cut - win) + 2;
    free(win);
    *size = (uint64_t)sb.st_size;
    return at < *size ? at : 0;
}

/* Parses the file in two halves split at `at`, the second on its own thread, and
 * merges them.  1: the halves cannot merge (parse sequentially). */
static int parse_parallel(int fd, uint64_t at, uint64_t size, size_t max_mem,
                          struct part *out)
{
    struct part two;
    memset(&two, 0, sizeof two);
    memset(out, 0, sizeof *out);
    /* each half gets half the budget: together they hold what one build would */
    *out = (struct part){.ranged = 1, .off = 0, .len = at, .fd = fd, .max_mem = max_mem / 2};
    two = (struct part){.ranged = 1, .off = at, .len = size - at, .fd = fd,
                        .max_mem = max_mem / 2};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, parse_part, &two) == 0;
    parse_part(out);
    if (threaded)
        pthread_join(th, NULL);
    else
        parse_part(&two);
    int rc = out->rc ? out->rc : two.rc;
    out->size_bound_hit |= two.size_bound_hit;
    if (!rc)
        rc = merge(out->d, two.d);
    out->skipped += two.skipped;
    if (rc > 0 || rc < 0) {
        draft_free(out->d);
        out->d = NULL;
    }
    draft_free(two.d);
    out->rc = rc < 0 ? rc : 0;
    return rc > 0 ? 1 : 0;
}

static void size_bound_error(char *err, size_t errlen)
{
    snprintf(err, errlen, "its index would pass the size bound: the profile's text size "
             "plus %u MiB", INDEX_SLACK >> 20);
}

profile *profile_build(int fd, uint64_t max_text, int *errp, char *err, size_t errlen)
{
    return profile_build_read(NULL, &fd, max_text, errp, err, errlen);
}

profile *profile_build_budget(int fd, uint64_t max_text, size_t max_mem, int *errp,
                              char *err, size_t errlen)
{
    return profile_build_read_budget(NULL, &fd, max_text, max_mem, errp, err, errlen);
}

profile *profile_build_read(ssize_t (*rd)(void *ctx, void *buf, size_t len), void *ctx,
                            uint64_t max_text, int *errp, char *err, size_t errlen)
{
    return profile_build_read_budget(rd, ctx, max_text, 0, errp, err, errlen);
}

profile *profile_build_read_budget(ssize_t (*rd)(void *ctx, void *buf, size_t len), void *ctx,
                                   uint64_t max_text, size_t max_mem, int *errp, char *err,
                                   size_t errlen)
{
    struct part pt;
    memset(&pt, 0, sizeof pt);
    profile *out = NULL;
    int rc;
    if (err && errlen)
        err[0] = 0;
    int fd = rd ? -1 : *(int *)ctx;
    uint64_t size = 0, at = fd >= 0 ? split_point(fd, max_text, &size) : 0;
    int done = at && parse_parallel(fd, at, size, max_mem, &pt) == 0;
    if (!done) {
        memset(&pt, 0, sizeof pt);
        pt.fd = fd;
        pt.rd = rd;
        pt.rdctx = ctx;
        pt.max_text = max_text;
        pt.max_mem = max_mem;
        parse_part(&pt);
    }
    draft *p = pt.d;
    rc = pt.rc;
    if (err && errlen && pt.err[0])
        snprintf(err, errlen, "%s", pt.err);
    if (rc == 0 && !p)
        rc = -ENOMEM;
    if (rc == 0 && p->n == 0 && pt.skipped > 0) {
        rc = -FT_ERR_NOT_PERF;
        if (err)
            snprintf(err, errlen, "not perf script text (%llu unreadable lines, no sample)",
                     (unsigned long long)pt.skipped);
    }
    if (rc > 0)
        rc = -EIO;
    if (rc == -FT_ERR_OVER_BUDGET && err && pt.size_bound_hit)
        size_bound_error(err, errlen);
    else if (rc == -FT_ERR_OVER_BUDGET && err)
        snprintf(err, errlen, "its index would pass the memory budget of %zu bytes (--cache)",
                 max_mem);
    if (rc)
        goto fail;
    rc = -ENOMEM;
    if (trie_seal(&p->fs) || trie_seal(&p->folded))
        goto fail;
    finish(p);
    if (!(out = freeze(p)))
        goto fail;
    if ((uint64_t)profile_memory(out) > p->parsed_bytes + INDEX_SLACK) {
        rc = -FT_ERR_OVER_BUDGET;
        if (err)
            size_bound_error(err, errlen);
        profile_free(out);
        out = NULL;
        goto fail;
    }
    draft_free(p);
    return out;
fail:
    if (rc == -ENOMEM && err && !err[0])
        snprintf(err, errlen, "out of memory while indexing");
    else if (err && !err[0])
        snprintf(err, errlen, "%s", strerror(-rc));
    if (errp)
        *errp = rc;
    draft_free(p);
    return NULL;
}
