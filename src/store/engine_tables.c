/*
 * engine_tables.c - the engine's tables: sessions, signals, the risk curve,
 * interventions with their life cycle, and page baselines. Written by the
 * engine through internal writer jobs (batched per worker), read by the live
 * routes and the analytics API.
 */
#include "store/store_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
    if (v >= 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static int step_done(struct store_tx *tx, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        LOG_ERROR("store", NULL, "%s: %s", what, sqlite3_errmsg(store_tx_db(tx)));
        return -EIO;
    }
    return 0;
}

int store_tx_upsert_session(struct store_tx *tx, const struct store_session *s)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx,
        "INSERT INTO sessions (project_id, session_id, anonymous_id, user_id, started_at,"
        " last_event_at, pages, distinct_pages, events, entry_path, exit_path, referrer,"
        " device_class, browser, os, converted, converted_at, max_risk, last_risk, signals,"
        " signal_counts, interventions, held_out, max_signal)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,"
        "?23,?24)"
        " ON CONFLICT (project_id, session_id) DO UPDATE SET"
        " anonymous_id = coalesce(excluded.anonymous_id, anonymous_id),"
        " user_id = coalesce(excluded.user_id, user_id),"
        " started_at = min(started_at, excluded.started_at),"
        " last_event_at = max(last_event_at, excluded.last_event_at),"
        " pages = excluded.pages, distinct_pages = excluded.distinct_pages,"
        " events = excluded.events, entry_path = coalesce(entry_path, excluded.entry_path),"
        " exit_path = excluded.exit_path, referrer = coalesce(referrer, excluded.referrer),"
        " device_class = coalesce(excluded.device_class, device_class),"
        " browser = coalesce(excluded.browser, browser), os = coalesce(excluded.os, os),"
        " converted = max(converted, excluded.converted),"
        " converted_at = coalesce(converted_at, excluded.converted_at),"
        " max_risk = max(max_risk, excluded.max_risk), last_risk = excluded.last_risk,"
        " signals = excluded.signals, signal_counts = excluded.signal_counts,"
        " interventions = excluded.interventions, held_out = excluded.held_out,"
        " max_signal = max(max_signal, excluded.max_signal)");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, s->project_id);
    bind_text(st, 2, s->session_id);
    bind_text(st, 3, s->anonymous_id);
    bind_text(st, 4, s->user_id);
    sqlite3_bind_int64(st, 5, s->started_at);
    sqlite3_bind_int64(st, 6, s->last_event_at);
    sqlite3_bind_int64(st, 7, s->pages);
    sqlite3_bind_int64(st, 8, s->distinct_pages);
    sqlite3_bind_int64(st, 9, s->events);
    bind_text(st, 10, s->entry_path);
    bind_text(st, 11, s->exit_path);
    bind_text(st, 12, s->referrer);
    bind_text(st, 13, s->device_class);
    bind_text(st, 14, s->browser);
    bind_text(st, 15, s->os);
    sqlite3_bind_int(st, 16, s->converted);
    bind_opt(st, 17, s->converted ? s->converted_at : -1);
    sqlite3_bind_int64(st, 18, s->max_risk);
    sqlite3_bind_int64(st, 19, s->last_risk);
    sqlite3_bind_int64(st, 20, s->signals);
    bind_text(st, 21, s->signal_counts_json ? s->signal_counts_json : "{}");
    sqlite3_bind_int64(st, 22, s->interventions);
    sqlite3_bind_int(st, 23, s->held_out);
    sqlite3_bind_int64(st, 24, s->max_signal);
    return step_done(tx, st, "upsert session");
}

int store_tx_insert_signal(struct store_tx *tx, const struct store_signal *s)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO signals (project_id, session_id, kind, score, ts, path, event_id, evidence)"
            " VALUES (?1,?2,?3,?4,?5,?6,?7,?8)");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, s->project_id);
    bind_text(st, 2, s->session_id);
    bind_text(st, 3, s->kind);
    sqlite3_bind_int64(st, 4, s->score);
    sqlite3_bind_int64(st, 5, s->ts);
    bind_text(st, 6, s->path);
    bind_opt(st, 7, s->event_id > 0 ? s->event_id : -1);
    bind_text(st, 8, s->evidence_json ? s->evidence_json : "{}");
    return step_done(tx, st, "insert signal");
}

