/*
 * fuzz_ingest.c - a request body through the ingest pipeline as the HTTP
 * layer drives it (src/http/ingest_routes.c): decode (or decode_take), parse,
 * the body's write key, normalise every message; a body refused as a whole
 * becomes the request dead letter; then the answer. Nothing is submitted or
 * committed: everything up to ingest_batch_submit() touches only the batch
 * (ingest.h), so the pipeline is built without a store.
 *
 * Input layout:
 *   byte 0, the route: bit 0 PostHog (else Segment), bit 1 the batch form
 *     (else one message), bits 2-4 the Segment single-message route's type
 *     (track, page, screen, identify, group, alias; modulo 6). These are the
 *     routes of src/http/routes.c: Segment single messages have a type from
 *     the route, batches take it from the body, PostHog always does.
 *   byte 1, the request: bits 0-2 the encoding (0 none, 1 gzipped here and
 *     sent without a header: the magic bytes decide, 2 gzipped here with
 *     Content-Encoding: gzip, 3 the bytes as given labelled gzip, 4 the bytes
 *     as given labelled deflate, 5 zlib-deflated here, 6 raw-deflated here,
 *     both labelled deflate, 7 labelled br: refused 415); bits 3-4 ip_mode
 *     (anonymize, full, none, anonymize); bit 5 header lines follow; bit 6
 *     hand the body over with ingest_batch_decode_take().
 *   with bit 5: three lines "User-Agent\nclient IP\nSentAt\n" (an empty line
 *     is an absent header), then the body; else the body. Without header
 *     lines the client IP is 198.51.100.23 and there is no User-Agent.
 *
 * Checks beyond the sanitizers:
 *   - every message became a row or a dead letter;
 *   - each row: a known type, a message id, userId or anonymousId (at most
 *     1024 bytes), 0 <= timestamp <= receivedAt, strings valid UTF-8, and a
 *     payload that is one whole JSON object;
 *   - ip_mode: unless it is full, every context.ip (PostHog: properties.$ip)
 *     member of a stored payload, duplicates included and keys compared
 *     decoded, is null or the row's stored (anonymised) IP; ingest.h: "context.ip
 *     ... is anonymised in place unless ip_mode is full", and normalize.c
 *     rewrites "duplicated keys included, since JSON readers disagree on which
 *     of two equal keys wins and none may keep the original". The same holds
 *     for the dead letter of a message that could be read;
 *   - a body that parsed has valid UTF-8 outside its messages (ingest.c:
 *     "outside every message it spoils the request");
 *   - the answer, the error answer, each dead letter's replay context and its
 *     JSON form (ingest_dead_letter_json) are valid JSON.
 */
#include "common/json_scan.h"
#include "common/utf8.h"
#include "config/config.h"
#include "ingest/ingest_internal.h"
#include "ingest/ip.h"

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_ingest: check failed at line %d: %s\n", __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define RECEIVED_AT 1795600000000LL /* 2026-11-25T09:46:40.000Z */

/* One pipeline per ip_mode, built once. Limits are the defaults cut down so
 * that inputs of a few KB reach them (the smallest values journey.conf
 * accepts are lower still). */
static struct ingest *pipelines[3];

static struct ingest *pipeline(int ip_mode)
{
    if (!pipelines[ip_mode]) {
        struct ingest_config cfg = {
            .max_message_bytes = 4096,
            .max_request_bytes = 16384,
            .max_batch_messages = 64,
            .dedup_window_ms = 24LL * 3600 * 1000,
            .dedup_max_entries = 1000,
            .session_timeout_ms = 30 * 60 * 1000,
            .ip_mode = ip_mode,
        };
        pipelines[ip_mode] = ingest_new(NULL, &cfg);
    }
    return pipelines[ip_mode];
}

/* Compresses in with the given zlib windowBits (31 gzip, 15 zlib, -15 raw)
 * into a malloc'd buffer. */
static unsigned char *compress_body(const uint8_t *in, size_t n, int window_bits, size_t *out_n)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    CHECK(deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    *out_n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* A header line from the input: NULL when empty. Advances *p past '\n'. */
static char *take_line(const uint8_t **p, const uint8_t *end, bool *ok)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl) {
        *ok = false;
        return NULL;
    }
    size_t len = (size_t)(nl - *p);
    char *s = NULL;
    if (len > 0) {
        s = malloc(len + 1);
        memcpy(s, *p, len);
        s[len] = '\0';
    }
    *p = nl + 1;
    return s;
}

static void check_json(const char *s, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(s, n);
    if (!j)
        fprintf(stderr, "fuzz_ingest: not JSON: %.*s\n", (int)(n > 2000 ? 2000 : n), s);
    CHECK(j != NULL);
    cJSON_Delete(j);
}

static void check_text(const char *s)
{
    if (s)
        CHECK(utf8_valid(s, strlen(s), NULL));
}

