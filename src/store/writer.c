/*
 * writer.c - the single writer thread and group commit, and the checkpointer
 * that keeps the WAL short. See store.h for the job contract.
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
 * The WAL. SQLite appends every commit to the WAL and only starts writing it
 * from its beginning again (a "restart": the file's blocks are reused, which
 * is much cheaper than appending new ones) when a checkpoint has copied every
 * frame into the database and no commit came after it. Under continuous
 * writes a checkpoint running beside the writer never catches up completely,
 * so the WAL would grow without bound; truncating it then (what this file
 * used to do at 256 MB) takes the write lock for hundreds of milliseconds.
 * Instead the two threads share the work:
 *
 *   writer        after each commit (wal hook: frames now in the WAL)
 *                   below WAL_RESTART_FRAMES: every WAL_KICK_FRAMES new
 *                   frames, wake the checkpointer
 *                   from WAL_RESTART_FRAMES on: ask for one more pass, and
 *                   once it has finished, complete the checkpoint itself
 *                   between two commits (only the frames written during that
 *                   pass are left to copy: a few ms; if that pass left more
 *                   than WAL_TAIL_MAX_FRAMES, as a slow pass under a high
 *                   write rate does, ask for another pass first), so that
 *                   the next commit restarts the WAL; a completion that
 *                   takes over 50 ms is logged ("slow checkpoint")
 *                   past WAL_FORCE_FRAMES (the checkpointer has fallen
 *                   behind): copy the backlog itself, waiting for a running
 *                   pass if need be, so ingest slows down instead of the WAL
 *                   growing
 *   checkpointer  a PASSIVE checkpoint when woken or every checkpoint_interval
 *                   (never blocks the writer: it copies the bulk beside it);
 *                   when nothing was committed for a whole interval, TRUNCATE
 *                   (without waiting: busy timeout 0) to give the disk back
 *
 *   WAL frames   0 .. KICK .. 2*KICK .. ... RESTART ........ | tail | restart at 0
 *   checkpointer      pass    pass              pass (asked)  |
 *   writer                                                   ckpt (ms)
 *
 * A checkpoint completes only if no reader still uses an older snapshot;
 * otherwise the WAL restarts at a later try. journal_size_limit (store.c)
 * cuts the file back to 64 MB when it restarts after having grown longer.
 *
 * The writer's connection polls every 100 us when it finds the database
 * locked (by a TRUNCATE, or another process such as `journey deadletters
 * replay`) instead of SQLite's default backoff of 1..100 ms sleeps, so it
 * resumes as soon as the lock is released (store.c sets this up).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Wake the checkpointer every this many new WAL frames (~1 MB of 4 KB pages).
 * Small passes keep each of its database fsyncs short: a pass's fsync and the
 * writer's WAL fdatasync share the disk, so a 4 MB pass (~12 ms of writing
 * here) delays the commits that sync meanwhile by as much. */
#define WAL_KICK_FRAMES 256
/* From this many frames on (~32 MB), the writer completes a checkpoint after
 * the checkpointer's next pass, so that the WAL restarts from its start. */
#define WAL_RESTART_FRAMES 8192
/* Past this (~64 MB) the checkpointer has fallen behind (starved of CPU, or
 * slower than the writer): the writer then copies the backlog itself, every
 * WAL_FORCE_STEP_FRAMES, and ingest slows down instead of the WAL growing. */
#define WAL_FORCE_FRAMES 16384
#define WAL_FORCE_STEP_FRAMES 2048
/* The writer completes a restart only when the checkpointer's last pass
 * left at most this many frames (~4 MB) for it to copy: at a high write rate
 * a pass that took long leaves a long tail, and copying it (and the database
 * fsync after it) would hold every commit up meanwhile. A longer tail gets
 * another pass instead. */
#define WAL_TAIL_MAX_FRAMES 1024
/* How long a forced checkpoint waits at most for a pass of the checkpointer. */
#define WAL_FORCE_WAIT_MS 2000

/* State shared by the writer and the checkpointer of one store. Allocated by
 * store_writer_start(), freed by store_writer_stop() after both threads end. */
struct wal_watch {
    struct store *s;
    atomic_int frames;      /* frames in the WAL after the last commit (wal hook) */
    atomic_uint commits;    /* commits seen by the wal hook */
    atomic_bool tail_ready; /* a checkpointer pass over a long WAL has finished */
    atomic_int ckpt_done;   /* frames of the WAL copied by the checkpointer's last pass */
    bool kick;              /* under s->lock: the writer asks for a pass now */
    int kicked_at;          /* writer only: frames when it last woke the checkpointer */
    bool restart_asked;     /* writer only: the pass before a restart was asked for */
    int forced_at;          /* writer only: frames at its last forced checkpoint */
};

