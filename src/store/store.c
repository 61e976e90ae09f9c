/*
 * store.c - opening and closing the database, connections, the reader pool
 * and the WAL checkpointer. The writer is in writer.c.
 *
 * Connection settings: WAL; the writer never checkpoints on commit
 * (wal_autocheckpoint=0) because a checkpoint inside a commit would stall
 * every request waiting on it; writer.c keeps the WAL short instead, with a
 * checkpointer thread beside the writer. journal_size_limit cuts the WAL
 * file back when it restarts, should it ever have grown long.
 *
 * The writer's connection gets a busy handler that polls every
 * WRITER_BUSY_POLL_US: SQLite's default (busy_timeout) sleeps 1, 2, 5, 10,
 * ... 100 ms between attempts, so a lock held for 2 ms could stall every
 * request waiting on the writer for 25 ms or more.
 */
#include "store/store_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define WAL_SIZE_LIMIT_BYTES (64LL << 20)
#define WRITER_BUSY_POLL_US 100
#define WRITER_BUSY_TIMEOUT_MS 5000

void store_options_defaults(struct store_options *o)
{
    memset(o, 0, sizeof *o);
    o->data_dir = "./data";
    o->synchronous = 2;
    o->cache_bytes = 64LL << 20;
    o->queue_max_messages = 200000;
    o->commit_max_messages = 20000;
    o->checkpoint_interval_ms = 1000;
    o->internal_queue_max_jobs = 100000;
    o->start_writer = true;
}

sqlite3_stmt *stmt_cache_get(struct stmt_cache *c, sqlite3 *db, const char *sql)
{
    for (int i = 0; i < c->n; i++) {
        if (c->sql[i] == sql) {
            sqlite3_reset(c->stmt[i]);
            sqlite3_clear_bindings(c->stmt[i]);
            return c->stmt[i];
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        LOG_ERROR("store", NULL, "prepare failed: %s: %s", sqlite3_errmsg(db), sql);
        return NULL;
    }
    if (c->n < STORE_STMT_CACHE) {
        c->sql[c->n] = sql;
        c->stmt[c->n] = st;
        c->n++;
    } else {
        die("statement cache full: raise STORE_STMT_CACHE");
    }
    return st;
}

void stmt_cache_clear(struct stmt_cache *c)
{
    for (int i = 0; i < c->n; i++)
        sqlite3_finalize(c->stmt[i]);
    c->n = 0;
}

int store_open_connection(const struct store *s, bool readonly, sqlite3 **out, char *err,
                          size_t errlen)
{
    sqlite3 *db = NULL;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(s->path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", s->path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    static const char *const sync_names[] = {"OFF", "NORMAL", "FULL"};
    char pragmas[512];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA cache_size = -%lld;"
             "PRAGMA temp_store = MEMORY;"
             "PRAGMA foreign_keys = OFF;"
             "%s",
             (long long)(s->opt.cache_bytes / 1024), readonly ? "PRAGMA query_only = 1;" : "");
    char *msg = NULL;
    if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "configuring %s: %s", s->path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return -EIO;
    }
    if (!readonly) {
        snprintf(
            pragmas, sizeof pragmas,
            "PRAGMA journal_mode = WAL;"
            "PRAGMA synchronous = %s;"
            "PRAGMA wal_autocheckpoint = 0;"
            "PRAGMA journal_size_limit = %lld;",
            sync_names[s->opt.synchronous < 0 || s->opt.synchronous > 2 ? 2 : s->opt.synchronous],
            WAL_SIZE_LIMIT_BYTES);
        if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "configuring %s: %s", s->path, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_close(db);
            return -EIO;
        }
    }
    *out = db;
    return 0;
}

/* Busy handler of the writer's connection: sleep WRITER_BUSY_POLL_US per
 * attempt, give up (SQLITE_BUSY) after WRITER_BUSY_TIMEOUT_MS. The time is
 * measured, not counted in attempts: on a busy machine a sleep lasts longer
 * than asked. Only one thread uses the connection at a time. */
static int writer_busy(void *arg, int count)
{
    static _Thread_local uint64_t since;
    (void)arg;
    uint64_t now = mono_ns();
    if (count == 0)
        since = now;
    else if (now - since >= (uint64_t)WRITER_BUSY_TIMEOUT_MS * 1000000u)
        return 0;
    struct timespec ts = {0, WRITER_BUSY_POLL_US * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* open / close                                                              */

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) && errno != EEXIST)
        return -errno;
    return 0;
}