/* Whether the raw key span k (quotes excluded) decodes to name. */
static bool key_decodes_to(struct json_span k, const char *name)
{
    char tmp[256];
    if (k.n + 2 > sizeof tmp)
        return false;
    long d = json_decode_string((struct json_span){k.p - 1, k.n + 2}, tmp);
    return d == (long)strlen(name) && memcmp(tmp, name, (size_t)d) == 0;
}

/* Every outer.inner member of the payload: null, or a string that is the
 * row's stored IP (want_ip, when known) or, for a dead letter (want_ip
 * NULL), an address already in its stored form under mode.
 * Duplicates included, also when the first one is absent or null (B1,
 * fixed: docs/fuzzing.md). */
static void check_ip_members(struct json_span msg, const char *outer, const char *inner, int mode,
                             const char *want_ip, bool is_row)
{
    if (mode == IP_MODE_FULL)
        return;
    struct json_iter top, in;
    struct json_span k, v, k2, v2;
    if (json_iter_begin(&top, msg.p, msg.n, '{'))
        return;
    int outer_seen = 0;
    while (json_iter_member(&top, &k, &v, NULL) == 1) {
        if (!key_decodes_to(k, outer))
            continue;
        outer_seen++;
        if (v.p[0] != '{')
            continue;
        CHECK(json_iter_begin(&in, v.p, v.n, '{') == 0);
        int inner_seen = 0;
        while (json_iter_member(&in, &k2, &v2, NULL) == 1) {
            if (!key_decodes_to(k2, inner))
                continue;
            inner_seen++;
            bool is_null = v2.n == 4 && memcmp(v2.p, "null", 4) == 0;
            if (is_null)
                continue;
            char ip[IP_TEXT_MAX + 8];
            bool is_str = v2.p[0] == '"' && v2.n - 2 < sizeof ip;
            if (is_str) {
                memcpy(ip, v2.p + 1, v2.n - 2);
                ip[v2.n - 2] = '\0';
            }
            bool ok;
            if (is_row) {
                ok = is_str && want_ip && !strcmp(ip, want_ip);
            } else {
                char again[IP_TEXT_MAX];
                ok = is_str && mode == IP_MODE_ANONYMIZE &&
                     ip_anonymize(ip, strlen(ip), again) == 0 && !strcmp(again, ip);
            }
            if (ok)
                continue;
            fprintf(stderr, "fuzz_ingest: %s%s.%s kept as %.*s (stored ip %s, mode %d)\n",
                    is_row ? "" : "dead letter ", outer, inner, (int)(v2.n > 80 ? 80 : v2.n), v2.p,
                    want_ip ? want_ip : "NULL", mode);
            CHECK(ok);
        }
    }
}

/* Reasons for which the message could not be read, so its dead letter keeps
 * the bytes as sent (normalize.c: "when it can be read"). */
static bool unreadable_reason(const char *code)
{
    static const char *const codes[] = {"message_too_large", "too_deep",      "invalid_utf8",
                                        "control_character", "nul_character", "not_an_object",
                                        "invalid_json"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(code, codes[i]))
            return true;
    return false;
}

static void check_batch(struct ingest_batch *b, int mode)
{
    bool posthog = b->req.format == INGEST_FORMAT_POSTHOG;
    const char *outer = posthog ? "properties" : "context";
    const char *inner = posthog ? "$ip" : "ip";
    CHECK(b->n_msgs + b->n_rejects == b->n_spans);
    CHECK(b->n_rejects == b->n_dead);
    for (size_t i = 0; i < b->n_msgs; i++) {
        const struct store_event *e = &b->msgs[i].row;
        CHECK(e->type && ingest_type_parse(e->type, strlen(e->type)) != INGEST_TYPE_FROM_BODY);
        CHECK(e->message_id && e->message_id[0]);
        CHECK(e->user_id || e->anonymous_id);
        CHECK(!e->user_id || (e->user_id[0] && strlen(e->user_id) <= INGEST_MAX_ID_LEN));
        CHECK(!e->anonymous_id ||
              (e->anonymous_id[0] && strlen(e->anonymous_id) <= INGEST_MAX_ID_LEN));
        CHECK(e->timestamp >= 0 && e->timestamp <= e->received_at);
        CHECK(e->received_at == RECEIVED_AT);
        check_text(e->message_id);
        check_text(e->event);
        check_text(e->user_id);
        check_text(e->anonymous_id);
        check_text(e->session_id);
        check_text(e->path);
        check_text(e->device_class);
        check_text(e->browser);
        check_text(e->os);
        check_text(e->ip);
        size_t end = 0;
        struct json_scan_info info = {0, 0};
        CHECK(e->payload && e->payload[0] == '{');
        CHECK(json_skip_value(e->payload, e->payload_len, &end, &info) == 0);
        CHECK(end == e->payload_len);
        CHECK(utf8_valid(e->payload, e->payload_len, NULL));
        check_ip_members((struct json_span){e->payload, e->payload_len}, outer, inner, mode, e->ip,
                         true);
    }
    for (size_t i = 0; i < b->n_dead; i++) {
        const struct store_dead_letter *d = &b->dead[i];
        CHECK(d->reason && d->context_json);
        check_json(d->context_json, strlen(d->context_json));
        if (!unreadable_reason(d->reason))
            check_ip_members((struct json_span){d->raw, d->raw_len}, outer, inner, mode, NULL,
                             false);
        struct buf out = BUF_INIT;
        ingest_dead_letter_json(&out, d);
        check_json(out.data, out.len);
        buf_free(&out);
    }
}

