/*
 * http.h - the HTTP face of Journey: libmicrohttpd with an internal thread
 * pool on epoll; routing, auth, CORS, rate limits; requests that wait on a
 * commit are suspended (the thread moves on) and resumed by the writer.
 *
 * http/ knows requests, not SQL: it calls ingest/ to turn bodies into
 * batches and store/ only for small lookups (project keys).
 */
#ifndef JOURNEY_HTTP_HTTP_H
#define JOURNEY_HTTP_HTTP_H

#include <stdint.h>

#include "analytics/analytics.h"
#include "config/config.h"
#include "engine/engine.h"
#include "ingest/ingest.h"
#include "live/live.h"
#include "store/store.h"

/* What the server serves from. All borrowed; they must outlive the server. */
struct http_deps {
    const struct config *cfg;
    struct store *store;
    struct ingest *ingest;
    struct engine *engine; /* may be NULL (no live routes then) */
    struct live *live;     /* may be NULL */
    struct analytics *analytics; /* may be NULL (the reports answer 503) */
    const char *web_root; /* directory of built web assets, or NULL */
    int64_t demo_project_id; /* > 0 in demo mode */
    /* Reloads DIR/models/current.json into the engine: the new version, or
     * < 0 with the reason in msg (the model in use stays). */
    int (*reload_model)(void *ctx, char *msg, size_t msglen);
    void *reload_ctx;
};

struct http_server;

/* Binds and starts serving. On failure returns a negative code with a message
 * in err. */
int http_server_start(struct http_server **out, const struct http_deps *deps, char *err,
                      size_t errlen);
/* The bound port (useful with port 0) and the listen address as "HOST:PORT". */
uint16_t http_server_port(const struct http_server *srv);
const char *http_server_address(const struct http_server *srv);
/* Stops accepting new connections; requests in flight go on. */
void http_server_quiesce(struct http_server *srv);
/* Requests currently being handled or waiting for a commit. */
long http_server_active(const struct http_server *srv);
/* Of those, the ones waiting for a commit (suspended). */
long http_server_suspended(const struct http_server *srv);
/* Stops the server and frees it. Call only when no request is suspended
 * (http_server_suspended() == 0): their completions would touch it. */
void http_server_stop(struct http_server *srv);
/* Ends the API's long-lived answers (event streams) and waits for reports
 * in progress. Call after quiescing, before waiting for suspended requests. */
void http_server_end_streams(struct http_server *srv);

#endif
