/*
 * engine_internal.h - the engine's private structures, shared by the files of
 * src/engine/ only.
 *
 * Ownership: a session belongs to exactly one worker (the one its
 * hash(project, session) picks) and is only ever touched by that worker's
 * thread. Project settings are shared read-only: a worker holds the settings
 * read lock while it processes a batch of events, and a reload swaps them
 * under the write lock.
 */
#ifndef JOURNEY_ENGINE_INTERNAL_H
#define JOURNEY_ENGINE_INTERNAL_H

#include "engine/engine.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/metrics.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- events ------------------------------------------------------------ */

enum ev_kind {
    EV_PAGE,
    EV_SCREEN,
    EV_IDENTIFY,
    EV_TRACK, /* any other named event (conversion goals, custom events) */
    EV_CLICK,
    EV_DEAD_CLICK,
    EV_FIELD_FOCUS,
    EV_FIELD_BLUR,
    EV_FIELD_CHANGE,
    EV_FIELD_INVALID,
    EV_FORM_SUBMIT,
    EV_JS_ERROR,
    EV_SCROLL,
    EV_VISIBILITY,
    EV_PAGE_LEAVE,
    EV_VIDEO_PLAY,
    EV_VIDEO_PAUSE,
    EV_VIDEO_SEEKED,
    EV_VIDEO_RATE,
    EV_VIDEO_ENDED,
    EV_VIDEO_HEARTBEAT,
    EV_OTHER,
    /* control messages travel through the same queues, in order with events */
    EV_CTL_RESPONSE, /* an intervention response (cooldowns) */
    EV_CTL_SYNC,     /* engine_sync() barrier */
    EV_KIND_COUNT
};

/* One committed event, copied out of the ingest batch (strings live in
 * data[], allocated with the struct), then parsed by its worker. */
struct engine_event {
    struct engine_event *next;
    int64_t id;
    int64_t project_id;
    int64_t ts;          /* corrected event time, ms */
    int64_t client_ts;   /* the browser's own clock (originalTimestamp), else ts: orders one
                            session's events when two requests arrive out of order */
    int64_t received_at;
    uint64_t enqueued_ns;
    enum ev_kind kind;
    bool replay; /* restore: rebuild state, emit nothing */
    const char *session_id;
    const char *anonymous_id;
    const char *user_id;
    const char *path;
    const char *name; /* track event name / page name */
    const char *device_class;
    const char *browser;
    const char *os;
    const char *payload;
    size_t payload_len;

    /* parsed from the payload by the worker (borrowed from root) */
    cJSON *root;
    const cJSON *props;
    const char *selector;
    const char *tag;
    const char *form;
    const char *field;
    const char *reason;
    const char *message;
    const char *referrer;
    const char *url; /* page views: the page's URL (campaign parameters) */
    const char *state; /* visibility; control: response status */
    const char *click_id;
    double x, y;
    bool has_xy;
    bool interactive;
    bool disabled;
    bool valid;
    bool has_valid;
    int length;
    int depth;
    int reversals;
    int direction; /* +1 down, -1 up */
    int64_t dwell_ms;
    int fields_filled;
    double position, from, to, rate, duration;
    const char *video_id;
    struct engine_sync *sync; /* EV_CTL_SYNC */
    char data[];
};

enum ev_kind engine_event_kind(const char *type, const char *event);
/* Parses e->payload into the typed fields above. */
void engine_event_parse(struct engine_event *e);
void engine_event_free(struct engine_event *e);

/* ---- signals ----------------------------------------------------------- */

enum signal_kind {
    SIG_RAGE_CLICK,
    SIG_DEAD_CLICK,
    SIG_ERROR_CLICK,
    SIG_FORM_ERRORS,
    SIG_FIELD_THRASH,
    SIG_FORM_ABANDON,
    SIG_CALC_RETRY,
    SIG_LONG_DWELL,
    SIG_U_TURN,
    SIG_RAPID_NAV,
    SIG_QUICK_BACK,
    SIG_SCROLL_THRASH,
    SIG_JS_ERROR,
    SIG_VIDEO_REWATCH,
    SIG_VIDEO_ABANDON,
    SIG_KIND_COUNT
};

const char *signal_kind_name(enum signal_kind k);
const char *signal_kind_label(enum signal_kind k); /* for people: "rage clicks" */
int signal_kind_parse(const char *name);           /* -1 if unknown */

/* A signal as emitted by a detector (evidence is a JSON object text). */
struct signal {
    enum signal_kind kind;
    int score; /* 0-100 */
    int64_t ts;
    int64_t event_id;
    char evidence[512];
};

