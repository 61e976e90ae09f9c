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
#include <stdio.h>
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

void ingest_add_reject(struct ingest_batch *b, size_t index, struct json_span raw,
                       const char *code, const char *field, const char *detail)
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
/* field helpers                                                             */

static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static bool present(const cJSON *v)
{
    return v && !cJSON_IsNull(v);
}

/* An id: a non-empty string or a number. NULL result means missing. */
static int get_id(struct ingest_batch *b, const cJSON *v, const char *field, const char **out,
                  struct failure *f)
{
    *out = NULL;
    if (!present(v))
        return 0;
    if (cJSON_IsString(v)) {
        size_t len = strlen(v->valuestring);
        if (len == 0)
            return 0;
        if (len > INGEST_MAX_ID_LEN)
            return fail(f, "field_too_long", field, "%s is %zu characters; at most %d", field,
                        len, INGEST_MAX_ID_LEN);
        *out = arena_strndup(&b->arena, v->valuestring, len);
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
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

static int get_string(struct ingest_batch *b, const cJSON *v, const char *field, const char **out,
                      struct failure *f)
{
    *out = NULL;
    if (!present(v))
        return 0;
    if (!cJSON_IsString(v))
        return fail(f, "wrong_type", field, "%s must be a string", field);
    *out = arena_strdup(&b->arena, v->valuestring);
    return 0;
}

static int check_object(const cJSON *v, const char *field, struct failure *f)
{
    if (present(v) && !cJSON_IsObject(v))
        return fail(f, "wrong_type", field, "%s must be an object", field);
    return 0;
}

/* A time: an ISO-8601 string. -1 when absent. */
static int get_time(const cJSON *v, const char *field, int64_t *out, struct failure *f)
{
    *out = -1;
    if (!present(v))
        return 0;
    if (!cJSON_IsString(v))
        return fail(f, "wrong_type", field, "%s must be an ISO-8601 date string", field);
    if (timefmt_parse_iso(v->valuestring, strlen(v->valuestring), out))
        return fail(f, "invalid_timestamp", field,
                    "%s '%.40s' is not an ISO-8601 date-time after 1970", field, v->valuestring);
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
        int64_t t;
        if (timefmt_parse_iso(b->req.header_sent_at, strlen(b->req.header_sent_at), &t) == 0)
            sent_at = t;
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
 * which of two equal keys wins and none may keep the original. False if no
 * such member could be located in the raw text. */
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
        if (k.n != olen || memcmp(k.p, outer, olen) != 0 || v.p[0] != '{')
            continue;
        if (json_iter_begin(&in, v.p, v.n, '{'))
            continue;
        while (json_iter_member(&in, &k2, &v2, NULL) == 1) {
            if (k2.n != ilen || memcmp(k2.p, inner, ilen) != 0)
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

/* Decides the stored IP and, when the payload carries one (ipobj.ipkey),
 * rewrites it per ip_mode. Returns the payload span to store. */
static struct json_span handle_ip(struct ingest_batch *b, struct json_span msg, cJSON *root,
                                  const char *ipobj, const char *ipkey, bool escaped_keys,
                                  struct store_event *row)
{
    int mode = b->ig->cfg.ip_mode;
    cJSON *holder = cJSON_GetObjectItemCaseSensitive(root, ipobj);
    cJSON *payload_ip = cJSON_IsObject(holder) ? cJSON_GetObjectItemCaseSensitive(holder, ipkey)
                                               : NULL;
    const char *src = cJSON_IsString(payload_ip) ? payload_ip->valuestring : b->req.client_ip;
    char ip[IP_TEXT_MAX];
    row->ip = NULL;
    if (src && mode != IP_MODE_NONE) {
        int rc = mode == IP_MODE_FULL ? ip_normalize(src, strlen(src), ip)
                                      : ip_anonymize(src, strlen(src), ip);
        if (rc == 0)
            row->ip = arena_strdup(&b->arena, ip);
    }
    if (!present(payload_ip) || mode == IP_MODE_FULL)
        return msg;
    /* The payload's own copy must not keep more than the column does. */
    char replacement[IP_TEXT_MAX + 2];
    if (row->ip && cJSON_IsString(payload_ip))
        snprintf(replacement, sizeof replacement, "\"%s\"", row->ip);
    else
        snprintf(replacement, sizeof replacement, "null");
    struct json_span out;
    if (!escaped_keys && rewrite_member(b, msg, ipobj, ipkey, replacement, &out))
        return out;
    /* Some key is spelled with escapes ("\u0069p"), which the raw rewrite
     * cannot see: re-serialise from the parsed tree instead, replacing every
     * member of that name (duplicates too). */
    cJSON *outer_item, *item;
    cJSON_ArrayForEach(outer_item, root)
    {
        if (!outer_item->string || strcmp(outer_item->string, ipobj) || !cJSON_IsObject(outer_item))
            continue;
        cJSON_ArrayForEach(item, outer_item)
        {
            if (!item->string || strcmp(item->string, ipkey))
                continue;
            cJSON *rep = row->ip && cJSON_IsString(payload_ip) ? cJSON_CreateString(row->ip)
                                                                : cJSON_CreateNull();
            cJSON_ReplaceItemViaPointer(outer_item, item, rep);
            item = rep;
        }
    }
    char *printed = cJSON_PrintUnformatted(root);
    out.p = arena_strdup(&b->arena, printed);
    out.n = strlen(printed);
    cJSON_free(printed);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Segment                                                                   */

/* The known fields and the JSON types they must have (docs/ingest.md). */
enum kind_of { K_OBJECT, K_STRING, K_ID, K_TIME };

static const struct {
    const char *outer; /* NULL: a member of the message; else of this object */
    const char *inner; /* for context.page.*: the nested object */
    const char *name;
    const char *path; /* for messages */
    enum kind_of kind;
} known_fields[] = {
    {NULL, NULL, "properties", "properties", K_OBJECT},
    {NULL, NULL, "traits", "traits", K_OBJECT},
    {NULL, NULL, "context", "context", K_OBJECT},
    {NULL, NULL, "integrations", "integrations", K_OBJECT},
    {"context", NULL, "page", "context.page", K_OBJECT},
    {"context", NULL, "traits", "context.traits", K_OBJECT},
    {NULL, NULL, "event", "event", K_STRING},
    {NULL, NULL, "name", "name", K_STRING},
    {NULL, NULL, "category", "category", K_STRING},
    {"context", NULL, "userAgent", "context.userAgent", K_STRING},
    {"context", NULL, "ip", "context.ip", K_STRING},
    {"context", "page", "path", "context.page.path", K_STRING},
    {"context", "page", "url", "context.page.url", K_STRING},
    {NULL, NULL, "userId", "userId", K_ID},
    {NULL, NULL, "anonymousId", "anonymousId", K_ID},
    {NULL, NULL, "messageId", "messageId", K_ID},
    {NULL, NULL, "groupId", "groupId", K_ID},
    {NULL, NULL, "previousId", "previousId", K_ID},
    {"context", NULL, "sessionId", "context.sessionId", K_ID},
    {"context", NULL, "session_id", "context.session_id", K_ID},
    {NULL, NULL, "timestamp", "timestamp", K_TIME},
    {NULL, NULL, "originalTimestamp", "originalTimestamp", K_TIME},
    {NULL, NULL, "sentAt", "sentAt", K_TIME},
};

/* Phase 2 of validation: every known field present has its JSON type. */
static int check_types(const cJSON *root, struct failure *f)
{
    for (size_t i = 0; i < ARRAY_LEN(known_fields); i++) {
        const cJSON *holder = root;
        if (known_fields[i].outer)
            holder = member(root, known_fields[i].outer);
        if (known_fields[i].inner)
            holder = member(holder, known_fields[i].inner);
        const cJSON *v = member(holder, known_fields[i].name);
        if (!present(v))
            continue;
        const char *path = known_fields[i].path;
        switch (known_fields[i].kind) {
        case K_OBJECT:
            if (!cJSON_IsObject(v))
                return fail(f, "wrong_type", path, "%s must be an object", path);
            break;
        case K_STRING:
            if (!cJSON_IsString(v))
                return fail(f, "wrong_type", path, "%s must be a string", path);
            break;
        case K_ID:
            if (!cJSON_IsString(v) && !(cJSON_IsNumber(v) && isfinite(v->valuedouble)))
                return fail(f, "wrong_type", path, "%s must be a string", path);
            break;
        case K_TIME:
            if (!cJSON_IsString(v))
                return fail(f, "wrong_type", path, "%s must be an ISO-8601 date string", path);
            break;
        }
    }
    return 0;
}

static int normalize_segment(struct ingest_batch *b, cJSON *root, struct ingest_msg *m,
                             struct failure *f)
{
    struct store_event *row = &m->row;
    /* 1. the type */
    enum ingest_type type = b->req.type;
    if (type == INGEST_TYPE_FROM_BODY) {
        const cJSON *t = member(root, "type");
        if (!present(t))
            return fail(f, "missing_field", "type",
                        "type is required in a batch (track, page, screen, identify, group, "
                        "alias)");
        if (!cJSON_IsString(t))
            return fail(f, "wrong_type", "type", "type must be a string");
        type = ingest_type_parse(t->valuestring, strlen(t->valuestring));
        if (type == INGEST_TYPE_FROM_BODY)
            return fail(f, "invalid_type", "type",
                        "type '%.40s' is not one of track, page, screen, identify, group, alias",
                        t->valuestring);
    }
    row->type = ingest_type_name(type);

    /* 2. the types of the known fields */
    if (check_types(root, f))
        return -1;
    const cJSON *ctx = member(root, "context");
    const cJSON *props = member(root, "properties");
    const cJSON *page = member(ctx, "page");

    /* 3. who (values; lengths are checked last) */
    struct failure late = {0};
    if (get_id(b, member(root, "userId"), "userId", &row->user_id, &late) && !late.code)
        return -1;
    struct failure late2 = {0};
    get_id(b, member(root, "anonymousId"), "anonymousId", &row->anonymous_id, &late2);
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
        get_string(b, member(root, "event"), "event", &row->event, f);
        if (!row->event || !row->event[0])
            return fail(f, "missing_field", "event", "event is required for track");
        break;
    case INGEST_PAGE:
    case INGEST_SCREEN:
        get_string(b, member(root, "name"), "name", &row->event, f);
        break;
    case INGEST_GROUP:
        get_id(b, member(root, "groupId"), "groupId", &group_id, &late3);
        if (!group_id && !late3.code)
            return fail(f, "missing_field", "groupId", "groupId is required for group");
        break;
    case INGEST_ALIAS:
        get_id(b, member(root, "previousId"), "previousId", &previous, &late3);
        if (!previous && !late3.code)
            return fail(f, "missing_field", "previousId", "previousId is required for alias");
        break;
    default:
        break;
    }

    /* 5. the times */
    int64_t ts, orig, sent;
    if (get_time(member(root, "timestamp"), "timestamp", &ts, f) ||
        get_time(member(root, "originalTimestamp"), "originalTimestamp", &orig, f) ||
        get_time(member(root, "sentAt"), "sentAt", &sent, f))
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
    if (get_id(b, member(root, "messageId"), "messageId", &message_id, f))
        return -1;
    row->message_id = message_id;
    if (get_id(b, member(ctx, "sessionId"), "context.sessionId", &sid, f))
        return -1;
    if (!sid && get_id(b, member(ctx, "session_id"), "context.session_id", &sid, f))
        return -1;
    if (!sid && cJSON_IsString(member(props, "$session_id")))
        sid = arena_strdup(&b->arena, member(props, "$session_id")->valuestring);
    if (sid && strlen(sid) > SESSION_ID_MAX * 8)
        return fail(f, "field_too_long", "context.sessionId", "context.sessionId is too long");

    set_times(b, row, ts, orig, sent);
    row->session_id = sid;

    /* Page path: the page's own for page views, else where the event happened. */
    const char *path = NULL, *url = NULL;
    const char *page_path = NULL, *page_url = NULL, *ua = NULL;
    get_string(b, member(page, "path"), "context.page.path", &page_path, f);
    get_string(b, member(page, "url"), "context.page.url", &page_url, f);
    get_string(b, member(ctx, "userAgent"), "context.userAgent", &ua, f);
    if (type == INGEST_PAGE || type == INGEST_SCREEN) {
        if (cJSON_IsString(member(props, "path")))
            path = arena_strdup(&b->arena, member(props, "path")->valuestring);
        if (cJSON_IsString(member(props, "url")))
            url = member(props, "url")->valuestring;
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

static int normalize_posthog(struct ingest_batch *b, cJSON *root, struct ingest_msg *m,
                             struct failure *f)
{
    struct store_event *row = &m->row;
    const char *event;
    if (get_string(b, member(root, "event"), "event", &event, f))
        return -1;
    if (!event || !event[0])
        return fail(f, "missing_field", "event", "event is required");
    if (check_object(member(root, "properties"), "properties", f))
        return -1;
    const cJSON *props = member(root, "properties");

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
        if (get_string(b, member(props, "title"), "properties.title", &title, f) == 0)
            row->event = title;
    }

    const char *distinct, *user_id, *device_id;
    if (get_id(b, member(root, "distinct_id"), "distinct_id", &distinct, f))
        return -1;
    if (!distinct && get_id(b, member(props, "distinct_id"), "properties.distinct_id", &distinct, f))
        return -1;
    if (get_id(b, member(props, "$user_id"), "properties.$user_id", &user_id, f) ||
        get_id(b, member(props, "$device_id"), "properties.$device_id", &device_id, f))
        return -1;
    bool identified = cJSON_IsTrue(member(props, "$is_identified")) ||
                      cJSON_IsTrue(member(props, "$is_server")) || type == INGEST_IDENTIFY;
    row->user_id = user_id ? user_id : (identified ? distinct : NULL);
    row->anonymous_id = device_id ? device_id : (row->user_id ? NULL : distinct);
    if (!row->user_id && !row->anonymous_id)
        return fail(f, "missing_id", "distinct_id", "distinct_id is required");

    if (get_id(b, member(root, "uuid"), "uuid", &row->message_id, f))
        return -1;

    int64_t ts;
    if (get_time(member(root, "timestamp"), "timestamp", &ts, f))
        return -1;
    const cJSON *offset = member(root, "offset");
    if (ts < 0 && cJSON_IsNumber(offset) && offset->valuedouble >= 0)
        set_times(b, row, b->req.received_at - (int64_t)offset->valuedouble, -1, -1);
    else if (ts >= 0 && b->batch_sent_at >= 0 && !b->historical)
        set_times(b, row, -1, ts, b->batch_sent_at); /* PostHog corrects client clocks */
    else
        set_times(b, row, ts, -1, -1);

    const char *sid = NULL;
    if (get_id(b, member(props, "$session_id"), "properties.$session_id", &sid, f))
        return -1;
    row->session_id = sid;
    const char *path = NULL, *url = NULL, *ua = NULL;
    if (get_string(b, member(props, "$pathname"), "properties.$pathname", &path, f) ||
        get_string(b, member(props, "$current_url"), "properties.$current_url", &url, f) ||
        get_string(b, member(props, "$raw_user_agent"), "properties.$raw_user_agent", &ua, f))
        return -1;
    row->path = path ? path : path_from_url(b, url);
    set_user_agent(b, row, ua);
    return 0;
}

/* ------------------------------------------------------------------------ */

void ingest_normalize_message(struct ingest_batch *b, size_t index, struct json_span span)
{
    struct failure f = {0};
    cJSON *root = NULL;
    struct json_scan_info info = {0, 0};
    size_t max = (size_t)b->ig->cfg.max_message_bytes;
    if (span.n > max) {
        fail(&f, "message_too_large", "", "the message is %zu bytes; the limit is %zu", span.n,
             max);
        goto reject;
    }
    size_t i = 0;
    json_skip_value(span.p, span.n, &i, &info);
    if (info.max_depth > INGEST_MAX_MESSAGE_DEPTH) {
        fail(&f, "too_deep", "", "the message is nested %d levels deep; at most %d",
             info.max_depth, INGEST_MAX_MESSAGE_DEPTH);
        goto reject;
    }
    size_t bad;
    if (!utf8_valid(span.p, span.n, &bad)) {
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
    root = cJSON_ParseWithLength(span.p, span.n);
    if (!root) {
        fail(&f, "invalid_json", "", "the message could not be parsed");
        goto reject;
    }
    struct ingest_msg *m = &b->msgs[b->n_msgs];
    memset(m, 0, sizeof *m);
    m->index = index;
    m->row.project_id = b->project_id;
    int rc = b->req.format == INGEST_FORMAT_POSTHOG ? normalize_posthog(b, root, m, &f)
                                                    : normalize_segment(b, root, m, &f);
    if (rc)
        goto reject;
    bool escaped = (info.flags & JSON_SCAN_KEY_ESCAPED) != 0;
    struct json_span payload =
        b->req.format == INGEST_FORMAT_POSTHOG
            ? handle_ip(b, span, root, "properties", "$ip", escaped, &m->row)
            : handle_ip(b, span, root, "context", "ip", escaped, &m->row);
    m->row.payload = payload.p;
    m->row.payload_len = payload.n;
    if (m->row.message_id) {
        m->has_key = true;
        m->key = dedup_key_make(b->project_id, m->row.message_id, strlen(m->row.message_id));
    } else {
        char uuid[37];
        random_uuid(uuid);
        char id[48];
        snprintf(id, sizeof id, "jrn-%s", uuid);
        m->row.message_id = arena_strdup(&b->arena, id);
    }
    m->visitor = m->row.anonymous_id ? m->row.anonymous_id : m->row.user_id;
    b->n_msgs++;
    cJSON_Delete(root);
    return;

reject:;
    /* The quarantined copy obeys ip_mode too, when it can be read. */
    struct json_span raw = span;
    if (root) {
        struct store_event scratch = {0};
        bool esc = (info.flags & JSON_SCAN_KEY_ESCAPED) != 0;
        raw = b->req.format == INGEST_FORMAT_POSTHOG
                  ? handle_ip(b, span, root, "properties", "$ip", esc, &scratch)
                  : handle_ip(b, span, root, "context", "ip", esc, &scratch);
    }
    cJSON_Delete(root);
    ingest_add_reject(b, index, raw, f.code, field_path(b, index, f.field), f.detail);
}
