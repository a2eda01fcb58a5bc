/* Unit tests for lib/perfscript (parser, writer, sniffer) and lib/strtab.
 *
 * The real profiles come from tests/data under $FNTRACE_ROOT (the repository root,
 * where tests/run starts us). Expected counts are computed from
 * each file by an independent scan (POSIX regex, FlameScope's event-line pattern), never
 * hard-coded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fterr.h"
#include "perfscript.h"
#include "strtab.h"

/* ------------------------------------------------------------------ helpers */

typedef struct {
    char *p;
    size_t len, cap;
} membuf;

static void mb_put(membuf *m, const void *d, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n + 1)
            cap *= 2;
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    if (n)
        memcpy(m->p + m->len, d, n);
    m->len += n;
    m->p[m->len] = '\0';
}

static void mb_printf(membuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mb_printf(membuf *m, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    mb_put(m, tmp, (size_t)n);
}

static void mb_free(membuf *m)
{
    free(m->p);
    memset(m, 0, sizeof(*m));
}

static int sink_mem(void *ctx, const void *d, size_t n)
{
    mb_put(ctx, d, n);
    return 0;
}

/* a canonical text of everything a sample carries, for comparisons */
static void digest_sample(membuf *m, const ps_sample *s)
{
    mb_put(m, s->comm.p, s->comm.len);
    mb_printf(m, "|%d|%d|%d|%" PRIu64 "|%" PRIu64 "|%x|", s->pid, s->tid, s->cpu, s->time_ns,
              s->period, s->flags);
    mb_put(m, s->event.p, s->event.len);
    mb_put(m, "|", 1);
    mb_put(m, s->extra.p, s->extra.len);
    mb_printf(m, "|%u|%u\n", s->nframes, s->frames_dropped);
    for (uint32_t i = 0; i < s->nframes; i++) {
        const ps_frame *f = &s->frames[i];
        mb_printf(m, "  %" PRIx64 "|", f->addr);
        mb_put(m, f->sym.p, f->sym.len);
        mb_printf(m, "|%" PRIx64 "|%x|", f->off, f->flags);
        mb_put(m, f->module.p, f->module.len);
        mb_put(m, "\n", 1);
    }
}

struct collect {
    membuf digest;
    membuf headers;
    ps_writer *w;             /* when set, samples and headers are written through */
    uint64_t samples;
    int stop_after;           /* return 7 from the callback after this many (0: never) */
    ps_sample last;           /* copy of the last sample's scalar fields */
};

static int on_sample(void *ctx, const ps_sample *s)
{
    struct collect *c = ctx;
    digest_sample(&c->digest, s);
    c->samples++;
    c->last = *s;
    if (c->w)
        assert_int_equal(ps_write_sample(c->w, s), 0);
    if (c->stop_after && c->samples == (uint64_t)c->stop_after)
        return 7;
    return 0;
}

static int on_header(void *ctx, ps_str line, uint64_t lineno)
{
    struct collect *c = ctx;
    assert_true(line.len > 0 && line.p[0] == '#');
    mb_put(&c->headers, line.p, line.len);
    mb_put(&c->headers, "\n", 1);
    if (c->w)
        assert_int_equal(ps_write_header_line(c->w, line), 0);
    return 0;
}

static ps_parser *new_parser(struct collect *c, strtab *t)
{
    ps_parse_opts o = { .on_sample = on_sample, .on_header = on_header, .ctx = c,
                        .strtab = t };
    ps_parser *p = ps_parser_new(&o);
    assert_non_null(p);
    return p;
}

static void collect_free(struct collect *c)
{
    mb_free(&c->digest);
    mb_free(&c->headers);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    membuf m = { 0 };
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        mb_put(&m, tmp, n);
    fclose(f);
    if (!m.p)
        mb_put(&m, "", 0);
    *len = m.len;
    return m.p;
}

static const char *testdata_dir(void)
{
    static char dir[4096];
    const char *root = getenv("FNTRACE_ROOT");
    snprintf(dir, sizeof(dir), "%s/tests/data", root && *root ? root : ".");
    return dir;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The profiles in the testdata directory: its regular files but documents (.md) and
 * FlameScope's answers (.json). */
static int list_profiles(char names[][256], int max)
{
    DIR *d = opendir(testdata_dir());
    if (!d)
        fail_msg("test data directory %s missing (run from the project root or set FNTRACE_ROOT)",
                 testdata_dir());
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        char path[4096];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s/%s", testdata_dir(), e->d_name);
        if (len < 0 || (size_t)len >= sizeof(path) || e->d_name[0] == '.' ||
            has_suffix(e->d_name, ".md") || has_suffix(e->d_name, ".json") ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    if (n < 4)
        fail_msg("expected the test profiles in %s, found %d", testdata_dir(), n);
    return n;
}

/* Independent counts: FlameScope's event regex ` +([0-9.]+): .+?:` on non-`#` lines,
 * tab-led frame lines, `#` lines. */
struct expect {
    uint64_t events, frames, headers;
};

static struct expect scan(const char *buf, size_t len)
{
    struct expect x = { 0 };
    regex_t re;
    assert_int_equal(regcomp(&re, " +[0-9.]+: .+:", REG_EXTENDED | REG_NOSUB), 0);
    const char *q = buf, *end = buf + len;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);
        char *line = strndup(q, n);
        if (line[0] == '#')
            x.headers++;
        else if (line[0] == '\t')
            x.frames++;
        else if (regexec(&re, line, 0, NULL, 0) == 0)
            x.events++;
        free(line);
        q = nl ? nl + 1 : end;
    }
    regfree(&re);
    return x;
}

static void path_of(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", testdata_dir(), name);
    assert_true(n > 0 && (size_t)n < cap);
}

/* ------------------------------------------------------------------ real profiles */

/* The text of one shared profile, and a parse of it from memory into *c. */
static char *read_profile(const char *name, size_t *len, struct collect *c)
{
    char path[4096];
    path_of(path, sizeof(path), name);
    char *buf = read_file(path, len);
    if (!buf)
        fail_msg("cannot read %s", path);
    ps_parser *p = new_parser(c, NULL);
    assert_int_equal(ps_parse_mem(p, buf, *len), 0);
    ps_parser_free(p);
    return buf;
}

/* Feeds text[0..len) to p in pieces of `piece` bytes, then finishes. */
static void feed_all(ps_parser *p, const char *text, size_t len, size_t piece)
{
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        assert_int_equal(ps_parser_feed(p, text + off, n), 0);
    }
    assert_int_equal(ps_parser_finish(p), 0);
}

