/* export — see export.h.
 *
 * Every format starts from the same aggregation: the folded stack of each selected
 * sample (profile's stackcollapse naming), summed into per-stack sample counts and
 * period sums.  pprof is protobuf encoded by hand (the schema is small), then gzip'd. */
#include "export.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftree.h"
#include "gz.h"
#include "oatable.h"
#include "units.h"

struct agg {
    uint32_t n;           /* folded stacks */
    uint64_t *count;      /* samples per stack */
    uint64_t *weight;     /* period sum per stack */
    uint64_t total_count, total_weight;
    uint64_t first_ns, last_ns;   /* earliest and latest sample counted */
};

/* What a writer reads (export.h: struct export_job is opaque outside). */
struct export_job {
    const profile *p;
    const struct profile_range *r;       /* NULL: all samples */
    const struct agg *a;
    const char *title;
};

static int in_sel(const profile *p, size_t i, const struct profile_range *r, int check)
{
    return !check || !r || profile_in_range(p, i, r);
}

static void bounds(const profile *p, const struct profile_range *r, size_t *lo, size_t *hi,
                   int *check)
{
    if (!r) {
        *lo = 0;
        *hi = profile_nsamples(p);
        *check = 0;
        return;
    }
    profile_range_bounds(p, r, lo, hi);
    *check = 1;   /* cheap, and exact for unsorted profiles too */
}

static int aggregate(const profile *p, const struct profile_range *r, struct agg *a)
{
    memset(a, 0, sizeof *a);
    a->n = profile_folded_nstacks(p);
    a->count = calloc(a->n + 1, sizeof *a->count);
    a->weight = calloc(a->n + 1, sizeof *a->weight);
    if (!a->count || !a->weight) {
        free(a->count);
        free(a->weight);
        return -ENOMEM;
    }
    size_t lo, hi;
    int check;
    bounds(p, r, &lo, &hi, &check);
    for (size_t i = lo; i < hi; i++) {
        uint32_t s = profile_folded_sample_stack(p, i);
        if (s == PROFILE_NONE || !in_sel(p, i, r, check))
            continue;
        uint64_t w = profile_period(p, i), t = profile_time_ns(p, i);
        if (!a->total_count || t < a->first_ns)
            a->first_ns = t;
        if (!a->total_count || t > a->last_ns)
            a->last_ns = t;
        a->count[s]++;
        a->weight[s] += w;
        a->total_count++;
        a->total_weight += w;
    }
    return 0;
}

static void agg_free(struct agg *a)
{
    free(a->count);
    free(a->weight);
}

/* The folded names of a stack node, root (the process name) first, into *buf. */
struct path {
    uint32_t *v;
    size_t n, cap;
};

static int node_path(const profile *p, uint32_t node, struct path *out)
{
    const uint32_t *parent = profile_folded_parents(p);
    size_t depth = 0;
    for (uint32_t x = node; x != 0; x = parent[x])
        depth++;
    if (depth > out->cap) {
        uint32_t *v = realloc(out->v, depth * sizeof *v);
        if (!v)
            return -ENOMEM;
        out->v = v;
        out->cap = depth;
    }
    out->n = depth;
    for (uint32_t x = node; x != 0; x = parent[x])
        out->v[--depth] = profile_folded_label(p, x);
    return 0;
}

/* ------------------------------------------------------------------ folded */

struct line {
    char *s;
    size_t len;
    uint64_t w;
};

