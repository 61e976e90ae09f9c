/*
 * test_json_scan.c - the span scanner's fast paths and the reports the
 * ingest pipeline relies on instead of cJSON: strings skipped 16 bytes at a
 * time (every position of a stop byte inside and across the 16-byte steps),
 * the non-ASCII and bad-surrogate flags, the two-step member iteration, and
 * string decoding.
 */
#include "support_test.h"

#include "common/json_scan.h"

#include <stdio.h>
#include <string.h>

/* Skips one value; returns its end offset, or -1. */
static long skip_one(const char *s, unsigned *flags)
{
    size_t i = 0;
    struct json_scan_info info = {0, 0};
    int rc = json_skip_value(s, strlen(s), &i, &info);
    if (flags)
        *flags = info.flags;
    return rc ? -1 : (long)i;
}

static void test_strings_every_position(void **state)
{
    (void)state;
    char buf[128];
    for (int len = 0; len < 48; len++) {
        for (int at = 0; at <= len; at++) {
            /* a plain string with an escaped quote at `at` */
            char body[64];
            memset(body, 'a', (size_t)len);
            body[len] = '\0';
            snprintf(buf, sizeof buf, "\"%.*s\\\"%s\"", at, body, body + at);
            unsigned f;
            assert_int_equal(skip_one(buf, &f), (long)strlen(buf));
            assert_int_equal(f, 0);
            /* a raw control byte at `at` is flagged, not an error */
            snprintf(buf, sizeof buf, "\"%.*s\x01%s\"", at, body, body + at);
            assert_int_equal(skip_one(buf, &f), (long)strlen(buf));
            assert_int_equal(f, JSON_SCAN_CTRL_CHAR);
            /* a byte >= 0x80 at `at` sets NON_ASCII only */
            snprintf(buf, sizeof buf, "\"%.*s\xc3\xa9%s\"", at, body, body + at);
            assert_int_equal(skip_one(buf, &f), (long)strlen(buf));
            assert_int_equal(f, JSON_SCAN_NON_ASCII);
            /* unterminated: an error whatever the length */
            snprintf(buf, sizeof buf, "\"%.*s", at, body);
            assert_int_equal(skip_one(buf, NULL), -1);
        }
    }
    /* Non-ASCII after the closing quote belongs to no string: a syntax error. */
    assert_int_equal(skip_one("[\"aaaaaaaaaaaaaaaaaaaaaaaa\"\xc3\xa9]", NULL), -1);
}

static void test_surrogates(void **state)
{
    (void)state;
    unsigned f;
    assert_true(skip_one("\"\\ud83d\\ude00\"", &f) > 0);
    assert_int_equal(f, 0);
    const char *bad[] = {"\"\\ud800\"", "\"\\udc00\"", "\"\\ud83d\\u0041\"", "\"\\ud83dx\"",
                         "{\"\\ud800\":1}"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_true(skip_one(bad[k], &f) > 0);
        assert_true(f & JSON_SCAN_BAD_SURROGATE);
    }
    assert_true(skip_one("\"\\u0000\"", &f) > 0);
    assert_int_equal(f, JSON_SCAN_NUL_ESCAPE);
}

static void test_decode_string(void **state)
{
    (void)state;
    char out[64];
    const char *in = "\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\"";
    long n = json_decode_string((struct json_span){in, strlen(in)}, out);
    assert_int_equal(n, 14);
    assert_memory_equal(out, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80", 15);
    in = "\"plain\"";
    assert_int_equal(json_decode_string((struct json_span){in, strlen(in)}, out), 5);
    assert_string_equal(out, "plain");
    in = "\"\\ud800\"";
    assert_int_equal(json_decode_string((struct json_span){in, strlen(in)}, out), -1);
    in = "123";
    assert_int_equal(json_decode_string((struct json_span){in, strlen(in)}, out), -1);
}

static void test_two_step_iteration(void **state)
{
    (void)state;
    const char *s = "{ \"a\" : {\"x\":[1,2]}, \"b\":\"s\" , \"c\\u0041\":null}";
    struct json_iter it;
    assert_int_equal(json_iter_begin(&it, s, strlen(s), '{'), 0);
    struct json_span k, v;
    struct json_scan_info info = {0, 0};
    assert_int_equal(json_iter_next_key(&it, &k, &info), 1);
    assert_int_equal(k.n, 1);
    assert_int_equal(s[it.i], '{');
    /* walk the value with an iterator of its own, then step past it */
    struct json_iter in;
    assert_int_equal(json_iter_begin(&in, s + it.i, strlen(s) - it.i, '{'), 0);
    assert_int_equal(json_iter_member(&in, &k, &v, NULL), 1);
    assert_int_equal(json_iter_member(&in, &k, &v, NULL), 0);
    it.i += in.i;
    assert_int_equal(json_iter_next_key(&it, &k, &info), 1);
    assert_int_equal(json_iter_value(&it, &v, NULL), 1);
    assert_int_equal(v.n, 3);
    assert_int_equal(json_iter_next_key(&it, &k, &info), 1);
    assert_true(info.flags & JSON_SCAN_KEY_ESCAPED);
    assert_int_equal(json_iter_value(&it, &v, NULL), 1);
    assert_int_equal(json_iter_next_key(&it, &k, &info), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_every_position),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_decode_string),
        cmocka_unit_test(test_two_step_iteration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