int store_tx_insert_risk_point(struct store_tx *tx, int64_t project_id, const char *session_id,
                               int64_t ts, int64_t risk, const char *source, int64_t event_id)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO risk_points (project_id, session_id, ts, risk, source, event_id)"
            " VALUES (?1,?2,?3,?4,?5,?6)");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, project_id);
    bind_text(st, 2, session_id);
    sqlite3_bind_int64(st, 3, ts);
    sqlite3_bind_int64(st, 4, risk);
    bind_text(st, 5, source);
    bind_opt(st, 6, event_id > 0 ? event_id : -1);
    return step_done(tx, st, "insert risk point");
}

static int insert_iv_event(struct store_tx *tx, const char *id, const char *status, int64_t ts,
                           const char *detail)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO intervention_events (intervention_id, status, ts, detail)"
            " VALUES (?1,?2,?3,?4)");
    if (!st)
        return -EIO;
    bind_text(st, 1, id);
    bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, ts);
    bind_text(st, 4, detail);
    return step_done(tx, st, "insert intervention event");
}

int store_tx_insert_intervention(struct store_tx *tx, const struct store_intervention *iv)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO interventions (id, project_id, session_id, anonymous_id, user_id, rule,"
            " action, payload, risk, signals, explanation, held_out, status, path, event_id,"
            " created_at, delivered_at, expires_at)"
            " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)");
    if (!st)
        return -EIO;
    bind_text(st, 1, iv->id);
    sqlite3_bind_int64(st, 2, iv->project_id);
    bind_text(st, 3, iv->session_id);
    bind_text(st, 4, iv->anonymous_id);
    bind_text(st, 5, iv->user_id);
    bind_text(st, 6, iv->rule);
    bind_text(st, 7, iv->action);
    bind_text(st, 8, iv->payload_json ? iv->payload_json : "{}");
    sqlite3_bind_int64(st, 9, iv->risk);
    bind_text(st, 10, iv->signals_json ? iv->signals_json : "[]");
    bind_text(st, 11, iv->explanation_json);
    sqlite3_bind_int(st, 12, iv->held_out);
    bind_text(st, 13, iv->status);
    bind_text(st, 14, iv->path);
    bind_opt(st, 15, iv->event_id > 0 ? iv->event_id : -1);
    sqlite3_bind_int64(st, 16, iv->created_at);
    bind_opt(st, 17, iv->delivered_at);
    sqlite3_bind_int64(st, 18, iv->expires_at);
    int rc = step_done(tx, st, "insert intervention");
    if (rc)
        return rc;
    rc = insert_iv_event(tx, iv->id, iv->held_out ? "held_out" : "created", iv->created_at, NULL);
    if (rc == 0 && iv->delivered_at >= 0)
        rc = insert_iv_event(tx, iv->id, "delivered", iv->delivered_at, NULL);
    return rc;
}

static bool transition_allowed(const char *from, const char *to)
{
    static const struct {
        const char *from;
        const char *to;
    } allowed[] = {
        {"pending", "delivered"},   {"pending", "shown"},     {"pending", "accepted"},
        {"pending", "declined"},    {"pending", "dismissed"}, {"pending", "expired"},
        {"delivered", "shown"},     {"delivered", "accepted"}, {"delivered", "declined"},
        {"delivered", "dismissed"}, {"delivered", "expired"}, {"shown", "accepted"},
        {"shown", "declined"},      {"shown", "dismissed"},   {"shown", "escalated"},
        {"accepted", "escalated"}, /* a shown offer waits for its answer: it never expires */
    };
    for (size_t i = 0; i < ARRAY_LEN(allowed); i++)
        if (!strcmp(allowed[i].from, from) && !strcmp(allowed[i].to, to))
            return true;
    return false;
}