static int cmp_line(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int write_folded(const struct export_job *j, sbuf *out)
{
    const profile *p = j->p;
    const struct agg *a = j->a;
    size_t nl = 0;
    for (uint32_t s = 0; s < a->n; s++)
        nl += a->count[s] != 0;
    struct line *lines = calloc(nl + 1, sizeof *lines);
    sbuf text;
    sbuf_init(&text);
    if (!lines)
        return -ENOMEM;
    /* first pass: all stack texts into one buffer, remembered by offset */
    size_t *off = malloc((nl + 1) * sizeof *off);
    if (!off) {
        free(lines);
        return -ENOMEM;
    }
    size_t k = 0;
    struct path path = {0};
    for (uint32_t s = 0; s < a->n; s++) {
        if (!a->count[s])
            continue;
        if (node_path(p, s, &path)) {
            text.failed = 1;
            break;
        }
        off[k] = text.len;
        for (size_t i = 0; i < path.n; i++) {
            size_t len;
            const char *name = profile_folded_name(p, path.v[i], &len);
            if (i)
                sbuf_addc(&text, ';');
            sbuf_add(&text, name, len);
        }
        lines[k].len = text.len - off[k];
        lines[k].w = a->weight[s];
        k++;
    }
    free(path.v);
    if (sbuf_failed(&text)) {
        free(off);
        free(lines);
        sbuf_free(&text);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nl; i++)
        lines[i].s = text.p + off[i];
    free(off);
    qsort(lines, nl, sizeof *lines, cmp_line);
    for (size_t i = 0; i < nl;) {
        size_t j = i + 1;
        uint64_t w = lines[i].w;
        while (j < nl && cmp_line(&lines[i], &lines[j]) == 0)
            w += lines[j++].w;
        sbuf_add(out, lines[i].s, lines[i].len);
        sbuf_addc(out, ' ');
        sbuf_u64(out, w);
        sbuf_addc(out, '\n');
        i = j;
    }
    free(lines);
    sbuf_free(&text);
    return sbuf_failed(out) ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ svg */

static const char *folded_label(const void *ctx, uint32_t node, size_t *len, int *type)
{
    *type = FT_NONE;
    return profile_folded_name(ctx, profile_folded_label(ctx, node), len);
}

static void xml_text(sbuf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '<': sbuf_adds(out, "&lt;"); break;
        case '>': sbuf_adds(out, "&gt;"); break;
        case '&': sbuf_adds(out, "&amp;"); break;
        case '"': sbuf_adds(out, "&quot;"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                sbuf_addc(out, '?');
            } else if (c < 0x80) {
                sbuf_addc(out, (char)c);
            } else {
                /* XML must be UTF-8 of XML characters: U+FFFD for anything else */
                size_t l = sbuf_utf8_len((const unsigned char *)s + i, len - i);
                if (l == 0 || (l == 3 && c == 0xef && (unsigned char)s[i + 1] == 0xbf &&
                               (unsigned char)s[i + 2] >= 0xbe)) {
                    sbuf_adds(out, "\xef\xbf\xbd");
                } else {
                    sbuf_add(out, s + i, l);
                    i += l - 1;
                }
            }
        }
    }
}

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Click a frame to zoom into it, "Reset Zoom" to go back, "Search" highlights the
 * frames whose name matches a regular expression.  Frames keep their unzoomed position
 * and width (fractions of the whole) in data-x/data-w. */
static const char svg_script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "var W=0,frames=[];\n"
    "function $(id){return document.getElementById(id)}\n"
    "function init(){W=+document.documentElement.getAttribute('data-w');"
    "frames=Array.prototype.slice.call(document.querySelectorAll('g.f'));"
    "frames.forEach(function(g){g.addEventListener('click',function(){zoom(g)});"
    "g.addEventListener('mouseover',function(){$('details').textContent="
    "g.querySelector('title').textContent});"
    "g.addEventListener('mouseout',function(){$('details').textContent=' '})});"
    "$('reset').addEventListener('click',function(){zoom(null)});"
    "$('search').addEventListener('click',search)}\n"
    "function place(g,x0,w0){var x=+g.getAttribute('data-x'),w=+g.getAttribute('data-w');"
    "var r=g.querySelector('rect'),t=g.querySelector('text');"
    "var nx=10+Math.max(x-x0,0)/w0*(W-20),nw=(Math.min(x+w,x0+w0)-Math.max(x,x0))/w0*(W-20);"
    "if(nw<0.1){g.style.display='none';return}g.style.display='';"
    "r.setAttribute('x',nx);r.setAttribute('width',Math.max(nw-0.5,0.1));t.setAttribute('x',nx+3);"
    "var n=t.getAttribute('data-n'),c=Math.floor((nw-6)/7);"
    "t.textContent=c<3?'':(n.length<=c?n:n.substring(0,c-2)+'..')}\n"
    "function zoom(z){var x0=0,w0=1,y0=-1;if(z){x0=+z.getAttribute('data-x');"
    "w0=+z.getAttribute('data-w');y0=+z.querySelector('rect').getAttribute('y')}"
    "frames.forEach(function(f){var x=+f.getAttribute('data-x'),w=+f.getAttribute('data-w');"
    "var y=+f.querySelector('rect').getAttribute('y');"
    "if(z&&y>y0&&!(x<=x0+1e-12&&x+w>=x0+w0-1e-12)){f.style.display='none';return}"
    "place(f,x0,w0)});$('reset').style.opacity=z?1:0.3}\n"
    "function search(){var term=prompt('Search (regular expression)','');if(term===null)return;"
    "var re;try{re=new RegExp(term)}catch(e){alert(e);return}var n=0;"
    "frames.forEach(function(f){var r=f.querySelector('rect'),"
    "name=f.querySelector('text').getAttribute('data-n');"
    "if(!r.getAttribute('data-fill'))r.setAttribute('data-fill',r.getAttribute('fill'));"
    "var hit=term!==''&&re.test(name);if(hit)n++;"
    "r.setAttribute('fill',hit?'rgb(230,0,230)':r.getAttribute('data-fill'))});"
    "$('matched').textContent=term===''?' ':'Matched: '+n+' frames'}\n"
    "window.addEventListener('load',init);\n"
    "]]></script>\n";

