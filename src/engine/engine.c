/*
 * engine.c - workers, their queues, decisions and persistence.
 *
 * Each worker is a thread owning a set of sessions (a chained hash table
 * keyed by hash(project, session id)), fed by a mutex-protected queue that
 * the store's writer thread appends committed events to (engine_submit). A
 * worker takes its whole queue at once, and for each event:
 *
 *   parse -> detectors -> signals -> session advanced -> risk -> policy
 *
 * Writes (signals, risk points when risk moved by 5 or more, session rows,
 * decisions) collect in the worker's write batch, which goes to the store's
 * internal queue every flush_interval_ms, or at once when it holds a
 * decision. A decision is delivered to the browser only after its row is
 * committed (the batch's completion runs the deliver hook), so the browser
 * can never answer an intervention the store does not know yet.
 *
 * Ticks (tick_interval_ms) run the time-based detector (long dwell), evict
 * sessions idle for session_timeout_ms (after writing them), and, on worker
 * 0, expire undelivered interventions and save the page baselines.
 */
#include "engine/engine_internal.h"

#include "common/log.h"
#include "common/random.h"
#include "common/timefmt.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* ------------------------------------------------------------------------ */
/* structures                                                                */

struct decision {
    struct store_intervention row; /* strings in the batch arena */
    const char *deliver_json;
    size_t deliver_len;
    const char *webhook_url;
    const char *webhook_json;
    size_t webhook_len;
};

struct risk_row {
    int64_t project_id;
    const char *session_id;
    int64_t ts;
    int risk;
    int64_t event_id;
    bool model;
};

struct write_batch {
    struct store_job job;
    struct engine *eng;
    struct arena arena;
    struct store_session *sessions;
    size_t n_sessions, cap_sessions;
    struct store_signal *signals;
    size_t n_signals, cap_signals;
    struct risk_row *risks;
    size_t n_risks, cap_risks;
    struct decision *decisions;
    size_t n_decisions, cap_decisions;
    struct {
        const char *id;
        int64_t project_id;
        const char *status;
    } *transitions;
    size_t n_transitions, cap_transitions;
};

struct engine_sync {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int remaining;
};

struct worker {
    struct engine *eng;
    int index;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct engine_event *head, *tail;
    size_t depth;
    bool stop;

    /* the worker thread's own */
    struct session **table;
    size_t cap, count;
    struct write_batch *batch;
    uint64_t last_flush_ns, last_tick_ns, last_expiry_ns, last_baseline_ns;
    atomic_size_t sessions;
    atomic_size_t session_bytes;
    atomic_uint_fast64_t events;
};

struct engine {
    struct engine_config cfg;
    struct store *store;
    struct engine_hooks hooks;
    struct worker *workers;
    int n_workers;
    pthread_rwlock_t settings_lock;
    struct project_settings **projects;
    int n_projects;
    struct baselines *baselines;
    struct visitor_caps *caps;
    struct visitor_registry *visitors;
    struct engine_model *model; /* under settings_lock; NULL: rule-based risk */
    atomic_uint_fast64_t dropped, signals, decisions;

    struct metric *m_events, *m_dropped, *m_decisions_delivered, *m_decisions_pending,
        *m_decisions_held_out, *m_write_drops, *m_latency, *m_signals[SIG_KIND_COUNT];
    struct metric *m_suppressed[5];
};

enum suppress_reason { SUP_EXCLUDED, SUP_COOLDOWN, SUP_INTERVAL, SUP_DAILY, SUP_COUNT };

void engine_config_defaults(struct engine_config *c)
{
    c->workers = 0;
    c->queue_max_events = 100000;
    c->session_timeout_ms = 30 * 60 * 1000;
    c->intervention_ttl_ms = 2 * 60 * 1000;
    c->flush_interval_ms = 100;
    c->tick_interval_ms = 250;
    c->session_write_interval_ms = 10000;
}

/* ------------------------------------------------------------------------ */
/* metrics                                                                   */

static double gauge_queued(void *ctx)
{
    struct engine_stats st;
    engine_stats(ctx, &st);
    return (double)st.queued;
}

static double gauge_sessions(void *ctx)
{
    struct engine_stats st;
    engine_stats(ctx, &st);
    return (double)st.live_sessions;
}

static double gauge_session_bytes(void *ctx)
{
    struct engine_stats st;
    engine_stats(ctx, &st);
    return (double)st.session_bytes;
}

static void register_metrics(struct engine *e)
{
    e->m_events = metrics_counter("journey_engine_events_total", "Events processed by the engine",
                                  NULL);
    e->m_dropped = metrics_counter(
        "journey_engine_dropped_total",
        "Committed events the engine skipped because its queue was full (they stay stored)", NULL);
    e->m_decisions_delivered = metrics_counter(
        "journey_interventions_total", "Intervention decisions by outcome at decision time",
        "outcome=\"delivered\"");
    e->m_decisions_pending =
        metrics_counter("journey_interventions_total", NULL, "outcome=\"pending\"");
    e->m_decisions_held_out =
        metrics_counter("journey_interventions_total", NULL, "outcome=\"held_out\"");
    static const char *const reasons[] = {"excluded_path", "cooldown", "session_interval",
                                          "daily_cap"};
    for (int i = 0; i < SUP_COUNT; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", reasons[i]);
        e->m_suppressed[i] = metrics_counter(
            "journey_interventions_suppressed_total",
            "Rules that matched but were held back by a cap, cooldown or excluded page", labels);
    }
    e->m_write_drops = metrics_counter(
        "journey_engine_write_drops_total",
        "Engine write batches refused because the store's internal queue was full", NULL);
    for (int k = 0; k < SIG_KIND_COUNT; k++) {
        char labels[64];
        snprintf(labels, sizeof labels, "kind=\"%s\"", signal_kind_name((enum signal_kind)k));
        e->m_signals[k] = metrics_counter("journey_signals_total", "Struggle signals by kind", labels);
    }
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                  0.01,   0.025,   0.05,   0.1,   0.25,   1};
    e->m_latency = metrics_histogram("journey_engine_latency_seconds",
                                     "From commit to the event processed by its worker", NULL, secs,
                                     (int)ARRAY_LEN(secs));
    metrics_gauge_fn("journey_engine_queue_events", "Events waiting in the engine's queues", NULL,
                     gauge_queued, e);
    metrics_gauge_fn("journey_engine_sessions", "Live sessions held by the engine", NULL,
                     gauge_sessions, e);
    metrics_gauge_fn("journey_engine_session_bytes", "Memory held by live session state", NULL,
                     gauge_session_bytes, e);
}

