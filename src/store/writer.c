/*
 * writer.c - the single writer thread and group commit. See store.h for the
 * job contract.
 *
 * One loop: wait for work; take every internal job and ingest jobs up to
 * commit_max_messages; BEGIN IMMEDIATE; apply each; COMMIT; complete each.
 * While that commit (and its fsync) runs, new jobs pile up in the queues and
 * all go into the next transaction, so the fsync cost is shared by however
 * many requests arrived meanwhile: the busier the server, the bigger and
 * cheaper per message each commit gets.
 *
 * Failure handling: a job whose apply() fails on its own (not an I/O error)
 * is completed with its error and the group is retried without it (after
 * undo() of the others). An I/O error or a failed COMMIT fails the whole
 * group: every job is completed with -EIO and the store reports itself
 * unwritable until a commit succeeds again.
 *
 * Fault injection (tests only; read once at start from the environment):
 *   JOURNEY_FAULT_COMMIT_DELAY_MS=N   sleep N ms before each COMMIT (a slow disk)
 *   JOURNEY_FAULT_COMMIT_FAILURES=N   fail the next N commits as an I/O error would
 */
#include "store/store_internal.h"

#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct metric *m_commit_messages;
static struct metric *m_commit_seconds;
static struct metric *m_commit_wait_seconds;
static struct metric *m_commits;
static struct metric *m_commit_failures;

static double gauge_ingest_depth(void *ctx)
{
    return (double)store_ingest_queue_depth(ctx);
}

static double gauge_internal_depth(void *ctx)
{
    return (double)store_internal_queue_depth(ctx);
}

static void register_metrics(struct store *s)
{
    static const double sizes[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                  0.01,   0.025,   0.05,   0.1,   0.25,   0.5, 1};
    m_commit_messages =
        metrics_histogram("journey_store_commit_messages", "Messages per group commit", NULL,
                          sizes, (int)ARRAY_LEN(sizes));
    m_commit_seconds = metrics_histogram("journey_store_commit_seconds",
                                         "Duration of a group commit (BEGIN to durable COMMIT)",
                                         NULL, secs, (int)ARRAY_LEN(secs));
    m_commit_wait_seconds = metrics_histogram(
        "journey_store_job_latency_seconds",
        "Time from a job's submission to its completion (queue wait + commit)", NULL, secs,
        (int)ARRAY_LEN(secs));
    m_commits = metrics_counter("journey_store_commits_total", "Group commits", NULL);
    m_commit_failures =
        metrics_counter("journey_store_commit_failures_total", "Failed group commits", NULL);
    metrics_gauge_fn("journey_store_queue_messages",
                     "Messages waiting for the writer (ingest queue depth)", NULL,
                     gauge_ingest_depth, s);
    metrics_gauge_fn("journey_store_internal_queue_jobs",
                     "Internal jobs (engine state, replays) waiting for the writer", NULL,
                     gauge_internal_depth, s);
}

static struct job_queue *queue_of(struct store *s, const struct store_job *job)
{
    return job->queue == STORE_QUEUE_INGEST ? &s->ingest : &s->internal;
}

static size_t weight_of(const struct store_job *job)
{
    return job->queue == STORE_QUEUE_INGEST ? job->weight : 1;
}

