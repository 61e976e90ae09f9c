/*
 * retention.c - cohort retention (docs/api.md, "Retention").
 *
 * Visitors are put in the cohort of the day or week (weeks start on Monday,
 * UTC) of their first event. One pass over the events then sets, per
 * visitor, one bit per period in which the visitor did the return event;
 * the matrix is the sum of those bits per cohort. A visitor belongs to a
 * segment when the session of their first event does.
 */
#include "analytics/analytics_internal.h"

#include "common/timefmt.h"
#include "common/util.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define WEEK_MS (7 * DAY_MS)
#define MAX_PERIODS 64
#define MAX_COHORTS 400

/* The start of the period holding t: midnight UTC, or Monday midnight. */
static int64_t period_floor(int64_t t, int64_t len)
{
    /* 1970-01-01 was a Thursday: Mondays are 4 days after an epoch multiple of 7 days. */
    int64_t offset = len == WEEK_MS ? 4 * DAY_MS : 0;
    int64_t x = t - offset;
    int64_t q = x / len;
    if (x % len < 0)
        q--;
    return q * len + offset;
}

int report_retention(struct analytics *a, int64_t project_id, const struct report_params *p,
                     enum report_format fmt, struct buf *out, struct report_error *err)
{
    char b[200];
    const char *cohort = param_text(p, "cohort", b, sizeof b);
    if (cohort && strcmp(cohort, "day") && strcmp(cohort, "week"))
        return report_fail(err, 400, "invalid_parameter", "cohort", "cohort must be day or week");
    int64_t len = cohort && !strcmp(cohort, "day") ? DAY_MS : WEEK_MS;
    int64_t periods;
    if (param_int(p, "periods", 12, 1, MAX_PERIODS, &periods, err))
        return -1;
    /* from / to: default the last `periods` periods, up to now */
    char fb[64], tb[64];
    const char *ft = param_text(p, "from", fb, sizeof fb);
    const char *tt = param_text(p, "to", tb, sizeof tb);
    int64_t from, to = p->now_ms;
    if (tt && parse_time_param(tt, p->now_ms, &to))
        return report_fail(err, 400, "invalid_parameter", "to",
                           "to: '%.60s' is not a date (2026-11-01), a date-time, now or a "
                           "relative time like -7d",
                           tt);
    from = period_floor(to, len) - (periods - 1) * len;
    if (ft && parse_time_param(ft, p->now_ms, &from))
        return report_fail(err, 400, "invalid_parameter", "from",
                           "from: '%.60s' is not a date (2026-11-01), a date-time, now or a "
                           "relative time like -7d",
                           ft);
    if (to <= from)
        return report_fail(err, 400, "invalid_parameter", "to", "to must be after from");
    int64_t first = period_floor(from, len);
    int64_t n_cohorts = (to - first + len - 1) / len;
    if (n_cohorts > MAX_COHORTS)
        return report_fail(err, 400, "invalid_parameter", "from",
                           "from-to spans %lld cohorts; at most %d", (long long)n_cohorts,
                           MAX_COHORTS);

