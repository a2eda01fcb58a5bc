/* bindings — Azure Functions bindings in C: the one table of binding kinds and what each
 * kind means at every stage.
 *
 * A row of kinds[] (bindings.c) says, for one function.json "type": which directions it
 * takes (trigger / in / out), the properties function.json must carry, the parser that
 * turns Data[name] + Metadata into the typed view of fnhandler.h (fn_timer_info,
 * fn_queue_message, …), and the output shape fn_output_* build for it.  A new binding
 * type is one row (plus a parser or an output shape when it has a new one).
 *
 * The same declarations (fn_app_bind, kept on struct fn_func) are used to
 *   - write function.json (bd_function_json) and host.json (bd_host_json) for --azure-init,
 *   - check an existing function.json against them (bd_compare_function_json),
 *   - check a function.json against the binding rules (bd_check_rules: one trigger, with
 *     direction "in", unique names, an http output only next to an httpTrigger),
 *   - pick and parse the trigger (the fn_*_get accessors) and check outputs.
 *
 * The parsers (bd_parse) are pure: JSON in, typed view out, allocations in a bd_mem the
 * caller frees; every failure is -FT_ERR_BAD_INPUT with the field named in err
 * ("Metadata.DequeueCount: not a number").  Thread-safety: declarations are built before
 * fn_app_run and read-only after; a bd_mem belongs to one call. */
#ifndef FNHANDLER_BINDINGS_H
#define FNHANDLER_BINDINGS_H

#include "fnhandler.h"

#include <stddef.h>
#include <stdio.h>
#include <time.h>

struct cJSON;
struct fn_func;

/* Memory of one call's typed views: blocks and parsed JSON freed together. */
struct bd_mem {
    struct bd_block *head;
};
void bd_mem_free(struct bd_mem *m);

/* The typed views a parser produces. */
enum bd_view {
    BD_V_NONE, BD_V_HTTP, BD_V_TIMER, BD_V_QUEUE, BD_V_BLOB, BD_V_EVENTHUB,
    BD_V_SERVICEBUS, BD_V_EVENTGRID, BD_V_COSMOS, BD_V_TABLE, BD_V_GENERIC, BD_V__COUNT
};

/* Options of a parse that come from the declaration. */
struct bd_opts {
    int trigger;          /* Metadata belongs to this binding (triggers only) */
    int text;             /* dataType "string": content is text, not base64 */
};

/* Parses Data[name] (val, named field in messages, e.g. "Data.order") and, for a trigger,
 * Metadata (meta, may be NULL) into *out, whose type is the view's (fn_timer_info for
 * BD_V_TIMER, …; BD_V_HTTP and BD_V_GENERIC take nothing and accept anything).
 * 0, or -FT_ERR_BAD_INPUT / -ENOMEM with a message naming the field. */
int bd_parse(enum bd_view view, const struct cJSON *val, const struct cJSON *meta,
             const char *field, const struct bd_opts *o, struct bd_mem *m, void *out,
             char *err, size_t errlen);

/* ISO 8601 "YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]" → UTC; 0 or -FT_ERR_BAD_INPUT. */
int bd_parse_date(const char *s, struct timespec *out);
/* Strict base64 (RFC 4648 alphabet, padded to a multiple of 4): the decoded length, or
 * -FT_ERR_BAD_INPUT.  out has room for len / 4 * 3 + 1 bytes (NUL added). */
long bd_base64_decode(const char *s, size_t len, unsigned char *out);
/* Would the Functions host base64-decode this string output? (non-empty, valid base64) */
int bd_base64_ambiguous(const char *s);
/* Base64 of len bytes, malloc'd; NULL when out of memory. */
char *bd_base64_encode(const void *data, size_t len);
/* The trace id of a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>") into id (33 bytes,
 * lower case); 0, or -FT_ERR_BAD_INPUT when it is not one (all-zero ids included). */
int bd_traceparent_id(const char *traceparent, char *id);

/* --- declarations ------------------------------------------------------------------------- */

struct bd_set;        /* a function's declared bindings (on struct fn_func) */
void bd_set_free(struct bd_set *s);
/* The declared trigger's name and view; NULL when nothing is declared. */
const char *bd_trigger_name(const struct bd_set *s, enum bd_view *view);
/* The declared http output's name ("res", "$return"); NULL when none is declared. */
const char *bd_http_out(const struct bd_set *s);

/* The function.json object {"bindings":[…]} of a function: its declarations, or for an
 * HTTP function without any the default httpTrigger "req" + http "res".  NULL (err says
 * why) for a generic function without declarations. */
struct cJSON *bd_function_json(const struct fn_func *f, char *err, size_t errlen);
/* host.json for a custom handler whose executable is exe. */
struct cJSON *bd_host_json(const char *exe);
/* Binding rules of a {"bindings":[…]} object: 0, or -FT_ERR_BAD_INPUT naming the rule. */
int bd_check_rules(const struct cJSON *function_json, char *err, size_t errlen);
/* Declarations against an existing function.json: 0 when they say the same (same
 * bindings by name, type, direction and properties), else -FT_ERR_BAD_INPUT naming the
 * first difference.  Always 0 for a function without declarations. */
int bd_compare_function_json(const struct fn_func *f, const struct cJSON *function_json,
                             char *err, size_t errlen);

/* Writes DIR/host.json and DIR/NAME/function.json for every function of app (each through
 * a temporary file and a rename: never half-written), printing one line per file to out.
 * 0, or a negative code with a message (a function without bindings, a write failure). */
int bd_azure_init(const fn_app *app, const char *dir, const char *exe, FILE *out,
                  char *err, size_t errlen);

/* Outputs of a call: the appended values (queue messages, …) moved into Outputs — one as
 * it is, more as an array.  Called once before the envelope is built. */
void bd_finish_outputs(fn_invocation *inv);

#endif
