/*
 * offline.c - sessions replayed outside the running engine, for training:
 * the same session_step() and engine_features() as the workers use, one
 * session at a time, with page baselines and the returning-visitor registry
 * rebuilt in the order sessions are fed (start time, so a snapshot only
 * knows what was known then).
 */
#include "engine/engine_internal.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

struct engine_offline {
    struct project_settings *ps;
    struct baselines *baselines;
    struct visitor_registry *visitors;
    struct session *s;
};

struct engine_offline *engine_offline_new(const char *settings_json, char *err, size_t errlen)
{
    struct project_settings *ps = project_settings_parse(settings_json, 0, err, errlen);
    if (!ps)
        return NULL;
    struct engine_offline *o = xcalloc(1, sizeof *o);
    o->ps = ps;
    o->baselines = baselines_new();
    o->visitors = visitor_registry_new();
    return o;
}

void engine_offline_free(struct engine_offline *o)
{
    if (!o)
        return;
    session_free(o->s);
    baselines_free(o->baselines);
    visitor_registry_free(o->visitors);
    project_settings_free(o->ps);
    free(o);
}

bool engine_offline_has_goal(const struct engine_offline *o)
{
    return o->ps->goal_event || o->ps->goal_path;
}

void engine_offline_begin(struct engine_offline *o, int64_t project_id, const char *session_id)
{
    session_free(o->s);
    o->s = session_new(project_id, session_id, engine_hash(session_id));
}

void engine_offline_event(struct engine_offline *o, const struct store_event *r, int64_t id)
{
    if (!o->s)
        return;
    size_t need = r->payload_len + 1;
    struct engine_event *e = xcalloc(1, sizeof *e + need);
    memcpy(e->data, r->payload ? r->payload : "", r->payload_len);
    e->payload = e->data;
    e->payload_len = r->payload_len;
    e->id = id;
    e->project_id = r->project_id;
    e->ts = r->timestamp;
    e->client_ts = r->original_timestamp > 0 ? r->original_timestamp : r->timestamp;
    e->received_at = r->received_at;
    e->session_id = r->session_id;
    e->anonymous_id = r->anonymous_id;
    e->user_id = r->user_id;
    e->path = r->path;
    e->name = r->event;
    e->device_class = r->device_class;
    e->browser = r->browser;
    e->os = r->os;
    e->kind = engine_event_kind(r->type, r->event);
    struct signal sigs[8];
    session_step(o->s, e, o->ps, o->baselines, o->visitors, sigs, 8);
    engine_event_free(e);
}

bool engine_offline_converted(const struct engine_offline *o)
{
    return o->s && o->s->converted;
}

int64_t engine_offline_last_ts(const struct engine_offline *o)
{
    return o->s ? o->s->last_ts : 0;
}

void engine_offline_features(const struct engine_offline *o, int64_t now, float *out)
{
    engine_features(o->s, now, out);
}

void engine_offline_end(struct engine_offline *o)
{
    session_free(o->s);
    o->s = NULL;
}
