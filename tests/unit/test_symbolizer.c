/* Unit tests for tracer/symbolizer: symbols of this very process (its executable, libc,
 * the vdso), a synthetic address space fed as the sampler would (mmap, fork, exec),
 * JIT maps with and without 0x prefixes that grow while being read or go past the
 * limits, crafted ELF files against the per-table and per-session memory bounds, the
 * kernel through /proc/kallsyms when this user may read its addresses, and the intmap
 * it is built on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../tracer/bpf_sampler.h"
#include "../../tracer/intmap.h"
#include "../../tracer/symbolizer.h"

/* ASan reserves terabytes of address space (no RLIMIT_AS then) and copies on realloc */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* a pid far above pid_max's default, so /proc/PID does not exist */
#define FAKE_PID 4000000

__attribute__((noinline)) int marker_function(int x);
__attribute__((noinline)) int marker_function(int x)
{
    volatile int acc = x;           /* a body of a few dozen bytes */
    for (int i = 0; i < x; i++) acc = acc * 3 + i;
    return acc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = s ? strlen(s) : 0, b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static void test_own_executable(void **state)
{
    (void)state;
    symbolizer *s = symbolizer_new();
    assert_non_null(s);
    assert_int_equal(symbolizer_add_proc(s, getpid()), 0);
    sym_frame f;
    symbolizer_resolve_user(s, getpid(), (uint64_t)(uintptr_t)&marker_function + 3, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "marker_function");
    assert_int_equal(f.off, 3);
    assert_true(ends_with(f.module, "/test_symbolizer"));
    /* the printed address is a file offset: far below the runtime (PIE) address */
    assert_true(f.addr < (uint64_t)(uintptr_t)&marker_function);
    symbolizer_free(s);
}

/* A long recording resolves the same binaries over and over: each is read once. */
static void test_binaries_read_once(void **state)
{
    (void)state;
    symbolizer *s = symbolizer_new();
    assert_int_equal(symbolizer_add_proc(s, getpid()), 0);
    sym_frame f;
    for (int i = 0; i < 10000; i++) {
        symbolizer_tick(s);
        symbolizer_resolve_user(s, getpid(),
                                (uint64_t)(uintptr_t)&marker_function + (unsigned)(i % 4), &f);
        symbolizer_resolve_user(s, getpid(), (uint64_t)(uintptr_t)&getpid, &f);
    }
    symbolizer_stats st;
    symbolizer_get_stats(s, &st);
    assert_int_equal(st.dsos_loaded, 2);         /* this executable and libc */
    assert_int_equal(st.maps_reads, 1);          /* every address was mapped already */
    symbolizer_free(s);
}

static void test_libc(void **state)
{
    (void)state;
    symbolizer *s = symbolizer_new();
    assert_int_equal(symbolizer_add_proc(s, getpid()), 0);
    sym_frame f;
    /* getpid: a libc function no sanitizer intercepts */
    symbolizer_resolve_user(s, getpid(), (uint64_t)(uintptr_t)&getpid, &f);
    assert_non_null(f.sym);
    assert_non_null(strstr(f.sym, "getpid"));
    assert_int_equal(f.off, 0);
    assert_non_null(strstr(f.module, "libc.so"));
    symbolizer_free(s);
}

static void test_vdso(void **state)
{
    (void)state;
    unsigned long base = getauxval(AT_SYSINFO_EHDR);
    if (!base) skip();
    symbolizer *s = symbolizer_new();
    assert_int_equal(symbolizer_add_proc(s, getpid()), 0);
    int found = 0;
    for (uint64_t a = base; a < base + 8192 && !found; a += 4) {
        sym_frame f;
        symbolizer_resolve_user(s, getpid(), a, &f);
        assert_string_equal(f.module, "[vdso]");
        if (f.sym && strstr(f.sym, "clock_gettime")) found = 1;
    }
    assert_true(found);
    symbolizer_free(s);
}

static void test_unknown_addresses(void **state)
{
    (void)state;
    symbolizer *s = symbolizer_new();
    sym_frame f;
    symbolizer_resolve_user(s, FAKE_PID, 0x1234, &f);
    assert_null(f.sym);
    assert_null(f.module);
    assert_int_equal(f.addr, 0x1234);
    symbolizer_free(s);
}

/* The model the sampler's records build: mmap, fork (copy), exec (reset). */
static void test_mmap_fork_exec(void **state)
{
    (void)state;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = 0;
    struct stat st;
    assert_int_equal(stat(exe, &st), 0);
    /* where marker_function is in the file: resolve it in this process first */
    symbolizer *s = symbolizer_new();
    symbolizer_add_proc(s, getpid());
    sym_frame own;
    symbolizer_resolve_user(s, getpid(), (uint64_t)(uintptr_t)&marker_function, &own);
    assert_non_null(own.sym);
    uint64_t file_off = own.addr;
    /* a fake process maps the whole file at 0x10000000 */
    uint64_t base = 0x10000000;
    symbolizer_mmap(s, FAKE_PID, base, (uint64_t)st.st_size + 4096, 0, 0, 0, st.st_ino, exe);
    sym_frame f;
    symbolizer_resolve_user(s, FAKE_PID, base + file_off + 1, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "marker_function");
    assert_int_equal(f.off, 1);
    /* an anonymous mapping over part of it cuts the file mapping in two */
    symbolizer_mmap(s, FAKE_PID, base, 4096, 0, 0, 0, 0, "//anon");
    symbolizer_resolve_user(s, FAKE_PID, base + 16, &f);
    assert_null(f.module);
    symbolizer_resolve_user(s, FAKE_PID, base + file_off + 1, &f);
    assert_string_equal(f.sym, "marker_function");
    /* the child of a fork sees the parent's mappings */
    symbolizer_fork(s, FAKE_PID + 1, FAKE_PID);
    symbolizer_resolve_user(s, FAKE_PID + 1, base + file_off, &f);
    assert_string_equal(f.sym, "marker_function");
    /* exec throws the old image away */
    symbolizer_exec(s, FAKE_PID + 1);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 1, base + file_off, &f);
    assert_null(f.sym);
    /* a FORK record for that pid again (the pid was reused): it takes the parent's
     * mappings and what it had before is released (a leak shows under ASan) */
    symbolizer_fork(s, FAKE_PID + 1, FAKE_PID);
    symbolizer_resolve_user(s, FAKE_PID + 1, base + file_off + 2, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "marker_function");
    assert_int_equal(f.off, 2);
    symbolizer_free(s);
}

