/*
 * test_ingest.c - decoding, parsing, validation, time correction and the
 * PostHog mapping, on batches built from literal bodies; and the writer job
 * end to end against a real SQLite file.
 */
#include "support_test.h"

#include "common/util.h"
#include "config/config.h"
#include "ingest/ingest_internal.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define RECEIVED 1795600000000LL /* 2026-11-25T09:46:40.000Z */

static int setup(void **state)
{
    *state = test_env_open(0, 0, 1);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    test_env_close(*state);
    return 0;
}

static struct ingest_batch *batch_for(struct test_env *f, enum ingest_type type, bool batch,
                                      enum ingest_format format)
{
    struct ingest_request req = {
        .format = format,
        .type = type,
        .batch = batch,
        .route = "/test",
        .request_id = "req-1",
        .user_agent = "analytics-node-next/latest",
        .client_ip = "198.51.100.23",
        .received_at = RECEIVED,
    };
    return ingest_batch_new(f->ig, &req);
}

/* Decodes, parses and normalises body; asserts the request-level outcome. */
static struct ingest_batch *run(struct test_env *f, enum ingest_type type, bool batch,
                                const char *body, int want_status)
{
    struct ingest_batch *b = batch_for(f, type, batch, INGEST_FORMAT_SEGMENT);
    struct ingest_error err = {0};
    int rc = ingest_batch_decode(b, body, strlen(body), &err);
    if (rc == 0)
        rc = ingest_batch_parse(b, &err);
    if (want_status) {
        assert_int_equal(rc, -1);
        assert_int_equal(err.status, want_status);
        return b;
    }
    if (rc)
        fail_msg("unexpected request error %d %s: %s", err.status, err.code, err.message);
    ingest_batch_normalize(b, 1);
    return b;
}

static const char *reject_code(struct ingest_batch *b, size_t i)
{
    return i < b->n_rejects ? b->rejects[i].code : "(none)";
}

/* ---- decoding ---------------------------------------------------------- */

static size_t gzip(const char *in, size_t n, unsigned char *out, size_t cap)
{
    z_stream zs = {0};
    deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    size_t len = zs.total_out;
    deflateEnd(&zs);
    return len;
}

static void test_decode_gzip_by_header_and_magic(void **state)
{
    struct test_env *f = *state;
    const char *body = "{\"batch\":[{\"type\":\"track\",\"event\":\"E\",\"userId\":\"u\"}]}";
    unsigned char gz[512];
    size_t n = gzip(body, strlen(body), gz, sizeof gz);
    struct ingest_error err;
    for (int labelled = 0; labelled < 2; labelled++) {
        struct ingest_batch *b = batch_for(f, INGEST_TYPE_FROM_BODY, true, INGEST_FORMAT_SEGMENT);
        b->req.content_encoding = labelled ? "gzip" : NULL; /* magic bytes alone suffice */
        assert_int_equal(ingest_batch_decode(b, gz, n, &err), 0);
        assert_int_equal(b->body.len, strlen(body));
        assert_memory_equal(b->body.data, body, b->body.len);
        ingest_batch_free(b);
    }
    /* Truncated gzip: 400, raw bytes kept for the dead letter. */
    struct ingest_batch *b = batch_for(f, INGEST_TYPE_FROM_BODY, true, INGEST_FORMAT_SEGMENT);
    assert_int_equal(ingest_batch_decode(b, gz, n - 8 > 20 ? 20 : n - 8, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "invalid_encoding");
    assert_int_equal(b->body.len, 20);
    ingest_batch_free(b);
    /* Unknown encoding: 415. */
    b = batch_for(f, INGEST_TYPE_FROM_BODY, true, INGEST_FORMAT_SEGMENT);
    b->req.content_encoding = "br";
    assert_int_equal(ingest_batch_decode(b, body, strlen(body), &err), -1);
    assert_int_equal(err.status, 415);
    ingest_batch_free(b);
}

static void test_decode_gzip_bomb_capped(void **state)
{
    struct test_env *f = *state;
    size_t big = 50u << 20; /* 50 MB of zeros compress to ~50 KB */
    char *zeros = calloc(1, big);
    size_t cap = big / 500 + 1024;
    unsigned char *gz = malloc(cap);
    size_t n = gzip(zeros, big, gz, cap);
    free(zeros);
    assert_true(n < 200 * 1024);
    struct ingest_batch *b = batch_for(f, INGEST_TYPE_FROM_BODY, true, INGEST_FORMAT_SEGMENT);
    struct ingest_error err;
    assert_int_equal(ingest_batch_decode(b, gz, n, &err), -1);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.code, "body_too_large");
    assert_true(b->body.cap < 2u << 20); /* stopped near the cap, not at 50 MB */
    ingest_batch_free(b);
    free(gz);
}

