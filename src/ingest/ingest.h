/*
 * ingest.h - from a request body to stored events: decode, parse, validate,
 * normalise, enrich, deduplicate, and hand to the store's writer.
 *
 * The unit of work is a batch: one HTTP request's messages. Its life:
 *
 *   ingest_batch_new()          request facts (route, times, client IP, UA)
 *   ingest_batch_decode()       gzip by header or magic bytes, capped      -> 400/413/415
 *     or ingest_batch_decode_take()  the same, taking over a plain body
 *   ingest_batch_parse()        JSON structure, message spans, count       -> 400/413
 *   ingest_batch_write_key()    the key found in the body, if any (auth is the caller's)
 *   ingest_batch_normalize()    each message -> a row or a reject (dead letter)
 *     or ingest_batch_reject_request()  keep a whole bad body as one dead letter
 *   ingest_batch_submit()       queued for the writer; done() fires after the
 *                               commit, on the writer thread     -> -EAGAIN: 503
 *   ingest_batch_response()     the JSON answer
 *   ingest_batch_free()
 *
 * Messages are stored byte for byte as the client sent them (numbers keep
 * every digit), except that context.ip (PostHog: properties.$ip) is
 * anonymised in place unless ip_mode is full. Everything Journey derives
 * (the four times, session, page path, device, browser, OS, stored IP) goes
 * into columns beside the payload.
 *
 * Time rules (DESIGN.md): a message carrying `timestamp` keeps it; else
 * timestamp = receivedAt - (sentAt - originalTimestamp); else receivedAt.
 * sentAt comes from the message, the batch, or the SentAt header. A result
 * later than receivedAt is clamped to receivedAt.
 *
 * Threads: everything up to submit runs on the caller's (HTTP) thread and
 * touches only the batch. The dedup window and the sessionizer are touched
 * only inside the writer's transaction (apply/undo), so no locks guard them.
 */
#ifndef JOURNEY_INGEST_INGEST_H
#define JOURNEY_INGEST_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "store/store.h"

enum ingest_type {
    INGEST_TRACK,
    INGEST_PAGE,
    INGEST_SCREEN,
    INGEST_IDENTIFY,
    INGEST_GROUP,
    INGEST_ALIAS,
    INGEST_TYPE_COUNT,
    INGEST_TYPE_FROM_BODY = -1 /* batch routes: each message names its type */
};

enum ingest_format {
    INGEST_FORMAT_SEGMENT, /* Segment, RudderStack, Jitsu, journey.js */
    INGEST_FORMAT_POSTHOG,
};

const char *ingest_type_name(enum ingest_type t);
/* INGEST_TYPE_FROM_BODY if name is not a type. */
enum ingest_type ingest_type_parse(const char *name, size_t n);

struct ingest_config {
    int64_t max_message_bytes;
    int64_t max_request_bytes;
    int64_t max_batch_messages;
    int64_t dedup_window_ms;
    int64_t dedup_max_entries;
    int64_t session_timeout_ms;
    int ip_mode; /* enum ip_mode of config.h */
};

/* Facts about the request, copied into the batch. */
struct ingest_request {
    enum ingest_format format;
    enum ingest_type type; /* the route's type, or INGEST_TYPE_FROM_BODY */
    bool batch;            /* the body holds a list of messages */
    const char *route;     /* request path, kept with dead letters */
    const char *request_id;
    const char *content_encoding; /* header or NULL */
    const char *header_sent_at;   /* SentAt header or NULL */
    const char *user_agent;       /* header or NULL */
    const char *client_ip;        /* text or NULL */
    int64_t received_at;
};

/* A request-level error: becomes the HTTP status and JSON error body. */
struct ingest_error {
    int status;       /* 400, 401, 413, 415, 503 ... */
    const char *code; /* machine code: invalid_json, body_too_large, ... */
    char field[128];  /* JSON path of the problem, or "" */
    char message[256];
    long position; /* byte offset in the decoded body, or -1 */
};

struct ingest;
struct ingest_batch;

/* Called on the writer thread after each successful commit with the rows
 * that were stored (duplicates excluded). Borrowed for the call only. */