/* A stripped binary whose symbols are in a debug file found by its build-id. */
static void test_debug_file_by_build_id(void **state)
{
    (void)state;
    if (system("command -v objcopy >/dev/null && command -v readelf >/dev/null")) skip();
    char dir[] = "/tmp/fntrace-debug-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "set -e; d=%s; id=$(readelf -n /proc/%d/exe | sed -n 's/.*Build ID: *//p');"
             "[ -n \"$id\" ]; mkdir -p $d/root/.build-id/$(echo $id | cut -c1-2);"
             "objcopy --only-keep-debug /proc/%d/exe "
             "$d/root/.build-id/$(echo $id | cut -c1-2)/$(echo $id | cut -c3-).debug;"
             "objcopy --strip-all /proc/%d/exe $d/stripped",
             dir, getpid(), getpid(), getpid());
    if (system(cmd)) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        skip();                                  /* this binary has no build-id */
    }
    symbolizer *s = symbolizer_new();
    sym_frame own;
    symbolizer_add_proc(s, getpid());
    symbolizer_resolve_user(s, getpid(), (uint64_t)(uintptr_t)&marker_function, &own);
    char stripped[128], root[128];
    snprintf(stripped, sizeof stripped, "%s/stripped", dir);
    snprintf(root, sizeof root, "%s/root", dir);
    struct stat st;
    assert_int_equal(stat(stripped, &st), 0);
    /* without the debug root: a stripped static function has no name */
    symbolizer_mmap(s, FAKE_PID + 3, 0x20000000, (uint64_t)st.st_size + 4096, 0, 0, 0, st.st_ino,
                    stripped);
    sym_frame f;
    symbolizer_resolve_user(s, FAKE_PID + 3, 0x20000000 + own.addr, &f);
    assert_null(f.sym);
    symbolizer_free(s);
    s = symbolizer_new();
    assert_int_equal(symbolizer_set_debug_root(s, root), 0);
    symbolizer_mmap(s, FAKE_PID + 3, 0x20000000, (uint64_t)st.st_size + 4096, 0, 0, 0, st.st_ino,
                    stripped);
    symbolizer_resolve_user(s, FAKE_PID + 3, 0x20000000 + own.addr + 1, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "marker_function");
    assert_int_equal(f.off, 1);
    assert_string_equal(f.module, stripped);
    symbolizer_free(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_jit_map(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", FAKE_PID + 7);
    FILE *m = fopen(path, "w");
    assert_non_null(m);
    fprintf(m, "7f0000001000 40 JS:^fib /srv/fn/busy.js:1:13\n");
    fprintf(m, "0x7f0000002000 0x20 LazyCompile:~main app.js:3\n");
    fprintf(m, "garbage line\n");
    fclose(m);
    symbolizer *s = symbolizer_new();
    sym_frame f;
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 7, 0x7f0000001010, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "JS:^fib /srv/fn/busy.js:1:13");
    assert_int_equal(f.off, 0x10);
    assert_string_equal(f.module, path);
    assert_int_equal(f.addr, 0x7f0000001010);
    symbolizer_resolve_user(s, FAKE_PID + 7, 0x7f000000201f, &f);
    assert_string_equal(f.sym, "LazyCompile:~main app.js:3");
    symbolizer_resolve_user(s, FAKE_PID + 7, 0x7f0000002020, &f);  /* one past the end */
    assert_null(f.sym);
    /* the JIT keeps writing: new code resolves in the next epoch */
    m = fopen(path, "a");
    fprintf(m, "7f0000003000 100 JS:*hot app.js:9\n");
    fclose(m);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 7, 0x7f00000030ff, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "JS:*hot app.js:9");
    /* a line the JIT is still writing is not taken until it is complete */
    m = fopen(path, "a");
    fprintf(m, "7f0000004000 10 JS:*par");
    fclose(m);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 7, 0x7f0000004004, &f);
    assert_null(f.sym);
    m = fopen(path, "a");
    fprintf(m, "tial x.js:1\n");
    fclose(m);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 7, 0x7f0000004004, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "JS:*partial x.js:1");
    symbolizer_resolve_user(s, FAKE_PID + 7, 0x7f0000001010, &f);   /* old ones stay */
    assert_string_equal(f.sym, "JS:^fib /srv/fn/busy.js:1:13");
    unlink(path);
    symbolizer_free(s);
}

