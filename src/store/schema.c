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

    /* 2: the engine's state: one row per session, the signals it detected, the
     * exit-risk curve, intervention decisions and their life cycle, and the
     * per-page baselines the adaptive detectors learn. These are written per
     * session (batched by the engine), never per event. */
    "CREATE TABLE sessions ("
    "  project_id INTEGER NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  anonymous_id TEXT,"
    "  user_id TEXT,"
    "  started_at INTEGER NOT NULL,"
    "  last_event_at INTEGER NOT NULL,"
    "  pages INTEGER NOT NULL DEFAULT 0,"
    "  distinct_pages INTEGER NOT NULL DEFAULT 0,"
    "  events INTEGER NOT NULL DEFAULT 0,"
    "  entry_path TEXT,"
    "  exit_path TEXT,"
    "  referrer TEXT,"
    "  device_class TEXT,"
    "  browser TEXT,"
    "  os TEXT,"
    "  converted INTEGER NOT NULL DEFAULT 0,"
    "  converted_at INTEGER,"
    "  max_risk INTEGER NOT NULL DEFAULT 0,"
    "  last_risk INTEGER NOT NULL DEFAULT 0,"
    "  signals INTEGER NOT NULL DEFAULT 0,"
    "  signal_counts TEXT NOT NULL DEFAULT '{}',"
    "  interventions INTEGER NOT NULL DEFAULT 0,"
    "  held_out INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (project_id, session_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX sessions_by_start ON sessions(project_id, started_at);"
    "CREATE TABLE signals ("
    "  id INTEGER PRIMARY KEY,"
    "  project_id INTEGER NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  score INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  path TEXT,"
    "  event_id INTEGER,"
    "  evidence TEXT NOT NULL DEFAULT '{}'"
    ");"
    "CREATE INDEX signals_by_session ON signals(project_id, session_id);"
    "CREATE TABLE risk_points ("
    "  project_id INTEGER NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  risk INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  event_id INTEGER"
    ");"
    "CREATE INDEX risk_points_by_session ON risk_points(project_id, session_id, ts);"
    "CREATE TABLE interventions ("
    "  id TEXT PRIMARY KEY,"
    "  project_id INTEGER NOT NULL,"
    "  session_id TEXT NOT NULL,"
    "  anonymous_id TEXT,"
    "  user_id TEXT,"
    "  rule TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  risk INTEGER NOT NULL,"
    "  signals TEXT NOT NULL,"
    "  explanation TEXT,"
    "  held_out INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  path TEXT,"
    "  event_id INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  delivered_at INTEGER,"
    "  shown_at INTEGER,"
    "  responded_at INTEGER,"
    "  expires_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX interventions_by_session ON interventions(project_id, session_id);"
    "CREATE INDEX interventions_by_time ON interventions(project_id, created_at);"
    "CREATE TABLE intervention_events ("
    "  id INTEGER PRIMARY KEY,"
    "  intervention_id TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  ts INTEGER NOT NULL,"
    "  detail TEXT"
    ");"
    "CREATE INDEX intervention_events_by_iv ON intervention_events(intervention_id);"
    "CREATE TABLE page_baselines ("
    "  project_id INTEGER NOT NULL,"
    "  path TEXT NOT NULL,"
    "  samples INTEGER NOT NULL,"
    "  dwell_hist TEXT NOT NULL,"
    "  scroll_reversals_mean REAL NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (project_id, path)"
    ") WITHOUT ROWID;",

    /* 3: what the analytics API filters and counts by time */
    "ALTER TABLE sessions ADD COLUMN max_signal INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX signals_by_time ON signals(project_id, ts);"
    "CREATE INDEX intervention_events_by_time ON intervention_events(ts);",
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
