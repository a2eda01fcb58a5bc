/* Unit tests for handler/bindings: ISO dates, base64 and traceparent; every typed view's
 * parser with good input, wrong types, missing fields, huge batches, invalid base64 and
 * invalid dates (each refusal names the field); fn_app_bind's refusals; function.json
 * generation, binding rules and the comparison with an existing file; the typed outputs
 * in the host's shape (several outputs, appends, $return, the base64 rule, a refused
 * undeclared output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "azure.h"
#include "runtime.h"
#include "bindings.h"
#include "fnhandler.h"
#include "fterr.h"
#include "invlog.h"
#include "log.h"
#include "perfscript.h"

/* --- dates, base64, traceparent ---------------------------------------------------------- */

static void test_dates(void **st)
{
    struct timespec t;
    assert_int_equal(bd_parse_date("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t.tv_sec, 0);
    assert_int_equal(bd_parse_date("2026-12-02T01:27:00.1234567+00:00", &t), 0);
    assert_int_equal(t.tv_sec, 1796174820);
    assert_int_equal(t.tv_nsec, 123456700);
    assert_int_equal(bd_parse_date("2026-12-02T03:27:00+02:00", &t), 0);
    assert_int_equal(t.tv_sec, 1796174820);
    assert_int_equal(bd_parse_date("2024-02-29T00:00:00", &t), 0);     /* leap day, no zone */
    assert_int_equal(bd_parse_date("0001-01-01T00:00:00", &t), 0);     /* .NET's MinValue */
    assert_true(t.tv_sec < 0);
    const char *bad[] = { "", "2026", "2026-12-02", "2026-12-02 01:27", "2025-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-02T24:00:00Z",
                          "2026-12-02T01:60:00Z", "2026-12-02T01:27:00.Z", "2026-12-02T01:27:00+2",
                          "2026-12-02T01:27:00Zjunk", "x026-12-02T01:27:00Z", "tomorrow" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(bd_parse_date(bad[i], &t), -FT_ERR_BAD_INPUT);
}

static void test_base64(void **st)
{
    unsigned char out[64];
    assert_int_equal(bd_base64_decode("aGVsbG8=", 8, out), 5);
    assert_string_equal((char *)out, "hello");
    assert_int_equal(bd_base64_decode("", 0, out), 0);
    assert_int_equal(bd_base64_decode("aGVsbG8", 7, out), -FT_ERR_BAD_INPUT);
    assert_int_equal(bd_base64_decode("aGV$bG8=", 8, out), -FT_ERR_BAD_INPUT);
    assert_int_equal(bd_base64_decode("a===", 4, out), -FT_ERR_BAD_INPUT);
    assert_int_equal(bd_base64_decode("aG=sbG8=", 8, out), -FT_ERR_BAD_INPUT);
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    for (size_t n = 0; n < 10; n++) {
        char *e = bd_base64_encode(all + 100, n);
        unsigned char back[16];
        assert_int_equal(bd_base64_decode(e, strlen(e), back), (long)n);
        assert_memory_equal(back, all + 100, n);
        free(e);
    }
    assert_true(bd_base64_ambiguous("abcd"));
    assert_true(bd_base64_ambiguous("test"));
    assert_false(bd_base64_ambiguous("hello"));
    assert_false(bd_base64_ambiguous(""));
    assert_false(bd_base64_ambiguous("ab d"));
}

static void test_traceparent(void **st)
{
    char id[33];
    assert_int_equal(bd_traceparent_id("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                                       id), 0);
    assert_string_equal(id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_int_equal(bd_traceparent_id("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                                       id), 0);
    const char *bad[] = { "", "00-4bf92f3577b34da6a3ce929d0e0e4736",
                         "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(bd_traceparent_id(bad[i], id), -FT_ERR_BAD_INPUT);
}

/* The trace id travels in the invocation line and back; a malformed one is left out. */
static void test_trace_id_in_the_invocation_line(void **st)
{
    invlog *log = invlog_new(4);
    invlog_push_traced(log, "a", "hello", 1000000000, 2000000000, 200, 7,
                       "4bf92f3577b34da6a3ce929d0e0e4736");
    invlog_push_traced(log, "b", "hello", 1000000000, 2000000000, 200, 7, "not-a-trace-id");
    struct invlog_rec r[2];
    assert_int_equal(invlog_drain(log, r, 2, NULL), 2);
    for (int i = 0; i < 2; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ps_writer *w = ps_writer_new_fp(f);
        ps_invocation inv = invlog_to_ps(&r[i]);
        assert_int_equal(ps_write_invocation(w, &inv), 0);
        assert_int_equal(ps_writer_close(w), 0);
        fclose(f);
        assert_int_equal(strchr(buf, '\n') - buf, (long)len - 1);     /* one line */
        ps_invocation back;
        assert_int_equal(ps_header_invocation((ps_str){ buf, len - 1 }, &back), 1);
        if (i == 0) {
            assert_non_null(strstr(buf, " trace_id=4bf92f3577b34da6a3ce929d0e0e4736\n"));
            assert_true(ps_str_eqc(back.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736"));
        } else {
            assert_null(strstr(buf, "trace_id="));
            assert_int_equal(back.trace_id.len, 0);
        }
        free(buf);
    }
    /* a reader ignores a trace_id of another shape rather than the invocation */
    const char *line = "# fntrace invocation : id=x fn=f start=1.0 trace_id=XYZ";
    ps_invocation back;
    assert_int_equal(ps_header_invocation(ps_cstr(line), &back), 1);
    assert_int_equal(back.trace_id.len, 0);
    invlog_free(log);
}

/* --- parsers ---------------------------------------------------------------------------- */

/* Parses JSON text val/meta as view; returns the code, err filled. */
static int parse(enum bd_view v, const char *val, const char *meta, int text, void *out,
                 struct bd_mem *m, cJSON **keep, char *err)
{
    cJSON *jv = cJSON_Parse(val), *jm = meta ? cJSON_Parse(meta) : NULL;
    assert_non_null(jv);
    struct bd_opts o = { .trigger = 1, .text = text };
    err[0] = 0;
    int rc = bd_parse(v, jv, jm, "Data.x", &o, m, out, err, 256);
    keep[0] = jv;
    keep[1] = jm;
    return rc;
}

/* a refusal whose message holds field */
static void refused(enum bd_view v, const char *val, const char *meta, const char *field)
{
    union { fn_timer_info t; fn_queue_message q; fn_blob b; fn_eventhub_batch e;
            fn_servicebus_message s; fn_eventgrid_event g; fn_documents d; fn_table_rows r; } u;
    struct bd_mem m = { 0 };
    cJSON *keep[2];
    char err[256];
    int rc = parse(v, val, meta, 0, &u, &m, keep, err);
    if (rc != -FT_ERR_BAD_INPUT || !strstr(err, field))
        fail_msg("view %d %s / %s: rc=%d err=\"%s\", want \"%s\"", v, val, meta ? meta : "-", rc,
                 err, field);
    bd_mem_free(&m);
    cJSON_Delete(keep[0]);
    cJSON_Delete(keep[1]);
}

#define QMETA "{\"Id\":\"m1\",\"DequeueCount\":2,\"PopReceipt\":\"p\"," \
    "\"InsertionTime\":\"2026-12-02T01:00:00+00:00\",\"ExpirationTime\":\"2026-12-09T01:00:00Z\"," \
    "\"NextVisibleTime\":\"2026-12-02T01:00:30.5Z\"}"

#define QMETA_TC "{\"Id\":\"m1\",\"DequeueCount\":2,\"PopReceipt\":\"p\"," \
    "\"InsertionTime\":\"2026-12-02T01:00:00Z\",\"ExpirationTime\":\"2026-12-09T01:00:00Z\"," \
    "\"NextVisibleTime\":\"2026-12-02T01:00:30Z\",\"TraceContext\":{\"TraceParent\":" \
    "\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}}"

static void test_timer_and_queue(void **st)
{
    struct bd_mem m = { 0 };
    cJSON *keep[2];
    char err[256];
    fn_timer_info t;
    assert_int_equal(parse(BD_V_TIMER, "{\"Schedule\":{\"AdjustForDST\":true},\"ScheduleStatus\":"
                           "{\"Last\":\"2026-12-02T01:00:00Z\",\"Next\":\"2026-12-02T01:05:00Z\","
                           "\"LastUpdated\":\"2026-12-02T01:00:00Z\"},\"IsPastDue\":true}",
                           NULL, 0, &t, &m, keep, err), 0);
    assert_true(t.adjust_for_dst && t.has_status && t.is_past_due);
    assert_int_equal(t.next.tv_sec - t.last.tv_sec, 300);
    cJSON_Delete(keep[0]);
    /* the timer object as a JSON string */
    assert_int_equal(parse(BD_V_TIMER, "\"{\\\"IsPastDue\\\":false}\"", NULL, 0, &t, &m, keep,
                           err), 0);
    assert_false(t.has_status);
    cJSON_Delete(keep[0]);
    refused(BD_V_TIMER, "{}", NULL, "Data.x.IsPastDue: missing");
    refused(BD_V_TIMER, "{\"IsPastDue\":1}", NULL, "Data.x.IsPastDue: not true or false");
    refused(BD_V_TIMER, "{\"IsPastDue\":true,\"Schedule\":[]}", NULL,
            "Data.x.Schedule: not an object");
    refused(BD_V_TIMER,
            "{\"IsPastDue\":true,\"ScheduleStatus\":{\"Last\":\"2026-12-02T01:00:00Z\"}}",
            NULL, "Data.x.ScheduleStatus.Next: missing");
    refused(BD_V_TIMER, "7", NULL, "Data.x: not a JSON object");

    fn_queue_message q;
    assert_int_equal(parse(BD_V_QUEUE, "\"{\\\"a\\\":1}\"", QMETA, 0, &q, &m, keep, err), 0);
    assert_string_equal(q.text, "{\"a\":1}");
    assert_non_null(q.json);
    assert_int_equal(cJSON_GetObjectItem(q.json, "a")->valueint, 1);
    assert_string_equal(q.id, "m1");
    assert_int_equal(q.dequeue_count, 2);
    assert_int_equal(q.next_visible_time.tv_nsec, 500000000);
    cJSON_Delete(keep[0]);
    cJSON_Delete(keep[1]);
    assert_int_equal(parse(BD_V_QUEUE, "\"plain text\"", QMETA, 0, &q, &m, keep, err), 0);
    assert_null(q.json);
    assert_int_equal(q.len, 10);
    cJSON_Delete(keep[0]);
    cJSON_Delete(keep[1]);
    refused(BD_V_QUEUE, "\"x\"", "{}", "Metadata.Id: missing");
    refused(BD_V_QUEUE, "\"x\"", "{\"Id\":\"1\",\"DequeueCount\":1.5}",
            "Metadata.DequeueCount: not an integer");
    refused(BD_V_QUEUE, "\"x\"", "{\"Id\":\"1\",\"DequeueCount\":-1}",
            "Metadata.DequeueCount: out of range");
    refused(BD_V_QUEUE, "\"x\"", "{\"Id\":\"1\",\"DequeueCount\":1,\"PopReceipt\":\"p\","
            "\"InsertionTime\":\"2026-12-02\"}", "Metadata.InsertionTime: not an ISO 8601 date");
    refused(BD_V_QUEUE, "null", QMETA, "Data.x: missing");
    /* numbers past long long (the fuzzer's first finding) */
    refused(BD_V_QUEUE, "\"x\"", "{\"Id\":\"1\",\"DequeueCount\":1e60}",
            "Metadata.DequeueCount: out of range");
    refused(BD_V_QUEUE, "\"x\"", "{\"Id\":\"1\",\"DequeueCount\":9223372036854775808}",
            "Metadata.DequeueCount: out of range");
    refused(BD_V_EVENTHUB, "[\"a\"]", "{\"EnqueuedTimeUtcArray\":[\"2026-12-02T01:00:00Z\"],"
            "\"SequenceNumberArray\":[-1e300]}", "Metadata.SequenceNumberArray[0]: not an integer");
    bd_mem_free(&m);
}

static void test_blob(void **st)
{
    struct bd_mem m = { 0 };
    cJSON *keep[2];
    char err[256];
    fn_blob b;
    assert_int_equal(parse(BD_V_BLOB, "\"AAEC/w==\"",
                           "{\"name\":\"a.bin\",\"Uri\":\"http://x/a.bin\","
                           "\"Properties\":{\"ContentType\":\"application/x\",\"Length\":4}}",
                           0, &b, &m, keep, err), 0);
    assert_int_equal(b.len, 4);
    assert_int_equal(b.data[3], 0xff);
    assert_string_equal(b.name, "a.bin");
    assert_string_equal(b.content_type, "application/x");
    cJSON_Delete(keep[0]);
    cJSON_Delete(keep[1]);
    /* dataType string: the text itself */
    assert_int_equal(parse(BD_V_BLOB, "\"not base64!\"", NULL, 1, &b, &m, keep, err), 0);
    assert_string_equal((const char *)b.data, "not base64!");
    cJSON_Delete(keep[0]);
    refused(BD_V_BLOB, "\"not base64!\"", NULL, "Data.x: not valid base64");
    refused(BD_V_BLOB, "\"AAE\"", NULL, "Data.x: not valid base64");
    refused(BD_V_BLOB, "\"AAEC\"", "{\"name\":3}", "Metadata.name: not a string");
    refused(BD_V_BLOB, "\"AAEC\"", "{\"Properties\":{\"ContentType\":[]}}",
            "Metadata.Properties.ContentType: not a string");
    bd_mem_free(&m);
}

static void test_eventhub(void **st)
{
    struct bd_mem m = { 0 };
    cJSON *keep[2];
    char err[256];
    fn_eventhub_batch b;
    assert_int_equal(parse(BD_V_EVENTHUB, "[\"{\\\"v\\\":1}\",\"two\"]",
                           "{\"EnqueuedTimeUtcArray\":[\"2026-12-02T01:00:00Z\","
                           "\"2026-12-02T01:00:01Z\"],"
                           "\"SequenceNumberArray\":[7,8],\"OffsetArray\":[\"0\",\"64\"],"
                           "\"PartitionKeyArray\":[null,\"k\"],"
                           "\"PartitionContext\":{\"PartitionId\":\"2\"}}",
                           0, &b, &m, keep, err), 0);
    assert_int_equal(b.n, 2);
    assert_non_null(b.events[0].json);
    assert_string_equal(b.events[1].body, "two");
    assert_int_equal(b.events[1].sequence_number, 8);
    assert_string_equal(b.events[1].offset, "64");
    assert_null(b.events[0].partition_key);
    assert_string_equal(b.events[1].partition_key, "k");
    assert_string_equal(b.partition_id, "2");
    cJSON_Delete(keep[0]);
    cJSON_Delete(keep[1]);
    /* one event (cardinality one) */
    assert_int_equal(parse(BD_V_EVENTHUB, "\"x\"", "{\"EnqueuedTimeUtc\":\"2026-12-02T01:00:00Z\","
                           "\"SequenceNumber\":\"9007199254740993\"}", 0, &b, &m, keep, err), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.events[0].sequence_number, 9007199254740993LL);
    cJSON_Delete(keep[0]);
    cJSON_Delete(keep[1]);
    refused(BD_V_EVENTHUB, "[\"a\"]", "{\"SequenceNumberArray\":[1]}",
            "Metadata.EnqueuedTimeUtcArray[0]: missing");
    refused(BD_V_EVENTHUB, "[\"a\"]", "{\"EnqueuedTimeUtcArray\":{}}",
            "Metadata.EnqueuedTimeUtcArray: not an array");
    refused(BD_V_EVENTHUB, "[\"a\",\"b\"]", "{\"EnqueuedTimeUtcArray\":[\"2026-12-02T01:00:00Z\"]}",
            "Metadata.EnqueuedTimeUtcArray: 1 entries for a batch of 2 events");
    refused(BD_V_EVENTHUB, "[\"a\"]", "{\"EnqueuedTimeUtcArray\":[\"2026-12-02T01:00:00Z\"],"
            "\"SequenceNumberArray\":[1],\"PropertiesArray\":[5]}", "Metadata.PropertiesArray[0]: "
            "not an object");
    refused(BD_V_EVENTHUB, "\"x\"", "{\"EnqueuedTimeUtc\":\"2026-12-02T01:00:00Z\"}",
            "Metadata.SequenceNumber: missing");
    /* a huge batch */
    cJSON *big = cJSON_CreateArray();
    for (int i = 0; i <= FN_MAX_BATCH; i++) cJSON_AddItemToArray(big, cJSON_CreateString("e"));
    char *text = cJSON_PrintUnformatted(big);
    refused(BD_V_EVENTHUB, text, "{}", "Data.x: a batch of 10001 events (at most 10000)");
    refused(BD_V_COSMOS, text, NULL, "Data.x: a batch of 10001 documents");
    free(text);
    cJSON_Delete(big);
    bd_mem_free(&m);
}

static void test_servicebus_eventgrid_cosmos_table(void **st)
{
    struct bd_mem m = { 0 };
    cJSON *keep[2];
    char err[256];
    fn_servicebus_message s;
    assert_int_equal(parse(BD_V_SERVICEBUS, "{\"order\":1}",
                           "{\"MessageId\":\"m\",\"DeliveryCount\":3,"
                           "\"EnqueuedTimeUtc\":\"2026-12-02T01:00:00Z\",\"Label\":\"l\","
                           "\"UserProperties\":{\"a\":1},\"SessionId\":\"s1\"}",
                           0, &s, &m, keep, err), 0);
    assert_string_equal(s.message_id, "m");
    assert_int_equal(s.delivery_count, 3);
    assert_string_equal(s.subject, "l");
    assert_string_equal(s.session_id, "s1");
    assert_string_equal(s.body, "{\"order\":1}");
    assert_non_null(s.user_properties);
    cJSON_Delete(keep[0]);
    cJSON_Delete(keep[1]);
    refused(BD_V_SERVICEBUS, "\"x\"", "{\"DeliveryCount\":1}", "Metadata.MessageId: missing");
    refused(BD_V_SERVICEBUS, "\"x\"", "{\"MessageId\":\"m\"}", "Metadata.DeliveryCount: missing");
    refused(BD_V_SERVICEBUS, "\"x\"",
            "{\"MessageId\":\"m\",\"DeliveryCount\":1,\"ExpiresAtUtc\":\"never\"}",
            "Metadata.ExpiresAtUtc: not an ISO 8601 date");

    fn_eventgrid_event g;
    assert_int_equal(parse(BD_V_EVENTGRID, "{\"id\":\"1\",\"eventType\":\"t\",\"subject\":\"s\","
                           "\"eventTime\":\"2026-12-02T01:00:00.5Z\",\"dataVersion\":\"1\","
                           "\"data\":[1]}",
                           NULL, 0, &g, &m, keep, err), 0);
    assert_string_equal(g.event_type, "t");
    assert_true(cJSON_IsArray(g.data));
    cJSON_Delete(keep[0]);
    refused(BD_V_EVENTGRID,
            "{\"id\":\"1\",\"eventType\":\"t\",\"subject\":\"s\",\"dataVersion\":\"1\"}",
            NULL, "Data.x.eventTime: missing");
    refused(BD_V_EVENTGRID, "\"{not json\"", NULL, "Data.x: not a JSON object");

    fn_documents d;
    assert_int_equal(parse(BD_V_COSMOS, "[{\"id\":\"a\"},{\"id\":\"b\",\"n\":2}]", NULL, 0, &d, &m,
                           keep, err), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(cJSON_GetObjectItem(d.items[1], "n")->valueint, 2);
    cJSON_Delete(keep[0]);
    refused(BD_V_COSMOS, "[{\"id\":\"a\"},3]", NULL, "Data.x[1]: not an object");
    refused(BD_V_COSMOS, "[{\"id\":5}]", NULL, "Data.x[0].id: not a string");
    refused(BD_V_COSMOS, "true", NULL, "Data.x: not an object or an array");

    fn_table_rows t;
    assert_int_equal(parse(BD_V_TABLE, "{\"PartitionKey\":\"p\",\"RowKey\":\"r\",\"Timestamp\":"
                           "\"2026-12-02T01:00:00Z\",\"v\":1}", NULL, 0, &t, &m, keep, err), 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.rows[0].row_key, "r");
    assert_true(t.rows[0].timestamp.tv_sec > 0);
    cJSON_Delete(keep[0]);
    refused(BD_V_TABLE, "[{\"PartitionKey\":\"p\"}]", NULL, "Data.x[0].RowKey: missing");
    refused(BD_V_TABLE, "[{\"PartitionKey\":\"p\",\"RowKey\":\"r\",\"Timestamp\":1}]", NULL,
            "Data.x[0].Timestamp: not a date string");
    bd_mem_free(&m);
}

/* --- declarations ------------------------------------------------------------------------- */

static int noop_invoke(fn_invocation *inv, void *arg) { return 0; }
static int noop_http(const fn_request *req, fn_response *res, void *arg) { return 0; }

static void test_declarations(void **st)
{
    fn_app *app = fn_app_new("t");
    assert_int_equal(fn_app_invoke(app, "q", noop_invoke, NULL), 0);
    assert_int_equal(fn_app_http(app, "h", noop_http, NULL), 0);
    /* refusals */
    assert_int_equal(fn_app_bind(app, "nope", "queueTrigger", "in", "m", "queueName", "a", NULL),
                     -1);
    assert_int_equal(fn_app_bind(app, "q", "queueTrigger", "in", "m", NULL),
                     -1);       /* no queueName */
    assert_int_equal(fn_app_bind(app, "q", "queueTrigger", "out", "m", "queueName", "a", NULL), -1);
    assert_int_equal(fn_app_bind(app, "q", "queue", "in", "m", "queueName", "a", NULL), -1);
    assert_int_equal(fn_app_bind(app, "q", "http", "out", "res", NULL),
                     -1);          /* no httpTrigger */
    assert_int_equal(fn_app_bind(app, "q", "queueTrigger", "in", "m", "queueName", NULL, NULL), -1);
    assert_int_equal(fn_app_bind(app, "q", "queueTrigger", "sideways", "m", "queueName", "a",
                                 NULL), -1);
    assert_int_equal(fn_app_bind(app, "h", "timerTrigger", "in", "t", "schedule", "* * * * * *",
                                 NULL), -1);
    /* accepted, then duplicates refused */
    assert_int_equal(fn_app_bind(app, "q", "queueTrigger", "in", "m", "queueName", "a", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "timerTrigger", "in", "t", "schedule", "x", NULL), -1);
    assert_int_equal(fn_app_bind(app, "q", "blob", "out", "M", "path", "p/{Id}", NULL), -1);
    assert_int_equal(fn_app_bind(app, "q", "blob", "out", "b", "path", "p/{Id}", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "serviceBus", "out", "sb", "topicName", "t", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "sendGrid", "out", "mail", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "twilioSms", "out", "sms", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "signalR", "out", "sig", "hubName", "h", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "table", "out", "tab", "tableName", "t", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "queue", "out", "$return", "queueName", "r", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "someNewThing", "in", "gen", "x", "y", NULL), 0);
    assert_int_equal(fn_app_bind(app, "h", "httpTrigger", "in", "req", "methods", "get, post",
                                 "authLevel", "function", NULL), 0);
    assert_int_equal(fn_app_bind(app, "h", "http", "out", "$return", NULL), 0);

    char err[256];
    const struct fn_func *q = app_find(app, "q"), *h = app_find(app, "h");
    cJSON *fj = bd_function_json(q, err, sizeof err);
    assert_non_null(fj);
    assert_int_equal(bd_check_rules(fj, err, sizeof err), 0);
    assert_int_equal(bd_compare_function_json(q, fj, err, sizeof err), 0);
    /* a changed property, a missing binding, an extra one: each named */
    cJSON *b0 = cJSON_GetArrayItem(cJSON_GetObjectItem(fj, "bindings"), 0);
    cJSON_ReplaceItemInObject(b0, "queueName", cJSON_CreateString("other"));
    assert_int_equal(bd_compare_function_json(q, fj, err, sizeof err), -FT_ERR_BAD_INPUT);
    assert_non_null(strstr(err, "binding m: queueName is \"other\" in function.json"));
    cJSON_ReplaceItemInObject(b0, "queueName", cJSON_CreateString("a"));
    cJSON_AddStringToObject(b0, "connection", "X");
    assert_int_equal(bd_compare_function_json(q, fj, err, sizeof err), -FT_ERR_BAD_INPUT);
    assert_non_null(strstr(err, "function.json has connection"));
    cJSON_DeleteItemFromObject(b0, "connection");
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(fj, "bindings"), 1);
    assert_int_equal(bd_compare_function_json(q, fj, err, sizeof err), -FT_ERR_BAD_INPUT);
    assert_non_null(strstr(err, "binding b: missing from function.json"));
    cJSON_Delete(fj);

    fj = bd_function_json(h, err, sizeof err);
    char *s = cJSON_PrintUnformatted(fj);
    assert_non_null(strstr(s, "\"methods\":[\"get\",\"post\"]"));
    assert_non_null(strstr(s, "{\"type\":\"http\",\"direction\":\"out\",\"name\":\"$return\"}"));
    free(s);
    cJSON_Delete(fj);
    enum bd_view v;
    assert_string_equal(bd_trigger_name(q->binds, &v), "m");
    assert_int_equal(v, BD_V_QUEUE);
    assert_string_equal(bd_http_out(h->binds), "$return");
    fn_app_free(app);
}

static void rules(const char *json, const char *want)
{
    cJSON *j = cJSON_Parse(json);
    char err[256] = "";
    int rc = bd_check_rules(j, err, sizeof err);
    if (want ? (rc == 0 || !strstr(err, want)) : rc != 0) fail_msg("%s: rc=%d err=%s", json, rc,
                                                                   err);
    cJSON_Delete(j);
}

static void test_rules(void **st)
{
    rules("{\"bindings\":[{\"type\":\"queueTrigger\",\"direction\":\"in\",\"name\":\"a\"}]}", NULL);
    rules("{\"bindings\":[{\"type\":\"queueTrigger\",\"direction\":\"out\",\"name\":\"a\"}]}",
          "a trigger's direction is \"in\"");
    rules("{\"bindings\":[{\"type\":\"queueTrigger\",\"direction\":\"in\",\"name\":\"a\"},"
          "{\"type\":\"blob\",\"direction\":\"out\",\"name\":\"A\"}]}", "used twice");
    rules("{\"bindings\":[{\"type\":\"queueTrigger\",\"direction\":\"in\",\"name\":\"a\"},"
          "{\"type\":\"http\",\"direction\":\"out\",\"name\":\"res\"}]}", "without an httpTrigger");
    rules("{\"bindings\":[{\"type\":\"blob\",\"direction\":\"in\",\"name\":\"a\"}]}", "0 triggers");
    rules("{\"bindings\":{}}", "no \"bindings\" array");
    rules("{\"bindings\":[{\"type\":\"queueTrigger\",\"name\":\"a\"}]}", "must be strings");
}

/* --- outputs ----------------------------------------------------------------------------- */

static void test_outputs(void **st)
{
    fn_app *app = fn_app_new("t");
    assert_int_equal(fn_app_invoke(app, "q", noop_invoke, NULL), 0);
    assert_int_equal(fn_app_invoke(app, "free", noop_invoke, NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "queueTrigger", "in", "m", "queueName", "a", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "queue", "out", "out", "queueName", "o", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "blob", "out", "b", "path", "p", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "signalR", "out", "sig", "hubName", "h", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "sendGrid", "out", "mail", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "twilioSms", "out", "sms", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "table", "out", "tab", "tableName", "t", NULL), 0);
    assert_int_equal(fn_app_bind(app, "q", "serviceBus", "out", "$return", "queueName", "r", NULL),
                     0);
    struct app_call *c = app_call_new(app, app_find(app, "q"), "id1");
    fn_invocation *inv = &c->inv;
    /* one queue message: as it is; "abcd" (valid base64) is sent encoded */
    assert_int_equal(fn_output_text(inv, "out", "abcd"), 0);
    assert_int_equal(fn_output_blob(inv, "b", "\x00\x01\xff", 3), 0);
    assert_int_equal(fn_output_signalr(inv, "sig", "t", NULL, "u1", NULL), 0);
    assert_int_equal(fn_output_signalr_group(inv, "sig", "add", "u1", "g"), 0);
    assert_int_equal(fn_output_signalr_group(inv, "sig", "join", "u1", "g"), -1);
    assert_int_equal(fn_output_sendgrid(inv, "mail", "a@x", "b@x", "hi", "body"), 0);
    assert_int_equal(fn_output_twilio(inv, "sms", "+1", "+2", "hello"), 0);
    assert_int_equal(fn_output_table(inv, "tab", "p", "r", NULL), 0);
    assert_int_equal(fn_output_json(inv, "$return", cJSON_CreateString("ret")), 0);
    /* refused: undeclared, the wrong kind, the trigger */
    assert_int_equal(fn_output_text(inv, "nope", "x"), -1);
    assert_int_equal(fn_output_blob(inv, "mail", "x", 1), -1);
    assert_int_equal(fn_output_http(inv, "out", 200, NULL, "x", 1), -1);
    assert_int_equal(fn_output_text(inv, "m", "x"), -1);
    bd_finish_outputs(inv);
    char *s = cJSON_PrintUnformatted(inv->outputs);
    assert_string_equal(s,
        "{\"b\":\"AAH/\",\"mail\":{\"personalizations\":[{\"to\":[{\"email\":\"a@x\"}]}],"
        "\"from\":{\"email\":\"b@x\"},\"subject\":\"hi\",\"content\":[{\"type\":\"text/plain\","
        "\"value\":\"body\"}]},\"sms\":{\"to\":\"+1\",\"from\":\"+2\",\"body\":\"hello\"},"
        "\"out\":\"YWJjZA==\",\"sig\":[{\"target\":\"t\",\"arguments\":[],\"userId\":\"u1\"},"
        "{\"userId\":\"u1\",\"groupName\":\"g\",\"action\":\"add\"}],"
        "\"tab\":{\"PartitionKey\":\"p\",\"RowKey\":\"r\"}}");
    free(s);
    assert_string_equal(inv->ret->valuestring, "ret");
    app_call_free(c);

    /* several messages on one queue: an array; an undeclared function takes anything */
    c = app_call_new(app, app_find(app, "q"), "id2");
    fn_output_text(&c->inv, "out", "one");
    fn_output_json(&c->inv, "out", cJSON_CreateNumber(2));
    bd_finish_outputs(&c->inv);
    s = cJSON_PrintUnformatted(c->inv.outputs);
    assert_string_equal(s, "{\"out\":[\"one\",2]}");
    free(s);
    app_call_free(c);
    c = app_call_new(app, app_find(app, "free"), "id3");
    assert_int_equal(fn_output_http(&c->inv, "res", 201, "application/json", "{}", 2), 0);
    assert_int_equal(fn_output_text(&c->inv, "anything", "x"), 0);
    bd_finish_outputs(&c->inv);
    s = cJSON_PrintUnformatted(c->inv.outputs);
    assert_string_equal(s, "{\"res\":{\"statusCode\":\"201\",\"body\":\"{}\",\"headers\":"
                           "{\"Content-Type\":\"application/json\"}},\"anything\":\"x\"}");
    free(s);
    app_call_free(c);
    fn_app_free(app);
}

/* --- through the Azure routes on a real server ------------------------------------------- */

static atomic_int queue_calls;

/* an HTTP function that also writes a queue message, its response as $return */
static int order_http(const fn_request *req, fn_response *res, void *arg)
{
    fn_invocation *inv = fn_response_invocation(res);
    if (fn_output_text(inv, "q", "queued")) return fn_response_error(res, 500, "queue");
    const char *tid = fn_request_trace_id(req);
    return fn_response_printf(res, "trace %s", tid ? tid : "-");
}

static int queue_fn(fn_invocation *inv, void *arg)
{
    atomic_fetch_add(&queue_calls, 1);
    fn_queue_message m;
    if (fn_queue_get(inv, NULL, &m)) return -1;
    const char *tid = fn_invocation_trace_id(inv);
    return fn_output_text(inv, "q", tid ? tid : "none");
}

static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
    size_t have = strlen(ud), n = sz * nm;
    if (have + n > 8191) n = 8191 - have;
    memcpy((char *)ud + have, p, n);
    ((char *)ud)[have + n] = 0;
    return sz * nm;
}

static long post(const char *url, const char *body, char *out)
{
    out[0] = 0;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

static void test_azure_envelope(void **st)
{
    fn_app *app = fn_app_new("unit");
    assert_int_equal(fn_app_http(app, "order", order_http, NULL), 0);
    assert_int_equal(fn_app_invoke(app, "queued", queue_fn, NULL), 0);
    assert_int_equal(fn_app_bind(app, "order", "httpTrigger", "in", "request", NULL), 0);
    assert_int_equal(fn_app_bind(app, "order", "http", "out", "$return", NULL), 0);
    assert_int_equal(fn_app_bind(app, "order", "queue", "out", "q", "queueName", "x", NULL), 0);
    assert_int_equal(fn_app_bind(app, "queued", "queueTrigger", "in", "m", "queueName", "a",
                                 NULL), 0);
    assert_int_equal(fn_app_bind(app, "queued", "queue", "out", "q", "queueName", "b", NULL), 0);
    static struct rt rt;
    static struct httpd_route routes[8];
    memset(&rt, 0, sizeof rt);
    rt.app = app;
    rt.mode = RT_AZURE;
    rt.max_body = 65536;
    rt.handoff = 1;
    atomic_store(&rt.healthy, 1);
    azure_routes(&rt, routes);
    char err[256], url[128], out[8192];
    struct httpd_opts o = { .port = 0, .threads = 2, .flags = HTTPD_ALLOW_SUSPEND | HTTPD_QUIET };
    httpd *srv = httpd_start(&o, routes, err, sizeof err);
    assert_non_null(srv);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/order", (unsigned)httpd_port(srv));
    assert_int_equal(post(url, "{\"Data\":{\"request\":{\"Method\":\"GET\","
                               "\"Url\":\"http://h/api/order\",\"Headers\":{\"traceparent\":"
                               "[\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"]}}},"
                               "\"Metadata\":{}}", out), 200);
    cJSON *env = cJSON_Parse(out);
    assert_non_null(env);
    cJSON *ret = cJSON_GetObjectItem(env, "ReturnValue");
    assert_string_equal(cJSON_GetObjectItem(ret, "statusCode")->valuestring, "200");
    assert_string_equal(cJSON_GetObjectItem(ret, "body")->valuestring,
                        "trace 4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(env, "Outputs"), "q")->valuestring,
                        "queued");
    cJSON_Delete(env);
    /* a declared queue trigger without the host's metadata: 400 before the function runs */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/queued", (unsigned)httpd_port(srv));
    assert_int_equal(post(url, "{\"Data\":{\"m\":\"x\"},\"Metadata\":{}}", out), 400);
    assert_non_null(strstr(out, "Metadata.Id: missing"));
    assert_int_equal(atomic_load(&queue_calls), 0);
    /* with it, and the host's trace context */
    assert_int_equal(post(url, "{\"Data\":{\"m\":\"x\"},\"Metadata\":" QMETA_TC "}", out), 200);
    /* 32 hex digits are valid base64: sent encoded, so the host's decoding gives them back */
    char *enc = bd_base64_encode("0af7651916cd43dd8448eb211c80319c", 32), want[128];
    snprintf(want, sizeof want, "\"q\":\"%s\"", enc);
    free(enc);
    assert_non_null(strstr(out, want));
    assert_int_equal(atomic_load(&queue_calls), 1);
    httpd_stop(srv);
    while (atomic_load(&app->running)) usleep(10000);
    fn_app_free(app);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_trace_id_in_the_invocation_line),
        cmocka_unit_test(test_timer_and_queue),
        cmocka_unit_test(test_blob),
        cmocka_unit_test(test_eventhub),
        cmocka_unit_test(test_servicebus_eventgrid_cosmos_table),
        cmocka_unit_test(test_declarations),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_azure_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