/* The tracer keeps the names of resolved frames until it writes the trace: a JIT map
 * that grows (its string table with it) or is rewritten must not pull them away. */
static void test_jit_names_stay_valid(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", FAKE_PID + 11);
    FILE *m = fopen(path, "w");
    assert_non_null(m);
    fprintf(m, "7f0000001000 40 JS:^first app.js:1\n");
    fclose(m);
    symbolizer *s = symbolizer_new();
    sym_frame first, f;
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 11, 0x7f0000001010, &first);
    assert_non_null(first.sym);
    /* the JIT goes on: far more names than the first string buffer holds */
    m = fopen(path, "a");
    for (int i = 0; i < 20000; i++)
        fprintf(m, "%llx 10 JS:*compiled_later_%d app.js:%d\n",
                0x7f0010000000ull + 16ull * (unsigned)i, i, i);
    fclose(m);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 11, 0x7f0010000000 + 16 * 19999, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "JS:*compiled_later_19999 app.js:19999");
    assert_string_equal(first.sym, "JS:^first app.js:1");
    /* rewritten from scratch (shorter): the old names still read as they were */
    m = fopen(path, "w");
    fprintf(m, "7f0000001000 40 JS:^again\n");
    fclose(m);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 11, 0x7f0000001010, &f);
    assert_string_equal(f.sym, "JS:^again");
    assert_string_equal(first.sym, "JS:^first app.js:1");
    unlink(path);
    symbolizer_free(s);
}

/* A JIT map past what the symbolizer keeps (here the session's budget, set small) is
 * read once: the lines left over are not parsed again at every epoch.  Only a file
 * replaced by a shorter one is read again. */
static void test_jit_map_over_limit_read_once(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", FAKE_PID + 17);
    FILE *m = fopen(path, "w");
    assert_non_null(m);
    for (int i = 0; i < 20000; i++)     /* ~60 bytes each: 1.2 MB kept when all are */
        fprintf(m, "%llx 10 JS:*function_number_%d app.js:%d\n",
                0x7f0010000000ull + 16ull * (unsigned)i, i, i);
    fclose(m);
    symbolizer *s = symbolizer_new();
    assert_int_equal(symbolizer_set_mem_budget(s, 256 << 10), 0);
    sym_frame f;
    symbolizer_stats st;
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 17, 0x7f0010000000 + 4, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "JS:*function_number_0 app.js:0");
    symbolizer_get_stats(s, &st);
    assert_int_equal(st.perfmap_reads, 1);
    assert_int_equal(st.tables_over_budget, 1);
    for (int e = 0; e < 5; e++) {
        symbolizer_tick(s);
        symbolizer_resolve_user(s, FAKE_PID + 17, 0x7f0010000000 + 16 * 19999, &f);
        assert_null(f.sym);              /* past what was kept */
    }
    symbolizer_get_stats(s, &st);
    assert_int_equal(st.perfmap_reads, 1);
    /* replaced by a shorter file: looked at again */
    m = fopen(path, "w");
    fprintf(m, "7f0000001000 40 JS:^again\n");
    fclose(m);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 17, 0x7f0000001010, &f);
    symbolizer_get_stats(s, &st);
    assert_int_equal(st.perfmap_reads, 2);
    unlink(path);
    symbolizer_free(s);
}

