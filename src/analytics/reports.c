/*
 * reports.c - the session-level reports: live and ranged KPIs, the sessions
 * list and one session's timeline, segment comparison, and intervention
 * uplift against the holdout (docs/api.md).
 *
 * What the engine concluded about a session (converted, its signals, risk and
 * interventions) lives in the sessions, signals and interventions tables;
 * these reports read them through the store's reader pool, indexed by time.
 * Segments and distinct visitors come from the column store, under its read
 * lock.
 */
#include "analytics/analytics_internal.h"

#include "common/timefmt.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define MAX_BUCKETS 2000

/* ---- statistics ----------------------------------------------------------------- */

void stats_two_proportions(int64_t n1, int64_t x1, int64_t n0, int64_t x0, double *diff,
                           double *lo, double *hi, double *p_value)
{
    *diff = *lo = *hi = *p_value = NAN;
    if (n1 <= 0 || n0 <= 0)
        return;
    double p1 = (double)x1 / (double)n1, p0 = (double)x0 / (double)n0;
    *diff = p1 - p0;
    /* Wald interval of the difference */
    double se = sqrt(p1 * (1 - p1) / (double)n1 + p0 * (1 - p0) / (double)n0);
    *lo = *diff - 1.959963984540054 * se;
    *hi = *diff + 1.959963984540054 * se;
    /* two-sided z-test with the pooled proportion */
    double pp = (double)(x1 + x0) / (double)(n1 + n0);
    double se0 = sqrt(pp * (1 - pp) * (1.0 / (double)n1 + 1.0 / (double)n0));
    if (se0 == 0) {
        *p_value = *diff == 0 ? 1.0 : 0.0;
        return;
    }
    double z = *diff / se0;
    *p_value = erfc(fabs(z) / sqrt(2.0));
}

static double round4(double v)
{
    return round(v * 10000) / 10000;
}

/* ---- segments of the reports ------------------------------------------------------ */

/* Parses `name` (a member of the body or a query parameter) as a segment. */
static int segment_of(struct analytics *a, struct ax_project *proj, int64_t project_id,
                      const struct report_params *p, const char *name, const cJSON *json,
                      struct segment **sg, struct report_error *err)
{
    cJSON *owned = NULL;
    if (!json) {
        json = param_json(p, name, &owned, err);
        if (!json && err->status)
            return -1;
    }
    int rc = segment_parse(a, proj, project_id, p, name, json, sg, err);
    cJSON_Delete(owned);
    return rc;
}

/* ---- live KPIs ------------------------------------------------------------------- */

int report_kpis_live(struct analytics *a, int64_t project_id, const struct report_params *p,
                     enum report_format fmt, struct buf *out, struct report_error *err)
{
    int64_t now = p->now_ms;
    struct store_live_counts lc;
    struct live_memory mem;
    if (live_counts(a, project_id, now, &lc, &mem))
        return report_fail(err, 503, "store_unavailable", "", "cannot read the store now");
    int64_t active = mem.active_sessions, events10 = mem.events_last_10s;
    if (fmt == REPORT_CSV) {
        char t[TIMEFMT_ISO_LEN];
        timefmt_iso(now, t);
        buf_puts(out, "time,active_sessions,events_per_second,struggling_now,decided_last_minute,"
                      "shown_last_minute,accepted_last_minute,sessions_today,conversions_today,"
                      "conversion_rate_today\r\n");
        buf_printf(out, "%s,%lld,", t, (long long)active);
        csv_double(out, (double)events10 / 10.0);
        buf_printf(out, ",%lld,%lld,%lld,%lld,%lld,%lld,", (long long)lc.struggling_now,
                   (long long)lc.decided_last_minute, (long long)lc.shown_last_minute,
                   (long long)lc.accepted_last_minute, (long long)lc.sessions_today,
                   (long long)lc.conversions_today);
        csv_ratio(out, lc.conversions_today, lc.sessions_today);
        buf_puts(out, "\r\n");
        return 0;
    }
    buf_puts(out, "{\"time\":");
    json_time(out, now);
    buf_printf(out, ",\"active_sessions\":%lld,\"events_per_second\":", (long long)active);
    json_double(out, (double)events10 / 10.0);
    buf_printf(out,
               ",\"struggling_now\":%lld,\"interventions_last_minute\":{\"decided\":%lld,"
               "\"shown\":%lld,\"accepted\":%lld},\"sessions_today\":%lld,"
               "\"conversions_today\":%lld,\"conversion_rate_today\":",
               (long long)lc.struggling_now, (long long)lc.decided_last_minute,
               (long long)lc.shown_last_minute, (long long)lc.accepted_last_minute,
               (long long)lc.sessions_today, (long long)lc.conversions_today);
    json_ratio(out, lc.conversions_today, lc.sessions_today);
    buf_putc(out, '}');
    return 0;
}

/* ---- KPIs over a range --------------------------------------------------------------- */

struct kpi {
    int64_t sessions, visitors, events, pageviews, conversions, bounces, struggling;
    int64_t interventions, accepted;
    double seconds;
};

struct kpi_ctx {
    struct analytics *a;
    struct ax_project *proj;
    const struct segment *sg;
    int64_t from, interval;
    struct kpi total;
    struct kpi *series;
    size_t n_series;
    uint8_t *seen_visitor; /* by visitor id */
    size_t n_visitors;
};

