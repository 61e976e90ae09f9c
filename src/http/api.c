/*
 * api.c - /api/v1/...: the secret-key API behind the dashboard (docs/api.md).
 *
 * Every route needs the project's secret key ("Authorization: Bearer
 * sk_..."); the project is the key's. Routes are a table of (method, path
 * pattern, handler); a pattern segment "{}" captures one path segment. Query
 * errors answer 400 naming the parameter; unknown routes 404; a known path
 * with another method 405.
 */
#include "http/http_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api_call {
    struct http_request *req;
    int64_t project_id;
    char captures[4][520];
    int n_captures;
};

typedef enum MHD_Result (*api_fn)(struct api_call *c);

static enum MHD_Result get_project(struct api_call *c);
static enum MHD_Result get_settings(struct api_call *c);
static enum MHD_Result put_settings(struct api_call *c);
static enum MHD_Result get_effective_settings(struct api_call *c);
static enum MHD_Result get_model(struct api_call *c);
static enum MHD_Result reload_model(struct api_call *c);
static enum MHD_Result kpis_live(struct api_call *c);
static enum MHD_Result kpis_stream(struct api_call *c);
static enum MHD_Result kpis(struct api_call *c);
static enum MHD_Result funnel(struct api_call *c);
static enum MHD_Result funnel_dropped(struct api_call *c);
static enum MHD_Result retention(struct api_call *c);
static enum MHD_Result paths(struct api_call *c);
static enum MHD_Result sessions(struct api_call *c);
static enum MHD_Result session(struct api_call *c);
static enum MHD_Result segments_compare(struct api_call *c);
static enum MHD_Result interventions_report(struct api_call *c);
static enum MHD_Result deadletters_list(struct api_call *c);
static enum MHD_Result videos(struct api_call *c);
static enum MHD_Result video(struct api_call *c);

static enum MHD_Result deadletters_replay(struct api_call *c);

static const struct {
    unsigned method;
    const char *pattern;
    api_fn fn;
} api_routes[] = {
    {M_GET, "/api/v1/project", get_project},
    {M_GET, "/api/v1/settings", get_settings},
    {M_PUT, "/api/v1/settings", put_settings},
    {M_GET, "/api/v1/settings/effective", get_effective_settings},
    {M_GET, "/api/v1/model", get_model},
    {M_POST, "/api/v1/model/reload", reload_model},
    {M_GET, "/api/v1/kpis/live", kpis_live},
    {M_GET, "/api/v1/kpis/stream", kpis_stream},
    {M_GET, "/api/v1/kpis", kpis},
    {M_POST, "/api/v1/funnels", funnel},
    {M_GET, "/api/v1/funnels", funnel},
    {M_POST, "/api/v1/funnels/dropped", funnel_dropped},
    {M_GET, "/api/v1/funnels/dropped", funnel_dropped},
    {M_POST, "/api/v1/retention", retention},
    {M_GET, "/api/v1/retention", retention},
    {M_GET, "/api/v1/paths", paths},
    {M_GET, "/api/v1/sessions", sessions},
    {M_GET, "/api/v1/sessions/{}", session},
    {M_POST, "/api/v1/segments/compare", segments_compare},
    {M_GET, "/api/v1/interventions/report", interventions_report},
    {M_GET, "/api/v1/videos", videos},
    {M_GET, "/api/v1/videos/{*}", video}, /* ids may hold slashes (a video's URL) */
    {M_GET, "/api/v1/deadletters", deadletters_list},
    {M_POST, "/api/v1/deadletters/replay", deadletters_replay},
};

/* ------------------------------------------------------------------------ */

static enum MHD_Result get_project(struct api_call *c)
{
    struct store_project p;
    if (store_project_by_id(c->req->srv->deps.store, c->project_id, &p) != 1)
        return http_respond_error(c->req, 404, "not_found", "project not found");
    struct buf out = BUF_INIT;
    buf_printf(&out, "{\"id\":%lld,\"name\":", (long long)p.id);
    json_str(&out, p.name);
    buf_puts(&out, ",\"write_key\":");
    json_str(&out, p.write_key);
    buf_puts(&out, ",\"created_at\":");
    json_time(&out, p.created_at);
    buf_puts(&out, ",\"settings\":");
    buf_puts(&out, p.settings_json);
    buf_putc(&out, '}');
    store_project_clear(&p);
    return http_respond(c->req, 200, &out, 0);
}

