/* pindex — see pindex.h.  The header is a fixed struct; each section's length must be
 * exactly its count times its element size (the byte sections: their own length), so
 * a reader derives nothing from a field it has not checked against the file size.
 * The sections tile the file (each starts where the last one's padding ends), and each
 * has its own XXH3 hash, of its bytes and padding, in the header: with the header's
 * hash, every byte of the file is covered by exactly one hash, checked before its
 * section is read. */
#include "pindex.h"
#include "profile_index.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xxhash.h>

#include "errbuf.h"
#include "fterr.h"

static const char MAGIC[8] = "FNTRIDX";

enum {
    S_T_NS, S_FSTACK, S_CSTACK, S_PERIOD, S_TID, S_SEC,
    S_FS_PARENT, S_FS_LABEL, S_FS_STATE, S_FO_PARENT, S_FO_LABEL,
    S_FRAME_NAME, S_FRAME_TYPE, S_NAMES_OFF, S_NAMES, S_CNAMES_OFF, S_CNAMES,
    S_EVENT, S_INV, S_INV_STR, S_CN_MOD, S_CN_ADDR, S_MODS_OFF, S_MODS, S__COUNT
};

struct inv_rec {
    uint64_t start_ns, end_ns;
    int32_t status, tid;
    uint32_t flags, id_len, fn_len, pad;
    uint64_t str_off;
    char trace_id[40];         /* profile_invocation's 33 bytes, NUL-padded */
};
#define INV_END 1u
#define INV_STATUS 2u

#define H_PERIOD 1u
#define H_TID 2u
#define H_SEC 4u

struct header {
    char magic[8];
    uint64_t header_hash;      /* of the bytes after this field */
    uint32_t version, header_size;
    uint64_t file_size;
    struct pindex_key key;
    uint64_t n, period_const, min_ns, max_ns, parsed_bytes, ninv;
    double base_s, end_s;
    uint32_t nsec, flags;
    uint32_t fs_n, fo_n, nframes, nnames, ncnames, nmods;
    struct { uint64_t off, len; } sect[S__COUNT];
    uint64_t sect_hash[S__COUNT];   /* of [off, off + len rounded up to 8) */
};
_Static_assert(sizeof(struct header) % 8 == 0, "header keeps sections aligned");
_Static_assert(sizeof(struct header) <= PINDEX_HEADER_MAX, "PINDEX_HEADER_MAX holds it");
_Static_assert(sizeof(struct inv_rec) == 88, "invocation record size");
_Static_assert(sizeof ((struct profile_invocation *)0)->trace_id <= 40, "trace id fits");

size_t pindex_header_size(void) { return sizeof(struct header); }

/* XXH3 (libxxhash): checking a section runs at memory speed, so checking a whole
 * 12 MB index costs about a millisecond, not a pass of a slower hash. */
#define BODY_SEED 0x66737478626f6479ull

static uint64_t pad8(uint64_t len) { return (len + 7) & ~7ull; }

static uint64_t header_hash(const struct header *h)
{
    const char *p = (const char *)h + 16;
    return XXH3_64bits_withSeed(p, sizeof *h - 16, 0x66747269647868ull);
}

/* Section i's hash over img, whose sections were checked to tile it. */
static uint64_t sect_hash(const struct header *h, const char *img, int i)
{
    return XXH3_64bits_withSeed(img + h->sect[i].off, pad8(h->sect[i].len),
                                BODY_SEED + (uint64_t)i);
}

void pindex_header_set_key(void *header, const struct pindex_key *key)
{
    struct header *h = header;
    memset(&h->key, 0, sizeof h->key);
    h->key.size = key->size;
    h->key.mtime_ns = key->mtime_ns;
    h->key.content_hash = key->content_hash;
    snprintf(h->key.version, sizeof h->key.version, "%s", key->version);
    h->header_hash = header_hash(h);
}

const void *pindex_of(const profile *p, size_t *len)
{
    *len = p->image_len;
    return p->image;
}

/* ------------------------------------------------------------------ writing */

struct src { const void *p; uint64_t len; };