/* Runs check(name, path, text, len) on every shared profile. */
static void for_each_profile(void (*check)(const char *, const char *, const char *, size_t))
{
    char names[32][256];
    int n = list_profiles(names, 32);
    for (int i = 0; i < n; i++) {
        char path[4096];
        path_of(path, sizeof(path), names[i]);
        size_t len;
        char *buf = read_file(path, &len);
        if (!buf)
            fail_msg("cannot read %s", path);
        check(names[i], path, buf, len);
        free(buf);
    }
}


static void check_testdata_counts(const char *name, const char *path, const char *buf, size_t len)
{
    struct expect x = scan(buf, len);
    assert_true(x.events > 0);

    /* from memory */
    struct collect c = { 0 };
    ps_parser *p = new_parser(&c, NULL);
    assert_int_equal(ps_parse_mem(p, buf, len), 0);
    const ps_stats *st = ps_parser_stats(p);
    if (st->skipped || st->samples != x.events || st->frames != x.frames ||
        st->header_lines != x.headers)
        fail_msg("%s: skipped=%" PRIu64 " samples=%" PRIu64 "/%" PRIu64
                 " frames=%" PRIu64 "/%" PRIu64 " headers=%" PRIu64 "/%" PRIu64,
                 name, st->skipped, st->samples, x.events, st->frames, x.frames,
                 st->header_lines, x.headers);
    assert_int_equal(st->frames_dropped, 0);
    assert_int_equal(st->bytes, len);

    /* from the file (streaming) gives the same samples and headers */
    struct collect c2 = { 0 };
    ps_parser *p2 = new_parser(&c2, NULL);
    char err[256];
    assert_int_equal(ps_parse_file(p2, path, err, sizeof(err)), 0);
    assert_int_equal(ps_parser_stats(p2)->skipped, 0);
    assert_string_equal(c.digest.p, c2.digest.p);
    assert_string_equal(c.headers.p, c2.headers.p);

    ps_parser_free(p);
    ps_parser_free(p2);
    collect_free(&c);
    collect_free(&c2);
}

static void test_testdata_counts(void **state)
{
    for_each_profile(check_testdata_counts);
}

/* parse -> write -> parse gives the same samples; perf 6.1 files come back byte for
 * byte (the FlameScope example lacks perf's final blank line, so only samples). */
static void check_testdata_roundtrip(const char *name, const char *path, const char *buf,
                                     size_t len)
{

    membuf out = { 0 };
    struct collect c = { 0 };
    c.w = ps_writer_new(sink_mem, &out);
    assert_non_null(c.w);
    ps_parser *p = new_parser(&c, NULL);
    assert_int_equal(ps_parse_mem(p, buf, len), 0);
    assert_int_equal(ps_writer_close(c.w), 0);
    c.w = NULL;

    struct collect c2 = { 0 };
    ps_parser *p2 = new_parser(&c2, NULL);
    assert_int_equal(ps_parse_mem(p2, out.p, out.len), 0);
    assert_int_equal(ps_parser_stats(p2)->skipped, 0);
    assert_int_equal(c.samples, c2.samples);
    assert_string_equal(c.digest.p, c2.digest.p);
    assert_string_equal(c.headers.p, c2.headers.p);
    if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n') {
        if (out.len != len || memcmp(out.p, buf, len) != 0)
            fail_msg("%s: written text differs from perf's", name);
    }
    ps_parser_free(p);
    ps_parser_free(p2);
    collect_free(&c);
    collect_free(&c2);
    mb_free(&out);
}

static void test_testdata_roundtrip(void **state)
{
    for_each_profile(check_testdata_roundtrip);
}

static char *write_gzip(const char *buf, size_t len, size_t cut, char *tmpl)
{
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    gzFile gz = gzdopen(fd, "wb6");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, buf, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
    if (cut) {
        struct stat st;
        assert_int_equal(stat(tmpl, &st), 0);
        assert_int_equal(truncate(tmpl, st.st_size - (off_t)cut), 0);
    }
    return tmpl;
}

