/*
 * event.c - from a stored row to a typed engine event.
 *
 * The tracker's autocapture vocabulary is docs/protocol.md; this is the one
 * place that reads it. Parsing runs on the worker thread that owns the
 * event's session, so the writer thread only copies bytes.
 *
 * Parsing reads only what the event's kind needs: nothing for plain track
 * events (most traffic: custom events and conversions carry everything the
 * engine uses in the row's columns), the properties object alone for
 * autocapture events (not the context with its user agent and page, which
 * is most of a browser message), the whole message for page views and
 * identify (context.page, traits). The properties object is found with the
 * span scanner and parsed on its own, which gives the same tree cJSON builds
 * for it inside the whole message; a message whose top-level keys are
 * spelled with escapes is parsed whole, as cJSON alone compares them decoded.
 */
#include "engine/engine_internal.h"

#include "common/json_scan.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    enum ev_kind kind;
} track_kinds[] = {
    {"$click", EV_CLICK},
    {"$dead_click", EV_DEAD_CLICK},
    {"$field_focus", EV_FIELD_FOCUS},
    {"$field_blur", EV_FIELD_BLUR},
    {"$field_change", EV_FIELD_CHANGE},
    {"$field_invalid", EV_FIELD_INVALID},
    {"$form_submit", EV_FORM_SUBMIT},
    {"$js_error", EV_JS_ERROR},
    {"$scroll", EV_SCROLL},
    {"$visibility", EV_VISIBILITY},
    {"$page_leave", EV_PAGE_LEAVE},
    {"$video_play", EV_VIDEO_PLAY},
    {"$video_pause", EV_VIDEO_PAUSE},
    {"$video_seeked", EV_VIDEO_SEEKED},
    {"$video_ratechange", EV_VIDEO_RATE},
    {"$video_ended", EV_VIDEO_ENDED},
    {"$video_heartbeat", EV_VIDEO_HEARTBEAT},
    /* PostHog's own autocapture names for the same things */
    {"$exception", EV_JS_ERROR},
    {"$pageleave", EV_PAGE_LEAVE},
};

enum ev_kind engine_event_kind(const char *type, const char *event)
{
    if (!type)
        return EV_OTHER;
    if (!strcmp(type, "page"))
        return EV_PAGE;
    if (!strcmp(type, "screen"))
        return EV_SCREEN;
    if (!strcmp(type, "identify"))
        return EV_IDENTIFY;
    if (strcmp(type, "track") != 0)
        return EV_OTHER;
    if (event && event[0] == '$')
        for (size_t i = 0; i < sizeof track_kinds / sizeof track_kinds[0]; i++)
            if (!strcmp(event, track_kinds[i].name))
                return track_kinds[i].kind;
    return EV_TRACK;
}

static const char *str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool num(const cJSON *obj, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        return false;
    *out = v->valuedouble;
    return true;
}

static bool boolean(const cJSON *obj, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(v))
        return false;
    *out = cJSON_IsTrue(v);
    return true;
}

/* Parses the first top-level "properties" member of the message on its own
 * into e->root (then also e->props). False when the whole message has to be
 * parsed instead (a top-level key spelled with escapes). */
static bool parse_properties_only(struct engine_event *e)
{
    struct json_iter it;
    if (json_iter_begin(&it, e->payload, e->payload_len, '{'))
        return false;
    struct json_span k, v, props = {NULL, 0};
    struct json_scan_info info = {0, 0};
    while (json_iter_next_key(&it, &k, &info) == 1) {
        if (info.flags & JSON_SCAN_KEY_ESCAPED)
            return false;
        if (json_iter_value(&it, &v, NULL) != 1)
            return false;
        if (!props.p && k.n == 10 && memcmp(k.p, "properties", 10) == 0)
            props = v;
    }
    if (props.p && props.p[0] == '{') {
        e->root = cJSON_ParseWithLength(props.p, props.n);
        e->props = cJSON_IsObject(e->root) ? e->root : NULL;
    }
    return true;
}