void *pindex_image(const struct profile *p, size_t *lenp)
{
    struct header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, sizeof MAGIC);
    h.version = PINDEX_VERSION;
    h.header_size = sizeof h;
    h.n = p->n;
    h.period_const = p->period_const;
    h.min_ns = p->min_ns;
    h.max_ns = p->max_ns;
    h.parsed_bytes = p->parsed_bytes;
    h.ninv = p->ninv;
    h.base_s = p->base_s;
    h.end_s = p->end_s;
    h.nsec = p->sec_first ? p->nsec : 0;
    h.flags = (p->period ? H_PERIOD : 0) | (p->tid ? H_TID : 0) | (p->sec_first ? H_SEC : 0);
    h.fs_n = p->fs.n;
    h.fo_n = p->folded.n;
    h.nframes = p->nframes;
    h.nnames = p->names.n;
    h.ncnames = p->cnames.n;
    h.nmods = p->mods.n;

    uint64_t inv_str = 0;
    for (size_t i = 0; i < p->ninv; i++)
        inv_str += strlen(p->inv[i].id) + strlen(p->inv[i].fn) + 2;
    const char *event = p->event ? p->event : "";
    size_t n = p->n, fn = p->fs.n, on = p->folded.n;
    struct src s[S__COUNT] = {
        [S_T_NS] = {p->t_ns, n * 8},
        [S_FSTACK] = {p->fstack, n * 4},
        [S_CSTACK] = {p->cstack, n * 4},
        [S_PERIOD] = {p->period, p->period ? n * 8 : 0},
        [S_TID] = {p->tid, p->tid ? n * 4 : 0},
        [S_SEC] = {p->sec_first, p->sec_first ? ((uint64_t)p->nsec + 1) * 8 : 0},
        [S_FS_PARENT] = {p->fs.parent, fn * 4},
        [S_FS_LABEL] = {p->fs.label, fn * 4},
        [S_FS_STATE] = {p->fs.state, fn},
        [S_FO_PARENT] = {p->folded.parent, on * 4},
        [S_FO_LABEL] = {p->folded.label, on * 4},
        [S_FRAME_NAME] = {p->frame_name, (uint64_t)p->nframes * 4},
        [S_FRAME_TYPE] = {p->frame_type, p->nframes},
        [S_NAMES_OFF] = {p->names.off, ((uint64_t)p->names.n + 1) * 8},
        [S_NAMES] = {p->names.bytes, p->names.off[p->names.n]},
        [S_CNAMES_OFF] = {p->cnames.off, ((uint64_t)p->cnames.n + 1) * 8},
        [S_CNAMES] = {p->cnames.bytes, p->cnames.off[p->cnames.n]},
        [S_EVENT] = {event, strlen(event) + 1},
        [S_INV] = {NULL, (uint64_t)p->ninv * sizeof(struct inv_rec)},
        [S_INV_STR] = {NULL, inv_str},
        [S_CN_MOD] = {p->cname_mod, (uint64_t)p->cnames.n * 4},
        [S_CN_ADDR] = {p->cname_addr, (uint64_t)p->cnames.n * 8},
        [S_MODS_OFF] = {p->mods.off, ((uint64_t)p->mods.n + 1) * 8},
        [S_MODS] = {p->mods.bytes, p->mods.off[p->mods.n]},
    };
    uint64_t off = sizeof h;
    for (int i = 0; i < S__COUNT; i++) {
        h.sect[i].off = off;
        h.sect[i].len = s[i].len;
        off += pad8(s[i].len);
    }
    h.file_size = off;
    char *img = calloc(1, off);
    if (!img)
        return NULL;
    for (int i = 0; i < S__COUNT; i++)
        if (s[i].p && s[i].len)
            memcpy(img + h.sect[i].off, s[i].p, s[i].len);
    struct inv_rec *rec = (struct inv_rec *)(img + h.sect[S_INV].off);
    char *str = img + h.sect[S_INV_STR].off;
    uint64_t so = 0;
    for (size_t i = 0; i < p->ninv; i++) {
        const struct profile_invocation *v = &p->inv[i];
        size_t il = strlen(v->id), fl = strlen(v->fn);
        rec[i] = (struct inv_rec){v->start_ns, v->end_ns, v->status, v->tid,
                                  (v->has_end ? INV_END : 0) | (v->has_status ? INV_STATUS : 0),
                                  (uint32_t)il, (uint32_t)fl, 0, so, {0}};
        memcpy(rec[i].trace_id, v->trace_id, sizeof v->trace_id);
        memcpy(str + so, v->id, il + 1);
        memcpy(str + so + il + 1, v->fn, fl + 1);
        so += il + fl + 2;
    }
    for (int i = 0; i < S__COUNT; i++)
        h.sect_hash[i] = sect_hash(&h, img, i);
    h.header_hash = header_hash(&h);
    memcpy(img, &h, sizeof h);
    *lenp = off;
    return img;
}