static int write_svg(const struct export_job *j, sbuf *out)
{
    const profile *p = j->p;
    const struct agg *a = j->a;
    const char *title = j->title;
    ftree *t = ftree_new();
    if (!t || ftree_add_tree(t, a->n, profile_folded_parents(p), a->weight, folded_label, p)) {
        ftree_free(t);
        return -ENOMEM;
    }
    size_t n = ftree_count(t);
    uint64_t *total = calloc(n, sizeof *total);
    uint64_t *x = calloc(n, sizeof *x);
    uint32_t *depth = calloc(n, sizeof *depth);
    if (!total || !x || !depth) {
        free(total);
        free(x);
        free(depth);
        ftree_free(t);
        return -ENOMEM;
    }
    struct ftree_node nd;
    /* parents come before children: totals bottom-up, positions top-down */
    for (size_t i = n; i-- > 0;) {
        ftree_node_get(t, (uint32_t)i, &nd);
        total[i] += (uint64_t)nd.value;
        if (nd.parent != FTREE_NIL)
            total[nd.parent] += total[i];
    }
    uint32_t maxdepth = 0;
    for (size_t i = 0; i < n; i++) {
        ftree_node_get(t, (uint32_t)i, &nd);
        uint64_t cx = x[i];
        for (uint32_t c = nd.first; c != FTREE_NIL;) {
            struct ftree_node cn;
            ftree_node_get(t, c, &cn);
            x[c] = cx;
            depth[c] = depth[i] + 1;
            if (depth[c] > maxdepth)
                maxdepth = depth[c];
            cx += total[c];
            c = cn.next;
        }
    }
    const int W = 1200, FH = 16, TOP = 50, BOTTOM = 30;
    int H = TOP + (int)(maxdepth + 1) * FH + BOTTOM;
    double all = total[0] ? (double)total[0] : 1;
    sbuf_printf(out,
                "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "xmlns=\"http://www.w3.org/2000/svg\" data-w=\"%d\">\n",
                W, H, W, H, W);
    sbuf_adds(out,
              "<style>text{font-family:Verdana,sans-serif;font-size:12px;fill:#000}"
              "g.f:hover rect{stroke:#000;stroke-width:0.5}g.f{cursor:pointer}"
              "#title{font-size:17px;text-anchor:middle}"
              "#reset,#search{cursor:pointer}</style>\n");
    sbuf_adds(out, svg_script);
    sbuf_printf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f0\"/>\n", W, H);
    /* the title names the range in seconds from the profile's first whole second, and
     * frames their time when the period is one (a clock event counts nanoseconds) */
    int clock = strstr(profile_event(p), "clock") != NULL;
    double base = profile_base_s(p);
    struct profile_range whole;
    const struct profile_range *r = j->r;
    if (!r) {
        profile_range_all(p, &whole);
        r = &whole;
    }
    char span[96], dur[32];
    double len = r->end_s > r->start_s ? r->end_s - r->start_s : 0;
    snprintf(span, sizeof span, ", %.3f s \u2013 %.3f s (%s)", r->start_s - base,
             r->end_s - base, units_format_ns((uint64_t)llround(len * 1e9), dur, sizeof dur));
    sbuf_printf(out, "<text id=\"title\" x=\"%d\" y=\"24\">", W / 2);
    xml_text(out, title ? title : "Flame Graph", title ? strlen(title) : 11);
    xml_text(out, span, strlen(span));
    sbuf_adds(out, "</text>\n<text id=\"reset\" x=\"10\" y=\"24\" style=\"opacity:0.3\">"
                   "Reset Zoom</text>\n");
    sbuf_printf(out, "<text id=\"search\" x=\"%d\" y=\"24\">Search</text>\n", W - 60);
    sbuf_printf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\"> </text>\n", W - 200, H - 10);
    sbuf_printf(out, "<text id=\"details\" x=\"10\" y=\"%d\"> </text>\n", H - 10);
    for (size_t i = 0; i < n; i++) {
        ftree_node_get(t, (uint32_t)i, &nd);
        double fx = (double)x[i] / all, fw = (double)total[i] / all;
        double px = 10 + fx * (W - 20), pw = fw * (W - 20);
        if (pw < 0.1 && i)
            continue;
        int y = H - BOTTOM - FH * (int)(depth[i] + 1);
        const char *name = i ? nd.name : "all";
        size_t len = i ? nd.len : 3;
        uint32_t h = name_hash(name, len);
        int r = 205 + (int)(h % 50), g = (int)((h >> 8) % 230), b = (int)((h >> 16) % 55);
        sbuf_printf(out, "<g class=\"f\" data-x=\"%.9f\" data-w=\"%.9f\"><title>", fx, fw);
        xml_text(out, name, len);
        if (clock)
            sbuf_printf(out, " (%s, %.2f%%)</title>", units_format_ns(total[i], dur, sizeof dur),
                        100.0 * fw);
        else
            sbuf_printf(out, " (%llu %s, %.2f%%)</title>", (unsigned long long)total[i],
                        *profile_event(p) ? profile_event(p) : "events", 100.0 * fw);
        sbuf_printf(out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
                         "fill=\"rgb(%d,%d,%d)\" rx=\"2\"/>",
                    px, y, pw > 0.5 ? pw - 0.5 : pw, FH - 1, r, g, b);
        sbuf_printf(out, "<text x=\"%.2f\" y=\"%d\" data-n=\"", px + 3, y + FH - 4);
        xml_text(out, name, len);
        sbuf_adds(out, "\">");
        int chars = (int)((pw - 6) / 7);
        if (chars >= 3) {
            if ((size_t)chars >= len) {
                xml_text(out, name, len);
            } else {
                size_t cut = (size_t)chars - 2;   /* not inside a UTF-8 sequence */
                while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
                    cut--;
                xml_text(out, name, cut);
                sbuf_adds(out, "..");
            }
        }
        sbuf_adds(out, "</text></g>\n");
    }
    sbuf_adds(out, "</svg>\n");
    free(total);
    free(x);
    free(depth);
    ftree_free(t);
    return sbuf_failed(out) ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ pprof */

