/* symbolizer — see symbolizer.h for the design.
 *
 * Data structures: one `struct proc` per traced process (pid) with a sorted array of its
 * executable mappings; one `struct dso` per distinct binary (dev, inode, path) holding a
 * sorted symbol array whose names point into a single string buffer; the kernel symbol
 * table and the vdso are dsos of their own.  Nothing is freed before symbolizer_free(),
 * so the strings handed out in sym_frame stay valid for the whole session. */
#define _GNU_SOURCE                   /* memrchr */
#include "symbolizer.h"
#include "intmap.h"
#include "jitmap.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SYMS        (8u << 20)    /* per binary / JIT map / kernel */
#define MAX_STR_BYTES   (512u << 20)  /* their names: a crafted ELF can point every
                                         symbol at one huge name */
#define MAX_MAPS        65536u        /* per process */
#define MAX_LINE        8192
#define MAX_SEGS        32
#define DSO_BUCKETS     1024
#define MAX_RETIRED     (64u << 20)   /* per JIT map: old string buffers kept alive */
#define DEFAULT_BUDGET  ((size_t)1 << 30) /* all tables together: see symbolizer_set_mem_budget */
#define JIT_MAX_BYTES   (256ull << 20)    /* per JIT map read: see symbolizer_set_jit_budget */
#define JIT_MAX_MS      1000u
#define JIT_CHECK_LINES 4096              /* lines between two looks at the clock */

struct sym {
    uint64_t start, size;
    size_t name;                      /* offset into the owner's strs */
};

/* A string buffer that was replaced after names in it were handed out: kept until
 * symbolizer_free(), as sym_frame promises. */
struct retired {
    struct retired *next;
    char *strs;
};

/* Bytes of symbol entries and names loaded by the whole session: a target can map many
 * distinct crafted files, each under the per-table caps. */
struct budget {
    size_t limit, used;
    int spent;                        /* an add was refused: load no further tables */
};

struct symtab {
    struct budget *budget;            /* the session's, shared by every table */
    struct sym *v;
    size_t n, cap;
    char *strs;
    size_t slen, scap;
    int published;                    /* names were handed out: strs must not move */
    struct retired *retired;
    size_t retired_bytes;
};

/* Keeps t->strs alive (names of it are in sym_frames) and detaches it from t. */
static int symtab_retire(struct symtab *t)
{
    if (!t->strs) return 0;
    if (t->retired_bytes + t->scap > MAX_RETIRED) return -E2BIG;
    struct retired *r = malloc(sizeof *r);
    if (!r) return -ENOMEM;
    r->strs = t->strs;
    r->next = t->retired;
    t->retired = r;
    t->retired_bytes += t->scap;
    t->strs = NULL;
    return 0;
}

struct dso {
    char *path;                       /* as the kernel names it: the module column */
    uint32_t maj, min;
    uint64_t ino;
    int loaded;
    struct { uint64_t off, vaddr, filesz; } seg[MAX_SEGS];
    int nseg;
    struct symtab syms;
    struct dso *next;                 /* hash chain */
};

enum map_kind { MAP_FILE, MAP_ANON, MAP_VDSO };

struct map {
    uint64_t start, end, pgoff;
    enum map_kind kind;
    struct dso *dso;                  /* MAP_FILE and MAP_VDSO */
};

struct proc {
    int pid;
    struct map *maps;
    size_t n, cap;
    uint64_t maps_epoch;              /* epoch of the last /proc/PID/maps read */
    uint64_t maps_read_ns;            /* CLOCK_MONOTONIC of that read, 0 before the first */
    struct symtab jit;
    char *jit_path;
    off_t jit_size;                   /* bytes of the JIT map consumed so far */
    int jit_full;                     /* a limit was hit: not read on until it is replaced */
    uint64_t jit_ns;                  /* time spent reading this map, all reads */
    uint64_t jit_epoch;
    jitmap_loc jit_loc;               /* where its JIT map is, once jit_located */
    int jit_located;
};

struct symbolizer {
    intmap procs;
    struct dso *dsos[DSO_BUCKETS];
    struct dso *vdso;
    struct dso *kernel;               /* path "[kernel.kallsyms]" */
    int kernel_tried;                 /* /proc/kallsyms was read (into kernel->syms) */
    sym_kernel_lookup klookup;        /* or addresses are asked for, cached in kcache */
    void *klookup_arg;
    intmap kcache;                    /* ip -> struct kent */
    int no_query;                     /* PROCMAP_QUERY refused: /proc/PID/maps as text */
    int gate_known;
    uint64_t gate_start, gate_end;    /* [vsyscall] */
    char debug_root[PATH_MAX];        /* where debug files are installed */
    uint64_t epoch;
    struct budget budget;
    uint64_t jit_max_bytes;
    uint64_t jit_max_ns;
    symbolizer_stats stats;
};

/* ---- symbol tables ---------------------------------------------------------------- */

/* Room for one more entry that costs COST bytes of the session budget: the table's cap,
 * the budget, and the entry array's growth, checked in that order. */
static int symtab_reserve(struct symtab *t, size_t cost)
{
    if (t->n >= MAX_SYMS) return -E2BIG;
    if (t->budget->used + cost > t->budget->limit) {
        t->budget->spent = 1;
        return -E2BIG;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        struct sym *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return -ENOMEM;
        t->v = nv;
        t->cap = nc;
    }
    return 0;
}

