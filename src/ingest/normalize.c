/*
 * normalize.c - one message: validate it, map it to the stored row, enrich
 * it, or turn it into a dead letter with the reason.
 *
 * Validation, in order (the first failure is the reason given):
 *   size <= max_message_bytes; nesting <= 64; valid UTF-8; no raw control
 *   characters in strings; no \u0000; a JSON object; a known type (batch
 *   routes); the known fields' types; userId or anonymousId (absent, null
 *   and "" all mean missing); `event` for track, `groupId` for group,
 *   `previousId` for alias; parseable times. Unknown fields are kept.
 *
 * PostHog events are mapped onto the same row: uuid -> messageId, $pageview
 * -> page, $screen -> screen, $identify -> identify, $create_alias -> alias,
 * $groupidentify -> group, anything else -> track; distinct_id is the userId
 * when the event says the person is identified ($user_id, $is_identified, or
 * a server SDK), else the anonymousId ($device_id first).
 *
 * Reading a message: no tree is built. The batch's structural scan (ingest.c)
 * already checked the message's syntax and recorded its flags and depth;
 * extract() then walks the message once and records where the known fields
 * are (struct jv: a span of the text), descending only into the objects that
 * hold known fields (context, context.page, properties). Strings are decoded
 * into the batch arena only when a row needs them. The rules are those of
 * the cJSON tree this replaces, kept exactly:
 *   - the first of two members with the same name counts (cJSON's lookup);
 *   - keys are compared decoded ("\u0069p" is ip);
 *   - a message cJSON could not parse (an invalid \u surrogate escape: the
 *     scanner flags it) is invalid_json;
 *   - numbers are read with strtod over their whole text, as cJSON does.
 */

#include "ingest/ingest_internal.h"

#include "common/random.h"
#include "common/timefmt.h"
#include "common/utf8.h"
#include "common/util.h"
#include "config/config.h"
#include "ingest/ip.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A validation failure: code, offending field (relative to the message) and
 * a sentence. */
struct failure {
    const char *code;
    const char *field;
    char detail[200];
};

static int fail(struct failure *f, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct failure *f, const char *code, const char *field, const char *fmt, ...)
{
    f->code = code;
    f->field = field;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *field_path(struct ingest_batch *b, size_t index, const char *field)
{
    char tmp[256];
    if (b->n_spans > 1 || b->req.batch)
        snprintf(tmp, sizeof tmp, "%s[%zu]%s%s",
                 b->req.format == INGEST_FORMAT_POSTHOG && !b->req.batch ? "" : "batch", index,
                 field && *field ? "." : "", field ? field : "");
    else
        snprintf(tmp, sizeof tmp, "%s", field ? field : "");
    return arena_strdup(&b->arena, tmp);
}

const char *ingest_build_context_json(struct ingest_batch *b)
{
    if (b->context_json)
        return b->context_json;
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"format\":");
    json_str(&out, b->req.format == INGEST_FORMAT_POSTHOG ? "posthog" : "segment");
    buf_puts(&out, ",\"type\":");
    json_str(&out, b->req.type == INGEST_TYPE_FROM_BODY ? NULL : ingest_type_name(b->req.type));
    buf_puts(&out, ",\"batch\":");
    buf_puts(&out, b->req.batch ? "true" : "false");
    buf_puts(&out, ",\"sent_at\":");
    json_time(&out, b->batch_sent_at);
    buf_puts(&out, ",\"header_sent_at\":");
    json_str(&out, b->req.header_sent_at);
    buf_puts(&out, ",\"historical\":");
    buf_puts(&out, b->historical ? "true" : "false");
    buf_puts(&out, ",\"user_agent\":");
    json_str(&out, b->req.user_agent);
    /* The client IP obeys ip_mode like everything else stored. */
    char ip[IP_TEXT_MAX];
    const char *stored_ip = NULL;
    if (b->req.client_ip && b->ig->cfg.ip_mode != IP_MODE_NONE) {
        int rc = b->ig->cfg.ip_mode == IP_MODE_FULL
                     ? ip_normalize(b->req.client_ip, strlen(b->req.client_ip), ip)
                     : ip_anonymize(b->req.client_ip, strlen(b->req.client_ip), ip);
        if (rc == 0)
            stored_ip = ip;
    }
    buf_puts(&out, ",\"ip\":");
    json_str(&out, stored_ip);
    buf_putc(&out, '}');
    b->context_json = arena_strndup(&b->arena, out.data, out.len);
    buf_free(&out);
    return b->context_json;
}

void ingest_add_reject(struct ingest_batch *b, size_t index, struct json_span raw, const char *code,
                       const char *field, const char *detail)
{
    if (!b->rejects) {
        b->rejects = arena_alloc(&b->arena, b->n_spans * sizeof *b->rejects);
        b->dead = arena_zalloc(&b->arena, b->n_spans * sizeof *b->dead);
    }
    struct ingest_reject *r = &b->rejects[b->n_rejects++];
    r->index = index;
    r->code = code;
    r->field = field;
    r->detail = arena_strdup(&b->arena, detail);
    struct store_dead_letter *d = &b->dead[b->n_dead++];
    d->project_id = b->project_id;
    d->received_at = b->req.received_at;
    d->request_id = b->req.request_id;
    d->route = b->req.route;
    d->kind = "message";
    d->reason = code;
    d->field = field;
    d->detail = r->detail;
    d->context_json = ingest_build_context_json(b);
    d->raw = raw.p;
    d->raw_len = raw.n;
}

