/*
 * analytics_internal.h - the column store and helpers shared by the files of
 * src/analytics/.
 *
 * Locking: one writer-preferring rwlock guards every array and dictionary.
 * The analytics thread appends under the write lock, a batch at a time (a
 * few microseconds); a report holds the read lock while it runs. Reports
 * never touch the store's arrays without it.
 */
#ifndef JOURNEY_ANALYTICS_INTERNAL_H
#define JOURNEY_ANALYTICS_INTERNAL_H

#include "analytics/analytics.h"

#include "common/arena.h"
#include "common/metrics.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- dictionaries: string <-> dense id (0 = none) ---------------------------- */

struct strdict {
    struct arena strings;
    const char **by_id; /* by_id[0] = NULL */
    uint32_t *lens;     /* strlen of each */
    double *num;        /* the value as a number, NAN if it is not one */
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: ids */
    uint32_t slot_cap;
};

void strdict_init(struct strdict *d);
void strdict_free(struct strdict *d);
uint32_t strdict_intern(struct strdict *d, const char *s, size_t len);
uint32_t strdict_find(const struct strdict *d, const char *s);
const char *strdict_get(const struct strdict *d, uint32_t id);

/* ---- the column store -------------------------------------------------------- */

enum ax_type { AX_TRACK, AX_PAGE, AX_SCREEN, AX_IDENTIFY, AX_OTHER };

struct ax_event {
    int64_t ts;  /* corrected event time, ms */
    int64_t row; /* events.id, for fetching the payload */
    uint32_t visitor;
    uint32_t session;
    uint32_t name;  /* event name; "$pageview" for page views */
    uint32_t path;  /* page path id */
    uint32_t props; /* offset in the project's props pool, 0 = none */
    uint8_t type;   /* enum ax_type */
};

struct ax_session {
    uint32_t visitor;
    bool listed_active; /* in the project's active list */
    uint32_t entry_path;
    int64_t start, last;
    int64_t last_received; /* receipt time of its latest event */
    uint32_t events, pageviews;
    uint8_t device, browser, os, referrer; /* ids in analytics.small */
};

struct ax_visitor {
    int64_t first_seen, last_seen;
    uint32_t first_session;
    uint32_t traits; /* props pool offset of the latest identify traits */
};

struct ax_project {
    /* the visitor and session of the last event applied: consecutive events
     * mostly share them, and then skip two dictionary lookups */
    uint32_t last_vid, last_sid;
    int64_t id;
    struct ax_event *events; /* columns in a reserved mapping once large: reserve_big() */
    bool events_mapped, sessions_mapped, visitors_mapped, props_mapped;
    size_t n_events, cap_events;
    struct ax_session *sessions; /* by session id (dict id) */
    size_t cap_sessions;
    struct strdict session_ids;
    struct ax_visitor *visitors; /* by visitor id */
    size_t cap_visitors;
    struct strdict visitor_ids;
    uint32_t *props; /* pool: [count, key, value, key, value, ...]; [0] unused */
    size_t n_props, cap_props;
    /* sessions with an event received in the last ACTIVE_MS (and some that
     * just left it: readers check last_received) */
    uint32_t *active;
    size_t n_active, cap_active;
    /* stored events per second of receipt, the last 64 seconds */
    uint32_t per_second[64];
    int64_t per_second_at[64];
    struct ax_videos *videos; /* video views (video.c), NULL until a video event */
};

/* The live numbers kept in memory (colstore.c). */
struct live_memory {
    int64_t active_sessions;
    int64_t events_last_10s;
};

struct ax_pending {
    struct ax_pending *next;
    int64_t project_id, row, ts, received_at;
    size_t payload_len;
    uint8_t type;
    bool block;       /* the first of an allocation holding the pendings after it */
    size_t block_cap; /* with block: the allocation's size */
    const char *name, *visitor, *session, *path, *device, *browser, *os, *payload;
    char data[];
};

struct analytics {
    struct analytics_config cfg;
    struct store *store;
    pthread_t thread;
    bool running;
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    struct ax_pending *head, *tail;
    size_t queued;
    bool stop;
    uint64_t submitted, applied; /* under qlock / for analytics_sync */
    pthread_cond_t applied_cond;
    int64_t loaded_max_row; /* events up to this id came from the history scan */
    int64_t pruned_at;      /* analytics thread: the last prune_active() (ms) */
    atomic_bool ready;
    atomic_uint_fast64_t dropped;
    /* applied blocks kept for reuse (under qlock): no mmap / page-zeroing churn */
    struct ax_pending *spare[8];
    int n_spare;

