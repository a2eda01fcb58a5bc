/* symbolizer — turns instruction addresses of live (or recently exited) processes into
 * `symbol+0xoffset (module)` frames, the way `perf script` prints them.
 *
 * Design.  The symbolizer keeps a model of each traced process's executable mappings,
 * seeded from /proc/PID/maps (PROCMAP_QUERY where the kernel has it) and kept current
 * by the sampler's PERF_RECORD_MMAP2 / FORK / COMM(exec) / EXIT records, so libraries
 * loaded later and processes that exit before
 * the end of a recording still resolve.  Frames are resolved when their sample is read,
 * i.e. while the target is alive.  Symbol tables live in a per-binary cache (keyed by
 * device, inode and path), loaded once on first use and kept for the session:
 *   - ELF .symtab/.dynsym via libelf, from a debug file found by build-id
 *     (/usr/lib/debug/.build-id/xx/yyy.debug) or .gnu_debuglink when one is installed;
 *     binaries are opened through /proc/PID/root so containers resolve too;
 *   - [vdso] from this process's own vdso image (the kernel maps the same one everywhere);
 *   - kernel frames from /proc/kallsyms (loaded on the first kernel frame), or from a
 *     kernel lookup the caller sets (the bpf backend's), asked per new address;
 *   - JIT code from /tmp/perf-PID.map, or a containerized process's own
 *     /proc/PID/root/tmp/perf-NSPID.map (jitmap.h) (node --perf-basic-prof, JVM agents,
 *     python -X perf),
 *     re-read at most once per epoch (symbolizer_tick) when it has grown; one that hit a
 *     symbol or memory limit is not read on until it is replaced (shrinks).
 * Printed addresses follow perf: file offset (ip - map start + pgoff) for frames in a
 * file-backed mapping or [vdso], the absolute address for kernel, JIT and unmapped code.
 *
 * Ownership: every string in a sym_frame belongs to the symbolizer and stays valid until
 * symbolizer_free().  Not thread-safe: one thread (the tracer's reader) drives it. */
#ifndef FNTRACE_SYMBOLIZER_H
#define FNTRACE_SYMBOLIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct symbolizer symbolizer;

typedef struct sym_frame {
    uint64_t addr;        /* the address column perf prints */
    const char *sym;      /* NULL: [unknown] */
    uint64_t off;         /* offset into sym */
    const char *module;   /* NULL: [unknown] */
} sym_frame;

symbolizer *symbolizer_new(void);
void symbolizer_free(symbolizer *s);

/* Where debug files live (default /usr/lib/debug: DIR/.build-id/xx/yyy.debug and
 * DIR/<binary's directory>/<debuglink>).  Returns 0 or -EINVAL. */
int symbolizer_set_debug_root(symbolizer *s, const char *dir);

/* Bytes of symbol entries and names all tables together may hold (default 1 GiB), on
 * top of each table's own caps.  Once spent, tables not loaded yet stay empty: their
 * frames print as [unknown] (module), counted in tables_over_budget.  Set it before
 * the first resolve.  Returns 0 or -EINVAL (0 bytes). */
int symbolizer_set_mem_budget(symbolizer *s, size_t bytes);

/* Budget of each /tmp/perf-PID.map: bytes read (default 256 MiB, garbage lines count)
 * and CPU time spent reading it (default 1000 ms, all its reads together).  A map past
 * either is read no further; logged once with the reason.  Returns 0 or -EINVAL. */
int symbolizer_set_jit_budget(symbolizer *s, uint64_t bytes, unsigned ms);

/* How /proc/PID/maps is read: by default one PROCMAP_QUERY ioctl per executable mapping
 * (Linux 6.11; the kernel then formats no line of the other mappings), else its text;
 * text = 1 always reads the text (both give the same mappings). */
void symbolizer_set_maps_text(symbolizer *s, int text);

/* Reads /proc/PID/maps (executable mappings) for a process about to be traced.
 * Returns 0 or a negative errno (the process is gone, or /proc is not readable). */
int symbolizer_add_proc(symbolizer *s, int pid);

/* Side-band events from the sampler.  filename is the mapped path, "//anon", "[vdso]"… */
void symbolizer_mmap(symbolizer *s, int pid, uint64_t start, uint64_t len, uint64_t pgoff,
                     uint32_t maj, uint32_t min, uint64_t ino, const char *filename);
void symbolizer_fork(symbolizer *s, int pid, int ppid);  /* new process, copy of ppid */
void symbolizer_exec(symbolizer *s, int pid);            /* new image: mappings reset */
void symbolizer_exit(symbolizer *s, int pid);            /* last chance to read its JIT map */

/* Another source of kernel symbols than reading all of /proc/kallsyms (~100k lines,
 * tens of ms of kernel time and MBs of table): fn resolves the addresses it is given
 * and calls put(ctx, i, name, off) for each ips[i] it knows (name without module or
 * offset; put copies it).  It returns 0, or a negative errno when it cannot be used
 * at all.  With one set, kernel frames are resolved by batches of addresses not seen
 * before and cached; /proc/kallsyms is read only if fn fails or leaves an address
 * unknown (its answer is then taken for every later address), so frames are named
 * exactly as from the table.  The bpf backend sets one (bpf_sampler_ksyms). */
typedef void (*sym_kernel_put)(void *ctx, size_t i, const char *name, uint64_t off);
typedef int (*sym_kernel_lookup)(void *arg, const uint64_t *ips, size_t n,
                                 sym_kernel_put put, void *ctx);
void symbolizer_set_kernel_lookup(symbolizer *s, sym_kernel_lookup fn, void *arg);
/* Resolves the kernel addresses among ips not seen yet in one go (with a lookup set;
 * otherwise it does nothing): call it with a sample's kernel frames before resolving
 * them one by one. */
void symbolizer_prefetch_kernel(symbolizer *s, const uint64_t *ips, size_t n);

/* Resolves one frame; never fails (unknown parts are NULL). */
void symbolizer_resolve_user(symbolizer *s, int pid, uint64_t ip, sym_frame *out);
void symbolizer_resolve_kernel(symbolizer *s, uint64_t ip, sym_frame *out);

/* Starts a new epoch: files that change while the target runs (JIT maps, /proc/PID/maps
 * on a miss) may be re-read once per epoch.  Call once per read cycle. */
void symbolizer_tick(symbolizer *s);

/* Statistics for tests and logs. */
typedef struct symbolizer_stats {
    unsigned dsos_loaded;     /* binaries whose symbol table was read */
    unsigned maps_reads;      /* /proc/PID/maps reads */
    unsigned perfmap_reads;   /* /tmp/perf-PID.map reads */
    unsigned tables_over_budget; /* symbol tables cut short or not loaded: budget spent */
    unsigned jit_maps_capped; /* JIT maps read no further: a byte, time or symbol cap hit
                                 (each logged once: its later symbols print [unknown]) */
    unsigned kallsyms_reads;  /* /proc/kallsyms reads (0 or 1) */
    uint64_t kernel_lookups;  /* addresses resolved through the kernel lookup */
} symbolizer_stats;
void symbolizer_get_stats(const symbolizer *s, symbolizer_stats *out);

#endif