int store_tx_intervention_transition(struct store_tx *tx, const char *id, int64_t project_id,
                                     const char *status, int64_t ts, const char *detail,
                                     char *prev, char *session)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "SELECT status, session_id FROM interventions WHERE id = ?1 AND project_id = ?2");
    if (!st)
        return -EIO;
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, project_id);
    char current[16] = "";
    int rc = sqlite3_step(st);
    bool other_session = false;
    if (rc == SQLITE_ROW) {
        snprintf(current, sizeof current, "%s", (const char *)sqlite3_column_text(st, 0));
        const char *row_session = (const char *)sqlite3_column_text(st, 1);
        /* A caller that names the session may only answer that session's own. */
        if (session && session[0] && strcmp(session, row_session ? row_session : "") != 0)
            other_session = true;
        else if (session)
            snprintf(session, 256, "%s", row_session ? row_session : "");
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW || other_session)
        return rc == SQLITE_DONE || other_session ? -ENOENT : -EIO;
    if (prev)
        snprintf(prev, 16, "%s", current);
    if (!strcmp(current, status))
        return 1;
    if (!transition_allowed(current, status))
        return -EINVAL;
    st = store_tx_stmt(tx, "UPDATE interventions SET status = ?2,"
                           " delivered_at = CASE WHEN ?2 = 'delivered' THEN ?3 ELSE delivered_at END,"
                           " shown_at = CASE WHEN ?2 = 'shown' THEN ?3 ELSE shown_at END,"
                           " responded_at = CASE WHEN ?2 IN ('accepted','declined','dismissed',"
                           "'escalated') THEN coalesce(responded_at, ?3) ELSE responded_at END"
                           " WHERE id = ?1");
    if (!st)
        return -EIO;
    bind_text(st, 1, id);
    bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, ts);
    rc = step_done(tx, st, "update intervention");
    if (rc)
        return rc;
    return insert_iv_event(tx, id, status, ts, detail);
}

#define IV_COLUMNS                                                                                 \
    "id, project_id, session_id, anonymous_id, user_id, rule, action, payload, risk, signals,"     \
    " explanation, held_out, status, path, event_id, created_at, coalesce(delivered_at, -1),"      \
    " coalesce(shown_at, -1), coalesce(responded_at, -1), expires_at"

static void read_iv(sqlite3_stmt *st, struct store_intervention *iv)
{
    memset(iv, 0, sizeof *iv);
    iv->id = (const char *)sqlite3_column_text(st, 0);
    iv->project_id = sqlite3_column_int64(st, 1);
    iv->session_id = (const char *)sqlite3_column_text(st, 2);
    iv->anonymous_id = (const char *)sqlite3_column_text(st, 3);
    iv->user_id = (const char *)sqlite3_column_text(st, 4);
    iv->rule = (const char *)sqlite3_column_text(st, 5);
    iv->action = (const char *)sqlite3_column_text(st, 6);
    iv->payload_json = (const char *)sqlite3_column_text(st, 7);
    iv->risk = sqlite3_column_int64(st, 8);
    iv->signals_json = (const char *)sqlite3_column_text(st, 9);
    iv->explanation_json = (const char *)sqlite3_column_text(st, 10);
    iv->held_out = sqlite3_column_int(st, 11) != 0;
    iv->status = (const char *)sqlite3_column_text(st, 12);
    iv->path = (const char *)sqlite3_column_text(st, 13);
    iv->event_id = sqlite3_column_int64(st, 14);
    iv->created_at = sqlite3_column_int64(st, 15);
    iv->delivered_at = sqlite3_column_int64(st, 16);
    iv->shown_at = sqlite3_column_int64(st, 17);
    iv->responded_at = sqlite3_column_int64(st, 18);
    iv->expires_at = sqlite3_column_int64(st, 19);
}

