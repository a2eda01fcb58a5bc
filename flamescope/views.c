/* views — see views.h. */
#include "views.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A grid too wide for the cell limit (one sample at t = 2^32 among samples at t = 10):
 * the window of maxcols seconds, starting on a sample's second, that holds the most
 * samples.  Returns its first second, or -1 on out of memory. */
static double densest_window(const profile *p, size_t n, size_t maxcols)
{
    double *t = malloc(n * sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < n; i++)
        t[i] = (double)profile_time_ns(p, i) / 1e9;
    qsort(t, n, sizeof *t, dbl_cmp);
    size_t best = 0, best_n = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
        double lo = floor(t[i]);
        if (i && floor(t[i - 1]) == lo)
            continue;
        if (j < i)
            j = i;
        while (j < n && t[j] < lo + (double)maxcols)
            j++;
        if (j - i > best_n) {
            best_n = j - i;
            best = i;
        }
    }
    double w = floor(t[best]);
    free(t);
    return w;
}

int views_heatmap(const profile *p, long rows, sbuf *out, char *err, size_t errlen)
{
    if (rows < 1 || rows > HEATMAP_MAX_ROWS) {
        snprintf(err, errlen, "rows must be between 1 and %d", HEATMAP_MAX_ROWS);
        return -EINVAL;
    }
    size_t n = profile_nsamples(p);
    double start = 0, end = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)profile_time_ns(p, i) / 1e9;
        if (i == 0 || t < start)
            start = t;
        if (i == 0 || t > end)
            end = t;
    }
    /* FlameScope: cols = ceil(last) - floor(first); the maximum keeps out-of-order
     * samples inside the grid */
    size_t cols = n ? (size_t)(ceil(end) - floor(start)) : 0;
    if (n && (double)(end - floor(start)) >= (double)cols)
        cols++;     /* a sample exactly on the last second's edge */
    double fl = floor(start);
    size_t first_col = 0, clipped = 0;        /* the window shown, in seconds from fl */
    int windowed = 0;
    if (cols && (uint64_t)cols * (uint64_t)rows > HEATMAP_MAX_CELLS) {
        /* outliers far away: show the densest stretch that fits, say what is left out */
        size_t maxcols = HEATMAP_MAX_CELLS / (size_t)rows;
        double w = densest_window(p, n, maxcols);
        if (w < 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        first_col = (size_t)(w - fl);
        cols = maxcols;
        windowed = 1;
    }
    uint32_t *cells = calloc(cols * (size_t)rows + 1, sizeof *cells);
    if (!cells) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    uint32_t maxv = 0;
    for (size_t i = 0; i < n; i++) {
        if (profile_fs_heat_idle(p, i))
            continue;
        double t = (double)profile_time_ns(p, i) / 1e9;
        long col = (long)floor(t - fl) - (long)first_col;
        if (windowed && (col < 0 || (size_t)col >= cols)) {
            clipped++;
            continue;
        }
        long row = rows - (long)floor((double)rows * fmod(t, 1.0)) - 1;
        if (col < 0 || (size_t)col >= cols || row < 0 || row >= rows)
            continue;
        uint32_t v = ++cells[(size_t)col * (size_t)rows + (size_t)row];
        if (v > maxv)
            maxv = v;
    }
    /* trim the extra edge column again when FlameScope would not have it */
    size_t shown = n ? (size_t)(ceil(end) - floor(start)) : 0;
    if (windowed) {                 /* trailing empty seconds of the window: not shown */
        size_t last = 0;
        for (size_t c = 0; c < cols; c++)
            for (long r = 0; r < rows; r++)
                if (cells[c * (size_t)rows + (size_t)r])
                    last = c + 1;
        cols = last ? last : 1;
    } else if (shown < cols) {
        int used = 0;
        for (long r = 0; r < rows; r++)
            used |= cells[(cols - 1) * (size_t)rows + (size_t)r] != 0;
        if (!used)
            cols = shown;
    }
    sbuf_adds(out, "{\"columns\":[");
    for (size_t c = 0; c < cols; c++) {
        if (c)
            sbuf_addc(out, ',');
        sbuf_u64(out, first_col + c);
    }
    sbuf_adds(out, "],\"rows\":[");
    for (long i = rows - 1; i >= 0; i--) {
        sbuf_pyfloat(out, 1000.0 * ((double)i / (double)rows));
        if (i)
            sbuf_addc(out, ',');
    }
    sbuf_adds(out, "],\"values\":[");
    for (size_t c = 0; c < cols; c++) {
        sbuf_adds(out, c ? ",[" : "[");
        for (long r = 0; r < rows; r++) {
            if (r)
                sbuf_addc(out, ',');
            sbuf_u64(out, cells[c * (size_t)rows + (size_t)r]);
        }
        sbuf_addc(out, ']');
    }
    sbuf_adds(out, "],\"maxvalue\":");
    sbuf_u64(out, maxv);
    if (windowed) {                 /* samples outside the window shown */
        sbuf_adds(out, ",\"clipped\":");
        sbuf_u64(out, clipped);
    }
    sbuf_addc(out, '}');
    free(cells);
    return 0;
}

