/*
 * engine.h - real-time struggle detection, exit risk and interventions.
 *
 *   ingest commit hook ──engine_submit()──> worker queues (partitioned by
 *   hash(project, session): one worker owns a session, no locks on it)
 *        worker: session state -> detectors -> signals -> risk -> policy
 *                  │                                          │
 *                  └─ batched writes (sessions, signals,      └─ decision ──> deliver hook
 *                     risk points, decisions) to the store'        (live/: WebSocket push)
 *                     internal queue
 *
 * Ingest never waits for the engine: engine_submit() copies the committed
 * rows into bounded per-worker queues and returns; when a queue is full the
 * event is counted as dropped (journey_engine_dropped_total) and skipped by
 * the engine (it stays stored).
 *
 * The engine never touches sockets: a decision goes out through the deliver
 * hook (set by main to the live hub), which says how many open connections
 * took it; with none, the decision waits as "pending" for the polling route.
 */
#ifndef JOURNEY_ENGINE_ENGINE_H
#define JOURNEY_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "store/store.h"

struct engine;

struct engine_config {
    int workers;                 /* 0: one per CPU core */
    size_t queue_max_events;     /* per worker */
    int64_t session_timeout_ms;  /* a session's state is dropped after this long idle */
    int64_t intervention_ttl_ms; /* an intervention not shown by then expires */
    int64_t flush_interval_ms;   /* how often workers write their batched state */
    int64_t tick_interval_ms;    /* time-based detectors (dwell) and expiry */
    int64_t session_write_interval_ms; /* a changing live session's row is rewritten this often */
};

void engine_config_defaults(struct engine_config *c);

/* Delivery of a decision to the browser: returns the number of open
 * connections of (project, session) that took it (0: none open). json is
 * the message the tracker receives (docs/protocol.md). Called on a worker
 * thread; must not block. */
typedef int (*engine_deliver_fn)(void *ctx, int64_t project_id, const char *session_id,
                                 const char *json, size_t len);
/* priority_route: called with the decision JSON for the project's webhook
 * (on a worker thread; must only queue the call). */
typedef void (*engine_webhook_fn)(void *ctx, int64_t project_id, const char *url,
                                  const char *json, size_t len);

struct engine_hooks {
    engine_deliver_fn deliver;
    engine_webhook_fn webhook;
    void *ctx;
};

/* store is borrowed and must outlive the engine. */
struct engine *engine_new(const struct engine_config *cfg, struct store *store,
                          const struct engine_hooks *hooks);
/* Loads project settings, baselines and recent decisions, then replays the
 * stored events of the last session_timeout to rebuild live sessions (no
 * signals or decisions are re-emitted). Returns events replayed or < 0. */
int64_t engine_restore(struct engine *e, int64_t now_ms);
/* Starts the worker threads. */
int engine_start(struct engine *e);
/* Stops the workers after they drained their queues and flushed. NULL-safe. */
void engine_free(struct engine *e);

/* The ingest commit hook (see ingest_commit_hook): copies and queues. */
void engine_submit(void *engine, const struct store_event *const *events, const int64_t *ids,
                   size_t n);

/* A project's settings changed (policy, goal, detectors): reload them. */
void engine_reload_project(struct engine *e, int64_t project_id);

/* The browser answered an intervention: declines and dismissals start the
 * cooldown of its session. */
void engine_intervention_response(struct engine *e, int64_t project_id, const char *session_id,
                                  const char *intervention_id, const char *status);

/* Records a browser's answer to intervention id (shown, accepted, declined,
 * dismissed, escalated; or delivered, from the polling route): the
 * life-cycle step is stored by the writer, then the session's worker hears
 * of it (declines and dismissals start its cooldown). done(rc, prev, arg)
 * runs on the writer thread with rc 0 (changed), 1 (already so), -ENOENT
 * (unknown id), -EINVAL (not allowed from the current status) or -EIO; done
 * may be NULL. Returns 0, or -EAGAIN when the store's queue is full (done is
 * then not called). */