    /* The store-backed part of the live KPIs, refreshed every second by the
     * analytics thread for projects asked about in the last minute, so
     * kpis/live never waits on SQL under load. */
    pthread_mutex_t live_lock;
    struct live_entry {
        int64_t project_id;
        struct store_live_counts counts;
        struct live_memory mem;
        int64_t computed_at, asked_at;
    } live[32];
    int n_live;
    int64_t live_refreshed_at;

    pthread_rwlock_t lock;
    struct strdict names, paths, keys, values, small;
    struct ax_project **projects;
    int n_projects;
    struct metric *m_dropped;
};

/* Under the read lock: the project's store, or NULL if it has no events. */
struct ax_project *ax_project_find(struct analytics *a, int64_t project_id);
uint32_t ax_pageview_name(struct analytics *a);

/* The value of property key (dict id) on an event's props, 0 if absent. */
uint32_t ax_prop(const struct ax_project *p, uint32_t props, uint32_t key);

/* The live counts of a project, store-backed and in-memory: from the cache
 * the analytics thread refreshes every second (computed here the first
 * time), so kpis/live never waits on SQL or on the column store's lock. */
int live_counts(struct analytics *a, int64_t project_id, int64_t now, struct store_live_counts *out,
                struct live_memory *mem);
void live_refresh(struct analytics *a, bool force);

/* A session is active while its last event was received within this. */
#define ACTIVE_MS (5 * 60 * 1000)

/* ---- report plumbing (params.c) ---------------------------------------------- */

int report_fail(struct report_error *err, int status, const char *code, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A parameter from the body (a JSON member) or else the query string:
 * the text of a string or number member; NULL if absent. */
const char *param_text(const struct report_params *p, const char *name, char *buf, size_t cap);
const cJSON *param_json(const struct report_params *p, const char *name, cJSON **owned,
                        struct report_error *err);
/* from / to; defaults: the last 7 days. */
int param_range(const struct report_params *p, int64_t *from, int64_t *to,
                struct report_error *err);
int param_int(const struct report_params *p, const char *name, int64_t def, int64_t lo, int64_t hi,
              int64_t *out, struct report_error *err);
/* Parses a time: ISO date / date-time, "now", "-7d" relative to now. */
int parse_time_param(const char *s, int64_t now, int64_t *out);
int parse_duration_param(const char *s, int64_t *out);

/* ---- segments (segment.c) ----------------------------------------------------- */

struct segment;
/* Parses the `segment` parameter (NULL: everyone). Needs the read lock held
 * (it resolves names) and the store (engine-derived conditions). */
int segment_parse(struct analytics *a, struct ax_project *p, int64_t project_id,
                  const struct report_params *params, const char *field, const cJSON *json,
                  struct segment **out, struct report_error *err);
/* Does session s (dict id) belong to the segment? NULL segment: yes. */
bool segment_has(const struct segment *sg, uint32_t session);
bool segment_is_all(const struct segment *sg);
void segment_free(struct segment *sg);
/* Bits of the sessions in segment (for SQL-driven reports), by session id string. */
bool segment_has_session_id(struct analytics *a, const struct segment *sg, struct ax_project *p,
                            const char *session_id);

/* ---- video views (video.c); the analytics thread, write lock held ---------------- */

void video_event(struct analytics *a, struct ax_project *p, const char *name, const char *payload,
                 size_t payload_len, int64_t ts, uint32_t session, uint32_t visitor, uint32_t path);
void video_visibility(struct ax_project *p, uint32_t session, int64_t ts, bool hidden);
/* A page view or page leave of the session: its open views end at ts. */
void video_page_boundary(struct ax_project *p, uint32_t session, int64_t ts);
void video_project_free(struct ax_project *p);
/* Computes every view that changed (benchmarks); returns the number of views. */
size_t video_refresh_all(struct analytics *a);

/* ---- writers (report.c) ------------------------------------------------------- */

void csv_field(struct buf *out, const char *s);
void csv_double(struct buf *out, double v);
/* num / den rounded to 4 decimals; null (JSON) or empty (CSV) when den is 0. */
void json_ratio(struct buf *out, int64_t num, int64_t den);
void csv_ratio(struct buf *out, int64_t num, int64_t den);
/* The median (reorders v); NaN when n is 0. */
double stats_median(double *v, size_t n);

#endif
