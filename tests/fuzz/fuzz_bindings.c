/* fuzz_bindings: bytes as an Azure invocation payload {"Data":{"x":…},"Metadata":{…}}
 * through every typed view's parser (as a trigger and as an input, base64 and text
 * content), the strings of Data.x through the date, base64 and traceparent parsers, and
 * the payload's Data.x as a function.json against the binding rules.  Whatever the input,
 * a parser returns 0 or -FT_ERR_BAD_INPUT with a message, and a view it fills points to
 * memory that stays readable until bd_mem_free. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../handler/bindings.h"
#include "fterr.h"

static size_t touch(const void *p, size_t n)
{
    size_t s = 0;
    for (size_t i = 0; p && i < n; i++) s += ((const unsigned char *)p)[i];
    return s;
}

static void views(const cJSON *val, const cJSON *meta, int trigger, int text)
{
    for (int v = BD_V_NONE; v < BD_V__COUNT; v++) {
        union { fn_timer_info t; fn_queue_message q; fn_blob b; fn_eventhub_batch e;
                fn_servicebus_message s; fn_eventgrid_event g; fn_documents d;
                fn_table_rows r; } u;
        memset(&u, 0, sizeof u);
        struct bd_mem m = { 0 };
        struct bd_opts o = { .trigger = trigger, .text = text };
        char err[256] = "";
        int rc = bd_parse((enum bd_view)v, val, meta, "Data.x", &o, &m, &u, err, sizeof err);
        if (rc != 0 && rc != -FT_ERR_BAD_INPUT && rc != -12) abort();
        if (rc != 0 && !err[0]) abort();     /* a refusal always says why */
        if (rc == 0) {
            volatile size_t s = 0;
            if (v == BD_V_QUEUE) s += touch(u.q.text, u.q.len);
            if (v == BD_V_BLOB) s += touch(u.b.data, u.b.len + 1);
            if (v == BD_V_EVENTHUB)
                for (size_t i = 0; i < u.e.n; i++) s += touch(u.e.events[i].body,
                                                              u.e.events[i].len);
            if (v == BD_V_SERVICEBUS) s += touch(u.s.body, u.s.len);
            if (v == BD_V_TABLE)
                for (size_t i = 0; i < u.r.n; i++) s += touch(u.r.rows[i].row_key,
                                                              strlen(u.r.rows[i].row_key));
            if (v == BD_V_COSMOS)
                for (size_t i = 0; i < u.d.n; i++) s += (size_t)cJSON_IsObject(u.d.items[i]);
            (void)s;
        }
        bd_mem_free(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root) {
        /* the raw bytes as a date, base64 and a traceparent */
        char *s = malloc(size + 1);
        if (!s) return 0;
        memcpy(s, data, size);
        s[size] = 0;
        struct timespec t;
        (void)bd_parse_date(s, &t);
        unsigned char *out = malloc(size / 4 * 3 + 1);
        if (out) (void)bd_base64_decode(s, strlen(s) - strlen(s) % 4, out);
        free(out);
        char id[33];
        (void)bd_traceparent_id(s, id);
        (void)bd_base64_ambiguous(s);
        free(s);
        return 0;
    }
    const cJSON *d = cJSON_GetObjectItem(root, "Data");
    const cJSON *val = cJSON_IsObject(d) ? cJSON_GetObjectItem(d, "x") : root;
    const cJSON *meta = cJSON_GetObjectItem(root, "Metadata");
    views(val, meta, 1, 0);
    views(val, meta, 0, 1);
    char err[256];
    (void)bd_check_rules(val, err, sizeof err);
    cJSON_Delete(root);
    return 0;
}
