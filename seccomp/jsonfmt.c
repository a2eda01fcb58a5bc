/* jsonfmt — see jsonfmt.h.  A growable buffer and a recursive printer; cJSON bounds
 * nesting at parse time (CJSON_NESTING_LIMIT), so the recursion is bounded too. */
#include "jsonfmt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void indent(struct buf *b, int depth)
{
    for (int i = 0; i < depth; i++) put(b, "\t", 1);
}

static void put_string(struct buf *b, const char *s)
{
    put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                puts_(b, esc);
            } else {
                put(b, (const char *)c, 1);
            }
        }
    }
    put(b, "\"", 1);
}

static void put_number(struct buf *b, double d)
{
    char num[40];
    if (!isfinite(d)) snprintf(num, sizeof num, "null");
    else if (d == floor(d) && fabs(d) < 9007199254740992.0) snprintf(num, sizeof num, "%.0f", d);
    else snprintf(num, sizeof num, "%.17g", d);
    puts_(b, num);
}

static void print_value(struct buf *b, const cJSON *v, int depth)
{
    if (cJSON_IsNull(v)) puts_(b, "null");
    else if (cJSON_IsTrue(v)) puts_(b, "true");
    else if (cJSON_IsFalse(v)) puts_(b, "false");
    else if (cJSON_IsNumber(v)) put_number(b, v->valuedouble);
    else if (cJSON_IsString(v)) put_string(b, v->valuestring);
    else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v);
        if (!v->child) { puts_(b, obj ? "{}" : "[]"); return; }
        puts_(b, obj ? "{\n" : "[\n");
        for (const cJSON *c = v->child; c; c = c->next) {
            indent(b, depth + 1);
            if (obj) {
                put_string(b, c->string ? c->string : "");
                puts_(b, ": ");
            }
            print_value(b, c, depth + 1);
            puts_(b, c->next ? ",\n" : "\n");
        }
        indent(b, depth);
        puts_(b, obj ? "}" : "]");
    } else {
        puts_(b, "null");
    }
}

char *sc_json_print(const cJSON *v)
{
    struct buf b = { 0 };
    print_value(&b, v, 0);
    put(&b, "\n", 1);
    if (b.oom) { free(b.p); return NULL; }
    return b.p;
}