/* name[0..len) is the name (no NUL needed within it). */
static int symtab_add_len(struct symtab *t, uint64_t start, uint64_t size, const char *name,
                          size_t len)
{
    size_t nl = len + 1;
    if (t->slen + nl > MAX_STR_BYTES) return -E2BIG;
    size_t cost = sizeof *t->v + nl;
    int rc = symtab_reserve(t, cost);
    if (rc < 0) return rc;
    if (t->slen + nl > t->scap) {
        size_t nc = t->scap ? t->scap * 2 : 4096;
        while (nc < t->slen + nl) nc *= 2;
        char *ns;
        if (t->published) {               /* copy: the old buffer stays where it is */
            if (!(ns = malloc(nc))) return -ENOMEM;
            if (t->slen) memcpy(ns, t->strs, t->slen);
            rc = symtab_retire(t);
            if (rc < 0) {
                free(ns);
                return rc;
            }
        } else if (!(ns = realloc(t->strs, nc))) {
            return -ENOMEM;
        }
        t->strs = ns;
        t->scap = nc;
    }
    memcpy(t->strs + t->slen, name, len);
    t->strs[t->slen + len] = 0;
    t->v[t->n++] = (struct sym){ start, size, t->slen };
    t->slen += nl;
    t->budget->used += cost;
    return 0;
}

/* An entry whose name is already in t->strs at offset name (symtab_adopt_strs). */
static int symtab_add_ref(struct symtab *t, uint64_t start, uint64_t size, size_t name)
{
    int rc = symtab_reserve(t, sizeof *t->v);
    if (rc < 0) return rc;
    t->v[t->n++] = (struct sym){ start, size, name };
    t->budget->used += sizeof *t->v;
    return 0;
}

/* An empty table takes a copy of a whole string section as its names (one copy instead
 * of one per symbol), NUL-terminated at its end.  -E2BIG when it does not fit the caps
 * or the budget (then copy the names one by one), -ENOMEM. */
static int symtab_adopt_strs(struct symtab *t, const char *strs, size_t len)
{
    if (t->slen || t->strs || len + 1 > MAX_STR_BYTES ||
        t->budget->used + len + 1 > t->budget->limit)
        return -E2BIG;
    if (!(t->strs = malloc(len + 1))) return -ENOMEM;
    memcpy(t->strs, strs, len);
    t->strs[len] = 0;
    t->slen = t->scap = len + 1;
    t->budget->used += len + 1;
    return 0;
}

static int symtab_add(struct symtab *t, uint64_t start, uint64_t size, const char *name)
{
    return symtab_add_len(t, start, size, name, strlen(name));
}

static int sym_cmp(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    /* among aliases keep the one with a size first */
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return 0;
}

/* Sorts, drops aliases at the same address, and gives sizeless symbols the room up to
 * the next one (what perf does for hand-written assembly). */
/* Stable sort by start: LSD radix over the bytes in which the starts differ (a binary's
 * symbols span a few of them), several times quicker than qsort on 100k+ symbols.
 * -ENOMEM: no room for the scratch copy (the caller sorts in place instead). */
static int sort_by_start(struct sym *v, size_t n)
{
    uint64_t all_or = 0, all_and = ~0ULL;
    for (size_t i = 0; i < n; i++) {
        all_or |= v[i].start;
        all_and &= v[i].start;
    }
    uint64_t differ = all_or ^ all_and;
    if (!differ) return 0;
    struct sym *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return -ENOMEM;
    struct sym *src = v, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        if (!((differ >> shift) & 0xff)) continue;
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++) count[((src[i].start >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++) dst[count[(src[i].start >> shift) & 0xff]++] = src[i];
        struct sym *x = src;
        src = dst;
        dst = x;
    }
    if (src != v) memcpy(v, src, n * sizeof *v);
    free(tmp);
    return 0;
}

static void symtab_finish(struct symtab *t)
{
    t->published = 1;
    if (!t->n) return;
    size_t unsorted = 0;
    for (size_t i = 1; i < t->n && !unsorted; i++) unsorted = sym_cmp(&t->v[i - 1], &t->v[i]) > 0;
    if (unsorted && sort_by_start(t->v, t->n) < 0)    /* kallsyms mostly is sorted */
        qsort(t->v, t->n, sizeof *t->v, sym_cmp);
    /* aliases at one address: the one with the largest size, the first of those */
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!w || t->v[w - 1].start != t->v[i].start) t->v[w++] = t->v[i];
        else if (t->v[i].size > t->v[w - 1].size) t->v[w - 1] = t->v[i];
    }
    t->n = w;
    for (size_t i = 0; i + 1 < t->n; i++)
        if (!t->v[i].size) t->v[i].size = t->v[i + 1].start - t->v[i].start;
}

/* The symbol containing addr; with sloppy set, sizeless end of the table matches too. */
static const struct sym *symtab_find(const struct symtab *t, uint64_t addr, int sloppy)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].start <= addr) lo = mid + 1;
        else hi = mid;
    }
    if (!lo) return NULL;
    const struct sym *s = &t->v[lo - 1];
    if (addr - s->start < s->size || (sloppy && !s->size)) return s;
    /* overlapping JIT entries: a bigger earlier symbol may still cover addr */
    for (size_t i = lo - 1, k = 0; i-- > 0 && k < 8; k++)
        if (addr - t->v[i].start < t->v[i].size) return &t->v[i];
    return NULL;
}

static void symtab_free(struct symtab *t)
{
    free(t->v);
    free(t->strs);
    for (struct retired *r = t->retired, *n; r; r = n) {
        n = r->next;
        free(r->strs);
        free(r);
    }
    struct budget *b = t->budget;
    memset(t, 0, sizeof *t);
    t->budget = b;
}

/* Empties t for a fresh read; the names handed out so far stay valid.  -E2BIG when that
 * would keep more than MAX_RETIRED bytes of old names (t is left as it was). */
static int symtab_restart(struct symtab *t)
{
    int rc = symtab_retire(t);
    if (rc < 0) return rc;
    t->n = t->slen = t->scap = 0;
    return 0;
}