void engine_event_parse(struct engine_event *e)
{
    if (e->root || !e->payload)
        return;
    switch (e->kind) {
    case EV_PAGE:
    case EV_SCREEN:
    case EV_IDENTIFY:
        break; /* the whole message */
    case EV_TRACK:
    case EV_OTHER:
        return; /* nothing from the payload */
    default:
        if (parse_properties_only(e)) {
            if (!e->props)
                return;
            goto fields;
        }
        break;
    }
    e->root = cJSON_ParseWithLength(e->payload, e->payload_len);
    if (!e->root)
        return;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(e->root, "properties");
    e->props = cJSON_IsObject(props) ? props : NULL;
fields:;
    const cJSON *p = e->props;
    double d;
    switch (e->kind) {
    case EV_PAGE:
    case EV_SCREEN: {
        e->referrer = str(p, "referrer");
        if (!e->referrer) {
            const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(e->root, "context");
            const cJSON *page = cJSON_GetObjectItemCaseSensitive(ctx, "page");
            e->referrer = str(page, "referrer");
        }
        if (!e->referrer)
            e->referrer = str(p, "$referrer");
        e->url = str(p, "url");
        if (!e->url) {
            const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(e->root, "context");
            e->url = str(cJSON_GetObjectItemCaseSensitive(ctx, "page"), "url");
        }
        if (!e->url)
            e->url = str(p, "$current_url");
        break;
    }
    case EV_CLICK:
    case EV_DEAD_CLICK:
        e->selector = str(p, "selector");
        e->tag = str(p, "tag");
        e->click_id = str(p, "click_id");
        e->has_xy = num(p, "x", &e->x) && num(p, "y", &e->y);
        boolean(p, "interactive", &e->interactive);
        boolean(p, "disabled", &e->disabled);
        break;
    case EV_FIELD_FOCUS:
    case EV_FIELD_BLUR:
    case EV_FIELD_CHANGE:
    case EV_FIELD_INVALID:
        e->form = str(p, "form");
        e->field = str(p, "field");
        e->reason = str(p, "reason");
        e->message = str(p, "message");
        e->has_valid = boolean(p, "valid", &e->valid);
        if (num(p, "length", &d))
            e->length = (int)d;
        if (num(p, "dwell_ms", &d))
            e->dwell_ms = (int64_t)d;
        break;
    case EV_FORM_SUBMIT:
        e->form = str(p, "form");
        e->has_valid = boolean(p, "valid", &e->valid);
        if (num(p, "filled_count", &d))
            e->fields_filled = (int)d;
        break;
    case EV_JS_ERROR:
        e->message = str(p, "message");
        if (!e->message)
            e->message = str(p, "$exception_message");
        break;
    case EV_SCROLL: {
        if (num(p, "depth", &d))
            e->depth = (int)d;
        if (num(p, "reversals", &d))
            e->reversals = (int)d;
        const char *dir = str(p, "direction");
        e->direction = dir && !strcmp(dir, "up") ? -1 : 1;
        break;
    }
    case EV_VISIBILITY:
        e->state = str(p, "state");
        break;
    case EV_PAGE_LEAVE:
        if (num(p, "dwell_ms", &d))
            e->dwell_ms = (int64_t)d;
        if (num(p, "fields_filled", &d))
            e->fields_filled = (int)d;
        if (num(p, "max_depth", &d))
            e->depth = (int)d;
        break;
    case EV_VIDEO_PLAY:
    case EV_VIDEO_PAUSE:
    case EV_VIDEO_SEEKED:
    case EV_VIDEO_RATE:
    case EV_VIDEO_ENDED:
    case EV_VIDEO_HEARTBEAT:
        e->video_id = str(p, "video_id");
        num(p, "position", &e->position);
        num(p, "from", &e->from);
        num(p, "to", &e->to);
        num(p, "rate", &e->rate);
        num(p, "duration", &e->duration);
        break;
    default:
        break;
    }
}

void engine_event_free(struct engine_event *e)
{
    if (!e)
        return;
    cJSON_Delete(e->root);
    free(e);
}
