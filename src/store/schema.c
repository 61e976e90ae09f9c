/*
 * schema.c - the database schema and its migrations.
 *
 * PRAGMA user_version is the schema version. Each migration is one SQL
 * script run in its own transaction; a newer database than this binary knows
 * is refused rather than guessed at.
 *
 * The events table is append-only and carries no index but its rowid: every
 * random-key B-tree on the per-event path costs an order of magnitude of
 * ingest throughput (DESIGN.md measured 250-300k rows/s without, 15-40k with
 * two). Deduplication happens in memory (ingest/dedup.c); queries that need
 * other access paths get summary tables maintained off the hot path.
 */
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const migrations[] = {
    /* 1: projects, events, dead letters */
    "CREATE TABLE projects ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  write_key TEXT NOT NULL UNIQUE,"
    "  secret_hash TEXT NOT NULL UNIQUE,"
    "  secret_prefix TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  settings TEXT NOT NULL DEFAULT '{}'"
    ");"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  project_id INTEGER NOT NULL,"
    "  message_id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  event TEXT,"
    "  user_id TEXT,"
    "  anonymous_id TEXT,"
    "  session_id TEXT,"
    "  timestamp INTEGER NOT NULL,"
    "  original_timestamp INTEGER,"
    "  sent_at INTEGER,"
    "  received_at INTEGER NOT NULL,"
    "  path TEXT,"
    "  device_class TEXT,"
    "  browser TEXT,"
    "  os TEXT,"
    "  ip TEXT,"
    "  payload TEXT NOT NULL"
    ");"
    "CREATE TABLE dead_letters ("
    "  id INTEGER PRIMARY KEY,"
    "  project_id INTEGER,"
    "  received_at INTEGER NOT NULL,"
    "  request_id TEXT,"
    "  route TEXT,"
    "  kind TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  field TEXT,"
    "  detail TEXT,"
    "  context TEXT,"
    "  raw BLOB NOT NULL,"
    "  replay_count INTEGER NOT NULL DEFAULT 0,"
    "  replayed_at INTEGER,"
    "  replay_result TEXT"
    ");"
    "CREATE INDEX dead_letters_by_project ON dead_letters(project_id, id);",
};

int store_migrate(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    int latest = (int)(sizeof migrations / sizeof migrations[0]);
    if (version > latest) {
        snprintf(err, errlen,
                 "database schema version %d is newer than this journey knows (%d): "
                 "upgrade journey",
                 version, latest);
        return -1;
    }
    for (int v = version; v < latest; v++) {
        char *msg = NULL;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "migration to schema version %d failed: %s", v + 1,
                     msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}
