/*
 * ingest_routes.c - the tracking API's handler: from an HTTP request to a
 * batch in the writer's queue, and the answer once it is durable.
 *
 * Status codes follow what SDKs do with them (DESIGN.md): a 400 makes every
 * SDK drop the whole batch and a 5xx makes it resend the whole batch, so
 *   200  the request was good; each message is stored, a duplicate, or (if
 *        bad on its own) quarantined in the dead letters with its reason
 *   400  the body as a whole is unreadable: kept as one dead letter
 *   401  no write key, or an unknown one (nothing stored: no project)
 *   403  a browser Origin outside cors_origins
 *   413  too large / too many messages (not stored: SDKs split and resend)
 *   415  an unknown Content-Encoding (kept as a dead letter)
 *   429  rate limited, 503 write queue full or store failing: Retry-After,
 *        nothing stored, the client resends
 * The 200 is sent only after the batch's transaction committed.
 */
#include "http/http_internal.h"

#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum MHD_Result answer_ingest_error(struct http_request *req, const struct ingest_error *err)
{
    struct buf out = BUF_INIT;
    ingest_error_response(err, req->request_id, &out);
    int retry =
        (err->status == 429 || err->status == 503) ? (int)req->srv->deps.cfg->retry_after_s : 0;
    return http_respond(req, err->status, &out, retry);
}

static enum MHD_Result too_busy(struct http_request *req)
{
    return http_respond_error(req, 503, "overloaded", "the write queue is full; retry after %lld s",
                              (long long)req->srv->deps.cfg->retry_after_s);
}

bool http_ingest_precheck(struct http_request *req, enum MHD_Result *result)
{
    struct http_server *srv = req->srv;
    const struct config *cfg = srv->deps.cfg;

    const char *cl = http_header(req, "Content-Length");
    uint64_t len;
    if (cl && parse_u64(cl, UINT64_MAX, &len) == 0 && len > (uint64_t)cfg->max_request_bytes) {
        /* Answered before the body when the client waits for that answer
         * (Expect: 100-continue) or the body is too large to read through;
         * otherwise the body is read and discarded first and 413 follows,
         * because a client that is still writing when the server closes gets
         * a connection reset instead of the answer. */
        const char *expect = http_header(req, "Expect");
        if (!(expect && !strcasecmp(expect, "100-continue")) &&
            len <= HTTP_DISCARD_FACTOR * (uint64_t)cfg->max_request_bytes) {
            req->body_too_large = true;
            return false;
        }
        *result = http_respond_error(req, 413, "body_too_large",
                                     "request body is %llu bytes; the limit is %lld",
                                     (unsigned long long)len, (long long)cfg->max_request_bytes);
        return true;
    }
    int64_t wait_ms = 0;
    if (req->client_ip[0] && !ratelimit_take(srv->rl_ip, req->client_ip, strlen(req->client_ip), 1,
                                             mono_ns(), &wait_ms)) {
        struct buf out = BUF_INIT;
        struct ingest_error err;
        ingest_error_set(&err, 429, "rate_limited", "", -1,
                         "too many requests from %s; retry in %lld ms", req->client_ip,
                         (long long)wait_ms);
        ingest_error_response(&err, req->request_id, &out);
        *result = http_respond(req, 429, &out, (int)((wait_ms + 999) / 1000));
        return true;
    }
    const char *origin = http_header(req, "Origin");
    if (origin && !srv->cors_any) {
        bool ok = false;
        for (size_t i = 0; i < srv->n_cors_origins && !ok; i++)
            ok = !strcmp(srv->cors_origins[i], origin);
        if (!ok) {
            *result = http_respond_error(req, 403, "origin_not_allowed",
                                         "origin %.100s is not in cors_origins", origin);
            return true;
        }
    }
    char key[256];
    if (http_request_write_key(req, key, sizeof key)) {
        int64_t id = http_keys_lookup(srv->keys, key);
        if (id < 0) {
            *result = http_respond_error(req, 503, "store_unavailable",
                                         "cannot check the write key right now");
            return true;
        }
        if (id == 0) {
            *result = http_respond_error(req, 401, "unknown_write_key",
                                         "the write key is not known to this server");
            return true;
        }
        req->project_id = id;
    }
    if (!store_ingest_has_room(srv->deps.store, 1)) {
        *result = too_busy(req);
        return true;
    }
    return false;
}

static void batch_committed(struct ingest_batch *b, int rc, void *arg)
{
    struct http_request *req = arg;
    (void)b;
    atomic_store(&req->async_rc, rc);
    http_request_resume(req);
}