void pindex_seal(void *image, size_t len)
{
    struct header h;
    if (len < sizeof h)
        return;
    memcpy(&h, image, sizeof h);
    h.file_size = len;
    for (int i = 0; i < S__COUNT; i++)     /* the sections inside the image only */
        if (h.sect[i].off <= len && pad8(h.sect[i].len) <= len - h.sect[i].off &&
            h.sect[i].len <= len)
            h.sect_hash[i] = sect_hash(&h, image, i);
    h.header_hash = header_hash(&h);
    memcpy(image, &h, sizeof h);
}

/* ------------------------------------------------------------------ reading */

static int check_header(const struct header *h, size_t len, char *err, size_t errlen);

int pindex_summary(const void *header, size_t hlen, uint64_t file_size,
                   struct pindex_summary *out, char *err, size_t errlen)
{
    struct header h;
    memset(out, 0, sizeof *out);
    if (hlen < sizeof h) {
        err_set(err, errlen, "index shorter than its header");
        return -FT_ERR_CORRUPT;
    }
    memcpy(&h, header, sizeof h);
    if (file_size > SIZE_MAX || check_header(&h, (size_t)file_size, err, errlen))
        return -FT_ERR_CORRUPT;
    out->key = h.key;
    out->key.version[sizeof out->key.version - 1] = 0;
    out->samples = h.n;
    out->first_ns = h.n ? h.min_ns : 0;
    out->last_ns = h.n ? h.max_ns : 0;
    out->invocations = h.ninv;
    return 0;
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -FT_ERR_CORRUPT;
}

/* Section i holds exactly count elements of size elem, inside the file. */
static int sect_ok(const struct header *h, int i, uint64_t count, uint64_t elem)
{
    uint64_t off = h->sect[i].off, len = h->sect[i].len;
    if (off % 8 || off < sizeof *h || off > h->file_size || len > h->file_size - off)
        return 0;
    if (elem == 0)                 /* a byte section of its own length */
        return 1;
    return count <= h->file_size / elem && len == count * elem;
}

static int check_tree(const struct ptree *t, uint32_t nlabels)
{
    if (t->n == 0 || t->parent[0] != PROFILE_NONE)
        return 0;
    for (uint32_t i = 1; i < t->n; i++)
        if (t->parent[i] >= i || t->label[i] >= nlabels)
            return 0;
    return 1;
}

static int check_strs(const struct pstrs *s, uint64_t bytes_len)
{
    if (s->off[0] != 0 || s->off[s->n] != bytes_len)
        return 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->off[i + 1] <= s->off[i] || s->off[i + 1] > bytes_len ||
            s->bytes[s->off[i + 1] - 1] != 0)
            return 0;
    return 1;
}