/* The flame graph writer.  A whole-profile graph is every node of the stack tree (half a
 * million for a 100 MB profile, tens of MB of JSON) but only a few thousand distinct
 * frames, so each frame's text `{"n":NAME,"l":"TYPE","v":` is escaped once per answer,
 * on first use, into one table.  The tree is walked in the index's depth-first order
 * (profile_fs_order: sequential reads, a subtree without samples skipped in one jump),
 * and each step copies a frame's text, the count and the punctuation straight into the
 * caller's buffer: the reply is produced in pieces of the size the server sends, in one
 * small buffer that stays in cache, never as one allocation of the whole answer. */
struct views_fg {
    const profile *p;
    struct profile_fs_order o;
    uint32_t n;
    uint64_t *sum;             /* sum[k]: samples of positions [0, k): prefix sums */
    uint32_t *st;              /* the open nodes' ends */
    size_t sp;
    uint32_t k;                /* the next position to look at */
    int lead, started;         /* no comma before the next node; root written */
    sbuf tab;                  /* the frames' texts, back to back */
    size_t *pos;               /* frame -> offset in tab (valid when len != 0) */
    uint32_t *len;             /* frame -> length, 0: not made yet */
    size_t step_max;           /* the longest step's bytes */
    char *pend;                /* a step that did not fit the caller's buffer */
    size_t pend_len, pend_off;
};

static const char FG_ROOT[] = "{\"n\":\"root\",\"l\":\"\",\"v\":";
static const char FG_OPEN[] = ",\"c\":[";
#define FG_NODE_MAX (1 + 20 + (sizeof FG_OPEN - 1))    /* ',' count ",c:[" */

static uint32_t fg_frame_text(views_fg *g, uint32_t frame)
{
    if (g->len[frame])
        return g->len[frame];
    size_t at = g->tab.len, nlen;
    const char *name = profile_fs_frame_name(g->p, frame, &nlen);
    sbuf_adds(&g->tab, "{\"n\":");
    sbuf_json_str(&g->tab, name, nlen);
    sbuf_adds(&g->tab, ",\"l\":\"");
    sbuf_adds(&g->tab, profile_ftype_name(profile_fs_frame_type(g->p, frame)));
    sbuf_adds(&g->tab, "\",\"v\":");
    if (sbuf_failed(&g->tab) || g->tab.len - at > UINT32_MAX)
        return 0;
    g->pos[frame] = at;
    g->len[frame] = (uint32_t)(g->tab.len - at);
    return g->len[frame];
}