/* ---- ELF ---------------------------------------------------------------------------- */

/* The function symbols of a 64-bit table read in place (libelf hands native-order
 * Elf64_Sym arrays out as they are), names bounds-checked against their string section:
 * what gelf_getsym + elf_strptr do per symbol, without the per-call section lookups
 * (a big library has 100k+ symbols).  Returns 1 when it found one, | 2 when a table
 * limit stopped it; -1: not this layout, use the generic loop. */
static int elf_load_syms64(Elf *e, const GElf_Shdr *sh, Elf_Data *data, struct symtab *t)
{
    if (gelf_getclass(e) != ELFCLASS64 || data->d_type != ELF_T_SYM ||
        sh->sh_entsize != sizeof(Elf64_Sym) || !data->d_buf)
        return -1;
    Elf_Scn *strscn = elf_getscn(e, sh->sh_link);
    GElf_Shdr ssh;
    Elf_Data *sd = strscn ? elf_getdata(strscn, NULL) : NULL;
    if (!sd || !sd->d_buf || !gelf_getshdr(strscn, &ssh) || ssh.sh_type != SHT_STRTAB)
        return -1;
    const Elf64_Sym *v = data->d_buf;
    const char *strs = sd->d_buf;
    size_t n = data->d_size / sizeof *v, slen = sd->d_size;
    int found = 0;
    if (slen && symtab_adopt_strs(t, strs, slen) == 0) {
        /* names point into the copy; a name is valid when a NUL of the section ends it */
        const char *nul = memrchr(strs, 0, slen);
        size_t valid = nul ? (size_t)(nul - strs) : 0;      /* names starting before */
        for (size_t i = 0; i < n; i++) {
            const Elf64_Sym *sym = &v[i];
            int st = ELF64_ST_TYPE(sym->st_info);
            if ((st != STT_FUNC && st != STT_GNU_IFUNC) || sym->st_shndx == SHN_UNDEF ||
                !sym->st_value || sym->st_name >= valid || !strs[sym->st_name])
                continue;
            if (symtab_add_ref(t, sym->st_value, sym->st_size, sym->st_name) < 0)
                return found | 2;
            found = 1;
        }
        return found;
    }
    for (size_t i = 0; i < n; i++) {
        const Elf64_Sym *sym = &v[i];
        int st = ELF64_ST_TYPE(sym->st_info);
        if ((st != STT_FUNC && st != STT_GNU_IFUNC) || sym->st_shndx == SHN_UNDEF ||
            !sym->st_value || sym->st_name >= slen)
            continue;
        const char *name = strs + sym->st_name;
        size_t room = slen - sym->st_name, len = strnlen(name, room);
        if (!len || len == room) continue;       /* empty, or not terminated in the section */
        if (symtab_add_len(t, sym->st_value, sym->st_size, name, len) < 0) return found | 2;
        found = 1;
    }
    return found;
}

static int elf_load_syms(Elf *e, Elf64_Word type, struct symtab *t)
{
    Elf_Scn *scn = NULL;
    int found = 0;
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize) continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!data) continue;
        int fast = elf_load_syms64(e, &sh, data, t);
        if (fast >= 0) {
            found |= fast & 1;
            if (fast & 2) return found;
            continue;
        }
        size_t n = sh.sh_size / sh.sh_entsize;
        for (size_t i = 0; i < n; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(data, (int)i, &sym)) break;
            int st = GELF_ST_TYPE(sym.st_info);
            if ((st != STT_FUNC && st != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
                !sym.st_value)
                continue;
            const char *name = elf_strptr(e, sh.sh_link, sym.st_name);
            if (!name || !*name) continue;
            if (symtab_add(t, sym.st_value, sym.st_size, name) < 0) return found;
            found = 1;
        }
    }
    return found;
}

static int elf_has_section_type(Elf *e, Elf64_Word type)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) && sh.sh_type == type) return 1;
    }
    return 0;
}

/* Build-id as lowercase hex; 0 if none. */
static int elf_build_id(Elf *e, char *hex, size_t cap)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE) continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!data) continue;
        size_t off = 0, noff, doff;
        GElf_Nhdr nh;
        while ((off = gelf_getnote(data, off, &nh, &noff, &doff)) > 0) {
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                !memcmp((char *)data->d_buf + noff, "GNU", 4) && nh.n_descsz &&
                (size_t)nh.n_descsz * 2 < cap) {   /* 32-bit n_descsz * 2 wraps */
                const unsigned char *d = (const unsigned char *)data->d_buf + doff;
                for (size_t i = 0; i < nh.n_descsz; i++) sprintf(hex + 2 * i, "%02x", d[i]);
                return 1;
            }
        }
    }
    return 0;
}

static int elf_debuglink(Elf *e, char *name, size_t cap)
{
    size_t shstrndx;
    if (elf_getshdrstrndx(e, &shstrndx)) return 0;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh)) continue;
        const char *sn = elf_strptr(e, shstrndx, sh.sh_name);
        if (!sn || strcmp(sn, ".gnu_debuglink")) continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!data || !data->d_size) return 0;
        size_t len = strnlen(data->d_buf, data->d_size);
        if (!len || len >= cap || len == data->d_size || memchr(data->d_buf, '/', len)) return 0;
        memcpy(name, data->d_buf, len);
        name[len] = 0;
        return 1;
    }
    return 0;
}

/* Opens a debug file and loads its .symtab; 1 on success. */
static int load_debug_file(const char *path, struct symtab *t)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    int ok = 0;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (e && elf_kind(e) == ELF_K_ELF) ok = elf_load_syms(e, SHT_SYMTAB, t);
    if (e) elf_end(e);
    close(fd);
    return ok;
}

