/*
 * test_ratelimit.c - token buckets with an injected clock.
 */
#include "support_test.h"

#include "http/ratelimit.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000000ull

static void test_burst_then_refill(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(10, 20); /* 10/s, burst 20 */
    uint64_t t = 100 * SEC;
    int64_t wait = 0;
    for (int i = 0; i < 20; i++)
        assert_true(ratelimit_take(rl, "1.2.3.4", 7, 1, t, &wait));
    assert_false(ratelimit_take(rl, "1.2.3.4", 7, 1, t, &wait));
    assert_int_equal(wait, 100); /* one token comes back in 100 ms */
    assert_false(ratelimit_take(rl, "1.2.3.4", 7, 1, t + 99 * 1000000ull, &wait));
    assert_true(ratelimit_take(rl, "1.2.3.4", 7, 1, t + 100 * 1000000ull, &wait));
    /* Other keys have their own buckets. */
    assert_true(ratelimit_take(rl, "5.6.7.8", 7, 1, t, &wait));
    /* Refill is capped at the burst. */
    for (int i = 0; i < 20; i++)
        assert_true(ratelimit_take(rl, "1.2.3.4", 7, 1, t + 3600 * SEC, &wait));
    assert_false(ratelimit_take(rl, "1.2.3.4", 7, 1, t + 3600 * SEC, &wait));
    ratelimit_free(rl);
}

static void test_costs(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(100, 1000);
    int64_t wait;
    uint64_t t = SEC;
    assert_true(ratelimit_take(rl, "k", 1, 600, t, &wait));
    assert_false(ratelimit_take(rl, "k", 1, 600, t, &wait));
    assert_int_equal(wait, 2000); /* 200 more tokens at 100/s */
    /* A cost above the burst passes when the bucket is full (else never). */
    struct ratelimit *small = ratelimit_new(1, 10);
    assert_true(ratelimit_take(small, "k", 1, 2500, t, &wait));
    assert_false(ratelimit_take(small, "k", 1, 2500, t, &wait));
    ratelimit_free(small);
    ratelimit_free(rl);
}

static void test_disabled_and_many_keys(void **state)
{
    (void)state;
    struct ratelimit *off = ratelimit_new(0, 1);
    for (int i = 0; i < 1000; i++)
        assert_true(ratelimit_take(off, "k", 1, 1, SEC, NULL));
    ratelimit_free(off);
    struct ratelimit *rl = ratelimit_new(1, 2);
    char key[32];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        assert_true(ratelimit_take(rl, key, strlen(key), 1, SEC + (uint64_t)i * 1000000, NULL));
    }
    /* Buckets that refilled completely are dropped as the table grows. */
    assert_true(ratelimit_keys(rl) < 50000);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_costs),
        cmocka_unit_test(test_disabled_and_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