static void pb_varint(sbuf *b, uint64_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= (char)0x80;
        n++;
    } while (v);
    sbuf_add(b, tmp, n);
}

static void pb_key(sbuf *b, unsigned field, unsigned wire)
{
    pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_uint(sbuf *b, unsigned field, uint64_t v)
{
    pb_key(b, field, 0);
    pb_varint(b, v);
}

static void pb_bytes(sbuf *b, unsigned field, const void *data, size_t len)
{
    pb_key(b, field, 2);
    pb_varint(b, len);
    sbuf_add(b, data, len);
}

static void pb_msg(sbuf *b, unsigned field, sbuf *m)
{
    pb_bytes(b, field, m->p ? m->p : "", m->len);
    if (sbuf_failed(m))
        b->failed = 1;
    m->len = 0;
}

static int gzip_buf(const void *in, size_t len, sbuf *out)
{
    unsigned char *gz;
    size_t n;
    int rc = gz_compress(in, len, GZ_DEFAULT, &gz, &n);
    if (rc)
        return rc;
    sbuf_add(out, gz, n);
    free(gz);
    return sbuf_failed(out) ? -ENOMEM : 0;
}

static int write_pprof(const struct export_job *j, sbuf *out)
{
    const profile *p = j->p;
    const struct agg *a = j->a;
    uint32_t nn = profile_folded_nnames(p);
    /* string table: 0 "", then fixed strings, then function names on first use */
    uint32_t *str_of = calloc(nn + 1, sizeof *str_of);
    /* per module: its string, the lowest and highest address of its locations */
    uint32_t nmod = profile_nmodules(p);
    uint32_t *mod_str = calloc((size_t)nmod + 1, sizeof *mod_str);
    uint64_t *mod_lo = calloc((size_t)nmod + 1, sizeof *mod_lo);
    uint64_t *mod_hi = calloc((size_t)nmod + 1, sizeof *mod_hi);
    if (!str_of || !mod_str || !mod_lo || !mod_hi) {
        free(str_of);
        free(mod_str);
        free(mod_lo);
        free(mod_hi);
        return -ENOMEM;
    }
    sbuf pb, m, sub;
    sbuf_init(&pb);
    sbuf_init(&m);
    sbuf_init(&sub);
    const char *ev = profile_event(p);
    int clock = strstr(ev, "clock") != NULL;
    const char *fixed[] = {"", "samples", "count", clock ? "cpu" : (*ev ? ev : "events"),
                           clock ? "nanoseconds" : "count", "comm"};
    enum { S_SAMPLES = 1, S_COUNT, S_WTYPE, S_WUNIT, S_COMM, S_FIRST };
    uint32_t nstr = S_FIRST;
    struct path path = {0};
    int oom = 0;

    /* sample_type (1) and period_type (11) */
    pb_uint(&m, 1, S_SAMPLES);
    pb_uint(&m, 2, S_COUNT);
    pb_msg(&pb, 1, &m);
    pb_uint(&m, 1, S_WTYPE);
    pb_uint(&m, 2, S_WUNIT);
    pb_msg(&pb, 1, &m);

    /* samples: locations leaf first (the process name is a label, not a frame) */
    for (uint32_t s = 0; s < a->n; s++) {
        if (!a->count[s])
            continue;
        if (node_path(p, s, &path)) {
            oom = 1;
            continue;
        }
        size_t nf = path.n;
        for (size_t i = nf; i-- > 1;) {
            uint32_t k = path.v[i];
            if (!str_of[k])
                str_of[k] = nstr++;
            pb_varint(&sub, (uint64_t)k + 1);
        }
        pb_bytes(&m, 1, sub.p ? sub.p : "", sub.len);   /* packed location ids */
        sub.len = 0;
        pb_varint(&sub, a->count[s]);
        pb_varint(&sub, a->weight[s]);
        pb_bytes(&m, 2, sub.p, sub.len);                /* packed values */
        sub.len = 0;
        uint32_t pn = path.v[0];
        if (!str_of[pn])
            str_of[pn] = nstr++;
        pb_uint(&sub, 1, S_COMM);
        pb_uint(&sub, 2, str_of[pn]);
        pb_msg(&m, 3, &sub);                            /* label comm=… */
        pb_msg(&pb, 2, &m);
    }
    /* locations (4) and functions (5): one per name used as a frame, with the address
     * and module (mapping id = module id + 1) of the name's first frame line */
    for (uint32_t s = 0; s < a->n; s++) {
        if (!a->count[s])
            continue;
        if (node_path(p, s, &path)) {
            oom = 1;
            continue;
        }
        size_t nf = path.n;
        for (size_t i = 1; i < nf; i++) {
            uint32_t k = path.v[i];
            if (str_of[k] & 0x80000000u)
                continue;                               /* already written */
            uint64_t addr;
            uint32_t mod = profile_folded_module(p, k, &addr);
            if (mod != PROFILE_NONE && mod < nmod) {
                if (!mod_str[mod]) {
                    mod_str[mod] = nstr++;
                    mod_lo[mod] = mod_hi[mod] = addr;
                }
                mod_lo[mod] = addr < mod_lo[mod] ? addr : mod_lo[mod];
                mod_hi[mod] = addr > mod_hi[mod] ? addr : mod_hi[mod];
            } else {
                mod = PROFILE_NONE;
            }
            pb_uint(&m, 1, (uint64_t)k + 1);
            if (mod != PROFILE_NONE) {
                pb_uint(&m, 2, (uint64_t)mod + 1);      /* mapping_id */
                pb_uint(&m, 3, addr);                   /* address */
            }
            pb_uint(&sub, 1, (uint64_t)k + 1);
            pb_msg(&m, 4, &sub);                        /* line { function_id } */
            pb_msg(&pb, 4, &m);
            pb_uint(&m, 1, (uint64_t)k + 1);
            pb_uint(&m, 2, str_of[k]);
            pb_uint(&m, 3, str_of[k]);
            if (mod != PROFILE_NONE)
                pb_uint(&m, 4, mod_str[mod]);           /* filename */
            pb_msg(&pb, 5, &m);
            str_of[k] |= 0x80000000u;
        }
    }
    /* mappings (3): one per module a location names, spanning its addresses */
    for (uint32_t mod = 0; mod < nmod; mod++) {
        if (!mod_str[mod])
            continue;
        pb_uint(&m, 1, (uint64_t)mod + 1);
        pb_uint(&m, 2, mod_lo[mod]);                    /* memory_start */
        pb_uint(&m, 3, mod_hi[mod] + (mod_hi[mod] < UINT64_MAX));   /* memory_limit */
        pb_uint(&m, 5, mod_str[mod]);                   /* filename */
        pb_uint(&m, 7, 1);                              /* has_functions */
        pb_msg(&pb, 3, &m);
    }
    /* string table (6) in index order */
    char **strs = calloc(nstr, sizeof *strs);
    size_t *lens = calloc(nstr, sizeof *lens);
    if (!strs || !lens || oom) {
        free(path.v);
        free(strs);
        free(lens);
        free(str_of);
        free(mod_str);
        free(mod_lo);
        free(mod_hi);
        sbuf_free(&pb);
        sbuf_free(&m);
        sbuf_free(&sub);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < S_FIRST; i++) {
        strs[i] = (char *)fixed[i];
        lens[i] = strlen(fixed[i]);
    }
    for (uint32_t k = 0; k < nn; k++) {
        uint32_t idx = str_of[k] & 0x7fffffffu;
        if (idx)
            strs[idx] = (char *)profile_folded_name(p, k, &lens[idx]);
    }
    for (uint32_t mod = 0; mod < nmod; mod++)
        if (mod_str[mod])
            strs[mod_str[mod]] = (char *)profile_module_name(p, mod, &lens[mod_str[mod]]);
    for (uint32_t i = 0; i < nstr; i++) {
        /* proto3 strings: UTF-8 only (symbol names are bytes from the binary) */
        sbuf_add_utf8(&sub, strs[i] ? strs[i] : "", lens[i]);
        pb_bytes(&pb, 6, sub.p ? sub.p : "", sub.len);
        sub.len = 0;
    }
    free(path.v);
    free(strs);
    free(lens);
    free(str_of);
    free(mod_str);
    free(mod_lo);
    free(mod_hi);
    if (a->total_count) {
        /* time_nanos: the first sample; duration_nanos: first to last sample plus one
         * period (a clock event's period is in ns), not the range's whole seconds */
        uint64_t period = clock ? a->total_weight / a->total_count : 0;
        pb_uint(&pb, 9, a->first_ns);
        pb_uint(&pb, 10, a->last_ns - a->first_ns + period);
    }
    pb_uint(&m, 1, S_WTYPE);
    pb_uint(&m, 2, S_WUNIT);
    pb_msg(&pb, 11, &m);                                /* period_type */
    if (a->total_count)
        pb_uint(&pb, 12, a->total_weight / a->total_count);  /* period */
    pb_uint(&pb, 14, S_WTYPE);                          /* default_sample_type */
    int rc = -ENOMEM;
    if (!sbuf_failed(&pb) && !sbuf_failed(&m) && !sbuf_failed(&sub))
        rc = gzip_buf(pb.p ? pb.p : "", pb.len, out);
    sbuf_free(&pb);
    sbuf_free(&m);
    sbuf_free(&sub);
    return rc;
}

/* ------------------------------------------------------------------ speedscope */

/* One speedscope profile: the samples order[0, m) (one thread's, in time order),
 * consecutive samples of one stack merged. */
static int speedscope_profile(const profile *p, const size_t *order, size_t m,
                              const uint32_t *frame_of, const char *name, size_t nlen,
                              int clock, struct path *path, sbuf *out)
{
    uint64_t total = 0;
    for (size_t k = 0; k < m; k++)
        total += profile_period(p, order[k]);
    sbuf_adds(out, "{\"type\":\"sampled\",\"name\":");
    sbuf_json_str(out, name, nlen);
    sbuf_printf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":",
                clock ? "nanoseconds" : "none");
    sbuf_u64(out, total);
    sbuf_adds(out, ",\"samples\":[");
    sbuf weights;
    sbuf_init(&weights);
    int oom = 0;
    for (size_t k = 0; k < m;) {
        uint32_t s = profile_folded_sample_stack(p, order[k]);
        uint64_t acc = 0;
        for (; k < m && profile_folded_sample_stack(p, order[k]) == s; k++)
            acc += profile_period(p, order[k]);
        if (node_path(p, s, path)) {
            oom = 1;
            continue;
        }
        sbuf_adds(out, weights.len ? ",[" : "[");
        for (size_t f = 0; f < path->n; f++) {
            if (f)
                sbuf_addc(out, ',');
            sbuf_u64(out, frame_of[path->v[f]]);
        }
        sbuf_addc(out, ']');
        if (weights.len)
            sbuf_addc(&weights, ',');
        sbuf_u64(&weights, acc);
    }
    sbuf_adds(out, "],\"weights\":[");
    sbuf_add(out, weights.p ? weights.p : "", weights.len);
    sbuf_adds(out, "]}");
    oom |= sbuf_failed(&weights);
    sbuf_free(&weights);
    return oom ? -ENOMEM : 0;
}

