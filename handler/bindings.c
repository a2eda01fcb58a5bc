/* bindings — see bindings.h.  Sections: the kinds table, memory, dates/base64/traceparent,
 * one parser per view, declarations (fn_app_bind), function.json/host.json, the typed
 * accessors of fnhandler.h, the typed outputs. */
#define _GNU_SOURCE
#include "bindings.h"
#include "app.h"
#include "errbuf.h"
#include "fterr.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- the kinds ----------------------------------------------------------------------------- */

enum { D_TRIGGER = 1, D_IN = 2, D_OUT = 4 };

/* Output shapes: what fn_output_* may set on a binding of that kind. */
enum bd_out {
    O_NONE, O_HTTP, O_MANY, O_BLOB, O_TABLE, O_SIGNALR, O_SENDGRID, O_TWILIO, O_ANY
};

struct bd_kind {
    const char *type;            /* function.json "type" */
    unsigned dirs;               /* D_* */
    const char *required[3];     /* properties it needs; "a|b": one of them */
    enum bd_view view;           /* in / trigger */
    enum bd_out out;             /* out */
};

static const struct bd_kind kinds[] = {
    { "httpTrigger", D_TRIGGER, { 0 }, BD_V_HTTP, O_NONE },
    { "http", D_OUT, { 0 }, BD_V_NONE, O_HTTP },
    { "timerTrigger", D_TRIGGER, { "schedule" }, BD_V_TIMER, O_NONE },
    { "queueTrigger", D_TRIGGER, { "queueName" }, BD_V_QUEUE, O_NONE },
    { "queue", D_OUT, { "queueName" }, BD_V_NONE, O_MANY },
    { "blobTrigger", D_TRIGGER, { "path" }, BD_V_BLOB, O_NONE },
    { "blob", D_IN | D_OUT, { "path" }, BD_V_BLOB, O_BLOB },
    { "eventHubTrigger", D_TRIGGER, { "eventHubName" }, BD_V_EVENTHUB, O_NONE },
    { "eventHub", D_OUT, { "eventHubName" }, BD_V_NONE, O_MANY },
    { "serviceBusTrigger", D_TRIGGER, { "queueName|topicName" }, BD_V_SERVICEBUS, O_NONE },
    { "serviceBus", D_OUT, { "queueName|topicName" }, BD_V_NONE, O_MANY },
    { "eventGridTrigger", D_TRIGGER, { 0 }, BD_V_EVENTGRID, O_NONE },
    { "eventGrid", D_OUT, { "topicEndpointUri" }, BD_V_NONE, O_MANY },
    { "cosmosDBTrigger", D_TRIGGER, { "databaseName", "containerName|collectionName" },
      BD_V_COSMOS, O_NONE },
    { "cosmosDB", D_IN | D_OUT, { "databaseName", "containerName|collectionName" },
      BD_V_COSMOS, O_MANY },
    { "table", D_IN | D_OUT, { "tableName" }, BD_V_TABLE, O_TABLE },
    { "signalR", D_OUT, { "hubName" }, BD_V_NONE, O_SIGNALR },
    { "signalRConnectionInfo", D_IN, { "hubName" }, BD_V_GENERIC, O_NONE },
    { "sendGrid", D_OUT, { 0 }, BD_V_NONE, O_SENDGRID },
    { "twilioSms", D_OUT, { 0 }, BD_V_NONE, O_TWILIO },
};

/* any other type: a generic binding, as function.json has it */
static const struct bd_kind generic_trigger = { "", D_TRIGGER, { 0 }, BD_V_GENERIC, O_NONE };
static const struct bd_kind generic = { "", D_IN | D_OUT, { 0 }, BD_V_GENERIC, O_ANY };

static int is_trigger_type(const char *type)
{
    size_t n = strlen(type);
    return n > 7 && !strcasecmp(type + n - 7, "Trigger");
}

static const struct bd_kind *kind_of(const char *type)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcasecmp(kinds[i].type, type)) return &kinds[i];
    return is_trigger_type(type) ? &generic_trigger : &generic;
}

/* properties whose "true"/"false" are JSON booleans in function.json */
static const char *const bool_props[] = {
    "runOnStartup", "useMonitor", "isSessionsEnabled", "autoComplete",
    "createLeaseContainerIfNotExists", "createLeaseCollectionIfNotExists", NULL
};

/* --- memory ---------------------------------------------------------------------------------- */

struct bd_block {
    struct bd_block *next;
    cJSON *json;                 /* a parsed value to delete, or NULL */
    max_align_t data[];
};

void bd_mem_free(struct bd_mem *m)
{
    while (m->head) {
        struct bd_block *n = m->head->next;
        cJSON_Delete(m->head->json);
        free(m->head);
        m->head = n;
    }
}

static void *mem_alloc(struct bd_mem *m, size_t size)
{
    struct bd_block *b = calloc(1, sizeof *b + size);
    if (!b) return NULL;
    b->next = m->head;
    m->head = b;
    return b->data;
}

static int mem_keep(struct bd_mem *m, cJSON *j)
{
    struct bd_block *b = calloc(1, sizeof *b);
    if (!b) { cJSON_Delete(j); return -1; }
    b->json = j;
    b->next = m->head;
    m->head = b;
    return 0;
}

/* --- dates, base64, traceparent ------------------------------------------------------------ */

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int bd_parse_date(const char *s, struct timespec *out)
{
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return -FT_ERR_BAD_INPUT;
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 60)
        return -FT_ERR_BAD_INPUT;
    const char *p = s + 19;
    long ns = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        if (!isdigit((unsigned char)*p)) return -FT_ERR_BAD_INPUT;
        for (; isdigit((unsigned char)*p); p++, nd++)
            if (nd < 9) ns = ns * 10 + (*p - '0');
        if (nd > 30) return -FT_ERR_BAD_INPUT;
        for (; nd < 9; nd++) ns *= 10;
    }
    long offset = 0;
    if (*p == 'Z') p++;
    else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -FT_ERR_BAD_INPUT;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    }
    if (*p) return -FT_ERR_BAD_INPUT;
    long long secs = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + se - offset;
    out->tv_sec = (time_t)secs;
    out->tv_nsec = ns;
    return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long bd_base64_decode(const char *s, size_t len, unsigned char *out)
{
    if (len % 4) return -FT_ERR_BAD_INPUT;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == len && k >= 2) { v[k] = 0; pad++; continue; }
            if (pad || (v[k] = b64val((unsigned char)s[i + k])) < 0) return -FT_ERR_BAD_INPUT;
        }
        if (pad == 1 && s[i + 2] == '=') return -FT_ERR_BAD_INPUT;
        unsigned n = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 |
                     (unsigned)v[3];
        out[o++] = (unsigned char)(n >> 16);
        if (pad < 2) out[o++] = (unsigned char)(n >> 8);
        if (pad < 1) out[o++] = (unsigned char)n;
    }
    out[o] = 0;
    return (long)o;
}

int bd_base64_ambiguous(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n % 4) return 0;
    unsigned char *tmp = malloc(n / 4 * 3 + 1);
    if (!tmp) return 1;          /* encode to be safe */
    long r = bd_base64_decode(s, n, tmp);
    free(tmp);
    return r >= 0;
}

