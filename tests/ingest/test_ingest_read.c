/*
 * test_ingest_read.c - reading messages without a tree: the cases where the
 * span reader must agree with the cJSON lookups it replaced (keys spelled
 * with escapes, repeated keys, numbers as ids, invalid surrogates), the IP
 * rewrite keeping the client's bytes, bodies taken over instead of copied,
 * the write key looked up late; and the commit hooks, called once per group
 * commit with the rows of all its batches.
 */
#include "support_test.h"

#include "common/util.h"
#include "config/config.h"
#include "ingest/ingest_internal.h"
#include "ingest/useragent.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define RECEIVED 1795600000000LL

static int open_fixture(void **state, int commit_delay_ms)
{
    char delay[16];
    snprintf(delay, sizeof delay, "%d", commit_delay_ms);
    setenv("JOURNEY_FAULT_COMMIT_DELAY_MS", delay, 1); /* read when the writer starts */
    *state = test_env_open(0, 0, 1);
    unsetenv("JOURNEY_FAULT_COMMIT_DELAY_MS");
    return *state ? 0 : -1;
}

static int setup(void **state)
{
    return open_fixture(state, 0);
}

static int setup_slow_commits(void **state)
{
    return open_fixture(state, 40);
}

static int teardown(void **state)
{
    test_env_close(*state);
    return 0;
}

static struct ingest_batch *new_batch(struct test_env *f, bool batch, const char *encoding)
{
    struct ingest_request req = {
        .format = INGEST_FORMAT_SEGMENT,
        .type = batch ? INGEST_TYPE_FROM_BODY : INGEST_TRACK,
        .batch = batch,
        .route = "/test",
        .request_id = "req-1",
        .content_encoding = encoding,
        .user_agent = "analytics-node-next/latest",
        .client_ip = "198.51.100.23",
        .received_at = RECEIVED,
    };
    return ingest_batch_new(f->ig, &req);
}

static struct ingest_batch *run(struct test_env *f, bool batch, const char *body)
{
    struct ingest_batch *b = new_batch(f, batch, NULL);
    struct ingest_error err = {0};
    if (ingest_batch_decode(b, body, strlen(body), &err) || ingest_batch_parse(b, &err))
        fail_msg("request error %d %s: %s", err.status, err.code, err.message);
    ingest_batch_normalize(b, 1);
    return b;
}

static void test_escaped_and_repeated_keys(void **state)
{
    struct test_env *f = *state;
    /* "\u0075serId" is userId; of two "event" members the first counts (as
     * cJSON's lookup did); the escaped "\u0063ontext" is searched too. */
    struct ingest_batch *b =
        run(f, false,
            "{\"\\u0075serId\":\"u\\u00e9\",\"event\":\"first\",\"event\":\"second\","
            "\"\\u0063ontext\":{\"page\":{\"path\":\"/p\\/q\"}},\"messageId\":42}");
    assert_int_equal(b->n_msgs, 1);
    struct store_event *r = &b->msgs[0].row;
    assert_string_equal(r->user_id, "u\xc3\xa9");
    assert_string_equal(r->event, "first");
    assert_string_equal(r->path, "/p/q");
    assert_string_equal(r->message_id, "42");
    ingest_batch_free(b);
    /* A type that is not a string fails on the first "userId", not a later one. */
    b = run(f, false, "{\"event\":\"e\",\"userId\":{},\"userId\":\"u\"}");
    assert_int_equal(b->n_rejects, 1);
    assert_string_equal(b->rejects[0].code, "wrong_type");
    assert_string_equal(b->rejects[0].field, "userId");
    ingest_batch_free(b);
}

static void test_invalid_surrogate_is_invalid_json(void **state)
{
    struct test_env *f = *state;
    struct ingest_batch *b =
        run(f, true,
            "{\"batch\":[{\"type\":\"track\",\"event\":\"\\ud800\",\"userId\":\"u\"},"
            "{\"type\":\"track\",\"event\":\"\\ud83d\\ude00\",\"userId\":\"u\"}]}");
    assert_int_equal(b->n_rejects, 1);
    assert_string_equal(b->rejects[0].code, "invalid_json");
    assert_int_equal(b->n_msgs, 1);
    assert_string_equal(b->msgs[0].row.event, "\xf0\x9f\x98\x80");
    ingest_batch_free(b);
}

static void test_ip_rewrite_keeps_the_text(void **state)
{
    struct test_env *f = *state;
    /* The key is spelled with an escape and numbers carry every digit: only
     * the address changes in the stored payload. */
    const char *msg = "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"n\":1.50,"
                      "\"context\":{\"\\u0069p\":\"203.0.113.77\",\"x\":1e2}}";
    char body[512];
    snprintf(body, sizeof body, "{\"batch\":[%s]}", msg);
    struct ingest_batch *b = run(f, true, body);
    assert_int_equal(b->n_msgs, 1);
    struct store_event *r = &b->msgs[0].row;
    assert_string_equal(r->ip, "203.0.113.0");
    const char *want = "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"n\":1.50,"
                       "\"context\":{\"\\u0069p\":\"203.0.113.0\",\"x\":1e2}}";
    assert_int_equal(r->payload_len, strlen(want));
    assert_memory_equal(r->payload, want, r->payload_len);
    ingest_batch_free(b);
}

