/*
 * store.h - the only part of Journey that speaks SQL.
 *
 * One SQLite file (DIR/journey.db) in WAL mode. All writes go through one
 * writer thread, which takes every job queued since its last commit and
 * commits them in one transaction (group commit: one fsync shared by all the
 * requests that arrived while the previous commit ran). Reads use a small pool
 * of read-only connections, which WAL lets run beside the writer.
 *
 *   HTTP threads ──store_submit(job)──> [ingest queue | internal queue]
 *                                               │
 *                                        writer thread
 *                          BEGIN; job->apply(tx) ...; COMMIT  (fsync)
 *                                               │
 *                                   job->done(job, 0 or error)
 *
 * Jobs: the caller owns a job and its memory; the store borrows it from
 * store_submit() until it calls job->done(), exactly once, on the writer
 * thread (then the store never touches it again). apply() runs inside the
 * open transaction; it may be called again for the same job if another job of
 * the group failed and the group is retried, after undo() (if set) was called
 * to revert any in-memory effects of the first run. A job whose own apply()
 * fails is completed with that error and the rest of the group is retried
 * without it. done() must be quick: it runs between commits.
 *
 * Two queues: "ingest" jobs are bounded by the total number of messages they
 * carry (queue_max_messages: a full queue is the signal for HTTP to answer
 * 503 before reading a request); "internal" jobs (engine state, projects,
 * replays) have their own bound so analytics state can never push out events.
 *
 * Error codes are negative errno-style values: -EAGAIN (queue full), -EIO
 * (SQLite failed; the message is logged), -ESHUTDOWN (store closing).
 */
#ifndef JOURNEY_STORE_STORE_H
#define JOURNEY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/buf.h"

struct store;
struct store_tx;
struct store_job;

struct store_options {
    const char *data_dir;
    int synchronous; /* enum sync_mode of config.h: 0 off, 1 normal, 2 full */
    int64_t cache_bytes;
    int64_t queue_max_messages;
    int64_t commit_max_messages;
    int64_t checkpoint_interval_ms;
    int64_t internal_queue_max_jobs;
    bool start_writer; /* false for CLI tools: writes then run on the caller's thread */
};

void store_options_defaults(struct store_options *o);

/* Opens (creating and migrating) DIR/journey.db. On failure returns a
 * negative code and writes a message into err (errlen bytes). */
int store_open(struct store **out, const struct store_options *opt, char *err, size_t errlen);
/* Stops the writer after it has committed everything queued (each job is
 * completed), stops the checkpointer and closes all connections. NULL-safe. */
void store_close(struct store *s);

/* ---- writer ------------------------------------------------------------ */

enum store_queue { STORE_QUEUE_INGEST, STORE_QUEUE_INTERNAL };

struct store_job {
    struct store_job *next; /* owned by the queue while submitted */
    enum store_queue queue;
    size_t weight; /* messages carried (ingest queue bound) */
    int (*apply)(struct store_tx *tx, struct store_job *job);
    void (*undo)(struct store_job *job); /* optional */
    void (*done)(struct store_job *job, int rc);
    int64_t submitted_ns; /* set by store_submit, for latency metrics */
};

/* Queues job; never blocks. 0, -EAGAIN (its queue is full) or -ESHUTDOWN.
 * On error job->done is NOT called. */
int store_submit(struct store *s, struct store_job *job);
/* True when an ingest job of `weight` messages would fit right now. */
bool store_ingest_has_room(const struct store *s, size_t weight);
size_t store_ingest_queue_depth(const struct store *s);
size_t store_internal_queue_depth(const struct store *s);
/* False after a commit failed until the next one succeeds (for /readyz). */
bool store_writable(const struct store *s);

/* Runs apply in a transaction and waits for it: through the writer thread if
 * it runs, else on the calling thread. undo (optional) reverts apply's
 * in-memory effects when the transaction is rolled back (and apply may then
 * run again). Never call from the writer thread. */
int store_write_sync(struct store *s, int (*apply)(struct store_tx *tx, void *ctx),
                     void (*undo)(void *ctx), void *ctx);

