/*
 * server.c - libmicrohttpd glue: start and stop, the request life cycle (see
 * http_internal.h), answers with their common headers (request id, CORS,
 * Retry-After), the access log and per-route metrics.
 *
 * Threads: MHD runs `http_threads` workers, each with its own epoll loop
 * and a share of the connections. A request that waits for the database is
 * suspended, so a worker never blocks on a commit; the writer thread resumes
 * it (MHD_resume_connection is safe from any thread).
 *
 * Per-connection memory: MHD keeps each connection's request line, headers
 * and read buffer in a pool of HTTP_CONNECTION_POOL_BYTES, and zeroes the
 * whole pool between two requests of a keep-alive connection. Bodies do not
 * live there (access_handler copies them into the request's own buffer as
 * they arrive), so the pool only has to hold the headers: a large pool costs
 * a large memset per request and buys nothing.
 */
#include "http/http_internal.h"

#include "common/log.h"
#include "common/metrics.h"
#include "common/random.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* MHD's own default. A request head of up to about 15 KB fits (measured:
 * a 14 KB Cookie header passes, 16 KB is answered 431; nginx's default
 * limit is 8 KB per header line); with the 128 KB pool used before, heads
 * up to ~64 KB passed, at the price of a 128 KB memset per request. */
#define HTTP_CONNECTION_POOL_BYTES (32 * 1024)

/* ------------------------------------------------------------------------ */
/* metrics                                                                   */

static const int tracked_status[HTTP_TRACKED_STATUS] = {200, 204, 206, 301, 304, 400, 401, 403,
                                                        404, 405, 413, 415, 416, 429, 500, 503};

static struct metric *request_counter(struct route *r, int status)
{
    size_t slot = 0;
    for (size_t i = 0; i < HTTP_TRACKED_STATUS; i++)
        if (tracked_status[i] == status)
            slot = i + 1;
    struct metric *m = slot ? atomic_load_explicit(&r->requests[slot], memory_order_acquire) : NULL;
    if (m)
        return m;
    char labels[128];
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", r->name, status);
    m = metrics_counter("journey_http_requests_total", "HTTP requests by route and status", labels);
    if (slot)
        atomic_store_explicit(&r->requests[slot], m, memory_order_release);
    return m;
}

static struct metric *latency_histogram(struct route *r)
{
    static const double secs[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                  0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
    struct metric *m = atomic_load_explicit(&r->latency, memory_order_acquire);
    if (m)
        return m;
    char labels[96];
    snprintf(labels, sizeof labels, "route=\"%s\"", r->name);
    m = metrics_histogram("journey_http_request_seconds",
                          "Time from the request's first byte to its answer", labels, secs,
                          (int)ARRAY_LEN(secs));
    atomic_store_explicit(&r->latency, m, memory_order_release);
    return m;
}

/* ------------------------------------------------------------------------ */
/* request helpers                                                           */

const char *http_header(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* A request id when the client sent none: 16 hex digits from a per-thread
 * splitmix64 sequence seeded from getrandom() once, so ids stay unique
 * without a system call per request (they identify, they protect nothing). */
static void new_request_id(char out[17])
{
    static _Thread_local uint64_t state;
    static const char hex[] = "0123456789abcdef";
    if (state == 0)
        state = random_u64() | 1;
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[z & 15];
        z >>= 4;
    }
    out[16] = '\0';
}

static bool valid_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return n > 0 && n < 40;
}

/* Dotted quad of a; out has room for 16 bytes (what inet_ntop writes, faster). */
static void ipv4_text(const struct in_addr *a, char *out)
{
    const unsigned char *b = (const unsigned char *)&a->s_addr;
    char *o = out;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            *o++ = (char)('0' + v / 100);
        if (v >= 10)
            *o++ = (char)('0' + v / 10 % 10);
        *o++ = (char)('0' + v % 10);
        if (i < 3)
            *o++ = '.';
    }
    *o = '\0';
}

static void client_ip(struct http_request *req)
{
    req->client_ip[0] = '\0';
    if (req->srv->deps.cfg->trust_proxy) {
        const char *xff = http_header(req, "X-Forwarded-For");
        if (xff) {
            size_t n = strcspn(xff, ",");
            while (n > 0 && xff[n - 1] == ' ')
                n--;
            while (n > 0 && *xff == ' ') {
                xff++;
                n--;
            }
            if (n > 0 && n < sizeof req->client_ip) {
                memcpy(req->client_ip, xff, n);
                req->client_ip[n] = '\0';
                return;
            }
        }
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        ipv4_text(&((const struct sockaddr_in *)sa)->sin_addr, req->client_ip);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->client_ip,
                  sizeof req->client_ip);
}