char *bd_base64_encode(const void *data, size_t len)
{
    const unsigned char *d = data;
    char *o = malloc((len + 2) / 3 * 4 + 1), *p = o;
    if (!o) return NULL;
    for (size_t i = 0; i < len; i += 3) {
        unsigned n = (unsigned)d[i] << 16 | (i + 1 < len ? (unsigned)d[i + 1] << 8 : 0) |
                     (i + 2 < len ? d[i + 2] : 0);
        *p++ = b64[n >> 18 & 63];
        *p++ = b64[n >> 12 & 63];
        *p++ = i + 1 < len ? b64[n >> 6 & 63] : '=';
        *p++ = i + 2 < len ? b64[n & 63] : '=';
    }
    *p = 0;
    return o;
}

static int hexrun(const char *s, int n)
{
    int nonzero = 0;
    for (int i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i])) return -1;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

int bd_traceparent_id(const char *tp, char *id)
{
    if (!tp) return -FT_ERR_BAD_INPUT;
    while (*tp == ' ' || *tp == '\t') tp++;
    size_t n = strlen(tp);
    while (n && (tp[n - 1] == ' ' || tp[n - 1] == '\t')) n--;
    /* version 00 is exactly 55 characters; later versions may add fields after a '-' */
    if (n < 55 || hexrun(tp, 2) < 0 || !strncasecmp(tp, "ff", 2) || tp[2] != '-' ||
        hexrun(tp + 3, 32) <= 0 || tp[35] != '-' || hexrun(tp + 36, 16) <= 0 ||
        tp[52] != '-' || hexrun(tp + 53, 2) < 0 || (n > 55 && (tp[0] == '0' && tp[1] == '0')) ||
        (n > 55 && tp[55] != '-'))
        return -FT_ERR_BAD_INPUT;
    for (int i = 0; i < 32; i++) id[i] = (char)tolower((unsigned char)tp[3 + i]);
    id[32] = 0;
    return 0;
}

/* --- field access with the field named ------------------------------------------------------ */

struct pctx {
    const char *field;           /* "Data.order" */
    char *err;
    size_t errlen;
    struct bd_mem *m;
};

static int bad(struct pctx *c, const char *where, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(struct pctx *c, const char *where, const char *key, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key) err_set(c->err, c->errlen, "%s.%s: %s", where, key, msg);
    else err_set(c->err, c->errlen, "%s: %s", where, msg);
    return -FT_ERR_BAD_INPUT;
}

static const cJSON *item(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItem(o, key) : NULL;  /* case-insensitive */
}

static int absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

/* The first of keys present (for renamed host fields: "Subject|Label"). */
static const cJSON *item_any(const cJSON *o, const char *keys, const char **used)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%s", keys);
    char *save = NULL;
    for (char *k = strtok_r(buf, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
        const cJSON *v = item(o, k);
        if (!absent(v)) {
            if (used) *used = strstr(keys, k);
            return v;
        }
    }
    return NULL;
}

static int get_str(struct pctx *c, const cJSON *o, const char *where, const char *key,
                   int required, const char **out)
{
    const cJSON *v = item(o, key);
    *out = NULL;
    if (absent(v)) return required ? bad(c, where, key, "missing") : 0;
    if (!cJSON_IsString(v)) return bad(c, where, key, "not a string");
    *out = v->valuestring;
    return 0;
}

/* A JSON number as an integer in [lo, hi]: 0, -1 (not an integer), -2 (out of range).
 * The range is checked on the double first: converting one past long long is undefined. */
static int num_to_ll(double d, long long lo, long long hi, long long *out)
{
    if (!isfinite(d)) return -1;
    if (d < (double)lo || d >= 9223372036854775808.0 || d > (double)hi) return -2;
    if (d != floor(d)) return -1;
    long long v = (long long)d;
    if (v < lo || v > hi) return -2;
    *out = v;
    return 0;
}

static int get_int(struct pctx *c, const cJSON *o, const char *where, const char *key,
                   int required, long long lo, long long hi, long long *out)
{
    const cJSON *v = item(o, key);
    *out = 0;
    if (absent(v)) return required ? bad(c, where, key, "missing") : 0;
    double d;
    if (cJSON_IsNumber(v)) d = v->valuedouble;
    else if (cJSON_IsString(v) && *v->valuestring) {   /* 64-bit numbers may come as text */
        char *end;
        errno = 0;
        long long ll = strtoll(v->valuestring, &end, 10);
        if (*end || errno) return bad(c, where, key, "not an integer");
        if (ll < lo || ll > hi) return bad(c, where, key, "out of range");
        *out = ll;
        return 0;
    } else return bad(c, where, key, "not a number");
    int r = num_to_ll(d, lo, hi, out);
    if (r == -1) return bad(c, where, key, "not an integer");
    if (r == -2) return bad(c, where, key, "out of range");
    return 0;
}