int store_open(struct store **out, const struct store_options *opt, char *err, size_t errlen)
{
    *out = NULL;
    int rc = mkdir_p(opt->data_dir);
    if (rc) {
        snprintf(err, errlen, "cannot create data directory %s: %s", opt->data_dir, strerror(-rc));
        return rc;
    }
    struct store *s = xcalloc(1, sizeof *s);
    s->opt = *opt;
    s->data_dir = xstrdup(opt->data_dir);
    s->opt.data_dir = s->data_dir;
    s->path = xasprintf("%s/journey.db", opt->data_dir);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->checkpoint_wake, NULL);
    pthread_mutex_init(&s->readers_lock, NULL);
    pthread_cond_init(&s->readers_free, NULL);
    s->ingest.max_weight = (size_t)opt->queue_max_messages;
    s->internal.max_weight = (size_t)opt->internal_queue_max_jobs;
    atomic_store(&s->writable, true);

    rc = store_open_connection(s, false, &s->tx.db, err, errlen);
    if (rc)
        goto fail;
    sqlite3_busy_handler(s->tx.db, writer_busy, NULL);
    if (store_migrate(s->tx.db, err, errlen)) {
        rc = -EIO;
        goto fail;
    }
    if (opt->start_writer) {
        rc = store_writer_start(s); /* and the checkpointer */
        if (rc) {
            snprintf(err, errlen, "cannot start the writer thread");
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    store_close(s);
    return rc;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_writer_stop(s); /* and the checkpointer */
    for (int i = 0; i < STORE_READERS; i++) {
        stmt_cache_clear(&s->readers[i].cache);
        if (s->readers[i].db)
            sqlite3_close(s->readers[i].db);
    }
    stmt_cache_clear(&s->tx.cache);
    if (s->tx.db) {
        /* Fold the WAL back into the database on a clean shutdown. */
        sqlite3_wal_checkpoint_v2(s->tx.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        sqlite3_close(s->tx.db);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->checkpoint_wake);
    pthread_mutex_destroy(&s->readers_lock);
    pthread_cond_destroy(&s->readers_free);
    free(s->path);
    free(s->data_dir);
    free(s);
}

const char *store_path(const struct store *s)
{
    return s->path;
}

/* ------------------------------------------------------------------------ */
/* readers                                                                   */

sqlite3 *store_reader_acquire(struct store *s)
{
    pthread_mutex_lock(&s->readers_lock);
    for (;;) {
        for (int i = 0; i < STORE_READERS; i++) {
            struct reader *r = &s->readers[i];
            if (r->busy)
                continue;
            r->busy = true;
            pthread_mutex_unlock(&s->readers_lock);
            if (!r->db) {
                char err[256];
                if (store_open_connection(s, true, &r->db, err, sizeof err)) {
                    LOG_ERROR("store", NULL, "reader: %s", err);
                    pthread_mutex_lock(&s->readers_lock);
                    r->busy = false;
                    pthread_cond_signal(&s->readers_free);
                    pthread_mutex_unlock(&s->readers_lock);
                    return NULL;
                }
            }
            return r->db;
        }
        pthread_cond_wait(&s->readers_free, &s->readers_lock);
    }
}

void store_reader_release(struct store *s, sqlite3 *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&s->readers_lock);
    for (int i = 0; i < STORE_READERS; i++) {
        if (s->readers[i].db == db) {
            s->readers[i].busy = false;
            break;
        }
    }
    pthread_cond_signal(&s->readers_free);
    pthread_mutex_unlock(&s->readers_lock);
}

sqlite3_stmt *store_reader_stmt(struct store *s, sqlite3 *db, const char *sql)
{
    for (int i = 0; i < STORE_READERS; i++)
        if (s->readers[i].db == db)
            return stmt_cache_get(&s->readers[i].cache, db, sql);
    return NULL;
}

sqlite3 *store_tx_db(struct store_tx *tx)
{
    return tx->db;
}

sqlite3_stmt *store_tx_stmt(struct store_tx *tx, const char *sql)
{
    return stmt_cache_get(&tx->cache, tx->db, sql);
}