    pthread_rwlock_rdlock(&a->lock);
    int rc = -1;
    int16_t *member = NULL;
    uint64_t *bits = NULL;
    uint8_t *path_ok = NULL;
    struct segment *sg = NULL;
    int64_t *size = xcalloc((size_t)n_cohorts, sizeof *size);
    int64_t *retained = xcalloc((size_t)(n_cohorts * periods), sizeof *retained);
    /* the return event: "any", an event name, {"event": name} or {"path": glob} */
    cJSON *owned = NULL;
    bool any = true, never = false;
    uint32_t ret_name = 0;
    const cJSON *rj = param_json(p, "return_event", &owned, err);
    if (!rj && err->status)
        goto out;
    if (!rj) {
        /* a bare name in the query string is not JSON */
        const char *t = param_text(p, "return_event", b, sizeof b);
        if (t && strcmp(t, "any")) {
            any = false;
            ret_name = strdict_find(&a->names, t);
            never = !ret_name;
        }
        err->status = 0;
    } else if (cJSON_IsString(rj)) {
        if (strcmp(rj->valuestring, "any")) {
            any = false;
            ret_name = strdict_find(&a->names, rj->valuestring);
            never = !ret_name;
        }
    } else if (cJSON_IsObject(rj)) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(rj, "event");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(rj, "path");
        if ((!cJSON_IsString(ev) && !cJSON_IsString(path)) || (ev && path)) {
            report_fail(err, 400, "invalid_parameter", "return_event",
                        "return_event must be \"any\", an event name, {\"event\": name} or "
                        "{\"path\": glob}");
            goto out;
        }
        any = false;
        if (ev) {
            ret_name = strdict_find(&a->names, ev->valuestring);
            never = !ret_name;
        } else {
            path_ok = xcalloc(a->paths.n + 1, 1);
            for (uint32_t id = 1; id < a->paths.n; id++)
                path_ok[id] = fnmatch(path->valuestring, a->paths.by_id[id], 0) == 0;
        }
    } else {
        report_fail(err, 400, "invalid_parameter", "return_event",
                    "return_event must be \"any\", an event name, {\"event\": name} or "
                    "{\"path\": glob}");
        goto out;
    }
    cJSON_Delete(owned);
    owned = NULL;
    struct ax_project *proj = ax_project_find(a, project_id);
    const cJSON *segj = param_json(p, "segment", &owned, err);
    if (!segj && err->status)
        goto out;
    if (segment_parse(a, proj, project_id, p, "segment", segj, &sg, err))
        goto out;
    if (proj) {
        size_t nv = proj->visitor_ids.n;
        member = xmalloc(nv * sizeof *member);
        bits = xcalloc(nv, sizeof *bits);
        for (size_t v = 0; v < nv; v++) {
            const struct ax_visitor *vis = &proj->visitors[v];
            member[v] = -1;
            if (v == 0 || vis->first_seen < from || vis->first_seen >= to)
                continue;
            if (!segment_has(sg, vis->first_session))
                continue;
            int64_t c = (period_floor(vis->first_seen, len) - first) / len;
            member[v] = (int16_t)c;
            size[c]++;
        }
        if (!never) {
            for (size_t i = 0; i < proj->n_events; i++) {
                const struct ax_event *e = &proj->events[i];
                int16_t c = member[e->visitor];
                if (c < 0)
                    continue;
                if (!any) {
                    if (path_ok ? !(e->path && path_ok[e->path] &&
                                    (e->type == AX_PAGE || e->type == AX_SCREEN))
                                : e->name != ret_name)
                        continue;
                }
                int64_t k = (period_floor(e->ts, len) - first) / len - c;
                if (k >= 0 && k < periods)
                    bits[e->visitor] |= 1ull << k;
            }
        }
        for (size_t v = 1; v < nv; v++) {
            if (member[v] < 0 || !bits[v])
                continue;
            uint64_t x = bits[v];
            while (x) {
                int k = __builtin_ctzll(x);
                x &= x - 1;
                retained[member[v] * periods + k]++;
            }
        }
    }
    /* Only periods that have begun are reported. */
    if (fmt == REPORT_CSV) {
        buf_puts(out, "cohort_start,size");
        for (int64_t k = 0; k < periods; k++)
            buf_printf(out, ",period_%lld", (long long)k);
        buf_puts(out, "\r\n");
    } else {
        buf_printf(out, "{\"cohort\":\"%s\",\"periods\":%lld,\"from\":",
                   len == DAY_MS ? "day" : "week", (long long)periods);
        json_time(out, first);
        buf_puts(out, ",\"to\":");
        json_time(out, to);
        buf_puts(out, ",\"cohorts\":[");
    }
    for (int64_t c = 0; c < n_cohorts; c++) {
        int64_t start = first + c * len;
        int64_t begun = (p->now_ms - start) / len + 1;
        if (p->now_ms < start)
            begun = 0;
        if (begun > periods)
            begun = periods;
        const int64_t *row = &retained[c * periods];
        if (fmt == REPORT_CSV) {
            char t[TIMEFMT_ISO_LEN];
            timefmt_iso(start, t);
            buf_printf(out, "%s,%lld", t, (long long)size[c]);
            for (int64_t k = 0; k < periods; k++) {
                buf_putc(out, ',');
                if (k < begun)
                    buf_printf(out, "%lld", (long long)row[k]);
            }
            buf_puts(out, "\r\n");
            continue;
        }
        buf_puts(out, c ? ",{\"start\":" : "{\"start\":");
        json_time(out, start);
        buf_printf(out, ",\"size\":%lld,\"retained\":[", (long long)size[c]);
        for (int64_t k = 0; k < begun; k++)
            buf_printf(out, "%s%lld", k ? "," : "", (long long)row[k]);
        buf_puts(out, "],\"rates\":[");
        for (int64_t k = 0; k < begun; k++) {
            if (k)
                buf_putc(out, ',');
            json_ratio(out, row[k], size[c]);
        }
        buf_puts(out, "]}");
    }
    if (fmt == REPORT_JSON)
        buf_puts(out, "]}");
    rc = 0;
out:
    pthread_rwlock_unlock(&a->lock);
    cJSON_Delete(owned);
    segment_free(sg);
    free(member);
    free(bits);
    free(path_ok);
    free(size);
    free(retained);
    return rc;
}