static unsigned fg_digits(uint64_t v)
{
    unsigned d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static char *fg_u64(char *w, uint64_t v)
{
    char tmp[20];
    int i = 20;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(w, tmp + i, (size_t)(20 - i));
    return w + (20 - i);
}

static char *fg_node(char *w, const char *text, size_t len, uint64_t self)
{
    memcpy(w, text, len);
    w = fg_u64(w + len, self);
    memcpy(w, FG_OPEN, sizeof FG_OPEN - 1);
    return w + sizeof FG_OPEN - 1;
}

void views_fg_free(views_fg *g)
{
    if (!g)
        return;
    free(g->sum);
    free(g->st);
    free(g->pos);
    free(g->len);
    free(g->pend);
    sbuf_free(&g->tab);
    free(g);
}

int views_fg_new(const profile *p, const struct profile_range *r, views_fg **out,
                 uint64_t *lenp)
{
    uint32_t n = profile_fs_nstacks(p), nf = profile_fs_nframes(p);
    views_fg *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g)
        return -ENOMEM;
    g->p = p;
    g->n = n;
    g->sum = calloc((size_t)n + 1, sizeof *g->sum);
    g->st = malloc(((size_t)n + 1) * sizeof *g->st);   /* depth <= nodes */
    g->pos = malloc(((size_t)nf + 1) * sizeof *g->pos);
    g->len = calloc((size_t)nf + 1, sizeof *g->len);
    if (!g->sum || !g->st || !g->pos || !g->len || profile_fs_order(p, &g->o))
        goto fail;
    /* each sample counted at its node's position, then summed in order */
    uint64_t *sum = g->sum;
    profile_fs_count_at(p, r, sum + 1, g->o.pos);
    for (uint32_t k = 0; k < n; k++)
        sum[k + 1] += sum[k];
    /* the exact length: each node with samples (its frame's text made on the way), the
     * commas between siblings, the root */
    uint64_t root_self = sum[1], len = sizeof FG_ROOT - 1 + fg_digits(root_self) +
                                       sizeof FG_OPEN - 1 + 2;
    uint64_t nodes = 0, parents = sum[n] > root_self;
    g->step_max = sizeof FG_ROOT + FG_NODE_MAX;
    for (uint32_t k = 1; k < n;) {
        uint32_t e = g->o.end[k];
        if (sum[e] == sum[k]) {
            k = e;
            continue;
        }
        uint32_t tl = fg_frame_text(g, g->o.frame[k]);
        if (!tl)
            goto fail;
        uint64_t self_k = sum[k + 1] - sum[k];
        len += tl + fg_digits(self_k) + sizeof FG_OPEN - 1 + 2;
        if (tl + FG_NODE_MAX > g->step_max)
            g->step_max = tl + FG_NODE_MAX;
        nodes++;
        parents += sum[e] - sum[k] > self_k;
        k++;
    }
    len += nodes - parents;             /* commas: every node but a list's first */
    g->pend = malloc(g->step_max);
    if (!g->pend)
        goto fail;
    g->sp = 0;
    g->k = 1;
    *lenp = len;
    *out = g;
    return 0;
fail:
    views_fg_free(g);
    return -ENOMEM;
}

/* One step of the walk into w (room for step_max bytes): returns the end of what it
 * wrote (w itself for a skipped subtree); NULL once the graph is done. */
static char *fg_step(views_fg *g, char *w)
{
    const uint64_t *sum = g->sum;
    if (!g->started) {
        g->started = 1;
        g->st[g->sp++] = g->n;
        g->lead = 1;
        return fg_node(w, FG_ROOT, sizeof FG_ROOT - 1, sum[1]);
    }
    if (!g->sp)
        return NULL;
    uint32_t k = g->k;
    if (k == g->st[g->sp - 1]) {
        *w++ = ']';
        *w++ = '}';
        g->sp--;
        g->lead = 0;
        return w;
    }
    uint32_t e = g->o.end[k];
    if (sum[e] == sum[k]) {             /* no samples below: skip the subtree */
        g->k = e;
        return w;
    }
    if (!g->lead)
        *w++ = ',';
    uint32_t f = g->o.frame[k];
    w = fg_node(w, g->tab.p + g->pos[f], g->len[f], sum[k + 1] - sum[k]);
    g->st[g->sp++] = e;
    g->lead = 1;
    g->k = k + 1;
    return w;
}

size_t views_fg_read(views_fg *g, char *buf, size_t cap)
{
    size_t w = 0;
    if (g->pend_off < g->pend_len) {    /* the rest of a step cut by the last buffer */
        size_t c = g->pend_len - g->pend_off < cap ? g->pend_len - g->pend_off : cap;
        memcpy(buf, g->pend + g->pend_off, c);
        g->pend_off += c;
        w = c;
    }
    while (g->pend_off == g->pend_len && w < cap) {
        char *e;
        if (cap - w >= g->step_max) {
            if (!(e = fg_step(g, buf + w)))
                break;
            w = (size_t)(e - buf);
            continue;
        }
        if (!(e = fg_step(g, g->pend)))     /* near the end of buf: through pend */
            break;
        g->pend_len = (size_t)(e - g->pend);
        size_t c = g->pend_len < cap - w ? g->pend_len : cap - w;
        memcpy(buf + w, g->pend, c);
        g->pend_off = c;
        w += c;
    }
    return w;
}

