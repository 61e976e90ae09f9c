/*
 * store_internal.h - the store's private state, shared by the files of
 * src/store/ and nothing else.
 */
#ifndef JOURNEY_STORE_INTERNAL_H
#define JOURNEY_STORE_INTERNAL_H

#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>

#define STORE_READERS 8
#define STORE_STMT_CACHE 48

struct stmt_cache {
    const char *sql[STORE_STMT_CACHE]; /* string literals: compared by address */
    sqlite3_stmt *stmt[STORE_STMT_CACHE];
    int n;
};

struct reader {
    sqlite3 *db;
    struct stmt_cache cache;
    bool busy;
};

struct store_tx {
    sqlite3 *db;
    struct stmt_cache cache;
};

struct job_queue {
    struct store_job *head, *tail;
    size_t weight; /* ingest: messages; internal: jobs */
    size_t max_weight;
};

struct store {
    struct store_options opt;
    char *path;
    char *data_dir;

    /* writer */
    struct store_tx tx; /* the writer's connection and statements */
    pthread_t writer_thread;
    bool writer_running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job_queue ingest, internal;
    bool stopping;
    atomic_bool writable;
    atomic_size_t ingest_depth;
    atomic_size_t internal_depth;

    /* fault injection for tests (JOURNEY_FAULT_* environment, see writer.c) */
    int64_t fault_commit_delay_ms;
    atomic_int fault_commit_failures;

    /* checkpointer */
    pthread_t checkpoint_thread;
    bool checkpoint_running;
    pthread_cond_t checkpoint_wake;

    /* readers */
    pthread_mutex_t readers_lock;
    pthread_cond_t readers_free;
    struct reader readers[STORE_READERS];
};

int store_open_connection(const struct store *s, bool readonly, sqlite3 **out, char *err,
                          size_t errlen);
sqlite3_stmt *stmt_cache_get(struct stmt_cache *c, sqlite3 *db, const char *sql);
void stmt_cache_clear(struct stmt_cache *c);

int store_migrate(sqlite3 *db, char *err, size_t errlen);

int store_writer_start(struct store *s);
void store_writer_stop(struct store *s);

/* A time column that may be NULL, as the structs keep it: -1 for NULL. */
static inline int64_t store_col_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

#endif