static void test_gzip_input(void **state)
{
    size_t len;
    struct collect plain = { 0 };
    char *buf = read_profile("perf-node-jit.stacks", &len, &plain);

    char tmpl[] = "/tmp/test_perfscript_XXXXXX";
    write_gzip(buf, len, 0, tmpl);
    struct collect gz = { 0 };
    ps_parser *pg = new_parser(&gz, NULL);
    char err[256];
    assert_int_equal(ps_parse_file(pg, tmpl, err, sizeof(err)), 0);
    assert_int_equal(ps_parser_stats(pg)->skipped, 0);
    assert_string_equal(plain.digest.p, gz.digest.p);

    /* two gzip members one after the other read as one text */
    FILE *f = fopen(tmpl, "ab");
    assert_non_null(f);
    size_t gzlen;
    char *gzbytes = read_file(tmpl, &gzlen);
    assert_non_null(gzbytes);
    assert_int_equal(fwrite(gzbytes, 1, gzlen, f), gzlen);
    fclose(f);
    free(gzbytes);
    struct collect twice = { 0 };
    ps_parser *pt = new_parser(&twice, NULL);
    assert_int_equal(ps_parse_file(pt, tmpl, err, sizeof(err)), 0);
    assert_int_equal(twice.samples, 2 * plain.samples);
    unlink(tmpl);

    /* truncated gzip: a clear error, the samples before it, no crash */
    char tmpl2[] = "/tmp/test_perfscript_XXXXXX";
    write_gzip(buf, len, 100, tmpl2);
    struct collect tr = { 0 };
    ps_parser *ptr = new_parser(&tr, NULL);
    err[0] = '\0';
    assert_int_equal(ps_parse_file(ptr, tmpl2, err, sizeof(err)), -FT_ERR_BAD_GZIP);
    assert_true(strlen(err) > 0);
    assert_true(tr.samples < plain.samples);
    unlink(tmpl2);

    /* a missing file */
    assert_int_equal(ps_parse_file(ptr, "/nonexistent/x.perf", err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/x.perf"));

    ps_parser_free(pg);
    ps_parser_free(pt);
    ps_parser_free(ptr);
    collect_free(&plain);
    collect_free(&gz);
    collect_free(&twice);
    collect_free(&tr);
    free(buf);
}

/* ------------------------------------------------------------------ tricky lines */

static ps_str S(const char *s)
{
    return ps_cstr(s);
}

static void assert_str(ps_str got, const char *want)
{
    if (!ps_str_eqc(got, want))
        fail_msg("got '%.*s', want '%s'", (int)got.len, got.p ? got.p : "", want);
}

static void test_event_lines(void **state)
{
    ps_sample s;
    /* DESIGN.md's example: pid/tid, [cpu], period */
    assert_true(ps_parse_event_line(
        S("worker 19191/19193 [001]   716.253785:    5000000 cpu-clock: "), &s));
    assert_str(s.comm, "worker");
    assert_int_equal(s.pid, 19191);
    assert_int_equal(s.tid, 19193);
    assert_int_equal(s.cpu, 1);
    assert_int_equal(s.time_ns, 716253785000ull);
    assert_int_equal(s.period, 5000000);
    assert_str(s.event, "cpu-clock");
    assert_int_equal(s.flags, PS_SAMPLE_PID | PS_SAMPLE_CPU | PS_SAMPLE_PERIOD);
    assert_int_equal(s.extra.len, 0);

    /* comm with a space and digits, event with modifiers */
    assert_true(ps_parse_event_line(
        S("V8 WorkerThread 2 12/345 [000]    12.000001:    5000000 cpu-clock:pppH: "), &s));
    assert_str(s.comm, "V8 WorkerThread 2");
    assert_int_equal(s.pid, 12);
    assert_int_equal(s.tid, 345);
    assert_str(s.event, "cpu-clock:pppH");
    assert_int_equal(s.time_ns, 12000001000ull);

    /* comm with '/' and ':', tid only, cpu */
    assert_true(ps_parse_event_line(
        S("kworker/0:1-eve    44 [001]   720.913701:    5000000 cpu-clock:pppH: "), &s));
    assert_str(s.comm, "kworker/0:1-eve");
    assert_int_equal(s.pid, -1);
    assert_int_equal(s.tid, 44);
    assert_int_equal(s.cpu, 1);
    assert_int_equal(s.flags, PS_SAMPLE_CPU | PS_SAMPLE_PERIOD);

    /* tid only, no cpu (perf record -p without -a) */
    assert_true(ps_parse_event_line(S("node 19208   723.916807:    5000000 cpu-clock:pppH: "),
                                    &s));
    assert_str(s.comm, "node");
    assert_int_equal(s.tid, 19208);
    assert_int_equal(s.cpu, -1);
    assert_int_equal(s.flags, PS_SAMPLE_PERIOD);

    /* no period (FlameScope's example, perf 3.13) */
    assert_true(ps_parse_event_line(S("swapper     0 [007]  5117.999999: cpu-clock: "), &s));
    assert_str(s.comm, "swapper");
    assert_int_equal(s.tid, 0);
    assert_int_equal(s.cpu, 7);
    assert_int_equal(s.period, 0);
    assert_int_equal(s.flags, PS_SAMPLE_CPU);
    assert_int_equal(s.time_ns, 5117999999000ull);

    /* nanosecond times (perf script --ns), exact */
    assert_true(ps_parse_event_line(S("a 1 4294967296.123456789: 1 cpu-clock: "), &s));
    assert_int_equal(s.time_ns, 4294967296123456789ull);
    /* no trailing space, comm right-aligned (perf's %16s) */
    assert_true(ps_parse_event_line(S("            java  8192 [000]  5076.1: cpu-clock:"), &s));
    assert_str(s.comm, "java");
    assert_int_equal(s.time_ns, 5076100000000ull);
    /* a comm that looks like a number before the tid */
    assert_true(ps_parse_event_line(S("1234 5 1.5: 10 ev: extra fields"), &s));
    assert_str(s.comm, "1234");
    assert_int_equal(s.tid, 5);
    assert_str(s.event, "ev");
    assert_str(s.extra, "extra fields");

    /* not event lines */
    const char *bad[] = {
        "",
        "hello world",
        "worker 19191/19193 [001]   716.253785:",           /* no event */
        "worker [001]   716.253785: 1 cpu-clock: ",         /* no tid */
        "19191 716.253785: cpu-clock: ",                    /* no comm */
        "worker 1 [0x1] 716.253785: cpu-clock: ",           /* bad cpu */
        "worker 1 716.2537851234: cpu-clock: ",             /* > 9 decimals */
        "worker 1 99999999999.5: cpu-clock: ",              /* seconds overflow */
        "worker 1 1.5: 99999999999999999999999 cpu-clock: ", /* period overflow */
        "worker 99999999999 1.5: cpu-clock: ",              /* tid overflow */
        "\t            1217 hash_block+0x27 (/srv/fn/worker)",
        "   # comm 1 1.000000: cpu-clock: ",                /* `#` comm: a header */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ps_parse_event_line(S(bad[i]), &s))
            fail_msg("parsed as an event line: '%s'", bad[i]);
}

static void test_frame_lines(void **state)
{
    ps_frame f;
    struct {
        const char *line, *sym, *module;
        uint64_t addr, off;
        uint32_t flags;
    } cases[] = {
        { "\t            1217 hash_block+0x27 (/srv/fn/worker)", "hash_block", "/srv/fn/worker",
          0x1217, 0x27, PS_FRAME_OFF | PS_FRAME_MODULE },
        { "\tffffffff81051586 native_safe_halt ([kernel.kallsyms])", "native_safe_halt",
          "[kernel.kallsyms]", 0xffffffff81051586ull, 0, PS_FRAME_MODULE },
        { "\t    7fa4b8c7d768 Lfoo;::bar->Lbaz;::qux (/tmp/perf-4771.map)",
          "Lfoo;::bar->Lbaz;::qux", "/tmp/perf-4771.map", 0x7fa4b8c7d768ull, 0,
          PS_FRAME_MODULE },
        { "\t          836cf0 std::_Sp_counted_ptr<node::Opt*, (__gnu_cxx::_Lock_policy)2>"
          "::_M_dispose+0x0 (/usr/bin/node)",
          "std::_Sp_counted_ptr<node::Opt*, (__gnu_cxx::_Lock_policy)2>::_M_dispose",
          "/usr/bin/node", 0x836cf0, 0, PS_FRAME_OFF | PS_FRAME_MODULE },
        { "\t            1000 Foo::operator->() const+0x10 (/bin/x)",
          "Foo::operator->() const", "/bin/x", 0x1000, 0x10, PS_FRAME_OFF | PS_FRAME_MODULE },
        { "\t            1000 operator+(A const&, B const&)+0xa (/bin/x)",
          "operator+(A const&, B const&)", "/bin/x", 0x1000, 0xa,
          PS_FRAME_OFF | PS_FRAME_MODULE },
        { "\t            1000 operator+ (/bin/x)", "operator+", "/bin/x", 0x1000, 0,
          PS_FRAME_MODULE },
        { "\t               0 [unknown] ([unknown])", "[unknown]", "[unknown]", 0, 0,
          PS_FRAME_MODULE },
        { "\t     7f00dead000 [unknown] (/usr/lib/libfoo.so (deleted))", "[unknown]",
          "/usr/lib/libfoo.so (deleted)", 0x7f00dead000ull, 0, PS_FRAME_MODULE },
        { "\t             af0 __vdso_clock_gettime+0x0 ([vdso])", "__vdso_clock_gettime",
          "[vdso]", 0xaf0, 0, PS_FRAME_OFF | PS_FRAME_MODULE },
        { "\t            1217 mix_inline+0x7 (inlined)", "mix_inline", "inlined", 0x1217, 7,
          PS_FRAME_OFF | PS_FRAME_MODULE | PS_FRAME_INLINED },
        { "\t    7f0000000010 JS:~fib /app/fib.js:3:13 (/tmp/perf-19208.map)",
          "JS:~fib /app/fib.js:3:13", "/tmp/perf-19208.map", 0x7f0000000010ull, 0,
          PS_FRAME_MODULE },
        { "\t            1000 (anonymous namespace)::run(int) (/bin/x)",
          "(anonymous namespace)::run(int)", "/bin/x", 0x1000, 0, PS_FRAME_MODULE },
        { "  1000 weird)paren (/bin/x)", "weird)paren", "/bin/x", 0x1000, 0, PS_FRAME_MODULE },
        { "\t1000 unbalanced (/tmp/odd)name)", "unbalanced", "/tmp/odd)name", 0x1000, 0,
          PS_FRAME_MODULE },
        { "\t            1000 no_module+0x1", "no_module", "", 0x1000, 1, PS_FRAME_OFF },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!ps_parse_frame_line(S(cases[i].line), &f))
            fail_msg("not parsed: '%s'", cases[i].line);
        assert_str(f.sym, cases[i].sym);
        assert_str(f.module, cases[i].module);
        assert_int_equal(f.addr, cases[i].addr);
        assert_int_equal(f.off, cases[i].off);
        if (f.flags != cases[i].flags)
            fail_msg("'%s': flags %x, want %x", cases[i].line, f.flags, cases[i].flags);
        /* the writer gives back the same line (for perf's layout) */
        if (cases[i].line[0] == '\t' && cases[i].line[17] == ' ') {
            char out[512];
            ps_format_frame(&f, out, sizeof(out));
            char want[512];
            snprintf(want, sizeof(want), "%s\n", cases[i].line);
            assert_string_equal(out, want);
        }
    }
    /* addresses and offsets of every width print as printf's "%16" PRIx64 / "%" PRIx64 */
    const uint64_t vals[] = { 0, 1, 0xf, 0x10, 0xabcdef, 0x7fffffffffffull,
                              0xffffffff81000000ull, UINT64_MAX };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        ps_frame fv = { .addr = vals[i], .off = vals[(i + 3) % 8], .sym = PS_STR("s"),
                        .module = PS_STR("/m"), .flags = PS_FRAME_OFF | PS_FRAME_MODULE };
        char out[128], want[128];
        ps_format_frame(&fv, out, sizeof(out));
        snprintf(want, sizeof(want), "\t%16" PRIx64 " s+0x%" PRIx64 " (/m)\n", fv.addr, fv.off);
        assert_string_equal(out, want);
    }
    const char *bad[] = { "", "\t", "\tzzz foo (bar)", "\t12345678901234567 x (y)",
                          "\t1234x foo (bar)" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ps_parse_frame_line(S(bad[i]), &f))
            fail_msg("parsed as a frame line: '%s'", bad[i]);
}