/* A garbage JIT map (issue: 1 GB of it made a 2 s recording take 6.5 s and hid the hot
 * symbol past the cap silently): reading stops at the byte or time budget, and says so. */
static void write_garbage_map(const char *path, int lines)
{
    FILE *m = fopen(path, "w");
    assert_non_null(m);
    for (int i = 0; i < lines; i++) fputs("not a symbol line at all\n", m);
    fprintf(m, "7f0020000000 40 JS:*hot app.js:1\n");
    fclose(m);
}

static void test_jit_map_budget(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", FAKE_PID + 19);
    write_garbage_map(path, 200000);                  /* 5 MB of garbage, then the symbol */
    sym_frame f;
    symbolizer_stats st;
    /* the default budget reads it all */
    symbolizer *s = symbolizer_new();
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 19, 0x7f0020000010, &f);
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "JS:*hot app.js:1");
    symbolizer_get_stats(s, &st);
    assert_int_equal(st.jit_maps_capped, 0);
    symbolizer_free(s);
    /* a byte budget stops it, counted, and it is not read again */
    s = symbolizer_new();
    assert_int_equal(symbolizer_set_jit_budget(s, 1 << 20, 10000), 0);
    for (int e = 0; e < 3; e++) {
        symbolizer_tick(s);
        symbolizer_resolve_user(s, FAKE_PID + 19, 0x7f0020000010, &f);
        assert_null(f.sym);
    }
    symbolizer_get_stats(s, &st);
    assert_int_equal(st.jit_maps_capped, 1);
    assert_int_equal(st.perfmap_reads, 1);
    symbolizer_free(s);
    /* so does a time budget */
    write_garbage_map(path, 2000000);                 /* 50 MB: far more than 1 ms */
    s = symbolizer_new();
    assert_int_equal(symbolizer_set_jit_budget(s, 1ull << 40, 1), 0);
    symbolizer_tick(s);
    symbolizer_resolve_user(s, FAKE_PID + 19, 0x7f0020000010, &f);
    assert_null(f.sym);
    symbolizer_get_stats(s, &st);
    assert_int_equal(st.jit_maps_capped, 1);
    assert_int_equal(symbolizer_set_jit_budget(s, 0, 1), -EINVAL);
    symbolizer_free(s);
    unlink(path);
}

/* Resolves ip of a fake process in a child with an alarm, so a hang or a crash fails
 * the test instead of stalling or killing the suite.  With lib, 64 KiB of that file are
 * mapped at ip & ~0xffff first and the frame must name it; no symbol is expected.
 * Returns 0 when the child finished and found what was expected. */
