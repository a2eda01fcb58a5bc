/* perfscript — the model of the `perf script --header` text format: parser, writer,
 * sniffer. Shared by the tracer (writes it), the collector (sniffs uploads) and
 * flamescope (parses profiles on its hot path). docs/perfscript.md describes the format
 * for people; this header is its C form and the contract.
 *
 * The format, one sample:
 *
 *   worker 19191/19193 [001]   716.253785:    5000000 cpu-clock:
 *   \t            1217 hash_block+0x27 (/srv/fn/worker)
 *   \t           891f5 start_thread+0x305 (/usr/lib/x86_64-linux-gnu/libc.so.6)
 *   (blank line)
 *
 * Event line: comm (may hold spaces and digits), `pid/tid` or just `tid`, optional
 * `[cpu]`, time in seconds with up to 9 decimals and a colon, optional period, the event
 * name with a colon. Frame line: whitespace, hex address, `symbol[+0xoff]`, `(module)`
 * (perf prints `(inlined)` in the module place for inline frames). Lines starting with
 * `#` are header lines, wherever they occur; fntrace adds its own `# fntrace …` lines
 * (version, backend, lost samples, one line per invocation with its window and thread).
 *
 * PARSER. A streaming, callback-driven parser:
 *   - ps_parse_mem() parses a buffer in place: no copy per line, no allocation per
 *     frame. Each sample is handed to the callback as a ps_sample whose strings are
 *     views (ps_str) into the buffer and whose frame array is reused between samples:
 *     both are valid only during the callback. Copy or intern what you keep.
 *   - ps_parse_file() reads a plain or gzip file (gzip detected by its magic) in chunks
 *     through an internal buffer; the same view rules apply.
 *   - ps_parser_feed()/ps_parser_finish() take the text in pieces of any size (network
 *     bodies); the parser copies what it needs across pieces.
 *   - With opts.strtab set, the parser interns comm, event, symbol and module names and
 *     fills the *_id fields, so an index can be built from ids alone.
 *   - Malformed lines are skipped and counted (ps_stats.skipped), never fatal. Every
 *     line is bounded (opts.max_line), every sample (opts.max_frames: extra frames are
 *     dropped and counted in ps_stats.frames_dropped and ps_sample.frames_dropped).
 *
 * WRITER. Formats samples and header lines exactly as perf 6.1's `perf script --header`
 * prints them (byte-compatible), into a sink callback through an internal buffer.
 * Times are printed with 6 decimals, truncated to the microsecond (as perf does).
 * Header values are kept on one line: in ps_write_header_kv values, control characters
 * (newline…) and backslashes are escaped as C-style `\n`, `\\`, `\xHH` (ps_unescape()
 * reverses it); ps_write_header_line (copying parsed lines through) escapes only
 * control characters.
 *
 * SNIFFER. ps_sniff() tells from the first bytes (possibly cut mid-line) whether a body
 * looks like perf-script text; ps_sniff_body() does the same for a body that may be
 * gzip; ps_gunzip_prefix() inflates the start of a gzip body.
 *
 * Example — flamescope's index (timestamps + interned stack ids):
 *
 *   static int on_sample(void *ctx, const ps_sample *s) {
 *       struct index *ix = ctx;                  // ix->names: the parser's strtab
 *       uint32_t key[1 + PS_DEFAULT_MAX_FRAMES];
 *       key[0] = s->comm_id;
 *       for (uint32_t i = 0; i < s->nframes; i++)
 *           key[1 + i] = s->frames[i].sym_id;    // or a frame id from (sym, module)
 *       uint32_t stack = strtab_intern(ix->stacks, key, (1 + s->nframes) * 4);
 *       return index_add(ix, s->time_ns, stack); // non-zero stops the parse
 *   }
 *   ps_parse_opts o = { .on_sample = on_sample, .ctx = ix, .strtab = ix->names };
 *   ps_parser *p = ps_parser_new(&o);
 *   int rc = ps_parse_file(p, path, err, sizeof(err));   // plain or .gz
 *   ... ps_parser_stats(p)->skipped ...; ps_parser_free(p);
 *
 * Example — the tracer's output:
 *
 *   ps_writer *w = ps_writer_new_fd(fd);
 *   ps_write_header_perf(w, &(ps_header_info){ .cmdline = cmd, .freq_hz = 200 });
 *   ps_write_fntrace_version(w, FNTRACE_VERSION);
 *   ps_write_fntrace_backend(w, "perf");
 *   ps_write_fntrace_frames(w, kernel_ok);
 *   for each sample: fill a ps_sample (comm, pid, tid, cpu, time_ns, period,
 *       event = PS_STR("cpu-clock"), flags = PS_SAMPLE_PID|PS_SAMPLE_CPU|PS_SAMPLE_PERIOD,
 *       frames/nframes: leaf first, each with addr, sym, off, module and
 *       PS_FRAME_OFF|PS_FRAME_MODULE) and call ps_write_sample(w, &s);
 *   ps_write_fntrace_lost(w, lost); ps_write_invocation(w, &inv);  // any time
 *   rc = ps_writer_close(w);                  // flushes; first error or 0
 *
 * Thread-safety: a ps_parser or ps_writer is used by one thread at a time; different
 * objects are independent. The free functions (ps_sniff, ps_header_*, ps_unescape, …)
 * are reentrant. Errors are negative errno values; nothing here prints or exits. */
