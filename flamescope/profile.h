/* profile — one perf-script profile parsed once into an in-memory index that answers
 * every flamescope query without touching the file again.
 *
 * The index holds, per sample (file order): the time (ns), a FlameScope stack id (with
 * FlameScope's idle verdict for the heatmap in the top bit), a folded stack id (the
 * stack as stackcollapse-perf.pl names it), and the period (only when it varies).
 * Stacks are interned as a tree (a trie of frames, like the flame graph itself): a
 * stack is its leaf node, and a frame is a (name, type) pair.  Two namings are kept
 * because the two reference tools disagree:
 *   - FlameScope (profile_fs_*): comm cut at its first digit, names cut at the first
 *     '+', "->" splits inlined frames, a leading 'L' dropped for java, frame types
 *     user/kernel/jit/inlined;
 *   - stackcollapse-perf.pl (profile_folded_*): comm with spaces as '_', "[unknown]"
 *     replaced by the module's basename, arguments and quotes tidied, "_[i]" on inlined
 *     frames, only the first event type, weighted by period.
 * For sorted profiles (perf script sorts by time) a per-second table of first-sample
 * indexes makes a time range two binary searches inside one second; unsorted ones fall
 * back to a scan.  Invocations come from the `# fntrace invocation` header lines.
 *
 * Threads: the index keeps the tid of every sample (4 bytes a sample, about 0.3% of a
 * perf-script file's size).  When an invocation line names the thread that ran it
 * (tid=), an invocation's range selects that thread's samples only: exact even when
 * invocations overlap on other threads; an invocation without a tid means every
 * thread's samples in its window.  The speedscope export gives one profile per thread.
 *
 * Ownership: profile_build() returns an index the caller frees with profile_free().
 * Thread-safety: an index is immutable after profile_build(); any number of threads may
 * query it at once.  Errors: negative errno with a message. */
#ifndef FLAMESCOPE_PROFILE_H
#define FLAMESCOPE_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROFILE_NONE UINT32_MAX

enum profile_ftype { FT_NONE = 0, FT_USER, FT_KERNEL, FT_JIT, FT_INLINED, FT__COUNT };
/* FlameScope's names for the types: "", "user", "kernel", "jit", "inlined". */
const char *profile_ftype_name(int type);

struct profile_invocation {
    char *id, *fn;              /* unescaped */
    uint64_t start_ns, end_ns;  /* end_ns valid when has_end */
    int has_end, has_status;
    int32_t status;
    int32_t tid;                /* > 0: the thread that ran it; 0: unknown (all threads) */
    char trace_id[33];          /* W3C trace id of its request (32 hex), or "" */
};

typedef struct profile profile;

/* Parses a plain or gzip perf-script file from fd (read to EOF, not closed).
 * max_text bounds the decompressed bytes (0: none).  -FT_ERR_BAD_GZIP: corrupt gzip;
 * -FT_ERR_NOT_PERF: not perf-script text (nothing parsed but malformed lines); -EFBIG. */
profile *profile_build(int fd, uint64_t max_text, int *errp, char *err, size_t errlen);
/* The same within a memory budget (0: none): a build whose index and tables would
 * pass max_mem bytes stops there with -FT_ERR_OVER_BUDGET, checked every 1,024 samples.
 * Every build (budget or not) also keeps the size bound: what it holds, and the index it
 * makes, stay under the text read so far plus 8 MiB, else -FT_ERR_OVER_BUDGET too. */
profile *profile_build_budget(int fd, uint64_t max_text, size_t max_mem, int *errp,
                              char *err, size_t errlen);
/* The same from a read callback (a store reader); rd NULL reads the fd *(int *)ctx. */
profile *profile_build_read(ssize_t (*rd)(void *ctx, void *buf, size_t len), void *ctx,
                            uint64_t max_text, int *errp, char *err,
                            size_t errlen);
profile *profile_build_read_budget(ssize_t (*rd)(void *ctx, void *buf, size_t len), void *ctx,
                                   uint64_t max_text, size_t max_mem, int *errp, char *err,
                                   size_t errlen);
void profile_free(profile *p);
/* Bytes of memory the index holds. */
size_t profile_memory(const profile *p);

/* An index loaded lazily (pindex.h's PINDEX_CHECK_LAZY) is verified part by part on
 * first use: a reader calls profile_verify() with the parts it reads before reading
 * them.  PROFILE_PART_HEAT: sample times, heat stacks and the per-second table (what
 * views_heatmap reads); PROFILE_PART_ALL: everything.  0 (at once for a built index or
 * a part verified before), -FT_ERR_CORRUPT with the reason in err (then for good: the
 * caller drops the index and rebuilds it from the trace), -ENOMEM. */
#define PROFILE_PART_HEAT 1u
#define PROFILE_PART_REST 2u
#define PROFILE_PART_ALL 3u
int profile_verify(const profile *p, unsigned parts, char *err, size_t errlen);

size_t profile_nsamples(const profile *p);
uint64_t profile_time_ns(const profile *p, size_t i);
/* FlameScope's first timestamp floor(min) in seconds, and its "end" ceil(max). */
double profile_base_s(const profile *p);
uint64_t profile_parsed_bytes(const profile *p);