static int resolve_in_child(int pid, uint64_t ip, const char *lib)
{
    pid_t child = fork();
    if (child < 0) return -1;
    if (!child) {
        alarm(60);
        symbolizer *s = symbolizer_new();
        sym_frame f;
        symbolizer_tick(s);
        if (lib) symbolizer_mmap(s, pid, ip & ~0xffffull, 0x10000, 0, 0, 0, 1, lib);
        symbolizer_resolve_user(s, pid, ip, &f);
        if (f.sym || (lib && (!f.module || strcmp(f.module, lib)))) _exit(3);
        symbolizer_free(s);
        _exit(0);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A target controls the names the symbolizer opens: its /tmp/perf-PID.map, and the path
 * of a mapping whose file it replaced.  A FIFO there must not block the tracer (SIGALRM
 * kills the child when open() blocks). */
static void test_fifo_does_not_block(void **state)
{
    (void)state;
    char jit[64], lib[64];
    snprintf(jit, sizeof jit, "/tmp/perf-%d.map", FAKE_PID + 8);
    snprintf(lib, sizeof lib, "/tmp/fntrace-fifo-%d.so", getpid());
    unlink(jit);
    unlink(lib);
    assert_int_equal(mkfifo(jit, 0600), 0);
    assert_int_equal(mkfifo(lib, 0600), 0);
    int jit_rc = resolve_in_child(FAKE_PID + 8, 0x7f0000001010, NULL);
    int lib_rc = resolve_in_child(FAKE_PID + 9, 0x30000010, lib);
    unlink(jit);
    unlink(lib);
    assert_int_equal(jit_rc, 0);
    assert_int_equal(lib_rc, 0);
}

/* The ELF header of a crafted x86-64 shared object: section headers only. */
static Elf64_Ehdr elf_header(uint64_t sh_off, int shnum)
{
    Elf64_Ehdr eh = { 0 };
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_DYN;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_ehsize = sizeof eh;
    eh.e_shoff = sh_off;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = (Elf64_Half)shnum;
    return eh;
}

/* A crafted ELF mapped by the target: no .symtab (so its build-id is looked up), and a
 * GNU build-id note claiming 2 GiB of descriptor inside a (sparse) note section that
 * really is that big.  Twice the size wraps to 0 in 32 bits; the hex of the id must not
 * be written past its buffer (a stack smash kills the child). */
static void test_huge_build_id_note(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fntrace-note-%d.so", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const uint64_t note_off = 0x1000, descsz = 0x80000000u;
    const uint64_t note_size = 12 + 4 + descsz;
    const uint64_t sh_off = (note_off + note_size + 7) & ~7ull;
    Elf64_Ehdr eh = elf_header(sh_off, 2);
    Elf64_Shdr sh[2] = { { 0 } };
    sh[1].sh_type = SHT_NOTE;
    sh[1].sh_offset = note_off;
    sh[1].sh_size = note_size;
    sh[1].sh_addralign = 4;
    Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = (Elf64_Word)descsz, .n_type = NT_GNU_BUILD_ID };
    assert_int_equal(pwrite(fd, &eh, sizeof eh, 0), sizeof eh);
    assert_int_equal(pwrite(fd, &nh, sizeof nh, (off_t)note_off), sizeof nh);
    assert_int_equal(pwrite(fd, "GNU", 4, (off_t)note_off + 12), 4);
    assert_int_equal(pwrite(fd, sh, sizeof sh, (off_t)sh_off), sizeof sh);
    close(fd);
    int rc = resolve_in_child(FAKE_PID + 10, 0x40000010, path);
    unlink(path);
    assert_int_equal(rc, 0);
}

/* Writes a small crafted ELF whose nsyms symbols (at 0x1000, 16 bytes each) all carry
 * the same namelen-byte name, its symbol table listed by nsymtabs section headers. */
static void write_name_bomb(const char *path, int nsyms, int nsymtabs, int namelen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const uint64_t str_off = 0x1000, sym_off = str_off + (((uint64_t)namelen + 2 + 7) & ~7ull);
    const uint64_t sh_off = sym_off + (uint64_t)nsyms * sizeof(Elf64_Sym);
    Elf64_Ehdr eh = elf_header(sh_off, 2 + nsymtabs);
    assert_int_equal(pwrite(fd, &eh, sizeof eh, 0), sizeof eh);
    char *strtab = calloc(1, (size_t)namelen + 2);
    memset(strtab + 1, 'x', (size_t)namelen);
    assert_int_equal(pwrite(fd, strtab, (size_t)namelen + 2, (off_t)str_off), namelen + 2);
    free(strtab);
    Elf64_Sym *syms = calloc((size_t)nsyms, sizeof *syms);
    for (int i = 0; i < nsyms; i++)
        syms[i] = (Elf64_Sym){ .st_name = 1, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
                               .st_shndx = 1, .st_value = 0x1000 + 16 * (uint64_t)i,
                               .st_size = 16 };
    assert_int_equal(pwrite(fd, syms, (size_t)nsyms * sizeof *syms, (off_t)sym_off),
                     (ssize_t)((size_t)nsyms * sizeof *syms));
    free(syms);
    Elf64_Shdr *sh = calloc((size_t)nsymtabs + 2, sizeof *sh);
    sh[1] = (Elf64_Shdr){ .sh_type = SHT_STRTAB, .sh_offset = str_off,
                         .sh_size = (uint64_t)namelen + 2,
                          .sh_addralign = 1 };
    for (int i = 0; i < nsymtabs; i++)
        sh[2 + i] = (Elf64_Shdr){ .sh_type = SHT_SYMTAB, .sh_offset = sym_off,
                                  .sh_size = (uint64_t)nsyms * sizeof(Elf64_Sym), .sh_link = 1,
                                  .sh_entsize = sizeof(Elf64_Sym), .sh_addralign = 8 };
    assert_int_equal(pwrite(fd, sh, ((size_t)nsymtabs + 2) * sizeof *sh, (off_t)sh_off),
                     (ssize_t)(((size_t)nsymtabs + 2) * sizeof *sh));
    free(sh);
    close(fd);
}

/* A small crafted ELF (under 100 KiB) whose symbols all carry the same 60 KB name, its
 * symbol table listed by 40 section headers: copying every name would take 2.4 GB.  The
 * symbolizer's memory must stay bounded (the child runs under a 4 GiB address-space
 * limit, except under ASan, so an unbounded one fails instead of eating the machine). */
static void test_elf_name_bomb(void **state)
{
    (void)state;
    enum { NSYMS = 1000, NSYMTABS = 40, NAMELEN = 60000 };
    char path[64];
    snprintf(path, sizeof path, "/tmp/fntrace-bomb-%d.so", getpid());
    write_name_bomb(path, NSYMS, NSYMTABS, NAMELEN);
    pid_t child = fork();
    assert_true(child >= 0);
    if (!child) {
        struct rlimit rl = { 4ull << 30, 4ull << 30 };
        if (!UNDER_ASAN) setrlimit(RLIMIT_AS, &rl);
        alarm(120);
        symbolizer *s = symbolizer_new();
        sym_frame f;
        symbolizer_mmap(s, FAKE_PID + 12, 0x50000000, 0x10000, 0, 0, 0, 3, path);
        symbolizer_resolve_user(s, FAKE_PID + 12, 0x50001004, &f);
        /* the first names still resolve */
        if (!f.sym || strlen(f.sym) != NAMELEN || f.off != 4) _exit(3);
        symbolizer_free(s);
        _exit(0);
    }
    int status = 0;
    struct rusage ru;
    assert_int_equal(wait4(child, &status, 0, &ru), child);
    unlink(path);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(ru.ru_maxrss < (UNDER_ASAN ? 2 : 1) * 1024 * 1024);   /* KiB: 1 GiB (2) */
}

/* Many crafted files, each under the per-table caps (one symbol table of 1000 symbols
 * naming one 60 KB string: a table keeps its string section once, ~84 KB), mapped by one
 * target: together they stay under the session's budget (here 300 KB): the first ones
 * resolve, the later ones are not loaded and print as [unknown] in their module, and
 * the symbolizer says how many it left out. */
static void test_session_budget(void **state)
{
    (void)state;
    enum { NFILES = 12, NSYMS = 1000, NAMELEN = 60000 };
    char paths[NFILES][64];
    for (int i = 0; i < NFILES; i++) {
        snprintf(paths[i], sizeof paths[i], "/tmp/fntrace-budget-%d-%d.so", getpid(), i);
        write_name_bomb(paths[i], NSYMS, 1, NAMELEN);
    }
    pid_t child = fork();
    assert_true(child >= 0);
    if (!child) {
        alarm(120);
        symbolizer *s = symbolizer_new();
        if (symbolizer_set_mem_budget(s, 300u << 10)) _exit(2);
        sym_frame f;
        for (int i = 0; i < NFILES; i++) {
            uint64_t base = 0x50000000 + 0x100000 * (uint64_t)i;
            symbolizer_mmap(s, FAKE_PID + 16, base, 0x10000, 0, 0, 0, 100 + (uint64_t)i, paths[i]);
            symbolizer_resolve_user(s, FAKE_PID + 16, base + 0x1004, &f);
            if (!f.module || strcmp(f.module, paths[i])) _exit(3);
            if (i < 3 && (!f.sym || strlen(f.sym) != NAMELEN || f.off != 4)) _exit(4);
            if (i >= 4 && f.sym) _exit(5);      /* past the budget: [unknown] (module) */
        }
        symbolizer_stats st;
        symbolizer_get_stats(s, &st);
        if (st.tables_over_budget < NFILES - 4) _exit(6);
        symbolizer_free(s);
        _exit(0);
    }
    int status = 0;
    struct rusage ru;
    assert_int_equal(wait4(child, &status, 0, &ru), child);
    for (int i = 0; i < NFILES; i++) unlink(paths[i]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* KiB: 12 tables would take 720 MB */
    assert_true(ru.ru_maxrss < (UNDER_ASAN ? 600 : 400) * 1024);
}

/* A library replaced on disk while mapped (a package upgrade): the mapping is named
 * "PATH (deleted)" and PATH now holds another build.  Its symbols are not the mapped
 * code's: a frame there must not be named from them. */
static void test_deleted_mapping_not_the_new_file(void **state)
{
    (void)state;
    if (system("command -v objcopy >/dev/null")) skip();
    char lib[64], mapped[96], cmd[512];
    snprintf(lib, sizeof lib, "/tmp/fntrace-upgraded-%d.so", getpid());
    snprintf(mapped, sizeof mapped, "%s (deleted)", lib);
    snprintf(cmd, sizeof cmd, "cp /proc/%d/exe %s", getpid(), lib);
    assert_int_equal(system(cmd), 0);
    struct stat old;
    assert_int_equal(stat(lib, &old), 0);
    symbolizer *s = symbolizer_new();
    sym_frame own, f;
    symbolizer_add_proc(s, getpid());
    symbolizer_resolve_user(s, getpid(), (uint64_t)(uintptr_t)&marker_function, &own);
    assert_non_null(own.sym);
    /* the upgrade: a new file at the path, same layout, other names */
    snprintf(cmd, sizeof cmd, "objcopy --redefine-sym marker_function=upgraded_function "
             "/proc/%d/exe %s.new && mv %s.new %s", getpid(), lib, lib, lib);
    assert_int_equal(system(cmd), 0);
    symbolizer_mmap(s, FAKE_PID + 13, 0x60000000, (uint64_t)old.st_size + 4096, 0, 0, 0,
                    old.st_ino, mapped);
    symbolizer_resolve_user(s, FAKE_PID + 13, 0x60000000 + own.addr + 1, &f);
    unlink(lib);
    assert_non_null(f.module);
    if (f.sym) assert_string_equal(f.sym, "marker_function");
    symbolizer_free(s);
}

static void test_kernel(void **state)
{
    (void)state;
    FILE *k = fopen("/proc/kallsyms", "r");
    if (!k) skip();
    char line[512], name[256] = "";
    unsigned long long addr = 0;
    while (fgets(line, sizeof line, k)) {
        char type;
        if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 && addr &&
            (type == 'T' || type == 't') && !strcmp(name, "schedule"))
            break;
        addr = 0;
    }
    fclose(k);
    symbolizer *s = symbolizer_new();
    sym_frame f;
    symbolizer_resolve_kernel(s, addr ? addr + 2 : 0xffffffff81000000ULL, &f);
    assert_string_equal(f.module, "[kernel.kallsyms]");
    if (!addr) {                 /* addresses hidden from this user (kptr_restrict) */
        assert_null(f.sym);
        symbolizer_free(s);
        skip();
    }
    assert_non_null(f.sym);
    assert_string_equal(f.sym, "schedule");
    assert_int_equal(f.off, 2);
    symbolizer_free(s);
}

/* The bpf backend names kernel frames through the kernel's own lookup (ksym_lookup)
 * instead of reading /proc/kallsyms: every address gets the name and offset the table
 * gives, and the table is never read.  Root only (the BPF program). */
static void test_kernel_lookup_matches_kallsyms(void **state)
{
    (void)state;
    char err[256];
    if (bpf_sampler_permitted(err, sizeof err) < 0) skip();
    FILE *k = fopen("/proc/kallsyms", "r");
    if (!k) skip();
    enum { MAXA = 6000 };
    uint64_t *addrs = calloc(MAXA, sizeof *addrs);
    assert_non_null(addrs);
    size_t n = 0, line_no = 0;
    char line[512];
    unsigned long long prev = 0;
    while (fgets(line, sizeof line, k) && n + 3 < MAXA) {
        unsigned long long addr;
        char type, name[256];
        /* core kernel text only: module, bpf and ftrace lines carry a [module] */
        if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || strchr(line, '[') ||
            !addr || (type != 'T' && type != 't'))
            continue;
        if (line_no++ % 53 == 0 && prev && addr > prev + 1 && addr - prev < 65536) {
            addrs[n++] = prev;                        /* a symbol's first byte, */
            addrs[n++] = prev + 1;                    /* its second */
            addrs[n++] = addr - 1;                    /* and its last */
        }
        prev = addr;
    }
    fclose(k);
    if (n < 30) {                                     /* kptr_restrict: no addresses */
        free(addrs);
        skip();
    }
    int pid = getpid();
    bpf_sampler_opts o = { .pids = &pid, .npids = 1, .freq = 1 };
    bpf_sampler *bs;
    int rc = bpf_sampler_open(&bs, &o, err, sizeof err);
    if (rc == -EOPNOTSUPP || rc == -ENOSYS) skip();
    assert_int_equal(rc, 0);
    symbolizer *viak = symbolizer_new(), *table = symbolizer_new();
    symbolizer_set_kernel_lookup(viak, bpf_sampler_ksyms, bs);
    for (size_t i = 0; i < n; i += 40)
        symbolizer_prefetch_kernel(viak, addrs + i, n - i < 40 ? n - i : 40);
    for (size_t i = 0; i < n; i++) {
        sym_frame a, b;
        symbolizer_resolve_kernel(viak, addrs[i], &a);
        symbolizer_resolve_kernel(table, addrs[i], &b);
        assert_int_equal(a.addr, b.addr);
        assert_non_null(b.sym);
        assert_non_null(a.sym);
        assert_string_equal(a.sym, b.sym);
        assert_int_equal(a.off, b.off);
        assert_string_equal(a.module, b.module);
    }
    symbolizer_stats st;
    symbolizer_get_stats(viak, &st);
    struct utsname u;
    int major = 0, minor = 0;
    if (!uname(&u)) sscanf(u.release, "%d.%d", &major, &minor);
    if (major > 5 || (major == 5 && minor >= 17)) {   /* syscall programs, bpf_loop, bpf_snprintf */
        assert_true(st.kernel_lookups > 0 && st.kernel_lookups <= n);
        assert_int_equal(st.kallsyms_reads, 0);
    }
    symbolizer_get_stats(table, &st);
    assert_int_equal(st.kallsyms_reads, 1);
    /* an address no symbol holds: the table decides, as without the lookup */
    sym_frame a, b;
    symbolizer_resolve_kernel(viak, 0x10, &a);
    symbolizer_resolve_kernel(table, 0x10, &b);
    assert_true(a.sym == NULL && b.sym == NULL);
    symbolizer_free(viak);
    symbolizer_free(table);
    bpf_sampler_close(bs);
    free(addrs);
}