/* Counts and sections of a header (the arrays not yet read). */
static int check_header(const struct header *h, size_t len, char *err, size_t errlen)
{
    if (len < sizeof *h || memcmp(h->magic, MAGIC, sizeof MAGIC) != 0)
        return bad(err, errlen, "not an index file");
    if (h->version != PINDEX_VERSION)
        return bad(err, errlen, "index format %u, this build reads %u", h->version,
                   PINDEX_VERSION);
    if (h->header_size != sizeof *h)
        return bad(err, errlen, "index header of %u bytes, this build's is %zu",
                   h->header_size, sizeof *h);
    if (h->header_hash != header_hash(h))
        return bad(err, errlen, "index header checksum mismatch");
    if (h->file_size != len)
        return bad(err, errlen, "index is %zu bytes, its header says %llu", len,
                   (unsigned long long)h->file_size);
    uint64_t n = h->n;
    int ok = sect_ok(h, S_T_NS, n, 8) && sect_ok(h, S_FSTACK, n, 4) &&
             sect_ok(h, S_CSTACK, n, 4) &&
             sect_ok(h, S_PERIOD, (h->flags & H_PERIOD) ? n : 0, 8) &&
             sect_ok(h, S_TID, (h->flags & H_TID) ? n : 0, 4) &&
             sect_ok(h, S_SEC, (h->flags & H_SEC) ? (uint64_t)h->nsec + 1 : 0, 8) &&
             sect_ok(h, S_FS_PARENT, h->fs_n, 4) && sect_ok(h, S_FS_LABEL, h->fs_n, 4) &&
             sect_ok(h, S_FS_STATE, h->fs_n, 1) &&
             sect_ok(h, S_FO_PARENT, h->fo_n, 4) && sect_ok(h, S_FO_LABEL, h->fo_n, 4) &&
             sect_ok(h, S_FRAME_NAME, h->nframes, 4) &&
             sect_ok(h, S_FRAME_TYPE, h->nframes, 1) &&
             sect_ok(h, S_NAMES_OFF, (uint64_t)h->nnames + 1, 8) && sect_ok(h, S_NAMES, 0, 0) &&
             sect_ok(h, S_CNAMES_OFF, (uint64_t)h->ncnames + 1, 8) &&
             sect_ok(h, S_CNAMES, 0, 0) && sect_ok(h, S_EVENT, 0, 0) &&
             sect_ok(h, S_INV, h->ninv, sizeof(struct inv_rec)) && sect_ok(h, S_INV_STR, 0, 0) &&
             sect_ok(h, S_CN_MOD, h->ncnames, 4) && sect_ok(h, S_CN_ADDR, h->ncnames, 8) &&
             sect_ok(h, S_MODS_OFF, (uint64_t)h->nmods + 1, 8) && sect_ok(h, S_MODS, 0, 0);
    /* the sections tile the file: every byte after the header is in one section's hash */
    uint64_t end = sizeof *h;
    for (int i = 0; ok && i < S__COUNT; i++) {
        ok = h->sect[i].off == end;
        end += pad8(h->sect[i].len);   /* len <= file_size - off: no overflow */
    }
    if (!ok || end != h->file_size)
        return bad(err, errlen, "index section outside the file or of the wrong size");
    if (h->flags & ~(H_PERIOD | H_TID | H_SEC) || !isfinite(h->base_s) ||
        !isfinite(h->end_s) || h->sect[S_EVENT].len == 0 || (h->n && h->min_ns > h->max_ns))
        return bad(err, errlen, "index header holds impossible values");
    return 0;
}

/* The parts of an index (profile.h's PROFILE_PART_*) and their sections. */
static const int HEAT_SECTS[] = {S_T_NS, S_FSTACK, S_SEC};

static int in_heat(int s)
{
    for (size_t k = 0; k < sizeof HEAT_SECTS / sizeof HEAT_SECTS[0]; k++)
        if (HEAT_SECTS[k] == s)
            return 1;
    return 0;
}

/* The hashes of part's sections (PROFILE_PART_HEAT or PROFILE_PART_REST). */
static int check_hashes(const struct header *h, const char *img, unsigned part)
{
    for (int i = 0; i < S__COUNT; i++)
        if ((part == PROFILE_PART_HEAT) == in_heat(i) && sect_hash(h, img, i) != h->sect_hash[i])
            return 0;
    return 1;
}

/* The heat part's values: each sample's FlameScope stack (the heatmap reads its idle
 * bit, a flame graph its node) and the per-second table. */
static int check_heat_values(const profile *p)
{
    for (size_t i = 0; i < p->n; i++) {
        /* a sample's stack is a node under a comm: never the root */
        uint32_t fs = p->fstack[i] & ~HEAT_IDLE_BIT;
        if (fs == 0 || fs >= p->fs.n)
            return 0;
    }
    if (p->sec_first) {
        for (uint32_t c = 0; c <= p->nsec; c++)
            if (p->sec_first[c] > p->n || (c && p->sec_first[c] < p->sec_first[c - 1]))
                return 0;
    }
    return 1;
}