static int get_bool(struct pctx *c, const cJSON *o, const char *where, const char *key,
                    int required, int *out)
{
    const cJSON *v = item(o, key);
    *out = 0;
    if (absent(v)) return required ? bad(c, where, key, "missing") : 0;
    if (!cJSON_IsBool(v)) return bad(c, where, key, "not true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_date(struct pctx *c, const cJSON *o, const char *where, const char *key,
                    int required, struct timespec *out)
{
    const cJSON *v = item(o, key);
    *out = (struct timespec){ 0, 0 };
    if (absent(v)) return required ? bad(c, where, key, "missing") : 0;
    if (!cJSON_IsString(v)) return bad(c, where, key, "not a date string");
    if (bd_parse_date(v->valuestring, out) < 0)
        return bad(c, where, key,
                   "not an ISO 8601 date (YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM]): \"%.40s\"",
                   v->valuestring);
    return 0;
}

static int get_obj(struct pctx *c, const cJSON *o, const char *where, const char *key,
                   const cJSON **out)
{
    const cJSON *v = item(o, key);
    *out = NULL;
    if (absent(v)) return 0;
    if (!cJSON_IsObject(v)) return bad(c, where, key, "not an object");
    *out = v;
    return 0;
}

/* An object value that may come as a JSON string of one. */
static int as_object(struct pctx *c, const cJSON *val, const cJSON **out)
{
    if (cJSON_IsString(val)) {
        cJSON *p = cJSON_Parse(val->valuestring);
        if (!p || mem_keep(c->m, p)) {
            if (!p) return bad(c, c->field, NULL, "not a JSON object");
            return -ENOMEM;
        }
        val = p;
    }
    if (!cJSON_IsObject(val)) return bad(c, c->field, NULL, "not a JSON object");
    *out = val;
    return 0;
}

/* A message body: a string as text, other JSON printed back (and kept as json). */
static int body_of(struct pctx *c, const cJSON *v, const char *where, const char **text,
                   size_t *len, const cJSON **json)
{
    *json = NULL;
    if (cJSON_IsString(v)) {
        *text = v->valuestring;
        *len = strlen(v->valuestring);
        cJSON *p = NULL;
        const char *s = v->valuestring;
        while (isspace((unsigned char)*s)) s++;
        if ((*s == '{' || *s == '[') && (p = cJSON_Parse(v->valuestring))) {
            if (mem_keep(c->m, p)) return -ENOMEM;
            *json = p;
        }
        return 0;
    }
    if (absent(v)) return bad(c, where, NULL, "missing");
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return -ENOMEM;
    size_t n = strlen(s);
    char *t = mem_alloc(c->m, n + 1);
    if (!t) { free(s); return -ENOMEM; }
    memcpy(t, s, n + 1);
    free(s);
    *text = t;
    *len = n;
    *json = cJSON_IsObject(v) || cJSON_IsArray(v) ? v : NULL;
    return 0;
}

/* --- one parser per view -------------------------------------------------------------------- */

static int p_timer(struct pctx *c, const cJSON *val, const cJSON *meta, const struct bd_opts *o,
                   void *outp)
{
    fn_timer_info *t = outp;
    memset(t, 0, sizeof *t);
    const cJSON *v;
    int rc = as_object(c, val, &v);
    if (rc) return rc;
    const cJSON *sched, *st;
    char where[160];
    if ((rc = get_obj(c, v, c->field, "Schedule", &sched))) return rc;
    snprintf(where, sizeof where, "%s.Schedule", c->field);
    if (sched && (rc = get_bool(c, sched, where, "AdjustForDST", 0, &t->adjust_for_dst))) return rc;
    if ((rc = get_obj(c, v, c->field, "ScheduleStatus", &st))) return rc;
    snprintf(where, sizeof where, "%s.ScheduleStatus", c->field);
    if (st) {
        t->has_status = 1;
        if ((rc = get_date(c, st, where, "Last", 1, &t->last)) ||
            (rc = get_date(c, st, where, "Next", 1, &t->next)) ||
            (rc = get_date(c, st, where, "LastUpdated", 1, &t->last_updated)))
            return rc;
    }
    return get_bool(c, v, c->field, "IsPastDue", 1, &t->is_past_due);
}

static int p_queue(struct pctx *c, const cJSON *val, const cJSON *meta, const struct bd_opts *o,
                   void *outp)
{
    fn_queue_message *q = outp;
    memset(q, 0, sizeof *q);
    int rc = body_of(c, val, c->field, &q->text, &q->len, &q->json);
    if (rc || !o->trigger) return rc;
    long long dc;
    if ((rc = get_str(c, meta, "Metadata", "Id", 1, &q->id)) ||
        (rc = get_int(c, meta, "Metadata", "DequeueCount", 1, 0, LONG_MAX, &dc)) ||
        (rc = get_str(c, meta, "Metadata", "PopReceipt", 1, &q->pop_receipt)) ||
        (rc = get_date(c, meta, "Metadata", "InsertionTime", 1, &q->insertion_time)) ||
        (rc = get_date(c, meta, "Metadata", "ExpirationTime", 1, &q->expiration_time)) ||
        (rc = get_date(c, meta, "Metadata", "NextVisibleTime", 1, &q->next_visible_time)))
        return rc;
    q->dequeue_count = (long)dc;
    q->has_times = 1;
    return 0;
}

static int p_blob(struct pctx *c, const cJSON *val, const cJSON *meta, const struct bd_opts *o,
                  void *outp)
{
    fn_blob *b = outp;
    memset(b, 0, sizeof *b);
    int rc;
    if (absent(val)) return bad(c, c->field, NULL, "missing");
    if (cJSON_IsString(val) && !o->text) {
        size_t n = strlen(val->valuestring);
        unsigned char *d = mem_alloc(c->m, n / 4 * 3 + 1);
        if (!d) return -ENOMEM;
        long got = bd_base64_decode(val->valuestring, n, d);
        if (got < 0)
            return bad(c, c->field, NULL, "not valid base64 (blob content is base64 unless the "
                       "binding says dataType \"string\")");
        b->data = d;
        b->len = (size_t)got;
    } else {
        const cJSON *j;
        const char *t;
        if ((rc = body_of(c, val, c->field, &t, &b->len, &j))) return rc;
        b->data = (const unsigned char *)t;
    }
    if (!o->trigger) return 0;
    if ((rc = get_str(c, meta, "Metadata", "name", 0, &b->name)) ||
        (rc = get_str(c, meta, "Metadata", "Uri", 0, &b->uri)) ||
        (rc = get_obj(c, meta, "Metadata", "Properties", &b->properties)))
        return rc;
    if (b->properties &&
        (rc = get_str(c, b->properties, "Metadata.Properties", "ContentType", 0, &b->content_type)))
        return rc;
    return 0;
}

/* Metadata.KEY (single) or Metadata.KEYArray[i] (batch) */
struct ehmeta {
    const cJSON *meta;
    int many;
    size_t i;
};

static const cJSON *eh_item(struct pctx *c, const struct ehmeta *e, const char *key,
                            char *where, size_t wlen, int *rc)
{
    *rc = 0;
    if (!e->many) {
        snprintf(where, wlen, "Metadata");
        return e->meta;
    }
    char k[64];
    snprintf(k, sizeof k, "%sArray", key);
    const cJSON *a = item(e->meta, k);
    snprintf(where, wlen, "Metadata.%s[%zu]", k, e->i);
    if (absent(a)) return NULL;
    if (!cJSON_IsArray(a)) { *rc = bad(c, "Metadata", k, "not an array"); return NULL; }
    return cJSON_GetArrayItem(a, (int)e->i);
}

static int p_eventhub(struct pctx *c, const cJSON *val, const cJSON *meta,
                      const struct bd_opts *o, void *outp)
{
    fn_eventhub_batch *b = outp;
    memset(b, 0, sizeof *b);
    if (absent(val)) return bad(c, c->field, NULL, "missing");
    int many = cJSON_IsArray(val);
    size_t n = many ? (size_t)cJSON_GetArraySize(val) : 1;
    if (n > FN_MAX_BATCH)
        return bad(c, c->field, NULL, "a batch of %zu events (at most %d)", n, FN_MAX_BATCH);
    fn_eventhub_event *ev = mem_alloc(c->m, (n ? n : 1) * sizeof *ev);
    if (!ev) return -ENOMEM;
    int rc;
    if (o->trigger && many) {   /* the arrays must match the batch */
        static const char *const arrays[] = { "EnqueuedTimeUtcArray", "SequenceNumberArray",
                                              "OffsetArray", "PartitionKeyArray",
                                              "PropertiesArray", NULL };
        for (int k = 0; arrays[k]; k++) {
            const cJSON *a = item(meta, arrays[k]);
            if (absent(a)) continue;
            if (!cJSON_IsArray(a)) return bad(c, "Metadata", arrays[k], "not an array");
            if ((size_t)cJSON_GetArraySize(a) != n)
                return bad(c, "Metadata", arrays[k], "%d entries for a batch of %zu events",
                           cJSON_GetArraySize(a), n);
        }
    }
    const cJSON *el = many ? val->child : val;
    for (size_t i = 0; i < n; i++, el = el ? el->next : NULL) {
        char where[96];
        snprintf(where, sizeof where, many ? "%s[%zu]" : "%s", c->field, i);
        if ((rc = body_of(c, el, where, &ev[i].body, &ev[i].len, &ev[i].json))) return rc;
        if (!o->trigger) continue;
        struct ehmeta e = { meta, many, i };
        const cJSON *m;
        char w[96];
        long long seq;
        m = eh_item(c, &e, "EnqueuedTimeUtc", w, sizeof w, &rc);
        if (rc) return rc;
        if (many) {
            if (absent(m)) return bad(c, w, NULL, "missing");
            if (!cJSON_IsString(m) || bd_parse_date(m->valuestring, &ev[i].enqueued_time) < 0)
                return bad(c, w, NULL, "not an ISO 8601 date");
            m = eh_item(c, &e, "SequenceNumber", w, sizeof w, &rc);
            if (rc) return rc;
            if (absent(m)) return bad(c, w, NULL, "missing");
            if (!cJSON_IsNumber(m) ||
                num_to_ll(m->valuedouble, 0, LLONG_MAX, &ev[i].sequence_number) < 0)
                return bad(c, w, NULL, "not an integer (0 or more)");
            m = eh_item(c, &e, "Offset", w, sizeof w, &rc);
            if (rc) return rc;
            if (!absent(m) && !cJSON_IsString(m)) return bad(c, w, NULL, "not a string");
            ev[i].offset = absent(m) ? NULL : m->valuestring;
            m = eh_item(c, &e, "PartitionKey", w, sizeof w, &rc);
            if (rc) return rc;
            if (!absent(m) && !cJSON_IsString(m)) return bad(c, w, NULL, "not a string");
            ev[i].partition_key = absent(m) ? NULL : m->valuestring;
            m = eh_item(c, &e, "Properties", w, sizeof w, &rc);
            if (rc) return rc;
            if (!absent(m) && !cJSON_IsObject(m)) return bad(c, w, NULL, "not an object");
            ev[i].properties = absent(m) ? NULL : m;
        } else {
            if ((rc = get_date(c, meta, "Metadata", "EnqueuedTimeUtc", 1, &ev[i].enqueued_time)) ||
                (rc = get_int(c, meta, "Metadata", "SequenceNumber", 1, 0, LLONG_MAX, &seq)) ||
                (rc = get_str(c, meta, "Metadata", "Offset", 0, &ev[i].offset)) ||
                (rc = get_str(c, meta, "Metadata", "PartitionKey", 0, &ev[i].partition_key)) ||
                (rc = get_obj(c, meta, "Metadata", "Properties", &ev[i].properties)))
                return rc;
            ev[i].sequence_number = seq;
        }
    }
    b->n = n;
    b->events = ev;
    const cJSON *pc;
    if (o->trigger && (rc = get_obj(c, meta, "Metadata", "PartitionContext", &pc))) return rc;
    if (o->trigger && pc &&
        (rc = get_str(c, pc, "Metadata.PartitionContext", "PartitionId", 0, &b->partition_id)))
        return rc;
    return 0;
}

static int p_servicebus(struct pctx *c, const cJSON *val, const cJSON *meta,
                        const struct bd_opts *o, void *outp)
{
    fn_servicebus_message *s = outp;
    memset(s, 0, sizeof *s);
    int rc = body_of(c, val, c->field, &s->body, &s->len, &s->json);
    if (rc || !o->trigger) return rc;
    long long dc, seq;
    if ((rc = get_str(c, meta, "Metadata", "MessageId", 1, &s->message_id)) ||
        (rc = get_int(c, meta, "Metadata", "DeliveryCount", 1, 0, LONG_MAX, &dc)) ||
        (rc = get_int(c, meta, "Metadata", "SequenceNumber", 0, 0, LLONG_MAX, &seq)) ||
        (rc = get_date(c, meta, "Metadata", "EnqueuedTimeUtc", 0, &s->enqueued_time)) ||
        (rc = get_date(c, meta, "Metadata", "ExpiresAtUtc", 0, &s->expires_at)) ||
        (rc = get_str(c, meta, "Metadata", "ContentType", 0, &s->content_type)) ||
        (rc = get_str(c, meta, "Metadata", "CorrelationId", 0, &s->correlation_id)) ||
        (rc = get_str(c, meta, "Metadata", "SessionId", 0, &s->session_id)) ||
        (rc = get_str(c, meta, "Metadata", "ReplyTo", 0, &s->reply_to)) ||
        (rc = get_str(c, meta, "Metadata", "LockToken", 0, &s->lock_token)))
        return rc;
    s->delivery_count = (long)dc;
    s->sequence_number = seq;
    const char *used = NULL;
    const cJSON *v = item_any(meta, "Subject|Label", &used);
    if (v && !cJSON_IsString(v)) return bad(c, "Metadata", "Subject", "not a string");
    s->subject = v ? v->valuestring : NULL;
    v = item_any(meta, "UserProperties|ApplicationProperties", &used);
    if (v && !cJSON_IsObject(v)) return bad(c, "Metadata", "UserProperties", "not an object");
    s->user_properties = v;
    return 0;
}

static int p_eventgrid(struct pctx *c, const cJSON *val, const cJSON *meta,
                       const struct bd_opts *o, void *outp)
{
    fn_eventgrid_event *e = outp;
    memset(e, 0, sizeof *e);
    const cJSON *v;
    int rc = as_object(c, val, &v);
    if (rc) return rc;
    const char *f = c->field;
    if ((rc = get_str(c, v, f, "id", 1, &e->id)) ||
        (rc = get_str(c, v, f, "eventType", 1, &e->event_type)) ||
        (rc = get_str(c, v, f, "subject", 1, &e->subject)) ||
        (rc = get_date(c, v, f, "eventTime", 1, &e->event_time)) ||
        (rc = get_str(c, v, f, "dataVersion", 1, &e->data_version)) ||
        (rc = get_str(c, v, f, "topic", 0, &e->topic)) ||
        (rc = get_str(c, v, f, "metadataVersion", 0, &e->metadata_version)))
        return rc;
    e->data = item(v, "data");
    return 0;
}

/* An array (or one object) of JSON objects, each checked by each() */
static int object_list(struct pctx *c, const cJSON *val, const char *what, size_t *n,
                       const cJSON ***items)
{
    if (cJSON_IsString(val)) {
        cJSON *p = cJSON_Parse(val->valuestring);
        if (!p) return bad(c, c->field, NULL, "not JSON");
        if (mem_keep(c->m, p)) return -ENOMEM;
        val = p;
    }
    if (absent(val)) return bad(c, c->field, NULL, "missing");
    int many = cJSON_IsArray(val);
    if (!many && !cJSON_IsObject(val)) return bad(c, c->field, NULL, "not an object or an array");
    size_t k = many ? (size_t)cJSON_GetArraySize(val) : 1;
    if (k > FN_MAX_BATCH)
        return bad(c, c->field, NULL, "a batch of %zu %s (at most %d)", k, what, FN_MAX_BATCH);
    const cJSON **v = mem_alloc(c->m, (k ? k : 1) * sizeof *v);
    if (!v) return -ENOMEM;
    const cJSON *el = many ? val->child : val;
    for (size_t i = 0; i < k; i++, el = el->next) {
        if (!cJSON_IsObject(el)) {
            char where[96];
            snprintf(where, sizeof where, "%s[%zu]", c->field, i);
            return bad(c, where, NULL, "not an object");
        }
        v[i] = el;
    }
    *n = k;
    *items = v;
    return 0;
}

static int p_cosmos(struct pctx *c, const cJSON *val, const cJSON *meta, const struct bd_opts *o,
                    void *outp)
{
    fn_documents *d = outp;
    memset(d, 0, sizeof *d);
    const cJSON **items;
    size_t n;
    int rc = object_list(c, val, "documents", &n, &items);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        char where[96];
        const char *id;
        snprintf(where, sizeof where, "%s[%zu]", c->field, i);
        if ((rc = get_str(c, items[i], where, "id", 1, &id))) return rc;
    }
    d->n = n;
    d->items = items;
    return 0;
}