static enum MHD_Result get_settings(struct api_call *c)
{
    struct store_project p;
    if (store_project_by_id(c->req->srv->deps.store, c->project_id, &p) != 1)
        return http_respond_error(c->req, 404, "not_found", "project not found");
    struct buf out = BUF_INIT;
    buf_puts(&out, p.settings_json);
    store_project_clear(&p);
    return http_respond(c->req, 200, &out, 0);
}

/* The settings in effect: the defaults (docs/policy.md) with every member the
 * project set replacing the default's. */
static enum MHD_Result get_effective_settings(struct api_call *c)
{
    struct store_project p;
    if (store_project_by_id(c->req->srv->deps.store, c->project_id, &p) != 1)
        return http_respond_error(c->req, 404, "not_found", "project not found");
    struct buf defaults = BUF_INIT;
    engine_default_settings(&defaults);
    cJSON *eff = cJSON_ParseWithLength(defaults.data, defaults.len);
    cJSON *own = cJSON_Parse(p.settings_json ? p.settings_json : "{}");
    buf_free(&defaults);
    store_project_clear(&p);
    const cJSON *m;
    cJSON_ArrayForEach(m, own)
    {
        cJSON *copy = cJSON_Duplicate(m, true);
        if (cJSON_GetObjectItemCaseSensitive(eff, m->string))
            cJSON_ReplaceItemInObjectCaseSensitive(eff, m->string, copy);
        else
            cJSON_AddItemToObject(eff, m->string, copy);
    }
    char *text = cJSON_PrintUnformatted(eff);
    struct buf out = BUF_INIT;
    buf_puts(&out, text ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(eff);
    cJSON_Delete(own);
    return http_respond(c->req, 200, &out, 0);
}

static enum MHD_Result put_settings(struct api_call *c)
{
    struct http_request *req = c->req;
    char err[400];
    const char *body = req->body.data ? req->body.data : "";
    if (engine_validate_settings(body, err, sizeof err))
        return http_respond_error(req, 400, "invalid_settings", "%s", err);
    /* Stored as sent: a small document, validated just now. */
    if (store_project_set_settings(req->srv->deps.store, c->project_id, body))
        return http_respond_error(req, 503, "store_unavailable", "the settings were not saved");
    if (req->srv->deps.engine)
        engine_reload_project(req->srv->deps.engine, c->project_id);
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"success\":true,\"settings\":");
    buf_puts(&out, body);
    buf_putc(&out, '}');
    return http_respond(req, 200, &out, 0);
}

static enum MHD_Result get_model(struct api_call *c)
{
    struct http_request *req = c->req;
    struct buf out = BUF_INIT;
    int version = req->srv->deps.engine ? engine_model_version(req->srv->deps.engine) : 0;
    buf_printf(&out, "{\"in_use\":%s,\"version\":%d,\"risk_source\":\"%s\",\"model\":",
               version ? "true" : "false", version, version ? "model" : "rules");
    char *path = xasprintf("%s/models/current.json", req->srv->deps.cfg->data_dir);
    /* The envelope minus the trees: read the head of the file and stop at
     * "xgboost" (written last), so a big model is not parsed here. */
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) {
        buf_puts(&out, "null}");
        return http_respond(req, 200, &out, 0);
    }
    char head[16384];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    char *cut = strstr(head, ",\"xgboost\":");
    if (cut) {
        *cut = '}';
        cut[1] = '\0';
    }
    cJSON *j = cJSON_Parse(head);
    if (j) {
        char *printed = cJSON_PrintUnformatted(j);
        buf_puts(&out, printed);
        cJSON_free(printed);
        cJSON_Delete(j);
    } else {
        buf_puts(&out, "null");
    }
    buf_putc(&out, '}');
    return http_respond(req, 200, &out, 0);
}

static enum MHD_Result reload_model(struct api_call *c)
{
    struct http_request *req = c->req;
    if (!req->srv->deps.reload_model)
        return http_respond_error(req, 503, "unavailable", "model reloading is not wired");
    char msg[400] = "";
    int v = req->srv->deps.reload_model(req->srv->deps.reload_ctx, msg, sizeof msg);
    if (v < 0)
        return http_respond_error(req, 422, "model_refused",
                                  "%s (the model in use keeps serving)", msg);
    struct buf out = BUF_INIT;
    buf_printf(&out, "{\"success\":true,\"version\":%d}", v);
    return http_respond(req, 200, &out, 0);
}

/* ---- reports (src/analytics, run by api_jobs.c) ---------------------------- */