/* ------------------------------------------------------------------------ */
/* values in the message text                                               */

/* A value of the message: its span in the text, p == NULL when absent. The
 * first byte tells the type (the message was checked to be valid JSON). */
struct jv {
    const char *p;
    size_t n;
};

static bool present(struct jv v)
{
    return v.p && v.p[0] != 'n';
}

static bool is_string(struct jv v)
{
    return v.p && v.p[0] == '"';
}

static bool is_object(struct jv v)
{
    return v.p && v.p[0] == '{';
}

static bool is_number(struct jv v)
{
    return v.p && (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9'));
}

static bool is_true(struct jv v)
{
    return v.p && v.p[0] == 't';
}

/* The number's value as cJSON read it: strtod over its whole text. */
static double number_value(struct jv v)
{
    char tmp[64];
    if (v.n >= sizeof tmp) {
        char *copy = xmalloc(v.n + 1);
        memcpy(copy, v.p, v.n);
        copy[v.n] = '\0';
        double d = strtod(copy, NULL);
        free(copy);
        return d;
    }
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    return strtod(tmp, NULL);
}

/* The decoded text of a string value, in the batch arena, and its length.
 * Strings hold no NUL (\u0000 was refused) and no invalid escape. */
static const char *string_value(struct ingest_batch *b, struct jv v, size_t *len)
{
    const char *body = v.p + 1;
    size_t n = v.n - 2;
    if (!memchr(body, '\\', n)) {
        *len = n;
        return arena_strndup(&b->arena, body, n);
    }
    char *out = arena_alloc(&b->arena, v.n);
    long k = json_decode_string((struct json_span){v.p, v.n}, out);
    if (k < 0) {
        out[0] = '\0';
        k = 0;
    }
    *len = (size_t)k;
    return out;
}

/* ------------------------------------------------------------------------ */
/* the known fields                                                          */

enum field {
    /* the message */
    F_TYPE,
    F_EVENT,
    F_NAME,
    F_CATEGORY,
    F_USER_ID,
    F_ANONYMOUS_ID,
    F_MESSAGE_ID,
    F_GROUP_ID,
    F_PREVIOUS_ID,
    F_TIMESTAMP,
    F_ORIGINAL_TIMESTAMP,
    F_SENT_AT,
    F_PROPERTIES,
    F_TRAITS,
    F_CONTEXT,
    F_INTEGRATIONS,
    F_DISTINCT_ID,
    F_UUID,
    F_OFFSET,
    /* context.* */
    F_CTX_PAGE,
    F_CTX_TRAITS,
    F_CTX_USER_AGENT,
    F_CTX_IP,
    F_CTX_SESSION_ID,
    F_CTX_SESSION_ID_SNAKE,
    /* context.page.* */
    F_PAGE_PATH,
    F_PAGE_URL,
    /* properties.* */
    F_PROP_PATH,
    F_PROP_URL,
    F_PROP_SESSION_ID,
    F_PROP_TITLE,
    F_PROP_DISTINCT_ID,
    F_PROP_USER_ID,
    F_PROP_DEVICE_ID,
    F_PROP_IS_IDENTIFIED,
    F_PROP_IS_SERVER,
    F_PROP_PATHNAME,
    F_PROP_CURRENT_URL,
    F_PROP_RAW_USER_AGENT,
    F_PROP_IP,
    F_COUNT
};

/* The members looked for in one object; `into` names the table of a member
 * whose object value holds known fields too (-1: none). */
struct key {
    const char *name;
    unsigned char len;
    unsigned char field;
    signed char into;
};

enum table {
    T_SEGMENT,
    T_SEGMENT_CONTEXT,
    T_SEGMENT_PAGE,
    T_SEGMENT_PROPS,
    T_POSTHOG,
    T_POSTHOG_PROPS
};

/* clang-format off */
#define KEY(s, f, t) {s, sizeof s - 1, f, t}

static const struct key segment_keys[] = {
    KEY("type", F_TYPE, -1),
    KEY("event", F_EVENT, -1),
    KEY("name", F_NAME, -1),
    KEY("category", F_CATEGORY, -1),
    KEY("userId", F_USER_ID, -1),
    KEY("anonymousId", F_ANONYMOUS_ID, -1),
    KEY("messageId", F_MESSAGE_ID, -1),
    KEY("groupId", F_GROUP_ID, -1),
    KEY("previousId", F_PREVIOUS_ID, -1),
    KEY("timestamp", F_TIMESTAMP, -1),
    KEY("originalTimestamp", F_ORIGINAL_TIMESTAMP, -1),
    KEY("sentAt", F_SENT_AT, -1),
    KEY("properties", F_PROPERTIES, T_SEGMENT_PROPS),
    KEY("traits", F_TRAITS, -1),
    KEY("context", F_CONTEXT, T_SEGMENT_CONTEXT),
    KEY("integrations", F_INTEGRATIONS, -1),
};
static const struct key segment_context_keys[] = {
    KEY("page", F_CTX_PAGE, T_SEGMENT_PAGE),
    KEY("traits", F_CTX_TRAITS, -1),
    KEY("userAgent", F_CTX_USER_AGENT, -1),
    KEY("ip", F_CTX_IP, -1),
    KEY("sessionId", F_CTX_SESSION_ID, -1),
    KEY("session_id", F_CTX_SESSION_ID_SNAKE, -1),
};
static const struct key segment_page_keys[] = {
    KEY("path", F_PAGE_PATH, -1),
    KEY("url", F_PAGE_URL, -1),
};
static const struct key segment_props_keys[] = {
    KEY("path", F_PROP_PATH, -1),
    KEY("url", F_PROP_URL, -1),
    KEY("$session_id", F_PROP_SESSION_ID, -1),
};
static const struct key posthog_keys[] = {
    KEY("event", F_EVENT, -1),
    KEY("properties", F_PROPERTIES, T_POSTHOG_PROPS),
    KEY("distinct_id", F_DISTINCT_ID, -1),
    KEY("uuid", F_UUID, -1),
    KEY("timestamp", F_TIMESTAMP, -1),
    KEY("offset", F_OFFSET, -1),
};
static const struct key posthog_props_keys[] = {
    KEY("title", F_PROP_TITLE, -1),
    KEY("distinct_id", F_PROP_DISTINCT_ID, -1),
    KEY("$user_id", F_PROP_USER_ID, -1),
    KEY("$device_id", F_PROP_DEVICE_ID, -1),
    KEY("$is_identified", F_PROP_IS_IDENTIFIED, -1),
    KEY("$is_server", F_PROP_IS_SERVER, -1),
    KEY("$session_id", F_PROP_SESSION_ID, -1),
    KEY("$pathname", F_PROP_PATHNAME, -1),
    KEY("$current_url", F_PROP_CURRENT_URL, -1),
    KEY("$raw_user_agent", F_PROP_RAW_USER_AGENT, -1),
    KEY("$ip", F_PROP_IP, -1),
};
/* clang-format on */

static const struct {
    const struct key *keys;
    size_t n;
} tables[] = {
    [T_SEGMENT] = {segment_keys, ARRAY_LEN(segment_keys)},
    [T_SEGMENT_CONTEXT] = {segment_context_keys, ARRAY_LEN(segment_context_keys)},
    [T_SEGMENT_PAGE] = {segment_page_keys, ARRAY_LEN(segment_page_keys)},
    [T_SEGMENT_PROPS] = {segment_props_keys, ARRAY_LEN(segment_props_keys)},
    [T_POSTHOG] = {posthog_keys, ARRAY_LEN(posthog_keys)},
    [T_POSTHOG_PROPS] = {posthog_props_keys, ARRAY_LEN(posthog_props_keys)},
};

/* Longest escaped spelling of a known key worth decoding ("\u0024..." for
 * each of its 17 characters at most). */
#define MAX_ESCAPED_KEY 128

/* Whether the raw key k (quotes excluded) is `name`, comparing decoded text. */
static bool key_is(struct json_span k, const char *name, size_t len)
{
    if (k.n == len && memcmp(k.p, name, len) == 0)
        return true;
    if (k.n <= len || k.n + 2 > MAX_ESCAPED_KEY || !memchr(k.p, '\\', k.n))
        return false;
    char tmp[MAX_ESCAPED_KEY];
    long d = json_decode_string((struct json_span){k.p - 1, k.n + 2}, tmp);
    return d == (long)len && memcmp(tmp, name, len) == 0;
}

static const struct key *find_key(enum table t, struct json_span k)
{
    const struct key *keys = tables[t].keys;
    bool escaped = memchr(k.p, '\\', k.n) != NULL;
    for (size_t i = 0; i < tables[t].n; i++) {
        if (escaped ? key_is(k, keys[i].name, keys[i].len)
                    : (k.n == keys[i].len && memcmp(k.p, keys[i].name, k.n) == 0))
            return &keys[i];
    }
    return NULL;
}

/* Walks the object at s (n bytes available from s; it may end before) once,
 * recording the first member of each known name in out[] and descending into
 * the objects of the first ones that hold known fields. Returns the bytes of
 * the object. The text was checked to be valid JSON before. */
static size_t extract(const char *s, size_t n, enum table t, struct jv *out)
{
    struct json_iter it;
    if (json_iter_begin(&it, s, n, '{'))
        return 0;
    struct json_span k, v;
    while (json_iter_next_key(&it, &k, NULL) == 1) {
        const struct key *key = find_key(t, k);
        if (key && !out[key->field].p) {
            if (key->into >= 0 && it.s[it.i] == '{') {
                size_t start = it.i;
                it.i += extract(it.s + start, it.n - start, (enum table)key->into, out);
                out[key->field] = (struct jv){it.s + start, it.i - start};
                continue;
            }
            if (json_iter_value(&it, &v, NULL) != 1)
                break;
            out[key->field] = (struct jv){v.p, v.n};
            continue;
        }
        if (json_iter_value(&it, &v, NULL) != 1)
            break;
    }
    return it.i;
}

/* ------------------------------------------------------------------------ */
/* field helpers                                                             */

/* An id: a non-empty string or a number. NULL result means missing. */
static int get_id(struct ingest_batch *b, struct jv v, const char *field, const char **out,
                  struct failure *f)
{
    *out = NULL;
    if (!present(v))
        return 0;
    if (is_string(v)) {
        size_t len;
        const char *s = string_value(b, v, &len);
        if (len == 0)
            return 0;
        if (len > INGEST_MAX_ID_LEN)
            return fail(f, "field_too_long", field, "%s is %zu characters; at most %d", field, len,
                        INGEST_MAX_ID_LEN);
        *out = s;
        return 0;
    }
    if (is_number(v)) {
        double d = number_value(v);
        if (!isfinite(d))
            return fail(f, "wrong_type", field, "%s is a number out of range", field);
        char tmp[40];
        if (d == floor(d) && fabs(d) < 9.2e18)
            snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        else
            snprintf(tmp, sizeof tmp, "%.17g", d);
        *out = arena_strdup(&b->arena, tmp);
        return 0;
    }
    return fail(f, "wrong_type", field, "%s must be a string", field);
}

static int get_string(struct ingest_batch *b, struct jv v, const char *field, const char **out,
                      struct failure *f)
{
    *out = NULL;
    if (!present(v))
        return 0;
    if (!is_string(v))
        return fail(f, "wrong_type", field, "%s must be a string", field);
    size_t len;
    *out = string_value(b, v, &len);
    return 0;
}

static int check_object(struct jv v, const char *field, struct failure *f)
{
    if (present(v) && !is_object(v))
        return fail(f, "wrong_type", field, "%s must be an object", field);
    return 0;
}

/* A time: an ISO-8601 string. -1 when absent. */
static int get_time(struct ingest_batch *b, struct jv v, const char *field, int64_t *out,
                    struct failure *f)
{
    *out = -1;
    if (!present(v))
        return 0;
    if (!is_string(v))
        return fail(f, "wrong_type", field, "%s must be an ISO-8601 date string", field);
    const char *s = v.p + 1;
    size_t len = v.n - 2;
    if (memchr(s, '\\', len))
        s = string_value(b, v, &len);
    if (timefmt_parse_iso(s, len, out))
        return fail(f, "invalid_timestamp", field,
                    "%s '%.*s' is not an ISO-8601 date-time after 1970", field,
                    (int)(len < 40 ? len : 40), s);
    return 0;
}

static const char *path_from_url(struct ingest_batch *b, const char *url)
{
    if (!url)
        return NULL;
    const char *p = strstr(url, "://");
    if (p) {
        p = strchr(p + 3, '/');
        if (!p)
            return arena_strdup(&b->arena, "/");
    } else if (url[0] == '/') {
        p = url;
    } else {
        return NULL;
    }
    size_t n = strcspn(p, "?#");
    return arena_strndup(&b->arena, p, n);
}

/* Applies the time rules (see ingest.h). */
static void set_times(struct ingest_batch *b, struct store_event *row, int64_t timestamp,
                      int64_t original, int64_t sent_at)
{
    int64_t received = b->req.received_at;
    if (sent_at < 0)
        sent_at = b->batch_sent_at;
    if (sent_at < 0 && b->req.header_sent_at) {
        if (b->header_sent_at_ms == INT64_MIN) {
            int64_t t;
            b->header_sent_at_ms =
                timefmt_parse_iso(b->req.header_sent_at, strlen(b->req.header_sent_at), &t) == 0
                    ? t
                    : -1;
        }
        if (b->header_sent_at_ms >= 0)
            sent_at = b->header_sent_at_ms;
    }
    row->original_timestamp = original;
    row->sent_at = sent_at;
    row->received_at = received;
    int64_t ts;
    if (timestamp >= 0)
        ts = timestamp;
    else if (original >= 0 && sent_at >= 0)
        ts = received - (sent_at - original);
    else
        ts = received;
    if (ts > received)
        ts = received;
    if (ts < 0)
        ts = 0;
    row->timestamp = ts;
}

static void set_user_agent(struct ingest_batch *b, struct store_event *row, const char *ua)
{
    if (!ua)
        ua = b->req.user_agent;
    size_t n = ua ? strlen(ua) : 0;
    if (!(b->ua_cache_key && n == b->ua_cache_len && memcmp(ua, b->ua_cache_key, n) == 0)) {
        useragent_parse(ua, n, &b->ua_cache);
        b->ua_cache_key = ua;
        b->ua_cache_len = n;
    }
    row->device_class = b->ua_cache.device_class;
    row->browser = b->ua_cache.browser;
    row->os = b->ua_cache.os;
}

/* ------------------------------------------------------------------------ */
/* IP handling and payload rewriting                                         */

/* Replaces the value of every outer.inner member in msg with `replacement`
 * (JSON text): duplicated keys included, since JSON readers disagree on
 * which of two equal keys wins and none may keep the original. Keys are
 * compared decoded. False if no such member is in the text. */
static bool rewrite_member(struct ingest_batch *b, struct json_span msg, const char *outer,
                           const char *inner, const char *replacement, struct json_span *out)
{
    struct json_iter top, in;
    struct json_span k, v, k2, v2;
    if (json_iter_begin(&top, msg.p, msg.n, '{'))
        return false;
    struct buf o = BUF_INIT;
    const char *copied = msg.p; /* everything before this is in o */
    size_t olen = strlen(outer), ilen = strlen(inner);
    bool any = false;
    while (json_iter_member(&top, &k, &v, NULL) == 1) {
        if (v.p[0] != '{' || !key_is(k, outer, olen))
            continue;
        if (json_iter_begin(&in, v.p, v.n, '{'))
            continue;
        while (json_iter_member(&in, &k2, &v2, NULL) == 1) {
            if (!key_is(k2, inner, ilen))
                continue;
            buf_append(&o, copied, (size_t)(v2.p - copied));
            buf_puts(&o, replacement);
            copied = v2.p + v2.n;
            any = true;
        }
    }
    if (!any) {
        buf_free(&o);
        return false;
    }
    buf_append(&o, copied, (size_t)(msg.p + msg.n - copied));
    out->p = arena_strndup(&b->arena, o.data, o.len);
    out->n = o.len;
    buf_free(&o);
    return true;
}

/* Decides the stored IP and, when the payload carries one (ipobj.ipkey,
 * found by extract() as payload_ip), rewrites it per ip_mode. Returns the
 * payload span to store. */
static struct json_span handle_ip(struct ingest_batch *b, struct json_span msg,
                                  struct jv payload_ip, const char *ipobj, const char *ipkey,
                                  struct store_event *row)
{
    int mode = b->ig->cfg.ip_mode;
    const char *src = b->req.client_ip;
    size_t src_len = src ? strlen(src) : 0;
    if (is_string(payload_ip))
        src = string_value(b, payload_ip, &src_len);
    char ip[IP_TEXT_MAX];
    row->ip = NULL;
    if (src && mode != IP_MODE_NONE) {
        int rc =
            mode == IP_MODE_FULL ? ip_normalize(src, src_len, ip) : ip_anonymize(src, src_len, ip);
        if (rc == 0)
            row->ip = arena_strdup(&b->arena, ip);
    }
    if (mode == IP_MODE_FULL)
        return msg;
    /* The first member read is absent or null, but a later duplicate (of
     * the object or of the key) may hold an address, and JSON readers that
     * keep the last duplicate would read it: rewrite unless the text cannot
     * hold one (no `"ip"` and no escape anywhere: one memmem in the common
     * case). */
    if (!present(payload_ip)) {
        char quoted[16];
        int qn = snprintf(quoted, sizeof quoted, "\"%s\"", ipkey);
        if (!memmem(msg.p, msg.n, quoted, (size_t)qn) && !memchr(msg.p, '\\', msg.n))
            return msg;
    }
    /* The payload's own copy must not keep more than the column does. */
    char replacement[IP_TEXT_MAX + 2];
    if (row->ip && is_string(payload_ip))
        snprintf(replacement, sizeof replacement, "\"%s\"", row->ip);
    else
        snprintf(replacement, sizeof replacement, "null");
    struct json_span out;
    if (rewrite_member(b, msg, ipobj, ipkey, replacement, &out))
        return out;
    return msg; /* no such member after all */
}

/* ------------------------------------------------------------------------ */
/* Segment                                                                   */

/* The known fields and the JSON types they must have (docs/ingest.md). */
enum kind_of { K_OBJECT, K_STRING, K_ID, K_TIME };

static const struct {
    enum field field;
    const char *path; /* for messages */
    enum kind_of kind;
} known_fields[] = {
    {F_PROPERTIES, "properties", K_OBJECT},
    {F_TRAITS, "traits", K_OBJECT},
    {F_CONTEXT, "context", K_OBJECT},
    {F_INTEGRATIONS, "integrations", K_OBJECT},
    {F_CTX_PAGE, "context.page", K_OBJECT},
    {F_CTX_TRAITS, "context.traits", K_OBJECT},
    {F_EVENT, "event", K_STRING},
    {F_NAME, "name", K_STRING},
    {F_CATEGORY, "category", K_STRING},
    {F_CTX_USER_AGENT, "context.userAgent", K_STRING},
    {F_CTX_IP, "context.ip", K_STRING},
    {F_PAGE_PATH, "context.page.path", K_STRING},
    {F_PAGE_URL, "context.page.url", K_STRING},
    {F_USER_ID, "userId", K_ID},
    {F_ANONYMOUS_ID, "anonymousId", K_ID},
    {F_MESSAGE_ID, "messageId", K_ID},
    {F_GROUP_ID, "groupId", K_ID},
    {F_PREVIOUS_ID, "previousId", K_ID},
    {F_CTX_SESSION_ID, "context.sessionId", K_ID},
    {F_CTX_SESSION_ID_SNAKE, "context.session_id", K_ID},
    {F_TIMESTAMP, "timestamp", K_TIME},
    {F_ORIGINAL_TIMESTAMP, "originalTimestamp", K_TIME},
    {F_SENT_AT, "sentAt", K_TIME},
};

/* Phase 2 of validation: every known field present has its JSON type. */
static int check_types(const struct jv *fv, struct failure *f)
{
    for (size_t i = 0; i < ARRAY_LEN(known_fields); i++) {
        struct jv v = fv[known_fields[i].field];
        if (!present(v))
            continue;
        const char *path = known_fields[i].path;
        switch (known_fields[i].kind) {
        case K_OBJECT:
            if (!is_object(v))
                return fail(f, "wrong_type", path, "%s must be an object", path);
            break;
        case K_STRING:
            if (!is_string(v))
                return fail(f, "wrong_type", path, "%s must be a string", path);
            break;
        case K_ID:
            if (!is_string(v) && !(is_number(v) && isfinite(number_value(v))))
                return fail(f, "wrong_type", path, "%s must be a string", path);
            break;
        case K_TIME:
            if (!is_string(v))
                return fail(f, "wrong_type", path, "%s must be an ISO-8601 date string", path);
            break;
        }
    }
    return 0;
}

static int normalize_segment(struct ingest_batch *b, const struct jv *fv, struct ingest_msg *m,
                             struct failure *f)
{
    struct store_event *row = &m->row;
    /* 1. the type */
    enum ingest_type type = b->req.type;
    if (type == INGEST_TYPE_FROM_BODY) {
        struct jv t = fv[F_TYPE];
        if (!present(t))
            return fail(f, "missing_field", "type",
                        "type is required in a batch (track, page, screen, identify, group, "
                        "alias)");
        if (!is_string(t))
            return fail(f, "wrong_type", "type", "type must be a string");
        size_t len;
        const char *name = string_value(b, t, &len);
        type = ingest_type_parse(name, len);
        if (type == INGEST_TYPE_FROM_BODY)
            return fail(f, "invalid_type", "type",
                        "type '%.40s' is not one of track, page, screen, identify, group, alias",
                        name);
    }
    row->type = ingest_type_name(type);

    /* 2. the types of the known fields */
    if (check_types(fv, f))
        return -1;

    /* 3. who (values; lengths are checked last) */
    struct failure late = {0};
    if (get_id(b, fv[F_USER_ID], "userId", &row->user_id, &late) && !late.code)
        return -1;
    struct failure late2 = {0};
    get_id(b, fv[F_ANONYMOUS_ID], "anonymousId", &row->anonymous_id, &late2);
    if (!late.code && late2.code)
        late = late2;
    bool too_long_id = late.code != NULL;
    if (!row->user_id && !row->anonymous_id && !too_long_id)
        return fail(f, "missing_id", "userId",
                    "userId or anonymousId is required (absent, null and \"\" all count as "
                    "missing)");

    /* 4. what each type requires */
    const char *group_id = NULL, *previous = NULL;
    struct failure late3 = {0};
    switch (type) {
    case INGEST_TRACK:
        get_string(b, fv[F_EVENT], "event", &row->event, f);
        if (!row->event || !row->event[0])
            return fail(f, "missing_field", "event", "event is required for track");
        break;
    case INGEST_PAGE:
    case INGEST_SCREEN:
        get_string(b, fv[F_NAME], "name", &row->event, f);
        break;
    case INGEST_GROUP:
        get_id(b, fv[F_GROUP_ID], "groupId", &group_id, &late3);
        if (!group_id && !late3.code)
            return fail(f, "missing_field", "groupId", "groupId is required for group");
        break;
    case INGEST_ALIAS:
        get_id(b, fv[F_PREVIOUS_ID], "previousId", &previous, &late3);
        if (!previous && !late3.code)
            return fail(f, "missing_field", "previousId", "previousId is required for alias");
        break;
    default:
        break;
    }

    /* 5. the times */
    int64_t ts, orig, sent;
    if (get_time(b, fv[F_TIMESTAMP], "timestamp", &ts, f) ||
        get_time(b, fv[F_ORIGINAL_TIMESTAMP], "originalTimestamp", &orig, f) ||
        get_time(b, fv[F_SENT_AT], "sentAt", &sent, f))
        return -1;

    /* 6. lengths */
    if (late.code) {
        *f = late;
        return -1;
    }
    if (late3.code) {
        *f = late3;
        return -1;
    }
    const char *message_id, *sid = NULL;
    if (get_id(b, fv[F_MESSAGE_ID], "messageId", &message_id, f))
        return -1;
    row->message_id = message_id;
    if (get_id(b, fv[F_CTX_SESSION_ID], "context.sessionId", &sid, f))
        return -1;
    if (!sid && get_id(b, fv[F_CTX_SESSION_ID_SNAKE], "context.session_id", &sid, f))
        return -1;
    size_t sid_len = sid ? strlen(sid) : 0;
    if (!sid && is_string(fv[F_PROP_SESSION_ID]))
        sid = string_value(b, fv[F_PROP_SESSION_ID], &sid_len);
    if (sid && sid_len > SESSION_ID_MAX * 8)
        return fail(f, "field_too_long", "context.sessionId", "context.sessionId is too long");

    set_times(b, row, ts, orig, sent);
    row->session_id = sid;

    /* Page path: the page's own for page views, else where the event happened. */
    const char *path = NULL, *url = NULL;
    const char *page_path = NULL, *page_url = NULL, *ua = NULL;
    get_string(b, fv[F_PAGE_PATH], "context.page.path", &page_path, f);
    get_string(b, fv[F_PAGE_URL], "context.page.url", &page_url, f);
    get_string(b, fv[F_CTX_USER_AGENT], "context.userAgent", &ua, f);
    if (type == INGEST_PAGE || type == INGEST_SCREEN) {
        size_t len;
        if (is_string(fv[F_PROP_PATH]))
            path = string_value(b, fv[F_PROP_PATH], &len);
        if (is_string(fv[F_PROP_URL]))
            url = string_value(b, fv[F_PROP_URL], &len);
    }
    if (!path)
        path = page_path;
    if (!path)
        path = path_from_url(b, url ? url : page_url);
    row->path = path;
    set_user_agent(b, row, ua);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* PostHog                                                                   */

static int normalize_posthog(struct ingest_batch *b, const struct jv *fv, struct ingest_msg *m,
                             struct failure *f)
{
    struct store_event *row = &m->row;
    const char *event;
    if (get_string(b, fv[F_EVENT], "event", &event, f))
        return -1;
    if (!event || !event[0])
        return fail(f, "missing_field", "event", "event is required");
    if (check_object(fv[F_PROPERTIES], "properties", f))
        return -1;

    enum ingest_type type = INGEST_TRACK;
    if (!strcmp(event, "$pageview"))
        type = INGEST_PAGE;
    else if (!strcmp(event, "$screen"))
        type = INGEST_SCREEN;
    else if (!strcmp(event, "$identify"))
        type = INGEST_IDENTIFY;
    else if (!strcmp(event, "$create_alias"))
        type = INGEST_ALIAS;
    else if (!strcmp(event, "$groupidentify"))
        type = INGEST_GROUP;
    row->type = ingest_type_name(type);
    row->event = type == INGEST_TRACK ? event : NULL;
    if (type == INGEST_PAGE || type == INGEST_SCREEN) {
        const char *title;
        if (get_string(b, fv[F_PROP_TITLE], "properties.title", &title, f) == 0)
            row->event = title;
    }

    const char *distinct, *user_id, *device_id;
    if (get_id(b, fv[F_DISTINCT_ID], "distinct_id", &distinct, f))
        return -1;
    if (!distinct && get_id(b, fv[F_PROP_DISTINCT_ID], "properties.distinct_id", &distinct, f))
        return -1;
    if (get_id(b, fv[F_PROP_USER_ID], "properties.$user_id", &user_id, f) ||
        get_id(b, fv[F_PROP_DEVICE_ID], "properties.$device_id", &device_id, f))
        return -1;
    bool identified = is_true(fv[F_PROP_IS_IDENTIFIED]) || is_true(fv[F_PROP_IS_SERVER]) ||
                      type == INGEST_IDENTIFY;
    row->user_id = user_id ? user_id : (identified ? distinct : NULL);
    row->anonymous_id = device_id ? device_id : (row->user_id ? NULL : distinct);
    if (!row->user_id && !row->anonymous_id)
        return fail(f, "missing_id", "distinct_id", "distinct_id is required");

    if (get_id(b, fv[F_UUID], "uuid", &row->message_id, f))
        return -1;

    int64_t ts;
    if (get_time(b, fv[F_TIMESTAMP], "timestamp", &ts, f))
        return -1;
    struct jv offset = fv[F_OFFSET];
    double offset_ms = is_number(offset) ? number_value(offset) : -1;
    if (ts < 0 && is_number(offset) && offset_ms >= 0)
        /* An offset reaching back before 1970 (or infinite) gives time 0. */
        set_times(b, row,
                  offset_ms >= (double)b->req.received_at ? 0
                                                          : b->req.received_at - (int64_t)offset_ms,
                  -1, -1);
    else if (ts >= 0 && b->batch_sent_at >= 0 && !b->historical)
        set_times(b, row, -1, ts, b->batch_sent_at); /* PostHog corrects client clocks */
    else
        set_times(b, row, ts, -1, -1);

    const char *sid = NULL;
    if (get_id(b, fv[F_PROP_SESSION_ID], "properties.$session_id", &sid, f))
        return -1;
    row->session_id = sid;
    const char *path = NULL, *url = NULL, *ua = NULL;
    if (get_string(b, fv[F_PROP_PATHNAME], "properties.$pathname", &path, f) ||
        get_string(b, fv[F_PROP_CURRENT_URL], "properties.$current_url", &url, f) ||
        get_string(b, fv[F_PROP_RAW_USER_AGENT], "properties.$raw_user_agent", &ua, f))
        return -1;
    row->path = path ? path : path_from_url(b, url);
    set_user_agent(b, row, ua);
    return 0;
}

/* ------------------------------------------------------------------------ */

/* A version 4 UUID from a per-thread generator (splitmix64, seeded from
 * getrandom() once per thread): ids for messages sent without a messageId
 * need to be unique, not unpredictable, and this avoids a system call per
 * message. */
static void fast_uuid(char out[37])
{
    static _Thread_local uint64_t state;
    if (state == 0)
        state = random_u64() | 1;
    unsigned char b[16];
    for (int half = 0; half < 2; half++) {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        memcpy(b + 8 * half, &z, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void ingest_normalize_message(struct ingest_batch *b, size_t index, struct json_span span,
                              const struct json_scan_info *scanned)
{
    struct failure f = {0};
    bool readable = false; /* the message could be read as a tree (cJSON's verdict) */
    struct jv fv[F_COUNT];
    struct json_scan_info info = {0, 0};
    bool posthog = b->req.format == INGEST_FORMAT_POSTHOG;
    size_t max = (size_t)b->ig->cfg.max_message_bytes;
    if (span.n > max) {
        fail(&f, "message_too_large", "", "the message is %zu bytes; the limit is %zu", span.n,
             max);
        goto reject;
    }
    if (scanned) {
        info = *scanned;
    } else {
        size_t i = 0;
        json_skip_value(span.p, span.n, &i, &info);
    }
    if (info.max_depth > INGEST_MAX_MESSAGE_DEPTH) {
        fail(&f, "too_deep", "", "the message is nested %d levels deep; at most %d", info.max_depth,
             INGEST_MAX_MESSAGE_DEPTH);
        goto reject;
    }
    size_t bad;
    if ((info.flags & JSON_SCAN_NON_ASCII) && !utf8_valid(span.p, span.n, &bad)) {
        fail(&f, "invalid_utf8", "", "invalid UTF-8 at byte %zu of the message", bad);
        goto reject;
    }
    if (info.flags & JSON_SCAN_CTRL_CHAR) {
        fail(&f, "control_character", "",
             "a string holds a raw control character; JSON requires it escaped");
        goto reject;
    }
    if (info.flags & JSON_SCAN_NUL_ESCAPE) {
        fail(&f, "nul_character", "", "a string holds \\u0000, which is not accepted");
        goto reject;
    }
    if (span.p[0] != '{') {
        fail(&f, "not_an_object", "", "a message must be a JSON object");
        goto reject;
    }
    if (info.flags & JSON_SCAN_BAD_SURROGATE) {
        fail(&f, "invalid_json", "", "the message could not be parsed");
        goto reject;
    }
    readable = true;
    memset(fv, 0, sizeof fv);
    extract(span.p, span.n, posthog ? T_POSTHOG : T_SEGMENT, fv);
    struct ingest_msg *m = &b->msgs[b->n_msgs];
    memset(m, 0, sizeof *m);
    m->index = index;
    m->row.project_id = b->project_id;
    int rc = posthog ? normalize_posthog(b, fv, m, &f) : normalize_segment(b, fv, m, &f);
    if (rc)
        goto reject;
    struct json_span payload = posthog
                                   ? handle_ip(b, span, fv[F_PROP_IP], "properties", "$ip", &m->row)
                                   : handle_ip(b, span, fv[F_CTX_IP], "context", "ip", &m->row);
    m->row.payload = payload.p;
    m->row.payload_len = payload.n;
    if (m->row.message_id) {
        m->has_key = true;
        m->key = dedup_key_make(b->project_id, m->row.message_id, strlen(m->row.message_id));
    } else {
        char uuid[37];
        fast_uuid(uuid);
        char id[48];
        snprintf(id, sizeof id, "jrn-%s", uuid);
        m->row.message_id = arena_strdup(&b->arena, id);
    }
    m->visitor = m->row.anonymous_id ? m->row.anonymous_id : m->row.user_id;
    b->n_msgs++;
    return;

reject:;
    /* The quarantined copy obeys ip_mode too, when it can be read. */
    struct json_span raw = span;
    if (readable) {
        struct store_event scratch = {0};
        raw = posthog ? handle_ip(b, span, fv[F_PROP_IP], "properties", "$ip", &scratch)
                      : handle_ip(b, span, fv[F_CTX_IP], "context", "ip", &scratch);
    }
    ingest_add_reject(b, index, raw, f.code, field_path(b, index, f.field), f.detail);
}