static unsigned method_bit(const char *m)
{
    if (!strcmp(m, "PUT"))
        return M_PUT;
    if (!strcmp(m, "DELETE"))
        return M_DELETE;
    if (!strcmp(m, "GET"))
        return M_GET;
    if (!strcmp(m, "POST"))
        return M_POST;
    if (!strcmp(m, "OPTIONS"))
        return M_OPTIONS;
    if (!strcmp(m, "HEAD"))
        return M_HEAD;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* CORS                                                                      */

static const char *allowed_origin(struct http_request *req)
{
    const char *origin = http_header(req, "Origin");
    if (!origin)
        return NULL;
    struct http_server *srv = req->srv;
    if (srv->cors_any)
        return origin;
    for (size_t i = 0; i < srv->n_cors_origins; i++)
        if (!strcmp(srv->cors_origins[i], origin))
            return origin;
    return NULL;
}

static bool header_list_safe(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("-_, ", *s)))
            return false;
    return true;
}

static void add_cors_headers(struct http_request *req, struct MHD_Response *resp)
{
    const char *origin = allowed_origin(req);
    if (!origin)
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
    MHD_add_response_header(resp, "Vary", "Origin");
}

static enum MHD_Result answer_preflight(struct http_request *req)
{
    const char *origin = http_header(req, "Origin");
    if (origin && !allowed_origin(req))
        return http_respond_error(req, 403, "origin_not_allowed",
                                  "origin %.100s is not in cors_origins", origin);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    add_cors_headers(req, resp);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    const char *want = http_header(req, "Access-Control-Request-Headers");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            want && header_list_safe(want)
                                ? want
                                : "Authorization, Content-Type, AnonymousId, SentAt, "
                                  "X-Write-Key, X-Request-Id");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    req->status = 204;
    enum MHD_Result r = MHD_queue_response(req->conn, 204, resp);
    MHD_destroy_response(resp);
    req->state = REQ_ANSWERED;
    return r;
}

/* ------------------------------------------------------------------------ */
/* answers                                                                   */

static enum MHD_Result queue(struct http_request *req, int status, const char *content_type,
                             struct buf *body, int retry_after_s)
{
    size_t len = body ? body->len : 0;
    char *data = body ? buf_steal(body) : NULL;
    struct MHD_Response *resp =
        data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after_s);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (status == 405)
        MHD_add_response_header(resp, "Allow",
                                req->route->methods & M_POST ? "POST, OPTIONS" : "GET, HEAD");
    add_cors_headers(req, resp);
    req->status = status;
    req->state = REQ_ANSWERED;
    enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result http_respond(struct http_request *req, int status, struct buf *body,
                             int retry_after_s)
{
    return queue(req, status, "application/json", body, retry_after_s);
}

enum MHD_Result http_respond_text(struct http_request *req, int status, const char *content_type,
                                  struct buf *body)
{
    return queue(req, status, content_type, body, 0);
}

enum MHD_Result http_respond_error(struct http_request *req, int status, const char *code,
                                   const char *fmt, ...)
{
    struct buf msg = BUF_INIT, out = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    buf_puts(&out, "{\"success\":false,\"error\":{\"code\":");
    json_str(&out, code);
    buf_puts(&out, ",\"message\":");
    json_str(&out, msg.data ? msg.data : "");
    buf_puts(&out, "},\"request_id\":");
    json_str(&out, req->request_id);
    buf_puts(&out, "}");
    buf_free(&msg);
    int retry = (status == 429 || status == 503) ? (int)req->srv->deps.cfg->retry_after_s : 0;
    return http_respond(req, status, &out, retry);
}

void http_request_suspend(struct http_request *req)
{
    req->state = REQ_SUSPENDED;
    atomic_fetch_add(&req->srv->suspended, 1);
    MHD_suspend_connection(req->conn);
}