static int try_debug_files(const char *root, Elf *e, const char *path, struct symtab *t)
{
    char buf[PATH_MAX + 64], id[130], link[256];
    if (elf_build_id(e, id, sizeof id) && strlen(id) > 2) {
        snprintf(buf, sizeof buf, "%s/.build-id/%.2s/%s.debug", root, id, id + 2);
        if (load_debug_file(buf, t)) return 1;
    }
    if (elf_debuglink(e, link, sizeof link)) {
        const char *slash = strrchr(path, '/');
        int dirlen = slash ? (int)(slash - path) : 0;
        static const char *fmts[] = { "%s%.*s/%s", "%s%.*s/.debug/%s", "%s%.*s/%s" };
        for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
            snprintf(buf, sizeof buf, fmts[i], i == 2 ? root : "", dirlen, path, link);
            if (strcmp(buf, path) && load_debug_file(buf, t)) return 1;
        }
    }
    return 0;
}

/* Reads segments and symbols of an ELF image (file or memory). */
static void dso_load_elf(symbolizer *s, struct dso *d, Elf *e, const char *path)
{
    if (elf_kind(e) != ELF_K_ELF) return;
    size_t nph;
    if (!elf_getphdrnum(e, &nph)) {
        for (size_t i = 0; i < nph && d->nseg < MAX_SEGS; i++) {
            GElf_Phdr ph;
            if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD) continue;
            d->seg[d->nseg].off = ph.p_offset;
            d->seg[d->nseg].vaddr = ph.p_vaddr;
            d->seg[d->nseg].filesz = ph.p_filesz;
            d->nseg++;
        }
    }
    int ok = elf_has_section_type(e, SHT_SYMTAB) && elf_load_syms(e, SHT_SYMTAB, &d->syms);
    if (!ok && path) ok = try_debug_files(s->debug_root, e, path, &d->syms);
    if (!ok) elf_load_syms(e, SHT_DYNSYM, &d->syms);
    symtab_finish(&d->syms);
    s->stats.dsos_loaded++;
    if (s->budget.spent) s->stats.tables_over_budget++;   /* this one is cut short */
}

/* 1 when the session's budget is spent: the table is left empty (counted). */
static int over_budget(symbolizer *s)
{
    if (s->budget.spent) s->stats.tables_over_budget++;
    return s->budget.spent;
}

static void dso_load(symbolizer *s, struct dso *d, int pid)
{
    d->loaded = 1;
    if (d->path[0] != '/' || over_budget(s)) return;
    char path[PATH_MAX], buf[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s", d->path);
    size_t pl = strlen(path);
    static const char deleted[] = " (deleted)";
    int gone = pl > sizeof deleted && !strcmp(path + pl - (sizeof deleted - 1), deleted);
    if (gone) path[pl - (sizeof deleted - 1)] = 0;
    int fd = -1;
    /* O_NONBLOCK: the target names these files; a FIFO there must not block the open */
    if (pid > 0) {
        /* the process's own view of the file system (containers, chroots) */
        snprintf(buf, sizeof buf, "/proc/%d/root%s", pid, path);
        fd = open(buf, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    }
    if (fd < 0) fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    /* a deleted mapping's path holds another file now (an upgrade): its symbols would
     * name the mapped code wrongly */
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (gone && d->ino && st.st_ino != d->ino)) {
        close(fd);
        return;
    }
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (e) {
        dso_load_elf(s, d, e, path);
        elf_end(e);
    }
    close(fd);
}

/* The vdso is the same image in every process: parse this process's copy. */
static void vdso_load(symbolizer *s, struct dso *d)
{
    d->loaded = 1;
    unsigned long base = getauxval(AT_SYSINFO_EHDR);
    if (!base || over_budget(s)) return;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) return;
    char line[MAX_LINE];
    unsigned long lo = 0, hi = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) break;
        lo = hi = 0;
    }
    fclose(f);
    if (lo != base || hi <= lo || hi - lo > (64u << 20)) return;
    char *copy = malloc(hi - lo);
    if (!copy) return;
    memcpy(copy, (const void *)lo, hi - lo);
    Elf *e = elf_memory(copy, hi - lo);
    if (e) {
        dso_load_elf(s, d, e, NULL);
        elf_end(e);
    }
    free(copy);
}

static uint64_t dso_vaddr(const struct dso *d, uint64_t off)
{
    for (int i = 0; i < d->nseg; i++)
        if (off >= d->seg[i].off && off - d->seg[i].off < d->seg[i].filesz)
            return off - d->seg[i].off + d->seg[i].vaddr;
    return off;
}

/* ---- kernel -------------------------------------------------------------------------- */

/* One /proc/kallsyms line "ADDR TYPE NAME[\t[MODULE]]": text symbols only.  Parsed by
 * hand: the file has 100k+ lines and sscanf would be most of a recording's CPU time. */
static void kallsyms_line(struct symtab *t, char *line, int *nonzero)
{
    uint64_t addr = 0;
    char *p = line;
    for (;; p++) {
        unsigned c = (unsigned char)*p, v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else break;
        addr = addr << 4 | v;
    }
    if (p == line || p[0] != ' ' || !p[1] || p[2] != ' ') return;
    char type = p[1];
    if (type != 't' && type != 'T' && type != 'w' && type != 'W') return;
    char *name = p + 3, *end = name + strcspn(name, "\t ");
    *end = 0;
    if (!addr || !*name) return;
    *nonzero = 1;
    symtab_add(t, addr, 0, name);
}

