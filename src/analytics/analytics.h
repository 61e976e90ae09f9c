/*
 * analytics.h - the reports behind /api/v1: live and ranged KPIs, funnels,
 * retention, paths, sessions and their timelines, segments, intervention
 * uplift against the holdout; as JSON or CSV.
 *
 * Event-level reports (funnels, retention, paths, event counts) run on an
 * in-memory column store of every event: per event its time, visitor,
 * session, event name, page path and (for custom events and page views) its
 * scalar properties, all dictionary-encoded into a 40-byte row; per session
 * and per visitor a small summary. A funnel over ten million events is then
 * one pass over 400 MB of arrays plus a counting sort, instead of a scan of
 * the events table's JSON. The store is fed by the ingest commit hook on a
 * thread of its own (ingest never waits for it), and loaded from the events
 * table at start while the server already runs (reports answer 503 with
 * Retry-After until it is ready). Session-level facts the engine derives
 * (conversion, signals, risk, interventions) are read from the sessions,
 * signals and interventions tables, which are indexed by time.
 *
 * docs/api.md describes every report; docs/architecture.md why this shape.
 */
#ifndef JOURNEY_ANALYTICS_ANALYTICS_H
#define JOURNEY_ANALYTICS_ANALYTICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "store/store.h"

struct analytics;

struct analytics_config {
    size_t queue_max_events; /* events waiting for the column store */
    int64_t session_timeout_ms;
};

void analytics_config_defaults(struct analytics_config *c);

/* store is borrowed. */
struct analytics *analytics_new(const struct analytics_config *cfg, struct store *store);
/* Starts the thread: it loads the stored events, then follows new ones. */
int analytics_start(struct analytics *a);
void analytics_free(struct analytics *a);
/* The ingest commit hook (see ingest_commit_hook). Never blocks. */
void analytics_submit(void *a, const struct store_event *const *events, const int64_t *ids,
                      size_t n);
bool analytics_ready(struct analytics *a);
/* Waits until everything submitted so far is in the column store (tests). */
void analytics_sync(struct analytics *a);

struct analytics_stats {
    uint64_t events;
    uint64_t visitors;
    uint64_t sessions;
    size_t bytes;
    uint64_t dropped;
};
void analytics_stats(struct analytics *a, struct analytics_stats *out);

/* ---- reports --------------------------------------------------------------- */

enum report_format { REPORT_JSON, REPORT_CSV };

/* A refused query: the HTTP status, a code, the parameter at fault. */
struct report_error {
    int status;
    char code[40];
    char field[80];
    char message[300];
};

/* The parameters of a report: query-string values and, for POST reports, the
 * body's members, looked up by name (NULL when absent). The body is a parsed
 * JSON object (cJSON), owned by the caller. */
struct report_params {
    const char *(*get)(void *ctx, const char *name); /* query string */
    void *ctx;
    const void *body; /* const cJSON *, or NULL */
    int64_t now_ms;
};

typedef int (*report_fn)(struct analytics *a, int64_t project_id, const struct report_params *p,
                         enum report_format fmt, struct buf *out, struct report_error *err);

int report_kpis_live(struct analytics *a, int64_t project_id, const struct report_params *p,
                     enum report_format fmt, struct buf *out, struct report_error *err);
int report_kpis(struct analytics *a, int64_t project_id, const struct report_params *p,
                enum report_format fmt, struct buf *out, struct report_error *err);
int report_funnel(struct analytics *a, int64_t project_id, const struct report_params *p,
                  enum report_format fmt, struct buf *out, struct report_error *err);
int report_funnel_dropped(struct analytics *a, int64_t project_id, const struct report_params *p,
                          enum report_format fmt, struct buf *out, struct report_error *err);
int report_retention(struct analytics *a, int64_t project_id, const struct report_params *p,
                     enum report_format fmt, struct buf *out, struct report_error *err);
int report_paths(struct analytics *a, int64_t project_id, const struct report_params *p,
                 enum report_format fmt, struct buf *out, struct report_error *err);
int report_sessions(struct analytics *a, int64_t project_id, const struct report_params *p,
                    enum report_format fmt, struct buf *out, struct report_error *err);
/* One page of the sessions list, newest first, after `cursor` (NULL: the
 * newest); next_cursor receives the cursor of the next page ("" at the end).
 * header: write the CSV header line. For streamed exports. */
int report_sessions_page(struct analytics *a, int64_t project_id, const struct report_params *p,
                         enum report_format fmt, bool header, int limit, const char *cursor,
                         struct buf *out, char *next_cursor, size_t next_cap,
                         struct report_error *err);
int report_session(struct analytics *a, int64_t project_id, const char *session_id,
                   const struct report_params *p, enum report_format fmt, struct buf *out,
                   struct report_error *err);
/* Videos (docs/video.md): the list, one video's curve / heat / moments /
 * conversion, and its views with their intervals. */
int report_videos(struct analytics *a, int64_t project_id, const struct report_params *p,
                  enum report_format fmt, struct buf *out, struct report_error *err);
int report_video(struct analytics *a, int64_t project_id, const char *video_id,
                 const struct report_params *p, enum report_format fmt, struct buf *out,
                 struct report_error *err);
int report_video_views(struct analytics *a, int64_t project_id, const char *video_id,
                       const struct report_params *p, enum report_format fmt, struct buf *out,
                       struct report_error *err);
typedef int (*report_id_fn)(struct analytics *a, int64_t project_id, const char *id,
                            const struct report_params *p, enum report_format fmt,
                            struct buf *out, struct report_error *err);
int report_segments_compare(struct analytics *a, int64_t project_id,
                            const struct report_params *p, enum report_format fmt,
                            struct buf *out, struct report_error *err);
int report_interventions(struct analytics *a, int64_t project_id, const struct report_params *p,
                         enum report_format fmt, struct buf *out, struct report_error *err);

/* The two-sided p-value of a difference of proportions and its Wald 95%
 * interval (exposed for tests). */
void stats_two_proportions(int64_t n1, int64_t x1, int64_t n0, int64_t x0, double *diff,
                           double *lo, double *hi, double *p_value);

#endif
