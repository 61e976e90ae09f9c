/*
 * live_routes.c - the browser's side of interventions:
 *
 *   GET  /v1/live?writeKey=&sessionId=        WebSocket upgrade, then live/ owns the socket
 *   GET  /v1/interventions/SESSION/pending    the polling fallback (marks them delivered)
 *   POST /v1/interventions/ID/response        {"status": shown|accepted|declined|dismissed|escalated}
 *
 * The handshake (RFC 6455 section 4.2) is checked here; on success the
 * connection is answered 101 and libmicrohttpd hands us the socket, which
 * goes to live/ with the messages to send first: a hello and the session's
 * interventions still waiting (decided while no socket was open).
 */
#include "http/http_internal.h"

#include "common/log.h"
#include "common/timefmt.h"
#include "common/util.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SESSION_ID 256

static bool valid_session_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MAX_SESSION_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

static bool origin_allowed(struct http_request *req)
{
    const char *origin = http_header(req, "Origin");
    struct http_server *srv = req->srv;
    if (!origin || srv->cors_any)
        return true;
    for (size_t i = 0; i < srv->n_cors_origins; i++)
        if (!strcmp(srv->cors_origins[i], origin))
            return true;
    return false;
}

static bool header_has_token(const char *value, const char *token)
{
    if (!value)
        return false;
    size_t n = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && p[trimmed - 1] == ' ')
            trimmed--;
        if (trimmed == n && strncasecmp(p, token, n) == 0)
            return true;
        p += len;
    }
    return false;
}