/* ---- detector parameters (per project; defaults in detect.c) ------------ */

struct detector_params {
    bool enabled[SIG_KIND_COUNT];
    /* rage click (posthog-js): N clicks, each within window of the previous
     * and within radius px (Manhattan) of it */
    int rage_clicks;
    int64_t rage_window_ms;
    int rage_radius_px;
    int64_t error_click_window_ms; /* a JS error this soon after a click */
    int form_errors_min;           /* validation errors on one field */
    int thrash_changes;            /* changes of one field */
    int calc_retry_submits;        /* submits of one form with changes between */
    int64_t long_dwell_ms;         /* fallback bound while a page has little history */
    int long_dwell_min_samples;    /* page views of history before its own p90 is used */
    int64_t u_turn_ms;             /* A -> B -> A with B shorter than this */
    int rapid_nav_pages;           /* this many page views ... */
    int64_t rapid_nav_window_ms;   /* ... within this long */
    double quick_back_ratio;       /* back to A after B shorter than this x B's median */
    int scroll_reversals;          /* fallback bound on direction changes per page */
    double scroll_ratio;           /* x the page's own mean reversals */
    int video_rewatch_count;       /* rewinds into the same segment */
    double video_abandon_ratio;    /* left the main video before this share of it */
    int64_t video_abandon_min_ms;  /* ... after watching at least this long */
    int video_abandon_min_duration_s; /* a video this long at least is the page's content */
};

void detector_params_defaults(struct detector_params *p);

/* ---- sessions ---------------------------------------------------------- */

#define SESSION_VISITS 8
#define SESSION_CLICKS 8
#define SESSION_FIELDS 12
#define SESSION_FORMS 4
#define SESSION_PATHS 32
#define SESSION_TRAITS 8

struct page_visit {
    uint64_t path_hash;
    int64_t enter_ts;
    int64_t leave_ts; /* 0 while current */
};

struct click_rec {
    int64_t ts;
    int32_t x, y;
    uint64_t selector_hash;
};

struct field_rec {
    uint64_t key; /* hash(form, field) */
    int16_t invalid;
    int16_t changes;
    bool filled;
    uint8_t errors_level; /* highest form_errors level emitted */
    uint8_t thrash_level;
};

struct form_rec {
    uint64_t key;
    int16_t submits;
    int16_t retries; /* submits after which fields changed */
    int16_t changes_since_submit;
    int64_t last_submit_client_ts;
    bool unchanged_fail; /* the last submit failed with no change seen since the one before */
    bool started;
    bool succeeded;
    uint8_t retry_level;
};

struct signal_state {
    uint16_t count;
    uint8_t max_score;
    uint8_t score; /* the latest score, which the risk uses */
    int64_t last_ts;
};

struct trait {
    char *key;
    char *value;
};

struct session {
    struct session *next; /* hash chain */
    uint64_t key;
    int64_t project_id;
    char *session_id;
    char *anonymous_id;
    char *user_id;
    char *entry_path;
    char *current_path;
    char *referrer;
    const char *device_class; /* interned static strings */
    const char *browser;
    const char *os;
    int64_t start_ts;
    int64_t last_ts;
    uint64_t last_seen_ns; /* monotonic, for eviction */
    uint64_t written_ns;   /* monotonic: when its row was last queued for writing */
    int32_t pages;
    int32_t events;
    uint32_t path_hashes[SESSION_PATHS]; /* distinct pages (first 32) */
    int16_t distinct_pages;

    /* page-scoped state, reset on each page view */
    struct page_visit visits[SESSION_VISITS]; /* ring of the latest page views */
    int visit_count;
    int64_t page_enter_ts;
    int64_t last_progress_ts;
    int64_t hidden_since; /* 0 if visible */
    int64_t hidden_ms;    /* hidden time on this page */
    struct click_rec clicks[SESSION_CLICKS];
    int click_count;
    int rage_streak;
    bool rage_fired;
    int64_t last_click_ts;
    uint64_t last_click_selector;
    int dead_clicks_page;
    struct field_rec fields[SESSION_FIELDS];
    int field_count;
    struct form_rec forms[SESSION_FORMS];
    int form_count;
    int scroll_reversals;
    int last_direction;
    int max_depth;
    bool long_dwell_fired;
    bool scroll_fired;
    bool abandon_checked;
    bool dwell_recorded; /* this page's dwell went to the baselines */
    int js_errors_page;
    int64_t rapid_nav_ts; /* the last rapid-navigation signal */
    int64_t error_click_ts; /* the click an error_click was emitted for */