/* ---- request-level errors ---------------------------------------------- */

static void test_request_errors(void **state)
{
    struct test_env *f = *state;
    struct {
        const char *body;
        bool batch;
        int status;
        const char *code;
    } cases[] = {
        {"{\"batch\":[{\"type\":\"track\"", true, 400, "invalid_json"},
        {"{\"batch\": 5}", true, 400, "wrong_type"},
        {"{\"events\": []}", true, 400, "missing_field"},
        {"[1,2,3]", true, 400, "wrong_type"},
        {"{} trailing", false, 400, "invalid_json"},
        {"{\"a\":1}\0{}", false, 400, "invalid_json"},
        {"", false, 400, "empty_body"},
        {"{\"k\xff\":1, \"batch\":[]}", true, 400, "invalid_utf8"},
        /* fuzz B2: an invalid byte inside a message did hide a later one outside */
        {"{\"batch\":[{\"type\":\"track\",\"event\":\"\xff\",\"userId\":\"u\"}],\"x\xff\":1}", true,
         400, "invalid_utf8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ingest_batch *b = batch_for(f, cases[i].batch ? INGEST_TYPE_FROM_BODY : INGEST_TRACK,
                                           cases[i].batch, INGEST_FORMAT_SEGMENT);
        struct ingest_error err = {0};
        size_t len = strlen(cases[i].body);
        if (i == 5)
            len = 10; /* includes the NUL byte */
        int rc = ingest_batch_decode(b, cases[i].body, len, &err);
        if (rc == 0)
            rc = ingest_batch_parse(b, &err);
        assert_int_equal(rc, -1);
        assert_int_equal(err.status, cases[i].status);
        assert_string_equal(err.code, cases[i].code);
        ingest_batch_free(b);
    }
}

static void test_too_many_messages(void **state)
{
    struct test_env *f = *state;
    struct buf body = BUF_INIT;
    buf_puts(&body, "{\"batch\":[");
    for (int i = 0; i < 2501; i++)
        buf_puts(&body, i ? ",{}" : "{}");
    buf_puts(&body, "]}");
    struct ingest_batch *b = run(f, INGEST_TYPE_FROM_BODY, true, body.data, 413);
    ingest_batch_free(b);
    buf_free(&body);
}

/* ---- message validation ------------------------------------------------ */

