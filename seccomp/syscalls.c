/* syscalls — see syscalls.h.  The newer table lists syscalls by the Linux release that
 * added them; it only needs the names a libseccomp from Debian 12 (2.5.4) lacks, and a
 * name libseccomp learns later is simply found by libseccomp first. */
#include "syscalls.h"

#include <seccomp.h>
#include <stddef.h>
#include <string.h>

static const struct { const char *name, *since; } newer[] = {
    { "riscv_hwprobe", "6.4" },
    { "cachestat", "6.5" },
    { "fchmodat2", "6.6" },
    { "map_shadow_stack", "6.6" },
    { "futex_wake", "6.7" },
    { "futex_wait", "6.7" },
    { "futex_requeue", "6.7" },
    { "statmount", "6.8" },
    { "listmount", "6.8" },
    { "lsm_get_self_attr", "6.8" },
    { "lsm_set_self_attr", "6.8" },
    { "lsm_list_modules", "6.8" },
    { "mseal", "6.10" },
    { "uretprobe", "6.11" },
    { "setxattrat", "6.13" },
    { "getxattrat", "6.13" },
    { "listxattrat", "6.13" },
    { "removexattrat", "6.13" },
    { "open_tree_attr", "6.15" },
    { "file_getattr", "6.17" },
    { "file_setattr", "6.17" },
};

const char *sc_syscall_newer_since(const char *name)
{
    for (size_t i = 0; i < sizeof newer / sizeof newer[0]; i++)
        if (!strcmp(newer[i].name, name)) return newer[i].since;
    return NULL;
}

enum sc_syscall_kind sc_syscall_kind(const char *name)
{
    if (!name || !*name) return SC_SYSCALL_UNKNOWN;
    if (seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR) return SC_SYSCALL_LIBSECCOMP;
    if (sc_syscall_newer_since(name)) return SC_SYSCALL_NEWER;
    return SC_SYSCALL_UNKNOWN;
}