#ifndef FNTRACE_PERFSCRIPT_H
#define FNTRACE_PERFSCRIPT_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "strtab.h"

/* ---------------------------------------------------------------- common types */

/* A string view: len bytes at p, NOT NUL-terminated. An absent field is {NULL, 0}
 * (so test len, not p). */
typedef struct {
    const char *p;
    size_t len;
} ps_str;

#define PS_STR(lit) ((ps_str){ (lit), sizeof(lit) - 1 })   /* string literals only */
ps_str ps_cstr(const char *s);                  /* view of a C string (NULL -> empty) */
int ps_str_eq(ps_str a, ps_str b);              /* same bytes? */
int ps_str_eqc(ps_str a, const char *s);        /* equal to C string s? */

#define PS_NSEC_PER_SEC UINT64_C(1000000000)

/* frame flags */
#define PS_FRAME_OFF     0x1  /* `+0xoff` present after the symbol */
#define PS_FRAME_MODULE  0x2  /* `(module)` present */
#define PS_FRAME_INLINED 0x4  /* perf's `(inlined)` frame: module is "inlined" */

typedef struct {
    uint64_t addr;
    uint64_t off;          /* symbol offset, 0 unless PS_FRAME_OFF */
    ps_str sym;            /* symbol without the `+0xoff` suffix, e.g. "[unknown]" */
    ps_str module;         /* text inside the last balanced `( … )`, e.g.
                              "[kernel.kallsyms]", "/tmp/perf-42.map",
                              "/usr/lib/libx.so (deleted)", "inlined" */
    uint32_t sym_id;       /* strtab ids when ps_parse_opts.strtab is set, else 0 */
    uint32_t module_id;
    uint32_t flags;        /* PS_FRAME_* */
} ps_frame;

/* sample flags */
#define PS_SAMPLE_PID    0x1  /* `pid/tid` form (otherwise tid only and pid == -1) */
#define PS_SAMPLE_CPU    0x2  /* `[cpu]` present (otherwise cpu == -1) */
#define PS_SAMPLE_PERIOD 0x4  /* period present (otherwise period == 0) */

typedef struct {
    ps_str comm;           /* e.g. "V8 WorkerThread", "kworker/0:1" */
    int32_t pid;           /* -1 when absent */
    int32_t tid;
    int32_t cpu;           /* -1 when absent */
    uint64_t time_ns;      /* `716.253785` -> 716253785000, exact */
    uint64_t period;       /* 0 when absent */
    ps_str event;          /* "cpu-clock", "cpu-clock:pppH" (without the final colon) */
    ps_str extra;          /* text after "event: " (tracepoint fields), usually empty */
    uint32_t comm_id;      /* strtab ids when ps_parse_opts.strtab is set, else 0 */
    uint32_t event_id;
    uint32_t flags;        /* PS_SAMPLE_* */
    uint32_t nframes;
    uint32_t frames_dropped;  /* frames over opts.max_frames, not in frames[] */
    const ps_frame *frames;   /* leaf first, as printed; reused between samples */
    uint64_t line;         /* 1-based line number of the event line */
} ps_sample;

/* ---------------------------------------------------------------- parser */