static void test_message_rejects(void **state)
{
    struct test_env *f = *state;
    struct {
        const char *msg;
        const char *code;
        const char *field;
    } cases[] = {
        {"{\"type\":\"track\",\"event\":\"E\"}", "missing_id", "batch[0].userId"},
        {"{\"type\":\"track\",\"event\":\"E\",\"userId\":null,\"anonymousId\":\"\"}", "missing_id",
         "batch[0].userId"},
        {"{\"type\":\"track\",\"userId\":\"u\"}", "missing_field", "batch[0].event"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"\"}", "missing_field", "batch[0].event"},
        {"{\"userId\":\"u\",\"event\":\"E\"}", "missing_field", "batch[0].type"},
        {"{\"type\":\"purchase\",\"userId\":\"u\"}", "invalid_type", "batch[0].type"},
        {"{\"type\":\"track\",\"userId\":{\"a\":1},\"event\":\"E\"}", "wrong_type",
         "batch[0].userId"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":7}", "wrong_type", "batch[0].event"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"properties\":[1]}", "wrong_type",
         "batch[0].properties"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"context\":{\"page\":\"/x\"}}",
         "wrong_type", "batch[0].context.page"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"timestamp\":\"yesterday\"}",
         "invalid_timestamp", "batch[0].timestamp"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\",\"sentAt\":12}", "wrong_type",
         "batch[0].sentAt"},
        {"{\"type\":\"group\",\"userId\":\"u\"}", "missing_field", "batch[0].groupId"},
        {"{\"type\":\"alias\",\"userId\":\"u\"}", "missing_field", "batch[0].previousId"},
        {"\"just a string\"", "not_an_object", "batch[0]"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\\u0000\"}", "nul_character",
         "batch[0]"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\tb\"}", "control_character",
         "batch[0]"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"caf\xe9\"}", "invalid_utf8", "batch[0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body =
            xasprintf("{\"batch\":[%s,{\"type\":\"page\",\"anonymousId\":\"a\"}]}", cases[i].msg);
        struct ingest_batch *b = run(f, INGEST_TYPE_FROM_BODY, true, body, 0);
        if (b->n_rejects != 1 || strcmp(reject_code(b, 0), cases[i].code) != 0)
            fail_msg("case %zu (%s): got %zu rejects, first %s", i, cases[i].msg, b->n_rejects,
                     reject_code(b, 0));
        assert_string_equal(b->rejects[0].field, cases[i].field);
        assert_int_equal(b->n_msgs, 1); /* the good message beside it is kept */
        assert_int_equal(b->n_dead, 1);
        assert_string_equal(b->dead[0].kind, "message");
        ingest_batch_free(b);
        free(body);
    }
}

static void test_size_and_depth_limits(void **state)
{
    struct test_env *f = *state;
    /* 40 KB message beside a small one: the big one is quarantined only. */
    struct buf body = BUF_INIT;
    buf_puts(&body, "{\"batch\":[{\"type\":\"track\",\"event\":\"Huge\",\"userId\":\"u\","
                    "\"properties\":{\"blob\":\"");
    for (int i = 0; i < 40000; i++)
        buf_putc(&body, 'x');
    buf_puts(&body, "\"}},{\"type\":\"track\",\"event\":\"Small\",\"userId\":\"u\"}]}");
    struct ingest_batch *b = run(f, INGEST_TYPE_FROM_BODY, true, body.data, 0);
    assert_int_equal(b->n_msgs, 1);
    assert_string_equal(reject_code(b, 0), "message_too_large");
    ingest_batch_free(b);
    buf_free(&body);

    /* Nested 100 deep inside properties: quarantined; 60 deep: fine. */
    for (int depth = 60; depth <= 100; depth += 40) {
        buf_puts(&body, "{\"type\":\"track\",\"event\":\"Deep\",\"userId\":\"u\",\"properties\":");
        for (int i = 0; i < depth; i++)
            buf_puts(&body, "{\"a\":");
        buf_puts(&body, "1");
        for (int i = 0; i < depth; i++)
            buf_putc(&body, '}');
        buf_puts(&body, "}");
        b = run(f, INGEST_TRACK, false, body.data, 0);
        if (depth == 60) {
            assert_int_equal(b->n_msgs, 1);
        } else {
            assert_int_equal(b->n_msgs, 0);
            assert_string_equal(reject_code(b, 0), "too_deep");
        }
        ingest_batch_free(b);
        buf_reset(&body);
    }
    buf_free(&body);
}

static void test_unknown_fields_and_numbers_kept(void **state)
{
    struct test_env *f = *state;
    const char *msg = "{\"type\":\"track\",\"event\":\"E\",\"userId\":42,\"messageId\":\"m-1\","
                      "\"properties\":{\"big\":12345678901234567890,\"huge\":1e400},"
                      "\"myOwnField\":{\"x\":[1,2]}}";
    struct ingest_batch *b = run(f, INGEST_TRACK, false, msg, 0);
    assert_int_equal(b->n_msgs, 1);
    struct store_event *e = &b->msgs[0].row;
    assert_string_equal(e->user_id, "42");
    assert_string_equal(e->message_id, "m-1");
    /* Byte for byte what was sent. */
    assert_int_equal(e->payload_len, strlen(msg));
    assert_memory_equal(e->payload, msg, e->payload_len);
    ingest_batch_free(b);
}

/* ---- times --------------------------------------------------------------- */

static void test_clock_skew(void **state)
{
    struct test_env *f = *state;
    /* The client clock is 1 hour behind; the message waited 3 s in its queue.
     * timestamp = receivedAt - (sentAt - originalTimestamp) = RECEIVED - 3 s. */
    const char *skewed = "{\"type\":\"track\",\"event\":\"E\",\"anonymousId\":\"a\","
                         "\"originalTimestamp\":\"2026-11-25T08:46:37.000Z\","
                         "\"sentAt\":\"2026-11-25T08:46:40.000Z\"}";
    struct ingest_batch *b = run(f, INGEST_TRACK, false, skewed, 0);
    struct store_event *e = &b->msgs[0].row;
    assert_int_equal(e->timestamp, RECEIVED - 3000);
    assert_int_equal(e->original_timestamp, RECEIVED - 3600000 - 3000);
    assert_int_equal(e->sent_at, RECEIVED - 3600000);
    assert_int_equal(e->received_at, RECEIVED);
    ingest_batch_free(b);

    /* sentAt at the batch level works the same. */
    const char *batch = "{\"sentAt\":\"2026-11-25T08:46:40.000Z\",\"batch\":[{\"type\":\"track\","
                        "\"event\":\"E\",\"anonymousId\":\"a\","
                        "\"originalTimestamp\":\"2026-11-25T08:46:38.500Z\"}]}";
    b = run(f, INGEST_TYPE_FROM_BODY, true, batch, 0);
    assert_int_equal(b->msgs[0].row.timestamp, RECEIVED - 1500);
    ingest_batch_free(b);

    /* A message's own timestamp is kept as sent (historical imports). */
    const char *stamped = "{\"type\":\"track\",\"event\":\"E\",\"anonymousId\":\"a\","
                          "\"timestamp\":\"2020-01-01T00:00:00.000Z\","
                          "\"originalTimestamp\":\"2026-11-25T08:46:37.000Z\","
                          "\"sentAt\":\"2026-11-25T08:46:40.000Z\"}";
    b = run(f, INGEST_TRACK, false, stamped, 0);
    assert_int_equal(b->msgs[0].row.timestamp, 1577836800000LL);
    ingest_batch_free(b);

    /* Nothing to go on: receivedAt. A future result is clamped to receivedAt. */
    b = run(f, INGEST_TRACK, false, "{\"event\":\"E\",\"anonymousId\":\"a\"}", 0);
    assert_int_equal(b->msgs[0].row.timestamp, RECEIVED);
    ingest_batch_free(b);
    b = run(f, INGEST_TRACK, false,
            "{\"event\":\"E\",\"anonymousId\":\"a\",\"timestamp\":\"2030-01-01T00:00:00Z\"}", 0);
    assert_int_equal(b->msgs[0].row.timestamp, RECEIVED);
    ingest_batch_free(b);
    b = run(f, INGEST_TRACK, false,
            "{\"event\":\"E\",\"anonymousId\":\"a\",\"originalTimestamp\":\"2026-11-25T09:46:50Z\","
            "\"sentAt\":\"2026-11-25T09:46:45Z\"}",
            0);
    assert_int_equal(b->msgs[0].row.timestamp, RECEIVED); /* sentAt before the event: clamp */
    ingest_batch_free(b);

    /* The SentAt header (RudderStack browser) is the last resort for sentAt. */
    struct ingest_batch *h = batch_for(f, INGEST_TRACK, false, INGEST_FORMAT_SEGMENT);
    h->req.header_sent_at = "2026-11-25T08:46:40.000Z";
    const char *m = "{\"event\":\"E\",\"anonymousId\":\"a\","
                    "\"originalTimestamp\":\"2026-11-25T08:46:39.000Z\"}";
    struct ingest_error err;
    assert_int_equal(ingest_batch_decode(h, m, strlen(m), &err), 0);
    assert_int_equal(ingest_batch_parse(h, &err), 0);
    ingest_batch_normalize(h, 1);
    assert_int_equal(h->msgs[0].row.timestamp, RECEIVED - 1000);
    ingest_batch_free(h);
}

/* ---- enrichment -------------------------------------------------------- */

static void test_enrichment_and_ip_rewrite(void **state)
{
    struct test_env *f = *state;
    const char *msg =
        "{\"type\":\"page\",\"anonymousId\":\"a\",\"properties\":{\"url\":"
        "\"https://shop.example/pricing?x=1#top\"},\"context\":{\"ip\":\"203.0.113.77\","
        "\"sessionId\":1795600000000,\"userAgent\":\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like "
        "Mac OS X) AppleWebKit/605.1.15 Version/17.2 Mobile/15E148 Safari/604.1\"}}";
    struct ingest_batch *b = run(f, INGEST_PAGE, false, msg, 0);
    struct store_event *e = &b->msgs[0].row;
    assert_string_equal(e->path, "/pricing");
    assert_string_equal(e->session_id, "1795600000000");
    assert_string_equal(e->device_class, "mobile");
    assert_string_equal(e->os, "iOS");
    assert_string_equal(e->ip, "203.0.113.0");
    /* The raw IP does not survive in the stored payload either. */
    assert_null(strstr(e->payload, "203.0.113.77"));
    assert_non_null(strstr(e->payload, "\"ip\":\"203.0.113.0\""));
    assert_int_equal(e->payload_len, strlen(msg) - 1);
    ingest_batch_free(b);

    /* Without context.ip the connection's address is used (anonymised). */
    b = run(f, INGEST_TRACK, false, "{\"event\":\"E\",\"userId\":\"u\"}", 0);
    assert_string_equal(b->msgs[0].row.ip, "198.51.100.0");
    assert_string_equal(b->msgs[0].row.device_class, "server");
    assert_false(b->msgs[0].has_key); /* no messageId: a generated one, no dedup */
    assert_true(str_has_prefix(b->msgs[0].row.message_id, "jrn-"));
    ingest_batch_free(b);
}

/* fuzz B1: ip_mode holds for every duplicate of context.ip (and of context),
 * also when the first one read is absent or null, in stored payloads and in
 * dead letters alike. */
static void test_ip_duplicates_never_kept(void **state)
{
    struct test_env *f = *state;
    const char *stored[] = {
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{},\"context\":{\"ip\":\"203.0.113.7\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"ip\":null,\"ip\":\"203.0.113.7\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":null,\"context\":{\"ip\":\"203.0.113.7\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"ip\":\"203.0.113.9\",\"ip\":\"203.0.113."
        "7\"}}",
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":{\"\\u0069p\":\"203.0.113.7\"}}",
    };
    for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
        struct ingest_batch *b = run(f, INGEST_TRACK, false, stored[i], 0);
        assert_int_equal(b->n_msgs, 1);
        if (strstr(b->msgs[0].row.payload, "203.0.113.7"))
            fail_msg("case %zu: the raw IP is stored: %s", i, b->msgs[0].row.payload);
        ingest_batch_free(b);
    }
    /* Quarantined ("context" is not an object), its raw copy rewritten too. */
    struct ingest_batch *b = run(
        f, INGEST_TRACK, false,
        "{\"event\":\"E\",\"userId\":\"u\",\"context\":\"x\",\"context\":{\"ip\":\"203.0.113.7\"}}",
        0);
    assert_int_equal(b->n_dead, 1);
    assert_null(memmem(b->dead[0].raw, b->dead[0].raw_len, "203.0.113.7", 11));
    ingest_batch_free(b);
}

