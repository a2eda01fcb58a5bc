/* libFuzzer target for the symbolizer's ELF reading (tracer/symbolizer.c), the outside
 * input a traced process controls: any file it maps is read for symbols.  The input is
 * written as a file, mapped into a made-up process and a few addresses (from its first
 * bytes) are resolved.  For any input: no crash, no read past a section; a resolved
 * name is a NUL-terminated string of the table, its offset below the mapping's size,
 * and the module is the file's path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tracer/symbolizer.h"

#define FAKE_PID 0x3ffffff0
#define BASE 0x40000000ull
#define LEN 0x100000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz-elfsyms-%d.so", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    symbolizer *s = symbolizer_new();
    if (!s) return 0;
    symbolizer_set_mem_budget(s, 64u << 20);
    symbolizer_mmap(s, FAKE_PID, BASE, LEN, 0, 0, 0, 7, path);
    for (size_t i = 0; i < 8; i++) {
        uint64_t off = 0;
        for (size_t k = 0; k < 3 && i * 3 + k < size; k++) off = off << 8 | data[i * 3 + k];
        sym_frame fr;
        symbolizer_resolve_user(s, FAKE_PID, BASE + off % LEN, &fr);
        if (!fr.module || strcmp(fr.module, path)) abort();
        if (fr.sym && strlen(fr.sym) > (64u << 20)) abort();
    }
    symbolizer_free(s);
    return 0;
}
