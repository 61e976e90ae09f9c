/*
 * test_common.c - times, UTF-8, JSON writing and scanning, arenas.
 */
#include "support_test.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/json_scan.h"
#include "common/timefmt.h"
#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

static void test_time_roundtrip(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(timefmt_parse_iso("2026-11-24T02:04:13.528Z", 24, &ms), 0);
    assert_int_equal(ms, 1795485853528LL);
    char out[TIMEFMT_ISO_LEN];
    timefmt_iso(ms, out);
    assert_string_equal(out, "2026-11-24T02:04:13.528Z");
    timefmt_iso(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

static void test_time_forms(void **state)
{
    (void)state;
    int64_t a, b;
    /* offsets, fraction digits, a space, no zone (UTC) */
    assert_int_equal(timefmt_parse_iso("2026-11-24T04:04:13.5+02:00", 27, &a), 0);
    assert_int_equal(timefmt_parse_iso("2026-11-24T02:04:13.500Z", 24, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(timefmt_parse_iso("2026-11-24 02:04:13.500123", 26, &a), 0);
    assert_int_equal(a, b);
    assert_int_equal(timefmt_parse_iso("2026-11-24T01:04:13.5-0100", 26, &a), 0);
    assert_int_equal(a, b);
    assert_int_equal(timefmt_parse_iso("2024-02-29", 10, &a), 0);
    assert_int_equal(a, 1709164800000LL);
}

static void test_time_rejects(void **state)
{
    (void)state;
    int64_t ms;
    const char *bad[] = {"", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                         "2025-02-29", "1969-12-31T23:59:59Z", "2026-11-24T25:00:00Z",
                         "2026-11-24T02:04:13.Z", "2026-11-24T02:04:13Zjunk", "2026-1-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(timefmt_parse_iso(bad[i], strlen(bad[i]), &ms), -1);
}

static void test_utf8(void **state)
{
    (void)state;
    size_t bad;
    assert_true(utf8_valid("plain ascii", 11, NULL));
    assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, NULL));
    assert_false(utf8_valid("ab\xff", 3, &bad));
    assert_int_equal(bad, 2);
    assert_false(utf8_valid("\xc0\xaf", 2, NULL));         /* overlong '/' */
    assert_false(utf8_valid("\xed\xa0\x80", 3, NULL));     /* a surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4, NULL)); /* above U+10FFFF */
    assert_false(utf8_valid("\xe2\x82", 2, NULL));         /* truncated */
    assert_false(utf8_valid("0123456789abcdef\x80", 17, &bad));
    assert_int_equal(bad, 16);
}

static void test_json_writing(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    json_str(&b, "a\"b\\c\n\x01\xff\xc3\xa9");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\xc3\xa9\"");
    buf_reset(&b);
    json_double(&b, 0.1);
    assert_string_equal(b.data, "0.1");
    buf_reset(&b);
    json_double(&b, 1.0 / 0.0);
    assert_string_equal(b.data, "null");
    buf_reset(&b);
    json_time(&b, 1795485853528LL);
    assert_string_equal(b.data, "\"2026-11-24T02:04:13.528Z\"");
    buf_free(&b);
}

static void test_json_scan_spans(void **state)
{
    (void)state;
    const char *s = " {\"batch\": [ {\"a\":1}, [2,3] , \"x\\\"y\", 12345678901234567890 ],\"k\":true} ";
    size_t n = strlen(s), i = 0;
    struct json_scan_info info = {0, 0};
    assert_int_equal(json_skip_value(s, n, &i, &info), 0);
    assert_true(json_skip_ws_to_end(s, n, &i));
    assert_int_equal(info.max_depth, 3);
    struct json_span batch;
    assert_int_equal(json_object_find(s, n, "batch", &batch), 1);
    struct json_iter it;
    assert_int_equal(json_iter_begin(&it, batch.p, batch.n, '['), 0);
    struct json_span v;
    const char *want[] = {"{\"a\":1}", "[2,3]", "\"x\\\"y\"", "12345678901234567890"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(json_iter_elem(&it, &v, NULL), 1);
        assert_int_equal(v.n, strlen(want[k]));
        assert_memory_equal(v.p, want[k], v.n);
    }
    assert_int_equal(json_iter_elem(&it, &v, NULL), 0);
    assert_int_equal(json_object_find(s, n, "missing", &v), 0);
}

static void test_json_scan_errors_and_flags(void **state)
{
    (void)state;
    const char *bad[] = {"{", "[1,]", "{\"a\" 1}", "{\"a\":01}", "[tru]", "\"abc", "[1 2]",
                         "{\"a\":\"\\x\"}", "[\"\\u12g4\"]", "{,}", "[1.]", "-"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        size_t i = 0;
        assert_int_equal(json_skip_value(bad[k], strlen(bad[k]), &i, NULL), -1);
    }
    struct json_scan_info info = {0, 0};
    size_t i = 0;
    const char *f = "[\"a\\u0000b\", \"raw\ttab\"]";
    assert_int_equal(json_skip_value(f, strlen(f), &i, &info), 0);
    assert_true(info.flags & JSON_SCAN_NUL_ESCAPE);
    assert_true(info.flags & JSON_SCAN_CTRL_CHAR);
    /* Deep nesting is followed without recursion. */
    size_t depth = 20000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    i = 0;
    memset(&info, 0, sizeof info);
    assert_int_equal(json_skip_value(deep, 2 * depth, &i, &info), 0);
    assert_int_equal(info.max_depth, (int)depth);
    deep[2 * depth - 1] = '}';
    i = 0;
    assert_int_equal(json_skip_value(deep, 2 * depth, &i, NULL), -1);
    free(deep);
}

static void test_arena(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, 64);
    char *s = arena_strdup(&a, "hello");
    void *big = arena_alloc(&a, 1000);
    memset(big, 7, 1000);
    char *t = arena_strndup(&a, "world!", 5);
    assert_string_equal(s, "hello");
    assert_string_equal(t, "world");
    assert_int_equal((uintptr_t)big % 16, 0);
    arena_free(&a);
    arena_free(&a); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_time_forms),
        cmocka_unit_test(test_time_rejects),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_json_writing),
        cmocka_unit_test(test_json_scan_spans),
        cmocka_unit_test(test_json_scan_errors_and_flags),
        cmocka_unit_test(test_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