static int p_table(struct pctx *c, const cJSON *val, const cJSON *meta, const struct bd_opts *o,
                   void *outp)
{
    fn_table_rows *t = outp;
    memset(t, 0, sizeof *t);
    const cJSON **items;
    size_t n;
    int rc = object_list(c, val, "entities", &n, &items);
    if (rc) return rc;
    fn_table_entity *rows = mem_alloc(c->m, (n ? n : 1) * sizeof *rows);
    if (!rows) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char where[96];
        snprintf(where, sizeof where, "%s[%zu]", c->field, i);
        rows[i].entity = items[i];
        if ((rc = get_str(c, items[i], where, "PartitionKey", 1, &rows[i].partition_key)) ||
            (rc = get_str(c, items[i], where, "RowKey", 1, &rows[i].row_key)) ||
            (rc = get_date(c, items[i], where, "Timestamp", 0, &rows[i].timestamp)))
            return rc;
    }
    t->n = n;
    t->rows = rows;
    return 0;
}

typedef int (*parse_fn)(struct pctx *c, const cJSON *val, const cJSON *meta,
                        const struct bd_opts *o, void *out);

static const parse_fn parsers[BD_V__COUNT] = {
    [BD_V_TIMER] = p_timer, [BD_V_QUEUE] = p_queue, [BD_V_BLOB] = p_blob,
    [BD_V_EVENTHUB] = p_eventhub, [BD_V_SERVICEBUS] = p_servicebus,
    [BD_V_EVENTGRID] = p_eventgrid, [BD_V_COSMOS] = p_cosmos, [BD_V_TABLE] = p_table,
};