static int kpi_row(const struct store_session *r, void *arg)
{
    struct kpi_ctx *c = arg;
    uint32_t sid = c->proj ? strdict_find(&c->proj->session_ids, r->session_id) : 0;
    if (c->sg && !segment_has(c->sg, sid))
        return 0;
    struct kpi *b[2] = {&c->total, NULL};
    if (c->series) {
        int64_t k = (r->started_at - c->from) / c->interval;
        if (k >= 0 && (size_t)k < c->n_series)
            b[1] = &c->series[k];
    }
    for (int i = 0; i < 2; i++) {
        struct kpi *k = b[i];
        if (!k)
            continue;
        k->sessions++;
        k->events += r->events;
        k->pageviews += r->pages;
        k->conversions += r->converted;
        k->bounces += r->pages <= 1;
        k->struggling += r->max_signal >= 70;
        k->interventions += r->held_out ? 0 : r->interventions;
        k->seconds += (double)(r->last_event_at - r->started_at) / 1000.0;
    }
    if (sid) {
        uint32_t v = c->proj->sessions[sid].visitor;
        if (v < c->n_visitors && !c->seen_visitor[v]) {
            c->seen_visitor[v] = 1;
            c->total.visitors++;
        }
    } else {
        c->total.visitors++; /* not in the column store yet: counted as new */
    }
    return 0;
}

static int accepted_row(const struct store_decision_row *r, void *arg)
{
    struct kpi_ctx *c = arg;
    if (strcmp(r->status, "accepted") && strcmp(r->status, "escalated"))
        return 0;
    uint32_t sid = c->proj ? strdict_find(&c->proj->session_ids, r->session_id) : 0;
    if (c->sg && !segment_has(c->sg, sid))
        return 0;
    c->total.accepted++;
    return 0;
}

/* Totals (and a series when interval > 0) of the sessions started in
 * [from, to). Read lock held. */
static int kpi_compute(struct analytics *a, struct ax_project *proj, int64_t project_id,
                       const struct segment *sg, int64_t from, int64_t to, int64_t interval,
                       int64_t first, struct kpi_ctx *c, struct report_error *err)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->proj = proj;
    c->sg = sg;
    c->from = first; /* series buckets start at the aligned boundary */
    c->interval = interval;
    if (interval > 0) {
        c->n_series = (size_t)((to - first + interval - 1) / interval);
        c->series = xcalloc(c->n_series ? c->n_series : 1, sizeof *c->series);
    }
    c->n_visitors = proj ? proj->visitor_ids.n : 0;
    c->seen_visitor = xcalloc(c->n_visitors + 1, 1);
    struct store_session_query q = {.project_id = project_id, .from = from, .to = to};
    if (store_sessions(a->store, &q, kpi_row, c) < 0 ||
        store_decisions(a->store, project_id, from, to, accepted_row, c) < 0)
        return report_fail(err, 503, "store_unavailable", "", "cannot read the store now");
    return 0;
}

static void kpi_free(struct kpi_ctx *c)
{
    free(c->series);
    free(c->seen_visitor);
}

static void kpi_json(struct buf *out, const struct kpi *k, bool with_visitors)
{
    buf_printf(out, "{\"sessions\":%lld,", (long long)k->sessions);
    if (with_visitors)
        buf_printf(out, "\"visitors\":%lld,", (long long)k->visitors);
    buf_printf(out, "\"events\":%lld,\"pageviews\":%lld,\"conversions\":%lld,\"conversion_rate\":",
               (long long)k->events, (long long)k->pageviews, (long long)k->conversions);
    json_ratio(out, k->conversions, k->sessions);
    buf_puts(out, ",\"avg_session_seconds\":");
    if (k->sessions)
        json_double(out, round(k->seconds / (double)k->sessions * 10) / 10);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"bounce_rate\":");
    json_ratio(out, k->bounces, k->sessions);
    buf_printf(out, ",\"struggling_sessions\":%lld,\"struggling_share\":",
               (long long)k->struggling);
    json_ratio(out, k->struggling, k->sessions);
    buf_printf(out, ",\"interventions\":%lld", (long long)k->interventions);
    if (with_visitors)
        buf_printf(out, ",\"accepted\":%lld", (long long)k->accepted);
    buf_putc(out, '}');
}

static const char kpi_csv_header[] =
    "sessions,visitors,events,pageviews,conversions,conversion_rate,avg_session_seconds,"
    "bounce_rate,struggling_sessions,struggling_share,interventions,accepted";

static void kpi_csv(struct buf *out, const struct kpi *k, bool with_visitors)
{
    buf_printf(out, "%lld,", (long long)k->sessions);
    if (with_visitors)
        buf_printf(out, "%lld", (long long)k->visitors);
    buf_printf(out, ",%lld,%lld,%lld,", (long long)k->events, (long long)k->pageviews,
               (long long)k->conversions);
    csv_ratio(out, k->conversions, k->sessions);
    buf_putc(out, ',');
    if (k->sessions)
        csv_double(out, round(k->seconds / (double)k->sessions * 10) / 10);
    buf_putc(out, ',');
    csv_ratio(out, k->bounces, k->sessions);
    buf_printf(out, ",%lld,", (long long)k->struggling);
    csv_ratio(out, k->struggling, k->sessions);
    buf_printf(out, ",%lld,", (long long)k->interventions);
    if (with_visitors)
        buf_printf(out, "%lld", (long long)k->accepted);
}