/* Return 0 to go on; any other value stops the parse, which then returns it. */
typedef int (*ps_sample_fn)(void *ctx, const ps_sample *s);
/* A `#` line, without its line end (line.p[0] == '#'); lineno is 1-based. */
typedef int (*ps_header_fn)(void *ctx, ps_str line, uint64_t lineno);

#define PS_DEFAULT_MAX_LINE   (64u * 1024u)
#define PS_DEFAULT_MAX_FRAMES 1024u
#define PS_LIMIT_MAX_FRAMES   65536u

typedef struct {
    ps_sample_fn on_sample;   /* may be NULL (count only) */
    ps_header_fn on_header;   /* may be NULL */
    void *ctx;
    strtab *strtab;           /* optional interner for comm/event/sym/module ids */
    size_t max_line;          /* 0 -> PS_DEFAULT_MAX_LINE; longer lines are skipped */
    uint32_t max_frames;      /* 0 -> PS_DEFAULT_MAX_FRAMES (capped at PS_LIMIT_…) */
    uint64_t max_bytes;       /* ps_parse_file/feed: stop with -EFBIG past this many
                                 (decompressed) bytes; 0 = unlimited */
} ps_parse_opts;

typedef struct {
    uint64_t bytes;           /* text bytes consumed */
    uint64_t lines;           /* lines seen (all kinds) */
    uint64_t header_lines;    /* `#` lines */
    uint64_t samples;         /* samples delivered */
    uint64_t frames;          /* frames delivered */
    uint64_t frames_dropped;  /* frames over max_frames */
    uint64_t skipped;         /* malformed lines skipped (includes long_lines) */
    uint64_t long_lines;      /* lines over max_line */
} ps_stats;

typedef struct ps_parser ps_parser;

/* A parser with the given options (copied; NULL = all defaults), or NULL on ENOMEM.
 * A parser can parse several inputs in turn; stats accumulate until ps_parser_reset. */
ps_parser *ps_parser_new(const ps_parse_opts *opts);
void ps_parser_free(ps_parser *p);
void ps_parser_reset(ps_parser *p);           /* drop pending input, zero the stats */
const ps_stats *ps_parser_stats(const ps_parser *p);

/* Parses buf[0..len) as a complete text (a last line without '\n' counts, an open
 * sample at the end is delivered). Zero-copy: views point into buf.
 * Returns 0, a callback's non-zero value, or -ENOMEM (interner full). */
int ps_parse_mem(ps_parser *p, const void *buf, size_t len);

/* Parses a plain or gzip file (gzip by magic, several members allowed).
 * Returns 0, a callback's value, or a negative errno: -ENOENT etc. from open/read,
 * -FT_ERR_BAD_GZIP for corrupt or truncated gzip, -EFBIG past opts.max_bytes, -ENOMEM.
 * Samples before an error have been delivered. err (may be NULL) gets a message. */
int ps_parse_file(ps_parser *p, const char *path, char *err, size_t errlen);
/* Same over an open descriptor (not closed; read until EOF). */
int ps_parse_fd(ps_parser *p, int fd, char *err, size_t errlen);
/* Same over a read callback (a store reader, a socket): rd returns a count, 0 at the
 * end, or a negative code, which ps_parse_read returns. */
typedef ssize_t (*ps_read_fn)(void *ctx, void *buf, size_t len);
int ps_parse_read(ps_parser *p, ps_read_fn rd, void *ctx, char *err, size_t errlen);

/* Incremental: feed plain text in pieces of any size; samples are delivered as soon as
 * they are complete. ps_parser_finish() parses what is left and delivers the last
 * sample. Same return values as ps_parse_mem (plus -EFBIG). After a non-zero return
 * the parser must be reset before feeding more. */
int ps_parser_feed(ps_parser *p, const void *data, size_t len);
int ps_parser_finish(ps_parser *p);

/* One-line parsers the parser itself uses, for callers that work line by line.
 * `line` excludes the line end. They return 1 when the line parses, 0 when not. */
int ps_parse_event_line(ps_str line, ps_sample *out);   /* frames fields untouched */
int ps_parse_frame_line(ps_str line, ps_frame *out);    /* ids left 0 */

/* ---------------------------------------------------------------- header lines */

/* `# key : value` (perf pads keys with spaces: "# captured on    : …"): key without
 * the padding, value up to the line end (trailing spaces kept as perf wrote them, a
 * value may be empty). Returns 1 when the line has that shape. */