int views_flamegraph(const profile *p, const struct profile_range *r, sbuf *out)
{
    views_fg *g;
    uint64_t len;
    int rc = views_fg_new(p, r, &g, &len);
    if (rc)
        return rc;
    char *w = len < SIZE_MAX ? sbuf_reserve(out, (size_t)len) : NULL;
    if (!w) {
        views_fg_free(g);
        return -ENOMEM;
    }
    size_t got = views_fg_read(g, w, (size_t)len);
    int more = views_fg_read(g, w, 0) != 0 || g->sp;
    views_fg_free(g);
    if (got != len || more)
        return -EIO;                    /* the length and the walk disagree: a bug */
    out->len += got;
    return 0;
}

static void seconds(sbuf *out, uint64_t ns)
{
    sbuf_printf(out, "%llu.%09llu", (unsigned long long)(ns / 1000000000ull),
                (unsigned long long)(ns % 1000000000ull));
}

/* One invocation object; filename (NULL: left out) adds the profile and the links to its
 * flame graph (API and UI). */
static void invocation_json(const profile *p, const struct profile_invocation *v,
                            const char *filename, sbuf *out)
{
    double base = profile_base_s(p);
    sbuf_adds(out, "{\"id\":");
    sbuf_json_str(out, v->id, strlen(v->id));
    sbuf_adds(out, ",\"fn\":");
    sbuf_json_str(out, v->fn, strlen(v->fn));
    sbuf_adds(out, ",\"start\":");
    seconds(out, v->start_ns);
    sbuf_adds(out, ",\"end\":");
    if (v->has_end)
        seconds(out, v->end_ns);
    else
        sbuf_adds(out, "null");
    sbuf_adds(out, ",\"status\":");
    if (v->has_status)
        sbuf_i64(out, v->status);
    else
        sbuf_adds(out, "null");
    sbuf_adds(out, ",\"tid\":");
    if (v->tid > 0)
        sbuf_i64(out, v->tid);
    else
        sbuf_adds(out, "null");
    sbuf_adds(out, ",\"trace_id\":");
    if (v->trace_id[0])
        sbuf_json_str(out, v->trace_id, strlen(v->trace_id));
    else
        sbuf_adds(out, "null");
    sbuf_adds(out, ",\"rel_start\":");
    sbuf_pyfloat(out, (double)v->start_ns / 1e9 - base);
    sbuf_adds(out, ",\"rel_end\":");
    if (v->has_end)
        sbuf_pyfloat(out, (double)v->end_ns / 1e9 - base);
    else
        sbuf_adds(out, "null");
    if (filename) {
        sbuf ln;
        sbuf_init(&ln);
        sbuf_adds(out, ",\"filename\":");
        sbuf_json_str(out, filename, strlen(filename));
        sbuf_adds(&ln, "/api/v1/flamegraph?filename=");
        views_url_escape(&ln, filename);
        sbuf_adds(&ln, "&invocation=");
        views_url_escape(&ln, v->id);
        sbuf_adds(out, ",\"flamegraph\":");
        sbuf_json_str(out, ln.p ? ln.p : "", ln.len);
        ln.len = 0;
        sbuf_adds(&ln, "/#file=");
        views_url_escape(&ln, filename);
        sbuf_adds(&ln, "&inv=");
        views_url_escape(&ln, v->id);
        sbuf_adds(out, ",\"ui\":");
        sbuf_json_str(out, ln.p ? ln.p : "", ln.len);
        sbuf_free(&ln);
    }
    sbuf_addc(out, '}');
}

void views_url_escape(sbuf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~' || *c == '/') {
            sbuf_addc(out, (char)*c);
        } else {
            sbuf_addc(out, '%');
            sbuf_addc(out, hex[*c >> 4]);
            sbuf_addc(out, hex[*c & 15]);
        }
    }
}

size_t views_invocations_matching(const profile *p, const char *trace_id, const char *filename,
                                  int first, sbuf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < profile_ninvocations(p); i++) {
        const struct profile_invocation *v = profile_invocation(p, i);
        if (trace_id && strcmp(v->trace_id, trace_id))
            continue;
        if (!first || n)
            sbuf_addc(out, ',');
        invocation_json(p, v, filename, out);
        n++;
    }
    return n;
}

void views_invocations(const profile *p, size_t offset, size_t limit, sbuf *out)
{
    size_t n = profile_ninvocations(p);
    size_t end = limit && offset < n && n - offset > limit ? offset + limit : n;
    sbuf_addc(out, '[');
    for (size_t i = offset; i < end; i++) {
        if (i > offset)
            sbuf_addc(out, ',');
        invocation_json(p, profile_invocation(p, i), NULL, out);
    }
    sbuf_addc(out, ']');
}