static void test_writer_format(void **state)
{
    ps_frame fr[3] = {
        { .addr = 0x1217, .off = 0x27, .sym = PS_STR("hash_block"),
          .module = PS_STR("/srv/fn/worker"), .flags = PS_FRAME_OFF | PS_FRAME_MODULE },
        { .addr = 0x135a, .off = 0x6a, .sym = PS_STR("thread_main"),
          .module = PS_STR("/srv/fn/worker"), .flags = PS_FRAME_OFF | PS_FRAME_MODULE },
        { .addr = 0x891f5, .off = 0x305, .sym = PS_STR("start_thread"),
          .module = PS_STR("/usr/lib/x86_64-linux-gnu/libc.so.6"),
          .flags = PS_FRAME_OFF | PS_FRAME_MODULE },
    };
    ps_sample s = { .comm = PS_STR("worker"), .pid = 19191, .tid = 19193, .cpu = 1,
                    .time_ns = 716253785123ull, .period = 5000000,
                    .event = PS_STR("cpu-clock"),
                    .flags = PS_SAMPLE_PID | PS_SAMPLE_CPU | PS_SAMPLE_PERIOD,
                    .nframes = 3, .frames = fr };
    membuf out = { 0 };
    ps_writer *w = ps_writer_new(sink_mem, &out);
    assert_int_equal(ps_write_sample(w, &s), 0);
    s.flags = PS_SAMPLE_PERIOD;                     /* tid only, no cpu */
    s.nframes = 1;
    assert_int_equal(ps_write_sample(w, &s), 0);
    s.flags = PS_SAMPLE_CPU;                        /* no period */
    s.comm = PS_STR("swapper");
    s.tid = 0;
    s.cpu = 7;
    s.nframes = 0;
    assert_int_equal(ps_write_sample(w, &s), 0);
    assert_int_equal(ps_writer_close(w), 0);
    /* exactly DESIGN.md's sample (time truncated to microseconds, like perf) */
    assert_string_equal(out.p,
                        "worker 19191/19193 [001]   716.253785:    5000000 cpu-clock: \n"
                        "\t            1217 hash_block+0x27 (/srv/fn/worker)\n"
                        "\t            135a thread_main+0x6a (/srv/fn/worker)\n"
                        "\t           891f5 start_thread+0x305 "
                        "(/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
                        "\n"
                        "worker 19193   716.253785:    5000000 cpu-clock: \n"
                        "\t            1217 hash_block+0x27 (/srv/fn/worker)\n"
                        "\n"
                        "swapper     0 [007]   716.253785: cpu-clock: \n"
                        "\n");

    /* hostile names (a newline in a comm or a file name) keep the sample's lines */
    membuf out2 = { 0 };
    w = ps_writer_new(sink_mem, &out2);
    ps_frame bad = { .addr = 1, .sym = PS_STR("evil\nsym"), .module = PS_STR("/tmp/a\r\nb"),
                     .flags = PS_FRAME_MODULE };
    ps_sample hs = { .comm = PS_STR("x\ny"), .tid = 5, .time_ns = 1000,
                     .event = PS_STR("cpu-clock"), .nframes = 1, .frames = &bad };
    assert_int_equal(ps_write_sample(w, &hs), 0);
    hs.comm = (ps_str){ NULL, 0 };
    hs.nframes = 0;
    assert_int_equal(ps_write_sample(w, &hs), 0);
    assert_int_equal(ps_writer_close(w), 0);
    assert_string_equal(out2.p, "x\\ny     5     0.000001: cpu-clock: \n"
                                "\t               1 evil\\nsym (/tmp/a\\r\\nb)\n"
                                "\n"
                                ":-1     5     0.000001: cpu-clock: \n"
                                "\n");
    struct collect c = { 0 };
    ps_parser *p = new_parser(&c, NULL);
    assert_int_equal(ps_parse_mem(p, out2.p, out2.len), 0);
    assert_int_equal(ps_parser_stats(p)->samples, 2);
    assert_int_equal(ps_parser_stats(p)->skipped, 0);
    ps_parser_free(p);
    collect_free(&c);
    mb_free(&out2);
    mb_free(&out);
}

