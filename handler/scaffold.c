/* scaffold — see scaffold.h. */
#define _GNU_SOURCE
#include "scaffold.h"
#include "errbuf.h"
#include "fterr.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One row per kind: the trigger it declares and the body of the stub.  %1$s is the
 * function name, %2$s its C identifier. */
static const struct kind {
    const char *kind;
    const char *summary;
    const char *code;
} kinds[] = {
    { "http", "an HTTP function (httpTrigger + http output)",
"static int %2$s(const fn_request *req, fn_response *res, void *arg)\n"
"{\n"
"    (void)arg;\n"
"    const char *name = fn_request_query(req, \"name\");\n"
"    return fn_response_printf(res, \"Hello, %%s!\", name ? name : \"World\");\n"
"}\n"
"\n"
"int fn_register_%2$s(fn_app *app)\n"
"{\n"
"    return fn_app_http(app, \"%1$s\", %2$s, NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"httpTrigger\", \"in\", \"req\", \"methods\", "
"\"get,post\",\n"
"                       \"authLevel\", \"function\", NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"http\", \"out\", \"res\", NULL);\n"
"}\n" },
    { "queue", "a queue-triggered function (queueTrigger + queue output)",
"static int %2$s(fn_invocation *inv, void *arg)\n"
"{\n"
"    (void)arg;\n"
"    fn_queue_message msg;\n"
"    if (fn_queue_get(inv, NULL, &msg)) return -1;      /* 400 naming the bad field */\n"
"    fn_invocation_log(inv, \"%1$s: message %%s (dequeue %%ld): %%.100s\", msg.id,\n"
"                      msg.dequeue_count, msg.text);\n"
"    return fn_output_text(inv, \"out\", msg.text);\n"
"}\n"
"\n"
"int fn_register_%2$s(fn_app *app)\n"
"{\n"
"    return fn_app_invoke(app, \"%1$s\", %2$s, NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"queueTrigger\", \"in\", \"msg\", \"queueName\", "
"\"%1$s-in\",\n"
"                       \"connection\", \"AzureWebJobsStorage\", NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"queue\", \"out\", \"out\", \"queueName\", \"%1$s-out\",\n"
"                       \"connection\", \"AzureWebJobsStorage\", NULL);\n"
"}\n" },
    { "timer", "a timer-triggered function (timerTrigger, every 5 minutes)",
"static int %2$s(fn_invocation *inv, void *arg)\n"
"{\n"
"    (void)arg;\n"
"    fn_timer_info t;\n"
"    if (fn_timer_get(inv, NULL, &t)) return -1;\n"
"    fn_invocation_log(inv, \"%1$s: past due %%d, next at %%lld\", t.is_past_due,\n"
"                      (long long)t.next.tv_sec);\n"
"    return 0;\n"
"}\n"
"\n"
"int fn_register_%2$s(fn_app *app)\n"
"{\n"
"    return fn_app_invoke(app, \"%1$s\", %2$s, NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"timerTrigger\", \"in\", \"timer\",\n"
"                       \"schedule\", \"0 */5 * * * *\", NULL);\n"
"}\n" },
    { "blob", "a blob-triggered function (blobTrigger + blob output)",
"static int %2$s(fn_invocation *inv, void *arg)\n"
"{\n"
"    (void)arg;\n"
"    fn_blob blob;\n"
"    if (fn_blob_get(inv, NULL, &blob)) return -1;\n"
"    fn_invocation_log(inv, \"%1$s: %%s, %%zu bytes\", blob.name ? blob.name : \"?\", blob.len);\n"
"    return fn_output_blob(inv, \"copy\", blob.data, blob.len);\n"
"}\n"
"\n"
"int fn_register_%2$s(fn_app *app)\n"
"{\n"
"    return fn_app_invoke(app, \"%1$s\", %2$s, NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"blobTrigger\", \"in\", \"blob\", \"path\", "
"\"%1$s/{name}\",\n"
"                       \"connection\", \"AzureWebJobsStorage\", NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"blob\", \"out\", \"copy\", \"path\", "
"\"%1$s-copies/{name}\",\n"
"                       \"connection\", \"AzureWebJobsStorage\", NULL);\n"
"}\n" },
    { "eventhub", "an Event Hub-triggered function (batches)",
"static int %2$s(fn_invocation *inv, void *arg)\n"
"{\n"
"    (void)arg;\n"
"    fn_eventhub_batch batch;\n"
"    if (fn_eventhub_get(inv, NULL, &batch)) return -1;\n"
"    fn_invocation_log(inv, \"%1$s: %%zu events\", batch.n);\n"
"    return 0;\n"
"}\n"
"\n"
"int fn_register_%2$s(fn_app *app)\n"
"{\n"
"    return fn_app_invoke(app, \"%1$s\", %2$s, NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"eventHubTrigger\", \"in\", \"events\",\n"
"                       \"eventHubName\", \"%1$s\", \"cardinality\", \"many\",\n"
"                       \"connection\", \"EventHubConnection\", NULL);\n"
"}\n" },
    { "eventgrid", "an Event Grid-triggered function",
"static int %2$s(fn_invocation *inv, void *arg)\n"
"{\n"
"    (void)arg;\n"
"    fn_eventgrid_event ev;\n"
"    if (fn_eventgrid_get(inv, NULL, &ev)) return -1;\n"
"    fn_invocation_log(inv, \"%1$s: %%s on %%s\", ev.event_type, ev.subject);\n"
"    return 0;\n"
"}\n"
"\n"
"int fn_register_%2$s(fn_app *app)\n"
"{\n"
"    return fn_app_invoke(app, \"%1$s\", %2$s, NULL) ||\n"
"           fn_app_bind(app, \"%1$s\", \"eventGridTrigger\", \"in\", \"event\", NULL);\n"
"}\n" },
};