int report_kpis(struct analytics *a, int64_t project_id, const struct report_params *p,
                enum report_format fmt, struct buf *out, struct report_error *err)
{
    int64_t from, to;
    if (param_range(p, &from, &to, err))
        return -1;
    char b[32];
    const char *iv = param_text(p, "interval", b, sizeof b);
    int64_t interval = to - from > 3 * DAY_MS ? DAY_MS : HOUR_MS;
    if (iv && !strcmp(iv, "day"))
        interval = DAY_MS;
    else if (iv && !strcmp(iv, "hour"))
        interval = HOUR_MS;
    else if (iv && strcmp(iv, "none"))
        return report_fail(err, 400, "invalid_parameter", "interval",
                           "interval must be day, hour or none");
    bool series = !(iv && !strcmp(iv, "none"));
    int64_t first = from - from % interval; /* buckets aligned to UTC hours / days */
    if (series && (to - first) / interval > MAX_BUCKETS)
        return report_fail(err, 400, "invalid_parameter", "interval",
                           "from-to holds more than %d %ss; use a larger interval", MAX_BUCKETS,
                           interval == DAY_MS ? "day" : "hour");
    pthread_rwlock_rdlock(&a->lock);
    struct segment *sg = NULL;
    struct kpi_ctx c = {0};
    struct ax_project *proj = ax_project_find(a, project_id);
    int rc = segment_of(a, proj, project_id, p, "segment", NULL, &sg, err);
    if (!rc)
        rc = kpi_compute(a, proj, project_id, sg, from, to, series ? interval : 0, first, &c,
                         err);
    pthread_rwlock_unlock(&a->lock);
    if (!rc) {
        /* Series buckets are UTC hours or days, labelled by their start. */
        if (fmt == REPORT_CSV) {
            buf_printf(out, "t,%s\r\n", kpi_csv_header);
            buf_puts(out, "total,");
            kpi_csv(out, &c.total, true);
            buf_puts(out, "\r\n");
            for (size_t i = 0; i < c.n_series; i++) {
                char t[TIMEFMT_ISO_LEN];
                timefmt_iso(first + (int64_t)i * interval, t);
                buf_printf(out, "%s,", t);
                kpi_csv(out, &c.series[i], false);
                buf_puts(out, "\r\n");
            }
        } else {
            buf_puts(out, "{\"from\":");
            json_time(out, from);
            buf_puts(out, ",\"to\":");
            json_time(out, to);
            buf_puts(out, ",\"totals\":");
            kpi_json(out, &c.total, true);
            if (series)
                buf_printf(out, ",\"interval\":\"%s\"", interval == DAY_MS ? "day" : "hour");
            buf_puts(out, ",\"series\":[");
            for (size_t i = 0; i < c.n_series; i++) {
                buf_puts(out, i ? ",{\"t\":" : "{\"t\":");
                json_time(out, first + (int64_t)i * interval);
                buf_putc(out, ',');
                struct buf tmp = BUF_INIT;
                kpi_json(&tmp, &c.series[i], false);
                buf_append(out, tmp.data + 1, tmp.len - 1); /* merged into this object */
                buf_free(&tmp);
            }
            buf_puts(out, "]}");
        }
    }
    kpi_free(&c);
    segment_free(sg);
    return rc;
}

/* ---- segments compared ------------------------------------------------------------ */

int report_segments_compare(struct analytics *a, int64_t project_id,
                            const struct report_params *p, enum report_format fmt,
                            struct buf *out, struct report_error *err)
{
    int64_t from, to;
    if (param_range(p, &from, &to, err))
        return -1;
    cJSON *owned = NULL;
    const cJSON *list = param_json(p, "segments", &owned, err);
    if (!list && err->status)
        return -1;
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > 8) {
        cJSON_Delete(owned);
        return report_fail(err, 400, "invalid_parameter", "segments",
                           "segments must be an array of 1 to 8 {\"name\", \"segment\"} objects");
    }
    int rc = 0;
    if (fmt == REPORT_CSV)
        buf_printf(out, "segment,%s\r\n", kpi_csv_header);
    else
        buf_puts(out, "{\"from\":");
    if (fmt == REPORT_JSON) {
        json_time(out, from);
        buf_puts(out, ",\"to\":");
        json_time(out, to);
        buf_puts(out, ",\"segments\":[");
    }
    pthread_rwlock_rdlock(&a->lock);
    struct ax_project *proj = ax_project_find(a, project_id);
    for (int i = 0; i < n && !rc; i++) {
        const cJSON *item = cJSON_GetArrayItem(list, i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        const cJSON *seg = cJSON_GetObjectItemCaseSensitive(item, "segment");
        char field[40];
        snprintf(field, sizeof field, "segments[%d].segment", i);
        if (!cJSON_IsString(name)) {
            snprintf(field, sizeof field, "segments[%d].name", i);
            rc = report_fail(err, 400, "invalid_parameter", field, "%s must be a string", field);
            break;
        }
        struct segment *sg = NULL;
        if (segment_parse(a, proj, project_id, p, field, seg, &sg, err)) {
            rc = -1;
            break;
        }
        struct kpi_ctx c;
        rc = kpi_compute(a, proj, project_id, sg, from, to, 0, from, &c, err);
        if (!rc) {
            if (fmt == REPORT_CSV) {
                csv_field(out, name->valuestring);
                buf_putc(out, ',');
                kpi_csv(out, &c.total, true);
                buf_puts(out, "\r\n");
            } else {
                buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
                json_str(out, name->valuestring);
                buf_puts(out, ",\"totals\":");
                kpi_json(out, &c.total, true);
                buf_putc(out, '}');
            }
        }
        kpi_free(&c);
        segment_free(sg);
    }
    pthread_rwlock_unlock(&a->lock);
    if (fmt == REPORT_JSON)
        buf_puts(out, "]}");
    cJSON_Delete(owned);
    return rc;
}