static void kernel_load(symbolizer *s)
{
    if (s->kernel_tried) return;
    s->kernel_tried = 1;
    if (over_budget(s)) return;
    s->stats.kallsyms_reads++;
    int fd = open("/proc/kallsyms", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    int nonzero = 0;
    ssize_t r = 0;
    while (buf && (r = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)r;
        buf[len] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
            *nl = 0;
            kallsyms_line(&s->kernel->syms, line, &nonzero);
            line = nl + 1;
        }
        len -= (size_t)(line - buf);
        memmove(buf, line, len);
        if (len == cap) len = 0;          /* a line longer than 1 MiB: drop it */
    }
    close(fd);
    free(buf);
    if (!nonzero) symtab_free(&s->kernel->syms);   /* kptr_restrict: addresses hidden */
    symtab_finish(&s->kernel->syms);
    if (s->budget.spent) s->stats.tables_over_budget++;   /* cut short */
}

/* A kernel address the lookup answered for; name inline, "" when it did not know it. */
struct kent {
    uint64_t off;
    char name[];
};

#define KCACHE_MAX (1u << 20)          /* addresses cached; past it the table is read */
#define KBATCH 64

struct kbatch {
    symbolizer *s;
    const uint64_t *ips;
    size_t n;
};

static void kput(void *ctx, size_t i, const char *name, uint64_t off)
{
    struct kbatch *b = ctx;
    if (i >= b->n || !name || !*name || intmap_get(&b->s->kcache, b->ips[i])) return;
    size_t nl = strlen(name) + 1;
    struct kent *k = malloc(sizeof *k + nl);
    if (!k) return;
    k->off = off;
    memcpy(k->name, name, nl);
    if (intmap_put(&b->s->kcache, b->ips[i], k) < 0) free(k);
}

void symbolizer_set_kernel_lookup(symbolizer *s, sym_kernel_lookup fn, void *arg)
{
    s->klookup = fn;
    s->klookup_arg = arg;
}

void symbolizer_prefetch_kernel(symbolizer *s, const uint64_t *ips, size_t n)
{
    if (!s->klookup || s->kernel_tried) return;
    uint64_t want[KBATCH];
    size_t nw = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !intmap_get(&s->kcache, ips[i])) {
            int dup = 0;
            for (size_t k = 0; k < nw && !dup; k++) dup = want[k] == ips[i];
            if (!dup) want[nw++] = ips[i];
        }
        if (nw && (nw == KBATCH || i == n)) {
            if (s->kcache.len + nw > KCACHE_MAX) {
                kernel_load(s);               /* enough addresses: the table is cheaper */
                return;
            }
            struct kbatch b = { s, want, nw };
            if (s->klookup(s->klookup_arg, want, nw, kput, &b) < 0) {
                kernel_load(s);               /* the lookup is not usable: the table */
                return;
            }
            s->stats.kernel_lookups += nw;
            for (size_t k = 0; k < nw; k++)
                if (!intmap_get(&s->kcache, want[k])) {
                    kernel_load(s);           /* one it does not know: the table decides */
                    return;
                }
            nw = 0;
        }
    }
}

void symbolizer_resolve_kernel(symbolizer *s, uint64_t ip, sym_frame *out)
{
    if (s->klookup && !s->kernel_tried) {
        const struct kent *k = intmap_get(&s->kcache, ip);
        if (!k) {
            symbolizer_prefetch_kernel(s, &ip, 1);
            k = s->kernel_tried ? NULL : intmap_get(&s->kcache, ip);
        }
        if (k) {
            out->addr = ip;
            out->module = s->kernel->path;
            out->sym = k->name;
            out->off = k->off;
            return;
        }
    }
    if (!s->kernel_tried) kernel_load(s);
    out->addr = ip;
    out->module = s->kernel->path;
    const struct sym *sy = symtab_find(&s->kernel->syms, ip, 1);
    /* past the last text symbol by more than 1 MiB is not a kernel function */
    if (sy && ip - sy->start < (1u << 20)) {
        out->sym = s->kernel->syms.strs + sy->name;
        out->off = ip - sy->start;
    } else {
        out->sym = NULL;
        out->off = 0;
    }
}

/* ---- processes and mappings ----------------------------------------------------------- */

static uint64_t str_hash(const char *p)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static struct dso *dso_get(symbolizer *s, const char *path, uint32_t maj, uint32_t min,
                           uint64_t ino)
{
    uint64_t h = (str_hash(path) ^ ino) % DSO_BUCKETS;
    for (struct dso *d = s->dsos[h]; d; d = d->next)
        if (d->ino == ino && d->maj == maj && d->min == min && !strcmp(d->path, path)) return d;
    struct dso *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return NULL;
    }
    d->maj = maj;
    d->min = min;
    d->ino = ino;
    d->syms.budget = &s->budget;
    d->next = s->dsos[h];
    s->dsos[h] = d;
    return d;
}