struct hdrs {
    membuf all;
    int invocations;
    ps_invocation inv[4];
    char ids[4][64];
};

static int on_hdr_inv(void *ctx, ps_str line, uint64_t lineno)
{
    struct hdrs *h = ctx;
    mb_put(&h->all, line.p, line.len);
    mb_put(&h->all, "\n", 1);
    ps_invocation inv;
    if (ps_header_invocation(line, &inv) && h->invocations < 4) {
        ps_unescape(inv.id, h->ids[h->invocations], sizeof(h->ids[0]));
        h->inv[h->invocations++] = inv;
    }
    return 0;
}

static void test_header_writer_and_parser(void **state)
{
    membuf out = { 0 };
    ps_writer *w = ps_writer_new(sink_mem, &out);
    ps_write_header_begin(w);
    ps_write_header_kv(w, "captured on", "Sat Nov 21 19:21:59 2026");
    ps_write_header_kv(w, "hostname", "vm");
    ps_write_header_kv(w, "cmdline", "/usr/bin/fntrace record -- sh -c 'a\nb' C:\\x");
    ps_write_header_event(w, "cpu-clock", 200);
    ps_write_header_times(w, 716253140000ull, 719251579000ull);
    ps_write_header_end(w);
    ps_write_fntrace_version(w, "0.1.0");
    ps_write_fntrace_backend(w, "perf");
    ps_write_fntrace_frames(w, 0);
    ps_write_fntrace_lost(w, 12);
    ps_invocation inv = { .id = PS_STR("c0ffee 1\n"), .fn = PS_STR("fibonacci"),
                          .start_ns = 716253785000ull, .end_ns = 716300000001ull,
                          .status = 200, .flags = PS_INV_END | PS_INV_STATUS };
    ps_write_invocation(w, &inv);
    ps_invocation running = { .id = PS_STR("x"), .fn = PS_STR("pi"), .start_ns = 1 };
    ps_write_invocation(w, &running);
    assert_int_equal(ps_writer_close(w), 0);

    /* every header line is one `#` line: no stray line for FlameScope to trip on */
    struct hdrs h = { 0 };
    ps_parse_opts o = { .on_header = on_hdr_inv, .ctx = &h };
    ps_parser *p = ps_parser_new(&o);
    assert_int_equal(ps_parse_mem(p, out.p, out.len), 0);
    assert_int_equal(ps_parser_stats(p)->skipped, 0);
    assert_int_equal(ps_parser_stats(p)->header_lines, ps_parser_stats(p)->lines);
    assert_int_equal(h.all.len, out.len);
    assert_non_null(strstr(out.p, "# ========\n# captured on : Sat Nov 21 19:21:59 2026\n"));
    assert_non_null(strstr(out.p, "# time of first sample : 716.253140\n"
                                  "# time of last sample : 719.251579\n"
                                  "# sample duration :   2998.439 ms\n"
                                  "# ========\n#\n"));
    assert_non_null(strstr(out.p, "sample_freq } = 200,"));
    assert_non_null(strstr(out.p, "# fntrace version : 0.1.0\n# fntrace backend : perf\n"
                                  "# fntrace frames : user\n# fntrace lost samples : 12\n"));
    assert_non_null(strstr(out.p, "# fntrace invocation : id=c0ffee\\x201\\n fn=fibonacci "
                                  "start=716.253785 end=716.300000 status=200\n"));

    /* the cmdline value comes back after unescaping */
    const char *cl = strstr(out.p, "# cmdline");
    assert_non_null(cl);
    ps_str key, val;
    assert_true(ps_header_kv((ps_str){ cl, (size_t)(strchr(cl, '\n') - cl) }, &key, &val));
    assert_str(key, "cmdline");
    char un[256];
    ps_unescape(val, un, sizeof(un));
    assert_string_equal(un, "/usr/bin/fntrace record -- sh -c 'a\nb' C:\\x");

    /* invocations */
    assert_int_equal(h.invocations, 2);
    assert_string_equal(h.ids[0], "c0ffee 1\n");
    assert_str(h.inv[0].fn, "fibonacci");
    assert_int_equal(h.inv[0].start_ns, 716253785000ull);
    assert_int_equal(h.inv[0].end_ns, 716300000000ull);
    assert_int_equal(h.inv[0].status, 200);
    assert_int_equal(h.inv[0].flags, PS_INV_END | PS_INV_STATUS);
    assert_str(h.inv[1].fn, "pi");
    assert_int_equal(h.inv[1].flags, 0);

    /* perf's padded keys */
    assert_true(ps_header_kv(S("# captured on    : Sat Nov 21"), &key, &val));
    assert_str(key, "captured on");
    assert_str(val, "Sat Nov 21");
    assert_false(ps_header_kv(S("# ========"), &key, &val));
    assert_false(ps_header_invocation(S("# fntrace invocation : fn=x start=1"), &inv));
    assert_false(ps_header_invocation(S("# fntrace invocation : id=1 fn=x start=zz"), &inv));
    assert_true(ps_header_invocation(
        S("# fntrace invocation : future=1 start=2.5 fn=f id=9 status=-1"), &inv));
    assert_int_equal(inv.start_ns, 2500000000ull);
    assert_int_equal(inv.status, -1);

    ps_parser_free(p);
    mb_free(&out);
    mb_free(&h.all);
}

/* tid= is written after status and read back; lines without it read as before; a
 * hostile tid loses only the thread, never the invocation. */