/* The transaction's connection, for store/ internals. */
sqlite3 *store_tx_db(struct store_tx *tx);
/* A cached prepared statement of the transaction's connection (reset, bindings
 * cleared). sql must be a string literal: it is the cache key. */
sqlite3_stmt *store_tx_stmt(struct store_tx *tx, const char *sql);

/* ---- reading ----------------------------------------------------------- */

/* Borrows a read-only connection (blocks while all are in use); give it back
 * with store_reader_release(). Statements must be finalized or reset before. */
sqlite3 *store_reader_acquire(struct store *s);
void store_reader_release(struct store *s, sqlite3 *db);
/* A cached prepared statement for a borrowed reader (reset and cleared). */
sqlite3_stmt *store_reader_stmt(struct store *s, sqlite3 *db, const char *sql);

const char *store_path(const struct store *s);

/* ---- events ------------------------------------------------------------ */

/* One stored message. Strings are borrowed for the duration of the call; NULL
 * stores SQL NULL. Times are epoch ms, -1 for NULL. */
struct store_event {
    int64_t project_id;
    const char *message_id;
    const char *type;
    const char *event;
    const char *user_id;
    const char *anonymous_id;
    const char *session_id;
    int64_t timestamp;
    int64_t original_timestamp;
    int64_t sent_at;
    int64_t received_at;
    const char *path;
    const char *device_class;
    const char *browser;
    const char *os;
    const char *ip;
    const char *payload;
    size_t payload_len;
};

/* Inserts one event; returns its id (> 0) or -EIO. */
int64_t store_tx_insert_event(struct store_tx *tx, const struct store_event *e);

/* Calls fn for each stored event received at or after since_ms, in id order,
 * with every column but the IP and the original and sent times. fn returns 0
 * to go on, non-zero to stop. */
int store_scan_events_since(struct store *s, int64_t since_ms,
                            int (*fn)(const struct store_event *e, int64_t id, void *ctx),
                            void *ctx);

int64_t store_count_events(struct store *s, int64_t project_id);
/* The newest event id (0 when there is none), on a reader or in a transaction. */
int64_t store_max_event_id(struct store *s);
int64_t store_tx_max_event_id(struct store_tx *tx);
/* Calls fn for every event with an id above after_id, inside the
 * transaction (rows another process wrote, see ingest.c). */
int store_tx_scan_events_after(struct store_tx *tx, int64_t after_id,
                               int (*fn)(const struct store_event *e, int64_t id, void *ctx),
                               void *ctx);

/* Every stored event of project_id whose session ended before ended_before
 * (its last event is older), grouped by session, sessions in the order they
 * started, events in time order; all columns filled. For training. */
int store_scan_ended_sessions(struct store *s, int64_t project_id, int64_t ended_before,
                              int (*fn)(const struct store_event *e, int64_t id, void *ctx),
                              void *ctx);

/* ---- dead letters ------------------------------------------------------ */

struct store_dead_letter {
    int64_t id; /* OUT of reads */
    int64_t project_id; /* 0: unknown */
    int64_t received_at;
    const char *request_id;
    const char *route;
    const char *kind;   /* "message" or "request" */
    const char *reason; /* machine code: missing_id, invalid_json, ... */
    const char *field;  /* JSON path of the offending field, or NULL */
    const char *detail; /* a sentence for people */
    const char *context_json; /* what replay needs: batch sentAt, UA, IP, format */
    const void *raw;
    size_t raw_len;
    int64_t replay_count;  /* reads */
    int64_t replayed_at;   /* reads; -1 if never replayed successfully */
};

int64_t store_tx_insert_dead_letter(struct store_tx *tx, const struct store_dead_letter *d);

struct store_dead_letter_query {
    int64_t project_id; /* 0: all projects */
    int64_t after_id;   /* page after this id (0: from the start) */
    int64_t only_id;    /* 0: any */
    int limit;
    bool include_replayed;
};

/* Calls fn for each dead letter matching q, in id order (borrowed fields). */
int store_dead_letters(struct store *s, const struct store_dead_letter_query *q,
                       int (*fn)(const struct store_dead_letter *d, void *ctx), void *ctx);