int bd_parse(enum bd_view view, const cJSON *val, const cJSON *meta, const char *field,
             const struct bd_opts *o, struct bd_mem *m, void *out, char *err, size_t errlen)
{
    if ((unsigned)view >= BD_V__COUNT || !parsers[view]) return 0;
    struct bd_opts none = { 0 };
    struct pctx c = { field ? field : "Data", err, errlen, m };
    int rc = parsers[view](&c, val, meta, o ? o : &none, out);
    if (rc == -ENOMEM) err_set(err, errlen, "out of memory");
    return rc;
}

/* --- declarations ------------------------------------------------------------------------- */

struct bd_decl {
    char name[APP_NAME_MAX + 1];
    char type[APP_NAME_MAX + 1];
    int out;
    const struct bd_kind *kind;
    cJSON *props;                /* extra properties, in declaration order */
};

struct bd_set {
    size_t n;
    int trigger;                 /* index, -1: none */
    struct bd_decl v[FN_MAX_BINDINGS];
};

void bd_set_free(struct bd_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) cJSON_Delete(s->v[i].props);
    free(s);
}

const char *bd_trigger_name(const struct bd_set *s, enum bd_view *view)
{
    if (!s || s->trigger < 0) return NULL;
    if (view) *view = s->v[s->trigger].kind->view;
    return s->v[s->trigger].name;
}

const char *bd_http_out(const struct bd_set *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->v[i].out && s->v[i].kind->out == O_HTTP) return s->v[i].name;
    return NULL;
}

static const struct bd_decl *decl_find(const struct bd_set *s, const char *name)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (!strcasecmp(s->v[i].name, name)) return &s->v[i];
    return NULL;
}

static int prop_value(cJSON *props, const char *key, const char *value)
{
    cJSON *v;
    if (!strcmp(key, "methods")) {
        v = cJSON_CreateArray();
        char buf[256];
        snprintf(buf, sizeof buf, "%s", value);
        char *save = NULL;
        for (char *t = strtok_r(buf, ", ", &save); v && t; t = strtok_r(NULL, ", ", &save))
            cJSON_AddItemToArray(v, cJSON_CreateString(t));
    } else {
        int is_bool = 0;
        for (int i = 0; bool_props[i]; i++) is_bool |= !strcasecmp(bool_props[i], key);
        if (is_bool && (!strcmp(value, "true") || !strcmp(value, "false")))
            v = cJSON_CreateBool(!strcmp(value, "true"));
        else v = cJSON_CreateString(value);
    }
    return v && cJSON_AddItemToObject(props, key, v) ? 0 : -1;
}

static int has_required(const cJSON *props, const char *req)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%s", req);
    char *save = NULL;
    for (char *k = strtok_r(buf, "|", &save); k; k = strtok_r(NULL, "|", &save))
        if (cJSON_GetObjectItemCaseSensitive(props, k)) return 1;
    return 0;
}

static int bind_fail(const char *fn, const char *name, const char *why)
{
    log_error("fn_app_bind: binding refused", "function=%s binding=%s reason=\"%s\"",
              fn ? fn : "-", name ? name : "-", why);
    return -1;
}

int fn_app_bind(fn_app *app, const char *function, const char *type, const char *direction,
                const char *name, ...)
{
    struct fn_func *f = app ? (struct fn_func *)app_find(app, function) : NULL;
    if (!f) return bind_fail(function, name, "no such function (register it first)");
    if (!type || !*type || strlen(type) > APP_NAME_MAX || !name || !*name ||
        strlen(name) > APP_NAME_MAX || !direction)
        return bind_fail(function, name,
                         "type, direction and name are required (at most 64 bytes)");
    int out = !strcmp(direction, "out");
    if (!out && strcmp(direction, "in"))
        return bind_fail(function, name, "direction is 'in' or 'out'");
    const struct bd_kind *k = kind_of(type);
    unsigned want = out ? D_OUT : (k->dirs & D_TRIGGER ? D_TRIGGER : D_IN);
    if (!(k->dirs & want))
        return bind_fail(function, name,
                         out ? "this type is not an output" : "this type is not an input");
    if (!f->binds) {
        if (!(f->binds = calloc(1, sizeof *f->binds)))
            return bind_fail(function, name, "out of memory");
        f->binds->trigger = -1;
    }
    struct bd_set *s = f->binds;
    if (s->n == FN_MAX_BINDINGS) return bind_fail(function, name, "too many bindings");
    if (decl_find(s, name)) return bind_fail(function, name, "a binding of this name exists");
    if (want == D_TRIGGER && s->trigger >= 0) return bind_fail(function, name, "a second trigger");
    if (k->out == O_HTTP && (s->trigger < 0 || s->v[s->trigger].kind->view != BD_V_HTTP))
        return bind_fail(function, name, "an http output needs an httpTrigger (declare it first)");
    if (f->http && want == D_TRIGGER && k->view != BD_V_HTTP)
        return bind_fail(function, name, "an HTTP function (fn_app_http) needs an httpTrigger");
    struct bd_decl d = { .out = out, .kind = k, .props = cJSON_CreateObject() };
    snprintf(d.name, sizeof d.name, "%s", name);
    snprintf(d.type, sizeof d.type, "%s", k->type[0] ? k->type : type);
    if (!d.props) return bind_fail(function, name, "out of memory");
    va_list ap;
    va_start(ap, name);
    const char *key, *err = NULL;
    while ((key = va_arg(ap, const char *))) {
        const char *val = va_arg(ap, const char *);
        if (!val) { err = "a property without a value (properties come in pairs)"; break; }
        if (!*key || !strcmp(key, "type") || !strcmp(key, "direction") || !strcmp(key, "name") ||
            cJSON_GetObjectItemCaseSensitive(d.props, key)) {
            err = "a property named type, direction, name, empty or twice";
            break;
        }
        if (prop_value(d.props, key, val)) { err = "out of memory"; break; }
    }
    va_end(ap);
    for (int i = 0; !err && i < 3 && k->required[i]; i++)
        if (!has_required(d.props, k->required[i])) err = k->required[i];
    if (err) {
        cJSON_Delete(d.props);
        char why[160];
        snprintf(why, sizeof why, strchr(err, ' ') ? "%s" : "missing property %s", err);
        return bind_fail(function, name, why);
    }
    if (want == D_TRIGGER) s->trigger = (int)s->n;
    s->v[s->n++] = d;
    return 0;
}

/* --- function.json and host.json ------------------------------------------------------------- */