/* --- time ranges ------------------------------------------------------------------ */
struct profile_range {
    double start_s, end_s;      /* absolute seconds, inclusive */
    int32_t tid;                /* > 0: only that thread's samples; 0: all (zeroed = all) */
};
/* FlameScope's start/end query arguments (either may be NULL): seconds added to
 * floor(first timestamp), end "0" or absent meaning the end of the profile.
 * -EINVAL: not a number (message in err); -ERANGE: outside the profile or start > end. */
int profile_range_parse(const profile *p, const char *start, const char *end,
                        struct profile_range *out, char *err, size_t errlen);
/* The whole profile. */
void profile_range_all(const profile *p, struct profile_range *out);
/* Index bounds of the samples to look at for a range: for a sorted profile exactly the
 * samples in the range, otherwise [0, n) and the caller filters by time. */
void profile_range_bounds(const profile *p, const struct profile_range *r, size_t *lo,
                          size_t *hi);
/* Sample i is in r: its time, and its thread when r names one. */
int profile_in_range(const profile *p, size_t i, const struct profile_range *r);

/* --- FlameScope view ----------------------------------------------------------------- */
/* Stacks form a tree: node 0 is the root, every other node has a parent with a smaller
 * id (parents[node]) and a frame; a sample's stack is the node of its leaf frame.  The
 * first level under the root are the comms. */
uint32_t profile_fs_nstacks(const profile *p);          /* nodes, the root included */
const uint32_t *profile_fs_parents(const profile *p);
uint32_t profile_fs_frame(const profile *p, uint32_t node);
/* The tree in depth-first order, children in creation order: position k holds node[k]
 * (position 0 the root), its frame frame[k], and end[k], the position just after its
 * subtree (a subtree is skipped by jumping there); pos[node] is a node's position.
 * Derived from the parents on the first call (thread-safe, once per index: 16 bytes a
 * node), then kept with the index.  0 or -ENOMEM. */
struct profile_fs_order {
    const uint32_t *node, *frame, *end, *pos;
};
int profile_fs_order(const profile *p, struct profile_fs_order *out);
const char *profile_fs_frame_name(const profile *p, uint32_t frame, size_t *len);
int profile_fs_frame_type(const profile *p, uint32_t frame);
uint32_t profile_fs_nframes(const profile *p);           /* frames are 0 .. nframes - 1 */
uint32_t profile_fs_sample_stack(const profile *p, size_t i);
/* FlameScope's idle tests: the heatmap's (on the sample's raw text) and the flame
 * graph's (on the stack's names). */
int profile_fs_heat_idle(const profile *p, size_t i);
int profile_fs_stack_idle(const profile *p, uint32_t stack);
/* Adds to counts[node] the samples of the range FlameScope's flame graph counts:
 * non-idle ones, plus the last sample of the file when it is in the range (FlameScope
 * adds that one without its idle test).  counts has profile_fs_nstacks() entries.
 * Returns how many samples it added. */
uint64_t profile_fs_count(const profile *p, const struct profile_range *r, uint64_t *counts);
/* The same into counts[at[node]] (at: a node -> slot map such as profile_fs_order's pos;
 * NULL: the node itself). */
uint64_t profile_fs_count_at(const profile *p, const struct profile_range *r, uint64_t *counts,
                             const uint32_t *at);

/* --- stackcollapse view --------------------------------------------------------------- */
/* The same tree shape: the first level are process names, labels are folded names. */
uint32_t profile_folded_nstacks(const profile *p);
const uint32_t *profile_folded_parents(const profile *p);
uint32_t profile_folded_label(const profile *p, uint32_t node);
const char *profile_folded_name(const profile *p, uint32_t name, size_t *len);
uint32_t profile_folded_nnames(const profile *p);
/* The module (the "(path)" of a frame line) folded name `name` was first seen in, with
 * that line's address in *addr: a module id, PROFILE_NONE (and 0) for a name seen in no
 * module (process names, perf's "(inlined)" frames). */
uint32_t profile_folded_module(const profile *p, uint32_t name, uint64_t *addr);
uint32_t profile_nmodules(const profile *p);
const char *profile_module_name(const profile *p, uint32_t mod, size_t *len);
/* Folded stack of sample i, PROFILE_NONE when stackcollapse skips it (other event). */
uint32_t profile_folded_sample_stack(const profile *p, size_t i);
uint64_t profile_period(const profile *p, size_t i);   /* 1 when absent or 0 */
/* The thread (tid) of sample i, 0 when the index holds no threads. */
int32_t profile_tid(const profile *p, size_t i);
int profile_has_tids(const profile *p);
const char *profile_event(const profile *p);           /* the first event, "" if none */

/* --- invocations ---------------------------------------------------------------------- */
size_t profile_ninvocations(const profile *p);
const struct profile_invocation *profile_invocation(const profile *p, size_t i);
const struct profile_invocation *profile_invocation_find(const profile *p, const char *id);
/* The range of an invocation: [start, end] (end of profile while running), restricted
 * to its thread when the line named one. */
void profile_invocation_range(const profile *p, const struct profile_invocation *inv,
                              struct profile_range *out);

#endif