/* PROCMAP_QUERY and the text of /proc/PID/maps give the same mappings: every address
 * of every executable mapping of this process (and of pid 1 when readable) resolves to
 * the same frame either way, [vdso] and [vsyscall] included. */
static void test_maps_query_matches_text(void **state)
{
    (void)state;
    int pids[] = { getpid(), 1 };
    for (size_t k = 0; k < sizeof pids / sizeof *pids; k++) {
        char path[64], line[1024];
        snprintf(path, sizeof path, "/proc/%d/maps", pids[k]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        symbolizer *q = symbolizer_new(), *t = symbolizer_new();
        symbolizer_set_maps_text(t, 1);
        if (symbolizer_add_proc(q, pids[k]) < 0 || symbolizer_add_proc(t, pids[k]) < 0) {
            fclose(f);                    /* not ours to read */
            symbolizer_free(q);
            symbolizer_free(t);
            continue;
        }
        int checked = 0;
        while (fgets(line, sizeof line, f)) {
            unsigned long long lo, hi;
            char perms[8];
            if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || perms[2] != 'x') continue;
            uint64_t probe[] = { lo, lo + (hi - lo) / 3, hi - 1 };
            for (size_t i = 0; i < 3; i++) {
                sym_frame a, b;
                symbolizer_resolve_user(q, pids[k], probe[i], &a);
                symbolizer_resolve_user(t, pids[k], probe[i], &b);
                assert_int_equal(a.addr, b.addr);
                assert_int_equal(a.off, b.off);
                assert_true((a.sym == NULL) == (b.sym == NULL));
                if (a.sym) assert_string_equal(a.sym, b.sym);
                assert_true((a.module == NULL) == (b.module == NULL));
                if (a.module) assert_string_equal(a.module, b.module);
                checked++;
            }
        }
        fclose(f);
        assert_true(checked > 0);
        symbolizer_free(q);
        symbolizer_free(t);
    }
}

