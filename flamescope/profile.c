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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fterr.h"
#include "naming.h"
#include "perfscript.h"
#include "strtab.h"
#include "profile_index.h"
#include "trie.h"


const char *profile_ftype_name(int type)
{
    static const char *const n[FT__COUNT] = {"", "user", "kernel", "jit", "inlined"};
    return type >= 0 && type < FT__COUNT ? n[type] : "";
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
                            const char *mod, size_t mlen, const struct comm_info *ci)
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
        if (cn == STRTAB_NONE || pool_push(b, cn))   /* may move b->raws: index again */
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
    return raw_folded_names(b, id, sym, slen, mod, mlen, ci);
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
    if (iv.trace_id.len == sizeof o->trace_id - 1)
        memcpy(o->trace_id, iv.trace_id.p, iv.trace_id.len);
    p->inv_bytes += iv.id.len + iv.fn.len + 2;
    o->tid = (iv.flags & PS_INV_TID) ? iv.tid : 0;
    if (o->tid > 0)
        p->inv_tids = 1;
    p->ninv++;
    return 0;
}

/* Room for one more sample in the per-sample arrays. */
static int samples_reserve(profile *p)
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
    profile *p = b->p;
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
    profile *p = b->p;
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
static int record_period(profile *p, const ps_sample *s)
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
static void record_time(profile *p, uint64_t t)
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
    profile *p = b->p;
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
        rc = -FT_ERR_NOT_PERF;
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
