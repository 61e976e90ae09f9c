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
    char captures[4][128];
    int n_captures;
};

typedef enum MHD_Result (*api_fn)(struct api_call *c);

static enum MHD_Result get_project(struct api_call *c);
static enum MHD_Result get_settings(struct api_call *c);
static enum MHD_Result put_settings(struct api_call *c);
static enum MHD_Result get_model(struct api_call *c);
static enum MHD_Result reload_model(struct api_call *c);

static const struct {
    unsigned method;
    const char *pattern;
    api_fn fn;
} api_routes[] = {
    {M_GET, "/api/v1/project", get_project},
    {M_GET, "/api/v1/settings", get_settings},
    {M_PUT, "/api/v1/settings", put_settings},
    {M_GET, "/api/v1/model", get_model},
    {M_POST, "/api/v1/model/reload", reload_model},
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

/* ------------------------------------------------------------------------ */

static bool match(const char *pattern, const char *path, struct api_call *c)
{
    c->n_captures = 0;
    while (*pattern && *path) {
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