static void test_posthog_mapping(void **state)
{
    struct test_env *f = *state;
    const char *body =
        "{\"api_key\":\"phc_KEY\",\"sent_at\":\"2026-11-25T09:46:40.000Z\",\"batch\":["
        "{\"event\":\"$pageview\",\"uuid\":\"u-1\",\"distinct_id\":\"dev-1\","
        "\"timestamp\":\"2026-11-25T09:46:38.000Z\",\"properties\":{\"$current_url\":"
        "\"https://app.example/pricing?utm=1\",\"$session_id\":\"s-9\",\"$device_id\":\"dev-1\","
        "\"title\":\"Pricing\",\"$ip\":\"203.0.113.9\"}},"
        "{\"event\":\"order completed\",\"uuid\":\"u-2\",\"distinct_id\":\"u-123\","
        "\"properties\":{\"$is_server\":true,\"revenue\":4}},"
        "{\"event\":\"$identify\",\"distinct_id\":\"u-123\",\"properties\":{\"$anon_distinct_id\":"
        "\"dev-1\"}},"
        "{\"distinct_id\":\"x\"}]}";
    struct ingest_batch *b = batch_for(f, INGEST_TYPE_FROM_BODY, true, INGEST_FORMAT_POSTHOG);
    struct ingest_error err;
    assert_int_equal(ingest_batch_decode(b, body, strlen(body), &err), 0);
    assert_int_equal(ingest_batch_parse(b, &err), 0);
    assert_string_equal(ingest_batch_write_key(b), "phc_KEY");
    ingest_batch_normalize(b, 1);
    assert_int_equal(b->n_msgs, 3);
    assert_string_equal(reject_code(b, 0), "missing_field"); /* no event */
    struct store_event *pv = &b->msgs[0].row;
    assert_string_equal(pv->type, "page");
    assert_string_equal(pv->event, "Pricing");
    assert_string_equal(pv->message_id, "u-1");
    assert_string_equal(pv->anonymous_id, "dev-1");
    assert_null(pv->user_id);
    assert_string_equal(pv->session_id, "s-9");
    assert_string_equal(pv->path, "/pricing");
    assert_string_equal(pv->ip, "203.0.113.0");
    assert_null(strstr(pv->payload, "203.0.113.9"));
    assert_int_equal(pv->timestamp, RECEIVED - 2000); /* corrected by sent_at */
    struct store_event *tr = &b->msgs[1].row;
    assert_string_equal(tr->type, "track");
    assert_string_equal(tr->event, "order completed");
    assert_string_equal(tr->user_id, "u-123");
    assert_string_equal(b->msgs[2].row.type, "identify");
    assert_string_equal(b->msgs[2].row.user_id, "u-123");
    ingest_batch_free(b);
}