/* Runs st (bound by the caller on db) and calls fn per row; releases db. */
static int iterate_iv(struct store *s, sqlite3 *db, sqlite3_stmt *st,
                      int (*fn)(const struct store_intervention *iv, void *ctx), void *ctx)
{
    int rc = -EIO;
    if (st) {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_intervention iv;
            read_iv(st, &iv);
            if (fn(&iv, ctx))
                break;
        }
        rc = (step == SQLITE_ROW || step == SQLITE_DONE) ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_interventions_pending(struct store *s, int64_t project_id, const char *session_id,
                                int64_t now,
                                int (*fn)(const struct store_intervention *iv, void *ctx),
                                void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT " IV_COLUMNS " FROM interventions WHERE project_id = ?1 AND session_id = ?2"
        " AND status IN ('pending', 'delivered') AND expires_at >= ?3 ORDER BY created_at");
    if (st) {
        sqlite3_bind_int64(st, 1, project_id);
        sqlite3_bind_text(st, 2, session_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
    }
    return iterate_iv(s, db, st, fn, ctx);
}

int store_interventions_since(struct store *s, int64_t since,
                              int (*fn)(const struct store_intervention *iv, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db, "SELECT " IV_COLUMNS " FROM interventions WHERE created_at >= ?1 ORDER BY created_at");
    if (st)
        sqlite3_bind_int64(st, 1, since);
    return iterate_iv(s, db, st, fn, ctx);
}

int store_interventions_expired(struct store *s, int64_t now,
                                int (*fn)(const char *id, int64_t project_id, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT id, project_id FROM interventions WHERE status IN ('pending', 'delivered')"
        " AND expires_at < ?1 AND created_at >= ?1 - 86400000 LIMIT 1000");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            if (fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ctx))
                break;
        rc = (step == SQLITE_ROW || step == SQLITE_DONE) ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_tx_upsert_page_baseline(struct store_tx *tx, const struct store_page_baseline *b)
{
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO page_baselines (project_id, path, samples, dwell_hist,"
            " scroll_reversals_mean, updated_at) VALUES (?1,?2,?3,?4,?5,?6)"
            " ON CONFLICT (project_id, path) DO UPDATE SET samples = excluded.samples,"
            " dwell_hist = excluded.dwell_hist,"
            " scroll_reversals_mean = excluded.scroll_reversals_mean,"
            " updated_at = excluded.updated_at");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, b->project_id);
    bind_text(st, 2, b->path);
    sqlite3_bind_int64(st, 3, b->samples);
    bind_text(st, 4, b->dwell_hist);
    sqlite3_bind_double(st, 5, b->scroll_reversals_mean);
    sqlite3_bind_int64(st, 6, b->updated_at);
    return step_done(tx, st, "upsert page baseline");
}

int store_page_baselines(struct store *s,
                         int (*fn)(const struct store_page_baseline *b, void *ctx), void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT project_id, path, samples, dwell_hist, scroll_reversals_mean, updated_at"
        " FROM page_baselines");
    int rc = -EIO;
    if (st) {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_page_baseline b = {
                .project_id = sqlite3_column_int64(st, 0),
                .path = (const char *)sqlite3_column_text(st, 1),
                .samples = sqlite3_column_int64(st, 2),
                .dwell_hist = (const char *)sqlite3_column_text(st, 3),
                .scroll_reversals_mean = sqlite3_column_double(st, 4),
                .updated_at = sqlite3_column_int64(st, 5),
            };
            if (fn(&b, ctx))
                break;
        }
        rc = (step == SQLITE_ROW || step == SQLITE_DONE) ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_visitor_stats(struct store *s, int64_t before,
                        int (*fn)(int64_t project_id, const char *visitor, int64_t sessions,
                                  int64_t conversions, void *ctx),
                        void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(
        s, db,
        "SELECT project_id, coalesce(anonymous_id, user_id) AS v, count(*), sum(converted)"
        " FROM sessions WHERE started_at < ?1 AND v IS NOT NULL GROUP BY project_id, v");
    int rc = -EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, before);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            if (fn(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), ctx))
                break;
        rc = (step == SQLITE_ROW || step == SQLITE_DONE) ? 0 : -EIO;
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}
