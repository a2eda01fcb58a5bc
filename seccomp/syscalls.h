/* syscalls — which syscall names fntrace-seccomp accepts in a profile.
 *
 * A name is known when libseccomp resolves it on some architecture (its table covers
 * every arch it supports), or when it is in the short table in syscalls.c of syscalls
 * Linux added after the libseccomp this was built against: Docker's default profile
 * already names them, and a filter built here cannot place them (see filter.h for what
 * that means).  Anything else is a typo and is refused.  Pure functions, thread-safe. */
#ifndef FNTRACE_SECCOMP_SYSCALLS_H
#define FNTRACE_SECCOMP_SYSCALLS_H

enum sc_syscall_kind {
    SC_SYSCALL_UNKNOWN = 0, /* neither libseccomp nor the newer table knows it */
    SC_SYSCALL_LIBSECCOMP,  /* libseccomp resolves it (on the native arch or another) */
    SC_SYSCALL_NEWER,       /* a real syscall newer than this libseccomp's table */
};

enum sc_syscall_kind sc_syscall_kind(const char *name);

/* For SC_SYSCALL_NEWER names: the kernel release that added it ("6.10"), else NULL. */
const char *sc_syscall_newer_since(const char *name);

#endif