void http_request_resume(struct http_request *req)
{
    struct http_server *srv = req->srv;
    req->state = REQ_READY;
    MHD_resume_connection(req->conn);
    /* Last: once this is 0 the server may be stopped, so nothing may touch
     * req or the daemon after it. */
    atomic_fetch_sub(&srv->suspended, 1);
}

/* ------------------------------------------------------------------------ */
/* MHD callbacks                                                             */

static struct http_request *request_new(struct http_server *srv, struct MHD_Connection *conn,
                                        const char *url, const char *method)
{
    struct http_request *req = xcalloc(1, sizeof *req);
    req->srv = srv;
    req->conn = conn;
    req->start_ns = mono_ns();
    req->received_at = now_ms();
    req->method = method;
    req->path = url;
    req->method_bit = method_bit(method);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && valid_request_id(rid))
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    else
        new_request_id(req->request_id);
    client_ip(req);
    req->route = http_route_match(url);
    atomic_fetch_add(&srv->active, 1);
    req->counted_active = true;
    return req;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    (void)version;
    if (!req) {
        req = request_new(srv, conn, url, method);
        *con_cls = req;
        const struct route *r = req->route;
        if (r->kind == ROUTE_NOT_FOUND ||
            (r->kind == ROUTE_STATIC && !(req->method_bit & (M_GET | M_HEAD))))
            return http_respond_error(req, 404, "not_found", "no route for %.16s %.200s", method,
                                      url);
        if (req->method_bit == M_OPTIONS && (r->methods & M_OPTIONS))
            return answer_preflight(req);
        if (!(req->method_bit & r->methods))
            return http_respond_error(req, 405, "method_not_allowed",
                                      "%.16s is not allowed on %.200s", method, url);
        if (r->kind == ROUTE_INGEST) {
            enum MHD_Result result;
            if (http_ingest_precheck(req, &result))
                return result;
        }
        req->state = r->wants_body && (req->method_bit & (M_POST | M_PUT)) ? REQ_BODY : REQ_READY;
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        size_t cap = (size_t)srv->deps.cfg->max_request_bytes;
        if (!req->body.data) {
            /* One allocation for the whole body when its length is announced. */
            const char *cl = http_header(req, "Content-Length");
            uint64_t len;
            if (cl && parse_u64(cl, cap, &len) == 0 && len > n)
                buf_reserve(&req->body, (size_t)len);
        }
        req->body_seen += n;
        if (req->body_too_large || req->body_seen > cap) {
            req->body_too_large = true;
            buf_free(&req->body);
            /* Keep discarding, so that a client which writes its whole body
             * before reading reads the 413 (instead of a reset on a socket
             * closed under its unread bytes), but not forever: far past the
             * cap, hang up. */
            return req->body_seen > HTTP_DISCARD_FACTOR * (uint64_t)cap ? MHD_NO : MHD_YES;
        }
        buf_append(&req->body, upload_data, n);
        return MHD_YES;
    }
    (void)upload_data;

    switch (req->state) {
    case REQ_SUSPENDED:
        return MHD_YES; /* spurious: still waiting */
    case REQ_ANSWERED:
        return MHD_YES;
    case REQ_READY:
        if (req->finish)
            return req->finish(req);
        return req->route->handle(req);
    default:
        break;
    }
    if (req->body_too_large)
        return http_respond_error(req, 413, "body_too_large",
                                  "request body exceeds the limit of %lld bytes",
                                  (long long)srv->deps.cfg->max_request_bytes);
    req->state = REQ_READY;
    return req->route->handle(req);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    (void)conn;
    if (!req)
        return;
    *con_cls = NULL;
    int status = req->status ? req->status : 499; /* 499: the client went away */
    double secs = (double)(mono_ns() - req->start_ns) / 1e9;
    metric_add(request_counter(req->route, status), 1);
    metric_observe(latency_histogram(req->route), secs);
    if (log_enabled(LOG_LEVEL_DEBUG) || status >= 500) {
        char extra[160];
        snprintf(extra, sizeof extra, "\"status\":%d,\"ms\":%.3f,\"route\":\"%s\",\"term\":%d",
                 status, secs * 1000, req->route->name, (int)toe);
        log_write(status >= 500 ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, "http", req->request_id, extra,
                  "%s %s", req->method, req->path);
    }
    if (req->counted_active)
        atomic_fetch_sub(&srv->active, 1);
    ingest_batch_free(req->batch);
    buf_free(&req->body);
    free(req->live_session);
    for (int i = 0; i < req->n_live_first; i++)
        free(req->live_first[i]);
    free(req->live_first);
    free(req);
}