int ps_header_kv(ps_str line, ps_str *key, ps_str *value);

/* `# fntrace invocation : id=ID fn=NAME start=SECONDS end=SECONDS status=CODE tid=N
 *  trace_id=HEX` (one line).
 * Tokens are space-separated key=value in any order; id and fn are escaped with
 * ps_escape rules (so never hold a space); unknown keys are ignored (so readers that
 * predate tid= read newer lines).  tid is the thread that ran the function (the tid of
 * the event lines), so a viewer can take that thread's samples only; it is optional
 * (older writers, unknown thread) and a tid that is not a number in 1..INT32_MAX is
 * ignored (the line parses without PS_INV_TID) rather than failing the invocation.
 * trace_id is the W3C trace id (traceparent) the request came with: 32 hex digits, lower
 * case; optional, and a value of another shape is ignored the same way (no trace id). */
#define PS_INV_END    0x1     /* end= present (an invocation still running has none) */
#define PS_INV_STATUS 0x2     /* status= present */
#define PS_INV_TID    0x4     /* tid= present and valid */
typedef struct {
    ps_str id;                /* escaped form, as in the line */
    ps_str fn;
    uint64_t start_ns;
    uint64_t end_ns;
    int32_t status;           /* HTTP status or exit code */
    uint32_t flags;           /* PS_INV_* */
    int32_t tid;              /* > 0 when PS_INV_TID, else 0 */
    ps_str trace_id;          /* 32 lower-case hex digits, or empty */
} ps_invocation;
/* Returns 1 and fills *out when line is such a line with at least id, fn and start. */
int ps_header_invocation(ps_str line, ps_invocation *out);

/* Seconds text ("716.253785", up to 9 decimals) -> ns. Returns 1 on success. */
int ps_parse_seconds(ps_str s, uint64_t *ns);

/* ---------------------------------------------------------------- escaping */

/* Writes the escaped form of s into out (always NUL-terminated when outcap > 0) and
 * returns the full escaped length (like snprintf). `\` -> `\\`, newline -> `\n`,
 * CR -> `\r`, tab -> `\t`, other bytes < 0x20 and 0x7f -> `\xHH`; with
 * PS_ESC_SPACE also space -> `\x20` (for key=value tokens). */
#define PS_ESC_SPACE 0x1
size_t ps_escape(ps_str s, char *out, size_t outcap, int flags);
/* Reverse of ps_escape; returns the unescaped length (NUL-terminated like above).
 * Unknown or incomplete escapes are copied as they are. */
size_t ps_unescape(ps_str s, char *out, size_t outcap);

/* ---------------------------------------------------------------- writer */

/* Receives formatted bytes; returns 0 or a negative errno (then the writer keeps that
 * error, see ps_writer_error, and writes nothing more). */
typedef int (*ps_sink_fn)(void *ctx, const void *data, size_t len);

typedef struct ps_writer ps_writer;

/* A writer that buffers (64 KiB) and hands full buffers to sink; NULL on ENOMEM. */
ps_writer *ps_writer_new(ps_sink_fn sink, void *ctx);
/* A writer onto a stdio stream (fwrite; the stream is not closed). */
ps_writer *ps_writer_new_fp(FILE *fp);
/* A writer onto a file descriptor (write(2), EINTR/short writes handled; not closed). */
ps_writer *ps_writer_new_fd(int fd);
/* Flushes and frees; returns the first error seen (0 if none). NULL is allowed. */
int ps_writer_close(ps_writer *w);
/* Hands the buffered bytes to the sink. */
int ps_writer_flush(ps_writer *w);
/* The first error (negative errno) the sink returned, 0 if none. */
int ps_writer_error(const ps_writer *w);
/* Bytes written so far (buffered included). */
uint64_t ps_writer_bytes(const ps_writer *w);

/* All write functions return 0 or the writer's (sticky) negative error. */

/* The perf header block: "# ========\n", then key/value lines, then
 * "# ========\n#\n" from ps_write_header_end. Values are escaped to one line.
 * perf's order (for the tracer): captured on, hostname, os release, perf version
 * (fntrace's version here), arch, nrcpus online, nrcpus avail, cmdline,
 * event (ps_write_header_event), time of first sample, time of last sample,
 * sample duration (ps_write_header_times). */
