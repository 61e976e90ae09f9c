/*
 * analytics_sql.c - the reads behind the analytics API that live in SQLite:
 * sessions (indexed by start), a session's signals, risk curve and
 * interventions (indexed by session), live counts (indexed by time) and the
 * decisions of a time range.
 */
#include "store/store_internal.h"

#include "common/buf.h"
#include "common/util.h"

#include <errno.h>
#include <string.h>

static const char *text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

#define SESSION_COLUMNS                                                                            \
    "project_id, session_id, anonymous_id, user_id, started_at, last_event_at, pages,"             \
    " distinct_pages, events, entry_path, exit_path, referrer, device_class, browser, os,"         \
    " converted, coalesce(converted_at, -1), max_risk, last_risk, signals, signal_counts,"         \
    " interventions, held_out, max_signal"

static void read_session(sqlite3_stmt *st, struct store_session *r)
{
    memset(r, 0, sizeof *r);
    r->project_id = sqlite3_column_int64(st, 0);
    r->session_id = text(st, 1);
    r->anonymous_id = text(st, 2);
    r->user_id = text(st, 3);
    r->started_at = sqlite3_column_int64(st, 4);
    r->last_event_at = sqlite3_column_int64(st, 5);
    r->pages = sqlite3_column_int64(st, 6);
    r->distinct_pages = sqlite3_column_int64(st, 7);
    r->events = sqlite3_column_int64(st, 8);
    r->entry_path = text(st, 9);
    r->exit_path = text(st, 10);
    r->referrer = text(st, 11);
    r->device_class = text(st, 12);
    r->browser = text(st, 13);
    r->os = text(st, 14);
    r->converted = sqlite3_column_int(st, 15) != 0;
    r->converted_at = sqlite3_column_int64(st, 16);
    r->max_risk = sqlite3_column_int64(st, 17);
    r->last_risk = sqlite3_column_int64(st, 18);
    r->signals = sqlite3_column_int64(st, 19);
    r->signal_counts_json = text(st, 20);
    r->interventions = sqlite3_column_int64(st, 21);
    r->held_out = sqlite3_column_int(st, 22) != 0;
    r->max_signal = sqlite3_column_int64(st, 23);
}