static struct proc *proc_get(symbolizer *s, int pid)
{
    struct proc *p = intmap_get(&s->procs, (uint64_t)pid);
    if (p) return p;
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->pid = pid;
    p->jit.budget = &s->budget;
    p->maps_epoch = UINT64_MAX;
    p->jit_epoch = UINT64_MAX;
    if (intmap_put(&s->procs, (uint64_t)pid, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* Inserts [start, end) and cuts whatever it overlaps, as a new mmap does. */
static void proc_insert(struct proc *p, const struct map *m)
{
    if (p->n + 2 > p->cap) {
        if (p->cap >= MAX_MAPS) return;
        size_t nc = p->cap ? p->cap * 2 : 64;
        struct map *nv = realloc(p->maps, nc * sizeof *nv);
        if (!nv) return;
        p->maps = nv;
        p->cap = nc;
    }
    size_t w = 0, n = p->n;
    struct map right = { 0 };
    int have_right = 0;
    for (size_t i = 0; i < n; i++) {
        struct map e = p->maps[i];
        if (e.end <= m->start || e.start >= m->end) {
            p->maps[w++] = e;
            continue;
        }
        if (e.end > m->end) {        /* the tail survives */
            right = e;
            right.pgoff += m->end - e.start;
            right.start = m->end;
            have_right = 1;
        }
        if (e.start < m->start) {    /* the head survives */
            e.end = m->start;
            p->maps[w++] = e;
        }
    }
    p->n = w;
    p->maps[p->n++] = *m;
    if (have_right) p->maps[p->n++] = right;
    /* insertion sort of the (at most two) new entries */
    for (size_t i = 1; i < p->n; i++) {
        struct map x = p->maps[i];
        size_t j = i;
        while (j && p->maps[j - 1].start > x.start) {
            p->maps[j] = p->maps[j - 1];
            j--;
        }
        p->maps[j] = x;
    }
}

static const struct map *proc_find(const struct proc *p, uint64_t ip)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->maps[mid].start <= ip) lo = mid + 1;
        else hi = mid;
    }
    if (lo && ip < p->maps[lo - 1].end) return &p->maps[lo - 1];
    return NULL;
}

static void add_mapping(symbolizer *s, struct proc *p, uint64_t start, uint64_t end,
                        uint64_t pgoff, uint32_t maj, uint32_t min, uint64_t ino,
                        const char *name)
{
    if (end <= start) return;
    struct map m = { .start = start, .end = end, .pgoff = pgoff, .kind = MAP_ANON };
    if (!strcmp(name, "[vdso]")) {
        m.kind = MAP_VDSO;
        m.dso = s->vdso;
    } else if (name[0] == '/' && name[1] != '/' && strncmp(name, "/memfd:", 7)) {
        m.kind = MAP_FILE;
        m.dso = dso_get(s, name, maj, min, ino);
        if (!m.dso) return;
    } else if (name[0] == '[' && strncmp(name, "[anon", 5) && strcmp(name, "[heap]") &&
               strcmp(name, "[stack]")) {
        m.kind = MAP_FILE;           /* [vsyscall] and friends: named, no symbols */
        m.dso = dso_get(s, name, 0, 0, 0);
        if (!m.dso) return;
    }
    proc_insert(p, &m);
}

/* PROCMAP_QUERY (Linux 6.11, <linux/fs.h>): one executable mapping per ioctl on an open
 * /proc/PID/maps, so the kernel formats no line for the (many more) other mappings. */
#ifndef PROCMAP_QUERY
struct procmap_query {
    uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size,
             vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#endif

/* The [vsyscall] page as /proc/self/maps shows it (the same in every 64-bit process;
 * the ioctl does not list it): start 0 when there is none. */
static void gate_area(symbolizer *s)
{
    s->gate_known = 1;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) return;
    char line[MAX_LINE];
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        char perms[8];
        if (strstr(line, "[vsyscall]") && sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 &&
            hi > lo && strlen(perms) >= 3 && perms[2] == 'x') {
            s->gate_start = lo;
            s->gate_end = hi;
        }
    }
    fclose(f);
}

/* 0, or -ENOTTY (an older kernel: read the text) or another -errno. */
static int query_maps(symbolizer *s, struct proc *p, int fd)
{
    char name[PATH_MAX + 16], mangled[PATH_MAX + 64];
    uint64_t addr = 0;
    for (unsigned n = 0; n < MAX_MAPS; n++) {
        struct procmap_query q;
        memset(&q, 0, sizeof q);
        q.size = sizeof q;
        q.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA | PROCMAP_QUERY_VMA_EXECUTABLE;
        q.query_addr = addr;
        q.vma_name_addr = (uint64_t)(uintptr_t)name;
        q.vma_name_size = sizeof name;
        if (ioctl(fd, PROCMAP_QUERY, &q) < 0) {
            if (errno == ENOENT) break;          /* no executable mapping above addr */
            return -errno;
        }
        if (q.vma_end <= q.vma_start || q.vma_start < addr) return -EINVAL;
        name[q.vma_name_size && q.vma_name_size <= sizeof name ? q.vma_name_size - 1 : 0] = 0;
        /* as /proc/PID/maps prints it: a newline in a path is "\012" */
        const char *nm = name;
        if (strchr(name, '\n')) {
            size_t w = 0;
            for (const char *c = name; *c && w + 5 < sizeof mangled; c++) {
                if (*c == '\n') {
                    memcpy(mangled + w, "\\012", 4);
                    w += 4;
                } else {
                    mangled[w++] = *c;
                }
            }
            mangled[w] = 0;
            nm = mangled;
        }
        add_mapping(s, p, q.vma_start, q.vma_end, q.vma_offset, q.dev_major, q.dev_minor,
                    q.inode, nm);
        addr = q.vma_end;
    }
    if (!s->gate_known) gate_area(s);
    if (s->gate_end) add_mapping(s, p, s->gate_start, s->gate_end, 0, 0, 0, 0, "[vsyscall]");
    return 0;
}

static int read_maps(symbolizer *s, struct proc *p)
{
    char path[64], line[MAX_LINE];
    snprintf(path, sizeof path, "/proc/%d/maps", p->pid);
    /* the attempt counts, failed or not: a process that exited before its samples were
     * read (the bpf backend reads them later) must not be retried at every frame */
    p->maps_epoch = s->epoch;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    p->maps_read_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec + 1;
    if (!s->no_query) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        s->stats.maps_reads++;
        int rc = query_maps(s, p, fd);
        close(fd);
        if (rc == 0) return 0;
        if (rc == -ENOTTY || rc == -EINVAL) s->no_query = 1;    /* before 6.11: the text */
        else if (rc == -ESRCH) return rc;
    }
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    if (s->no_query) s->stats.maps_reads++;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, off, ino;
        unsigned maj, min;
        char perms[8];
        int n = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &lo, &hi, perms, &off, &maj,
                   &min, &ino, &n) < 7)
            continue;
        if (strlen(perms) < 3 || perms[2] != 'x') continue;
        char *name = line + n;
        name[strcspn(name, "\n")] = 0;
        add_mapping(s, p, lo, hi, off, maj, min, ino, name);
    }
    fclose(f);
    return 0;
}