static void test_intmap(void **state)
{
    (void)state;
    intmap m = { 0 };
    for (uint64_t i = 0; i < 5000; i++)
        assert_int_equal(intmap_put(&m, i * 7919, (void *)(uintptr_t)(i + 1)), 0);
    assert_int_equal(m.len, 5000);
    for (uint64_t i = 0; i < 5000; i++)
        assert_ptr_equal(intmap_get(&m, i * 7919), (void *)(uintptr_t)(i + 1));
    assert_null(intmap_get(&m, 3));
    intmap_put(&m, 0, (void *)42);                /* replace */
    assert_int_equal(m.len, 5000);
    assert_ptr_equal(intmap_get(&m, 0), (void *)42);
    size_t pos = 0, count = 0;
    uint64_t key;
    void *val;
    while (intmap_next(&m, &pos, &key, &val)) count++;
    assert_int_equal(count, 5000);
    /* delete every other key: the rest stays reachable across the shifted runs */
    for (uint64_t i = 1; i < 5000; i += 2) assert_non_null(intmap_del(&m, i * 7919));
    assert_null(intmap_del(&m, 1 * 7919));
    assert_int_equal(m.len, 2500);
    for (uint64_t i = 2; i < 5000; i += 2)
        assert_ptr_equal(intmap_get(&m, i * 7919), (void *)(uintptr_t)(i + 1));
    for (uint64_t i = 1; i < 5000; i += 2) assert_null(intmap_get(&m, i * 7919));
    intmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_executable),
        cmocka_unit_test(test_libc),
        cmocka_unit_test(test_binaries_read_once),
        cmocka_unit_test(test_vdso),
        cmocka_unit_test(test_unknown_addresses),
        cmocka_unit_test(test_mmap_fork_exec),
        cmocka_unit_test(test_debug_file_by_build_id),
        cmocka_unit_test(test_jit_map),
        cmocka_unit_test(test_jit_names_stay_valid),
        cmocka_unit_test(test_jit_map_over_limit_read_once),
        cmocka_unit_test(test_jit_map_budget),
        cmocka_unit_test(test_fifo_does_not_block),
        cmocka_unit_test(test_huge_build_id_note),
        cmocka_unit_test(test_elf_name_bomb),
        cmocka_unit_test(test_session_budget),
        cmocka_unit_test(test_deleted_mapping_not_the_new_file),
        cmocka_unit_test(test_kernel),
        cmocka_unit_test(test_kernel_lookup_matches_kallsyms),
        cmocka_unit_test(test_maps_query_matches_text),
        cmocka_unit_test(test_intmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