static void test_invocation_tid(void **state)
{
    membuf out = { 0 };
    ps_writer *w = ps_writer_new(sink_mem, &out);
    ps_invocation with = { .id = PS_STR("a 1"), .fn = PS_STR("pi"), .start_ns = 716253785000ull,
                           .end_ns = 716300000000ull, .status = 200, .tid = 19193,
                           .flags = PS_INV_END | PS_INV_STATUS | PS_INV_TID };
    ps_invocation without = with;
    without.id = PS_STR("b");
    without.flags = PS_INV_END | PS_INV_STATUS;   /* tid set but not flagged: not written */
    ps_write_invocation(w, &with);
    ps_write_invocation(w, &without);
    assert_int_equal(ps_writer_close(w), 0);
    assert_non_null(strstr(out.p, "# fntrace invocation : id=a\\x201 fn=pi start=716.253785 "
                                  "end=716.300000 status=200 tid=19193\n"
                                  "# fntrace invocation : id=b fn=pi start=716.253785 "
                                  "end=716.300000 status=200\n"));
    struct hdrs h = { 0 };
    ps_parse_opts o = { .on_header = on_hdr_inv, .ctx = &h };
    ps_parser *p = ps_parser_new(&o);
    assert_int_equal(ps_parse_mem(p, out.p, out.len), 0);
    assert_int_equal(h.invocations, 2);
    assert_string_equal(h.ids[0], "a 1");
    assert_int_equal(h.inv[0].flags, PS_INV_END | PS_INV_STATUS | PS_INV_TID);
    assert_int_equal(h.inv[0].tid, 19193);
    assert_int_equal(h.inv[0].status, 200);
    assert_int_equal(h.inv[0].end_ns, 716300000000ull);
    assert_string_equal(h.ids[1], "b");
    assert_int_equal(h.inv[1].flags, PS_INV_END | PS_INV_STATUS);
    assert_int_equal(h.inv[1].tid, 0);
    ps_parser_free(p);
    mb_free(&out);
    mb_free(&h.all);

    static const char *const bad[] = { "-1", "0", "99999999999", "2147483648", "abc", "",
                                       "12x", "1.5", "+3", "-", "0x10" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[160];
        snprintf(line, sizeof line,
                 "# fntrace invocation : id=9 fn=f start=2.5 end=3 status=200 tid=%s", bad[i]);
        ps_invocation inv;
        assert_true(ps_header_invocation(ps_cstr(line), &inv));
        assert_int_equal(inv.flags, PS_INV_END | PS_INV_STATUS);
        assert_int_equal(inv.tid, 0);
        assert_int_equal(inv.start_ns, 2500000000ull);
        assert_int_equal(inv.status, 200);
    }
    /* any order; the last tid wins, a bad later one clears a good earlier one */
    ps_invocation inv;
    assert_true(ps_header_invocation(S("# fntrace invocation : tid=7 id=1 fn=x start=1 "
                                       "tid=2147483647"), &inv));
    assert_int_equal(inv.tid, 2147483647);
    assert_int_equal(inv.flags, PS_INV_TID);
    assert_true(ps_header_invocation(S("# fntrace invocation : tid=7 id=1 fn=x start=1 tid=-7"),
                                     &inv));
    assert_int_equal(inv.tid, 0);
    assert_int_equal(inv.flags, 0);
    /* a tid does not make a line without the required keys an invocation */
    assert_false(ps_header_invocation(S("# fntrace invocation : fn=x start=1 tid=5"), &inv));
}

static void test_header_perf_block(void **state)
{
    membuf out = { 0 };
    ps_writer *w = ps_writer_new(sink_mem, &out);
    ps_header_info h = { .captured_on = 1, .hostname = "fn-host", .os_release = "6.1.0",
                         .arch = "x86_64", .nrcpus_online = 2, .nrcpus_avail = 4,
                         .cmdline = "fntrace record -- sh -c 'x\ny'", .freq_hz = 200,
                         .first_ns = 1500000, .last_ns = 2001500000 };
    assert_int_equal(ps_write_header_perf(w, &h), 0);
    ps_header_info dflt = { 0 };
    assert_int_equal(ps_write_header_perf(w, &dflt), 0);
    assert_int_equal(ps_writer_close(w), 0);
    const char *second = strstr(out.p + 1, "# ========\n# captured on");
    assert_non_null(second);
    char date[64];
    struct tm tm;
    time_t one = 1;
    localtime_r(&one, &tm);
    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
    membuf want = { 0 };
    mb_printf(&want,
              "# ========\n# captured on : %s\n# hostname : fn-host\n# os release : 6.1.0\n"
              "# arch : x86_64\n# nrcpus online : 2\n# nrcpus avail : 4\n"
              "# cmdline : fntrace record -- sh -c 'x\\ny'\n",
              date);
    assert_memory_equal(out.p, want.p, want.len);
    assert_non_null(strstr(out.p, "# event : name = cpu-clock, , type = 1"));
    assert_non_null(strstr(out.p, "# time of first sample : 0.001500\n"
                                  "# time of last sample : 2.001500\n"
                                  "# sample duration :   2000.000 ms\n# ========\n#\n"));
    /* defaults come from the system; no cmdline, event or time lines */
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    membuf host = { 0 };
    mb_printf(&host, "# hostname : %s\n", u.nodename);
    assert_non_null(strstr(second, host.p));
    assert_null(strstr(second, "# cmdline"));
    assert_null(strstr(second, "# event"));
    assert_null(strstr(second, "# time of"));
    /* all of it is header lines only */
    ps_parser *p = ps_parser_new(NULL);
    assert_int_equal(ps_parse_mem(p, out.p, out.len), 0);
    assert_int_equal(ps_parser_stats(p)->header_lines, ps_parser_stats(p)->lines);
    assert_int_equal(ps_parser_stats(p)->skipped, 0);
    ps_parser_free(p);
    mb_free(&out);
    mb_free(&want);
    mb_free(&host);
}

static void test_escape(void **state)
{
    char out[64];
    const char raw[] = "a\\b\nc\rd\te\x01 f\x7f";
    ps_str s = { raw, sizeof(raw) - 1 };
    size_t n = ps_escape(s, out, sizeof(out), 0);
    assert_string_equal(out, "a\\\\b\\nc\\rd\\te\\x01 f\\x7f");
    assert_int_equal(n, strlen(out));
    char back[64];
    assert_int_equal(ps_unescape((ps_str){ out, n }, back, sizeof(back)), sizeof(raw) - 1);
    assert_memory_equal(back, raw, sizeof(raw));
    n = ps_escape(S("a b"), out, sizeof(out), PS_ESC_SPACE);
    assert_string_equal(out, "a\\x20b");
    /* truncation behaves like snprintf */
    n = ps_escape(S("abcdef"), out, 4, 0);
    assert_int_equal(n, 6);
    assert_string_equal(out, "abc");
}

/* ------------------------------------------------------------------ robustness */

