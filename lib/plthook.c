/* plthook — see plthook.h.  The loaded object is found with dl_iterate_phdr; its
 * dynamic section names the relocation tables (DT_JMPREL for PLT calls, DT_RELA for
 * GLOB_DAT slots of -fno-plt code and for function pointers in data), the symbol table
 * and the string table.  Every relocation against the symbol gives one slot, at load
 * address + r_offset.  The dynamic section's addresses are relocated in memory on glibc
 * and not on some other loaders, so an address below the load address is taken as an
 * offset.  The object is one the dynamic loader mapped and checked, not outside input;
 * names are still read within DT_STRSZ. */
#define _GNU_SOURCE
#include "plthook.h"

#include "errbuf.h"
#include "fterr.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_SLOTS 16

#if defined(__x86_64__)
#define REL_SLOT(t) ((t) == R_X86_64_JUMP_SLOT || (t) == R_X86_64_GLOB_DAT || (t) == R_X86_64_64)
#elif defined(__aarch64__)
#define REL_SLOT(t) ((t) == R_AARCH64_JUMP_SLOT || (t) == R_AARCH64_GLOB_DAT || \
                     (t) == R_AARCH64_ABS64)
#endif

struct hook {
    const char *prefix, *symbol;
    int found;                        /* the library is loaded */
    int rc;
    void **slots[MAX_SLOTS];
    unsigned nslots;
    uintptr_t relro_lo, relro_hi;     /* its read-only-after-relocation range, or 0 */
    char *err;
    size_t errlen;
};

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

#ifdef REL_SLOT
/* The slots of one relocation table (n entries) that name h->symbol. */
static int scan(struct hook *h, uintptr_t base, const ElfW(Rela) *rel, size_t n,
                const ElfW(Sym) *syms, const char *strs, size_t strsz)
{
    for (size_t i = 0; i < n; i++) {
        if (!REL_SLOT(ELF64_R_TYPE(rel[i].r_info)) || !ELF64_R_SYM(rel[i].r_info)) continue;
        ElfW(Word) name = syms[ELF64_R_SYM(rel[i].r_info)].st_name;
        if (name >= strsz || strcmp(strs + name, h->symbol)) continue;
        if (h->nslots == MAX_SLOTS) {
            err_set(h->err, h->errlen, "%s: more than %d relocations of %s", h->prefix,
                    MAX_SLOTS, h->symbol);
            return -FT_ERR_UNSUPPORTED;
        }
        h->slots[h->nslots++] = (void **)(base + rel[i].r_offset);
    }
    return 0;
}
#endif

static int on_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct hook *h = arg;
    if (!info->dlpi_name || strncmp(base_name(info->dlpi_name), h->prefix, strlen(h->prefix)))
        return 0;
    h->found = 1;
#ifndef REL_SLOT
    err_set(h->err, h->errlen, "replacing a library's imports is not supported on this CPU");
    h->rc = -FT_ERR_UNSUPPORTED;
    return 1;
#else
    uintptr_t base = info->dlpi_addr;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) dyn = (const void *)(base + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            h->relro_lo = base + ph->p_vaddr;
            h->relro_hi = h->relro_lo + ph->p_memsz;
        }
    }
    uintptr_t jmprel = 0, rela = 0, symtab = 0, strtab = 0;
    size_t jmpsz = 0, relasz = 0, strsz = 0;
    long pltrel = DT_RELA;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t p = dyn->d_un.d_ptr < base ? base + dyn->d_un.d_ptr : dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_JMPREL:   jmprel = p; break;
        case DT_PLTRELSZ: jmpsz = dyn->d_un.d_val; break;
        case DT_PLTREL:   pltrel = (long)dyn->d_un.d_val; break;
        case DT_RELA:     rela = p; break;
        case DT_RELASZ:   relasz = dyn->d_un.d_val; break;
        case DT_SYMTAB:   symtab = p; break;
        case DT_STRTAB:   strtab = p; break;
        case DT_STRSZ:    strsz = dyn->d_un.d_val; break;
        default: break;
        }
    }
    if (!symtab || !strtab || (jmprel && pltrel != DT_RELA)) {
        err_set(h->err, h->errlen, "%s: no symbol table or not RELA relocations",
                info->dlpi_name);
        h->rc = -FT_ERR_UNSUPPORTED;
        return 1;
    }
    const ElfW(Sym) *syms = (const void *)symtab;
    const char *strs = (const void *)strtab;
    h->rc = 0;
    if (jmprel)
        h->rc = scan(h, base, (const void *)jmprel, jmpsz / sizeof(ElfW(Rela)), syms, strs, strsz);
    if (!h->rc && rela)
        h->rc = scan(h, base, (const void *)rela, relasz / sizeof(ElfW(Rela)), syms, strs, strsz);
    return 1;
#endif
}

/* Stores fn into one slot, through a writable mapping of its page when it is RELRO. */
static int store(const struct hook *h, void **slot, void *fn)
{
    uintptr_t a = (uintptr_t)slot;
    if (a < h->relro_lo || a >= h->relro_hi) {
        __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
        return 0;
    }
    long ps = sysconf(_SC_PAGESIZE);
    void *page = (void *)(a & ~((uintptr_t)ps - 1));
    if (mprotect(page, (size_t)ps, PROT_READ | PROT_WRITE) < 0) return -errno;
    __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    return mprotect(page, (size_t)ps, PROT_READ) < 0 ? -errno : 0;
}

int plthook_replace(const char *lib_prefix, const char *symbol, void *replacement,
                    void **original, char *err, size_t errlen)
{
    struct hook h = { .prefix = lib_prefix, .symbol = symbol, .err = err, .errlen = errlen };
    dl_iterate_phdr(on_object, &h);
    if (!h.found) {
        err_set(err, errlen, "no loaded library named %s*", lib_prefix);
        return -ENOENT;
    }
    if (h.rc < 0) return h.rc;
    if (!h.nslots) {
        err_set(err, errlen, "%s does not import %s", lib_prefix, symbol);
        return -ENOENT;
    }
    void *was = *h.slots[0];
    for (unsigned i = 1; i < h.nslots; i++)
        if (*h.slots[i] != was) {
            err_set(err, errlen, "%s: its %s slots point at different functions", lib_prefix,
                    symbol);
            return -FT_ERR_UNSUPPORTED;
        }
    for (unsigned i = 0; i < h.nslots; i++) {
        int rc = store(&h, h.slots[i], replacement);
        if (rc < 0) {
            /* put back the ones changed (this one too, if only its page's protection
             * failed to come back): all or nothing */
            for (unsigned j = 0; j <= i; j++) store(&h, h.slots[j], was);
            err_set(err, errlen, "%s: cannot write its %s slot: %s", lib_prefix, symbol,
                    strerror(-rc));
            return rc;
        }
    }
    *original = was;
    return (int)h.nslots;
}
