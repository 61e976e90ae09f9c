/*
 * events.c - the events table: insert on the writer, scans for cold start.
 */
#include "store/store_internal.h"

#include "common/log.h"

#include <errno.h>
#include <string.h>

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t v)
{
    if (v >= 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

int64_t store_tx_insert_event(struct store_tx *tx, const struct store_event *e)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO events (project_id, message_id, type, event, user_id, anonymous_id,"
            " session_id, timestamp, original_timestamp, sent_at, received_at, path,"
            " device_class, browser, os, ip, payload)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, e->project_id);
    bind_text(st, 2, e->message_id);
    bind_text(st, 3, e->type);
    bind_text(st, 4, e->event);
    bind_text(st, 5, e->user_id);
    bind_text(st, 6, e->anonymous_id);
    bind_text(st, 7, e->session_id);
    sqlite3_bind_int64(st, 8, e->timestamp);
    bind_time(st, 9, e->original_timestamp);
    bind_time(st, 10, e->sent_at);
    sqlite3_bind_int64(st, 11, e->received_at);
    bind_text(st, 12, e->path);
    bind_text(st, 13, e->device_class);
    bind_text(st, 14, e->browser);
    bind_text(st, 15, e->os);
    bind_text(st, 16, e->ip);
    sqlite3_bind_text(st, 17, e->payload, (int)e->payload_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        LOG_ERROR("store", NULL, "insert event: %s", sqlite3_errmsg(store_tx_db(tx)));
        return -EIO;
    }
    return sqlite3_last_insert_rowid(store_tx_db(tx));
}

/* The first event id whose received_at is >= since_ms. received_at grows with
 * the id (rows are appended in commit order; requests commit in arrival order
 * up to the few milliseconds a group commit spans), so a binary search over
 * ids finds the start without an index; the minute of slack absorbs the
 * reordering. */
static int64_t first_id_since(sqlite3 *db, int64_t since_ms)
{
    sqlite3_stmt *st;
    int64_t lo = 0, hi = 0;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM events", -1,
                           &st, NULL) != SQLITE_OK)
        return 1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        lo = sqlite3_column_int64(st, 0);
        hi = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (hi == 0)
        return 1;
    if (sqlite3_prepare_v2(db, "SELECT received_at FROM events WHERE id >= ?1 ORDER BY id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return lo;
    int64_t target = since_ms - 60000;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        sqlite3_bind_int64(st, 1, mid);
        int64_t t = INT64_MAX;
        if (sqlite3_step(st) == SQLITE_ROW)
            t = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (t < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    sqlite3_finalize(st);
    return lo;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

int store_scan_events_since(struct store *s, int64_t since_ms,
                            int (*fn)(const struct store_event *e, int64_t id, void *ctx),
                            void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    int64_t start = first_id_since(db, since_ms);
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, project_id, message_id, type, event, user_id, anonymous_id,"
                           " session_id, timestamp, received_at, path, payload, device_class,"
                           " browser, os, original_timestamp, sent_at FROM events"
                           " WHERE id >= ?1 AND received_at >= ?2"
                           " ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        store_reader_release(s, db);
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, start);
    sqlite3_bind_int64(st, 2, since_ms);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event e = {0};
        e.project_id = sqlite3_column_int64(st, 1);
        e.message_id = col_text(st, 2);
        e.type = col_text(st, 3);
        e.event = col_text(st, 4);
        e.user_id = col_text(st, 5);
        e.anonymous_id = col_text(st, 6);
        e.session_id = col_text(st, 7);
        e.timestamp = sqlite3_column_int64(st, 8);
        /* the browser's own clock: the engine orders a session's events by it
         * live, so a rebuilt session must see the same times */
        e.original_timestamp = store_col_time(st, 15);
        e.sent_at = store_col_time(st, 16);
        e.received_at = sqlite3_column_int64(st, 9);
        e.path = col_text(st, 10);
        e.payload = col_text(st, 11);
        e.payload_len = (size_t)sqlite3_column_bytes(st, 11);
        e.device_class = col_text(st, 12);
        e.browser = col_text(st, 13);
        e.os = col_text(st, 14);
        if (fn(&e, sqlite3_column_int64(st, 0), ctx))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = -EIO;
    sqlite3_finalize(st);
    store_reader_release(s, db);
    return rc;
}

int64_t store_count_events(struct store *s, int64_t project_id)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st =
        store_reader_stmt(s, db, "SELECT count(*) FROM events WHERE ?1 = 0 OR project_id = ?1");
    int64_t n = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, project_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return n;
}

int store_scan_ended_sessions(struct store *s, int64_t project_id, int64_t ended_before,
                              int (*fn)(const struct store_event *e, int64_t id, void *ctx),
                              void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st;
    int rc = 0;
    /* The ORDER BY sorts every event of the project with its payload: in
     * temp files, not in memory (temp_store = MEMORY held the whole sort,
     * 4.9 GB for 4.3M events), which the sorter bounds by cache_size. */
    sqlite3_exec(db, "PRAGMA temp_store = FILE", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(
            db,
            "SELECT e.id, e.project_id, e.message_id, e.type, e.event, e.user_id, e.anonymous_id,"
            " e.session_id, e.timestamp, e.received_at, e.path, e.device_class, e.browser, e.os,"
            " e.payload, e.original_timestamp, e.sent_at FROM events e JOIN"
            " (SELECT session_id AS sid, min(timestamp) AS start,"
            " max(timestamp) AS last FROM events WHERE project_id = ?1 AND session_id IS NOT NULL"
            " GROUP BY session_id) s ON e.session_id = s.sid"
            " WHERE e.project_id = ?1 AND s.last < ?2"
            " ORDER BY s.start, s.sid, e.timestamp, e.id",
            -1, &st, NULL) != SQLITE_OK) {
        LOG_ERROR("store", NULL, "training scan: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
        store_reader_release(s, db);
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, project_id);
    sqlite3_bind_int64(st, 2, ended_before);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event e = {0};
        e.project_id = sqlite3_column_int64(st, 1);
        e.message_id = col_text(st, 2);
        e.type = col_text(st, 3);
        e.event = col_text(st, 4);
        e.user_id = col_text(st, 5);
        e.anonymous_id = col_text(st, 6);
        e.session_id = col_text(st, 7);
        e.timestamp = sqlite3_column_int64(st, 8);
        e.received_at = sqlite3_column_int64(st, 9);
        e.original_timestamp = store_col_time(st, 15); /* as online (see above) */
        e.sent_at = store_col_time(st, 16);
        e.path = col_text(st, 10);
        e.device_class = col_text(st, 11);
        e.browser = col_text(st, 12);
        e.os = col_text(st, 13);
        e.payload = col_text(st, 14);
        e.payload_len = (size_t)sqlite3_column_bytes(st, 14);
        if (fn(&e, sqlite3_column_int64(st, 0), ctx))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = -EIO;
    sqlite3_finalize(st);
    sqlite3_exec(db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
    store_reader_release(s, db);
    return rc;
}

int64_t store_max_event_id(struct store *s)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(s, db, "SELECT coalesce(max(id), 0) FROM events");
    int64_t n = -EIO;
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return n;
}

int64_t store_tx_max_event_id(struct store_tx *tx)
{
    sqlite3_stmt *st = store_tx_stmt(tx, "SELECT coalesce(max(id), 0) FROM events");
    int64_t n = -EIO;
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return n;
}

int store_tx_scan_events_after(struct store_tx *tx, int64_t after_id,
                               int (*fn)(const struct store_event *e, int64_t id, void *ctx),
                               void *ctx)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "SELECT id, project_id, message_id, anonymous_id, user_id, session_id, timestamp,"
            " received_at FROM events WHERE id > ?1 ORDER BY id");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, after_id);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event e = {0};
        e.project_id = sqlite3_column_int64(st, 1);
        e.message_id = col_text(st, 2);
        e.anonymous_id = col_text(st, 3);
        e.user_id = col_text(st, 4);
        e.session_id = col_text(st, 5);
        e.timestamp = sqlite3_column_int64(st, 6);
        e.received_at = sqlite3_column_int64(st, 7);
        e.original_timestamp = e.sent_at = -1;
        if (fn(&e, sqlite3_column_int64(st, 0), ctx))
            break;
    }
    sqlite3_reset(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
}