static enum MHD_Result kpis_live(struct api_call *c)
{
    return http_api_kpis_live(c->req, c->project_id);
}

static enum MHD_Result kpis_stream(struct api_call *c)
{
    return http_api_kpis_stream(c->req, c->project_id);
}

static enum MHD_Result kpis(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_kpis, NULL, NULL, "kpis");
}

static enum MHD_Result funnel(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_funnel, NULL, NULL, "funnel");
}

static enum MHD_Result funnel_dropped(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_funnel_dropped, NULL, NULL,
                               "funnel-dropped");
}

static enum MHD_Result retention(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_retention, NULL, NULL, "retention");
}

static enum MHD_Result paths(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_paths, NULL, NULL, "paths");
}

static enum MHD_Result sessions(struct api_call *c)
{
    const char *fmt = http_query(c->req, "format");
    if (fmt && !strcmp(fmt, "csv") && !http_query(c->req, "limit"))
        return http_api_sessions_export(c->req, c->project_id); /* every session, streamed */
    return http_api_run_report(c->req, c->project_id, report_sessions, NULL, NULL, "sessions");
}

static enum MHD_Result session(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, NULL, report_session, c->captures[0],
                               "session");
}

static enum MHD_Result videos(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_videos, NULL, NULL, "videos");
}

/* /api/v1/videos/ID and /api/v1/videos/ID/views */
static enum MHD_Result video(struct api_call *c)
{
    char *id = c->captures[0];
    size_t n = strlen(id);
    if (n > 6 && !strcmp(id + n - 6, "/views")) {
        id[n - 6] = '\0';
        return http_api_run_report(c->req, c->project_id, NULL, report_video_views, id,
                                   "video-views");
    }
    return http_api_run_report(c->req, c->project_id, NULL, report_video, id, "video");
}

static enum MHD_Result segments_compare(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_segments_compare, NULL, NULL, "segments");
}

static enum MHD_Result interventions_report(struct api_call *c)
{
    return http_api_run_report(c->req, c->project_id, report_interventions, NULL, NULL,
                               "interventions");
}

/* ---- dead letters -------------------------------------------------------------- */

struct dl_ctx {
    struct buf *out;
    int n;
};

static int dl_one(const struct store_dead_letter *d, void *arg)
{
    struct dl_ctx *c = arg;
    if (c->n++)
        buf_putc(c->out, ',');
    ingest_dead_letter_json(c->out, d);
    return 0;
}

static bool query_int(struct api_call *c, const char *name, int64_t def, int64_t lo, int64_t hi,
                      int64_t *out, enum MHD_Result *r)
{
    const char *v = http_query(c->req, name);
    *out = def;
    if (!v || !*v)
        return true;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < lo || x > hi) {
        *r = http_respond_error(c->req, 400, "invalid_parameter",
                                "%s: '%.40s' is not a whole number from %lld to %lld", name, v,
                                (long long)lo, (long long)hi);
        return false;
    }
    *out = x;
    return true;
}

static enum MHD_Result deadletters_list(struct api_call *c)
{
    enum MHD_Result r;
    int64_t limit, after;
    if (!query_int(c, "limit", 100, 1, 1000, &limit, &r) ||
        !query_int(c, "after", 0, 0, INT64_MAX, &after, &r))
        return r;
    const char *all = http_query(c->req, "all");
    struct store_dead_letter_query q = {.project_id = c->project_id,
                                        .after_id = after,
                                        .limit = (int)limit,
                                        .include_replayed = all && !strcmp(all, "true")};
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"dead_letters\":[");
    struct dl_ctx dc = {&out, 0};
    if (store_dead_letters(c->req->srv->deps.store, &q, dl_one, &dc) < 0) {
        buf_free(&out);
        return http_respond_error(c->req, 503, "store_unavailable", "cannot read the store now");
    }
    buf_printf(&out, "],\"total\":%lld}",
               (long long)store_count_dead_letters(c->req->srv->deps.store, c->project_id));
    return http_respond(c->req, 200, &out, 0);
}

/* Replays through this server's own pipeline: deduplicated against its
 * window, and the stored events reach the engine and the reports. Each dead
 * letter is one commit, so this runs on a report worker. */
struct replay_task {
    struct ingest *ingest;
    int64_t project_id;
    bool all;
    int64_t *ids;
    size_t n;
};

static void replay_task_free(void *arg)
{
    struct replay_task *t = arg;
    free(t->ids);
    free(t);
}