/* ---- sessions ------------------------------------------------------------------------ */

static void session_json(struct buf *out, const struct store_session *r)
{
    buf_puts(out, "{\"session_id\":");
    json_str(out, r->session_id);
    buf_puts(out, ",\"visitor\":");
    json_str(out, r->anonymous_id ? r->anonymous_id : r->user_id);
    buf_puts(out, ",\"user_id\":");
    json_str(out, r->user_id);
    buf_puts(out, ",\"started_at\":");
    json_time(out, r->started_at);
    buf_puts(out, ",\"last_event_at\":");
    json_time(out, r->last_event_at);
    buf_puts(out, ",\"seconds\":");
    json_double(out, (double)(r->last_event_at - r->started_at) / 1000.0);
    buf_printf(out, ",\"pages\":%lld,\"events\":%lld,\"entry_path\":", (long long)r->pages,
               (long long)r->events);
    json_str(out, r->entry_path);
    buf_puts(out, ",\"exit_path\":");
    json_str(out, r->exit_path);
    buf_puts(out, ",\"referrer\":");
    json_str(out, r->referrer);
    buf_puts(out, ",\"device\":");
    json_str(out, r->device_class);
    buf_puts(out, ",\"browser\":");
    json_str(out, r->browser);
    buf_puts(out, ",\"os\":");
    json_str(out, r->os);
    buf_printf(out, ",\"converted\":%s,\"converted_at\":", r->converted ? "true" : "false");
    json_time(out, r->converted ? r->converted_at : -1);
    buf_printf(out, ",\"max_risk\":%lld,\"last_risk\":%lld,\"max_signal\":%lld,\"signals\":",
               (long long)r->max_risk, (long long)r->last_risk, (long long)r->max_signal);
    buf_puts(out, r->signal_counts_json && *r->signal_counts_json ? r->signal_counts_json : "{}");
    buf_printf(out, ",\"interventions\":%lld,\"held_out\":%s}", (long long)r->interventions,
               r->held_out ? "true" : "false");
}

static const char session_csv_header[] =
    "session_id,visitor,user_id,started_at,seconds,pages,events,entry_path,exit_path,referrer,"
    "device,browser,os,converted,max_risk,max_signal,signals,interventions,held_out\r\n";

static void session_csv(struct buf *out, const struct store_session *r)
{
    char t[TIMEFMT_ISO_LEN];
    csv_field(out, r->session_id);
    buf_putc(out, ',');
    csv_field(out, r->anonymous_id ? r->anonymous_id : r->user_id);
    buf_putc(out, ',');
    csv_field(out, r->user_id);
    timefmt_iso(r->started_at, t);
    buf_printf(out, ",%s,", t);
    csv_double(out, (double)(r->last_event_at - r->started_at) / 1000.0);
    buf_printf(out, ",%lld,%lld,", (long long)r->pages, (long long)r->events);
    const char *cols[] = {r->entry_path, r->exit_path, r->referrer, r->device_class, r->browser,
                          r->os};
    for (size_t i = 0; i < ARRAY_LEN(cols); i++) {
        csv_field(out, cols[i]);
        buf_putc(out, ',');
    }
    buf_printf(out, "%s,%lld,%lld,", r->converted ? "true" : "false", (long long)r->max_risk,
               (long long)r->max_signal);
    csv_field(out, r->signal_counts_json ? r->signal_counts_json : "{}");
    buf_printf(out, ",%lld,%s\r\n", (long long)r->interventions, r->held_out ? "true" : "false");
}

struct list_ctx {
    struct ax_project *proj;
    const struct segment *sg;
    struct buf *out;
    enum report_format fmt;
    int limit, n;
    int64_t last_start;
    char last_id[128];
    bool more;
};

static int list_row(const struct store_session *r, void *arg)
{
    struct list_ctx *c = arg;
    if (c->sg) {
        uint32_t sid = c->proj ? strdict_find(&c->proj->session_ids, r->session_id) : 0;
        if (!segment_has(c->sg, sid)) {
            /* skipped, but the cursor moves past it */
            c->last_start = r->started_at;
            snprintf(c->last_id, sizeof c->last_id, "%s", r->session_id);
            return 0;
        }
    }
    if (c->n == c->limit) {
        c->more = true;
        return 1;
    }
    if (c->fmt == REPORT_CSV) {
        session_csv(c->out, r);
    } else {
        if (c->n)
            buf_putc(c->out, ',');
        session_json(c->out, r);
    }
    c->n++;
    c->last_start = r->started_at;
    snprintf(c->last_id, sizeof c->last_id, "%s", r->session_id);
    return 0;
}