static void test_malformed_lines_counted(void **state)
{
    const char *text =
        "# ========\n"
        "garbage line one\n"
        "worker 1/2 [000] 1.000001: 10 cpu-clock: \n"
        "\t            1217 a+0x1 (/x)\n"
        "\tnot a frame\n"
        "\t            1218 b+0x2 (/x)\n"
        "\n"
        "\t            1219 orphan (/x)\n"
        "\x01\x02\x03\n"
        "worker 1/3 1.000002: cpu-clock: \n"
        "\t1 c (/y)\n"
        "worker 1/3 [001] 1.000003: 1 cpu-clock: \n"  /* no blank line before: still ok */
        "\t2 d (/y)";                                  /* last line without '\n' */
    struct collect c = { 0 };
    ps_parser *p = new_parser(&c, NULL);
    assert_int_equal(ps_parse_mem(p, text, strlen(text)), 0);
    const ps_stats *st = ps_parser_stats(p);
    assert_int_equal(st->samples, 3);
    assert_int_equal(st->skipped, 4);
    assert_int_equal(st->frames, 4);
    assert_int_equal(st->header_lines, 1);
    assert_non_null(strstr(c.digest.p, "  1217|a|1|3|/x\n  1218|b|2|3|/x\n"));
    assert_int_equal(c.last.time_ns, 1000003000ull);
    assert_int_equal(c.last.line, 12);
    ps_parser_free(p);
    collect_free(&c);
}

static void test_limits(void **state)
{
    /* 2000 frames: 1024 kept, the rest counted */
    membuf t = { 0 };
    mb_printf(&t, "deep 7 1.000000: 1 cpu-clock: \n");
    for (int i = 0; i < 2000; i++)
        mb_printf(&t, "\t%16x f%d+0x1 (/bin/deep)\n", 0x1000 + i, i);
    mb_printf(&t, "\nnext 8 2.000000: 1 cpu-clock: \n\t1 g (/bin/x)\n\n");
    /* a line over the limit inside a sample */
    mb_printf(&t, "long 9 3.000000: 1 cpu-clock: \n\t1 ");
    for (int i = 0; i < 70000; i++)
        mb_put(&t, "x", 1);
    mb_printf(&t, " (/bin/x)\n\t2 short (/bin/x)\n\n");

    struct collect c = { 0 };
    ps_parser *p = new_parser(&c, NULL);
    assert_int_equal(ps_parse_mem(p, t.p, t.len), 0);
    const ps_stats *st = ps_parser_stats(p);
    assert_int_equal(st->samples, 3);
    assert_int_equal(st->frames, 1024 + 1 + 1);
    assert_int_equal(st->frames_dropped, 2000 - 1024);
    assert_int_equal(st->long_lines, 1);
    assert_int_equal(st->skipped, 1);
    assert_non_null(strstr(c.digest.p, "|1024|976\n"));

    /* the same through the streaming path in odd-sized pieces, and a custom limit */
    struct collect c2 = { 0 };
    ps_parse_opts o = { .on_sample = on_sample, .ctx = &c2, .max_frames = 10,
                        .max_line = 1000 };
    ps_parser *p2 = ps_parser_new(&o);
    feed_all(p2, t.p, t.len, 777);
    st = ps_parser_stats(p2);
    assert_int_equal(st->samples, 3);
    assert_int_equal(st->frames, 10 + 1 + 1);
    assert_int_equal(st->frames_dropped, 1990);
    assert_int_equal(st->long_lines, 1);
    assert_int_equal(st->bytes, t.len);

    /* a sample whose text outgrows what streaming keeps (4 MiB) is delivered early;
     * its remaining frames are counted as dropped, the next sample is intact */
    membuf big = { 0 };
    char sym[5001];
    memset(sym, 'q', sizeof(sym) - 1);
    sym[sizeof(sym) - 1] = '\0';
    mb_printf(&big, "huge 1 1.000000: 1 cpu-clock: \n");
    for (int i = 0; i < 1000; i++) {
        mb_put(&big, "\t1 ", 3);
        mb_put(&big, sym, sizeof(sym) - 1);
        mb_put(&big, " (/bin/x)\n", 10);
    }
    mb_printf(&big, "\nnext 2 2.000000: 1 cpu-clock: \n\t2 b (/bin/y)\n\n");
    struct collect c3 = { 0 };
    ps_parse_opts o3 = { .on_sample = on_sample, .ctx = &c3 };
    ps_parser *p4 = ps_parser_new(&o3);
    feed_all(p4, big.p, big.len, 100000);
    st = ps_parser_stats(p4);
    assert_int_equal(st->samples, 2);
    assert_int_equal(st->frames + st->frames_dropped, 1001);
    assert_true(st->frames_dropped > 0 && st->frames > 500);
    assert_int_equal(st->skipped, 0);
    assert_int_equal(c3.last.time_ns, 2000000000ull);
    assert_int_equal(c3.last.nframes, 1);
    ps_parser_free(p4);
    collect_free(&c3);
    mb_free(&big);

    /* max_bytes */
    ps_parse_opts ob = { .max_bytes = 100 };
    ps_parser *p3 = ps_parser_new(&ob);
    assert_int_equal(ps_parser_feed(p3, t.p, 1000), -EFBIG);

    ps_parser_free(p);
    ps_parser_free(p2);
    ps_parser_free(p3);
    collect_free(&c);
    collect_free(&c2);
    mb_free(&t);
}

/* feeding a real profile in pieces of many sizes gives what one buffer gives */
static void test_feed_pieces(void **state)
{
    size_t len;
    struct collect whole = { 0 };
    char *buf = read_profile("perf-system.stacks", &len, &whole);
    size_t sizes[] = { 1, 3, 64, 4095, 1 << 20 };
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct collect c = { 0 };
        ps_parser *pf = new_parser(&c, NULL);
        feed_all(pf, buf, len, sizes[k]);
        assert_string_equal(whole.digest.p, c.digest.p);
        assert_string_equal(whole.headers.p, c.headers.p);
        assert_int_equal(ps_parser_stats(pf)->skipped, 0);
        ps_parser_free(pf);
        collect_free(&c);
    }
    collect_free(&whole);
    free(buf);
}

/* a profile that went through a CRLF conversion reads the same */
static void test_crlf(void **state)
{
    size_t len;
    struct collect lf = { 0 };
    char *buf = read_profile("perf-threads.stacks", &len, &lf);
    membuf crlf = { 0 };
    for (size_t i = 0; i < len; i++)
        mb_put(&crlf, buf[i] == '\n' ? "\r\n" : &buf[i], buf[i] == '\n' ? 2 : 1);
    struct collect c = { 0 };
    ps_parser *p = new_parser(&c, NULL);
    assert_int_equal(ps_parse_mem(p, crlf.p, crlf.len), 0);
    assert_int_equal(ps_parser_stats(p)->skipped, 0);
    assert_string_equal(lf.digest.p, c.digest.p);
    assert_string_equal(lf.headers.p, c.headers.p);
    ps_parser_free(p);
    collect_free(&lf);
    collect_free(&c);
    mb_free(&crlf);
    free(buf);
}