static void websocket_accept(const char *key, char out[64])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char buf[128];
    snprintf(buf, sizeof buf, "%s%s", key, guid);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(buf, strlen(buf), md, &n, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

/* ------------------------------------------------------------------------ */
/* pending interventions                                                     */

struct pending_ctx {
    struct http_request *req;
    char **msgs;
    int n;
};

static int collect_pending(const struct store_intervention *iv, void *arg)
{
    struct pending_ctx *c = arg;
    if (c->n >= 16)
        return 1;
    c->msgs = xrealloc(c->msgs, (size_t)(c->n + 1) * sizeof *c->msgs);
    c->msgs[c->n++] = xstrdup(iv->payload_json);
    struct engine *e = c->req->srv->deps.engine;
    if (e && strcmp(iv->status, "delivered") != 0)
        engine_respond(e, iv->project_id, iv->id, "delivered", NULL, NULL);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* /v1/live                                                                  */

static void close_upgraded(void *urh)
{
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static void upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                     size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)cls;
    (void)conn;
    struct http_request *req = con_cls;
    struct http_server *srv = req->srv;
    req->upgraded = true;
    /* An open socket is not a request in flight: shutdown does not wait for it. */
    if (req->counted_active) {
        atomic_fetch_sub(&srv->active, 1);
        req->counted_active = false;
    }
    live_attach(srv->deps.live, sock, req->project_id, req->live_session, extra, extra_len,
                (const char *const *)req->live_first, req->n_live_first, close_upgraded, urh);
}

enum MHD_Result http_live_handle(struct http_request *req)
{
    struct http_server *srv = req->srv;
    if (!srv->deps.live || !srv->deps.engine)
        return http_respond_error(req, 503, "live_unavailable", "the live channel is off");
    enum MHD_Result result;
    int64_t project = http_require_write_key(req, &result);
    if (project <= 0)
        return result;
    const char *session = http_query(req, "sessionId");
    if (!valid_session_id(session))
        return http_respond_error(req, 400, "invalid_session_id",
                                  "sessionId is required (1-%d printable characters)",
                                  MAX_SESSION_ID);
    if (!origin_allowed(req))
        return http_respond_error(req, 403, "origin_not_allowed", "origin not in cors_origins");
    const char *upgrade = http_header(req, "Upgrade");
    const char *connection = http_header(req, "Connection");
    const char *key = http_header(req, "Sec-WebSocket-Key");
    const char *version = http_header(req, "Sec-WebSocket-Version");
    if (!header_has_token(upgrade, "websocket") || !header_has_token(connection, "upgrade"))
        return http_respond_error(req, 426, "upgrade_required",
                                  "/v1/live is a WebSocket: send Upgrade: websocket");
    if (!version || strcmp(version, "13") != 0) {
        struct buf out = BUF_INIT;
        buf_puts(&out, "{\"success\":false,\"error\":{\"code\":\"unsupported_version\","
                       "\"message\":\"Sec-WebSocket-Version 13 is required\"}}");
        return http_respond(req, 426, &out, 0);
    }
    if (!key || strlen(key) != 24)
        return http_respond_error(req, 400, "invalid_key", "Sec-WebSocket-Key is missing or bad");

    req->project_id = project;
    req->live_session = xstrdup(session);
    /* First messages: hello, then what waits for this session. */
    struct buf hello = BUF_INIT;
    buf_puts(&hello, "{\"type\":\"hello\",\"session_id\":");
    json_str(&hello, session);
    buf_puts(&hello, ",\"server_time\":");
    json_time(&hello, now_ms());
    buf_puts(&hello, "}");
    struct pending_ctx pc = {req, NULL, 0};
    pc.msgs = xcalloc(1, sizeof *pc.msgs);
    pc.msgs[pc.n++] = buf_steal(&hello);
    store_interventions_pending(srv->deps.store, project, session, now_ms(), collect_pending, &pc);
    req->live_first = pc.msgs;
    req->n_live_first = pc.n;

    char accept[64];
    websocket_accept(key, accept);
    struct MHD_Response *resp = MHD_create_response_for_upgrade(upgraded, NULL);
    MHD_add_response_header(resp, "Upgrade", "websocket");
    MHD_add_response_header(resp, "Connection", "Upgrade");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    req->status = 101;
    req->state = REQ_ANSWERED;
    enum MHD_Result r = MHD_queue_response(req->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    return r;
}

/* ------------------------------------------------------------------------ */
/* /v1/interventions/...                                                     */

static enum MHD_Result pending(struct http_request *req, int64_t project, const char *session)
{
    if (!valid_session_id(session))
        return http_respond_error(req, 400, "invalid_session_id", "bad session id in the path");
    struct pending_ctx pc = {req, NULL, 0};
    int rc = store_interventions_pending(req->srv->deps.store, project, session, now_ms(),
                                         collect_pending, &pc);
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"interventions\":[");
    for (int i = 0; i < pc.n; i++) {
        if (i)
            buf_putc(&out, ',');
        buf_puts(&out, pc.msgs[i]);
        free(pc.msgs[i]);
    }
    free(pc.msgs);
    buf_puts(&out, "]}");
    if (rc < 0) {
        buf_free(&out);
        return http_respond_error(req, 503, "store_unavailable", "cannot read interventions now");
    }
    return http_respond(req, 200, &out, 0);
}

static void response_stored(int rc, const char *prev, void *arg)
{
    struct http_request *req = arg;
    snprintf(req->async_text, sizeof req->async_text, "%s", prev ? prev : "");
    atomic_store(&req->async_rc, rc);
    http_request_resume(req);
}

static enum MHD_Result response_finish(struct http_request *req)
{
    int rc = atomic_load(&req->async_rc);
    switch (rc) {
    case -ENOENT:
        return http_respond_error(req, 404, "unknown_intervention",
                                  "no intervention with this id in this project");
    case -EINVAL:
        return http_respond_error(req, 409, "invalid_transition",
                                  "an intervention that is %s cannot become %s", req->async_text,
                                  req->live_session ? req->live_session : "that");
    case -EAGAIN:
        return http_respond_error(req, 503, "overloaded", "retry later");
    default:
        if (rc < 0)
            return http_respond_error(req, 503, "store_unavailable", "retry later");
    }
    struct buf out = BUF_INIT;
    buf_printf(&out, "{\"success\":true,\"previous\":");
    json_str(&out, req->async_text);
    buf_printf(&out, ",\"status\":");
    json_str(&out, req->live_session);
    buf_printf(&out, ",\"changed\":%s}", rc == 0 ? "true" : "false");
    return http_respond(req, 200, &out, 0);
}

static enum MHD_Result response(struct http_request *req, int64_t project, const char *id)
{
    if (!req->srv->deps.engine)
        return http_respond_error(req, 503, "live_unavailable", "the engine is off");
    cJSON *body = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(body, "status");
    static const char *const allowed[] = {"shown", "accepted", "declined", "dismissed",
                                          "escalated"};
    const char *st = cJSON_IsString(status) ? status->valuestring : NULL;
    bool ok = false;
    for (size_t i = 0; st && i < ARRAY_LEN(allowed); i++)
        ok |= !strcmp(st, allowed[i]);
    if (!ok) {
        cJSON_Delete(body);
        return http_respond_error(req, 400, "invalid_status",
                                  "body must be {\"status\": \"shown\" | \"accepted\" | "
                                  "\"declined\" | \"dismissed\" | \"escalated\"}");
    }
    /* A browser says whose it is (sessionId): then only that session's own
     * intervention may move. */
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(body, "sessionId");
    char session[MAX_SESSION_ID + 1] = "";
    if (cJSON_IsString(sid) && valid_session_id(sid->valuestring))
        snprintf(session, sizeof session, "%s", sid->valuestring);
    req->live_session = xstrdup(st); /* kept for the answer */
    cJSON_Delete(body);
    req->finish = response_finish;
    http_request_suspend(req);
    int rc = engine_respond_session(req->srv->deps.engine, project, id, req->live_session,
                                    session[0] ? session : NULL, 0, response_stored, req);
    if (rc < 0) {
        atomic_store(&req->async_rc, rc);
        http_request_resume(req);
    }
    return MHD_YES;
}

enum MHD_Result http_interventions_handle(struct http_request *req)
{
    enum MHD_Result result;
    int64_t project = http_require_write_key(req, &result);
    if (project <= 0)
        return result;
    const char *rest = req->path + strlen("/v1/interventions/");
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || slash - rest > MAX_SESSION_ID)
        return http_respond_error(req, 404, "not_found", "no route for %.200s", req->path);
    char first[MAX_SESSION_ID + 1];
    snprintf(first, sizeof first, "%.*s", (int)(slash - rest), rest);
    if (!strcmp(slash, "/pending") && req->method_bit == M_GET)
        return pending(req, project, first);
    if (!strcmp(slash, "/response") && req->method_bit == M_POST)
        return response(req, project, first);
    if (!strcmp(slash, "/pending") || !strcmp(slash, "/response"))
        return http_respond_error(req, 405, "method_not_allowed",
                                  "use GET .../pending and POST .../response");
    return http_respond_error(req, 404, "not_found", "no route for %.200s", req->path);
}