int engine_respond(struct engine *e, int64_t project_id, const char *id, const char *status,
                   void (*done)(int rc, const char *prev, void *arg), void *arg);

/* The same at a given time (epoch ms): imported history (journey simulate). */
int engine_respond_at(struct engine *e, int64_t project_id, const char *id, const char *status,
                      int64_t ts, void (*done)(int rc, const char *prev, void *arg), void *arg);

/* The same, accepted only when the intervention belongs to session_id
 * (else -ENOENT, as for an unknown id): answers from a browser. ts 0: now. */
int engine_respond_session(struct engine *e, int64_t project_id, const char *id,
                           const char *status, const char *session_id, int64_t ts,
                           void (*done)(int rc, const char *prev, void *arg), void *arg);

/* Waits until every event submitted so far has been processed and the
 * resulting writes are queued to the store (tests, benchmarks). */
void engine_sync(struct engine *e);

struct engine_stats {
    uint64_t events;
    uint64_t dropped;
    size_t queued;
    size_t live_sessions;
    size_t session_bytes; /* memory held by live session state */
    uint64_t signals;
    uint64_t decisions;
};
void engine_stats(struct engine *e, struct engine_stats *out);

/* ---- the exit-risk model ----------------------------------------------- */

/* A trained model, supplied by model/ (the engine does not know XGBoost).
 * Features are engine_feature_name(0..n-1) in that order. predict and
 * explain are called concurrently by the workers and must be thread-safe. */
struct engine_model {
    int version;
    double base_rate; /* P(exit) of an average training snapshot */
    void *ctx;
    /* P(exit) for n rows of engine_feature_count() floats (NAN = missing). */
    int (*predict)(void *ctx, const float *rows, size_t n, float *out);
    /* Contributions (log-odds) of each feature to one row's score, then the
     * bias: engine_feature_count() + 1 floats. */
    int (*explain)(void *ctx, const float *row, float *contrib);
    void (*release)(void *ctx); /* the model is no longer used */
};

/* The class of a visit's origin from its referrer and landing URL: "direct",
 * "search", "social", "email", "paid" or "other" (campaign parameters win). */
const char *engine_referrer_class(const char *referrer, const char *url);

int engine_feature_count(void);
const char *engine_feature(int i);

/* Starts scoring with m (takes ownership), replacing any model in use;
 * NULL goes back to the rule-based risk. Safe while workers run: the
 * previous model is released once no worker uses it. */
void engine_set_model(struct engine *e, struct engine_model *m);
/* The model's version in use, or 0 for the rule-based risk. */
int engine_model_version(struct engine *e);

/* The risk 0-100 for a model's P(exit): how far above the average session's
 * exit probability b this one is, as a share of the headroom to certainty:
 * 100 x max(0, (p - b) / (1 - b)). */
int engine_risk_from_probability(double p, double b);

/* ---- offline replay (training) ------------------------------------------ */

/* Sessions replayed outside the engine, through the same per-event code and
 * the same features, in the order given (start time, for training): the
 * page baselines and returning-visitor registry are rebuilt as they go. */
struct engine_offline;
struct engine_offline *engine_offline_new(const char *settings_json, char *err, size_t errlen);
void engine_offline_free(struct engine_offline *o);
void engine_offline_begin(struct engine_offline *o, int64_t project_id, const char *session_id);
void engine_offline_event(struct engine_offline *o, const struct store_event *e, int64_t id);
bool engine_offline_converted(const struct engine_offline *o);
int64_t engine_offline_last_ts(const struct engine_offline *o);
/* The current features (engine_feature_count() floats) as of `now`. */
void engine_offline_features(const struct engine_offline *o, int64_t now, float *out);
void engine_offline_end(struct engine_offline *o);
/* True when the settings name a conversion goal (training needs one). */
bool engine_offline_has_goal(const struct engine_offline *o);

/* Validates a project settings document (policy, goal, detectors); 0, or -1
 * with a message naming the offending field in err. */
int engine_validate_settings(const char *json, char *err, size_t errlen);
/* The default settings, as a JSON document (for docs and `journey project`). */
void engine_default_settings(struct buf *out);

#endif