static cJSON *binding_json(const char *type, const char *dir, const char *name, const cJSON *props)
{
    cJSON *b = cJSON_CreateObject();
    if (!b) return NULL;
    cJSON_AddStringToObject(b, "type", type);
    cJSON_AddStringToObject(b, "direction", dir);
    cJSON_AddStringToObject(b, "name", name);
    for (const cJSON *p = props ? props->child : NULL; p; p = p->next)
        cJSON_AddItemToObject(b, p->string, cJSON_Duplicate(p, 1));
    return b;
}

cJSON *bd_function_json(const struct fn_func *f, char *err, size_t errlen)
{
    const struct bd_set *s = f->binds;
    if ((!s || !s->n) && !f->http) {
        err_set(err, errlen, "function %s has no bindings declared (fn_app_bind): its trigger "
                "is unknown", f->name);
        return NULL;
    }
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "bindings");
    if (!arr) { cJSON_Delete(root); err_set(err, errlen, "out of memory"); return NULL; }
    if (!s || !s->n) {
        cJSON *props = cJSON_CreateObject();
        cJSON_AddStringToObject(props, "authLevel", "anonymous");
        cJSON *m = cJSON_AddArrayToObject(props, "methods");
        cJSON_AddItemToArray(m, cJSON_CreateString("get"));
        cJSON_AddItemToArray(m, cJSON_CreateString("post"));
        cJSON_AddItemToArray(arr, binding_json("httpTrigger", "in", "req", props));
        cJSON_AddItemToArray(arr, binding_json("http", "out", "res", NULL));
        cJSON_Delete(props);
        return root;
    }
    for (size_t i = 0; i < s->n; i++)
        cJSON_AddItemToArray(arr, binding_json(s->v[i].type, s->v[i].out ? "out" : "in",
                                               s->v[i].name, s->v[i].props));
    return root;
}

cJSON *bd_host_json(const char *exe)
{
    cJSON *h = cJSON_CreateObject();
    if (!h) return NULL;
    cJSON_AddStringToObject(h, "version", "2.0");
    /* what `func init` writes: Application Insights sampling, requests not sampled */
    cJSON *ss = cJSON_AddObjectToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(
        h, "logging"), "applicationInsights"), "samplingSettings");
    cJSON_AddBoolToObject(ss, "isEnabled", 1);
    cJSON_AddStringToObject(ss, "excludedTypes", "Request");
    cJSON *ch = cJSON_AddObjectToObject(h, "customHandler");
    cJSON *d = cJSON_AddObjectToObject(ch, "description");
    cJSON_AddStringToObject(d, "defaultExecutablePath", exe);
    cJSON_AddStringToObject(d, "workingDirectory", "");
    cJSON_AddArrayToObject(d, "arguments");
    cJSON_AddBoolToObject(ch, "enableForwardingHttpRequest", 0);
    cJSON *eb = cJSON_AddObjectToObject(h, "extensionBundle");
    cJSON_AddStringToObject(eb, "id", "Microsoft.Azure.Functions.ExtensionBundle");
    cJSON_AddStringToObject(eb, "version", "[4.*, 5.0.0)");
    return h;
}

int bd_check_rules(const cJSON *fj, char *err, size_t errlen)
{
    const cJSON *arr = cJSON_IsObject(fj) ? cJSON_GetObjectItemCaseSensitive(fj, "bindings") : NULL;
    if (!cJSON_IsArray(arr)) {
        err_set(err, errlen, "no \"bindings\" array");
        return -FT_ERR_BAD_INPUT;
    }
    int triggers = 0, http_trigger = 0, http_out = 0, i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, arr) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type"),
                    *d = cJSON_GetObjectItemCaseSensitive(b, "direction"),
                    *n = cJSON_GetObjectItemCaseSensitive(b, "name");
        if (!cJSON_IsString(t) || !cJSON_IsString(d) || !cJSON_IsString(n) || !*n->valuestring) {
            err_set(err, errlen, "bindings[%d]: type, direction and name must be strings", i);
            return -FT_ERR_BAD_INPUT;
        }
        if (strcmp(d->valuestring, "in") && strcmp(d->valuestring, "out") &&
            strcmp(d->valuestring, "inout")) {
            err_set(err, errlen, "bindings[%d] (%s): direction %s", i, n->valuestring,
                    d->valuestring);
            return -FT_ERR_BAD_INPUT;
        }
        if (is_trigger_type(t->valuestring)) {
            triggers++;
            if (strcmp(d->valuestring, "in")) {
                err_set(err, errlen, "bindings[%d] (%s): a trigger's direction is \"in\"", i,
                        n->valuestring);
                return -FT_ERR_BAD_INPUT;
            }
            http_trigger |= !strcasecmp(t->valuestring, "httpTrigger");
        }
        if (!strcasecmp(t->valuestring, "http") && !strcmp(d->valuestring, "out")) http_out++;
        const cJSON *o;
        int j = 0;
        cJSON_ArrayForEach(o, arr) {
            const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name");
            if (j++ < i && cJSON_IsString(on) && !strcasecmp(on->valuestring, n->valuestring)) {
                err_set(err, errlen, "bindings[%d]: the name %s is used twice", i, n->valuestring);
                return -FT_ERR_BAD_INPUT;
            }
        }
        i++;
    }
    if (triggers != 1) {
        err_set(err, errlen, "%d triggers (a function has exactly one)", triggers);
        return -FT_ERR_BAD_INPUT;
    }
    if (http_out && !http_trigger) {
        err_set(err, errlen, "an http output without an httpTrigger");
        return -FT_ERR_BAD_INPUT;
    }
    if (http_out > 1) {
        err_set(err, errlen, "%d http outputs (at most one)", http_out);
        return -FT_ERR_BAD_INPUT;
    }
    return 0;
}

/* one binding of a function.json against a declaration: NULL when equal, else what differs */
static const char *binding_diff(const cJSON *want, const cJSON *have, char *buf, size_t len)
{
    for (const cJSON *p = want->child; p; p = p->next) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(have, p->string);
        int same = h && (cJSON_IsString(p) && cJSON_IsString(h)
                             ? (!strcmp(p->string, "type") || !strcmp(p->string, "name")
                                    ? !strcasecmp(p->valuestring, h->valuestring)
                                    : !strcmp(p->valuestring, h->valuestring))
                             : cJSON_Compare(p, h, 0));
        if (!same) {
            char *hv = h ? cJSON_PrintUnformatted(h) : NULL, *wv = cJSON_PrintUnformatted(p);
            snprintf(buf, len, "%s is %.80s in function.json, %.80s in the code", p->string,
                     hv ? hv : "missing", wv ? wv : "?");
            free(hv);
            free(wv);
            return buf;
        }
    }
    for (const cJSON *h = have->child; h; h = h->next)
        if (!cJSON_GetObjectItemCaseSensitive(want, h->string)) {
            snprintf(buf, len, "function.json has %.60s, the code does not declare it", h->string);
            return buf;
        }
    return NULL;
}