/* ------------------------------------------------------------------------ */
/* project settings                                                          */

/* Caller holds the settings lock (read or write). */
static struct project_settings *find_project(struct engine *e, int64_t id)
{
    for (int i = 0; i < e->n_projects; i++)
        if (e->projects[i]->project_id == id)
            return e->projects[i];
    return NULL;
}

static struct project_settings *load_settings(struct engine *e, int64_t id)
{
    struct store_project p;
    char err[300];
    struct project_settings *ps = NULL;
    if (store_project_by_id(e->store, id, &p) == 1) {
        ps = project_settings_parse(p.settings_json, id, err, sizeof err);
        if (!ps)
            LOG_ERROR("engine", NULL, "project %lld: stored settings refused (%s); using defaults",
                      (long long)id, err);
        store_project_clear(&p);
    }
    if (!ps)
        ps = project_settings_parse(NULL, id, err, sizeof err);
    return ps;
}

/* Makes sure the project's settings are loaded (takes the write lock when
 * they are not). Call without holding the lock. */
static void ensure_project(struct engine *e, int64_t id)
{
    pthread_rwlock_rdlock(&e->settings_lock);
    bool have = find_project(e, id) != NULL;
    pthread_rwlock_unlock(&e->settings_lock);
    if (have)
        return;
    struct project_settings *ps = load_settings(e, id);
    pthread_rwlock_wrlock(&e->settings_lock);
    if (!find_project(e, id)) {
        e->projects = xrealloc(e->projects, (size_t)(e->n_projects + 1) * sizeof *e->projects);
        e->projects[e->n_projects++] = ps;
        ps = NULL;
    }
    pthread_rwlock_unlock(&e->settings_lock);
    project_settings_free(ps);
}

void engine_reload_project(struct engine *e, int64_t project_id)
{
    struct project_settings *ps = load_settings(e, project_id);
    struct project_settings *old = NULL;
    pthread_rwlock_wrlock(&e->settings_lock);
    for (int i = 0; i < e->n_projects; i++) {
        if (e->projects[i]->project_id == project_id) {
            old = e->projects[i];
            e->projects[i] = ps;
            ps = NULL;
        }
    }
    if (ps) {
        e->projects = xrealloc(e->projects, (size_t)(e->n_projects + 1) * sizeof *e->projects);
        e->projects[e->n_projects++] = ps;
    }
    pthread_rwlock_unlock(&e->settings_lock);
    project_settings_free(old);
}

/* ------------------------------------------------------------------------ */
/* sessions table (worker-owned)                                             */

static uint64_t session_key(int64_t project_id, const char *session_id)
{
    return XXH3_64bits_withSeed(session_id, strlen(session_id), (XXH64_hash_t)project_id) | 1;
}

static struct session *find_session(struct worker *w, uint64_t key, int64_t project_id,
                                    const char *session_id)
{
    for (struct session *s = w->table[key & (w->cap - 1)]; s; s = s->next)
        if (s->key == key && s->project_id == project_id && !strcmp(s->session_id, session_id))
            return s;
    return NULL;
}

static void grow_table(struct worker *w)
{
    size_t cap = w->cap * 2;
    struct session **t = xcalloc(cap, sizeof *t);
    for (size_t i = 0; i < w->cap; i++) {
        struct session *s = w->table[i];
        while (s) {
            struct session *n = s->next;
            s->next = t[s->key & (cap - 1)];
            t[s->key & (cap - 1)] = s;
            s = n;
        }
    }
    free(w->table);
    w->table = t;
    w->cap = cap;
}

static bool in_holdout(const struct project_settings *ps, int64_t project_id,
                       const char *session_id)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%lld:", (long long)project_id);
    XXH64_hash_t seed = XXH3_64bits(pid, strlen(pid));
    uint64_t h = XXH3_64bits_withSeed(session_id, strlen(session_id), seed ^ 0x686f6c646f7574ull);
    return (double)(h % 10000) < ps->holdout_pct * 100.0;
}

static struct session *get_session(struct worker *w, const struct engine_event *ev,
                                   const struct project_settings *ps)
{
    uint64_t key = session_key(ev->project_id, ev->session_id);
    struct session *s = find_session(w, key, ev->project_id, ev->session_id);
    if (s)
        return s;
    if (w->count + 1 > w->cap)
        grow_table(w);
    s = session_new(ev->project_id, ev->session_id, key);
    s->held_out = in_holdout(ps, ev->project_id, ev->session_id);
    s->next = w->table[key & (w->cap - 1)];
    w->table[key & (w->cap - 1)] = s;
    w->count++;
    atomic_store(&w->sessions, w->count);
    return s;
}

/* ------------------------------------------------------------------------ */
/* write batches                                                             */

static struct write_batch *batch_new(struct engine *e)
{
    struct write_batch *b = xcalloc(1, sizeof *b);
    b->eng = e;
    arena_init(&b->arena, 16384);
    return b;
}

static void batch_free(struct write_batch *b)
{
    if (!b)
        return;
    arena_free(&b->arena);
    free(b->sessions);
    free(b->signals);
    free(b->risks);
    free(b->decisions);
    free(b->transitions);
    free(b);
}

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = xrealloc((arr), (cap) * sizeof *(arr));                                        \
        }                                                                                          \
    } while (0)

static const char *bdup(struct write_batch *b, const char *s)
{
    return s ? arena_strdup(&b->arena, s) : NULL;
}

static bool batch_empty(const struct write_batch *b)
{
    return !b || (!b->n_sessions && !b->n_signals && !b->n_risks && !b->n_decisions &&
                  !b->n_transitions);
}