int symbolizer_add_proc(symbolizer *s, int pid)
{
    struct proc *p = proc_get(s, pid);
    if (!p) return -ENOMEM;
    p->jit_located = 0;                /* maybe a new process under a reused pid */
    return read_maps(s, p);
}

void symbolizer_mmap(symbolizer *s, int pid, uint64_t start, uint64_t len, uint64_t pgoff,
                     uint32_t maj, uint32_t min, uint64_t ino, const char *filename)
{
    struct proc *p = proc_get(s, pid);
    if (p && start + len > start) add_mapping(s, p, start, start + len, pgoff, maj, min, ino,
                                              filename);
}

void symbolizer_fork(symbolizer *s, int pid, int ppid)
{
    struct proc *parent = intmap_get(&s->procs, (uint64_t)ppid);
    struct proc *p = proc_get(s, pid);
    if (!p || !parent || p == parent || p->n) return;
    free(p->maps);                   /* left empty by an exec, or by a reused pid */
    p->cap = 0;
    p->maps = malloc(parent->cap * sizeof *p->maps);
    if (!p->maps) return;
    memcpy(p->maps, parent->maps, parent->n * sizeof *p->maps);
    p->n = parent->n;
    p->cap = parent->cap;
}

void symbolizer_exec(symbolizer *s, int pid)
{
    struct proc *p = intmap_get(&s->procs, (uint64_t)pid);
    if (p) p->n = 0;
}

/* Who may have written a JIT map we trust: ourselves, root, or the target's owner (the
 * file lives in world-writable /tmp, as perf checks too). */
static int jit_owner_ok(const struct stat *st, int pid)
{
    if (st->st_uid == 0 || st->st_uid == geteuid()) return 1;
    char path[64];
    struct stat ps;
    snprintf(path, sizeof path, "/proc/%d", pid);
    return !stat(path, &ps) && ps.st_uid == st->st_uid;
}

/* CPU time of the calling thread, ns: what reading a map costs the recording. */
static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads what was appended to /tmp/perf-PID.map since the last look (the JIT only
 * appends; a file that shrank is read again from the start); at most once per epoch.
 * Only complete lines are consumed. */
static void jit_refresh(symbolizer *s, struct proc *p)
{
    if (p->jit_epoch == s->epoch) return;
    p->jit_epoch = s->epoch;
    char path[64];
    if (!p->jit_located) {                      /* its namespaces: once per process */
        jitmap_locate(p->pid, &p->jit_loc);
        p->jit_located = 1;
    }
    int fd = jitmap_open_at(&p->jit_loc, path, sizeof path);  /* no FIFO hang */
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == p->jit_size ||
        !jit_owner_ok(&st, p->pid)) {
        close(fd);
        return;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return;
    }
    if (st.st_size < p->jit_size) {            /* rewritten: start over */
        if (symtab_restart(&p->jit) < 0) {     /* rewritten too often: keep what we have */
            fclose(f);
            return;
        }
        p->jit_size = 0;
        p->jit_full = 0;
    } else if (p->jit_full) {                  /* grown past what we keep: no re-parse */
        fclose(f);
        return;
    }
    s->stats.perfmap_reads++;
    if (!p->jit_path) p->jit_path = strdup(path);
    if (p->jit_size && fseeko(f, p->jit_size, SEEK_SET)) {
        fclose(f);
        return;
    }
    char line[MAX_LINE];
    off_t consumed = p->jit_size;
    uint64_t t0 = thread_ns(), lines = 0;
    const char *why = NULL;
    while (fgets(line, sizeof line, f)) {
        if (++lines % JIT_CHECK_LINES == 0) {
            if ((uint64_t)consumed > s->jit_max_bytes) { why = "bytes"; break; }
            if (p->jit_ns + thread_ns() - t0 > s->jit_max_ns) { why = "time"; break; }
        }
        size_t n = strlen(line);
        if (!n || line[n - 1] != '\n') {
            if (n == sizeof line - 1) {        /* over-long line: skip it entirely */
                int c;
                consumed += (off_t)n;
                while ((c = fgetc(f)) != EOF && c != '\n' &&
                       (uint64_t)consumed <= s->jit_max_bytes) consumed++;
                if (c == '\n') consumed++;
                if ((uint64_t)consumed > s->jit_max_bytes) { why = "bytes"; break; }
            }
            continue;                          /* a line still being written */
        }
        consumed += (off_t)n;
        char *end;
        errno = 0;
        uint64_t start = strtoull(line, &end, 16);
        if (errno || end == line || (*end != ' ' && *end != '\t')) continue;
        char *q = end;
        uint64_t size = strtoull(q, &end, 16);
        if (errno || end == q || (*end != ' ' && *end != '\t') || !size) continue;
        while (*end == ' ' || *end == '\t') end++;
        end[strcspn(end, "\r\n")] = 0;
        if (!*end) continue;
        if (symtab_add(&p->jit, start, size, end) < 0) {
            if (s->budget.spent) s->stats.tables_over_budget++;
            why = s->budget.spent ? "memory" : "symbols";
            break;
        }
    }
    p->jit_ns += thread_ns() - t0;
    if (why) {
        p->jit_full = 1;
        s->stats.jit_maps_capped++;
        log_warn("JIT map read no further", "map=%s reason=%s read_bytes=%lld symbols=%zu "
                 "detail=\"frames in code it names later print as [unknown]\"", path, why,
                 (long long)consumed, p->jit.n);
    }
    p->jit_size = consumed;
    fclose(f);
    symtab_finish(&p->jit);
}

