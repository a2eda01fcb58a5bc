/* views — see views.h. */
#include "views.h"
#include "ftree.h"

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

static void node_open(const profile *p, uint32_t node, uint64_t self, sbuf *out)
{
    sbuf_adds(out, "{\"n\":");
    int type = FT_NONE;
    if (node == 0) {
        sbuf_adds(out, "\"root\"");
    } else {
        uint32_t frame = profile_fs_frame(p, node);
        size_t len;
        const char *name = profile_fs_frame_name(p, frame, &len);
        sbuf_json_str(out, name, len);
        type = profile_fs_frame_type(p, frame);
    }
    sbuf_adds(out, ",\"l\":\"");
    sbuf_adds(out, profile_ftype_name(type));
    sbuf_adds(out, "\",\"v\":");
    sbuf_u64(out, self);
    sbuf_adds(out, ",\"c\":[");
}

int views_flamegraph(const profile *p, const struct profile_range *r, sbuf *out)
{
    uint32_t n = profile_fs_nstacks(p);
    uint64_t *self = calloc(n, sizeof *self);
    uint64_t *total = malloc((size_t)n * sizeof *total);
    struct walk {
        uint32_t child;        /* next child of this level to look at */
        int any;               /* a child was printed */
    } *st = NULL;
    size_t cap = 64, sp = 0;
    st = malloc(cap * sizeof *st);
    if (!self || !total || !st) {
        free(self);
        free(total);
        free(st);
        return -ENOMEM;
    }
    profile_fs_count(p, r, self);
    int deep = ftree_too_deep(p, self);
    if (deep) {
        /* past the depth cap: the tree with the deep stacks cut (ftree.h) */
        ftree *t = deep > 0 ? ftree_build_counts(p, self) : NULL;
        free(self);
        free(total);
        free(st);
        if (!t)
            return -ENOMEM;
        ftree_json(t, out);
        ftree_free(t);
        return sbuf_failed(out) ? -ENOMEM : 0;
    }
    memcpy(total, self, (size_t)n * sizeof *total);
    const uint32_t *parent = profile_fs_parents(p);
    for (uint32_t i = n; i-- > 1;)
        total[parent[i]] += total[i];
    /* depth first over the nodes with samples, children in the tree's order */
    node_open(p, 0, self[0], out);
    st[sp++] = (struct walk){profile_fs_first_child(p, 0), 0};
    int rc = 0;
    while (sp) {
        struct walk *w = &st[sp - 1];
        while (w->child != PROFILE_NONE && !total[w->child])
            w->child = profile_fs_next_sibling(p, w->child);
        if (w->child == PROFILE_NONE) {
            sbuf_adds(out, "]}");
            sp--;
            continue;
        }
        uint32_t c = w->child;
        w->child = profile_fs_next_sibling(p, c);
        if (w->any)
            sbuf_addc(out, ',');
        w->any = 1;
        node_open(p, c, self[c], out);
        if (sp == cap) {
            struct walk *ns = realloc(st, cap * 2 * sizeof *st);
            if (!ns) {
                rc = -ENOMEM;
                break;
            }
            st = ns;
            cap *= 2;
        }
        st[sp++] = (struct walk){profile_fs_first_child(p, c), 0};
    }
    free(self);
    free(total);
    free(st);
    if (!rc && sbuf_failed(out))
        rc = -ENOMEM;
    return rc;
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