static int batch_apply(struct store_tx *tx, struct store_job *job)
{
    struct write_batch *b = (struct write_batch *)job;
    for (size_t i = 0; i < b->n_decisions; i++)
        if (store_tx_insert_intervention(tx, &b->decisions[i].row))
            return -EIO;
    for (size_t i = 0; i < b->n_sessions; i++)
        if (store_tx_upsert_session(tx, &b->sessions[i]))
            return -EIO;
    for (size_t i = 0; i < b->n_signals; i++)
        if (store_tx_insert_signal(tx, &b->signals[i]))
            return -EIO;
    for (size_t i = 0; i < b->n_risks; i++) {
        const struct risk_row *r = &b->risks[i];
        if (store_tx_insert_risk_point(tx, r->project_id, r->session_id, r->ts, r->risk,
                                       r->model ? "model" : "rules", r->event_id))
            return -EIO;
    }
    for (size_t i = 0; i < b->n_transitions; i++) {
        int rc = store_tx_intervention_transition(tx, b->transitions[i].id,
                                                  b->transitions[i].project_id,
                                                  b->transitions[i].status, now_ms(), NULL, NULL, NULL);
        if (rc == -EIO)
            return rc;
    }
    return 0;
}

static void engine_batch_submit(struct engine *e, struct write_batch *b);

/* Marks interventions delivered (a follow-up job from a decision's completion). */
static void mark_delivered(struct engine *e, const char *const *ids, const int64_t *projects,
                           size_t n)
{
    struct write_batch *b = batch_new(e);
    for (size_t i = 0; i < n; i++) {
        GROW(b->transitions, b->n_transitions, b->cap_transitions);
        b->transitions[b->n_transitions].id = bdup(b, ids[i]);
        b->transitions[b->n_transitions].project_id = projects[i];
        b->transitions[b->n_transitions].status = "delivered";
        b->n_transitions++;
    }
    engine_batch_submit(e, b);
}

static void batch_done(struct store_job *job, int rc)
{
    struct write_batch *b = (struct write_batch *)job;
    struct engine *e = b->eng;
    if (rc == 0 && b->n_decisions) {
        const char *ids[64];
        int64_t projects[64];
        size_t n_delivered = 0;
        for (size_t i = 0; i < b->n_decisions; i++) {
            struct decision *d = &b->decisions[i];
            if (d->row.held_out) {
                metric_add(e->m_decisions_held_out, 1);
                continue;
            }
            int taken = 0;
            if (e->hooks.deliver)
                taken = e->hooks.deliver(e->hooks.ctx, d->row.project_id, d->row.session_id,
                                         d->deliver_json, d->deliver_len);
            if (d->webhook_url && e->hooks.webhook)
                e->hooks.webhook(e->hooks.ctx, d->row.project_id, d->webhook_url, d->webhook_json,
                                 d->webhook_len);
            metric_add(taken > 0 ? e->m_decisions_delivered : e->m_decisions_pending, 1);
            if (taken > 0 && n_delivered < 64) {
                ids[n_delivered] = d->row.id;
                projects[n_delivered] = d->row.project_id;
                n_delivered++;
            }
        }
        if (n_delivered)
            mark_delivered(e, ids, projects, n_delivered);
    } else if (rc < 0 && b->n_decisions) {
        LOG_ERROR("engine", NULL, "%zu intervention decisions could not be stored; not delivered",
                  b->n_decisions);
    }
    batch_free(b);
}

static void engine_batch_submit(struct engine *e, struct write_batch *b)
{
    if (batch_empty(b)) {
        batch_free(b);
        return;
    }
    b->job.queue = STORE_QUEUE_INTERNAL;
    b->job.weight = 1;
    b->job.apply = batch_apply;
    b->job.done = batch_done;
    if (store_submit(e->store, &b->job) != 0) {
        metric_add(e->m_write_drops, 1);
        batch_free(b);
    }
}

static void flush(struct worker *w)
{
    struct write_batch *b = w->batch;
    w->batch = NULL;
    w->last_flush_ns = mono_ns();
    engine_batch_submit(w->eng, b);
}

static struct write_batch *worker_batch(struct worker *w)
{
    if (!w->batch)
        w->batch = batch_new(w->eng);
    return w->batch;
}

static void queue_session(struct worker *w, struct session *s)
{
    struct write_batch *b = worker_batch(w);
    GROW(b->sessions, b->n_sessions, b->cap_sessions);
    struct store_session *r = &b->sessions[b->n_sessions++];
    memset(r, 0, sizeof *r);
    r->project_id = s->project_id;
    r->session_id = bdup(b, s->session_id);
    r->anonymous_id = bdup(b, s->anonymous_id);
    r->user_id = bdup(b, s->user_id);
    r->started_at = s->start_ts;
    r->last_event_at = s->last_ts;
    r->pages = s->pages;
    r->distinct_pages = s->distinct_pages;
    r->events = s->events;
    r->entry_path = bdup(b, s->entry_path);
    r->exit_path = bdup(b, s->current_path);
    r->referrer = bdup(b, s->referrer);
    r->device_class = s->device_class;
    r->browser = s->browser;
    r->os = s->os;
    r->converted = s->converted;
    r->converted_at = s->converted_at;
    r->max_risk = s->max_risk;
    r->last_risk = s->risk;
    r->signals = s->signals_total;
    for (int k = 0; k < SIG_KIND_COUNT; k++)
        if (s->sig[k].max_score > r->max_signal)
            r->max_signal = s->sig[k].max_score;
    struct buf counts = BUF_INIT;
    buf_putc(&counts, '{');
    bool first = true;
    for (int k = 0; k < SIG_KIND_COUNT; k++) {
        if (!s->sig[k].count)
            continue;
        buf_printf(&counts, "%s\"%s\":%u", first ? "" : ",", signal_kind_name((enum signal_kind)k),
                   s->sig[k].count);
        first = false;
    }
    buf_putc(&counts, '}');
    r->signal_counts_json = arena_strndup(&b->arena, counts.data, counts.len);
    buf_free(&counts);
    r->interventions = s->interventions;
    r->held_out = s->held_out;
    s->dirty = false;
    s->written_ns = mono_ns();
}