/* The rest: every other value a query uses as an index, against what it indexes. */
static int check_values(const profile *p, const struct header *h, const char *img)
{
    for (size_t i = 0; i < p->n; i++) {
        uint32_t cs = p->cstack[i];
        if (cs == 0 || (cs != PROFILE_NONE && cs >= p->folded.n))
            return 0;
        if (p->period && p->period[i] == 0)
            return 0;
    }
    if (!check_tree(&p->fs, p->nframes) || !check_tree(&p->folded, p->cnames.n))
        return 0;
    for (uint32_t f = 0; f < p->nframes; f++)
        if (p->frame_name[f] >= p->names.n || p->frame_type[f] >= FT__COUNT)
            return 0;
    if (!check_strs(&p->names, h->sect[S_NAMES].len) ||
        !check_strs(&p->cnames, h->sect[S_CNAMES].len) ||
        !check_strs(&p->mods, h->sect[S_MODS].len))
        return 0;
    for (uint32_t c = 0; c < p->cnames.n; c++)
        if (p->cname_mod[c] != PROFILE_NONE && p->cname_mod[c] >= p->mods.n)
            return 0;
    if (img[h->sect[S_EVENT].off + h->sect[S_EVENT].len - 1] != 0)
        return 0;
    const struct inv_rec *rec = (const void *)(img + h->sect[S_INV].off);
    uint64_t slen = h->sect[S_INV_STR].len;
    const char *str = img + h->sect[S_INV_STR].off;
    for (size_t i = 0; i < h->ninv; i++) {
        uint64_t o = rec[i].str_off, il = rec[i].id_len, fl = rec[i].fn_len;
        if (o > slen || il >= slen - o || fl >= slen - o - il - 1 ||
            str[o + il] != 0 || str[o + il + 1 + fl] != 0 || rec[i].flags & ~3u ||
            rec[i].trace_id[sizeof p->inv[0].trace_id - 1] != 0)
            return 0;
    }
    return 1;
}

/* An image opened with PINDEX_CHECK_LAZY: its header (checked) and which parts have
 * been verified since.  The parts' bits are published with release and read with
 * acquire, so a reader that sees a part verified sees what its check set up. */
struct pindex_lazy {
    struct header h;           /* a copy: the checks never re-read the mapped header */
    pthread_mutex_t mu;
    unsigned done;             /* PROFILE_PART_* verified */
    int failed;                /* a part failed: the index is refused for good */
    char why[96];
};

/* The invocations from their checked records. */
static int load_invocations(profile *p, const struct header *h, const char *img)
{
    size_t ninv = h->ninv;
    if (ninv && !(p->inv = calloc(ninv, sizeof *p->inv)))
        return -ENOMEM;
    const struct inv_rec *rec = (const void *)(img + h->sect[S_INV].off);
    const char *str = img + h->sect[S_INV_STR].off;
    for (size_t i = 0; i < ninv; i++) {
        struct profile_invocation *v = &p->inv[i];
        v->id = (char *)str + rec[i].str_off;
        v->fn = v->id + rec[i].id_len + 1;
        v->start_ns = rec[i].start_ns;
        v->end_ns = rec[i].end_ns;
        v->has_end = (rec[i].flags & INV_END) != 0;
        v->has_status = (rec[i].flags & INV_STATUS) != 0;
        v->status = rec[i].status;
        v->tid = rec[i].tid;
        memcpy(v->trace_id, rec[i].trace_id, sizeof v->trace_id);
    }
    p->ninv = ninv;
    return 0;
}

/* Verifies one part of p (its hashes, then its values) and sets up what it holds:
 * 0, -FT_ERR_CORRUPT with the reason in err, -ENOMEM. */
static int verify_part(profile *p, const struct header *h, unsigned part, char *err,
                       size_t errlen)
{
    const char *img = p->image;
    if (!check_hashes(h, img, part))
        return bad(err, errlen, "index checksum mismatch (%s)",
                   part == PROFILE_PART_HEAT ? "sample times and stacks" : "stacks and names");
    if (part == PROFILE_PART_HEAT ? !check_heat_values(p) : !check_values(p, h, img))
        return bad(err, errlen, "index holds an id or offset out of its bounds");
    return part == PROFILE_PART_HEAT ? 0 : load_invocations(p, h, img);
}