    /* session-scoped */
    int u_turns;
    int js_errors;
    int video_rewinds;
    double video_last_to;
    /* the video played on the current page (video_abandon) */
    uint64_t page_video;      /* hash of its id, 0: none played */
    double page_video_duration;
    double page_video_furthest; /* media seconds */
    int64_t page_video_watch_ms;
    int64_t page_video_last_ts; /* while playing: the last play / heartbeat; 0 paused */
    bool page_video_done;       /* ended, or the signal fired */
    struct signal_state sig[SIG_KIND_COUNT];
    int signals_total;
    uint8_t recent_scores[32]; /* the latest signals' scores (ring), for "N signals >= S" */
    int risk;
    int max_risk;
    int stored_risk;
    int interventions;
    int64_t last_intervention_ts;
    int64_t cooldown_until;
    bool held_out;
    bool converted;
    int64_t converted_at;
    bool dirty;
    int64_t last_event_id;
    struct trait traits[SESSION_TRAITS];
    int trait_count;
    char *trouble_field; /* the field named by the latest field-level signal */
    char *trouble_form;

    /* for the model's features (features.c) */
    int64_t prev_event_ts;
    int form_errors;
    int back_navigations;
    float video_ratio; /* furthest share of any video watched */
    uint8_t referrer_class;
    bool returning;
    uint16_t earlier_conversions;
    bool visitor_noted; /* counted in the visitor registry */
};

/* ---- features (features.c): one vector for online scoring and training -- */

enum referrer_class {
    REF_DIRECT,
    REF_SEARCH,
    REF_SOCIAL,
    REF_EMAIL,
    REF_PAID,
    REF_OTHER,
    REF_CLASS_COUNT
};

#define ENGINE_FEATURES (7 + 2 * SIG_KIND_COUNT + 7 + 2 + REF_CLASS_COUNT)

const char *engine_feature_name(int i);
/* The feature vector of s at now (ENGINE_FEATURES floats; NAN = missing). */
void engine_features(const struct session *s, int64_t now, float *out);
enum referrer_class referrer_classify(const char *referrer, const char *url);

/* Visitors seen before, across sessions and workers (visitors.c). */
struct visitor_registry;
struct visitor_registry *visitor_registry_new(void);
void visitor_registry_free(struct visitor_registry *r);
/* A new session of visitor: fills its returning / earlier_conversions and counts it. */
void visitor_registry_session(struct visitor_registry *r, struct session *s);
void visitor_registry_converted(struct visitor_registry *r, const struct session *s);
void visitor_registry_add(struct visitor_registry *r, int64_t project_id, const char *visitor,
                          int sessions, int conversions);

/* ---- project settings -------------------------------------------------- */

enum action_type { ACTION_LIVE_CHAT, ACTION_TOOLTIP, ACTION_PRIORITY_ROUTE, ACTION_CUSTOM };

struct condition; /* policy.c */

struct rule {
    char *name;
    struct condition *when;
    enum action_type action;
    char *title;
    char *message;
    char *selector;
    char *custom_name;
    char *payload_json;
};

struct project_settings {
    int64_t project_id;
    struct rule *rules;
    int n_rules;
    int64_t session_interval_ms; /* at most one intervention per session per this */
    int daily_cap;               /* per visitor per 24 h */
    int64_t decline_cooldown_ms;
    double holdout_pct;
    char **exclude_paths;
    int n_exclude_paths;
    char *webhook_url;
    int64_t intervention_ttl_ms;
    char *goal_event;
    char *goal_path;
    struct detector_params detectors;
};

/* Parses settings JSON (NULL or "{}" gives the defaults). NULL on a
 * validation error, with the message in err. */
struct project_settings *project_settings_parse(const char *json, int64_t project_id, char *err,
                                                size_t errlen);
void project_settings_free(struct project_settings *p);

/* ---- detection, risk and policy ---------------------------------------- */

struct baselines;

/* What detectors may read besides the session and the event. */
struct detect_ctx {
    const struct detector_params *params;
    struct baselines *baselines; /* may be NULL */
    int64_t project_id;
    /* output */
    struct signal *out;
    int n_out;
    int cap_out;
};

/* Emits a signal unless the kind is disabled. evidence_fmt builds the JSON
 * members of the evidence object (without braces). */