/* ------------------------------------------------------------------------ */
/* decisions                                                                 */

static const char *action_name(enum action_type a)
{
    switch (a) {
    case ACTION_LIVE_CHAT: return "live_chat_offer";
    case ACTION_TOOLTIP: return "tooltip";
    case ACTION_PRIORITY_ROUTE: return "priority_route";
    case ACTION_CUSTOM: return "custom";
    }
    return "custom";
}

/* Appends the explanation of s's risk as a JSON object. */
static void explain(struct engine *e, const struct session *s, int64_t now, struct buf *out)
{
    if (e->model && e->model->explain) {
        float row[ENGINE_FEATURES], contrib[ENGINE_FEATURES + 1];
        engine_features(s, now, row);
        if (e->model->explain(e->model->ctx, row, contrib) == 0) {
            /* The five features that moved this score most, either way. */
            int order[ENGINE_FEATURES];
            for (int i = 0; i < ENGINE_FEATURES; i++)
                order[i] = i;
            for (int i = 0; i < ENGINE_FEATURES; i++)
                for (int j = i + 1; j < ENGINE_FEATURES; j++)
                    if (fabsf(contrib[order[j]]) > fabsf(contrib[order[i]])) {
                        int t = order[i];
                        order[i] = order[j];
                        order[j] = t;
                    }
            float p = 0;
            e->model->predict(e->model->ctx, row, 1, &p);
            buf_printf(out, "{\"source\":\"model\",\"model_version\":%d,\"risk\":%d,"
                            "\"p_exit\":%.4f,\"base_rate\":%.4f,\"bias\":%.4f,\"top\":[",
                       e->model->version, s->risk, p, e->model->base_rate,
                       contrib[ENGINE_FEATURES]);
            for (int i = 0; i < 5; i++) {
                int f = order[i];
                buf_printf(out, "%s{\"feature\":\"%s\",\"value\":", i ? "," : "",
                           engine_feature_name(f));
                json_double(out, row[f]);
                buf_printf(out, ",\"contribution\":%.4f}", contrib[f]);
            }
            buf_puts(out, "]}");
            return;
        }
    }
    int contrib[SIG_KIND_COUNT];
    risk_contributions(s, now, contrib);
    buf_puts(out, "{\"source\":\"rules\",\"risk\":");
    json_int(out, s->risk);
    buf_puts(out, ",\"contributions\":[");
    bool first = true;
    for (int k = 0; k < SIG_KIND_COUNT; k++) {
        if (!s->sig[k].count)
            continue;
        buf_printf(out, "%s{\"feature\":\"%s\",\"points\":%d}", first ? "" : ",",
                   signal_kind_name((enum signal_kind)k), contrib[k]);
        first = false;
    }
    buf_puts(out, "]}");
}

static void decide(struct worker *w, struct session *s, const struct project_settings *ps,
                   const struct rule *rule, int64_t now, int64_t event_id)
{
    struct engine *e = w->eng;
    const char *visitor = s->user_id ? s->user_id : s->anonymous_id;
    if (policy_path_excluded(ps, s->current_path)) {
        metric_add(e->m_suppressed[SUP_EXCLUDED], 1);
        return;
    }
    if (s->cooldown_until > now) {
        metric_add(e->m_suppressed[SUP_COOLDOWN], 1);
        return;
    }
    if (s->last_intervention_ts && now - s->last_intervention_ts < ps->session_interval_ms) {
        metric_add(e->m_suppressed[SUP_INTERVAL], 1);
        return;
    }
    if (visitor_caps_count(e->caps, s->project_id, visitor, now) >= ps->daily_cap) {
        metric_add(e->m_suppressed[SUP_DAILY], 1);
        return;
    }

    char id[40], hex[33];
    random_hex(hex, 12);
    snprintf(id, sizeof id, "iv_%s", hex);
    /* Templates speak of the field in trouble and the strongest signal. */
    enum signal_kind top = SIG_KIND_COUNT;
    int best = 0;
    for (int k = 0; k < SIG_KIND_COUNT; k++)
        if (s->sig[k].score > best) {
            best = s->sig[k].score;
            top = (enum signal_kind)k;
        }
    char *title = rule->title
                      ? policy_render(rule->title, s, s->trouble_field, s->trouble_form, top)
                      : NULL;
    char *message = rule->message
                        ? policy_render(rule->message, s, s->trouble_field, s->trouble_form, top)
                        : NULL;
    int64_t expires = now + ps->intervention_ttl_ms;

    struct write_batch *b = worker_batch(w);
    GROW(b->decisions, b->n_decisions, b->cap_decisions);
    struct decision *d = &b->decisions[b->n_decisions++];
    memset(d, 0, sizeof *d);

    /* What the browser receives (docs/protocol.md). */
    struct buf msg = BUF_INIT;
    buf_puts(&msg, "{\"type\":\"intervention\",\"id\":");
    json_str(&msg, id);
    buf_puts(&msg, ",\"action\":");
    json_str(&msg, action_name(rule->action));
    buf_puts(&msg, ",\"title\":");
    json_str(&msg, title);
    buf_puts(&msg, ",\"message\":");
    json_str(&msg, message);
    buf_puts(&msg, ",\"selector\":");
    json_str(&msg, rule->selector);
    buf_puts(&msg, ",\"name\":");
    json_str(&msg, rule->custom_name);
    buf_puts(&msg, ",\"payload\":");
    buf_puts(&msg, rule->payload_json ? rule->payload_json : "null");
    buf_puts(&msg, ",\"rule\":");
    json_str(&msg, rule->name);
    buf_puts(&msg, ",\"session_id\":");
    json_str(&msg, s->session_id);
    buf_puts(&msg, ",\"expires_at\":");
    json_time(&msg, expires);
    buf_puts(&msg, "}");
    d->deliver_json = arena_strndup(&b->arena, msg.data, msg.len);
    d->deliver_len = msg.len;

    /* Why: the signals, and what pushed the risk up (the model's top feature
     * contributions, or each signal's share of the rule-based risk). */
    struct buf sig = BUF_INIT, expl = BUF_INIT;
    buf_putc(&sig, '[');
    bool first = true;
    for (int k = 0; k < SIG_KIND_COUNT; k++) {
        if (!s->sig[k].count)
            continue;
        buf_printf(&sig, "%s{\"kind\":\"%s\",\"score\":%u,\"max_score\":%u,\"count\":%u}",
                   first ? "" : ",", signal_kind_name((enum signal_kind)k), s->sig[k].score,
                   s->sig[k].max_score, s->sig[k].count);
        first = false;
    }
    buf_putc(&sig, ']');
    explain(e, s, now, &expl);

    struct store_intervention *r = &d->row;
    r->id = bdup(b, id);
    r->project_id = s->project_id;
    r->session_id = bdup(b, s->session_id);
    r->anonymous_id = bdup(b, s->anonymous_id);
    r->user_id = bdup(b, s->user_id);
    r->rule = bdup(b, rule->name);
    r->action = action_name(rule->action);
    r->payload_json = d->deliver_json;
    r->risk = s->risk;
    r->signals_json = arena_strndup(&b->arena, sig.data, sig.len);
    r->explanation_json = arena_strndup(&b->arena, expl.data, expl.len);
    r->held_out = s->held_out;
    r->status = s->held_out ? "held_out" : "pending";
    r->path = bdup(b, s->current_path);
    r->event_id = event_id;
    r->created_at = now;
    r->delivered_at = -1;
    r->expires_at = expires;

    if (rule->action == ACTION_PRIORITY_ROUTE && ps->webhook_url && !s->held_out) {
        struct buf hook = BUF_INIT;
        buf_printf(&hook, "{\"event\":\"priority_route\",\"project_id\":%lld,\"intervention\":",
                   (long long)s->project_id);
        buf_append(&hook, msg.data, msg.len);
        buf_puts(&hook, ",\"session_id\":");
        json_str(&hook, s->session_id);
        buf_puts(&hook, ",\"anonymous_id\":");
        json_str(&hook, s->anonymous_id);
        buf_puts(&hook, ",\"user_id\":");
        json_str(&hook, s->user_id);
        buf_puts(&hook, ",\"page\":");
        json_str(&hook, s->current_path);
        buf_printf(&hook, ",\"risk\":%d,\"signals\":", s->risk);
        buf_append(&hook, sig.data, sig.len);
        buf_putc(&hook, '}');
        d->webhook_url = bdup(b, ps->webhook_url);
        d->webhook_json = arena_strndup(&b->arena, hook.data, hook.len);
        d->webhook_len = hook.len;
        buf_free(&hook);
    }
    buf_free(&msg);
    buf_free(&sig);
    buf_free(&expl);
    free(title);
    free(message);

    s->interventions++;
    s->last_intervention_ts = now;
    s->dirty = true;
    visitor_caps_add(e->caps, s->project_id, visitor, now);
    atomic_fetch_add(&e->decisions, 1);
    queue_session(w, s);
    flush(w); /* a decision goes out now, not at the next flush */
}