int pindex_open(void *image, size_t len, int mapped, int check, const struct pindex_key *want,
                profile **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *img = image;
    struct header h;
    if (len < sizeof h)
        return bad(err, errlen, "index file too short (%zu bytes)", len);
    memcpy(&h, img, sizeof h);
    int rc;
    if (check && (rc = check_header(&h, len, err, errlen)))
        return rc;
    if (want && (h.key.size != want->size || h.key.mtime_ns != want->mtime_ns ||
                 h.key.content_hash != want->content_hash ||
                 strncmp(h.key.version, want->version, sizeof h.key.version) != 0)) {
        if (err && errlen)
            snprintf(err, errlen, "index is of another version of the trace");
        return -ESTALE;
    }
    profile *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
#define AT(i) ((const void *)(img + h.sect[i].off))
    p->n = h.n;
    p->t_ns = AT(S_T_NS);
    p->fstack = AT(S_FSTACK);
    p->cstack = AT(S_CSTACK);
    p->period = (h.flags & H_PERIOD) ? AT(S_PERIOD) : NULL;
    p->tid = (h.flags & H_TID) ? AT(S_TID) : NULL;
    p->period_const = h.period_const;
    p->min_ns = h.min_ns;
    p->max_ns = h.max_ns;
    p->base_s = h.base_s;
    p->end_s = h.end_s;
    p->nsec = h.nsec;
    p->sec_first = (h.flags & H_SEC) ? AT(S_SEC) : NULL;
    p->fs = (struct ptree){h.fs_n, AT(S_FS_PARENT), AT(S_FS_LABEL), NULL, NULL,
                           AT(S_FS_STATE)};
    p->folded = (struct ptree){h.fo_n, AT(S_FO_PARENT), AT(S_FO_LABEL), NULL, NULL, NULL};
    p->nframes = h.nframes;
    p->frame_name = AT(S_FRAME_NAME);
    p->frame_type = AT(S_FRAME_TYPE);
    p->names = (struct pstrs){h.nnames, AT(S_NAMES_OFF), AT(S_NAMES)};
    p->cnames = (struct pstrs){h.ncnames, AT(S_CNAMES_OFF), AT(S_CNAMES)};
    p->cname_mod = AT(S_CN_MOD);
    p->cname_addr = AT(S_CN_ADDR);
    p->mods = (struct pstrs){h.nmods, AT(S_MODS_OFF), AT(S_MODS)};
    p->event = AT(S_EVENT);
    p->parsed_bytes = h.parsed_bytes;
#undef AT
    p->image = image;
    if (check == PINDEX_CHECK_LAZY) {
        struct pindex_lazy *lz = calloc(1, sizeof *lz);
        if (!lz) {
            free(p);
            return -ENOMEM;
        }
        lz->h = h;
        pthread_mutex_init(&lz->mu, NULL);
        p->lazy = lz;              /* invocations: loaded with the rest, when verified */
    } else {
        rc = check ? verify_part(p, &h, PROFILE_PART_HEAT, err, errlen) : 0;
        if (!rc)
            rc = check ? verify_part(p, &h, PROFILE_PART_REST, err, errlen)
                       : load_invocations(p, &h, img);
        if (rc) {
            free(p->inv);
            free(p);
            return rc;
        }
    }
    p->image_len = len;
    p->mapped = mapped;
    *out = p;
    return 0;
}

int profile_verify(const profile *cp, unsigned parts, char *err, size_t errlen)
{
    profile *p = (profile *)cp;    /* what a part's check sets up is published once */
    struct pindex_lazy *lz = p->lazy;
    if (!lz)
        return 0;                  /* built, or checked whole when opened */
    unsigned want = parts & PROFILE_PART_ALL;
    if ((__atomic_load_n(&lz->done, __ATOMIC_ACQUIRE) & want) == want)
        return 0;
    pthread_mutex_lock(&lz->mu);
    int rc = 0;
    for (unsigned part = PROFILE_PART_HEAT; !rc && part <= PROFILE_PART_REST; part <<= 1) {
        if (!(want & part) || (lz->done & part))
            continue;
        if (lz->failed)
            rc = -FT_ERR_CORRUPT;
        else if ((rc = verify_part(p, &lz->h, part, lz->why, sizeof lz->why)) == -FT_ERR_CORRUPT)
            lz->failed = 1;
        else if (!rc)
            __atomic_store_n(&lz->done, lz->done | part, __ATOMIC_RELEASE);
    }
    if (rc == -FT_ERR_CORRUPT)
        err_set(err, errlen, "%s", lz->why);
    pthread_mutex_unlock(&lz->mu);
    return rc;
}

void profile_free(profile *p)
{
    if (!p)
        return;
    if (p->mapped)
        munmap(p->image, p->image_len);
    else
        free(p->image);
    free(p->inv);
    free(p->order);
    struct pindex_lazy *lz = p->lazy;
    if (lz) {
        pthread_mutex_destroy(&lz->mu);
        free(lz);
    }
    free(p);
}

size_t profile_memory(const profile *p)
{
    /* the FlameScope tree's order counts from the start: derived on first use */
    return sizeof *p + p->image_len + p->ninv * sizeof *p->inv +
           (size_t)p->fs.n * 4 * sizeof *p->order;
}
