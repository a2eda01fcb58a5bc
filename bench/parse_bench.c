/* parse_bench — times lib/perfscript's parser over one profile, for bench_parse.sh.
 *
 *   parse_bench [--mem] [--intern] [--repeat N] FILE
 *
 * Default: ps_parse_file (reads through the parser's own buffer, like `cat` reads the
 * page cache). --mem: the file is read into memory first (not timed) and ps_parse_mem
 * is timed: the parser alone. --intern: with a string table (flamescope's use).
 * Prints one line: bytes=… samples=… frames=… skipped=… seconds=… mb_s=… (best of N).
 * Exits 1 when the parse fails or skips a line. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "perfscript.h"
#include "strtab.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_sample(void *ctx, const ps_sample *s)
{
    /* touch what an index needs: the time and the leaf */
    uint64_t *acc = ctx;
    *acc += s->time_ns + (s->nframes ? s->frames[0].sym_id + s->frames[0].addr : 0);
    return 0;
}

int main(int argc, char **argv)
{
    int mem = 0, intern = 0, repeat = 3;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mem"))
            mem = 1;
        else if (!strcmp(argv[i], "--intern"))
            intern = 1;
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else
            path = argv[i];
    }
    if (!path || repeat < 1) {
        fprintf(stderr, "usage: parse_bench [--mem] [--intern] [--repeat N] FILE\n");
        return 2;
    }
    char *text = NULL;
    size_t len = 0;
    if (mem) {
        int fd = open(path, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            fprintf(stderr, "parse_bench: %s: %s\n", path, strerror(errno));
            return 1;
        }
        len = (size_t)st.st_size;
        text = malloc(len ? len : 1);
        size_t got = 0;
        while (text && got < len) {
            ssize_t n = read(fd, text + got, len - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        close(fd);
        if (!text || got != len) {
            fprintf(stderr, "parse_bench: cannot read %s\n", path);
            return 1;
        }
    }
    double best = 1e30;
    ps_stats st = { 0 };
    uint64_t acc = 0;
    for (int r = 0; r < repeat; r++) {
        strtab *t = intern ? strtab_new() : NULL;
        ps_parse_opts o = { .on_sample = on_sample, .ctx = &acc, .strtab = t };
        ps_parser *p = ps_parser_new(&o);
        char err[256] = "";
        double t0 = now();
        int rc = mem ? ps_parse_mem(p, text, len) : ps_parse_file(p, path, err, sizeof(err));
        double dt = now() - t0;
        if (rc != 0) {
            fprintf(stderr, "parse_bench: %s: rc=%d %s\n", path, rc, err);
            return 1;
        }
        st = *ps_parser_stats(p);
        ps_parser_free(p);
        strtab_free(t);
        if (dt < best)
            best = dt;
    }
    free(text);
    printf("bytes=%" PRIu64 " samples=%" PRIu64 " frames=%" PRIu64 " skipped=%" PRIu64
           " seconds=%.4f mb_s=%.1f\n",
           st.bytes, st.samples, st.frames, st.skipped, best, (double)st.bytes / 1e6 / best);
    return st.skipped ? 1 : (acc == 42 ? 3 : 0);
}