/* ------------------------------------------------------------------------ */
/* processing                                                                */

static void after_signals(struct worker *w, struct session *s, const struct project_settings *ps,
                          struct signal *sigs, int n, int64_t now, int64_t event_id, bool replay)
{
    struct engine *e = w->eng;
    for (int i = 0; i < n; i++) {
        if (replay)
            continue;
        atomic_fetch_add(&e->signals, 1);
        metric_add(e->m_signals[sigs[i].kind], 1);
        struct write_batch *b = worker_batch(w);
        GROW(b->signals, b->n_signals, b->cap_signals);
        struct store_signal *r = &b->signals[b->n_signals++];
        r->project_id = s->project_id;
        r->session_id = bdup(b, s->session_id);
        r->kind = signal_kind_name(sigs[i].kind);
        r->score = sigs[i].score;
        r->ts = sigs[i].ts;
        r->path = bdup(b, s->current_path);
        r->event_id = sigs[i].event_id;
        r->evidence_json = bdup(b, sigs[i].evidence);
    }
    int risk;
    float p_exit = -1;
    if (e->model) {
        float row[ENGINE_FEATURES];
        engine_features(s, now, row);
        if (e->model->predict(e->model->ctx, row, 1, &p_exit) == 0)
            risk = engine_risk_from_probability(p_exit, e->model->base_rate);
        else
            risk = risk_from_signals(s, now);
    } else {
        risk = risk_from_signals(s, now);
    }
    bool moved = risk != s->risk;
    s->risk = risk;
    if (risk > s->max_risk)
        s->max_risk = risk;
    if (replay) {
        s->stored_risk = risk;
        return;
    }
    if (abs(risk - s->stored_risk) >= 5) {
        struct write_batch *b = worker_batch(w);
        GROW(b->risks, b->n_risks, b->cap_risks);
        b->risks[b->n_risks++] = (struct risk_row){s->project_id, bdup(b, s->session_id), now,
                                                   risk, event_id, e->model != NULL};
        s->stored_risk = risk;
    }
    if (n == 0 && !moved)
        return;
    const struct rule *rule = policy_match(ps, s, now);
    if (rule)
        decide(w, s, ps, rule, now, event_id);
}

static void process(struct worker *w, struct engine_event *ev)
{
    struct engine *e = w->eng;
    const struct project_settings *ps = find_project(e, ev->project_id);
    if (!ps || !ev->session_id)
        return;
    struct session *s = get_session(w, ev, ps);
    s->last_seen_ns = mono_ns();
    struct signal sigs[8];
    int n = session_step(s, ev, ps, e->baselines, e->visitors, sigs, (int)ARRAY_LEN(sigs));
    /* The engine's clock for what an event causes is the event's own (corrected)
     * time: live, that is the moment it happened; replayed or imported
     * history keeps its decisions in its own time. */
    int64_t now = ev->ts > s->last_ts ? ev->ts : s->last_ts;
    after_signals(w, s, ps, sigs, n, now, ev->id, ev->replay);
    if (!ev->replay) {
        metric_observe(e->m_latency, (double)(mono_ns() - ev->enqueued_ns) / 1e9);
        atomic_fetch_add(&w->events, 1);
    }
}

