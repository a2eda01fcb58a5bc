/* derive — see derive.h. */
#include "derive.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "errbuf.h"
#include "fterr.h"
#include "jsonfmt.h"
#include "profile.h"
#include "syscalls.h"

/* Puts item before the array element `after` (cJSON_InsertItemInArray of some cJSON
 * 1.7.15 builds refuses every insertion).  cJSON keeps child->prev pointing at the last
 * element; that stays true because `after` is never the head's prev here. */
static void insert_before(cJSON *array, cJSON *after, cJSON *item)
{
    item->next = after;
    item->prev = after->prev;
    if (after == array->child) array->child = item;
    else after->prev->next = item;
    after->prev = item;
}

static int cond_empty(const struct sc_cond *c)
{
    return !c->ncaps && !c->narches && !c->has_min_kernel;
}

/* the tree node of the first unconditional allow rule written with "names", or NULL */
static cJSON *allow_rule(struct sc_profile *p)
{
    cJSON *sc = cJSON_GetObjectItemCaseSensitive(p->root, "syscalls");
    size_t i = 0;
    for (cJSON *r = sc ? sc->child : NULL; r && i < p->nrules; r = r->next, i++) {
        const struct sc_rule *m = &p->rules[i];
        if (m->action == SC_ACT_ALLOW && !m->nargs && cond_empty(&m->includes)
            && cond_empty(&m->excludes)
            && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "names")))
            return r;
    }
    return NULL;
}

int sc_derive(struct sc_profile *p, const char *const *allow, size_t nallow, char *err,
              size_t errlen)
{
    for (size_t i = 0; i < nallow; i++) {
        if (sc_syscall_kind(allow[i]) == SC_SYSCALL_UNKNOWN) {
            err_set(err, errlen, "unknown syscall \"%s\"", allow[i]);
            return -FT_ERR_BAD_INPUT;
        }
    }
    if (!nallow) return 0;
    if (p->default_action == SC_ACT_ALLOW || p->default_action == SC_ACT_LOG) {
        err_set(err, errlen, "the base profile's defaultAction is %s: it allows every syscall "
                "already, so allowing more changes nothing", sc_action_name(p->default_action));
        return -FT_ERR_BAD_INPUT;
    }
    cJSON *rule = allow_rule(p);
    if (!rule) {
        cJSON *sc = cJSON_GetObjectItemCaseSensitive(p->root, "syscalls");
        if (!sc || cJSON_IsNull(sc)) {
            cJSON_DeleteItemFromObjectCaseSensitive(p->root, "syscalls");
            sc = cJSON_AddArrayToObject(p->root, "syscalls");
        }
        rule = cJSON_CreateObject();
        if (!sc || !rule || !cJSON_AddArrayToObject(rule, "names")
            || !cJSON_AddStringToObject(rule, "action", "SCMP_ACT_ALLOW")) {
            cJSON_Delete(rule);
            err_set(err, errlen, "out of memory");
            return -ENOMEM;
        }
        cJSON_AddItemToArray(sc, rule);
    }
    cJSON *names = cJSON_GetObjectItemCaseSensitive(rule, "names");
    for (size_t i = 0; i < nallow; i++) {
        int found = 0;
        cJSON *at = NULL;
        for (cJSON *n = names->child; n; n = n->next) {
            int c = strcmp(n->valuestring, allow[i]);
            if (c == 0) { found = 1; break; }
            if (c > 0 && !at) at = n;
        }
        if (found) continue;
        cJSON *s = cJSON_CreateString(allow[i]);
        if (!s) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
        if (at) {
            insert_before(names, at, s);
        } else if (!cJSON_AddItemToArray(names, s)) {
            cJSON_Delete(s);
            err_set(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

char *sc_derive_text(struct sc_profile *p, const char *const *allow, size_t nallow, char *err,
                     size_t errlen)
{
    if (sc_derive(p, allow, nallow, err, errlen)) return NULL;
    char *out = sc_json_print(p->root);
    if (!out) err_set(err, errlen, "out of memory");
    return out;
}