static const char main_c[] =
"/* main.c — the function app: one fn_register_NAME per line of functions.def, which\n"
" * `fnhandler new KIND -n NAME` keeps up to date.  Build:\n"
" *     cc -o app *.c $(pkg-config --cflags --libs fnhandler)\n"
" * then `./app --azure-init site` writes the Azure script root. */\n"
"#include <fnhandler.h>\n"
"#include <stdio.h>\n"
"\n"
"#define FN_FUNCTION(id) int fn_register_##id(fn_app *app);\n"
"#include \"functions.def\"\n"
"#undef FN_FUNCTION\n"
"\n"
"int main(int argc, char **argv)\n"
"{\n"
"    fn_app *app = fn_app_new(\"app\");\n"
"    if (!app) return 1;\n"
"#define FN_FUNCTION(id)                                                  \\\n"
"    if (fn_register_##id(app)) {                                         \\\n"
"        fprintf(stderr, \"cannot register %s\\n\", #id);                   \\\n"
"        fn_app_free(app);                                                \\\n"
"        return 1;                                                        \\\n"
"    }\n"
"#include \"functions.def\"\n"
"#undef FN_FUNCTION\n"
"    return fn_app_run(app, argc, argv);\n"
"}\n";

const char *scaffold_kinds(size_t i, const char **summary)
{
    if (i >= sizeof kinds / sizeof kinds[0]) return NULL;
    if (summary) *summary = kinds[i].summary;
    return kinds[i].kind;
}

static int write_new(const char *path, const char *text, int exclusive, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fflush(f)) rc = -errno;
    if (f && fclose(f) && !rc) rc = -errno;
    if (!rc) {
        /* link(2) fails when path exists: no overwrite of the user's file */
        if (exclusive ? link(tmp, path) : rename(tmp, path)) rc = -errno;
    }
    unlink(tmp);
    if (rc) err_set(err, errlen, "%s: %s", path, rc == -EEXIST ? "exists already" : strerror(-rc));
    return rc;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, 0, f);
    fclose(f);
    if (n < 0) { free(buf); return strdup(""); }
    return buf;
}

int scaffold_new(const char *kind, const char *name, const char *dir, FILE *out, char *err,
                 size_t errlen)
{
    const struct kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].kind, kind)) k = &kinds[i];
    if (!k) {
        err_set(err, errlen, "unknown kind %s (http, queue, timer, blob, eventhub, eventgrid)",
                kind);
        return -FT_ERR_BAD_INPUT;
    }
    size_t n = name ? strlen(name) : 0;
    char id[65];
    if (n == 0 || n > 64 || !isalpha((unsigned char)name[0])) n = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_') { n = 0; break; }
        id[i] = name[i] == '-' ? '_' : name[i];
    }
    if (!n) {
        err_set(err, errlen, "the name must be a letter then [A-Za-z0-9_-], at most 64");
        return -FT_ERR_BAD_NAME;
    }
    id[n] = 0;
    char path[PATH_MAX], def[PATH_MAX];
    snprintf(def, sizeof def, "%s/functions.def", dir);
    char *defs = read_all(def);
    char line[96];
    snprintf(line, sizeof line, "FN_FUNCTION(%s)\n", id);
    if (defs && strstr(defs, line)) {
        free(defs);
        err_set(err, errlen, "%s is registered already in %s", name, def);
        return -EEXIST;
    }
    /* the stub */
    char *code = NULL;
    if (asprintf(&code,
                 "/* %s — %s, written by `fnhandler new %s -n %s`.\n"
                 " * Registered by the FN_FUNCTION(%s) line of functions.def (main.c reads it). "
                 "*/\n"
                 "#include <fnhandler.h>\n#include <cjson/cJSON.h>\n\n",
                 name, k->summary, kind, name, id) < 0) {
        free(defs);
        return -ENOMEM;
    }
    char *body = NULL;
    if (asprintf(&body, k->code, name, id) < 0) { free(code); free(defs); return -ENOMEM; }
    char *all = NULL;
    int rc = asprintf(&all, "%s%s", code, body) < 0 ? -ENOMEM : 0;
    free(code);
    free(body);
    snprintf(path, sizeof path, "%s/%s.c", dir, name);
    if (!rc) rc = write_new(path, all, 1, err, errlen);
    free(all);
    if (!rc && out) fprintf(out, "wrote %s\n", path);
    /* the registration: functions.def gains one line (rewritten whole, renamed in) */
    if (!rc) {
        char *nd = NULL;
        if (asprintf(&nd, "%s%s", defs ? defs : "/* FN_FUNCTION(c_identifier): one per function; "
                     "kept by `fnhandler new` */\n", line) < 0) rc = -ENOMEM;
        else rc = write_new(def, nd, 0, err, errlen);
        free(nd);
        if (rc) unlink(path);
        else if (out) fprintf(out, "registered %s in %s\n", name, def);
    }
    free(defs);
    snprintf(path, sizeof path, "%s/main.c", dir);
    if (!rc && access(path, F_OK) != 0) {
        rc = write_new(path, main_c, 1, err, errlen);
        if (!rc && out) fprintf(out, "wrote %s\n", path);
    }
    return rc;
}
