/*
 * ingest.c - the pipeline object, the batch's life cycle, body structure
 * parsing, the writer job (dedup + sessions + rows), answers, and the cold
 * start. Per-message rules are in normalize.c, body decoding in decode.c.
 */
#include "ingest/ingest_internal.h"

#include "common/log.h"
#include "common/timefmt.h"
#include "common/utf8.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[INGEST_TYPE_COUNT] = {
    "track", "page", "screen", "identify", "group", "alias",
};

const char *ingest_type_name(enum ingest_type t)
{
    return t >= 0 && t < INGEST_TYPE_COUNT ? type_names[t] : "batch";
}

enum ingest_type ingest_type_parse(const char *name, size_t n)
{
    for (int i = 0; i < INGEST_TYPE_COUNT; i++)
        if (strlen(type_names[i]) == n && memcmp(type_names[i], name, n) == 0)
            return (enum ingest_type)i;
    return INGEST_TYPE_FROM_BODY;
}

void ingest_error_set(struct ingest_error *err, int status, const char *code, const char *field,
                      long position, const char *fmt, ...)
{
    err->status = status;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    err->position = position;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* pipeline                                                                  */

static double gauge_dedup_size(void *ctx)
{
    /* Read without the writer's lock: a racy but harmless size_t read. */
    return (double)ingest_dedup_size(ctx);
}

struct ingest *ingest_new(struct store *store, const struct ingest_config *cfg)
{
    struct ingest *ig = xcalloc(1, sizeof *ig);
    ig->store = store;
    ig->cfg = *cfg;
    ig->dedup = dedup_new(cfg->dedup_window_ms, (size_t)cfg->dedup_max_entries);
    ig->sessions = sessionizer_new(cfg->session_timeout_ms);
    ig->m_accepted = metrics_counter("journey_ingest_messages_total",
                                     "Messages by outcome: stored, duplicate (acknowledged, "
                                     "stored before) or dead_letter (quarantined)",
                                     "outcome=\"stored\"");
    ig->m_duplicates =
        metrics_counter("journey_ingest_messages_total", NULL, "outcome=\"duplicate\"");
    ig->m_rejected =
        metrics_counter("journey_ingest_messages_total", NULL, "outcome=\"dead_letter\"");
    ig->m_requests_rejected = metrics_counter(
        "journey_ingest_requests_dead_lettered_total",
        "Whole request bodies kept as dead letters (malformed JSON and the like)", NULL);
    ig->finished_tail = &ig->finished;
    ig->m_dedup_evicted = metrics_counter(
        "journey_dedup_evicted_total",
        "Message ids forgotten before the dedup window ended (dedup_max_entries reached)", NULL);
    metrics_gauge_fn("journey_dedup_entries", "Message ids in the dedup window", NULL,
                     gauge_dedup_size, ig);
    return ig;
}

void ingest_free(struct ingest *ig)
{
    if (!ig)
        return;
    dedup_free(ig->dedup);
    sessionizer_free(ig->sessions);
    free(ig->hook_rows);
    free(ig->hook_ids);
    free(ig);
}

void ingest_add_commit_hook(struct ingest *ig, ingest_commit_hook hook, void *ctx)
{
    if (ig->n_hooks < 4) {
        ig->hooks[ig->n_hooks] = hook;
        ig->hook_ctx[ig->n_hooks] = ctx;
        ig->n_hooks++;
    }
}

void ingest_clear_commit_hooks(struct ingest *ig)
{
    if (ig)
        ig->n_hooks = 0;
}

size_t ingest_dedup_size(const struct ingest *ig)
{
    return dedup_size(ig->dedup);
}

struct restore_ctx {
    struct ingest *ig;
    int64_t dedup_since, session_since;
    int64_t n;
};

static int restore_one(const struct store_event *e, int64_t id, void *arg)
{
    struct restore_ctx *c = arg;
    (void)id;
    c->n++;
    if (e->received_at >= c->dedup_since && e->message_id && !str_has_prefix(e->message_id, "jrn-"))
        dedup_check_and_add(c->ig->dedup,
                            dedup_key_make(e->project_id, e->message_id, strlen(e->message_id)),
                            e->received_at);
    const char *visitor = e->anonymous_id ? e->anonymous_id : e->user_id;
    if (e->timestamp >= c->session_since && visitor && e->session_id && e->session_id[0] == '~')
        sessionize_restore(c->ig->sessions, e->project_id, visitor, strlen(visitor), e->session_id,
                           e->timestamp);
    return 0;
}

int64_t ingest_restore(struct ingest *ig, int64_t now)
{
    ig->last_event_id = store_max_event_id(ig->store);
    if (ig->last_event_id < 0)
        ig->last_event_id = 0;
    struct restore_ctx c = {ig, now - ig->cfg.dedup_window_ms, now - ig->cfg.session_timeout_ms, 0};
    int64_t since = MIN(c.dedup_since, c.session_since);
    if (ig->cfg.dedup_window_ms <= 0)
        since = c.session_since;
    int rc = store_scan_events_since(ig->store, since, restore_one, &c);
    return rc < 0 ? rc : c.n;
}

/* ------------------------------------------------------------------------ */
/* batch life cycle                                                          */

static const char *dup_or_null(struct arena *a, const char *s)
{
    return s ? arena_strdup(a, s) : NULL;
}

struct ingest_batch *ingest_batch_new(struct ingest *ig, const struct ingest_request *req)
{
    struct ingest_batch *b = xcalloc(1, sizeof *b);
    b->ig = ig;
    arena_init(&b->arena, 16384);
    b->req = *req;
    b->req.route = dup_or_null(&b->arena, req->route);
    b->req.request_id = dup_or_null(&b->arena, req->request_id);
    b->req.content_encoding = dup_or_null(&b->arena, req->content_encoding);
    b->req.header_sent_at = dup_or_null(&b->arena, req->header_sent_at);
    b->req.user_agent = dup_or_null(&b->arena, req->user_agent);
    b->req.client_ip = dup_or_null(&b->arena, req->client_ip);
    b->batch_sent_at = -1;
    b->header_sent_at_ms = INT64_MIN;
    return b;
}

void ingest_batch_free(struct ingest_batch *b)
{
    if (!b)
        return;
    buf_free(&b->body);
    arena_free(&b->arena);
    free(b);
}

const char *ingest_batch_write_key(struct ingest_batch *b)
{
    if (b->write_key_pending) {
        /* A single Segment message: its writeKey member, looked up only now
         * (most clients send the key in a header, and this is a pass over
         * the whole message). */
        b->write_key_pending = false;
        struct json_span v;
        if (b->n_spans > 0 && json_object_find(b->spans[0].p, b->spans[0].n, "writeKey", &v) == 1)
            b->write_key = ingest_span_string(b, v);
    }
    return b->write_key;
}

size_t ingest_batch_message_count(const struct ingest_batch *b)
{
    return b->n_spans;
}

const char *ingest_span_string(struct ingest_batch *b, struct json_span v)
{
    if (v.n < 2 || v.p[0] != '"')
        return NULL;
    if (!memchr(v.p, '\\', v.n))
        return arena_strndup(&b->arena, v.p + 1, v.n - 2);
    /* Strings that hold \u0000 end there, as they did when cJSON read them. */
    char *out = arena_alloc(&b->arena, v.n);
    return json_decode_string(v, out) < 0 ? NULL : out;
}

static bool span_is_true(struct json_span v)
{
    return v.n == 4 && memcmp(v.p, "true", 4) == 0;
}

/* ------------------------------------------------------------------------ */
/* body structure                                                            */

/* Adds a message span and what the scan found in it. */
static void add_span(struct ingest_batch *b, struct json_span v, struct json_scan_info info,
                     size_t *cap)
{
    if (b->n_spans == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct json_span *ns = arena_alloc(&b->arena, ncap * sizeof *ns);
        struct json_scan_info *ni = arena_alloc(&b->arena, ncap * sizeof *ni);
        if (b->n_spans) {
            memcpy(ns, b->spans, b->n_spans * sizeof *ns);
            memcpy(ni, b->span_info, b->n_spans * sizeof *ni);
        }
        b->spans = ns;
        b->span_info = ni;
        *cap = ncap;
    }
    b->span_info[b->n_spans] = info;
    b->spans[b->n_spans++] = v;
}

/* Collects the elements of the array that starts at arr.p (arr.n bytes are
 * available; the array may end before) as messages, each with its own scan
 * result. Returns the array's length in bytes, or -1 with err set. The body
 * was checked to be valid JSON before. */
static long collect_array(struct ingest_batch *b, struct json_span arr, const char *field,
                          struct ingest_error *err)
{
    struct json_iter it;
    if (json_iter_begin(&it, arr.p, arr.n, '[')) {
        ingest_error_set(err, 400, "wrong_type", field, arr.p - b->body.data,
                         "%s must be an array of messages", field);
        return -1;
    }
    size_t cap = 0;
    struct json_span v;
    struct json_scan_info info = {0, 0};
    while (json_iter_elem(&it, &v, &info) == 1) {
        if ((int64_t)b->n_spans >= b->ig->cfg.max_batch_messages) {
            ingest_error_set(err, 413, "too_many_messages", field, -1,
                             "a batch may hold at most %lld messages",
                             (long long)b->ig->cfg.max_batch_messages);
            return -1;
        }
        add_span(b, v, info, &cap);
        info = (struct json_scan_info){0, 0};
    }
    return (long)it.i;
}

static int64_t parse_time_span(struct ingest_batch *b, struct json_span v)
{
    const char *s = ingest_span_string(b, v);
    int64_t ms;
    if (s && timefmt_parse_iso(s, strlen(s), &ms) == 0)
        return ms;
    return -1;
}

/* The members of a batch body. The first "batch" member's array is walked
 * where it stands (one pass collects its messages and their scan results);
 * the others are skipped. found_batch tells whether there was one. When the
 * batch is refused (not an array, too many messages), the other members are
 * still read (a dead letter keeps the batch's sentAt) before the error. */
static int walk_batch_object(struct ingest_batch *b, struct json_span body, bool posthog,
                             bool *found_batch, struct ingest_error *err)
{
    struct json_iter it;
    json_iter_begin(&it, body.p, body.n, '{');
    struct json_span k, v;
    *found_batch = false;
    int rc = 0;
    while (json_iter_next_key(&it, &k, NULL) == 1) {
        if (k.n == 5 && memcmp(k.p, "batch", 5) == 0 && !*found_batch) {
            *found_batch = true;
            size_t start = it.i;
            long used =
                collect_array(b, (struct json_span){it.s + start, it.n - start}, "batch", err);
            if (used >= 0) {
                it.i += (size_t)used;
                continue;
            }
            rc = -1;
            it.i = start;
        }
        if (json_iter_value(&it, &v, NULL) != 1)
            break;
        if (!posthog) {
            if (k.n == 8 && memcmp(k.p, "writeKey", 8) == 0 && !b->write_key)
                b->write_key = ingest_span_string(b, v);
            else if (k.n == 6 && memcmp(k.p, "sentAt", 6) == 0 && b->batch_sent_at < 0)
                b->batch_sent_at = parse_time_span(b, v);
        } else {
            if (((k.n == 7 && memcmp(k.p, "api_key", 7) == 0) ||
                 (k.n == 5 && memcmp(k.p, "token", 5) == 0)) &&
                !b->write_key)
                b->write_key = ingest_span_string(b, v);
            else if (k.n == 7 && memcmp(k.p, "sent_at", 7) == 0 && b->batch_sent_at < 0)
                b->batch_sent_at = parse_time_span(b, v);
            else if (k.n == 20 && memcmp(k.p, "historical_migration", 20) == 0)
                b->historical = span_is_true(v);
        }
    }
    return rc;
}

static int parse_segment(struct ingest_batch *b, struct json_span body,
                         struct json_scan_info body_info, struct ingest_error *err)
{
    if (body.p[0] != '{') {
        ingest_error_set(err, 400, "wrong_type", "", 0, "the body must be a JSON object");
        return -1;
    }
    if (!b->req.batch) {
        size_t cap = 0;
        add_span(b, body, body_info, &cap);
        b->write_key_pending = true; /* see ingest_batch_write_key() */
        return 0;
    }
    bool found;
    if (walk_batch_object(b, body, false, &found, err))
        return -1;
    if (!found) {
        ingest_error_set(err, 400, "missing_field", "batch", -1,
                         "a batch request needs a \"batch\" array of messages");
        return -1;
    }
    return 0;
}

static void posthog_key_from_event(struct ingest_batch *b, struct json_span ev)
{
    struct json_span v, props;
    if (json_object_find(ev.p, ev.n, "api_key", &v) == 1 ||
        json_object_find(ev.p, ev.n, "token", &v) == 1) {
        b->write_key = ingest_span_string(b, v);
    } else if (json_object_find(ev.p, ev.n, "properties", &props) == 1 && props.p[0] == '{' &&
               json_object_find(props.p, props.n, "token", &v) == 1) {
        b->write_key = ingest_span_string(b, v);
    }
}

static int parse_posthog(struct ingest_batch *b, struct json_span body,
                         struct json_scan_info body_info, struct ingest_error *err)
{
    if (body.p[0] == '[') {
        if (collect_array(b, body, "body", err) < 0)
            return -1;
    } else if (body.p[0] == '{') {
        bool found;
        if (walk_batch_object(b, body, true, &found, err))
            return -1;
        if (!found) {
            size_t cap = 0;
            add_span(b, body, body_info, &cap);
        }
    } else {
        ingest_error_set(err, 400, "wrong_type", "", 0,
                         "the body must be a JSON object or an array of events");
        return -1;
    }
    if (!b->write_key && b->n_spans > 0)
        posthog_key_from_event(b, b->spans[0]);
    return 0;
}

int ingest_batch_parse(struct ingest_batch *b, struct ingest_error *err)
{
    const char *s = b->body.data;
    size_t n = b->body.len;
    size_t start = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 byte order mark */
        start = 3;
    size_t i = start;
    struct json_scan_info info = {0, 0};
    if (json_skip_value(s, n, &i, &info)) {
        if (i < n && s[i] == '\0')
            ingest_error_set(err, 400, "invalid_json", "", (long)i,
                             "a NUL byte at byte %zu: NUL is not allowed in JSON text", i);
        else if (i >= n)
            ingest_error_set(err, 400, "invalid_json", "", (long)i,
                             "the JSON text ends early (byte %zu of %zu)", i, n);
        else
            ingest_error_set(err, 400, "invalid_json", "", (long)i,
                             "malformed JSON at byte %zu (near '%.16s')", i, s + i);
        return -1;
    }
    size_t end = i;
    if (!json_skip_ws_to_end(s, n, &i)) {
        ingest_error_set(err, 400, "invalid_json", "", (long)i,
                         "unexpected data after the JSON value at byte %zu", i);
        return -1;
    }
    while (start < end &&
           (s[start] == ' ' || s[start] == '\t' || s[start] == '\r' || s[start] == '\n'))
        start++;
    struct json_span body = {s + start, end - start};
    int rc = b->req.format == INGEST_FORMAT_POSTHOG ? parse_posthog(b, body, info, err)
                                                    : parse_segment(b, body, info, err);
    if (rc)
        return rc;
    /* Invalid UTF-8 inside a message quarantines that message only; outside
     * every message it spoils the request. A body whose strings hold no byte
     * >= 0x80 is ASCII (the scan saw every byte), so valid as it is. */
    b->ascii = !(info.flags & JSON_SCAN_NON_ASCII);
    /* utf8_valid() reports the first invalid byte only: after one inside a
     * message, the check goes on from that message's end (spans are in text
     * order, so the search for the next one resumes where this one ended). */
    size_t from = 0, bad, k = 0;
    while (!b->ascii && from < n && !utf8_valid(s + from, n - from, &bad)) {
        bad += from;
        while (k < b->n_spans && s + bad >= b->spans[k].p + b->spans[k].n)
            k++;
        if (k == b->n_spans || s + bad < b->spans[k].p) {
            ingest_error_set(err, 400, "invalid_utf8", "", (long)bad,
                             "invalid UTF-8 at byte %zu, outside any message", bad);
            return -1;
        }
        from = (size_t)(b->spans[k].p + b->spans[k].n - s);
    }
    if (b->n_spans == 0 && b->req.batch) {
        /* An empty batch is valid and stores nothing. */
        return 0;
    }
    return 0;
}

void ingest_batch_normalize(struct ingest_batch *b, int64_t project_id)
{
    b->project_id = project_id;
    b->msgs = arena_zalloc(&b->arena, (b->n_spans ? b->n_spans : 1) * sizeof *b->msgs);
    b->n_msgs = 0;
    for (size_t i = 0; i < b->n_spans; i++)
        ingest_normalize_message(b, i, b->spans[i], &b->span_info[i]);
}

void ingest_batch_reject_request(struct ingest_batch *b, int64_t project_id,
                                 const struct ingest_error *err)
{
    b->project_id = project_id;
    b->n_msgs = 0;
    b->n_rejects = 0;
    b->n_dead = 0;
    const char *ctx = ingest_build_context_json(b);
    b->dead = arena_zalloc(&b->arena, sizeof *b->dead);
    struct store_dead_letter *d = &b->dead[0];
    d->project_id = project_id;
    d->received_at = b->req.received_at;
    d->request_id = b->req.request_id;
    d->route = b->req.route;
    d->kind = "request";
    d->reason = err->code;
    d->field = err->field[0] ? arena_strdup(&b->arena, err->field) : NULL;
    d->detail = arena_strdup(&b->arena, err->message);
    d->context_json = ctx;
    d->raw = b->body.data ? b->body.data : "";
    d->raw_len = b->body.len;
    b->n_dead = 1;
}

/* ------------------------------------------------------------------------ */
/* the writer job                                                            */

struct absorb_ctx {
    struct ingest *ig;
    int64_t now;
};

static int absorb_one(const struct store_event *e, int64_t id, void *arg)
{
    struct absorb_ctx *c = arg;
    (void)id;
    if (e->message_id && !str_has_prefix(e->message_id, "jrn-") &&
        e->received_at >= c->now - c->ig->cfg.dedup_window_ms)
        dedup_check_and_add(c->ig->dedup,
                            dedup_key_make(e->project_id, e->message_id, strlen(e->message_id)),
                            e->received_at);
    const char *visitor = e->anonymous_id ? e->anonymous_id : e->user_id;
    if (visitor && e->session_id && e->session_id[0] == '~')
        sessionize_restore(c->ig->sessions, e->project_id, visitor, strlen(visitor), e->session_id,
                           e->timestamp);
    return 0;
}

/* Rows another process wrote since this one last looked (journey
 * deadletters replay while the server runs, say) join the dedup window and
 * the sessions, so a client's later retry of one of them is still caught. */
static int absorb_foreign_rows(struct ingest *ig, struct store_tx *tx, int64_t now)
{
    int64_t max = store_tx_max_event_id(tx);
    if (max < 0)
        return -EIO;
    if (max <= ig->last_event_id)
        return 0;
    struct absorb_ctx c = {ig, now};
    if (store_tx_scan_events_after(tx, ig->last_event_id, absorb_one, &c))
        return -EIO;
    ig->last_event_id = max;
    return 0;
}

/* Applies the batch inside the writer's transaction. Rows of other
 * processes can only appear between two transactions, so they are looked
 * for once per transaction (ig->absorbed, reset by the first batch of each
 * group) rather than once per batch. */
static int batch_apply(struct store_tx *tx, struct store_job *job)
{
    struct ingest_batch *b = (struct ingest_batch *)job;
    struct ingest *ig = b->ig;
    int64_t now = b->req.received_at;
    b->n_duplicates = 0;
    b->last_event_id_before = ig->last_event_id;
    if (b->n_msgs && !ig->absorbed) {
        if (absorb_foreign_rows(ig, tx, now))
            return -EIO;
        ig->absorbed = true;
    }
    for (size_t i = 0; i < b->n_msgs; i++) {
        struct ingest_msg *m = &b->msgs[i];
        m->duplicate = false;
        if (m->has_key && dedup_check_and_add(ig->dedup, m->key, now)) {
            m->duplicate = true;
            b->n_duplicates++;
            continue;
        }
        if (!m->row.session_id && m->visitor) {
            sessionize(ig->sessions, m->row.project_id, m->visitor, strlen(m->visitor),
                       m->row.timestamp, now, m->session_buf);
            m->row.session_id = m->session_buf;
        }
        m->id = store_tx_insert_event(tx, &m->row);
        if (m->id < 0)
            return -EIO;
        if (m->id > ig->last_event_id)
            ig->last_event_id = m->id;
    }
    for (size_t i = 0; i < b->n_dead; i++)
        if (store_tx_insert_dead_letter(tx, &b->dead[i]) < 0)
            return -EIO;
    for (size_t i = 0; i < b->n_replayed; i++)
        if (store_tx_dead_letter_replayed(tx, b->replayed_ids[i], b->replayed_ok[i],
                                          b->replayed_result[i]))
            return -EIO;
    return 0;
}

static void batch_undo(struct store_job *job)
{
    struct ingest_batch *b = (struct ingest_batch *)job;
    /* Rolled-back ids will be handed out again. */
    if (b->ig->last_event_id > b->last_event_id_before)
        b->ig->last_event_id = b->last_event_id_before;
    for (size_t i = 0; i < b->n_msgs; i++) {
        struct ingest_msg *m = &b->msgs[i];
        if (m->has_key && !m->duplicate)
            dedup_remove(b->ig->dedup, m->key);
        /* A derived session id is recomputed by the next apply. */
        if (m->row.session_id == m->session_buf)
            m->row.session_id = NULL;
    }
}

/* Counts the batch's outcome in the metrics (the writer's thread, or the
 * caller's for ingest_batch_commit_sync). */
static void count_committed(struct ingest_batch *b)
{
    struct ingest *ig = b->ig;
    size_t stored = b->n_msgs - b->n_duplicates;
    metric_add(ig->m_accepted, stored);
    metric_add(ig->m_duplicates, b->n_duplicates);
    metric_add(ig->m_rejected, b->n_rejects);
    if (b->n_dead && b->n_rejects == 0 && b->n_msgs == 0 && !b->n_replayed)
        metric_add(ig->m_requests_rejected, 1);
    uint64_t ev = dedup_evicted(ig->dedup);
    if (ev > ig->dedup_evicted_reported) {
        metric_add(ig->m_dedup_evicted, ev - ig->dedup_evicted_reported);
        ig->dedup_evicted_reported = ev;
    }
}

/* Hands the stored rows of the batches in list (linked by next_finished) to
 * the commit hooks in one call. The rows stay valid until each batch's done()
 * runs, which is after this. writer: called on the writer thread, which owns
 * ig's reusable arrays; otherwise the arrays are the call's own. */
static void run_hooks(struct ingest *ig, struct ingest_batch *list, bool writer)
{
    if (!ig->n_hooks)
        return;
    size_t n = 0;
    for (struct ingest_batch *b = list; b; b = b->next_finished)
        n += b->n_msgs - b->n_duplicates;
    if (n == 0)
        return;
    const struct store_event **rows;
    int64_t *ids;
    if (writer) {
        if (n > ig->hook_cap) {
            ig->hook_cap = n > 2 * ig->hook_cap ? n : 2 * ig->hook_cap;
            ig->hook_rows = xrealloc(ig->hook_rows, ig->hook_cap * sizeof *ig->hook_rows);
            ig->hook_ids = xrealloc(ig->hook_ids, ig->hook_cap * sizeof *ig->hook_ids);
        }
        rows = ig->hook_rows;
        ids = ig->hook_ids;
    } else {
        rows = xmalloc(n * sizeof *rows);
        ids = xmalloc(n * sizeof *ids);
    }
    size_t k = 0;
    for (struct ingest_batch *b = list; b; b = b->next_finished) {
        for (size_t i = 0; i < b->n_msgs; i++) {
            if (b->msgs[i].duplicate)
                continue;
            rows[k] = &b->msgs[i].row;
            ids[k] = b->msgs[i].id;
            k++;
        }
    }
    for (int h = 0; h < ig->n_hooks; h++)
        ig->hooks[h](ig->hook_ctx[h], rows, ids, k);
    if (!writer) {
        free(rows);
        free(ids);
    }
}

/* The store job's callbacks for a queued batch (writer thread). in_group
 * counts the batches of the current group between apply and completion, so
 * the last completion of a group knows it is the last. */
static int job_apply(struct store_tx *tx, struct store_job *job)
{
    struct ingest *ig = ((struct ingest_batch *)job)->ig;
    if (ig->in_group++ == 0)
        ig->absorbed = false; /* the first batch of a new transaction */
    return batch_apply(tx, job);
}

static void job_undo(struct store_job *job)
{
    struct ingest *ig = ((struct ingest_batch *)job)->ig;
    batch_undo(job);
    ig->in_group--;
    ig->absorbed = false; /* rolled back: what was read is read again */
}

static void job_done(struct store_job *job, int rc)
{
    struct ingest_batch *b = (struct ingest_batch *)job;
    struct ingest *ig = b->ig;
    b->rc = rc;
    if (rc < 0) {
        /* Undone already (or never applied): not part of the group. */
        if (b->done)
            b->done(b, rc, b->done_arg);
        return;
    }
    count_committed(b);
    b->next_finished = NULL;
    *ig->finished_tail = b;
    ig->finished_tail = &b->next_finished;
    if (--ig->in_group > 0)
        return;
    /* The group's last batch: hooks once for all, then the answers. */
    struct ingest_batch *list = ig->finished;
    ig->finished = NULL;
    ig->finished_tail = &ig->finished;
    run_hooks(ig, list, true);
    while (list) {
        struct ingest_batch *next = list->next_finished; /* done() may free list */
        if (list->done)
            list->done(list, 0, list->done_arg);
        list = next;
    }
}

int ingest_batch_submit(struct ingest_batch *b,
                        void (*done)(struct ingest_batch *b, int rc, void *arg), void *arg)
{
    b->done = done;
    b->done_arg = arg;
    b->job.queue = STORE_QUEUE_INGEST;
    b->job.weight = b->n_msgs + b->n_dead;
    if (b->job.weight == 0)
        b->job.weight = 1;
    b->job.apply = job_apply;
    b->job.undo = job_undo;
    b->job.done = job_done;
    return store_submit(b->ig->store, &b->job);
}

/* A synchronous batch stands alone: it reads foreign rows itself and runs
 * its hooks on the caller's thread, as before the group hand-over existed. */
static int sync_apply(struct store_tx *tx, void *ctx)
{
    struct ingest_batch *b = ctx;
    b->ig->absorbed = false;
    return batch_apply(tx, &b->job);
}

static void sync_undo(void *ctx)
{
    batch_undo(&((struct ingest_batch *)ctx)->job);
}

int ingest_batch_commit_sync(struct ingest_batch *b)
{
    b->done = NULL;
    int rc = store_write_sync(b->ig->store, sync_apply, sync_undo, b);
    b->rc = rc;
    if (rc == 0) {
        count_committed(b);
        b->next_finished = NULL;
        run_hooks(b->ig, b, false);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* answers                                                                   */

void ingest_batch_counts(const struct ingest_batch *b, struct ingest_counts *out)
{
    out->accepted = b->n_msgs - b->n_duplicates;
    out->duplicates = b->n_duplicates;
    out->rejected = b->n_rejects;
}

#define MAX_ERRORS_IN_ANSWER 100

void ingest_batch_response(const struct ingest_batch *b, struct buf *out)
{
    struct ingest_counts c;
    ingest_batch_counts(b, &c);
    buf_puts(out, "{\"success\":true,");
    if (b->req.format == INGEST_FORMAT_POSTHOG)
        buf_puts(out, "\"status\":1,");
    buf_puts(out, "\"request_id\":");
    json_str(out, b->req.request_id);
    buf_puts(out, ",\"accepted\":");
    json_int(out, (int64_t)c.accepted);
    buf_puts(out, ",\"duplicates\":");
    json_int(out, (int64_t)c.duplicates);
    buf_puts(out, ",\"rejected\":");
    json_int(out, (int64_t)c.rejected);
    if (b->n_rejects) {
        buf_puts(out, ",\"errors\":[");
        for (size_t i = 0; i < b->n_rejects && i < MAX_ERRORS_IN_ANSWER; i++) {
            const struct ingest_reject *r = &b->rejects[i];
            if (i)
                buf_putc(out, ',');
            buf_printf(out, "{\"index\":%zu,\"code\":", r->index);
            json_str(out, r->code);
            buf_puts(out, ",\"field\":");
            json_str(out, r->field);
            buf_puts(out, ",\"message\":");
            json_str(out, r->detail);
            buf_putc(out, '}');
        }
        buf_putc(out, ']');
        if (b->n_rejects > MAX_ERRORS_IN_ANSWER)
            buf_printf(out, ",\"errors_truncated\":%zu", b->n_rejects - MAX_ERRORS_IN_ANSWER);
        buf_puts(out, ",\"dead_lettered\":true");
    }
    buf_puts(out, "}");
}

void ingest_error_response(const struct ingest_error *err, const char *request_id, struct buf *out)
{
    buf_puts(out, "{\"success\":false,\"error\":{\"code\":");
    json_str(out, err->code);
    buf_puts(out, ",\"message\":");
    json_str(out, err->message);
    if (err->field[0]) {
        buf_puts(out, ",\"field\":");
        json_str(out, err->field);
    }
    if (err->position >= 0)
        buf_printf(out, ",\"position\":%ld", err->position);
    buf_puts(out, "},\"request_id\":");
    json_str(out, request_id);
    buf_puts(out, "}");
}
