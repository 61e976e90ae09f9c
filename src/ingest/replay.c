/*
 * replay.c - dead letters through today's validation again.
 *
 * Why a dead letter may go through later: a limit was raised
 * (max_message_bytes), a bug in Journey was fixed, or a project's key was
 * restored. Each dead letter is rebuilt as the request it came from (its
 * context keeps the format, the route's type, the batch's sentAt, the user
 * agent and the stored form of the client IP; received_at is the original
 * one, so times come out as they would have), normalised, deduplicated
 * against the window like any message, and stored in its own transaction
 * together with its replay mark. A body that was refused as a whole and now
 * parses is split into messages, and any still-bad message becomes a
 * message-level dead letter of its own.
 */
#include "ingest/ingest_internal.h"

#include "common/log.h"
#include "common/timefmt.h"
#include "common/utf8.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pending {
    int64_t id;
    int64_t project_id;
    int64_t received_at;
    char *kind;
    char *route;
    char *request_id;
    char *context;
    void *raw;
    size_t raw_len;
};

struct collect {
    struct pending *items;
    size_t n, cap;
};

static int collect_one(const struct store_dead_letter *d, void *arg)
{
    struct collect *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->items = xrealloc(c->items, c->cap * sizeof *c->items);
    }
    struct pending *p = &c->items[c->n++];
    p->id = d->id;
    p->project_id = d->project_id;
    p->received_at = d->received_at;
    p->kind = xstrdup(d->kind ? d->kind : "message");
    p->route = d->route ? xstrdup(d->route) : NULL;
    p->request_id = d->request_id ? xstrdup(d->request_id) : NULL;
    p->context = xstrdup(d->context_json ? d->context_json : "{}");
    p->raw = xmalloc(d->raw_len + 1);
    memcpy(p->raw, d->raw, d->raw_len);
    ((char *)p->raw)[d->raw_len] = '\0';
    p->raw_len = d->raw_len;
    return 0;
}

static const char *ctx_string(const cJSON *ctx, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ctx, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Replays one dead letter; returns 1 if it went through, 0 if still bad, <0 on error. */
static int replay_one(struct ingest *ig, const struct pending *p, struct ingest_replay_result *out)
{
    if (p->project_id <= 0)
        return 0;
    cJSON *ctx = cJSON_Parse(p->context);
    struct ingest_request req = {0};
    const char *format = ctx_string(ctx, "format");
    req.format =
        format && !strcmp(format, "posthog") ? INGEST_FORMAT_POSTHOG : INGEST_FORMAT_SEGMENT;
    const char *type = ctx_string(ctx, "type");
    req.type = type ? ingest_type_parse(type, strlen(type)) : INGEST_TYPE_FROM_BODY;
    bool whole = !strcmp(p->kind, "request");
    req.batch = whole && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "batch"));
    req.route = p->route;
    req.request_id = p->request_id;
    req.header_sent_at = ctx_string(ctx, "header_sent_at");
    req.user_agent = ctx_string(ctx, "user_agent");
    req.client_ip = ctx_string(ctx, "ip");
    req.received_at = p->received_at;
    struct ingest_batch *b = ingest_batch_new(ig, &req);
    const char *sent = ctx_string(ctx, "sent_at");
    if (sent)
        timefmt_parse_iso(sent, strlen(sent), &b->batch_sent_at);
    b->historical = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ctx, "historical"));
    cJSON_Delete(ctx);

    struct ingest_error err = {0};
    bool ok = true;
    char result[300] = "replayed";
    buf_append(&b->body, p->raw, p->raw_len);
    if (b->body.len == 0) {
        ok = false;
        snprintf(result, sizeof result, "empty_body: the body is empty");
    } else if (ingest_batch_parse(b, &err)) {
        ok = false;
        snprintf(result, sizeof result, "%s: %s", err.code, err.message);
    } else {
        ingest_batch_normalize(b, p->project_id);
        if (!whole && b->n_rejects > 0) {
            ok = false;
            snprintf(result, sizeof result, "%s: %s", b->rejects[0].code, b->rejects[0].detail);
        }
    }
    if (!ok) {
        /* Keep only the mark: no rows, no new dead letters. */
        b->n_msgs = b->n_dead = b->n_rejects = 0;
    }
    int64_t ids[1] = {p->id};
    bool oks[1] = {ok};
    const char *results[1] = {result};
    b->replayed_ids = ids;
    b->replayed_ok = oks;
    b->replayed_result = results;
    b->n_replayed = 1;
    int rc = ingest_batch_commit_sync(b);
    if (rc == 0 && ok) {
        out->events += b->n_msgs - b->n_duplicates;
        out->duplicates += b->n_duplicates;
    }
    ingest_batch_free(b);
    if (rc < 0)
        return rc;
    return ok ? 1 : 0;
}

int ingest_replay(struct ingest *ig, const struct store_dead_letter_query *q,
                  struct ingest_replay_result *out)
{
    memset(out, 0, sizeof *out);
    struct collect c = {0};
    struct store_dead_letter_query page = *q;
    if (page.limit <= 0)
        page.limit = 1000;
    int rc = store_dead_letters(ig->store, &page, collect_one, &c);
    for (size_t i = 0; rc >= 0 && i < c.n; i++) {
        out->examined++;
        int r = replay_one(ig, &c.items[i], out);
        if (r < 0)
            rc = r;
        else if (r == 1)
            out->replayed++;
        else
            out->still_bad++;
    }
    for (size_t i = 0; i < c.n; i++) {
        free(c.items[i].kind);
        free(c.items[i].route);
        free(c.items[i].request_id);
        free(c.items[i].context);
        free(c.items[i].raw);
    }
    free(c.items);
    return rc < 0 ? rc : 0;
}

/* ---- the JSON form of a dead letter (CLI and API) ---------------------- */

static void base64(struct buf *b, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        buf_putc(b, tbl[(v >> 18) & 63]);
        buf_putc(b, tbl[(v >> 12) & 63]);
        buf_putc(b, i + 1 < n ? tbl[(v >> 6) & 63] : '=');
        buf_putc(b, i + 2 < n ? tbl[v & 63] : '=');
    }
    buf_putc(b, '"');
}

void ingest_dead_letter_json(struct buf *out, const struct store_dead_letter *d)
{
    buf_printf(out, "{\"id\":%lld,\"project_id\":%lld,\"received_at\":", (long long)d->id,
               (long long)d->project_id);
    json_time(out, d->received_at);
    buf_puts(out, ",\"request_id\":");
    json_str(out, d->request_id);
    buf_puts(out, ",\"route\":");
    json_str(out, d->route);
    buf_puts(out, ",\"kind\":");
    json_str(out, d->kind);
    buf_puts(out, ",\"reason\":");
    json_str(out, d->reason);
    buf_puts(out, ",\"field\":");
    json_str(out, d->field);
    buf_puts(out, ",\"detail\":");
    json_str(out, d->detail);
    buf_printf(out, ",\"replay_count\":%lld,\"replayed_at\":", (long long)d->replay_count);
    json_time(out, d->replayed_at);
    if (utf8_valid(d->raw, d->raw_len, NULL) && !memchr(d->raw, '\0', d->raw_len)) {
        buf_puts(out, ",\"raw\":");
        json_strn(out, d->raw, d->raw_len);
    } else {
        buf_puts(out, ",\"raw_base64\":");
        base64(out, d->raw, d->raw_len);
    }
    buf_putc(out, '}');
}
