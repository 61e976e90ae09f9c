/*
 * deadletters.c - quarantined input: what was refused, why, and the exact
 * bytes, so nothing a client sent is ever silently lost.
 */
#include "store/store_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <string.h>

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int64_t store_tx_insert_dead_letter(struct store_tx *tx, const struct store_dead_letter *d)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO dead_letters (project_id, received_at, request_id, route, kind, reason,"
            " field, detail, context, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!st)
        return -EIO;
    if (d->project_id > 0)
        sqlite3_bind_int64(st, 1, d->project_id);
    else
        sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, d->received_at);
    bind_text(st, 3, d->request_id);
    bind_text(st, 4, d->route);
    bind_text(st, 5, d->kind);
    bind_text(st, 6, d->reason);
    bind_text(st, 7, d->field);
    bind_text(st, 8, d->detail);
    bind_text(st, 9, d->context_json);
    sqlite3_bind_blob(st, 10, d->raw ? d->raw : "", (int)d->raw_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        LOG_ERROR("store", NULL, "insert dead letter: %s", sqlite3_errmsg(store_tx_db(tx)));
        return -EIO;
    }
    return sqlite3_last_insert_rowid(store_tx_db(tx));
}

int store_dead_letters(struct store *s, const struct store_dead_letter_query *q,
                       int (*fn)(const struct store_dead_letter *d, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT id, project_id, received_at, request_id, route, kind, reason, field, detail,"
        " context, raw, replay_count, replayed_at FROM dead_letters"
        " WHERE (?1 = 0 OR project_id = ?1) AND id > ?2 AND (?3 = 0 OR id = ?3)"
        " AND (?4 OR replayed_at IS NULL) ORDER BY id LIMIT ?5");
    if (!st) {
        store_reader_release(s, db);
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, q->project_id);
    sqlite3_bind_int64(st, 2, q->after_id);
    sqlite3_bind_int64(st, 3, q->only_id);
    sqlite3_bind_int(st, 4, q->include_replayed);
    sqlite3_bind_int(st, 5, q->limit > 0 ? q->limit : 100);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_dead_letter d = {0};
        d.id = sqlite3_column_int64(st, 0);
        d.project_id = sqlite3_column_int64(st, 1);
        d.received_at = sqlite3_column_int64(st, 2);
        d.request_id = (const char *)sqlite3_column_text(st, 3);
        d.route = (const char *)sqlite3_column_text(st, 4);
        d.kind = (const char *)sqlite3_column_text(st, 5);
        d.reason = (const char *)sqlite3_column_text(st, 6);
        d.field = (const char *)sqlite3_column_text(st, 7);
        d.detail = (const char *)sqlite3_column_text(st, 8);
        d.context_json = (const char *)sqlite3_column_text(st, 9);
        d.raw = sqlite3_column_blob(st, 10);
        d.raw_len = (size_t)sqlite3_column_bytes(st, 10);
        d.replay_count = sqlite3_column_int64(st, 11);
        d.replayed_at = store_col_time(st, 12);
        if (fn(&d, ctx))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = -EIO;
    sqlite3_reset(st);
    store_reader_release(s, db);
    return rc;
}

int store_tx_dead_letter_replayed(struct store_tx *tx, int64_t id, bool ok, const char *result)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "UPDATE dead_letters SET replay_count = replay_count + 1,"
            " replayed_at = CASE WHEN ?2 THEN ?3 ELSE replayed_at END, replay_result = ?4"
            " WHERE id = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, ok);
    sqlite3_bind_int64(st, 3, now_ms());
    bind_text(st, 4, result);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int64_t store_count_dead_letters(struct store *s, int64_t project_id)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db, "SELECT count(*) FROM dead_letters WHERE ?1 = 0 OR project_id = ?1");
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