void detect_emit(struct detect_ctx *c, struct session *s, enum signal_kind kind, int score,
                 int64_t ts, int64_t event_id, const char *evidence_fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Each detector looks at one event against the session (before the session
 * state is advanced by session_apply_event). */
void detect_rage_click(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_dead_click(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_error_click(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_form_errors(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_field_thrash(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_form_abandon(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_calc_retry(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_navigation(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_scroll_thrash(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_js_error(struct detect_ctx *c, struct session *s, const struct engine_event *e);
void detect_video(struct detect_ctx *c, struct session *s, const struct engine_event *e);
/* The current page's video state for video_abandon (every video event). */
void video_note(struct session *s, const struct engine_event *e);
/* Leaving a page (a new page view, $page_leave): video_abandon. */
void detect_video_abandon(struct detect_ctx *c, struct session *s, const struct engine_event *e);
/* Time-based: long dwell without progress, checked on ticks. */
void detect_long_dwell(struct detect_ctx *c, struct session *s, int64_t now);

/* A quoted, escaped JSON string of s (or null) in buf, for evidence. */
const char *detect_json_str(char *buf, size_t cap, const char *s);
#define JS(buf, s) detect_json_str(buf, sizeof buf, s)

/* Runs every event detector (before the session is advanced by the event). */
void detect_all(struct detect_ctx *c, struct session *s, const struct engine_event *e);

/* Session state. */
struct session *session_new(int64_t project_id, const char *session_id, uint64_t key);
void session_free(struct session *s);
void session_apply_event(struct session *s, const struct engine_event *e,
                         const struct project_settings *ps);
/* Records a signal in the session's per-kind state. */
void session_note_signal(struct session *s, const struct signal *sig);
/* One event through a session, the same for the engine's workers and for
 * offline replay (training), so both see sessions identically: the page
 * baselines learn from a finished page view, the detectors run, the session
 * advances, the signals are noted in it, the visitor registry hears of a new
 * session or a conversion. The signals are written to out (at most cap);
 * returns how many. baselines and visitors may be NULL. */
int session_step(struct session *s, struct engine_event *ev, const struct project_settings *ps,
                 struct baselines *baselines, struct visitor_registry *visitors,
                 struct signal *out, int cap);
struct field_rec *session_field(struct session *s, const char *form, const char *field,
                                bool create);
struct form_rec *session_form(struct session *s, const char *form, bool create);
size_t session_memory(const struct session *s);
const char *engine_intern(const char *s); /* device class, browser, OS */
uint64_t engine_hash(const char *s);
uint64_t engine_hash2(const char *a, const char *b);

/* The transparent risk function (risk.c): 0-100 from the signal state. */
int risk_from_signals(const struct session *s, int64_t now);
/* The risk, and in out[k] how many points signal kind k adds to it (the risk
 * without k subtracted from the risk with it): the explanation. */
int risk_contributions(const struct session *s, int64_t now, int out[SIG_KIND_COUNT]);

/* Policy (policy.c). */
struct policy_match {
    const struct rule *rule;
    char reason[64];
};
/* The first rule whose conditions hold, or NULL. Caps are checked apart. */
const struct rule *policy_match(const struct project_settings *ps, const struct session *s,
                                int64_t now);
bool policy_path_excluded(const struct project_settings *ps, const char *path);
/* Renders a message template with {{page}}, {{field}}, {{form}}, {{signal}},
 * {{risk}} and {{name|fallback}}. Returns malloc'd text. */
char *policy_render(const char *tmpl, const struct session *s, const char *field,
                    const char *form, enum signal_kind top);

/* Page baselines (baselines.c): dwell distribution and scroll reversals per
 * (project, path), learned from finished page views, shared by workers. */
struct baselines *baselines_new(void);
void baselines_free(struct baselines *b);
void baselines_record(struct baselines *b, int64_t project_id, const char *path, int64_t dwell_ms,
                      int scroll_reversals);
/* Dwell quantile q (0-1) of the path in ms, or -1 with fewer than min_samples. */
int64_t baselines_dwell_quantile(struct baselines *b, int64_t project_id, const char *path,
                                 double q, int min_samples);
/* Mean scroll reversals per page view, or -1 with fewer than min_samples. */
double baselines_scroll_mean(struct baselines *b, int64_t project_id, const char *path,
                             int min_samples);
int baselines_load(struct baselines *b, struct store *store);
/* Writes the baselines that changed since the last save. */
int baselines_save(struct baselines *b, struct store *store);

struct store *engine_store(struct engine *e);

/* Per-visitor daily caps shared by the workers (caps.c). */
struct visitor_caps;
struct visitor_caps *visitor_caps_new(void);
void visitor_caps_free(struct visitor_caps *v);
int visitor_caps_count(struct visitor_caps *v, int64_t project_id, const char *visitor,
                       int64_t now);
void visitor_caps_add(struct visitor_caps *v, int64_t project_id, const char *visitor,
                      int64_t ts);

#endif
