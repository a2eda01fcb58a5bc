/* diff — see diff.h.  The universe of names is gathered into one array, sorted and
 * deduplicated, then each name gets both verdicts. */
#include "diff.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

#define MAX_SYSCALL_NR 1024   /* above every Linux table libseccomp has */

struct names {
    char **v;
    size_t n, cap;
};

static int names_add(struct names *s, const char *name)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        char **nv = realloc(s->v, cap * sizeof *nv);
        if (!nv) return -ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(name))) return -ENOMEM;
    s->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *sc_verdict_name(enum sc_verdict v)
{
    switch (v) {
    case SC_ALLOWED: return "allowed";
    case SC_ALLOWED_IF: return "allowed if its arguments match";
    default: return "denied";
    }
}

int sc_diff_compute(const struct sc_profile *a, const struct sc_profile *b,
                    const struct sc_env *env, struct sc_diff *d, char *err, size_t errlen)
{
    struct names all = { 0 };
    const struct sc_profile *ps[2] = { a, b };
    memset(d, 0, sizeof *d);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < ps[k]->nrules; i++)
            for (size_t j = 0; j < ps[k]->rules[i].nnames; j++)
                if (names_add(&all, ps[k]->rules[i].names[j])) goto oom;
    uint32_t arch = seccomp_arch_native();
    for (int nr = 0; nr < MAX_SYSCALL_NR; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(arch, nr);
        if (!name) continue;
        int rc = names_add(&all, name);
        free(name);
        if (rc) goto oom;
    }
    if (all.n) qsort(all.v, all.n, sizeof *all.v, cmp_str);
    const char *prev = NULL;
    for (size_t i = 0; i < all.n; i++) {
        if (prev && !strcmp(all.v[i], prev)) continue;
        prev = all.v[i];
        enum sc_verdict va = sc_verdict(a, env, all.v[i]), vb = sc_verdict(b, env, all.v[i]);
        if (va == vb) continue;
        void *ne = realloc(d->entries, (d->n + 1) * sizeof *d->entries);
        if (!ne) goto oom;
        d->entries = ne;
        d->entries[d->n].name = all.v[i];
        d->entries[d->n].a = va;
        d->entries[d->n].b = vb;
        all.v[i] = NULL;   /* now owned by d */
        d->n++;
    }
    for (size_t i = 0; i < all.n; i++) free(all.v[i]);
    free(all.v);
    return 0;
oom:
    for (size_t i = 0; i < all.n; i++) free(all.v[i]);
    free(all.v);
    sc_diff_free(d);
    err_set(err, errlen, "out of memory");
    return -ENOMEM;
}

void sc_diff_free(struct sc_diff *d)
{
    for (size_t i = 0; i < d->n; i++) free(d->entries[i].name);
    free(d->entries);
    d->entries = NULL;
    d->n = 0;
}