int store_sessions(struct store *s, const struct store_session_query *q,
                   int (*fn)(const struct store_session *row, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st =
        q->newest_first
            ? store_reader_stmt(s, db,
                                "SELECT " SESSION_COLUMNS " FROM sessions WHERE project_id = ?1"
                                " AND started_at >= ?2 AND started_at < ?3 AND (?4 = 0 OR"
                                " started_at < ?4 OR (started_at = ?4 AND session_id < ?5))"
                                " ORDER BY started_at DESC, session_id DESC LIMIT ?6")
            : store_reader_stmt(s, db,
                                "SELECT " SESSION_COLUMNS " FROM sessions WHERE project_id = ?1"
                                " AND started_at >= ?2 AND started_at < ?3 AND ?4 = ?4 AND"
                                " ?5 IS ?5 ORDER BY started_at LIMIT ?6");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, q->project_id);
        sqlite3_bind_int64(st, 2, q->from);
        sqlite3_bind_int64(st, 3, q->to);
        sqlite3_bind_int64(st, 4, q->newest_first ? q->before_start : 0);
        sqlite3_bind_text(st, 5, q->before_id ? q->before_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, q->limit > 0 ? q->limit : -1);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_session r;
            read_session(st, &r);
            if (fn(&r, ctx))
                break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_session_get(struct store *s, int64_t project_id, const char *session_id,
                      struct store_session *out, struct buf *strings)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db, "SELECT " SESSION_COLUMNS " FROM sessions WHERE project_id = ?1 AND session_id = ?2");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, project_id);
        sqlite3_bind_text(st, 2, session_id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            read_session(st, out);
            /* Copy the strings: the row goes away with the reset. */
            const char **fields[] = {&out->session_id,   &out->anonymous_id, &out->user_id,
                                     &out->entry_path,   &out->exit_path,    &out->referrer,
                                     &out->device_class, &out->browser,      &out->os,
                                     &out->signal_counts_json};
            size_t offs[10];
            for (size_t i = 0; i < 10; i++) {
                offs[i] = (size_t)-1;
                if (*fields[i]) {
                    offs[i] = strings->len;
                    buf_append(strings, *fields[i], strlen(*fields[i]) + 1);
                }
            }
            for (size_t i = 0; i < 10; i++)
                *fields[i] = offs[i] == (size_t)-1 ? NULL : strings->data + offs[i];
            rc = 1;
        } else if (step == SQLITE_DONE) {
            rc = 0;
        }
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_session_signals(struct store *s, int64_t project_id, const char *session_id,
                          int (*fn)(const struct store_signal *sig, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT kind, score, ts, path, coalesce(event_id, 0), evidence FROM signals"
        " WHERE project_id = ?1 AND session_id = ?2 ORDER BY ts, id");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, project_id);
        sqlite3_bind_text(st, 2, session_id, -1, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_signal sig = {
                .project_id = project_id,
                .session_id = session_id,
                .kind = text(st, 0),
                .score = sqlite3_column_int64(st, 1),
                .ts = sqlite3_column_int64(st, 2),
                .path = text(st, 3),
                .event_id = sqlite3_column_int64(st, 4),
                .evidence_json = text(st, 5),
            };
            if (fn(&sig, ctx))
                break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_session_risk(struct store *s, int64_t project_id, const char *session_id,
                       int (*fn)(int64_t ts, int64_t risk, const char *source, void *ctx),
                       void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT ts, risk, source FROM risk_points WHERE project_id = ?1 AND session_id = ?2"
        " ORDER BY ts");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, project_id);
        sqlite3_bind_text(st, 2, session_id, -1, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            if (fn(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), text(st, 2), ctx))
                break;
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_session_interventions(struct store *s, int64_t project_id, const char *session_id,
                                int (*fn)(const struct store_intervention *iv, void *ctx),
                                void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT id, rule, action, payload, risk, signals, explanation, held_out, status, path,"
        " created_at, coalesce(delivered_at, -1), coalesce(shown_at, -1),"
        " coalesce(responded_at, -1), expires_at FROM interventions"
        " WHERE project_id = ?1 AND session_id = ?2 ORDER BY created_at");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, project_id);
        sqlite3_bind_text(st, 2, session_id, -1, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_intervention iv = {
                .id = text(st, 0),
                .project_id = project_id,
                .session_id = session_id,
                .rule = text(st, 1),
                .action = text(st, 2),
                .payload_json = text(st, 3),
                .risk = sqlite3_column_int64(st, 4),
                .signals_json = text(st, 5),
                .explanation_json = text(st, 6),
                .held_out = sqlite3_column_int(st, 7) != 0,
                .status = text(st, 8),
                .path = text(st, 9),
                .created_at = sqlite3_column_int64(st, 10),
                .delivered_at = sqlite3_column_int64(st, 11),
                .shown_at = sqlite3_column_int64(st, 12),
                .responded_at = sqlite3_column_int64(st, 13),
                .expires_at = sqlite3_column_int64(st, 14),
            };
            if (fn(&iv, ctx))
                break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_intervention_lifecycle(struct store *s, const char *id,
                                 int (*fn)(const char *status, int64_t ts, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT status, ts FROM intervention_events WHERE intervention_id = ?1 ORDER BY ts, id");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            if (fn(text(st, 0), sqlite3_column_int64(st, 1), ctx))
                break;
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_events_by_id(struct store *s, const int64_t *ids, size_t n,
                       int (*fn)(const struct store_event *e, int64_t id, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT id, project_id, message_id, type, event, user_id, anonymous_id, session_id,"
        " timestamp, received_at, path, device_class, browser, os, payload FROM events"
        " WHERE id = ?1");
    int rc = st ? 0 : -EIO;
    for (size_t i = 0; st && i < n && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            struct store_event e = {0};
            e.project_id = sqlite3_column_int64(st, 1);
            e.message_id = text(st, 2);
            e.type = text(st, 3);
            e.event = text(st, 4);
            e.user_id = text(st, 5);
            e.anonymous_id = text(st, 6);
            e.session_id = text(st, 7);
            e.timestamp = sqlite3_column_int64(st, 8);
            e.received_at = sqlite3_column_int64(st, 9);
            e.path = text(st, 10);
            e.device_class = text(st, 11);
            e.browser = text(st, 12);
            e.os = text(st, 13);
            e.payload = text(st, 14);
            e.payload_len = (size_t)sqlite3_column_bytes(st, 14);
            e.original_timestamp = e.sent_at = -1;
            if (fn(&e, ids[i], ctx))
                rc = 1;
        } else if (step != SQLITE_DONE) {
            rc = -EIO;
        }
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc < 0 ? rc : 0;
}

static int64_t scalar(struct store *s, sqlite3 *db, const char *sql, int64_t a, int64_t b,
                      int64_t c)
{
    sqlite3_stmt *st = store_reader_stmt(s, db, sql);
    int64_t v = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, a);
        sqlite3_bind_int64(st, 2, b);
        sqlite3_bind_int64(st, 3, c);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    return v;
}

int store_live_counts(struct store *s, int64_t project_id, int64_t now,
                      struct store_live_counts *out)
{
    memset(out, 0, sizeof *out);
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    int64_t today = now - now % 86400000;
    out->struggling_now = scalar(
        s, db,
        "SELECT count(DISTINCT session_id) FROM signals WHERE project_id = ?1 AND ts >= ?2"
        " AND score >= 70 AND ?3 = ?3",
        project_id, now - 300000, 0);
    out->decided_last_minute = scalar(
        s, db,
        "SELECT count(*) FROM interventions WHERE project_id = ?1 AND created_at >= ?2"
        " AND ?3 = ?3",
        project_id, now - 60000, 0);
    out->shown_last_minute = scalar(
        s, db,
        "SELECT count(*) FROM intervention_events e JOIN interventions i"
        " ON i.id = e.intervention_id WHERE e.ts >= ?2 AND e.status = 'shown'"
        " AND i.project_id = ?1 AND ?3 = ?3",
        project_id, now - 60000, 0);
    out->accepted_last_minute = scalar(
        s, db,
        "SELECT count(*) FROM intervention_events e JOIN interventions i"
        " ON i.id = e.intervention_id WHERE e.ts >= ?2 AND e.status = 'accepted'"
        " AND i.project_id = ?1 AND ?3 = ?3",
        project_id, now - 60000, 0);
    out->sessions_today = scalar(
        s, db,
        "SELECT count(*) FROM sessions WHERE project_id = ?1 AND started_at >= ?2"
        " AND started_at < ?3",
        project_id, today, today + 86400000);
    out->conversions_today = scalar(
        s, db,
        "SELECT count(*) FROM sessions WHERE project_id = ?1 AND started_at >= ?2"
        " AND started_at < ?3 AND converted = 1",
        project_id, today, today + 86400000);
    store_reader_release(s, db);
    return 0;
}

int store_decisions(struct store *s, int64_t project_id, int64_t from, int64_t to,
                    int (*fn)(const struct store_decision_row *r, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT i.session_id, i.rule, i.action, i.status, i.held_out, coalesce(s.converted, 0),"
        " i.created_at FROM interventions i LEFT JOIN sessions s ON s.project_id = i.project_id"
        " AND s.session_id = i.session_id WHERE i.project_id = ?1 AND i.created_at >= ?2"
        " AND i.created_at < ?3 ORDER BY i.created_at");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, project_id);
        sqlite3_bind_int64(st, 2, from);
        sqlite3_bind_int64(st, 3, to);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_decision_row r = {
                .session_id = text(st, 0),
                .rule = text(st, 1),
                .action = text(st, 2),
                .status = text(st, 3),
                .held_out = sqlite3_column_int(st, 4) != 0,
                .converted = sqlite3_column_int(st, 5) != 0,
                .created_at = sqlite3_column_int64(st, 6),
            };
            if (fn(&r, ctx))
                break;
        }
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}