/* speedscope's file format: shared frames, then one sampled profile per thread (in the
 * order threads first appear), named "comm tid" as speedscope's own perf importer
 * names them; one profile named by the title when the index holds no threads. */
static int write_speedscope(const struct export_job *j, sbuf *out)
{
    const profile *p = j->p;
    const struct profile_range *r = j->r;
    const struct agg *a = j->a;
    const char *title = j->title ? j->title : "profile";
    uint32_t nn = profile_folded_nnames(p);
    uint32_t *frame_of = malloc((nn + 1) * sizeof *frame_of);
    size_t lo, hi;
    int check;
    bounds(p, r, &lo, &hi, &check);
    size_t *sel = malloc((hi - lo + 1) * sizeof *sel);
    size_t *order = malloc((hi - lo + 1) * sizeof *order);
    uint32_t *rank = malloc((hi - lo + 1) * sizeof *rank);
    size_t *start = NULL;
    oatable threads;
    memset(&threads, 0, sizeof threads);
    int oom = oat_init(&threads, 64) != 0;
    if (!frame_of || !sel || !order || !rank || oom) {
        free(frame_of);
        free(sel);
        free(order);
        free(rank);
        oat_free(&threads);
        return -ENOMEM;
    }
    memset(frame_of, 0xff, (nn + 1) * sizeof *frame_of);
    uint32_t nframes = 0;
    const char *ev = profile_event(p);
    int clock = strstr(ev, "clock") != NULL;
    struct path path = {0};

    sbuf_adds(out, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
                   "\"exporter\":\"fntrace-flamescope\",\"name\":");
    sbuf_json_str(out, title, strlen(title));
    sbuf_adds(out, ",\"activeProfileIndex\":0,\"shared\":{\"frames\":[");
    for (uint32_t s = 0; s < a->n; s++) {
        if (!a->count[s])
            continue;
        if (node_path(p, s, &path)) {
            oom = 1;
            continue;
        }
        for (size_t i = 0; i < path.n; i++) {
            uint32_t k = path.v[i];
            if (frame_of[k] != UINT32_MAX)
                continue;
            frame_of[k] = nframes++;
            size_t len;
            const char *name = profile_folded_name(p, k, &len);
            sbuf_adds(out, frame_of[k] ? ",{\"name\":" : "{\"name\":");
            sbuf_json_str(out, name, len);
            sbuf_addc(out, '}');
        }
    }
    sbuf_adds(out, "]},\"profiles\":[");
    /* the selected samples, ranked by their thread's first appearance */
    size_t m = 0;
    uint32_t nthreads = 0;
    for (size_t i = lo; i < hi; i++) {
        uint32_t s = profile_folded_sample_stack(p, i);
        if (s == PROFILE_NONE || !in_sel(p, i, r, check))
            continue;
        uint64_t key = (uint32_t)profile_tid(p, i);
        size_t slot = oat_find(&threads, key);
        if (slot == OAT_NONE || !threads.slot[slot].val) {
            if (oat_insert_at(&threads, slot, key, (uint64_t)nthreads + 1)) {
                oom = 1;
                break;
            }
            rank[m] = nthreads++;
        } else {
            rank[m] = (uint32_t)threads.slot[slot].val - 1;
        }
        sel[m++] = i;
    }
    /* a stable counting sort by thread keeps each thread's samples in time order */
    start = calloc((size_t)nthreads + 1, sizeof *start);
    if (!start)
        oom = 1;
    for (size_t k = 0; start && k < m; k++)
        start[rank[k] + 1]++;
    for (uint32_t t = 0; start && t < nthreads; t++)
        start[t + 1] += start[t];
    for (size_t k = 0; start && k < m; k++)
        order[start[rank[k]]++] = sel[k];
    size_t from = 0;
    for (uint32_t t = 0; start && t < nthreads && !oom; t++) {
        size_t to = start[t];       /* after placing: the end of thread t */
        char name[600];
        size_t nl;
        int32_t tid = profile_tid(p, order[from]);
        if (!profile_has_tids(p)) {
            nl = (size_t)snprintf(name, sizeof name, "%s", title);
        } else {
            size_t cl = 0;
            const char *comm = "";
            if (!node_path(p, profile_folded_sample_stack(p, order[from]), &path) && path.n)
                comm = profile_folded_name(p, path.v[0], &cl);
            nl = (size_t)snprintf(name, sizeof name, "%.*s %d", (int)(cl < 500 ? cl : 500),
                                  comm, tid);
        }
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        if (t)
            sbuf_addc(out, ',');
        if (speedscope_profile(p, order + from, to - from, frame_of, name, nl, clock, &path,
                               out))
            oom = 1;
        from = to;
    }
    if (nthreads == 0)
        oom |= speedscope_profile(p, order, 0, frame_of, title, strlen(title), clock, &path,
                                  out) != 0;
    sbuf_adds(out, "]}");
    free(frame_of);
    free(sel);
    free(order);
    free(rank);
    free(start);
    oat_free(&threads);
    free(path.v);
    return sbuf_failed(out) || oom ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ the formats */

/* The one list of formats: the server's ?format= names, its download names and
 * types, the list GET /api/v1/exports gives the web UI.  A new format is one row. */
static const struct export_format formats[] = {
    {"folded", "folded", "text/plain; charset=utf-8",
     "folded stacks, as stackcollapse-perf.pl writes them", write_folded},
    {"svg", "svg", "image/svg+xml", "a standalone interactive flame graph", write_svg},
    {"pprof", "pb.gz", "application/octet-stream", "gzip'd profile.proto for go tool pprof",
     write_pprof},
    {"speedscope", "speedscope.json", "application/json", "speedscope's file format",
     write_speedscope},
};

const struct export_format *export_formats(size_t *n)
{
    *n = sizeof formats / sizeof formats[0];
    return formats;
}

const struct export_format *export_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(formats[i].name, name))
            return &formats[i];
    return NULL;
}

int export_write(const profile *p, const struct profile_range *r,
                 const struct export_format *f, const char *title, sbuf *out)
{
    if (!f || !f->write)
        return -EINVAL;
    struct agg a;
    int rc = aggregate(p, r, &a);
    if (rc)
        return rc;
    struct export_job j = { p, r, &a, title };
    rc = f->write(&j, out);
    agg_free(&a);
    return rc;
}