static void control(struct worker *w, struct engine_event *ev)
{
    if (ev->kind == EV_CTL_RESPONSE) {
        uint64_t key = session_key(ev->project_id, ev->session_id);
        struct session *s = find_session(w, key, ev->project_id, ev->session_id);
        if (!s || !ev->state)
            return;
        if (!strcmp(ev->state, "declined") || !strcmp(ev->state, "dismissed")) {
            const struct project_settings *ps = find_project(w->eng, ev->project_id);
            int64_t cool = ps ? ps->decline_cooldown_ms : 30 * 60 * 1000;
            s->cooldown_until = now_ms() + cool;
        }
    } else if (ev->kind == EV_CTL_SYNC) {
        flush(w);
        struct engine_sync *sy = ev->sync;
        pthread_mutex_lock(&sy->lock);
        sy->remaining--;
        pthread_cond_broadcast(&sy->cond);
        pthread_mutex_unlock(&sy->lock);
    }
}

/* ------------------------------------------------------------------------ */
/* ticks                                                                     */

struct expired_ctx {
    struct write_batch *b;
};

static int collect_expired(const char *id, int64_t project_id, void *arg)
{
    struct expired_ctx *c = arg;
    struct write_batch *b = c->b;
    GROW(b->transitions, b->n_transitions, b->cap_transitions);
    b->transitions[b->n_transitions].id = bdup(b, id);
    b->transitions[b->n_transitions].project_id = project_id;
    b->transitions[b->n_transitions].status = "expired";
    b->n_transitions++;
    return 0;
}

static void tick(struct worker *w)
{
    struct engine *e = w->eng;
    int64_t now = now_ms();
    uint64_t mono = mono_ns();
    uint64_t idle_ns = (uint64_t)e->cfg.session_timeout_ms * 1000000u;
    uint64_t write_ns = (uint64_t)e->cfg.session_write_interval_ms * 1000000u;
    for (size_t i = 0; i < w->cap; i++) {
        struct session **pp = &w->table[i];
        while (*pp) {
            struct session *s = *pp;
            if (mono - s->last_seen_ns > idle_ns) {
                if (s->dirty)
                    queue_session(w, s);
                *pp = s->next;
                session_free(s);
                w->count--;
                continue;
            }
            if (s->dirty && mono - s->written_ns > write_ns)
                queue_session(w, s);
            const struct project_settings *ps = find_project(e, s->project_id);
            /* A visit whose last event is older than the session timeout (by
             * event time: history arriving late) is over; nobody dwells. */
            if (ps && ps->detectors.enabled[SIG_LONG_DWELL] && !s->long_dwell_fired &&
                s->page_enter_ts && now - s->last_ts < e->cfg.session_timeout_ms) {
                struct signal sigs[2];
                struct detect_ctx c = {.params = &ps->detectors,
                                       .baselines = e->baselines,
                                       .project_id = s->project_id,
                                       .out = sigs,
                                       .cap_out = 2};
                detect_long_dwell(&c, s, now);
                for (int k = 0; k < c.n_out; k++)
                    session_note_signal(s, &sigs[k]);
                if (c.n_out)
                    after_signals(w, s, ps, sigs, c.n_out, now, s->last_event_id, false);
            }
            pp = &s->next;
        }
    }
    atomic_store(&w->sessions, w->count);
    /* Memory of live sessions, refreshed once per tick. */
    size_t bytes = w->cap * sizeof(struct session *);
    for (size_t i = 0; i < w->cap; i++)
        for (struct session *s = w->table[i]; s; s = s->next)
            bytes += session_memory(s);
    atomic_store(&w->session_bytes, bytes);

    if (w->index == 0 && mono - w->last_expiry_ns > 2000000000ull) {
        w->last_expiry_ns = mono;
        struct expired_ctx c = {worker_batch(w)};
        store_interventions_expired(e->store, now, collect_expired, &c);
    }
    if (w->index == 0 && mono - w->last_baseline_ns > 60000000000ull) {
        w->last_baseline_ns = mono;
        baselines_save(e->baselines, e->store);
    }
}