int bd_compare_function_json(const struct fn_func *f, const cJSON *fj, char *err, size_t errlen)
{
    if (!f->binds || !f->binds->n) return 0;
    cJSON *want = bd_function_json(f, err, errlen);
    if (!want) return -ENOMEM;
    const cJSON *wa = cJSON_GetObjectItemCaseSensitive(want, "bindings");
    const cJSON *ha = cJSON_IsObject(fj) ? cJSON_GetObjectItemCaseSensitive(fj, "bindings") : NULL;
    int rc = 0;
    char why[256];
    if (!cJSON_IsArray(ha)) {
        err_set(err, errlen, "%s/function.json has no \"bindings\" array", f->name);
        rc = -FT_ERR_BAD_INPUT;
    }
    const cJSON *w;
    if (!rc) cJSON_ArrayForEach(w, wa) {
        const char *name = cJSON_GetObjectItemCaseSensitive(w, "name")->valuestring;
        const cJSON *h = NULL, *x;
        cJSON_ArrayForEach(x, ha) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(x, "name");
            if (cJSON_IsString(n) && !strcasecmp(n->valuestring, name)) h = x;
        }
        const char *d = h ? binding_diff(w, h, why, sizeof why) : "missing from function.json";
        if (d) {
            err_set(err, errlen, "%s/function.json and the code differ: binding %s: %s", f->name,
                    name, d);
            rc = -FT_ERR_BAD_INPUT;
            break;
        }
    }
    if (!rc && cJSON_GetArraySize(ha) != cJSON_GetArraySize(wa)) {
        err_set(err, errlen, "%s/function.json and the code differ: %d bindings there, %d declared",
                f->name, cJSON_GetArraySize(ha), cJSON_GetArraySize(wa));
        rc = -FT_ERR_BAD_INPUT;
    }
    cJSON_Delete(want);
    return rc;
}

/* Writes json (pretty, newline-terminated) to path through path.tmp and a rename. */
static int write_json_file(const char *path, const cJSON *json, char *err, size_t errlen)
{
    char *text = cJSON_Print(json);
    if (!text) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fflush(f) || fsync(fileno(f)))
        rc = -errno;
    if (f && fclose(f) && !rc) rc = -errno;
    if (!rc && rename(tmp, path)) rc = -errno;
    if (rc) {
        unlink(tmp);
        err_set(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    }
    free(text);
    return rc;
}

int bd_azure_init(const fn_app *app, const char *dir, const char *exe, FILE *out, char *err,
                  size_t errlen)
{
    /* every function.json first, in memory: nothing is written when one cannot be */
    cJSON **fjs = calloc(app->nfuncs ? app->nfuncs : 1, sizeof *fjs);
    if (!fjs) { err_set(err, errlen, "out of memory"); return -ENOMEM; }
    int rc = 0;
    for (size_t i = 0; i < app->nfuncs && !rc; i++) {
        char why[256];
        if (!(fjs[i] = bd_function_json(&app->funcs[i], err, errlen))) rc = -FT_ERR_BAD_INPUT;
        else if (bd_check_rules(fjs[i], why, sizeof why) < 0) {
            err_set(err, errlen, "function %s: %s", app->funcs[i].name, why);
            rc = -FT_ERR_BAD_INPUT;
        }
    }
    if (!rc && mkdir(dir, 0755) && errno != EEXIST) {
        rc = -errno;
        err_set(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    }
    char path[PATH_MAX];
    if (!rc) {
        cJSON *h = bd_host_json(exe);
        snprintf(path, sizeof path, "%s/host.json", dir);
        rc = h ? write_json_file(path, h, err, errlen) : -ENOMEM;
        cJSON_Delete(h);
        if (!rc && out) fprintf(out, "%s\n", path);
    }
    for (size_t i = 0; i < app->nfuncs && !rc; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, app->funcs[i].name);
        if (mkdir(path, 0755) && errno != EEXIST) {
            rc = -errno;
            err_set(err, errlen, "cannot create %s: %s", path, strerror(errno));
            break;
        }
        snprintf(path, sizeof path, "%s/%s/function.json", dir, app->funcs[i].name);
        rc = write_json_file(path, fjs[i], err, errlen);
        if (!rc && out) fprintf(out, "%s\n", path);
    }
    for (size_t i = 0; i < app->nfuncs; i++) cJSON_Delete(fjs[i]);
    free(fjs);
    return rc;
}

/* --- typed accessors ------------------------------------------------------------------------ */

static int get_view(fn_invocation *inv, const char *name, enum bd_view view, void *out)
{
    const struct bd_set *s = inv->func ? inv->func->binds : NULL;
    struct bd_opts o = { 0 };
    const cJSON *data = inv->data;
    if (!name) {
        enum bd_view tv;
        name = bd_trigger_name(s, &tv);
        if (!name && data && data->child && !data->child->next) name = data->child->string;
        if (!name)
            return fn_invocation_error(inv, 400, "Data: no trigger binding (declare one with "
                                       "fn_app_bind, or send exactly one member in Data)");
    }
    const struct bd_decl *d = decl_find(s, name);
    if (s && s->n) {
        if (!d || d->out)
            return fn_invocation_error(inv, 500, "function %s reads binding %s, which is not a "
                                       "declared input", inv->fn, name);
        if (d->kind->view != view && d->kind->view != BD_V_GENERIC)
            return fn_invocation_error(inv, 500, "function %s reads binding %s (%s) as another "
                                       "kind", inv->fn, name, d->type);
        o.trigger = s->trigger >= 0 && d == &s->v[s->trigger];
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(d->props, "dataType");
        o.text = cJSON_IsString(dt) && !strcmp(dt->valuestring, "string");
    } else {
        o.trigger = 1;     /* undeclared: the one binding read is taken as the trigger */
    }
    const cJSON *val = data ? cJSON_GetObjectItemCaseSensitive(data, name) : NULL;
    char field[APP_NAME_MAX + 8], err[320];
    snprintf(field, sizeof field, "Data.%s", name);
    if (!val) return fn_invocation_error(inv, 400, "%s: missing", field);
    int rc = bd_parse(view, val, o.trigger ? inv->metadata : NULL, field, &o, &inv->mem, out,
                      err, sizeof err);
    if (rc < 0) return fn_invocation_error(inv, ft_http_status(rc), "%s", err);
    return 0;
}

/* the public accessors: one view each */
#define TYPED_GET(fn, type, view)                                                          \
    int fn(fn_invocation *inv, const char *name, type *out)                                \
    {                                                                                      \
        return get_view(inv, name, view, out);                                             \
    }
TYPED_GET(fn_timer_get, fn_timer_info, BD_V_TIMER)
TYPED_GET(fn_queue_get, fn_queue_message, BD_V_QUEUE)
TYPED_GET(fn_blob_get, fn_blob, BD_V_BLOB)
TYPED_GET(fn_eventhub_get, fn_eventhub_batch, BD_V_EVENTHUB)
TYPED_GET(fn_servicebus_get, fn_servicebus_message, BD_V_SERVICEBUS)
TYPED_GET(fn_eventgrid_get, fn_eventgrid_event, BD_V_EVENTGRID)
TYPED_GET(fn_cosmos_get, fn_documents, BD_V_COSMOS)
TYPED_GET(fn_table_get, fn_table_rows, BD_V_TABLE)

/* --- typed outputs ---------------------------------------------------------------------------- */

static int out_fail(fn_invocation *inv, const char *name, const char *why, cJSON *v)
{
    cJSON_Delete(v);
    log_error("output refused", "fn=%s id=%s output=%s reason=\"%s\"", inv->fn, inv->id,
              name ? name : "-", why);
    return -1;
}