int report_sessions_page(struct analytics *a, int64_t project_id, const struct report_params *p,
                         enum report_format fmt, bool header, int limit, const char *cursor,
                         struct buf *out, char *next_cursor, size_t next_cap,
                         struct report_error *err)
{
    int64_t from, to;
    if (param_range(p, &from, &to, err))
        return -1;
    int64_t before_start = 0;
    char before_id[128] = "";
    if (cursor && *cursor) {
        /* cursor: "<started_at ms>.<session id>" of the last row of the previous page */
        char *dot;
        long long t = strtoll(cursor, &dot, 10);
        if (*dot != '.' || t <= 0 || strlen(dot + 1) >= sizeof before_id)
            return report_fail(err, 400, "invalid_parameter", "cursor",
                               "cursor: not a value from next_cursor");
        before_start = t;
        snprintf(before_id, sizeof before_id, "%s", dot + 1);
    }
    pthread_rwlock_rdlock(&a->lock);
    struct segment *sg = NULL;
    struct ax_project *proj = ax_project_find(a, project_id);
    int rc = segment_of(a, proj, project_id, p, "segment", NULL, &sg, err);
    struct list_ctx c = {proj, sg, out, fmt, limit, 0, before_start, "", false};
    snprintf(c.last_id, sizeof c.last_id, "%s", before_id);
    if (!rc) {
        if (header && fmt == REPORT_CSV)
            buf_puts(out, session_csv_header);
        if (fmt == REPORT_JSON)
            buf_puts(out, "{\"sessions\":[");
        /* Pages of SQL rows until the page is full (a segment may skip many). */
        for (;;) {
            struct store_session_query q = {.project_id = project_id,
                                            .from = from,
                                            .to = to,
                                            .newest_first = true,
                                            .before_start = c.last_start,
                                            .before_id = c.last_id[0] ? c.last_id : NULL,
                                            .limit = 2000};
            int before_n = c.n;
            int64_t before_t = c.last_start;
            char before[128];
            snprintf(before, sizeof before, "%s", c.last_id);
            if (store_sessions(a->store, &q, list_row, &c) < 0) {
                rc = report_fail(err, 503, "store_unavailable", "", "cannot read the store now");
                break;
            }
            bool moved = c.last_start != before_t || strcmp(before, c.last_id) != 0;
            if (c.more || !moved || (c.n == before_n && !moved))
                break;
        }
        next_cursor[0] = '\0';
        if (c.more)
            snprintf(next_cursor, next_cap, "%lld.%s", (long long)c.last_start, c.last_id);
        if (fmt == REPORT_JSON) {
            buf_puts(out, "],\"next_cursor\":");
            json_str(out, c.more ? next_cursor : NULL);
            buf_putc(out, '}');
        }
    }
    pthread_rwlock_unlock(&a->lock);
    segment_free(sg);
    return rc;
}

int report_sessions(struct analytics *a, int64_t project_id, const struct report_params *p,
                    enum report_format fmt, struct buf *out, struct report_error *err)
{
    int64_t limit;
    if (param_int(p, "limit", 50, 1, 1000, &limit, err))
        return -1;
    char cb[200], next[200];
    const char *cursor = param_text(p, "cursor", cb, sizeof cb);
    return report_sessions_page(a, project_id, p, fmt, true, (int)limit, cursor, out, next,
                                sizeof next, err);
}

/* ---- one session --------------------------------------------------------------------- */

struct tl_ctx {
    struct buf *out;
    int n;
    struct analytics *a;
    int64_t project_id;
};

static int tl_event(const struct store_event *e, int64_t id, void *arg)
{
    struct tl_ctx *c = arg;
    struct buf *out = c->out;
    c->n++;
    buf_puts(out, "{\"id\":");
    json_int(out, id);
    buf_puts(out, ",\"ts\":");
    json_time(out, e->timestamp);
    buf_puts(out, ",\"type\":");
    json_str(out, e->type);
    buf_puts(out, ",\"event\":");
    json_str(out, e->event);
    buf_puts(out, ",\"path\":");
    json_str(out, e->path);
    buf_puts(out, ",\"properties\":");
    cJSON *root = e->payload ? cJSON_ParseWithLength(e->payload, e->payload_len) : NULL;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(root, "properties");
    if (!props)
        props = cJSON_GetObjectItemCaseSensitive(root, "traits");
    char *printed = props ? cJSON_PrintUnformatted(props) : NULL;
    buf_puts(out, printed ? printed : "{}");
    cJSON_free(printed);
    cJSON_Delete(root);
    buf_putc(out, '}');
    return 0;
}

static int tl_event_csv(const struct store_event *e, int64_t id, void *arg)
{
    struct tl_ctx *c = arg;
    struct buf *out = c->out;
    char t[TIMEFMT_ISO_LEN];
    timefmt_iso(e->timestamp, t);
    buf_printf(out, "%lld,%s,", (long long)id, t);
    csv_field(out, e->type);
    buf_putc(out, ',');
    csv_field(out, e->event);
    buf_putc(out, ',');
    csv_field(out, e->path);
    buf_putc(out, ',');
    cJSON *root = e->payload ? cJSON_ParseWithLength(e->payload, e->payload_len) : NULL;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(root, "properties");
    char *printed = props ? cJSON_PrintUnformatted(props) : NULL;
    csv_field(out, printed ? printed : "{}");
    cJSON_free(printed);
    cJSON_Delete(root);
    buf_puts(out, "\r\n");
    c->n++;
    return 0;
}

static int tl_signal(const struct store_signal *s, void *arg)
{
    struct tl_ctx *c = arg;
    struct buf *out = c->out;
    buf_puts(out, c->n++ ? ",{\"kind\":" : "{\"kind\":");
    json_str(out, s->kind);
    buf_printf(out, ",\"score\":%lld,\"ts\":", (long long)s->score);
    json_time(out, s->ts);
    buf_puts(out, ",\"path\":");
    json_str(out, s->path);
    buf_puts(out, ",\"event_id\":");
    if (s->event_id)
        json_int(out, s->event_id);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"evidence\":");
    buf_puts(out, s->evidence_json && *s->evidence_json ? s->evidence_json : "{}");
    buf_putc(out, '}');
    return 0;
}