static void test_callback_stops(void **state)
{
    char path[4096];
    path_of(path, sizeof(path), "perf-threads.stacks");
    struct collect c = { .stop_after = 5 };
    ps_parser *p = new_parser(&c, NULL);
    char err[256];
    assert_int_equal(ps_parse_file(p, path, err, sizeof(err)), 7);
    assert_int_equal(c.samples, 5);
    ps_parser_free(p);
    collect_free(&c);
}

/* with an interner every name has one id, and ids give the names back */
struct idcheck {
    strtab *t;
    uint64_t frames;
};

static int on_sample_ids(void *ctx, const ps_sample *s)
{
    struct idcheck *k = ctx;
    size_t n;
    const char *str = strtab_str(k->t, s->comm_id, &n);
    assert_non_null(str);
    assert_true(ps_str_eq(s->comm, (ps_str){ str, n }));
    str = strtab_str(k->t, s->event_id, &n);
    assert_true(ps_str_eq(s->event, (ps_str){ str, n }));
    for (uint32_t i = 0; i < s->nframes; i++) {
        const ps_frame *f = &s->frames[i];
        assert_int_equal(strtab_find(k->t, f->sym.p, f->sym.len), f->sym_id);
        str = strtab_str(k->t, f->module_id, &n);
        assert_true(ps_str_eq(f->module, (ps_str){ str, n }));
        k->frames++;
    }
    return 0;
}

static void test_interner(void **state)
{
    char path[4096];
    path_of(path, sizeof(path), "perf-node-jit.stacks");
    struct idcheck k = { .t = strtab_new() };
    assert_non_null(k.t);
    ps_parse_opts o = { .on_sample = on_sample_ids, .ctx = &k, .strtab = k.t };
    ps_parser *p = ps_parser_new(&o);
    char err[256];
    assert_int_equal(ps_parse_file(p, path, err, sizeof(err)), 0);
    assert_true(k.frames > 1000);
    /* fewer distinct names than frames: interning shares them */
    assert_true(strtab_count(k.t) < k.frames / 4);
    assert_int_not_equal(strtab_find(k.t, "node", 4), STRTAB_NONE);
    assert_int_not_equal(strtab_find(k.t, "/usr/bin/node", 13), STRTAB_NONE);
    ps_parser_free(p);
    strtab_free(k.t);
}

static void test_strtab(void **state)
{
    strtab *t = strtab_new();
    assert_non_null(t);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof(key), "sym%d", i);
        assert_int_equal(strtab_intern(t, key, (size_t)n), (uint32_t)i);
    }
    for (int i = 0; i < 100000; i += 997) {
        int n = snprintf(key, sizeof(key), "sym%d", i);
        assert_int_equal(strtab_intern(t, key, (size_t)n), (uint32_t)i);
        assert_int_equal(strtab_find(t, key, (size_t)n), (uint32_t)i);
        size_t len;
        assert_string_equal(strtab_str(t, (uint32_t)i, &len), key);
        assert_int_equal(len, (size_t)n);
    }
    assert_int_equal(strtab_count(t), 100000);
    assert_int_equal(strtab_find(t, "nope", 4), STRTAB_NONE);
    assert_null(strtab_str(t, 100000, NULL));
    /* binary keys, empty key, a key larger than an arena chunk */
    uint32_t ids[3] = { 1, 2, 0 };
    uint32_t a = strtab_intern(t, ids, sizeof(ids));
    assert_int_equal(strtab_intern(t, ids, sizeof(ids)), a);
    uint32_t e = strtab_intern(t, "", 0);
    assert_int_equal(strtab_find(t, "", 0), e);
    size_t big = 1 << 20;
    char *b = malloc(big);
    memset(b, 'z', big);
    uint32_t bid = strtab_intern(t, b, big);
    assert_int_equal(strtab_find(t, b, big), bid);
    assert_true(strtab_memory(t) > big);
    assert_int_not_equal(strtab_intern(t, "after", 5), STRTAB_NONE);
    assert_string_equal(strtab_str(t, strtab_find(t, "sym5", 4), NULL), "sym5");
    free(b);
    strtab_free(t);
}

/* ------------------------------------------------------------------ sniffing */

static void check_sniff(const char *name, const char *path, const char *buf, size_t len)
{
    /* the first 4 KiB, and cuts in the middle of lines */
    for (long cut = 4096; cut > 200; cut -= 611)
        if (!ps_sniff(buf, (size_t)cut < len ? (size_t)cut : len))
            fail_msg("%s: not recognised from %ld bytes", name, cut);
    /* without the header: starts at the first sample */
    const char *ev = strstr(buf, "\n#\n");
    assert_non_null(ev);
    ev += 3;
    size_t left = len - (size_t)(ev - buf);
    for (long cut = 4096; cut > 300; cut -= 500)
        if (!ps_sniff(ev, (size_t)cut < left ? (size_t)cut : left))
            fail_msg("%s without header: not recognised from %ld bytes", name, cut);
}

static void test_sniff(void **state)
{
    for_each_profile(check_sniff);
    const char *no[] = {
        "",
        "#!/bin/sh\necho hi\n",
        "# a comment\nimport os\n",
        "{\"json\": true}\n",
        "hello world\nthis is text\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "worker 1/2 [000] 1.0: cpu-clock: \nnot a frame\n",
        "worker 1/2 [000] 1.0: cpu-cl",                 /* cut: cannot tell */
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (ps_sniff(no[i], strlen(no[i])))
            fail_msg("sniffed as perf script: '%s'", no[i]);
    const char nul[] = "# ========\n\0binary";
    assert_false(ps_sniff(nul, sizeof(nul)));
    const char *yes[] = {
        "# ========\n# captured on",
        "# fntrace version : 0.1.0\n",
        "\n\nworker 1/2 [000] 1.0: cpu-clock: \n\t1 a (b)\n",
        "worker 1/2 [000] 1.0: cpu-clock: \r\n\r\n",
        "# comment\n#\nworker 1 1.000000: 5 cpu-clock:pppH: \n\t    12",
    };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!ps_sniff(yes[i], strlen(yes[i])))
            fail_msg("not sniffed as perf script: '%s'", yes[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_testdata_counts),
        cmocka_unit_test(test_testdata_roundtrip),
        cmocka_unit_test(test_gzip_input),
        cmocka_unit_test(test_event_lines),
        cmocka_unit_test(test_frame_lines),
        cmocka_unit_test(test_writer_format),
        cmocka_unit_test(test_header_writer_and_parser),
        cmocka_unit_test(test_header_perf_block),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_malformed_lines_counted),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_feed_pieces),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_interner),
        cmocka_unit_test(test_strtab),
        cmocka_unit_test(test_invocation_tid),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests_name("perfscript", tests, NULL, NULL);
}