/* ------------------------------------------------------------------------ */
/* the worker thread                                                         */

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->eng;
    uint64_t flush_ns = (uint64_t)e->cfg.flush_interval_ms * 1000000u;
    uint64_t tick_ns = (uint64_t)e->cfg.tick_interval_ms * 1000000u;
    w->last_flush_ns = w->last_tick_ns = mono_ns();
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->head && !w->stop) {
            uint64_t now = mono_ns();
            uint64_t next = w->last_tick_ns + tick_ns;
            if (w->batch && w->last_flush_ns + flush_ns < next)
                next = w->last_flush_ns + flush_ns;
            if (next <= now)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t wait = next - now;
            ts.tv_sec += (time_t)(wait / 1000000000u);
            ts.tv_nsec += (long)(wait % 1000000000u);
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        struct engine_event *list = w->head;
        w->head = w->tail = NULL;
        w->depth = 0;
        bool stop = w->stop;
        pthread_mutex_unlock(&w->lock);

        /* Settings stay put while a batch is processed. */
        for (struct engine_event *ev = list; ev; ev = ev->next)
            if (ev->kind < EV_CTL_RESPONSE)
                ensure_project(e, ev->project_id);
        pthread_rwlock_rdlock(&e->settings_lock);
        while (list) {
            struct engine_event *ev = list;
            list = list->next;
            if (ev->kind >= EV_CTL_RESPONSE)
                control(w, ev);
            else
                process(w, ev);
            engine_event_free(ev);
        }
        uint64_t now = mono_ns();
        if (now - w->last_tick_ns >= tick_ns) {
            w->last_tick_ns = now;
            tick(w);
        }
        pthread_rwlock_unlock(&e->settings_lock);
        if (w->batch && (now - w->last_flush_ns >= flush_ns || stop))
            flush(w);
        if (stop) {
            pthread_mutex_lock(&w->lock);
            bool empty = !w->head;
            pthread_mutex_unlock(&w->lock);
            if (empty)
                break;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* submitting                                                                */

static struct engine_event *copy_event(const struct store_event *r, int64_t id)
{
    const char *strs[] = {r->session_id, r->anonymous_id, r->user_id, r->path, r->event,
                          r->device_class, r->browser, r->os};
    size_t need = r->payload_len + 1;
    for (size_t i = 0; i < ARRAY_LEN(strs); i++)
        need += strs[i] ? strlen(strs[i]) + 1 : 0;
    struct engine_event *e = xcalloc(1, sizeof *e + need);
    char *p = e->data;
    const char **dst[] = {&e->session_id, &e->anonymous_id, &e->user_id, &e->path,
                          &e->name,       &e->device_class, &e->browser, &e->os};
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        if (!strs[i])
            continue;
        size_t n = strlen(strs[i]) + 1;
        memcpy(p, strs[i], n);
        *dst[i] = p;
        p += n;
    }
    memcpy(p, r->payload ? r->payload : "", r->payload_len);
    p[r->payload_len] = '\0';
    e->payload = p;
    e->payload_len = r->payload_len;
    e->id = id;
    e->project_id = r->project_id;
    e->ts = r->timestamp;
    e->client_ts = r->original_timestamp > 0 ? r->original_timestamp : r->timestamp;
    e->received_at = r->received_at;
    e->kind = engine_event_kind(r->type, r->event);
    return e;
}

static struct worker *worker_for(struct engine *e, int64_t project_id, const char *session_id)
{
    uint64_t k = session_key(project_id, session_id);
    return &e->workers[(k >> 17) % (uint64_t)e->n_workers];
}

static void enqueue(struct worker *w, struct engine_event *head, struct engine_event *tail,
                    size_t n)
{
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = head;
    else
        w->head = head;
    w->tail = tail;
    w->depth += n;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void engine_submit(void *engine, const struct store_event *const *events, const int64_t *ids,
                   size_t n)
{
    struct engine *e = engine;
    struct {
        struct engine_event *head, *tail;
        size_t n;
    } per[64];
    int nw = e->n_workers < 64 ? e->n_workers : 64;
    memset(per, 0, sizeof per);
    uint64_t now = mono_ns();
    for (size_t i = 0; i < n; i++) {
        const struct store_event *r = events[i];
        if (!r->session_id)
            continue;
        struct worker *w = worker_for(e, r->project_id, r->session_id);
        int wi = w->index % nw;
        /* Racy read of the depth: a bound, not an exact count. */
        if (w->depth + per[wi].n >= e->cfg.queue_max_events) {
            atomic_fetch_add(&e->dropped, 1);
            metric_add(e->m_dropped, 1);
            continue;
        }
        struct engine_event *ev = copy_event(r, ids[i]);
        ev->enqueued_ns = now;
        if (per[wi].tail)
            per[wi].tail->next = ev;
        else
            per[wi].head = ev;
        per[wi].tail = ev;
        per[wi].n++;
    }
    for (int i = 0; i < nw; i++)
        if (per[i].n)
            enqueue(&e->workers[i], per[i].head, per[i].tail, per[i].n);
    metric_add(e->m_events, n);
}

void engine_intervention_response(struct engine *e, int64_t project_id, const char *session_id,
                                  const char *intervention_id, const char *status)
{
    (void)intervention_id;
    if (!session_id || !status)
        return;
    size_t sl = strlen(session_id) + 1, stl = strlen(status) + 1;
    struct engine_event *ev = xcalloc(1, sizeof *ev + sl + stl);
    memcpy(ev->data, session_id, sl);
    memcpy(ev->data + sl, status, stl);
    ev->session_id = ev->data;
    ev->state = ev->data + sl;
    ev->project_id = project_id;
    ev->kind = EV_CTL_RESPONSE;
    enqueue(worker_for(e, project_id, session_id), ev, ev, 1);
}

static int noop_apply(struct store_tx *tx, void *ctx)
{
    (void)tx;
    (void)ctx;
    return 0;
}

void engine_sync(struct engine *e)
{
    struct engine_sync sy;
    pthread_mutex_init(&sy.lock, NULL);
    pthread_cond_init(&sy.cond, NULL);
    sy.remaining = e->n_workers;
    for (int i = 0; i < e->n_workers; i++) {
        struct engine_event *ev = xcalloc(1, sizeof *ev);
        ev->kind = EV_CTL_SYNC;
        ev->sync = &sy;
        enqueue(&e->workers[i], ev, ev, 1);
    }
    pthread_mutex_lock(&sy.lock);
    while (sy.remaining > 0)
        pthread_cond_wait(&sy.cond, &sy.lock);
    pthread_mutex_unlock(&sy.lock);
    pthread_mutex_destroy(&sy.lock);
    pthread_cond_destroy(&sy.cond);
    /* The flushed batches are queued; wait for the writer to commit them. */
    store_write_sync(e->store, noop_apply, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* life cycle                                                                */

struct engine *engine_new(const struct engine_config *cfg, struct store *store,
                          const struct engine_hooks *hooks)
{
    struct engine *e = xcalloc(1, sizeof *e);
    e->cfg = *cfg;
    if (e->cfg.workers <= 0)
        e->cfg.workers = cpu_count();
    if (e->cfg.workers > 64)
        e->cfg.workers = 64;
    e->store = store;
    if (hooks)
        e->hooks = *hooks;
    e->n_workers = e->cfg.workers;
    e->workers = xcalloc((size_t)e->n_workers, sizeof *e->workers);
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        w->eng = e;
        w->index = i;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        w->cap = 1024;
        w->table = xcalloc(w->cap, sizeof *w->table);
    }
    pthread_rwlock_init(&e->settings_lock, NULL);
    e->baselines = baselines_new();
    e->caps = visitor_caps_new();
    e->visitors = visitor_registry_new();
    register_metrics(e);
    return e;
}

int engine_start(struct engine *e)
{
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            return -EAGAIN;
        w->running = true;
    }
    return 0;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        if (w->running)
            pthread_join(w->thread, NULL);
        /* Write what the sessions still hold. */
        for (size_t k = 0; k < w->cap; k++)
            for (struct session *s = w->table[k]; s; s = s->next)
                if (s->dirty)
                    queue_session(w, s);
        if (w->running)
            flush(w);
        else
            batch_free(w->batch);
        for (size_t k = 0; k < w->cap; k++) {
            struct session *s = w->table[k];
            while (s) {
                struct session *n = s->next;
                session_free(s);
                s = n;
            }
        }
        free(w->table);
        struct engine_event *ev = w->head;
        while (ev) {
            struct engine_event *n = ev->next;
            engine_event_free(ev);
            ev = n;
        }
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
    }
    if (e->n_workers && e->workers[0].running)
        baselines_save(e->baselines, e->store);
    free(e->workers);
    for (int i = 0; i < e->n_projects; i++)
        project_settings_free(e->projects[i]);
    free(e->projects);
    pthread_rwlock_destroy(&e->settings_lock);
    baselines_free(e->baselines);
    visitor_caps_free(e->caps);
    visitor_registry_free(e->visitors);
    if (e->model) {
        if (e->model->release)
            e->model->release(e->model->ctx);
        free(e->model);
    }
    free(e);
}

struct store *engine_store(struct engine *e)
{
    return e->store;
}

int engine_feature_count(void)
{
    return ENGINE_FEATURES;
}

const char *engine_feature(int i)
{
    return engine_feature_name(i);
}

int engine_risk_from_probability(double p, double b)
{
    if (!(p >= 0))
        return 0;
    if (b >= 1)
        return p >= 1 ? 100 : 0;
    double r = 100.0 * (p - b) / (1.0 - b);
    if (r < 0)
        r = 0;
    if (r > 100)
        r = 100;
    return (int)lround(r);
}

void engine_set_model(struct engine *e, struct engine_model *m)
{
    pthread_rwlock_wrlock(&e->settings_lock);
    struct engine_model *old = e->model;
    e->model = m;
    pthread_rwlock_unlock(&e->settings_lock);
    if (old) {
        if (old->release)
            old->release(old->ctx);
        free(old);
    }
}

int engine_model_version(struct engine *e)
{
    pthread_rwlock_rdlock(&e->settings_lock);
    int v = e->model ? e->model->version : 0;
    pthread_rwlock_unlock(&e->settings_lock);
    return v;
}

void engine_stats(struct engine *e, struct engine_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        out->events += atomic_load(&w->events);
        out->live_sessions += atomic_load(&w->sessions);
        out->session_bytes += atomic_load(&w->session_bytes);
        pthread_mutex_lock(&w->lock);
        out->queued += w->depth;
        pthread_mutex_unlock(&w->lock);
    }
    out->dropped = atomic_load(&e->dropped);
    out->signals = atomic_load(&e->signals);
    out->decisions = atomic_load(&e->decisions);
}