static int tl_risk(int64_t ts, int64_t risk, const char *source, void *arg)
{
    struct tl_ctx *c = arg;
    buf_puts(c->out, c->n++ ? ",{\"ts\":" : "{\"ts\":");
    json_time(c->out, ts);
    buf_printf(c->out, ",\"risk\":%lld,\"source\":", (long long)risk);
    json_str(c->out, source);
    buf_putc(c->out, '}');
    return 0;
}

static int tl_lifecycle(const char *status, int64_t ts, void *arg)
{
    struct tl_ctx *c = arg;
    buf_puts(c->out, c->n++ ? ",{\"status\":" : "{\"status\":");
    json_str(c->out, status);
    buf_puts(c->out, ",\"ts\":");
    json_time(c->out, ts);
    buf_putc(c->out, '}');
    return 0;
}

static int tl_intervention(const struct store_intervention *iv, void *arg)
{
    struct tl_ctx *c = arg;
    struct buf *out = c->out;
    buf_puts(out, c->n++ ? ",{\"id\":" : "{\"id\":");
    json_str(out, iv->id);
    buf_puts(out, ",\"rule\":");
    json_str(out, iv->rule);
    buf_puts(out, ",\"action\":");
    json_str(out, iv->action);
    buf_puts(out, ",\"status\":");
    json_str(out, iv->status);
    buf_printf(out, ",\"risk\":%lld,\"held_out\":%s,\"created_at\":", (long long)iv->risk,
               iv->held_out ? "true" : "false");
    json_time(out, iv->created_at);
    buf_puts(out, ",\"path\":");
    json_str(out, iv->path);
    buf_puts(out, ",\"payload\":");
    buf_puts(out, iv->payload_json && *iv->payload_json ? iv->payload_json : "null");
    buf_puts(out, ",\"signals\":");
    buf_puts(out, iv->signals_json && *iv->signals_json ? iv->signals_json : "[]");
    buf_puts(out, ",\"explanation\":");
    buf_puts(out, iv->explanation_json && *iv->explanation_json ? iv->explanation_json : "null");
    buf_puts(out, ",\"lifecycle\":[");
    struct tl_ctx lc = {out, 0, c->a, c->project_id};
    store_intervention_lifecycle(c->a->store, iv->id, tl_lifecycle, &lc);
    buf_puts(out, "]}");
    return 0;
}

#define TIMELINE_MAX_EVENTS 5000

/* One event of a timeline: its time and row, and its text once read. */
struct tl_item {
    int64_t ts, row;
    struct buf text;
};

static int cmp_item_time(const void *x, const void *y)
{
    const struct tl_item *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

struct by_id_ctx {
    struct tl_item **by_row; /* sorted by row */
    size_t n;
    int (*write)(const struct store_event *e, int64_t id, void *ctx);
};

static int cmp_item_row(const void *x, const void *y)
{
    const struct tl_item *a = *(struct tl_item *const *)x, *b = *(struct tl_item *const *)y;
    return a->row < b->row ? -1 : a->row > b->row;
}

static int timeline_one(const struct store_event *e, int64_t id, void *arg)
{
    struct by_id_ctx *c = arg;
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->by_row[mid]->row < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == c->n || c->by_row[lo]->row != id)
        return 0;
    struct tl_ctx t = {&c->by_row[lo]->text, 0, NULL, 0};
    return c->write(e, id, &t);
}

/* Reads the payloads of items (any order asked, answered by id) and writes
 * each into its item; items end up in time order. */
static int timeline_events(struct analytics *a, struct tl_item *items, size_t n, int64_t *ids,
                           int (*write)(const struct store_event *e, int64_t id, void *ctx))
{
    qsort(items, n, sizeof *items, cmp_item_time);
    struct tl_item **by_row = xmalloc((n ? n : 1) * sizeof *by_row);
    for (size_t i = 0; i < n; i++)
        by_row[i] = &items[i];
    qsort(by_row, n, sizeof *by_row, cmp_item_row);
    struct by_id_ctx c = {by_row, n, write};
    int rc = n ? store_events_by_id(a->store, ids, n, timeline_one, &c) : 0;
    free(by_row);
    return rc < 0 ? -1 : 0;
}

static void timeline_free(struct tl_item *items, size_t n, int64_t *ids)
{
    for (size_t i = 0; i < n; i++)
        buf_free(&items[i].text);
    free(items);
    free(ids);
}