/* Sets (or appends to) an output after checking it against the declarations. */
static int put(fn_invocation *inv, const char *name, int allowed, cJSON *v)
{
    if (!v) return out_fail(inv, name, "out of memory", NULL);
    if (!name || !*name) return out_fail(inv, name, "no output name", v);
    const struct bd_set *s = inv->func ? inv->func->binds : NULL;
    const struct bd_decl *d = decl_find(s, name);
    enum bd_out kind = O_ANY;
    if (s && s->n) {
        if (!d || !d->out) return out_fail(inv, name, "not a declared output binding", v);
        kind = d->kind->out;
        if (kind != O_ANY && !(allowed & (1 << kind)))
            return out_fail(inv, name, "this call does not fit the binding's type", v);
    }
    if (!strcmp(name, "$return")) return fn_invocation_return(inv, v);
    int append = kind == O_MANY || kind == O_TABLE || kind == O_SIGNALR;
    if (!append) {
        cJSON_DeleteItemFromObjectCaseSensitive(inv->multi, name);
        return fn_invocation_output(inv, name, v);
    }
    if (!inv->multi && !(inv->multi = cJSON_CreateObject()))
        return out_fail(inv, name, "out of memory", v);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(inv->multi, name);
    if (!arr && !(arr = cJSON_AddArrayToObject(inv->multi, name)))
        return out_fail(inv, name, "out of memory", v);
    if (cJSON_GetArraySize(arr) >= FN_MAX_BATCH) return out_fail(inv, name, "too many values", v);
    cJSON_AddItemToArray(arr, v);
    return 0;
}

#define K(x) (1 << (x))

/* A string output as it must be sent for the host to deliver s itself. */
static cJSON *text_value(const char *s)
{
    if (!bd_base64_ambiguous(s)) return cJSON_CreateString(s);
    char *e = bd_base64_encode(s, strlen(s));
    cJSON *v = e ? cJSON_CreateString(e) : NULL;
    free(e);
    return v;
}

int fn_output_text(fn_invocation *inv, const char *name, const char *text)
{
    return put(inv, name, K(O_MANY) | K(O_BLOB) | K(O_TABLE), text ? text_value(text) : NULL);
}

int fn_output_json(fn_invocation *inv, const char *name, cJSON *value)
{
    return put(inv, name, ~0, value);
}

int fn_output_blob(fn_invocation *inv, const char *name, const void *data, size_t len)
{
    char *e = bd_base64_encode(data, len);
    cJSON *v = e ? cJSON_CreateString(e) : NULL;
    free(e);
    return put(inv, name, K(O_BLOB) | K(O_MANY), v);
}

int fn_output_http(fn_invocation *inv, const char *name, int status, const char *content_type,
                   const char *body, size_t len)
{
    if (status < 100 || status > 599) return out_fail(inv, name, "status out of 100..599", NULL);
    cJSON *o = cJSON_CreateObject();
    char st[8], *b = body ? strndup(body, len) : strdup("");
    snprintf(st, sizeof st, "%d", status);
    cJSON_AddStringToObject(o, "statusCode", st);
    cJSON_AddStringToObject(o, "body", b ? b : "");
    cJSON *h = cJSON_AddObjectToObject(o, "headers");
    cJSON_AddStringToObject(h, "Content-Type",
                            content_type ? content_type : "text/plain; charset=utf-8");
    free(b);
    return put(inv, name, K(O_HTTP), o);
}

int fn_output_table(fn_invocation *inv, const char *name, const char *pk, const char *rk,
                    cJSON *props)
{
    if (!pk || !rk) return out_fail(inv, name, "PartitionKey and RowKey are required", props);
    if (props && !cJSON_IsObject(props))
        return out_fail(inv, name, "properties must be an object", props);
    cJSON *e = props ? props : cJSON_CreateObject();
    if (!e) return out_fail(inv, name, "out of memory", NULL);
    cJSON_DeleteItemFromObjectCaseSensitive(e, "PartitionKey");
    cJSON_DeleteItemFromObjectCaseSensitive(e, "RowKey");
    cJSON_AddStringToObject(e, "PartitionKey", pk);
    cJSON_AddStringToObject(e, "RowKey", rk);
    return put(inv, name, K(O_TABLE), e);
}

int fn_output_signalr(fn_invocation *inv, const char *name, const char *target, cJSON *args,
                      const char *user_id, const char *group)
{
    if (!target || !*target) return out_fail(inv, name, "a SignalR message needs a target", args);
    if (args && !cJSON_IsArray(args))
        return out_fail(inv, name, "arguments must be an array", args);
    cJSON *m = cJSON_CreateObject();
    if (!m) return out_fail(inv, name, "out of memory", args);
    cJSON_AddStringToObject(m, "target", target);
    cJSON_AddItemToObject(m, "arguments", args ? args : cJSON_CreateArray());
    if (user_id) cJSON_AddStringToObject(m, "userId", user_id);
    if (group) cJSON_AddStringToObject(m, "groupName", group);
    return put(inv, name, K(O_SIGNALR), m);
}

int fn_output_signalr_group(fn_invocation *inv, const char *name, const char *action,
                            const char *user_id, const char *group)
{
    if (!action || (strcmp(action, "add") && strcmp(action, "remove")))
        return out_fail(inv, name, "a group action is 'add' or 'remove'", NULL);
    if (!user_id || !group)
        return out_fail(inv, name, "a group action needs a user and a group", NULL);
    cJSON *m = cJSON_CreateObject();
    if (!m) return out_fail(inv, name, "out of memory", NULL);
    cJSON_AddStringToObject(m, "userId", user_id);
    cJSON_AddStringToObject(m, "groupName", group);
    cJSON_AddStringToObject(m, "action", action);
    return put(inv, name, K(O_SIGNALR), m);
}

int fn_output_sendgrid(fn_invocation *inv, const char *name, const char *to, const char *from,
                       const char *subject, const char *text)
{
    if (!to || !from) return out_fail(inv, name, "a mail needs to and from", NULL);
    cJSON *m = cJSON_CreateObject();
    if (!m) return out_fail(inv, name, "out of memory", NULL);
    cJSON *pers = cJSON_AddArrayToObject(m, "personalizations");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToArray(pers, p);
    cJSON *tos = cJSON_AddArrayToObject(p, "to");
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "email", to);
    cJSON_AddItemToArray(tos, t);
    cJSON *f = cJSON_AddObjectToObject(m, "from");
    cJSON_AddStringToObject(f, "email", from);
    cJSON_AddStringToObject(m, "subject", subject ? subject : "");
    cJSON *content = cJSON_AddArrayToObject(m, "content");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", "text/plain");
    cJSON_AddStringToObject(c, "value", text ? text : "");
    cJSON_AddItemToArray(content, c);
    return put(inv, name, K(O_SENDGRID), m);
}

int fn_output_twilio(fn_invocation *inv, const char *name, const char *to, const char *from,
                     const char *body)
{
    if (!to || !body) return out_fail(inv, name, "an SMS needs to and a body", NULL);
    cJSON *m = cJSON_CreateObject();
    if (!m) return out_fail(inv, name, "out of memory", NULL);
    cJSON_AddStringToObject(m, "to", to);
    if (from) cJSON_AddStringToObject(m, "from", from);
    cJSON_AddStringToObject(m, "body", body);
    return put(inv, name, K(O_TWILIO), m);
}

void bd_finish_outputs(fn_invocation *inv)
{
    if (!inv->multi) return;
    cJSON *arr;
    while ((arr = inv->multi->child)) {
        cJSON_DetachItemViaPointer(inv->multi, arr);
        char name[APP_NAME_MAX * 4 + 1];
        snprintf(name, sizeof name, "%s", arr->string);
        cJSON *v = arr;
        if (cJSON_GetArraySize(arr) == 1) {
            v = cJSON_DetachItemFromArray(arr, 0);
            cJSON_Delete(arr);
        }
        fn_invocation_output(inv, name, v);
    }
    cJSON_Delete(inv->multi);
    inv->multi = NULL;
}