int ps_write_header_begin(ps_writer *w);
int ps_write_header_kv(ps_writer *w, const char *key, const char *value);
int ps_write_header_kvf(ps_writer *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "# event : name = NAME, , type = 1, size = 128, { sample_period, sample_freq } =
 *  FREQ, sample_type = IP|TID|TIME|CALLCHAIN|CPU|PERIOD, freq = 1, … ". */
int ps_write_header_event(ps_writer *w, const char *name, unsigned freq_hz);
/* "# time of first sample : S.US", "# time of last sample : S.US",
 * "# sample duration : %10.3f ms" (as perf). */
int ps_write_header_times(ps_writer *w, uint64_t first_ns, uint64_t last_ns);
int ps_write_header_end(ps_writer *w);
/* The whole perf-style header block, begin to end, in perf's order. Fields left 0 or
 * NULL are filled from the running system (uname, sysconf, time) or left out. */
typedef struct {
    time_t captured_on;       /* 0: now */
    const char *hostname;     /* NULL: uname */
    const char *os_release;   /* NULL: uname */
    const char *arch;         /* NULL: uname */
    int nrcpus_online;        /* 0: sysconf */
    int nrcpus_avail;         /* 0: sysconf */
    const char *cmdline;      /* NULL: left out; newlines are escaped */
    const char *event;        /* NULL: "cpu-clock" */
    unsigned freq_hz;         /* 0: the event line is left out */
    uint64_t first_ns;        /* first_ns == last_ns == 0: the time lines are left out */
    uint64_t last_ns;
} ps_header_info;
int ps_write_header_perf(ps_writer *w, const ps_header_info *h);
/* A header line as is ("#" is added when line does not start with it; the line end
 * is added; embedded newlines are escaped). For copying parsed headers through. */
int ps_write_header_line(ps_writer *w, ps_str line);

/* fntrace's own lines (anywhere in the file; FlameScope skips `#` lines):
 *   "# fntrace version : 0.1.0"
 *   "# fntrace backend : perf"          (perf | bpf)
 *   "# fntrace frames : kernel+user"    (or "user": kernel frames not permitted)
 *   "# fntrace lost samples : 12"
 *   "# fntrace invocation : id=… fn=… start=S.NS[ end=S.NS][ status=N][ tid=N][ trace_id=HEX]"
 *   (end, status and tid are written when inv->flags has PS_INV_END, PS_INV_STATUS,
 *   PS_INV_TID; a tid <= 0 is left out; trace_id when it is a W3C trace id) */
int ps_write_fntrace_version(ps_writer *w, const char *version);
int ps_write_fntrace_backend(ps_writer *w, const char *backend);
int ps_write_fntrace_frames(ps_writer *w, int kernel);
int ps_write_fntrace_lost(ps_writer *w, uint64_t lost);
/* inv->id and inv->fn are raw (unescaped) strings: the writer escapes them. */
int ps_write_invocation(ps_writer *w, const ps_invocation *inv);

/* A whole sample: event line, its frames, blank line. Uses s->flags to decide
 * pid/tid vs tid, [cpu], period; s->frames[0..nframes). */
int ps_write_sample(ps_writer *w, const ps_sample *s);
/* The same in pieces, for writers that produce frames one by one: */
int ps_write_event(ps_writer *w, const ps_sample *s);       /* event line only */
int ps_write_frame(ps_writer *w, const ps_frame *f);        /* one frame line */
int ps_write_sample_end(ps_writer *w);                      /* the blank line */
/* Raw bytes (for callers that copy text through unchanged). */
int ps_write_raw(ps_writer *w, const void *data, size_t len);

/* Formats one frame line ("\t…\n" included) into out like snprintf. */
size_t ps_format_frame(const ps_frame *f, char *out, size_t outcap);

/* ---------------------------------------------------------------- sniffing */

/* Does buf[0..len) (the first bytes of a body, possibly cut mid-line) look like
 * perf-script text? Yes when it starts (after blank lines) with perf's "# ========"
 * or a "# fntrace" line, or when its first non-`#`, non-blank line is an event line
 * followed by a frame line or a blank line (or the end of a complete buffer).
 * A NUL byte, a "#!" first line or a first data line that is not an event line is a
 * no. Reads at most PS_SNIFF_MAX bytes. Returns 1 or 0. */
#define PS_SNIFF_MAX 4096
int ps_sniff(const void *buf, size_t len);

#endif