int report_session(struct analytics *a, int64_t project_id, const char *session_id,
                   const struct report_params *p, enum report_format fmt, struct buf *out,
                   struct report_error *err)
{
    (void)p;
    struct store_session s;
    struct buf strings = BUF_INIT;
    int got = store_session_get(a->store, project_id, session_id, &s, &strings);
    if (got < 0) {
        buf_free(&strings);
        return report_fail(err, 503, "store_unavailable", "", "cannot read the store now");
    }
    /* The session's events from the column store, in time order; then their
     * payloads by id. */
    struct tl_item *items = NULL;
    size_t n = 0, cap = 0;
    bool truncated = false;
    pthread_rwlock_rdlock(&a->lock);
    struct ax_project *proj = ax_project_find(a, project_id);
    uint32_t sid = proj ? strdict_find(&proj->session_ids, session_id) : 0;
    if (sid) {
        for (size_t i = 0; i < proj->n_events; i++) {
            const struct ax_event *e = &proj->events[i];
            if (e->session != sid)
                continue;
            if (n == TIMELINE_MAX_EVENTS) {
                truncated = true;
                break;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                items = xrealloc(items, cap * sizeof *items);
            }
            items[n++] = (struct tl_item){e->ts, e->row, BUF_INIT};
        }
    }
    pthread_rwlock_unlock(&a->lock);
    int64_t *ids = xmalloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = items[i].row;
    if (got == 0 && n == 0) {
        buf_free(&strings);
        free(ids);
        free(items);
        return report_fail(err, 404, "not_found", "session_id", "no session %.100s", session_id);
    }
    if (fmt == REPORT_CSV) {
        /* The timeline's events as rows. */
        buf_puts(out, "id,ts,type,event,path,properties\r\n");
        if (timeline_events(a, items, n, ids, tl_event_csv)) {
            timeline_free(items, n, ids);
            buf_free(&strings);
            return report_fail(err, 503, "store_unavailable", "", "cannot read the store now");
        }
        for (size_t i = 0; i < n; i++)
            buf_append(out, items[i].text.data, items[i].text.len);
    }
    if (fmt == REPORT_JSON) {
        buf_puts(out, "{\"session\":");
        if (got == 1)
            session_json(out, &s);
        else
            buf_puts(out, "null");
        buf_puts(out, ",\"events\":[");
        if (timeline_events(a, items, n, ids, tl_event)) {
            timeline_free(items, n, ids);
            buf_free(&strings);
            return report_fail(err, 503, "store_unavailable", "", "cannot read the store now");
        }
        for (size_t i = 0, k = 0; i < n; i++) {
            if (!items[i].text.len)
                continue;
            if (k++)
                buf_putc(out, ',');
            buf_append(out, items[i].text.data, items[i].text.len);
        }
        struct tl_ctx c = {out, 0, a, project_id};
        buf_printf(out, "],\"events_truncated\":%s,\"signals\":[", truncated ? "true" : "false");
        c.n = 0;
        store_session_signals(a->store, project_id, session_id, tl_signal, &c);
        buf_puts(out, "],\"risk\":[");
        c.n = 0;
        store_session_risk(a->store, project_id, session_id, tl_risk, &c);
        buf_puts(out, "],\"interventions\":[");
        c.n = 0;
        store_session_interventions(a->store, project_id, session_id, tl_intervention, &c);
        buf_puts(out, "]}");
    }
    timeline_free(items, n, ids);
    buf_free(&strings);
    return 0;
}

/* ---- interventions and their uplift ---------------------------------------------------- */

struct group {
    char key[80];
    int64_t decided, held_out, delivered, shown, accepted, declined, dismissed, expired,
        escalated;
    int64_t treated, treated_conv, holdout, holdout_conv; /* first decision per session */
};

struct iv_ctx {
    struct ax_project *proj;
    const struct segment *sg;
    struct strdict seen; /* sessions already counted for uplift */
    struct group total;
    struct group *rules, *actions;
    size_t n_rules, n_actions, cap_rules, cap_actions;
};

static struct group *group_get(struct group **arr, size_t *n, size_t *cap, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*arr)[i].key, key))
            return &(*arr)[i];
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *arr = xrealloc(*arr, *cap * sizeof **arr);
    }
    struct group *g = &(*arr)[(*n)++];
    memset(g, 0, sizeof *g);
    snprintf(g->key, sizeof g->key, "%s", key);
    return g;
}