/* ------------------------------------------------------------------------ */
/* restore                                                                   */

struct restore_ctx {
    struct engine *e;
    int64_t n;
};

static int restore_event(const struct store_event *r, int64_t id, void *arg)
{
    struct restore_ctx *c = arg;
    if (!r->session_id)
        return 0;
    struct engine *e = c->e;
    struct engine_event *ev = copy_event(r, id);
    ev->replay = true;
    ensure_project(e, ev->project_id);
    struct worker *w = worker_for(e, ev->project_id, ev->session_id);
    pthread_rwlock_rdlock(&e->settings_lock);
    process(w, ev);
    pthread_rwlock_unlock(&e->settings_lock);
    engine_event_free(ev);
    c->n++;
    return 0;
}

static int restore_intervention(const struct store_intervention *iv, void *arg)
{
    struct engine *e = arg;
    const char *visitor = iv->user_id ? iv->user_id : iv->anonymous_id;
    visitor_caps_add(e->caps, iv->project_id, visitor, iv->created_at);
    struct worker *w = worker_for(e, iv->project_id, iv->session_id);
    uint64_t key = session_key(iv->project_id, iv->session_id);
    struct session *s = find_session(w, key, iv->project_id, iv->session_id);
    if (!s)
        return 0;
    s->interventions++;
    if (iv->created_at > s->last_intervention_ts)
        s->last_intervention_ts = iv->created_at;
    if (iv->status && (!strcmp(iv->status, "declined") || !strcmp(iv->status, "dismissed"))) {
        pthread_rwlock_rdlock(&e->settings_lock);
        const struct project_settings *ps = find_project(e, iv->project_id);
        int64_t cool = ps ? ps->decline_cooldown_ms : 30 * 60 * 1000;
        pthread_rwlock_unlock(&e->settings_lock);
        int64_t at = iv->responded_at > 0 ? iv->responded_at : iv->created_at;
        if (at + cool > s->cooldown_until)
            s->cooldown_until = at + cool;
    }
    return 0;
}

static int restore_visitor(int64_t project_id, const char *visitor, int64_t sessions,
                           int64_t conversions, void *ctx)
{
    visitor_registry_add(ctx, project_id, visitor, (int)sessions, (int)conversions);
    return 0;
}

int64_t engine_restore(struct engine *e, int64_t now)
{
    baselines_load(e->baselines, e->store);
    /* Sessions before the replay window; the replay counts the rest. */
    store_visitor_stats(e->store, now - e->cfg.session_timeout_ms, restore_visitor, e->visitors);
    struct restore_ctx c = {e, 0};
    int rc = store_scan_events_since(e->store, now - e->cfg.session_timeout_ms, restore_event, &c);
    if (rc < 0)
        return rc;
    /* Sessions rebuilt from stored events are already stored as they are,
     * and count as seen now (their idle time restarts). */
    uint64_t mono = mono_ns();
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        for (size_t k = 0; k < w->cap; k++) {
            for (struct session *s = w->table[k]; s; s = s->next) {
                s->dirty = false;
                s->last_seen_ns = mono;
                s->long_dwell_fired = true; /* it may have fired before the restart */
            }
        }
        batch_free(w->batch);
        w->batch = NULL;
    }
    store_interventions_since(e->store, now - 86400000LL, restore_intervention, e);
    return c.n;
}
