/*
 * ops_routes.c - /healthz (the process answers), /readyz (the store takes
 * writes and the queue has room) and /metrics (Prometheus text format).
 */
#include "http/http_internal.h"

#include "common/metrics.h"

enum MHD_Result http_healthz(struct http_request *req)
{
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"status\":\"ok\"}");
    return http_respond(req, 200, &out, 0);
}

enum MHD_Result http_readyz(struct http_request *req)
{
    struct store *st = req->srv->deps.store;
    bool writable = store_writable(st);
    bool room = store_ingest_has_room(st, 1);
    struct buf out = BUF_INIT;
    buf_printf(&out,
               "{\"status\":\"%s\",\"store_writable\":%s,\"queue_room\":%s,"
               "\"queue_messages\":%zu}",
               writable && room ? "ready" : "not_ready", writable ? "true" : "false",
               room ? "true" : "false", store_ingest_queue_depth(st));
    return http_respond(req, writable && room ? 200 : 503, &out, writable && room ? 0 : 1);
}

enum MHD_Result http_metrics(struct http_request *req)
{
    struct buf out = BUF_INIT;
    metrics_render(&out);
    return http_respond_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", &out);
}