/* ------------------------------------------------------------------------ */
/* start / stop                                                              */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return -1;
    size_t hn = (size_t)(colon - listen);
    if (hn >= sizeof host)
        return -1;
    memcpy(host, listen, hn);
    host[hn] = '\0';
    uint64_t port;
    if (parse_u64(colon + 1, 65535, &port))
        return -1;
    memset(ss, 0, sizeof *ss);
    char *h = host;
    if (h[0] == '[') {
        h++;
        char *close = strchr(h, ']');
        if (close)
            *close = '\0';
    }
    if (h[0] == '\0')
        h = "0.0.0.0";
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof *s4;
        return 0;
    }
    if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return 0;
    }
    return -1;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!log_enabled(LOG_LEVEL_WARN))
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_write(LOG_LEVEL_WARN, "mhd", NULL, NULL, "%s", msg);
}

static void parse_cors(struct http_server *srv, const char *origins)
{
    if (!origins || !strcmp(origins, "*") || !*origins) {
        srv->cors_any = true;
        return;
    }
    char *copy = xstrdup(origins);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n > 0 && tok[n - 1] == ' ')
            tok[--n] = '\0';
        if (!n)
            continue;
        if (!strcmp(tok, "*")) {
            srv->cors_any = true;
            continue;
        }
        srv->cors_origins = xrealloc(srv->cors_origins, (srv->n_cors_origins + 1) * sizeof(char *));
        srv->cors_origins[srv->n_cors_origins++] = xstrdup(tok);
    }
    free(copy);
}

int http_server_start(struct http_server **out, const struct http_deps *deps, char *err,
                      size_t errlen)
{
    *out = NULL;
    const struct config *cfg = deps->cfg;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_listen(cfg->listen, &ss, &sslen)) {
        snprintf(err, errlen, "listen: '%s' is not HOST:PORT", cfg->listen);
        return -EINVAL;
    }
    struct http_server *srv = xcalloc(1, sizeof *srv);
    srv->deps = *deps;
    srv->rl_ip = ratelimit_new((double)cfg->rate_limit_ip, (double)cfg->rate_limit_ip_burst);
    srv->rl_key = ratelimit_new((double)cfg->rate_limit_key, (double)cfg->rate_limit_key_burst);
    srv->keys = http_keys_new(deps->store);
    parse_cors(srv, cfg->cors_origins);
    if (deps->demo_project_id > 0) {
        struct store_project p;
        if (store_project_by_id(deps->store, deps->demo_project_id, &p) == 1) {
            snprintf(srv->demo_write_key, sizeof srv->demo_write_key, "%s", p.write_key);
            store_project_clear(&p);
        }
    }
    unsigned threads = cfg->http_threads > 0 ? (unsigned)cfg->http_threads : (unsigned)cpu_count();
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE | MHD_USE_TURBO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(cfg->connection_timeout_ms / 1000), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_CONNECTION_POOL_BYTES, MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen,
                 errno ? strerror(errno) : "libmicrohttpd refused the settings");
        http_server_stop(srv);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    char host[64];
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
        snprintf(srv->address, sizeof srv->address, "[%s]:%u", host, srv->port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        snprintf(srv->address, sizeof srv->address, "%s:%u", host, srv->port);
    }
    *out = srv;
    return 0;
}

uint16_t http_server_port(const struct http_server *srv)
{
    return srv->port;
}

const char *http_server_address(const struct http_server *srv)
{
    return srv->address;
}

void http_server_quiesce(struct http_server *srv)
{
    if (srv && srv->daemon) {
        MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
}

long http_server_active(const struct http_server *srv)
{
    return atomic_load(&srv->active);
}

long http_server_suspended(const struct http_server *srv)
{
    return atomic_load(&srv->suspended);
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    http_server_end_streams(srv); /* no stream may stay suspended past this */
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    http_api_free(srv);
    ratelimit_free(srv->rl_ip);
    ratelimit_free(srv->rl_key);
    http_keys_free(srv->keys);
    for (size_t i = 0; i < srv->n_cors_origins; i++)
        free(srv->cors_origins[i]);
    free(srv->cors_origins);
    free(srv);
    http_static_clear_cache();
}