typedef void (*ingest_commit_hook)(void *ctx, const struct store_event *const *events,
                                   const int64_t *ids, size_t n);

/* The pipeline: dedup window, sessionizer, limits. store is borrowed. */
struct ingest *ingest_new(struct store *store, const struct ingest_config *cfg);
void ingest_free(struct ingest *ig);
/* Adds a consumer of committed rows (at most 4; called in the order added).
 * Set them up before serving. */
void ingest_add_commit_hook(struct ingest *ig, ingest_commit_hook hook, void *ctx);
/* Removes every hook (shutdown, once no batch is in flight). */
void ingest_clear_commit_hooks(struct ingest *ig);
/* Rebuilds the dedup window and the sessions from stored events. Call before
 * serving. Returns the number of events read, or a negative error. */
int64_t ingest_restore(struct ingest *ig, int64_t now_ms);
size_t ingest_dedup_size(const struct ingest *ig);

struct ingest_batch *ingest_batch_new(struct ingest *ig, const struct ingest_request *req);
void ingest_batch_free(struct ingest_batch *b);

/* raw (n bytes) is copied or decompressed into the batch. When decoding
 * fails with 400 or 415 the batch holds the raw bytes instead, so the request
 * can be kept with ingest_batch_reject_request(). */
int ingest_batch_decode(struct ingest_batch *b, const void *raw, size_t n,
                        struct ingest_error *err);
/* The same for a body in a buf: a body that needs no decoding is taken over
 * (its memory becomes the batch's and *body is left empty) instead of copied;
 * otherwise *body is left as it was. */
int ingest_batch_decode_take(struct ingest_batch *b, struct buf *body, struct ingest_error *err);
int ingest_batch_parse(struct ingest_batch *b, struct ingest_error *err);
/* The write key in the body (writeKey, api_key, token), or NULL. Looked up
 * on the first call for a single message (the body is read once more). */
const char *ingest_batch_write_key(struct ingest_batch *b);
size_t ingest_batch_message_count(const struct ingest_batch *b);
void ingest_batch_normalize(struct ingest_batch *b, int64_t project_id);
/* Replaces the batch's content with one dead letter holding the whole body,
 * for a request rejected as a whole (err says why). */
void ingest_batch_reject_request(struct ingest_batch *b, int64_t project_id,
                                 const struct ingest_error *err);

/* Queues the batch. done(b, rc, arg) runs on the writer thread after the
 * commit (rc 0) or failure (rc < 0). Returns 0, -EAGAIN (queue full: nothing
 * was queued, done is not called) or -ESHUTDOWN. */
int ingest_batch_submit(struct ingest_batch *b,
                        void (*done)(struct ingest_batch *b, int rc, void *arg), void *arg);

struct ingest_counts {
    size_t accepted;   /* stored now */
    size_t duplicates; /* acknowledged, stored earlier */
    size_t rejected;   /* dead-lettered */
};
void ingest_batch_counts(const struct ingest_batch *b, struct ingest_counts *out);
/* Appends the JSON body of a successful answer. */
void ingest_batch_response(const struct ingest_batch *b, struct buf *out);
/* Appends {"error": {...}, "request_id": ...} for a request-level error. */
void ingest_error_response(const struct ingest_error *err, const char *request_id, struct buf *out);
void ingest_error_set(struct ingest_error *err, int status, const char *code, const char *field,
                      long position, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ---- dead letter replay ------------------------------------------------ */

struct ingest_replay_result {
    size_t examined;
    size_t replayed;  /* dead letters that now went through */
    size_t still_bad; /* refused again (reason updated) */
    size_t events;    /* events stored */
    size_t duplicates;
};

/* Re-runs dead letters (q selects them) through today's validation. Valid
 * ones are stored (deduplicated) and marked replayed; others stay, with the
 * new reason kept as their replay result. */
int ingest_replay(struct ingest *ig, const struct store_dead_letter_query *q,
                  struct ingest_replay_result *out);
/* Appends a dead letter as a JSON object: id, project_id, received_at,
 * request_id, route, kind, reason, field, detail, replay_count, replayed_at,
 * and raw (UTF-8 text) or raw_base64. */
void ingest_dead_letter_json(struct buf *out, const struct store_dead_letter *d);

#endif