static struct metric *m_commit_messages;
static struct metric *m_commit_seconds;
static struct metric *m_commit_wait_seconds;
static struct metric *m_commits;
static struct metric *m_commit_failures;
static struct metric *m_ckpt_passes;
static struct metric *m_ckpt_tails;
static struct metric *m_ckpt_truncates;

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
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                  0.025,  0.05,    0.1,    0.25,  0.5,    1};
    m_commit_messages =
        metrics_histogram("journey_store_commit_messages", "Messages per group commit", NULL, sizes,
                          (int)ARRAY_LEN(sizes));
    m_commit_seconds = metrics_histogram("journey_store_commit_seconds",
                                         "Duration of a group commit (BEGIN to durable COMMIT)",
                                         NULL, secs, (int)ARRAY_LEN(secs));
    m_commit_wait_seconds =
        metrics_histogram("journey_store_job_latency_seconds",
                          "Time from a job's submission to its completion (queue wait + commit)",
                          NULL, secs, (int)ARRAY_LEN(secs));
    m_commits = metrics_counter("journey_store_commits_total", "Group commits", NULL);
    m_commit_failures =
        metrics_counter("journey_store_commit_failures_total", "Failed group commits", NULL);
    m_ckpt_passes = metrics_counter("journey_store_checkpoints_total",
                                    "WAL checkpoints: passive passes of the checkpointer, "
                                    "completions by the writer (the WAL then restarts), "
                                    "truncations while idle",
                                    "kind=\"passive\"");
    m_ckpt_tails = metrics_counter("journey_store_checkpoints_total", NULL, "kind=\"restart\"");
    m_ckpt_truncates =
        metrics_counter("journey_store_checkpoints_total", NULL, "kind=\"truncate\"");
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
    atomic_store_explicit(job->queue == STORE_QUEUE_INGEST ? &s->ingest_depth : &s->internal_depth,
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

/* The writer's transaction statements, prepared once in its statement cache
 * (which keys on the address of the text) instead of parsed per commit. */
static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";

static int tx_exec(struct store *s, const char *sql)
{
    sqlite3_stmt *st = stmt_cache_get(&s->tx.cache, s->tx.db, sql);
    if (!st)
        return -EIO;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        LOG_ERROR("store", NULL, "%s failed: %s", sql, sqlite3_errmsg(s->tx.db));
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
        if (tx_exec(s, sql_begin)) {
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
            tx_exec(s, sql_rollback);
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
        if (injected || tx_exec(s, sql_commit)) {
            tx_exec(s, sql_rollback);
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

/* ------------------------------------------------------------------------ */
/* keeping the WAL short (see the top of the file)                          */

/* Called by SQLite on the writer's connection after each commit. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct wal_watch *w = arg;
    (void)db;
    (void)name;
    atomic_store_explicit(&w->frames, frames, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->commits, 1, memory_order_relaxed);
    return SQLITE_OK;
}

static void kick_checkpointer(struct wal_watch *w, int frames)
{
    w->kicked_at = frames;
    w->kick = true;
    pthread_cond_signal(&w->s->checkpoint_wake);
}

/* Runs on the writer between groups, with s->lock held, after the jobs of
 * the last group were completed (their answers are not delayed by this). */
static void after_group(struct wal_watch *w)
{
    struct store *s = w->s;
    int frames = atomic_load_explicit(&w->frames, memory_order_relaxed);
    if (frames < w->kicked_at || frames < w->forced_at) {
        w->kicked_at = w->forced_at = 0; /* the WAL restarted */
        atomic_store(&w->ckpt_done, 0);
        w->restart_asked = false;
    }
    if (frames < WAL_RESTART_FRAMES) {
        if (frames - w->kicked_at >= WAL_KICK_FRAMES)
            kick_checkpointer(w, frames);
        return;
    }
    /* Long enough to restart: no more passes on their own (one would only
     * race the writer's checkpoint below), but one more pass that starts
     * now, and after it the rest here. */
    bool force = frames >= WAL_FORCE_FRAMES && frames - w->forced_at >= WAL_FORCE_STEP_FRAMES;
    if (force)
        w->forced_at = frames;
    if (!atomic_exchange(&w->tail_ready, false) && !force) {
        if (!w->restart_asked) {
            w->restart_asked = true;
            kick_checkpointer(w, frames);
        }
        return;
    }
    if (!force && frames - atomic_load(&w->ckpt_done) > WAL_TAIL_MAX_FRAMES) {
        kick_checkpointer(w, frames); /* the tail is long: one more pass first */
        return;
    }
    /* The checkpointer copied everything up to the start of its last pass;
     * what was committed since is copied here, with no commit running, so the
     * checkpoint completes and the next commit writes the WAL from frame 0.
     * PASSIVE never waits: if it cannot complete (a pass is running after
     * all, or a reader holds an old snapshot), ask for another pass. When
     * forced, wait for a running pass to end (SQLITE_BUSY: only one
     * checkpoint at a time, and SQLite never waits for that lock itself). */
    pthread_mutex_unlock(&s->lock);
    int log = 0, done = 0, rc;
    uint64_t t0 = mono_ns();
    while ((rc = sqlite3_wal_checkpoint_v2(s->tx.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                                           &done)) == SQLITE_BUSY &&
           force && mono_ns() - t0 < WAL_FORCE_WAIT_MS * 1000000ull) {
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
    bool complete = rc == SQLITE_OK && log > 0 && done == log;
    if (complete)
        metric_add(m_ckpt_tails, 1);
    double ms = (double)(mono_ns() - t0) / 1e6;
    if (ms > 50) {
        char extra[120];
        snprintf(extra, sizeof extra, "\"ms\":%.1f,\"frames\":%d,\"forced\":%s", ms, log,
                 force ? "true" : "false");
        log_write(LOG_LEVEL_WARN, "store", NULL, extra, "slow checkpoint on the writer");
    }
    pthread_mutex_lock(&s->lock);
    if (!complete)
        w->restart_asked = false;
}

static void *checkpoint_main(void *arg)
{
    struct wal_watch *w = arg;
    struct store *s = w->s;
    pthread_setname_np(pthread_self(), "store-ckpt");
    sqlite3 *db = NULL;
    char err[256];
    if (store_open_connection(s, false, &db, err, sizeof err)) {
        LOG_ERROR("store", NULL, "checkpointer: %s", err);
        return NULL;
    }
    sqlite3_busy_timeout(db, 0); /* never wait for the writer */
    char walpath[4096];
    snprintf(walpath, sizeof walpath, "%s-wal", s->path);
    unsigned commits_seen = atomic_load(&w->commits);
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        if (!w->kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (s->opt.checkpoint_interval_ms % 1000) * 1000000;
            ts.tv_sec += s->opt.checkpoint_interval_ms / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&s->checkpoint_wake, &s->lock, &ts);
        }
        if (s->stopping)
            break;
        bool kicked = w->kick;
        w->kick = false;
        pthread_mutex_unlock(&s->lock);
        int frames = atomic_load_explicit(&w->frames, memory_order_relaxed);
        unsigned commits = atomic_load(&w->commits);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        if (rc == SQLITE_OK && log > 0)
            metric_add(m_ckpt_passes, 1);
        if (rc == SQLITE_OK)
            atomic_store(&w->ckpt_done, done);
        if (rc == SQLITE_OK && frames >= WAL_RESTART_FRAMES)
            atomic_store(&w->tail_ready, true);
        /* Idle for a whole interval, everything copied: give the file back.
         * The TRUNCATE takes the write lock for a moment; busy timeout 0, so
         * it gives up at once if the writer holds it. */
        struct stat st;
        if (!kicked && rc == SQLITE_OK && done == log && commits == commits_seen &&
            stat(walpath, &st) == 0 && st.st_size > 0 &&
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) ==
                SQLITE_OK)
            metric_add(m_ckpt_truncates, 1);
        commits_seen = commits;
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    sqlite3_close(db);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* the writer thread                                                         */

static void *writer_main(void *arg)
{
    struct wal_watch *w = arg;
    struct store *s = w->s;
    pthread_setname_np(pthread_self(), "store-writer");
    sqlite3_wal_hook(s->tx.db, on_wal_commit, w);
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
        while (s->ingest.head && (messages == 0 || messages + s->ingest.head->weight <=
                                                       (size_t)s->opt.commit_max_messages)) {
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
        after_group(w);
    }
    pthread_mutex_unlock(&s->lock);
    sqlite3_wal_hook(s->tx.db, NULL, NULL);
    free(jobs);
    return w;
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
    struct wal_watch *w = xcalloc(1, sizeof *w);
    w->s = s;
    s->writer_running = true;
    if (pthread_create(&s->writer_thread, NULL, writer_main, w) != 0) {
        s->writer_running = false;
        free(w);
        return -EAGAIN;
    }
    if (pthread_create(&s->checkpoint_thread, NULL, checkpoint_main, w) == 0)
        s->checkpoint_running = true;
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
    if (!running)
        return;
    void *w = NULL;
    pthread_join(s->writer_thread, &w);
    s->writer_running = false;
    if (s->checkpoint_running) {
        pthread_join(s->checkpoint_thread, NULL);
        s->checkpoint_running = false;
    }
    free(w);
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
