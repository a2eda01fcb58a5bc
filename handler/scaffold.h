/* scaffold — `fnhandler new KIND -n NAME`, the counterpart of `cargo func new`: writes
 * DIR/NAME.c, a C stub of one function of that kind with its Azure bindings declared
 * (fn_app_bind) in a fn_register_ID(fn_app *) function (ID: NAME with '-' as '_'), and
 * registers it: DIR/functions.def gets the line FN_FUNCTION(ID), which the app's main.c
 * reads (an X-macro list: C has no registry at link time that is portable and explicit).
 * A main.c that does so is written when DIR has none.  Nothing existing is overwritten:
 * NAME.c must be new, functions.def is rewritten through a rename with the line added.
 * Not thread-safe (a command-line tool's work). */
#ifndef FNHANDLER_SCAFFOLD_H
#define FNHANDLER_SCAFFOLD_H

#include <stddef.h>
#include <stdio.h>

/* The i-th kind ("http", "queue", …) and its one-line summary; NULL past the end. */
const char *scaffold_kinds(size_t i, const char **summary);
/* 0, printing what it wrote to out; or -FT_ERR_BAD_INPUT (unknown kind), -FT_ERR_BAD_NAME,
 * -EEXIST (NAME.c exists or NAME is registered), -errno, with a message. */
int scaffold_new(const char *kind, const char *name, const char *dir, FILE *out, char *err,
                 size_t errlen);

#endif
