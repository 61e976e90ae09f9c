/*
 * test_wal.c - the WAL stays short under continuous writes (the writer
 * completes a checkpoint between commits once it is long, so the WAL
 * restarts instead of growing until a truncation), and the writer waits out
 * a write lock held by another connection instead of failing.
 */
#include "support_test.h"

#include "common/util.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int setup(void **state)
{
    *state = test_env_open(0, 50, 0);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    test_env_close(*state);
    return 0;
}

static char payload[3000];

/* 20 rows of 3 KB: about 16 WAL frames per commit. */
static int insert_rows(struct store_tx *tx, void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 20; i++) {
        struct store_event e = {0};
        e.project_id = 1;
        e.message_id = "m";
        e.type = "track";
        e.event = "E";
        e.anonymous_id = "a";
        e.timestamp = e.received_at = 1000;
        e.original_timestamp = e.sent_at = -1;
        e.payload = payload;
        e.payload_len = sizeof payload;
        if (store_tx_insert_event(tx, &e) < 0)
            return -1;
    }
    return 0;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void test_wal_restarts_instead_of_growing(void **state)
{
    struct test_env *f = *state;
    memset(payload, 'x', sizeof payload);
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", store_path(f->store));
    long long largest = 0;
    /* ~200 MB of frames: the WAL used to grow to 256 MB before anything. */
    for (int i = 0; i < 3200; i++) {
        assert_int_equal(store_write_sync(f->store, insert_rows, NULL, NULL), 0);
        long long n = file_size(wal);
        if (n > largest)
            largest = n;
    }
    /* ~200 MB went through the WAL: it restarted many times, whether a
     * checkpoint completed on its own between two commits or the writer
     * completed it (journey_store_checkpoints_total{kind="restart"}); it
     * restarts at ~32 MB and is cut back to 64 MB should it grow more. */
    assert_true(largest < 72LL << 20);
    assert_int_equal(store_count_events(f->store, 1), 3200 * 20);
}

struct writer_arg {
    struct store *s;
    atomic_int rc;
};

static void *write_in_thread(void *p)
{
    struct writer_arg *a = p;
    atomic_store(&a->rc, store_write_sync(a->s, insert_rows, NULL, NULL));
    return NULL;
}

static void test_writer_waits_for_a_held_lock(void **state)
{
    struct test_env *f = *state;
    sqlite3 *other;
    assert_int_equal(sqlite3_open(store_path(f->store), &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    /* The write waits in the writer's busy handler while the lock is held,
     * and goes through once it is released. */
    struct writer_arg a = {.s = f->store};
    atomic_init(&a.rc, 1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_in_thread, &a), 0);
    struct timespec hold = {0, 300 * 1000000};
    nanosleep(&hold, NULL);
    assert_int_equal(atomic_load(&a.rc), 1); /* still waiting */
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&a.rc), 0);
    assert_int_equal(store_count_events(f->store, 1), 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_restarts_instead_of_growing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_waits_for_a_held_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