static int replay_task_run(void *arg, struct buf *out, struct report_error *err)
{
    struct replay_task *t = arg;
    struct ingest_replay_result total = {0};
    int rc = 0;
    if (t->all) {
        struct store_dead_letter_query q = {.project_id = t->project_id, .limit = 1000};
        rc = ingest_replay(t->ingest, &q, &total);
    }
    for (size_t i = 0; !t->all && i < t->n && rc >= 0; i++) {
        struct store_dead_letter_query q = {
            .project_id = t->project_id, .only_id = t->ids[i], .limit = 1};
        struct ingest_replay_result one;
        rc = ingest_replay(t->ingest, &q, &one);
        total.examined += one.examined;
        total.replayed += one.replayed;
        total.still_bad += one.still_bad;
        total.events += one.events;
        total.duplicates += one.duplicates;
    }
    if (rc < 0) {
        err->status = 503;
        snprintf(err->code, sizeof err->code, "store_unavailable");
        snprintf(err->message, sizeof err->message, "the replay did not finish");
        return -1;
    }
    buf_printf(out,
               "{\"examined\":%zu,\"replayed\":%zu,\"still_rejected\":%zu,\"events_stored\":%zu,"
               "\"duplicates\":%zu}",
               total.examined, total.replayed, total.still_bad, total.events, total.duplicates);
    return 0;
}

static enum MHD_Result deadletters_replay(struct api_call *c)
{
    struct http_request *req = c->req;
    cJSON *body = req->body.len ? cJSON_ParseWithLength(req->body.data, req->body.len) : NULL;
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return http_respond_error(req, 400, "invalid_json",
                                  "the body must be {\"ids\": [1, 2]} or {\"all\": true}");
    }
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
    struct replay_task *t = xcalloc(1, sizeof *t);
    t->ingest = req->srv->deps.ingest;
    t->project_id = c->project_id;
    t->all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "all"));
    if (!t->all) {
        int n = cJSON_GetArraySize(ids);
        if (!cJSON_IsArray(ids) || n == 0 || n > 1000) {
            cJSON_Delete(body);
            replay_task_free(t);
            return http_respond_error(req, 400, "invalid_parameter",
                                      "ids: an array of 1 to 1000 dead letter ids, or all: true");
        }
        t->ids = xcalloc((size_t)n, sizeof *t->ids);
        const cJSON *id;
        cJSON_ArrayForEach(id, ids)
        {
            if (!cJSON_IsNumber(id) || id->valuedouble < 1 || id->valuedouble > 9e15) {
                cJSON_Delete(body);
                replay_task_free(t);
                return http_respond_error(req, 400, "invalid_parameter",
                                          "ids: every id must be a positive whole number");
            }
            t->ids[t->n++] = (int64_t)id->valuedouble;
        }
    }
    cJSON_Delete(body);
    return http_api_run_task(req, replay_task_run, t, replay_task_free, "deadletters-replay");
}

/* ------------------------------------------------------------------------ */

static bool match(const char *pattern, const char *path, struct api_call *c)
{
    c->n_captures = 0;
    while (*pattern && *path) {
        if (!strcmp(pattern, "{*}")) { /* the rest of the path */
            size_t n = strlen(path);
            if (n >= sizeof c->captures[0] || c->n_captures >= 4)
                return false;
            memcpy(c->captures[c->n_captures++], path, n + 1);
            return true;
        }
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= sizeof c->captures[0] || c->n_captures >= 4)
                return false;
            memcpy(c->captures[c->n_captures], path, n);
            c->captures[c->n_captures][n] = '\0';
            c->n_captures++;
            pattern += 2;
            path += n;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

enum MHD_Result http_api_handle(struct http_request *req)
{
    struct api_call c = {.req = req};
    bool path_known = false;
    api_fn fn = NULL;
    unsigned method = req->method_bit == M_HEAD ? M_GET : req->method_bit;
    for (size_t i = 0; i < ARRAY_LEN(api_routes); i++) {
        if (!match(api_routes[i].pattern, req->path, &c))
            continue;
        path_known = true;
        if (api_routes[i].method == method) {
            fn = api_routes[i].fn;
            break;
        }
    }
    if (!path_known)
        return http_respond_error(req, 404, "not_found", "no API route %.200s", req->path);
    if (!fn)
        return http_respond_error(req, 405, "method_not_allowed", "%s is not allowed on %.200s",
                                  req->method, req->path);
    enum MHD_Result result;
    c.project_id = http_require_secret(req, &result);
    if (c.project_id <= 0)
        return result;
    return fn(&c);
}