void symbolizer_exit(symbolizer *s, int pid)
{
    struct proc *p = intmap_get(&s->procs, (uint64_t)pid);
    if (!p) return;
    p->jit_epoch = UINT64_MAX;     /* force a last look at the JIT map */
    jit_refresh(s, p);
}

/* Below the lowest address mmap hands out (vm.mmap_min_addr, 64 KiB by default) or above
 * the largest user half of any 64-bit address space (2^56, x86-64 with 5-level paging):
 * no mapping can hold the address, it is a frame-pointer chain gone through data. */
static int user_ip_plausible(uint64_t ip)
{
    return ip >= 0x10000 && ip < (1ULL << 56);
}

/* A miss re-reads /proc/PID/maps at most once per epoch and once per second: a process
 * whose stacks hold junk addresses would otherwise have its maps read at every poll. */
static int maps_reread_due(const symbolizer *s, const struct proc *p)
{
    if (p->maps_epoch == s->epoch) return 0;
    if (!p->maps_read_ns) return 1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    return t - p->maps_read_ns >= 1000000000u;
}

void symbolizer_resolve_user(symbolizer *s, int pid, uint64_t ip, sym_frame *out)
{
    out->addr = ip;
    out->sym = NULL;
    out->off = 0;
    out->module = NULL;
    struct proc *p = proc_get(s, pid);
    if (!p) return;
    const struct map *m = proc_find(p, ip);
    if (!m && !user_ip_plausible(ip)) return;    /* junk from a broken frame chain */
    if (!m && maps_reread_due(s, p)) {
        read_maps(s, p);             /* a mapping we missed: ask the kernel once */
        m = proc_find(p, ip);
    }
    if (m && m->kind != MAP_ANON && m->dso) {
        struct dso *d = m->dso;
        if (!d->loaded) {
            if (m->kind == MAP_VDSO) vdso_load(s, d);
            else dso_load(s, d, pid);
        }
        uint64_t off = ip - m->start + m->pgoff;
        out->addr = off;
        out->module = d->path;
        const struct sym *sy = symtab_find(&d->syms, dso_vaddr(d, off), 0);
        if (sy) {
            out->sym = d->syms.strs + sy->name;
            out->off = dso_vaddr(d, off) - sy->start;
        }
        return;
    }
    jit_refresh(s, p);
    const struct sym *sy = symtab_find(&p->jit, ip, 0);
    if (sy) {
        out->sym = p->jit.strs + sy->name;
        out->off = ip - sy->start;
        out->module = p->jit_path;
    }
}

void symbolizer_set_maps_text(symbolizer *s, int text)
{
    s->no_query = !!text;
}

int symbolizer_set_debug_root(symbolizer *s, const char *dir)
{
    if (!dir || dir[0] != '/' || strlen(dir) >= sizeof s->debug_root) return -EINVAL;
    snprintf(s->debug_root, sizeof s->debug_root, "%s", dir);
    return 0;
}

int symbolizer_set_mem_budget(symbolizer *s, size_t bytes)
{
    if (!bytes) return -EINVAL;
    s->budget.limit = bytes;
    return 0;
}

int symbolizer_set_jit_budget(symbolizer *s, uint64_t bytes, unsigned ms)
{
    if (!bytes || !ms) return -EINVAL;
    s->jit_max_bytes = bytes;
    s->jit_max_ns = (uint64_t)ms * 1000000u;
    return 0;
}

void symbolizer_tick(symbolizer *s)
{
    s->epoch++;
}

void symbolizer_get_stats(const symbolizer *s, symbolizer_stats *out)
{
    *out = s->stats;
}

symbolizer *symbolizer_new(void)
{
    elf_version(EV_CURRENT);
    symbolizer *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    snprintf(s->debug_root, sizeof s->debug_root, "/usr/lib/debug");
    s->budget.limit = DEFAULT_BUDGET;
    s->jit_max_bytes = JIT_MAX_BYTES;
    s->jit_max_ns = (uint64_t)JIT_MAX_MS * 1000000u;
    s->vdso = calloc(1, sizeof *s->vdso);
    s->kernel = calloc(1, sizeof *s->kernel);
    if (!s->vdso || !s->kernel || !(s->vdso->path = strdup("[vdso]")) ||
        !(s->kernel->path = strdup("[kernel.kallsyms]"))) {
        symbolizer_free(s);
        return NULL;
    }
    s->vdso->syms.budget = s->kernel->syms.budget = &s->budget;
    return s;
}

static void dso_free(struct dso *d)
{
    if (!d) return;
    symtab_free(&d->syms);
    free(d->path);
    free(d);
}

void symbolizer_free(symbolizer *s)
{
    if (!s) return;
    size_t pos = 0;
    uint64_t key;
    void *val;
    while (intmap_next(&s->procs, &pos, &key, &val)) {
        struct proc *p = val;
        free(p->maps);
        symtab_free(&p->jit);
        free(p->jit_path);
        free(p);
    }
    intmap_free(&s->procs);
    pos = 0;
    while (intmap_next(&s->kcache, &pos, &key, &val)) free(val);
    intmap_free(&s->kcache);
    for (size_t i = 0; i < DSO_BUCKETS; i++)
        for (struct dso *d = s->dsos[i], *n; d; d = n) {
            n = d->next;
            dso_free(d);
        }
    dso_free(s->vdso);
    dso_free(s->kernel);
    free(s);
}