int store_submit(struct store *s, struct store_job *job)
{
    struct job_queue *q = queue_of(s, job);
    size_t w = weight_of(job);
    job->next = NULL;
    job->submitted_ns = (int64_t)mono_ns();
    pthread_mutex_lock(&s->lock);
    if (s->stopping || !s->writer_running) {
        pthread_mutex_unlock(&s->lock);
        return -ESHUTDOWN;
    }
    /* An empty queue always takes one job, however heavy, so a batch larger
     * than the bound is never refused forever. */
    if (q->weight > 0 && q->weight + w > q->max_weight) {
        pthread_mutex_unlock(&s->lock);
        return -EAGAIN;
    }
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->weight += w;
    atomic_store_explicit(job->queue == STORE_QUEUE_INGEST ? &s->ingest_depth
                                                           : &s->internal_depth,
                          q->weight, memory_order_relaxed);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

bool store_ingest_has_room(const struct store *s, size_t weight)
{
    size_t depth = atomic_load_explicit(&s->ingest_depth, memory_order_relaxed);
    return depth == 0 || depth + weight <= s->ingest.max_weight;
}

size_t store_ingest_queue_depth(const struct store *s)
{
    return atomic_load_explicit(&s->ingest_depth, memory_order_relaxed);
}

size_t store_internal_queue_depth(const struct store *s)
{
    return atomic_load_explicit(&s->internal_depth, memory_order_relaxed);
}

bool store_writable(const struct store *s)
{
    return atomic_load(&s->writable);
}

/* ------------------------------------------------------------------------ */

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        LOG_ERROR("store", NULL, "%s failed: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static void complete(struct store_job *job, int rc)
{
    int64_t waited = (int64_t)mono_ns() - job->submitted_ns;
    metric_observe(m_commit_wait_seconds, (double)waited / 1e9);
    job->done(job, rc);
}

/* Runs one group: jobs[0..n) in one transaction, retrying without any job
 * whose own apply() failed. Completes every job exactly once. */
static void run_group(struct store *s, struct store_job **jobs, size_t n)
{
    size_t messages = 0;
    for (size_t i = 0; i < n; i++)
        messages += jobs[i]->queue == STORE_QUEUE_INGEST ? jobs[i]->weight : 0;
    uint64_t t0 = mono_ns();
    while (n > 0) {
        if (exec(s->tx.db, "BEGIN IMMEDIATE")) {
            for (size_t i = 0; i < n; i++)
                complete(jobs[i], -EIO);
            atomic_store(&s->writable, false);
            metric_add(m_commit_failures, 1);
            return;
        }
        size_t applied = 0;
        int rc = 0;
        for (; applied < n; applied++) {
            rc = jobs[applied]->apply(&s->tx, jobs[applied]);
            if (rc < 0)
                break;
        }
        if (rc < 0) {
            exec(s->tx.db, "ROLLBACK");
            for (size_t i = 0; i < applied; i++)
                if (jobs[i]->undo)
                    jobs[i]->undo(jobs[i]);
            if (jobs[applied]->undo)
                jobs[applied]->undo(jobs[applied]);
            if (rc == -EIO) {
                for (size_t i = 0; i < n; i++)
                    complete(jobs[i], -EIO);
                atomic_store(&s->writable, false);
                metric_add(m_commit_failures, 1);
                return;
            }
            /* This job alone is bad: complete it and retry the rest. */
            struct store_job *bad = jobs[applied];
            memmove(&jobs[applied], &jobs[applied + 1], (n - applied - 1) * sizeof *jobs);
            n--;
            complete(bad, rc);
            continue;
        }
        if (s->fault_commit_delay_ms > 0) {
            struct timespec ts = {s->fault_commit_delay_ms / 1000,
                                  (s->fault_commit_delay_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        bool injected = atomic_load(&s->fault_commit_failures) > 0 &&
                        atomic_fetch_sub(&s->fault_commit_failures, 1) > 0;
        if (injected)
            LOG_WARN("store", NULL, "fault injection: failing this commit");
        if (injected || exec(s->tx.db, "COMMIT")) {
            exec(s->tx.db, "ROLLBACK");
            for (size_t i = 0; i < n; i++) {
                if (jobs[i]->undo)
                    jobs[i]->undo(jobs[i]);
                complete(jobs[i], -EIO);
            }
            atomic_store(&s->writable, false);
            metric_add(m_commit_failures, 1);
            return;
        }
        atomic_store(&s->writable, true);
        metric_add(m_commits, 1);
        metric_observe(m_commit_messages, (double)messages);
        metric_observe(m_commit_seconds, (double)(mono_ns() - t0) / 1e9);
        for (size_t i = 0; i < n; i++)
            complete(jobs[i], 0);
        return;
    }
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    size_t cap = 256;
    struct store_job **jobs = xmalloc(cap * sizeof *jobs);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->ingest.head && !s->internal.head && !s->stopping)
            pthread_cond_wait(&s->wake, &s->lock);
        if (!s->ingest.head && !s->internal.head)
            break; /* stopping, and everything queued is done */
        size_t n = 0;
        size_t messages = 0;
        /* All internal jobs first (small), then ingest up to the commit size. */
        while (s->internal.head) {
            struct store_job *j = s->internal.head;
            s->internal.head = j->next;
            s->internal.weight--;
            if (n == cap)
                jobs = xrealloc(jobs, (cap *= 2) * sizeof *jobs);
            jobs[n++] = j;
        }
        s->internal.tail = NULL;
        while (s->ingest.head &&
               (messages == 0 ||
                messages + s->ingest.head->weight <= (size_t)s->opt.commit_max_messages)) {
            struct store_job *j = s->ingest.head;
            s->ingest.head = j->next;
            if (!s->ingest.head)
                s->ingest.tail = NULL;
            s->ingest.weight -= j->weight;
            messages += j->weight;
            if (n == cap)
                jobs = xrealloc(jobs, (cap *= 2) * sizeof *jobs);
            jobs[n++] = j;
        }
        atomic_store_explicit(&s->ingest_depth, s->ingest.weight, memory_order_relaxed);
        atomic_store_explicit(&s->internal_depth, s->internal.weight, memory_order_relaxed);
        pthread_mutex_unlock(&s->lock);
        run_group(s, jobs, n);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    free(jobs);
    return NULL;
}

static int64_t env_int(const char *name)
{
    const char *v = getenv(name);
    return v ? strtoll(v, NULL, 10) : 0;
}

int store_writer_start(struct store *s)
{
    register_metrics(s);
    s->fault_commit_delay_ms = env_int("JOURNEY_FAULT_COMMIT_DELAY_MS");
    atomic_store(&s->fault_commit_failures, (int)env_int("JOURNEY_FAULT_COMMIT_FAILURES"));
    s->writer_running = true;
    if (pthread_create(&s->writer_thread, NULL, writer_main, s) != 0) {
        s->writer_running = false;
        return -EAGAIN;
    }
    return 0;
}

void store_writer_stop(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_cond_broadcast(&s->checkpoint_wake);
    bool running = s->writer_running;
    pthread_mutex_unlock(&s->lock);
    if (running) {
        pthread_join(s->writer_thread, NULL);
        s->writer_running = false;
    }
}

/* ------------------------------------------------------------------------ */
/* synchronous writes                                                        */

struct sync_job {
    struct store_job job;
    int (*apply)(struct store_tx *tx, void *ctx);
    void (*undo)(void *ctx);
    void *ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool finished;
    int rc;
};

static int sync_apply(struct store_tx *tx, struct store_job *job)
{
    struct sync_job *sj = (struct sync_job *)job;
    return sj->apply(tx, sj->ctx);
}

static void sync_undo(struct store_job *job)
{
    struct sync_job *sj = (struct sync_job *)job;
    if (sj->undo)
        sj->undo(sj->ctx);
}

static void sync_done(struct store_job *job, int rc)
{
    struct sync_job *sj = (struct sync_job *)job;
    pthread_mutex_lock(&sj->lock);
    sj->rc = rc;
    sj->finished = true;
    pthread_cond_signal(&sj->cond);
    pthread_mutex_unlock(&sj->lock);
}

int store_write_sync(struct store *s, int (*apply)(struct store_tx *tx, void *ctx),
                     void (*undo)(void *ctx), void *ctx)
{
    bool running;
    pthread_mutex_lock(&s->lock);
    running = s->writer_running && !s->stopping;
    pthread_mutex_unlock(&s->lock);
    if (!running) {
        if (exec(s->tx.db, "BEGIN IMMEDIATE"))
            return -EIO;
        int rc = apply(&s->tx, ctx);
        if (rc >= 0 && exec(s->tx.db, "COMMIT"))
            rc = -EIO;
        if (rc < 0) {
            exec(s->tx.db, "ROLLBACK");
            if (undo)
                undo(ctx);
        }
        return rc;
    }
    struct sync_job sj = {.apply = apply, .undo = undo, .ctx = ctx};
    sj.job.queue = STORE_QUEUE_INTERNAL;
    sj.job.apply = sync_apply;
    sj.job.undo = sync_undo;
    sj.job.done = sync_done;
    pthread_mutex_init(&sj.lock, NULL);
    pthread_cond_init(&sj.cond, NULL);
    int rc = store_submit(s, &sj.job);
    if (rc == 0) {
        pthread_mutex_lock(&sj.lock);
        while (!sj.finished)
            pthread_cond_wait(&sj.cond, &sj.lock);
        pthread_mutex_unlock(&sj.lock);
        rc = sj.rc;
    }
    pthread_mutex_destroy(&sj.lock);
    pthread_cond_destroy(&sj.cond);
    return rc;
}
