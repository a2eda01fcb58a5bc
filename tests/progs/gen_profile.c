/* gen_profile — writes a large, realistic, deterministic perf-script profile.
 *
 *   gen_profile MEGABYTES [SEED] > profile.perf
 *
 * What `perf script --header` prints for a multi-threaded service sampled at 200 Hz
 * for a long time: perf's header block, then samples of several processes and threads
 * (comms with spaces, slashes and digits), on 8 CPUs, with deep stacks (5 to 120
 * frames) drawn from a fixed call tree over some 20,000 symbols in native, kernel and
 * JIT (`/tmp/perf-PID.map`, with `->` inlining) modules. Same MEGABYTES and SEED, same
 * bytes. Written with stdio on purpose, independent of lib/perfscript, so the parser
 * benchmark and tests read text they did not write themselves. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rndn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

#define NSYMS 20000
#define NMODS 6

struct sym {
    char name[160];
    uint64_t base;
    int mod;
    int children[4];    /* callees, indexes into syms */
};

static struct sym syms[NSYMS];

static const char *mods[NMODS] = {
    "/srv/fn/worker",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "[kernel.kallsyms]",
    "/tmp/perf-4242.map",
    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30",
    "/usr/bin/node",
};

static const char *words[] = {
    "hash", "block", "compute", "pi", "fib", "phase", "thread", "main", "read", "write",
    "parse", "json", "http", "request", "handle", "alloc", "free", "lock", "unlock",
    "queue", "push", "pop", "encode", "decode", "crc32", "deflate", "inflate", "map",
    "lookup", "insert", "sort", "merge", "scan", "flush", "poll", "epoll", "wait",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static void make_name(struct sym *s, int i)
{
    const char *a = words[rndn(NWORDS)], *b = words[rndn(NWORDS)], *c = words[rndn(NWORDS)];
    switch (s->mod) {
    case 2:
        snprintf(s->name, sizeof(s->name), "__%s_%s%d", a, b, i % 97);
        break;
    case 3:
        if (rndn(3) == 0)
            snprintf(s->name, sizeof(s->name),
                     "Lcom/example/%s/%sService;::%s->Lcom/example/%s/Util;::%s%d", a, b, c,
                     a, b, i);
        else
            snprintf(s->name, sizeof(s->name), "JS:~%s%s /app/%s.js:%d:%d", a, b, c,
                     i % 500, i % 80);
        break;
    case 4:
        snprintf(s->name, sizeof(s->name), "std::vector<%s::%s, std::allocator<%s> >::%s%d",
                 a, b, c, rndn(2) ? "operator->" : "operator+", i);
        break;
    case 5:
        snprintf(s->name, sizeof(s->name), "v8::internal::(anonymous namespace)::%s_%s%d", a,
                 b, i);
        break;
    default:
        snprintf(s->name, sizeof(s->name), "%s_%s_%s%d", a, b, c, i);
        break;
    }
}

static void build_tree(void)
{
    for (int i = 0; i < NSYMS; i++) {
        struct sym *s = &syms[i];
        s->mod = (int)rndn(NMODS);
        s->base = s->mod == 2 ? 0xffffffff81000000ull + (uint64_t)i * 0x400
                  : s->mod == 3 ? 0x7fa4b3000000ull + (uint64_t)i * 0x200
                                : 0x1000 + (uint64_t)i * 0x180;
        make_name(s, i);
        /* callees further down the table: a DAG, so stacks end */
        for (int k = 0; k < 4; k++)
            s->children[k] = i + 1 + (int)rndn(NSYMS / 8);
    }
}

struct thread {
    const char *comm;
    int pid, tid;
    int root;
    uint64_t next_ns;
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_profile MEGABYTES [SEED]\n");
        return 2;
    }
    uint64_t limit = strtoull(argv[1], NULL, 10) * 1000000ull;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    build_tree();

    static const char *comms[] = { "worker", "V8 WorkerThread", "node", "kworker/0:1-eve",
                                   "java", "swapper", "fn handler 2" };
    struct thread th[24];
    int nth = 24;
    for (int i = 0; i < nth; i++) {
        th[i].comm = comms[i % 7];
        th[i].pid = 19000 + (i % 7) * 10;
        th[i].tid = th[i].pid + i;
        th[i].root = (int)rndn(50);
        th[i].next_ns = 716000000000ull + rndn(5000000);
    }

    uint64_t written = 0;
    written += (uint64_t)printf(
        "# ========\n"
        "# captured on    : Sat Nov 21 19:21:52 2026\n"
        "# hostname : bench\n"
        "# os release : 6.1.0-bench\n"
        "# perf version : 6.1.192\n"
        "# arch : x86_64\n"
        "# nrcpus online : 8\n"
        "# nrcpus avail : 8\n"
        "# cmdline : /usr/bin/perf record -F 200 -a -g -- sleep 600 \n"
        "# event : name = cpu-clock:pppH, , id = { 1, 2 }, type = 1, size = 128, "
        "{ sample_period, sample_freq } = 200, sample_type = IP|TID|TIME|CALLCHAIN|CPU|PERIOD\n"
        "# ========\n"
        "#\n");
    int path[200];
    while (written < limit) {
        /* the thread whose next sample is earliest */
        int t = 0;
        for (int i = 1; i < nth; i++)
            if (th[i].next_ns < th[t].next_ns)
                t = i;
        struct thread *x = &th[t];
        uint64_t ns = x->next_ns;
        x->next_ns += 5000000 + rndn(20000);
        int n = printf("%s %5d/%-5d [%03u] %5" PRIu64 ".%06" PRIu64
                       ":    5000000 cpu-clock:pppH: \n",
                       x->comm, x->pid, x->tid, rndn(8), ns / 1000000000ull,
                       (ns % 1000000000ull) / 1000);
        written += (uint64_t)n;
        /* a walk down the call tree from the thread's root; leaf printed first */
        int depth = 5 + (int)rndn(rndn(4) == 0 ? 116 : 30);
        int d = 0, cur = x->root;
        while (d < depth && cur < NSYMS) {
            path[d++] = cur;
            cur = syms[cur].children[rndn(rndn(8) == 0 ? 4 : 2)];
        }
        for (int i = d - 1; i >= 0; i--) {
            struct sym *s = &syms[path[i]];
            uint64_t off = rndn(0x180);
            if (s->mod == 3)
                n = printf("\t%16" PRIx64 " %s (%s)\n", s->base + off, s->name, mods[s->mod]);
            else
                n = printf("\t%16" PRIx64 " %s+0x%" PRIx64 " (%s)\n", s->base + off, s->name,
                           off, mods[s->mod]);
            written += (uint64_t)n;
        }
        written += (uint64_t)printf("\n");
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
