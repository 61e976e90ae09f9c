/*
 * http_internal.h - the request object and helpers shared by the files of
 * src/http/.
 *
 * A request's life in libmicrohttpd's callbacks:
 *
 *   first call      http_request created: id, route, client IP; checks that
 *                   need no body (method, CORS preflight, Content-Length,
 *                   rate limit, header key, queue room) may answer at once
 *   upload calls    body appended (capped)
 *   final call      the route's handler runs: it answers, or suspends the
 *                   connection after queuing work (ingest: a batch)
 *   resume          the worker that finished calls http_request_resume();
 *                   MHD calls the handler again and the stored answer goes out
 *   completed       access log, metrics, memory freed
 */
#ifndef JOURNEY_HTTP_INTERNAL_H
#define JOURNEY_HTTP_INTERNAL_H

#include "http/http.h"

#include "common/buf.h"
#include "http/ratelimit.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>

struct http_request;

enum route_kind {
    ROUTE_NOT_FOUND,
    ROUTE_INGEST,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_LIVE,
    ROUTE_INTERVENTIONS,
    ROUTE_STATIC,
    ROUTE_API,
    ROUTE_KIND_COUNT
};

enum method_bits { M_GET = 1, M_POST = 2, M_OPTIONS = 4, M_HEAD = 8, M_PUT = 16, M_DELETE = 32 };

#define HTTP_TRACKED_STATUS 16

/* A body over the size limit is read and discarded up to this many times the
 * limit before the 413, so the client reads the answer; beyond, the
 * connection is closed. */
#define HTTP_DISCARD_FACTOR 4

struct route {
    enum route_kind kind;
    const char *name; /* metrics label */
    unsigned methods;
    bool wants_body;
    enum MHD_Result (*handle)(struct http_request *req);
    /* ingest routes */
    enum ingest_format format;
    enum ingest_type type;
    bool batch;
    /* metrics, looked up once per route and status (server.c) */
    _Atomic(struct metric *) requests[HTTP_TRACKED_STATUS + 1];
    _Atomic(struct metric *) latency;
};

/* The route for a path: a static entry, or the not-found route. */
struct route *http_route_match(const char *path);

enum req_state { REQ_HEADERS, REQ_BODY, REQ_SUSPENDED, REQ_READY, REQ_ANSWERED };

struct http_request {
    struct http_server *srv;
    struct MHD_Connection *conn;
    struct route *route;
    char request_id[40];
    char client_ip[48];
    const char *method;
    const char *path;
    unsigned method_bit;
    enum req_state state;
    int64_t received_at;
    uint64_t start_ns;
    struct buf body;
    bool body_too_large;
    uint64_t body_seen; /* body bytes received, kept or discarded */
    int status;         /* the answer's status, for logs and metrics */
    bool counted_active;

    /* work done elsewhere while the request is suspended: the worker sets
     * async_rc (and async_text) and resumes; finish() then answers */
    enum MHD_Result (*finish)(struct http_request *req);
    atomic_int async_rc;
    char async_text[64];

    /* ingest */
    struct ingest_batch *batch;
    int64_t project_id;
    bool rejecting; /* the batch is a dead letter of the whole request */
    struct ingest_error reject_err;

    /* api: a report running on a report worker (api_jobs.c) */
    struct api_job *api_job;

    /* live */
    char *live_session;
    char **live_first; /* messages to send once upgraded */
    int n_live_first;
    bool upgraded;
};

struct http_server {
    struct http_deps deps;
    struct MHD_Daemon *daemon;
    uint16_t port;
    char address[80];
    atomic_long active;
    atomic_long suspended; /* requests waiting on a worker (a commit) */
    struct ratelimit *rl_ip;
    struct ratelimit *rl_key;
    struct http_keys *keys;
    bool cors_any;
    char **cors_origins;
    size_t n_cors_origins;
    char demo_write_key[64];       /* demo mode: answered at /demo/config.json */
    struct api_state *_Atomic api; /* report workers and event streams (api_jobs.c) */
};

/* ---- answering (server.c) ---------------------------------------------- */

/* Queues a JSON answer; takes the body's memory. */
enum MHD_Result http_respond(struct http_request *req, int status, struct buf *body,
                             int retry_after_s);
/* {"success":false,"error":{"code":...,"message":...}} */
enum MHD_Result http_respond_error(struct http_request *req, int status, const char *code,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
enum MHD_Result http_respond_text(struct http_request *req, int status, const char *content_type,
                                  struct buf *body);
/* Suspends the connection: the handler returns MHD_YES and a worker later
 * stores an answer (ready_*) and calls http_request_resume(). */
void http_request_suspend(struct http_request *req);
void http_request_resume(struct http_request *req);

const char *http_header(struct http_request *req, const char *name);
const char *http_query(struct http_request *req, const char *name);

/* ---- auth (auth.c) ----------------------------------------------------- */

struct http_keys;
struct http_keys *http_keys_new(struct store *store);
void http_keys_free(struct http_keys *k);
/* Project id of a write key: > 0, 0 unknown, < 0 error. Cached. */
int64_t http_keys_lookup(struct http_keys *k, const char *write_key);
/* The write key sent in headers or the query string (Basic, Bearer,
 * X-Write-Key, ?writeKey=), copied into out; false if none. */
bool http_request_write_key(struct http_request *req, char *out, size_t outlen);

/* ---- routes ------------------------------------------------------------ */

enum MHD_Result http_ingest_handle(struct http_request *req);
/* Answers a resumed ingest request from its committed batch. */
enum MHD_Result http_ingest_finish(struct http_request *req);
/* Checks an ingest route can make before reading the body; answers and
 * returns true when the request ends there. */
bool http_ingest_precheck(struct http_request *req, enum MHD_Result *result);
enum MHD_Result http_live_handle(struct http_request *req);
enum MHD_Result http_interventions_handle(struct http_request *req);
/* The project of the write key in headers or query; answers 401/503 and
 * returns <= 0 when there is none. */
int64_t http_require_write_key(struct http_request *req, enum MHD_Result *result);
enum MHD_Result http_static_handle(struct http_request *req);
enum MHD_Result http_api_handle(struct http_request *req);
/* api_jobs.c: a report run on a report worker (fn, or idfn of one thing
 * named id: a session, a video); the live KPIs at once; the KPI event
 * stream; the sessions list as a streamed CSV export. */
enum MHD_Result http_api_run_report(struct http_request *req, int64_t project_id, report_fn fn,
                                    report_id_fn idfn, const char *id, const char *name);
/* Runs task(ctx) on a report worker: its JSON (out) or its error answers. */
enum MHD_Result http_api_run_task(struct http_request *req,
                                  int (*task)(void *ctx, struct buf *out, struct report_error *err),
                                  void *ctx, void (*free_ctx)(void *ctx), const char *name);
enum MHD_Result http_api_kpis_live(struct http_request *req, int64_t project_id);
enum MHD_Result http_api_kpis_stream(struct http_request *req, int64_t project_id);
enum MHD_Result http_api_sessions_export(struct http_request *req, int64_t project_id);
/* Ends the streams, stops the report workers and frees their state. */
void http_api_free(struct http_server *srv);
/* The project of the secret key sent as "Authorization: Bearer sk_..." (or
 * the dashboard's session cookie); answers 401 and returns <= 0 if none. */
int64_t http_require_secret(struct http_request *req, enum MHD_Result *result);
void http_static_clear_cache(void);
enum MHD_Result http_healthz(struct http_request *req);
enum MHD_Result http_readyz(struct http_request *req);
enum MHD_Result http_metrics(struct http_request *req);

#endif
