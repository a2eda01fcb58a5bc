/* fnhandler — the developer's tool of libfnhandler.
 *
 *   fnhandler new KIND -n NAME [-C DIR]   a new function NAME of KIND in DIR (default .):
 *                                         NAME.c, its line in functions.def, main.c if none
 *   fnhandler kinds                       the kinds `new` knows
 *
 * The app itself writes the Azure script root: `./app --azure-init DIR`. */
#include "scaffold.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: fnhandler new KIND -n NAME [-C DIR]\n"
                 "       fnhandler kinds\n"
                 "KIND:");
    const char *k;
    for (size_t i = 0; (k = scaffold_kinds(i, NULL)); i++) fprintf(out, " %s", k);
    fprintf(out, "\nThen: cc -o app *.c $(pkg-config --cflags --libs fnhandler); "
                 "./app --azure-init site\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "kinds")) {
        const char *k, *s;
        for (size_t i = 0; (k = scaffold_kinds(i, &s)); i++) printf("%-10s %s\n", k, s);
        return 0;
    }
    if (strcmp(argv[1], "new") || argc < 3) { usage(stderr); return 2; }
    const char *kind = argv[2], *name = NULL, *dir = ".";
    int c;
    optind = 3;
    while ((c = getopt(argc, argv, "n:C:")) != -1) {
        if (c == 'n') name = optarg;
        else if (c == 'C') dir = optarg;
        else { usage(stderr); return 2; }
    }
    if (!name || optind < argc) { usage(stderr); return 2; }
    char err[512];
    if (scaffold_new(kind, name, dir, stdout, err, sizeof err) < 0) {
        fprintf(stderr, "fnhandler new: %s\n", err);
        return 1;
    }
    return 0;
}