static void test_body_taken_and_write_key_late(void **state)
{
    struct test_env *f = *state;
    const char *text =
        "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"writeKey\":\"w\\u0041\"}";
    struct buf body = BUF_INIT;
    buf_puts(&body, text);
    char *data = body.data;
    struct ingest_batch *b = new_batch(f, false, "identity");
    struct ingest_error err = {0};
    assert_int_equal(ingest_batch_decode_take(b, &body, &err), 0);
    assert_null(body.data);               /* taken over ... */
    assert_ptr_equal(b->body.data, data); /* ... not copied */
    assert_int_equal(ingest_batch_parse(b, &err), 0);
    assert_string_equal(ingest_batch_write_key(b), "wA");
    ingest_batch_free(b);

    /* A body that needs decoding is decoded and left to its owner:
     * raw deflate (no zlib header), as some clients send it. */
    unsigned char def[256];
    z_stream zs = {0};
    deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (unsigned char *)text;
    zs.avail_in = (uInt)strlen(text);
    zs.next_out = def;
    zs.avail_out = sizeof def;
    deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    buf_append(&body, def, n);
    b = new_batch(f, false, "deflate");
    assert_int_equal(ingest_batch_decode_take(b, &body, &err), 0);
    assert_non_null(body.data);
    assert_int_equal(b->body.len, strlen(text));
    assert_memory_equal(b->body.data, text, b->body.len);
    buf_free(&body);
    ingest_batch_free(b);
}

static void test_useragent_cache_answers_like_the_parser(void **state)
{
    (void)state;
    const char *uas[] = {
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
        "curl/8.0.1",
        "Googlebot/2.1",
    };
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof uas / sizeof *uas; i++) {
            struct user_agent a;
            useragent_parse(uas[i], strlen(uas[i]), &a);
            if (i == 0)
                assert_string_equal(a.os, "iOS");
            if (i == 1)
                assert_string_equal(a.browser, "Chrome");
            if (i == 2)
                assert_string_equal(a.device_class, "server");
            if (i == 3)
                assert_string_equal(a.device_class, "bot");
        }
    }
}

/* ---- the commit hooks -------------------------------------------------- */

struct hook_log {
    atomic_int calls;
    atomic_int rows;
};

static void count_hook(void *ctx, const struct store_event *const *events, const int64_t *ids,
                       size_t n)
{
    struct hook_log *h = ctx;
    for (size_t i = 0; i < n; i++)
        assert_true(ids[i] > 0 && events[i]->message_id != NULL);
    atomic_fetch_add(&h->calls, 1);
    atomic_fetch_add(&h->rows, (int)n);
}

static void done_cb(struct ingest_batch *b, int rc, void *arg)
{
    (void)b;
    atomic_store((atomic_int *)arg, rc);
}

static void test_hooks_once_per_group(void **state)
{
    struct test_env *f = *state;
    struct hook_log log = {0};
    ingest_add_commit_hook(f->ig, count_hook, &log);
    enum { N = 6 };
    struct ingest_batch *b[N];
    atomic_int rc[N];
    /* Every commit takes 40 ms (fault injection): the first batch commits on
     * its own, the five sent meanwhile share the next group commit, and the
     * hooks see each group's rows in one call (one per batch before). */
    for (int i = 0; i < N; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"batch\":[{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"messageId\":"
                 "\"g-%d-a\"},{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"messageId\":"
                 "\"g-%d-b\"}]}",
                 i, i);
        b[i] = run(f, true, body);
        atomic_init(&rc[i], 99);
        assert_int_equal(ingest_batch_submit(b[i], done_cb, &rc[i]), 0);
        if (i == 0) {
            struct timespec ts = {0, 5 * 1000000};
            nanosleep(&ts, NULL); /* the writer has taken the first one */
        }
    }
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 5000 && atomic_load(&rc[i]) == 99; k++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        assert_int_equal(atomic_load(&rc[i]), 0);
    }
    assert_int_equal(atomic_load(&log.rows), 2 * N);
    /* 2 on a quiet machine; a descheduled test thread may split them once more. */
    assert_in_range(atomic_load(&log.calls), 1, 3);
    for (int i = 0; i < N; i++)
        ingest_batch_free(b[i]);
    ingest_clear_commit_hooks(f->ig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_escaped_and_repeated_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_surrogate_is_invalid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_rewrite_keeps_the_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_taken_and_write_key_late, setup, teardown),
        cmocka_unit_test(test_useragent_cache_answers_like_the_parser),
        cmocka_unit_test_setup_teardown(test_hooks_once_per_group, setup_slow_commits, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
