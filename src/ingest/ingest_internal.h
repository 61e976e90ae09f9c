/*
 * ingest_internal.h - the batch and pipeline structures, shared by the files
 * of src/ingest/ only.
 */
#ifndef JOURNEY_INGEST_INTERNAL_H
#define JOURNEY_INGEST_INTERNAL_H

#include "ingest/ingest.h"

#include "common/arena.h"
#include "common/json_scan.h"
#include "common/metrics.h"
#include "ingest/dedup.h"
#include "ingest/sessionize.h"
#include "ingest/useragent.h"

#include <cJSON.h>

/* Deepest nesting accepted inside one message (properties of properties...). */
#define INGEST_MAX_MESSAGE_DEPTH 64
/* Longest id (messageId, userId, anonymousId, sessionId, groupId, previousId). */
#define INGEST_MAX_ID_LEN 1024

struct ingest {
    struct store *store;
    struct ingest_config cfg;
    struct dedup *dedup;          /* writer thread only */
    struct sessionizer *sessions; /* writer thread only */
    ingest_commit_hook hooks[4];
    void *hook_ctx[4];
    int n_hooks;
    struct metric *m_accepted, *m_duplicates, *m_rejected, *m_requests_rejected;
    struct metric *m_dedup_evicted;
    uint64_t dedup_evicted_reported;
    int64_t last_event_id; /* writer thread: the newest event id it knows of */

    /* Writer thread: queued batches of the current group commit. A batch's
     * answer waits until every batch of its group is complete, so that the
     * commit hooks (the engine) get the group's rows in one call: one
     * hand-over and one wake-up per commit instead of one per request. */
    size_t in_group;                                /* applied and neither completed nor undone */
    bool absorbed;                                  /* foreign rows were read in this transaction */
    struct ingest_batch *finished, **finished_tail; /* committed, answers pending */
    const struct store_event **hook_rows;
    int64_t *hook_ids;
    size_t hook_cap;
};

struct ingest_msg {
    struct store_event row; /* strings in the batch arena */
    struct dedup_key key;
    bool has_key;   /* the client sent a messageId: deduplicate on it */
    bool duplicate; /* set by apply */
    int64_t id;
    size_t index;
    const char *visitor; /* anonymousId, else userId: for sessions */
    char session_buf[SESSION_ID_MAX];
};

struct ingest_reject {
    size_t index;
    const char *code;
    const char *field;
    const char *detail;
};

struct ingest_batch {
    struct store_job job;
    struct ingest *ig;
    struct arena arena;
    struct ingest_request req; /* strings copied into the arena */
    struct buf body;           /* the decoded body */

    /* parse */
    struct json_span *spans;
    struct json_scan_info *span_info; /* per span: flags and depth from the scan */
    size_t n_spans;
    bool ascii; /* no byte >= 0x80 in the body: valid UTF-8 without checking */
    const char *write_key;
    bool write_key_pending; /* not looked for yet (ingest_batch_write_key) */
    int64_t batch_sent_at;
    int64_t header_sent_at_ms; /* the SentAt header parsed; INT64_MIN until needed */
    bool historical;

    /* normalize */
    int64_t project_id;
    struct ingest_msg *msgs;
    size_t n_msgs;
    struct ingest_reject *rejects;
    size_t n_rejects;
    struct store_dead_letter *dead;
    size_t n_dead;
    const char *context_json; /* replay context, shared by the dead letters */

    /* replay: dead letters to mark */
    int64_t *replayed_ids;
    bool *replayed_ok;
    const char **replayed_result;
    size_t n_replayed;

    /* completion */
    struct ingest_batch *next_finished; /* in ig->finished */
    void (*done)(struct ingest_batch *b, int rc, void *arg);
    void *done_arg;
    int rc;
    size_t n_duplicates;
    int64_t last_event_id_before; /* undo restores the pipeline's view */

    /* a tiny cache: consecutive messages mostly share the user agent */
    const char *ua_cache_key;
    size_t ua_cache_len;
    struct user_agent ua_cache;
};

/* ingest.c: stores the batch now, waiting for the commit (CLI tools, replay). */
int ingest_batch_commit_sync(struct ingest_batch *b);

/* normalize.c: scanned is the span's scan result (NULL: scan it again). */
void ingest_normalize_message(struct ingest_batch *b, size_t index, struct json_span span,
                              const struct json_scan_info *scanned);
/* Copies a JSON string span's decoded text into the arena; NULL if not a string. */
const char *ingest_span_string(struct ingest_batch *b, struct json_span v);
void ingest_add_reject(struct ingest_batch *b, size_t index, struct json_span raw, const char *code,
                       const char *field, const char *detail);
const char *ingest_build_context_json(struct ingest_batch *b);

#endif
