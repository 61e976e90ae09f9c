/*
 * test_store.c - the writer: group commit, a failing job does not sink its
 * group, an injected commit failure rolls back and calls undo, synchronous
 * writes, projects and their keys, dead letters.
 */
#include "support_test.h"

#include "common/util.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int setup(void **state)
{
    *state = test_env_open(1, 0, 0);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    test_env_close(*state);
    return 0;
}

struct test_job {
    struct store_job job;
    int64_t project_id;
    int fail_with;
    int applied, undone;
    atomic_int done_rc;
    atomic_bool done;
};

static int job_apply(struct store_tx *tx, struct store_job *job)
{
    struct test_job *t = (struct test_job *)job;
    t->applied++;
    if (t->fail_with)
        return t->fail_with;
    struct store_event e = {0};
    e.project_id = t->project_id;
    e.message_id = "m";
    e.type = "track";
    e.event = "E";
    e.anonymous_id = "a";
    e.timestamp = e.received_at = 1000;
    e.original_timestamp = e.sent_at = -1;
    e.payload = "{}";
    e.payload_len = 2;
    return store_tx_insert_event(tx, &e) > 0 ? 0 : -EIO;
}

static void job_undo(struct store_job *job)
{
    ((struct test_job *)job)->undone++;
}

static void job_done(struct store_job *job, int rc)
{
    struct test_job *t = (struct test_job *)job;
    atomic_store(&t->done_rc, rc);
    atomic_store(&t->done, true);
}

static void init_job(struct test_job *t, int64_t project, int fail)
{
    memset(t, 0, sizeof *t);
    t->job.queue = STORE_QUEUE_INGEST;
    t->job.weight = 1;
    t->job.apply = job_apply;
    t->job.undo = job_undo;
    t->job.done = job_done;
    t->project_id = project;
    t->fail_with = fail;
}