/* Suspends the request and queues its batch; the writer resumes it once
 * the batch is committed. The suspension comes first: a commit can finish
 * before ingest_batch_submit() even returns, and resuming a connection that
 * is not suspended yet would leave it suspended for ever. */
static enum MHD_Result submit(struct http_request *req)
{
    req->finish = http_ingest_finish;
    http_request_suspend(req);
    int rc = ingest_batch_submit(req->batch, batch_committed, req);
    if (rc < 0) {
        /* Nothing was queued: answer from the resume call, like a commit. */
        atomic_store(&req->async_rc, rc);
        http_request_resume(req);
    }
    return MHD_YES;
}

/* Keeps a body refused as a whole as one dead letter, then answers err. */
static enum MHD_Result reject_request(struct http_request *req, const struct ingest_error *err)
{
    if (req->project_id <= 0 || !strcmp(err->code, "empty_body"))
        return answer_ingest_error(req, err);
    ingest_batch_reject_request(req->batch, req->project_id, err);
    req->rejecting = true;
    req->reject_err = *err;
    return submit(req);
}

enum MHD_Result http_ingest_handle(struct http_request *req)
{
    struct http_server *srv = req->srv;
    const struct route *r = req->route;
    struct ingest_request ir = {
        .format = r->format,
        .type = r->type,
        .batch = r->batch,
        .route = req->path,
        .request_id = req->request_id,
        .content_encoding = http_header(req, "Content-Encoding"),
        .header_sent_at = http_header(req, "SentAt"),
        .user_agent = http_header(req, "User-Agent"),
        .client_ip = req->client_ip[0] ? req->client_ip : NULL,
        .received_at = req->received_at,
    };
    req->batch = ingest_batch_new(srv->deps.ingest, &ir);
    struct ingest_error err = {0};

    if (ingest_batch_decode_take(req->batch, &req->body, &err)) {
        if (err.status == 400 || err.status == 415)
            return reject_request(req, &err);
        return answer_ingest_error(req, &err);
    }
    buf_free(&req->body); /* taken, or the decoded copy is all we need now */

    if (ingest_batch_parse(req->batch, &err)) {
        if (err.status == 400)
            return reject_request(req, &err);
        return answer_ingest_error(req, &err);
    }
    if (req->project_id <= 0) {
        const char *key = ingest_batch_write_key(req->batch);
        if (!key) {
            return http_respond_error(req, 401, "missing_write_key",
                                      "no write key: send it as the Basic auth user, a Bearer "
                                      "token, X-Write-Key, ?writeKey= or the body's writeKey");
        }
        int64_t id = http_keys_lookup(srv->keys, key);
        if (id < 0)
            return http_respond_error(req, 503, "store_unavailable",
                                      "cannot check the write key right now");
        if (id == 0)
            return http_respond_error(req, 401, "unknown_write_key",
                                      "the write key is not known to this server");
        req->project_id = id;
    }
    size_t n = ingest_batch_message_count(req->batch);
    int64_t wait_ms = 0;
    char idkey[32];
    snprintf(idkey, sizeof idkey, "p%lld", (long long)req->project_id);
    if (n > 0 &&
        !ratelimit_take(srv->rl_key, idkey, strlen(idkey), (double)n, mono_ns(), &wait_ms)) {
        struct buf out = BUF_INIT;
        ingest_error_set(&err, 429, "rate_limited", "", -1,
                         "this project's message rate is over its limit; retry in %lld ms",
                         (long long)wait_ms);
        ingest_error_response(&err, req->request_id, &out);
        return http_respond(req, 429, &out, (int)((wait_ms + 999) / 1000));
    }
    ingest_batch_normalize(req->batch, req->project_id);
    if (n == 0) {
        /* An empty batch: nothing to wait for. */
        struct buf out = BUF_INIT;
        ingest_batch_response(req->batch, &out);
        return http_respond(req, 200, &out, 0);
    }
    return submit(req);
}

enum MHD_Result http_ingest_finish(struct http_request *req)
{
    int rc = atomic_load(&req->async_rc);
    if (rc == -EAGAIN)
        return too_busy(req);
    if (rc == -ESHUTDOWN)
        return http_respond_error(req, 503, "shutting_down", "the server is shutting down");
    if (rc < 0)
        return http_respond_error(req, 503, "store_unavailable",
                                  "the events could not be stored; nothing was kept, retry");
    if (req->rejecting)
        return answer_ingest_error(req, &req->reject_err);
    struct buf out = BUF_INIT;
    ingest_batch_response(req->batch, &out);
    return http_respond(req, 200, &out, 0);
}
