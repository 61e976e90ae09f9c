/*
 * test_dedup.c - the dedup window and the sessionizer.
 */
#include "support_test.h"

#include "ingest/dedup.h"
#include "ingest/sessionize.h"

#include <stdio.h>
#include <string.h>

#define HOUR (3600LL * 1000)

static struct dedup_key key(int64_t project, const char *id)
{
    return dedup_key_make(project, id, strlen(id));
}

static void test_window(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(24 * HOUR, 1000000);
    int64_t t0 = 1795485853528LL;
    assert_false(dedup_check_and_add(d, key(1, "m1"), t0));
    assert_true(dedup_check_and_add(d, key(1, "m1"), t0 + 1000));
    /* Same id, another project: not a duplicate. */
    assert_false(dedup_check_and_add(d, key(2, "m1"), t0 + 1000));
    /* Still inside the window just before it ends... */
    assert_true(dedup_check_and_add(d, key(1, "m1"), t0 + 24 * HOUR));
    /* ...and forgotten after it. */
    assert_false(dedup_check_and_add(d, key(1, "m1"), t0 + 24 * HOUR + 1));
    dedup_free(d);
}

static void test_remove_and_growth(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(HOUR, 10000000);
    char id[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof id, "msg-%d", i);
        assert_false(dedup_check_and_add(d, key(7, id), 1000 + i));
    }
    assert_int_equal(dedup_size(d), 100000);
    for (int i = 0; i < 100000; i += 2) {
        snprintf(id, sizeof id, "msg-%d", i);
        dedup_remove(d, key(7, id)); /* a rolled-back batch */
    }
    assert_int_equal(dedup_size(d), 50000);
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof id, "msg-%d", i);
        /* every removed id is new again; every kept id is still a duplicate */
        assert_int_equal(dedup_check_and_add(d, key(7, id), 200000), i % 2 == 1);
    }
    /* Expiry pops the oldest first. */
    dedup_expire(d, 200000 + HOUR + 1);
    assert_int_equal(dedup_size(d), 0);
    dedup_free(d);
}

static void test_max_entries_evicts_oldest(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(24 * HOUR, 1000);
    char id[32];
    for (int i = 0; i < 1500; i++) {
        snprintf(id, sizeof id, "m%d", i);
        dedup_check_and_add(d, key(1, id), 1000 + i);
    }
    assert_int_equal(dedup_size(d), 1000);
    assert_int_equal(dedup_evicted(d), 500);
    assert_false(dedup_check_and_add(d, key(1, "m0"), 5000));  /* evicted: forgotten */
    assert_true(dedup_check_and_add(d, key(1, "m1499"), 5000)); /* recent: remembered */
    dedup_free(d);
}

/* At the max_entries bound every insert first evicts the oldest key, whose
 * deletion shifts members of probe runs: the key being added must still be
 * put where a lookup finds it (recent ids stay duplicates), across shard
 * growth, ring blocks emptied and freed, and an emptied ring used again. */
static void test_eviction_keeps_recent_findable(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(24 * HOUR, 5000);
    char id[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(id, sizeof id, "e%d", i);
        assert_false(dedup_check_and_add(d, key(3, id), 1000 + i));
        if (i >= 100) {
            snprintf(id, sizeof id, "e%d", i - 100);
            if (!dedup_check_and_add(d, key(3, id), 1000 + i))
                fail_msg("e%d forgotten after %d inserts", i - 100, i + 1);
        }
    }
    assert_int_equal(dedup_size(d), 5000);
    int64_t later = 1000 + 200000 + 24 * HOUR + 1;
    dedup_expire(d, later);
    assert_int_equal(dedup_size(d), 0);
    assert_false(dedup_check_and_add(d, key(3, "again"), later + 1));
    assert_true(dedup_check_and_add(d, key(3, "again"), later + 2));
    assert_true(dedup_memory_bytes(d) > 0);
    dedup_free(d);
}

static void test_disabled(void **state)
{
    (void)state;
    struct dedup *d = dedup_new(0, 100);
    assert_false(dedup_check_and_add(d, key(1, "a"), 1));
    assert_false(dedup_check_and_add(d, key(1, "a"), 2));
    dedup_free(d);
}

/* Many visitors: the shards grow, every visitor keeps its session; an hour
 * later the idle ones are swept as their shards are touched again. */
static void test_sessions_many_visitors_swept(void **state)
{
    (void)state;
    struct sessionizer *s = sessionizer_new(30 * 60 * 1000);
    int64_t t = 1795485853528LL;
    char id[32], first[SESSION_ID_MAX], again[SESSION_ID_MAX];
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof id, "v%d", i);
        sessionize(s, 1, id, strlen(id), t, t, first);
    }
    assert_int_equal(sessionizer_size(s), 100000);
    for (int i = 0; i < 100000; i += 997) {
        snprintf(id, sizeof id, "v%d", i);
        sessionize(s, 1, id, strlen(id), t, t, first);
        sessionize(s, 1, id, strlen(id), t + 60000, t + 60000, again);
        assert_string_equal(first, again);
    }
    int64_t later = t + 2 * 3600 * 1000;
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "w%d", i);
        sessionize(s, 1, id, strlen(id), later, later, first);
    }
    assert_true(sessionizer_size(s) <= 10000 + 100); /* the 100,000 idle ones swept */
    assert_true(sessionizer_size(s) >= 10000);
    sessionizer_free(s);
}

static void test_sessions(void **state)
{
    (void)state;
    struct sessionizer *s = sessionizer_new(30 * 60 * 1000);
    char a[SESSION_ID_MAX], b[SESSION_ID_MAX], c[SESSION_ID_MAX], d[SESSION_ID_MAX];
    int64_t t = 1795485853528LL;
    sessionize(s, 1, "anon-1", 6, t, t, a);
    sessionize(s, 1, "anon-1", 6, t + 29 * 60 * 1000, t, b);
    assert_string_equal(a, b);
    assert_int_equal(a[0], '~');
    /* 30 minutes and a bit after the last event: a new session. */
    sessionize(s, 1, "anon-1", 6, t + 59 * 60 * 1000 + 1, t, c);
    assert_string_not_equal(a, c);
    /* Another visitor, or the same one in another project, is another session. */
    sessionize(s, 1, "anon-2", 6, t, t, d);
    assert_string_not_equal(a, d);
    sessionize(s, 2, "anon-1", 6, t, t, d);
    assert_string_not_equal(a, d);
    /* A late event from long ago gets its own session without breaking the current one. */
    sessionize(s, 1, "anon-1", 6, t - 5 * 3600 * 1000, t, d);
    assert_string_not_equal(c, d);
    sessionize(s, 1, "anon-1", 6, t + 60 * 60 * 1000, t, d);
    assert_string_equal(c, d);
    sessionizer_free(s);

    /* A restart rebuilds from stored ids: the next event continues the session. */
    struct sessionizer *r = sessionizer_new(30 * 60 * 1000);
    sessionize_restore(r, 1, "anon-1", 6, c, t + 60 * 60 * 1000);
    sessionize(r, 1, "anon-1", 6, t + 70 * 60 * 1000, t + 70 * 60 * 1000, d);
    assert_string_equal(c, d);
    sessionizer_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_remove_and_growth),
        cmocka_unit_test(test_max_entries_evicts_oldest),
        cmocka_unit_test(test_eviction_keeps_recent_findable),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_sessions_many_visitors_swept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