/* ---- the writer job ---------------------------------------------------- */

static void done_cb(struct ingest_batch *b, int rc, void *arg)
{
    (void)b;
    *(int *)arg = rc;
}

static void test_commit_dedups_and_sessions(void **state)
{
    struct test_env *f = *state;
    const char *body = "{\"batch\":[{\"type\":\"track\",\"event\":\"A\",\"anonymousId\":\"v1\","
                       "\"messageId\":\"dup-1\"},{\"type\":\"track\",\"event\":\"B\","
                       "\"anonymousId\":\"v1\",\"messageId\":\"dup-2\"},{\"type\":\"track\"}]}";
    for (int round = 0; round < 2; round++) {
        struct ingest_batch *b = run(f, INGEST_TYPE_FROM_BODY, true, body, 0);
        int rc = 99;
        assert_int_equal(ingest_batch_submit(b, done_cb, &rc), 0);
        /* wait for the writer */
        for (int i = 0; i < 2000 && rc == 99; i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        assert_int_equal(rc, 0);
        struct ingest_counts c;
        ingest_batch_counts(b, &c);
        assert_int_equal(c.accepted, round == 0 ? 2 : 0);
        assert_int_equal(c.duplicates, round == 0 ? 0 : 2);
        assert_int_equal(c.rejected, 1);
        if (round == 0) {
            /* Both events of the visitor share one derived session. */
            assert_non_null(b->msgs[0].row.session_id);
            assert_string_equal(b->msgs[0].row.session_id, b->msgs[1].row.session_id);
        }
        ingest_batch_free(b);
    }
    assert_int_equal(store_count_events(f->store, 1), 2);
    assert_int_equal(store_count_dead_letters(f->store, 1), 2);

    /* A fresh pipeline rebuilt from the store still knows the ids. */
    struct ingest_config ic = f->ig->cfg;
    struct ingest *again = ingest_new(f->store, &ic);
    assert_int_equal(ingest_restore(again, RECEIVED + 1000), 2);
    assert_int_equal(ingest_dedup_size(again), 2);
    ingest_free(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decode_gzip_by_header_and_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_gzip_bomb_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_and_depth_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fields_and_numbers_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_skew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrichment_and_ip_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_duplicates_never_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_posthog_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_dedups_and_sessions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