/* Records a replay attempt: ok -> replayed_at = now; the result text is kept. */
int store_tx_dead_letter_replayed(struct store_tx *tx, int64_t id, bool ok, const char *result);
int64_t store_count_dead_letters(struct store *s, int64_t project_id);

/* ---- projects ---------------------------------------------------------- */

struct store_project {
    int64_t id;
    char name[128];
    char write_key[64];
    char secret_prefix[16];
    int64_t created_at;
    char *settings_json; /* owned (from malloc) in reads; free with store_project_clear */
};

void store_project_clear(struct store_project *p);

/* Creates a project with fresh keys. The secret key is returned once, in
 * secret_out (>= 64 bytes); only its SHA-256 is stored. */
int store_project_create(struct store *s, const char *name, struct store_project *out,
                         char *secret_out, size_t secret_len);
/* 1 found, 0 not found, <0 error. */
int store_project_by_write_key(struct store *s, const char *write_key, struct store_project *out);
int store_project_by_id(struct store *s, int64_t id, struct store_project *out);
/* 1 if secret matches project `id`'s secret key (or, with id 0, any project:
 * then *id_out is the project). */
int store_project_check_secret(struct store *s, const char *secret, int64_t *id_out);
/* Calls fn per project in id order; returns how many, or < 0. */
int store_projects_list(struct store *s, int (*fn)(const struct store_project *p, void *ctx),
                        void *ctx);
int store_project_set_settings(struct store *s, int64_t id, const char *settings_json);


/* ---- the engine's tables (engine_tables.c) ------------------------------ */

struct store_session {
    int64_t project_id;
    const char *session_id;
    const char *anonymous_id;
    const char *user_id;
    int64_t started_at;
    int64_t last_event_at;
    int64_t pages;
    int64_t distinct_pages;
    int64_t events;
    const char *entry_path;
    const char *exit_path;
    const char *referrer;
    const char *device_class;
    const char *browser;
    const char *os;
    bool converted;
    int64_t converted_at; /* -1: not converted */
    int64_t max_risk;
    int64_t last_risk;
    int64_t max_signal; /* the highest score of any signal */
    int64_t signals;
    const char *signal_counts_json; /* {"rage_click": 2, ...} */
    int64_t interventions;
    bool held_out;
};

int store_tx_upsert_session(struct store_tx *tx, const struct store_session *s);

struct store_signal {
    int64_t project_id;
    const char *session_id;
    const char *kind;
    int64_t score;
    int64_t ts;
    const char *path;
    int64_t event_id; /* 0: none */
    const char *evidence_json;
};

int store_tx_insert_signal(struct store_tx *tx, const struct store_signal *s);
int store_tx_insert_risk_point(struct store_tx *tx, int64_t project_id, const char *session_id,
                               int64_t ts, int64_t risk, const char *source, int64_t event_id);

struct store_intervention {
    const char *id;
    int64_t project_id;
    const char *session_id;
    const char *anonymous_id;
    const char *user_id;
    const char *rule;
    const char *action;
    const char *payload_json;
    int64_t risk;
    const char *signals_json;
    const char *explanation_json;
    bool held_out;
    const char *status;
    const char *path;
    int64_t event_id;
    int64_t created_at;
    int64_t delivered_at; /* -1: NULL */
    int64_t shown_at;
    int64_t responded_at;
    int64_t expires_at;
};

int store_tx_insert_intervention(struct store_tx *tx, const struct store_intervention *iv);

/* Moves intervention `id` (of project_id) to status at ts, recording the
 * step in intervention_events. The life cycle (anything else is -EINVAL):
 *   pending   -> delivered | shown | accepted | declined | dismissed | expired
 *   delivered -> shown | accepted | declined | dismissed | expired
 *   shown     -> accepted | declined | dismissed | escalated   (a shown offer never expires)
 *   accepted  -> escalated
 * Repeating the current status is accepted and changes nothing (returns 1).
 * 0 on a change, -ENOENT for an unknown id (or another project's). The
 * previous status is copied into prev (>= 16 bytes) when not NULL. session
 * (>= 256 bytes), when not NULL: if it holds a session id, only that
 * session's intervention may move (another's is -ENOENT); if it is empty,
 * the intervention's session id is copied into it. */