static bool status_in(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

static void group_count(struct group *g, const struct store_decision_row *r, bool first)
{
    static const char *const delivered[] = {"delivered", "shown",     "accepted", "declined",
                                            "dismissed", "escalated", NULL};
    static const char *const shown[] = {"shown",     "accepted",  "declined",
                                        "dismissed", "escalated", NULL};
    static const char *const accepted[] = {"accepted", "escalated", NULL};
    g->decided++;
    g->held_out += r->held_out;
    g->delivered += status_in(r->status, delivered);
    g->shown += status_in(r->status, shown);
    g->accepted += status_in(r->status, accepted);
    g->declined += !strcmp(r->status, "declined");
    g->dismissed += !strcmp(r->status, "dismissed");
    g->expired += !strcmp(r->status, "expired");
    g->escalated += !strcmp(r->status, "escalated");
    if (!first)
        return;
    if (r->held_out) {
        g->holdout++;
        g->holdout_conv += r->converted;
    } else {
        g->treated++;
        g->treated_conv += r->converted;
    }
}

static int iv_row(const struct store_decision_row *r, void *arg)
{
    struct iv_ctx *c = arg;
    if (c->sg) {
        uint32_t sid = c->proj ? strdict_find(&c->proj->session_ids, r->session_id) : 0;
        if (!segment_has(c->sg, sid))
            return 0;
    }
    size_t before = c->seen.n;
    strdict_intern(&c->seen, r->session_id, strlen(r->session_id));
    bool first = c->seen.n != before;
    group_count(&c->total, r, first);
    group_count(group_get(&c->rules, &c->n_rules, &c->cap_rules, r->rule ? r->rule : ""), r,
                first);
    group_count(group_get(&c->actions, &c->n_actions, &c->cap_actions, r->action ? r->action : ""),
                r, first);
    return 0;
}

static void uplift_json(struct buf *out, const struct group *g)
{
    double diff, lo, hi, pv;
    stats_two_proportions(g->treated, g->treated_conv, g->holdout, g->holdout_conv, &diff, &lo,
                          &hi, &pv);
    buf_printf(out, "\"treated\":{\"sessions\":%lld,\"conversions\":%lld,\"rate\":",
               (long long)g->treated, (long long)g->treated_conv);
    json_ratio(out, g->treated_conv, g->treated);
    buf_printf(out, "},\"holdout\":{\"sessions\":%lld,\"conversions\":%lld,\"rate\":",
               (long long)g->holdout, (long long)g->holdout_conv);
    json_ratio(out, g->holdout_conv, g->holdout);
    buf_puts(out, "},\"difference\":");
    json_double(out, round4(diff));
    buf_puts(out, ",\"ci95\":");
    if (isnan(lo)) {
        buf_puts(out, "null");
    } else {
        buf_putc(out, '[');
        json_double(out, round4(lo));
        buf_putc(out, ',');
        json_double(out, round4(hi));
        buf_putc(out, ']');
    }
    buf_puts(out, ",\"p_value\":");
    json_double(out, round4(pv));
}

static void counts_json(struct buf *out, const struct group *g)
{
    buf_printf(out,
               "\"decided\":%lld,\"held_out\":%lld,\"delivered\":%lld,\"shown\":%lld,"
               "\"accepted\":%lld,\"declined\":%lld,\"dismissed\":%lld,\"expired\":%lld,"
               "\"escalated\":%lld,\"acceptance_rate\":",
               (long long)g->decided, (long long)g->held_out, (long long)g->delivered,
               (long long)g->shown, (long long)g->accepted, (long long)g->declined,
               (long long)g->dismissed, (long long)g->expired, (long long)g->escalated);
    json_ratio(out, g->accepted, g->shown);
}

static void group_csv(struct buf *out, const char *by, const struct group *g)
{
    double diff, lo, hi, pv;
    stats_two_proportions(g->treated, g->treated_conv, g->holdout, g->holdout_conv, &diff, &lo,
                          &hi, &pv);
    csv_field(out, by);
    buf_putc(out, ',');
    csv_field(out, g->key);
    buf_printf(out, ",%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,",
               (long long)g->decided, (long long)g->held_out, (long long)g->delivered,
               (long long)g->shown, (long long)g->accepted, (long long)g->declined,
               (long long)g->dismissed, (long long)g->expired, (long long)g->escalated,
               (long long)g->treated, (long long)g->treated_conv, (long long)g->holdout,
               (long long)g->holdout_conv);
    double v[] = {diff, lo, hi, pv};
    for (int i = 0; i < 4; i++) {
        if (i)
            buf_putc(out, ',');
        csv_double(out, round4(v[i]));
    }
    buf_puts(out, "\r\n");
}

int report_interventions(struct analytics *a, int64_t project_id, const struct report_params *p,
                         enum report_format fmt, struct buf *out, struct report_error *err)
{
    int64_t from, to;
    if (param_range(p, &from, &to, err))
        return -1;
    struct iv_ctx c;
    memset(&c, 0, sizeof c);
    strdict_init(&c.seen);
    snprintf(c.total.key, sizeof c.total.key, "(all)");
    pthread_rwlock_rdlock(&a->lock);
    struct segment *sg = NULL;
    c.proj = ax_project_find(a, project_id);
    int rc = segment_of(a, c.proj, project_id, p, "segment", NULL, &sg, err);
    c.sg = sg;
    if (!rc && store_decisions(a->store, project_id, from, to, iv_row, &c) < 0)
        rc = report_fail(err, 503, "store_unavailable", "", "cannot read the store now");
    pthread_rwlock_unlock(&a->lock);
    if (!rc && fmt == REPORT_CSV) {
        buf_puts(out, "by,value,decided,held_out,delivered,shown,accepted,declined,dismissed,"
                      "expired,escalated,treated_sessions,treated_conversions,holdout_sessions,"
                      "holdout_conversions,difference,ci95_low,ci95_high,p_value\r\n");
        group_csv(out, "total", &c.total);
        for (size_t i = 0; i < c.n_rules; i++)
            group_csv(out, "rule", &c.rules[i]);
        for (size_t i = 0; i < c.n_actions; i++)
            group_csv(out, "action", &c.actions[i]);
    } else if (!rc) {
        buf_puts(out, "{\"from\":");
        json_time(out, from);
        buf_puts(out, ",\"to\":");
        json_time(out, to);
        buf_puts(out, ",\"totals\":{");
        counts_json(out, &c.total);
        buf_puts(out, "},\"uplift\":{");
        uplift_json(out, &c.total);
        buf_puts(out, ",\"method\":\"difference of conversion rates, treated minus holdout, "
                      "each session counted once by its first decision; Wald 95% interval; "
                      "two-sided two-proportion z-test\"}");
        for (int which = 0; which < 2; which++) {
            struct group *arr = which ? c.actions : c.rules;
            size_t n = which ? c.n_actions : c.n_rules;
            buf_puts(out, which ? ",\"by_action\":[" : ",\"by_rule\":[");
            for (size_t i = 0; i < n; i++) {
                buf_puts(out, i ? ",{" : "{");
                buf_puts(out, which ? "\"action\":" : "\"rule\":");
                json_str(out, arr[i].key);
                buf_putc(out, ',');
                counts_json(out, &arr[i]);
                buf_putc(out, ',');
                uplift_json(out, &arr[i]);
                buf_putc(out, '}');
            }
            buf_putc(out, ']');
        }
        buf_putc(out, '}');
    }
    segment_free(sg);
    strdict_free(&c.seen);
    free(c.rules);
    free(c.actions);
    return rc;
}