static void wait_done(struct test_job *jobs, int n)
{
    for (int spins = 0; spins < 5000; spins++) {
        int finished = 0;
        for (int i = 0; i < n; i++)
            finished += atomic_load(&jobs[i].done);
        if (finished == n)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("jobs did not complete");
}

static void test_group_commit_isolates_a_bad_job(void **state)
{
    struct test_env *f = *state;
    struct test_job jobs[50];
    for (int i = 0; i < 50; i++) {
        init_job(&jobs[i], 1, i == 17 ? -EINVAL : 0);
        assert_int_equal(store_submit(f->store, &jobs[i].job), 0);
    }
    wait_done(jobs, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(atomic_load(&jobs[i].done_rc), i == 17 ? -EINVAL : 0);
    assert_int_equal(store_count_events(f->store, 1), 49);
    assert_true(store_writable(f->store));
}

static void test_queue_bound(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = dir;
    so.queue_max_messages = 10;
    setenv("JOURNEY_FAULT_COMMIT_DELAY_MS", "200", 1);
    struct store *s;
    char err[256];
    assert_int_equal(store_open(&s, &so, err, sizeof err), 0);
    unsetenv("JOURNEY_FAULT_COMMIT_DELAY_MS");
    struct test_job jobs[4];
    for (int i = 0; i < 4; i++) {
        init_job(&jobs[i], 1, 0);
        jobs[i].job.weight = 6;
    }
    /* The first is taken by the writer (sleeping in its commit), the second
     * waits in the queue, the third would overflow it. */
    assert_int_equal(store_submit(s, &jobs[0].job), 0);
    for (int i = 0; i < 100 && store_ingest_queue_depth(s) > 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(store_submit(s, &jobs[1].job), 0);
    assert_false(store_ingest_has_room(s, 6));
    assert_int_equal(store_submit(s, &jobs[2].job), -EAGAIN);
    wait_done(jobs, 2);
    assert_int_equal(store_submit(s, &jobs[3].job), 0);
    store_close(s); /* drains: the last job is completed before close returns */
    assert_true(atomic_load(&jobs[3].done));
    assert_int_equal(atomic_load(&jobs[3].done_rc), 0);
    test_rmdir(dir);
}

static void test_commit_failure_rolls_back(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = dir;
    setenv("JOURNEY_FAULT_COMMIT_FAILURES", "1", 1);
    struct store *s;
    char err[256];
    assert_int_equal(store_open(&s, &so, err, sizeof err), 0);
    unsetenv("JOURNEY_FAULT_COMMIT_FAILURES");
    struct test_job j[2];
    init_job(&j[0], 1, 0);
    assert_int_equal(store_submit(s, &j[0].job), 0);
    wait_done(j, 1);
    assert_int_equal(atomic_load(&j[0].done_rc), -EIO);
    assert_int_equal(j[0].undone, 1);
    assert_false(store_writable(s));
    assert_int_equal(store_count_events(s, 0), 0);
    /* The next commit succeeds and the store is writable again. */
    init_job(&j[1], 1, 0);
    assert_int_equal(store_submit(s, &j[1].job), 0);
    wait_done(&j[1], 1);
    assert_int_equal(atomic_load(&j[1].done_rc), 0);
    assert_true(store_writable(s));
    assert_int_equal(store_count_events(s, 0), 1);
    store_close(s);
    test_rmdir(dir);
}

static void test_projects(void **state)
{
    struct test_env *f = *state;
    struct store_project p, q;
    char secret[80];
    assert_int_equal(store_project_create(f->store, "Shop", &p, secret, sizeof secret), 0);
    assert_true(str_has_prefix(p.write_key, "wk_"));
    assert_true(str_has_prefix(secret, "sk_"));
    assert_int_equal(store_project_by_write_key(f->store, p.write_key, &q), 1);
    assert_int_equal(q.id, p.id);
    assert_string_equal(q.name, "Shop");
    store_project_clear(&q);
    assert_int_equal(store_project_by_write_key(f->store, "wk_nope", &q), 0);
    int64_t id = 0;
    assert_int_equal(store_project_check_secret(f->store, secret, &id), 1);
    assert_int_equal(id, p.id);
    id = 0;
    assert_int_equal(store_project_check_secret(f->store, "sk_wrong", &id), 0);
    /* The secret itself is not stored anywhere. */
    sqlite3 *db = store_reader_acquire(f->store);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM projects WHERE secret_hash = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, secret, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    store_reader_release(f->store, db);
    store_project_clear(&p);
}

static int count_cb(const struct store_dead_letter *d, void *ctx)
{
    assert_string_equal(d->reason, "invalid_json");
    assert_int_equal(d->raw_len, 3);
    (*(int *)ctx)++;
    return 0;
}

static int dl_apply(struct store_tx *tx, void *ctx)
{
    (void)ctx;
    struct store_dead_letter d = {.project_id = 1,
                                  .received_at = 5,
                                  .kind = "request",
                                  .reason = "invalid_json",
                                  .raw = "{x\xff",
                                  .raw_len = 3};
    return store_tx_insert_dead_letter(tx, &d) > 0 ? 0 : -EIO;
}

static void test_dead_letters(void **state)
{
    struct test_env *f = *state;
    assert_int_equal(store_write_sync(f->store, dl_apply, NULL, NULL), 0);
    assert_int_equal(store_write_sync(f->store, dl_apply, NULL, NULL), 0);
    int n = 0;
    struct store_dead_letter_query q = {.project_id = 1, .limit = 10};
    assert_int_equal(store_dead_letters(f->store, &q, count_cb, &n), 0);
    assert_int_equal(n, 2);
    q.after_id = 1;
    n = 0;
    assert_int_equal(store_dead_letters(f->store, &q, count_cb, &n), 0);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_commit_isolates_a_bad_job, setup, teardown),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_commit_failure_rolls_back),
        cmocka_unit_test_setup_teardown(test_projects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