int store_tx_intervention_transition(struct store_tx *tx, const char *id, int64_t project_id,
                                     const char *status, int64_t ts, const char *detail,
                                     char *prev, char *session);

/* Interventions of a session that are waiting for the browser (pending or
 * delivered, not expired at now), oldest first. Fields are borrowed. */
int store_interventions_pending(struct store *s, int64_t project_id, const char *session_id,
                                int64_t now, int (*fn)(const struct store_intervention *iv, void *ctx),
                                void *ctx);
/* Interventions created at or after since (all projects), for rebuilding caps. */
int store_interventions_since(struct store *s, int64_t since,
                              int (*fn)(const struct store_intervention *iv, void *ctx), void *ctx);
/* Ids of interventions still pending or delivered whose expires_at < now. */
int store_interventions_expired(struct store *s, int64_t now,
                                int (*fn)(const char *id, int64_t project_id, void *ctx), void *ctx);

/* ---- reads for the analytics API (analytics_sql.c) ----------------------- */

struct store_session_query {
    int64_t project_id;
    int64_t from, to;      /* started_at in [from, to) */
    bool newest_first;
    int64_t before_start;  /* with newest_first: page after (before_start, before_id) */
    const char *before_id;
    int limit;             /* 0: all */
};

/* Sessions rows (borrowed strings) in start order. */
int store_sessions(struct store *s, const struct store_session_query *q,
                   int (*fn)(const struct store_session *row, void *ctx), void *ctx);
int store_session_get(struct store *s, int64_t project_id, const char *session_id,
                      struct store_session *out, struct buf *strings);
int store_session_signals(struct store *s, int64_t project_id, const char *session_id,
                          int (*fn)(const struct store_signal *sig, void *ctx), void *ctx);
int store_session_risk(struct store *s, int64_t project_id, const char *session_id,
                       int (*fn)(int64_t ts, int64_t risk, const char *source, void *ctx),
                       void *ctx);
int store_session_interventions(struct store *s, int64_t project_id, const char *session_id,
                                int (*fn)(const struct store_intervention *iv, void *ctx),
                                void *ctx);
/* The life cycle of one intervention, oldest first. */
int store_intervention_lifecycle(struct store *s, const char *id,
                                 int (*fn)(const char *status, int64_t ts, void *ctx), void *ctx);
/* Events by id (any order asked; answered in id order). */
int store_events_by_id(struct store *s, const int64_t *ids, size_t n,
                       int (*fn)(const struct store_event *e, int64_t id, void *ctx), void *ctx);

struct store_live_counts {
    int64_t struggling_now;     /* sessions with a signal >= 70 in the last 5 minutes */
    int64_t decided_last_minute;
    int64_t shown_last_minute;
    int64_t accepted_last_minute;
    int64_t sessions_today;
    int64_t conversions_today;
};

int store_live_counts(struct store *s, int64_t project_id, int64_t now,
                      struct store_live_counts *out);

/* Decisions created in [from, to) with their session's conversion, oldest first. */
struct store_decision_row {
    const char *session_id;
    const char *rule;
    const char *action;
    const char *status;
    bool held_out;
    bool converted;
    int64_t created_at;
};
int store_decisions(struct store *s, int64_t project_id, int64_t from, int64_t to,
                    int (*fn)(const struct store_decision_row *r, void *ctx), void *ctx);

/* Per visitor (anonymousId, else userId): sessions started before `before`
 * and how many converted, for the engine's "returning" features. */
int store_visitor_stats(struct store *s, int64_t before,
                        int (*fn)(int64_t project_id, const char *visitor, int64_t sessions,
                                  int64_t conversions, void *ctx),
                        void *ctx);

struct store_page_baseline {
    int64_t project_id;
    const char *path;
    int64_t samples;
    const char *dwell_hist; /* JSON array of bucket counts */
    double scroll_reversals_mean;
    int64_t updated_at;
};

int store_tx_upsert_page_baseline(struct store_tx *tx, const struct store_page_baseline *b);
int store_page_baselines(struct store *s,
                         int (*fn)(const struct store_page_baseline *b, void *ctx), void *ctx);

#endif