/* A body that parsed holds valid UTF-8 outside its messages (ingest.c:
 * "outside every message it spoils the request"), also after an invalid
 * byte inside a message (B2, fixed: docs/fuzzing.md). */
static void check_utf8_outside(const struct ingest_batch *b)
{
    const char *s = b->body.data, *end = b->body.data + b->body.len, *at = s;
    for (size_t k = 0; k <= b->n_spans; k++) {
        const char *next = k < b->n_spans ? b->spans[k].p : end;
        if (next > at && !utf8_valid(at, (size_t)(next - at), NULL)) {
            fprintf(stderr, "fuzz_ingest: invalid UTF-8 outside the messages accepted\n");
            CHECK(0);
        }
        if (k < b->n_spans)
            at = b->spans[k].p + b->spans[k].n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const labels[] = {NULL,      NULL,      "gzip",    "gzip",
                                         "deflate", "deflate", "deflate", "br"};
    static const int mode_of[] = {IP_MODE_ANONYMIZE, IP_MODE_FULL, IP_MODE_NONE, IP_MODE_ANONYMIZE};
    if (size < 2)
        return 0;
    uint8_t route = data[0], opts = data[1];
    const uint8_t *p = data + 2, *end = data + size;
    int encoding = opts & 7;
    int mode = mode_of[(opts >> 3) & 3];

    char *ua = NULL, *ip = NULL, *sent_at = NULL;
    bool headers = opts & 0x20;
    if (headers) {
        bool ok = true;
        ua = take_line(&p, end, &ok);
        if (ok)
            ip = take_line(&p, end, &ok);
        if (ok)
            sent_at = take_line(&p, end, &ok);
    }

    struct ingest_request req = {
        .format = (route & 1) ? INGEST_FORMAT_POSTHOG : INGEST_FORMAT_SEGMENT,
        .batch = (route & 2) != 0,
        .route = "/fuzz",
        .request_id = "req-fuzz",
        .content_encoding = labels[encoding],
        .header_sent_at = sent_at,
        .user_agent = ua,
        .client_ip = headers ? ip : "198.51.100.23",
        .received_at = RECEIVED_AT,
    };
    if (req.format == INGEST_FORMAT_SEGMENT && !req.batch)
        req.type = (enum ingest_type)(((route >> 2) & 7) % INGEST_TYPE_COUNT);
    else
        req.type = INGEST_TYPE_FROM_BODY;

    const uint8_t *body = p;
    size_t body_n = (size_t)(end - p);
    unsigned char *packed = NULL;
    if (encoding == 1 || encoding == 2)
        packed = compress_body(body, body_n, 15 + 16, &body_n);
    else if (encoding == 5)
        packed = compress_body(body, body_n, 15, &body_n);
    else if (encoding == 6)
        packed = compress_body(body, body_n, -15, &body_n);
    if (packed)
        body = packed;

    struct ingest_batch *b = ingest_batch_new(pipeline(mode), &req);
    struct ingest_error err;
    memset(&err, 0, sizeof err);
    int rc;
    if (opts & 0x40) {
        struct buf taken = BUF_INIT;
        buf_append(&taken, body, body_n);
        rc = ingest_batch_decode_take(b, &taken, &err);
        buf_free(&taken);
    } else {
        rc = ingest_batch_decode(b, body, body_n, &err);
    }
    if (rc == 0)
        rc = ingest_batch_parse(b, &err);

    struct buf answer = BUF_INIT;
    if (rc) {
        CHECK(err.status >= 400 && err.code != NULL);
        if (err.status == 400 || err.status == 415) {
            ingest_batch_reject_request(b, 1, &err);
            check_json(b->dead[0].context_json, strlen(b->dead[0].context_json));
            struct buf dl = BUF_INIT;
            ingest_dead_letter_json(&dl, &b->dead[0]);
            check_json(dl.data, dl.len);
            buf_free(&dl);
        }
        ingest_error_response(&err, req.request_id, &answer);
    } else {
        check_utf8_outside(b);
        const char *key = ingest_batch_write_key(b);
        if (key)
            (void)strlen(key);
        ingest_batch_normalize(b, 1);
        check_batch(b, mode);
        struct ingest_counts c;
        ingest_batch_counts(b, &c);
        CHECK(c.accepted + c.rejected == ingest_batch_message_count(b));
        ingest_batch_response(b, &answer);
    }
    check_json(answer.data, answer.len);
    buf_free(&answer);

    ingest_batch_free(b);
    free(packed);
    free(ua);
    free(ip);
    free(sent_at);
    return 0;
}
