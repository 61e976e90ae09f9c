/*
 * session.c - a visitor's session as the engine keeps it: small fixed-size
 * state (rings of the latest page views and clicks, the current page's
 * fields and forms, per-signal-kind scores), advanced event by event.
 *
 * Page-scoped state is reset on every page view; detectors that need the
 * page's history read it before the event is applied (detect_all runs the
 * detectors first, then session_apply_event).
 */
#include "engine/engine_internal.h"

#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t engine_hash(const char *s)
{
    return s ? XXH3_64bits(s, strlen(s)) : 0;
}

uint64_t engine_hash2(const char *a, const char *b)
{
    XXH64_hash_t h = XXH3_64bits(a ? a : "", a ? strlen(a) : 0);
    return XXH3_64bits_withSeed(b ? b : "", b ? strlen(b) : 0, h) | 1;
}

/* A tiny process-wide intern table for the few distinct device, browser and
 * OS names, so sessions hold pointers instead of copies. */
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static char *interned[256];
static int n_interned;

const char *engine_intern(const char *s)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&intern_lock);
    for (int i = 0; i < n_interned; i++) {
        if (!strcmp(interned[i], s)) {
            pthread_mutex_unlock(&intern_lock);
            return interned[i];
        }
    }
    const char *out = "other";
    if (n_interned < (int)ARRAY_LEN(interned) && strlen(s) < 64)
        out = interned[n_interned++] = xstrdup(s);
    pthread_mutex_unlock(&intern_lock);
    return out;
}

struct session *session_new(int64_t project_id, const char *session_id, uint64_t key)
{
    struct session *s = xcalloc(1, sizeof *s);
    s->key = key;
    s->project_id = project_id;
    s->session_id = xstrdup(session_id);
    s->converted_at = -1;
    return s;
}

void session_free(struct session *s)
{
    if (!s)
        return;
    free(s->session_id);
    free(s->anonymous_id);
    free(s->user_id);
    free(s->entry_path);
    free(s->current_path);
    free(s->referrer);
    free(s->trouble_field);
    free(s->trouble_form);
    for (int i = 0; i < s->trait_count; i++) {
        free(s->traits[i].key);
        free(s->traits[i].value);
    }
    free(s);
}

size_t session_memory(const struct session *s)
{
    size_t n = sizeof *s + strlen(s->session_id) + 1;
    const char *strs[] = {s->anonymous_id, s->user_id, s->entry_path, s->current_path,
                          s->referrer, s->trouble_field, s->trouble_form};
    for (size_t i = 0; i < ARRAY_LEN(strs); i++)
        if (strs[i])
            n += strlen(strs[i]) + 1;
    for (int i = 0; i < s->trait_count; i++)
        n += strlen(s->traits[i].key) + strlen(s->traits[i].value) + 2;
    return n;
}

static void set_str(char **dst, const char *v)
{
    if (!v || (*dst && !strcmp(*dst, v)))
        return;
    free(*dst);
    *dst = xstrdup(v);
}

struct field_rec *session_field(struct session *s, const char *form, const char *field,
                                bool create)
{
    if (!field)
        return NULL;
    uint64_t key = engine_hash2(form, field);
    for (int i = 0; i < s->field_count; i++)
        if (s->fields[i].key == key)
            return &s->fields[i];
    if (!create || s->field_count >= SESSION_FIELDS)
        return NULL;
    struct field_rec *f = &s->fields[s->field_count++];
    memset(f, 0, sizeof *f);
    f->key = key;
    return f;
}

struct form_rec *session_form(struct session *s, const char *form, bool create)
{
    uint64_t key = engine_hash(form ? form : "");
    for (int i = 0; i < s->form_count; i++)
        if (s->forms[i].key == key)
            return &s->forms[i];
    if (!create || s->form_count >= SESSION_FORMS)
        return NULL;
    struct form_rec *f = &s->forms[s->form_count++];
    memset(f, 0, sizeof *f);
    f->key = key;
    return f;
}

static void new_page(struct session *s, const struct engine_event *e)
{
    uint64_t here = engine_hash(e->path);
    if (s->visit_count >= 2 &&
        s->visits[(s->visit_count - 2) % SESSION_VISITS].path_hash == here &&
        s->visits[(s->visit_count - 1) % SESSION_VISITS].path_hash != here)
        s->back_navigations++;
    if (s->pages == 0)
        s->referrer_class = (uint8_t)referrer_classify(e->referrer, e->url);
    /* Close the current visit, open the next in the ring. */
    if (s->visit_count > 0)
        s->visits[(s->visit_count - 1) % SESSION_VISITS].leave_ts = e->ts;
    struct page_visit *v = &s->visits[s->visit_count % SESSION_VISITS];
    v->path_hash = engine_hash(e->path);
    v->enter_ts = e->ts;
    v->leave_ts = 0;
    s->visit_count++;
    s->pages++;
    uint32_t h = (uint32_t)v->path_hash | 1;
    bool seen = false;
    for (int i = 0; i < s->distinct_pages && i < SESSION_PATHS; i++)
        seen |= s->path_hashes[i] == h;
    if (!seen) {
        if (s->distinct_pages < SESSION_PATHS)
            s->path_hashes[s->distinct_pages] = h;
        s->distinct_pages++;
    }
    if (!s->entry_path && e->path)
        s->entry_path = xstrdup(e->path);
    set_str(&s->current_path, e->path);
    if (!s->referrer && e->referrer)
        s->referrer = xstrdup(e->referrer);
    /* page-scoped state */
    s->page_enter_ts = e->ts;
    s->last_progress_ts = e->ts;
    s->hidden_since = 0;
    s->hidden_ms = 0;
    s->click_count = 0;
    s->rage_streak = 0;
    s->rage_fired = false;
    s->last_click_ts = 0;
    s->dead_clicks_page = 0;
    s->field_count = 0;
    s->form_count = 0;
    s->scroll_reversals = 0;
    s->last_direction = 0;
    s->max_depth = 0;
    s->long_dwell_fired = false;
    s->scroll_fired = false;
    s->js_errors_page = 0;
    s->abandon_checked = false;
}

static void note_traits(struct session *s, const struct engine_event *e)
{
    const cJSON *traits = cJSON_GetObjectItemCaseSensitive(e->root, "traits");
    const cJSON *t;
    cJSON_ArrayForEach(t, traits)
    {
        char val[128];
        if (cJSON_IsString(t))
            snprintf(val, sizeof val, "%s", t->valuestring);
        else if (cJSON_IsNumber(t))
            snprintf(val, sizeof val, "%.15g", t->valuedouble);
        else if (cJSON_IsBool(t))
            snprintf(val, sizeof val, "%s", cJSON_IsTrue(t) ? "true" : "false");
        else
            continue;
        int i = 0;
        while (i < s->trait_count && strcmp(s->traits[i].key, t->string) != 0)
            i++;
        if (i == s->trait_count) {
            if (s->trait_count >= SESSION_TRAITS || strlen(t->string) > 64)
                continue;
            s->traits[s->trait_count].key = xstrdup(t->string);
            s->traits[s->trait_count].value = NULL;
            s->trait_count++;
        }
        set_str(&s->traits[i].value, val);
    }
}

static bool matches_goal(const struct project_settings *ps, const struct engine_event *e)
{
    if (!ps)
        return false;
    if (ps->goal_event && e->name && (e->kind == EV_TRACK) && !strcmp(ps->goal_event, e->name))
        return true;
    if (ps->goal_path && e->path && (e->kind == EV_PAGE || e->kind == EV_SCREEN) &&
        !strcmp(ps->goal_path, e->path))
        return true;
    return false;
}

void session_apply_event(struct session *s, const struct engine_event *e,
                         const struct project_settings *ps)
{
    s->events++;
    if (!s->start_ts || e->ts < s->start_ts)
        s->start_ts = e->ts;
    if (e->ts >= s->last_ts) {
        s->prev_event_ts = s->last_ts;
        s->last_ts = e->ts;
    }
    s->last_event_id = e->id;
    set_str(&s->anonymous_id, e->anonymous_id);
    set_str(&s->user_id, e->user_id);
    if (e->device_class && strcmp(e->device_class, "server") != 0) {
        s->device_class = engine_intern(e->device_class);
        s->browser = engine_intern(e->browser);
        s->os = engine_intern(e->os);
    }
    if (!s->converted && matches_goal(ps, e)) {
        s->converted = true;
        s->converted_at = e->ts;
    }
    s->dirty = true;

    switch (e->kind) {
    case EV_PAGE:
    case EV_SCREEN:
        new_page(s, e);
        break;
    case EV_IDENTIFY:
        note_traits(s, e);
        break;
    case EV_CLICK: {
        struct click_rec *c = &s->clicks[s->click_count % SESSION_CLICKS];
        c->ts = e->ts;
        c->x = (int32_t)e->x;
        c->y = (int32_t)e->y;
        c->selector_hash = engine_hash(e->selector);
        s->click_count++;
        s->last_click_ts = e->ts;
        s->last_click_selector = c->selector_hash;
        if (e->interactive && !e->disabled)
            s->last_progress_ts = e->ts;
        break;
    }
    case EV_DEAD_CLICK:
        s->dead_clicks_page++;
        break;
    case EV_FIELD_FOCUS:
        s->last_progress_ts = e->ts;
        break;
    case EV_FIELD_CHANGE: {
        struct field_rec *f = session_field(s, e->form, e->field, true);
        if (f) {
            f->changes++;
            f->filled = e->length > 0;
        }
        struct form_rec *fr = session_form(s, e->form, true);
        if (fr) {
            fr->started = true;
            /* A change made before the latest submit (its request arrived
             * after the submit's) belongs to the interval before it:
             * detect_calc_retry has counted it there. */
            if (!(fr->last_submit_client_ts && e->client_ts < fr->last_submit_client_ts))
                fr->changes_since_submit++;
        }
        if (!e->has_valid || e->valid)
            s->last_progress_ts = e->ts;
        break;
    }
    case EV_FIELD_INVALID: {
        struct field_rec *f = session_field(s, e->form, e->field, true);
        if (f)
            f->invalid++;
        s->form_errors++;
        break;
    }
    case EV_FORM_SUBMIT: {
        struct form_rec *fr = session_form(s, e->form, true);
        if (fr) {
            bool ok = e->has_valid && e->valid;
            if (fr->submits > 0 && fr->changes_since_submit > 0 && !ok)
                fr->retries++;
            fr->unchanged_fail = fr->submits > 0 && fr->changes_since_submit == 0 && !ok;
            fr->last_submit_client_ts = e->client_ts;
            fr->submits++;
            fr->changes_since_submit = 0;
            fr->started = true;
            fr->succeeded |= ok;
        }
        if (e->has_valid && e->valid)
            s->last_progress_ts = e->ts;
        break;
    }
    case EV_SCROLL:
        if (e->reversals > s->scroll_reversals)
            s->scroll_reversals = e->reversals;
        else if (s->last_direction && e->direction != s->last_direction)
            s->scroll_reversals++;
        s->last_direction = e->direction;
        if (e->depth > s->max_depth) {
            s->max_depth = e->depth;
            s->last_progress_ts = e->ts;
        }
        break;
    case EV_VISIBILITY:
        if (e->state && !strcmp(e->state, "hidden")) {
            if (!s->hidden_since)
                s->hidden_since = e->ts;
        } else if (s->hidden_since) {
            s->hidden_ms += e->ts - s->hidden_since;
            s->hidden_since = 0;
            s->last_progress_ts = e->ts;
        }
        break;
    case EV_JS_ERROR:
        s->js_errors++;
        s->js_errors_page++;
        break;
    case EV_VIDEO_PLAY:
    case EV_VIDEO_HEARTBEAT:
    case EV_VIDEO_PAUSE:
    case EV_VIDEO_SEEKED:
    case EV_VIDEO_RATE:
    case EV_VIDEO_ENDED: {
        video_note(s, e);
        if (e->kind == EV_VIDEO_PLAY || e->kind == EV_VIDEO_HEARTBEAT)
            s->last_progress_ts = e->ts;
        double pos = e->kind == EV_VIDEO_SEEKED ? e->from : e->position;
        if (e->duration > 0) {
            float r = e->kind == EV_VIDEO_ENDED ? 1.0f : (float)(pos / e->duration);
            if (r > 1)
                r = 1;
            if (r > s->video_ratio)
                s->video_ratio = r;
        }
        break;
    }
    default:
        break;
    }
}

void session_note_signal(struct session *s, const struct signal *sig)
{
    struct signal_state *st = &s->sig[sig->kind];
    st->count++;
    st->score = (uint8_t)sig->score;
    if (sig->score > st->max_score)
        st->max_score = (uint8_t)sig->score;
    st->last_ts = sig->ts;
    s->recent_scores[s->signals_total % 32] = (uint8_t)sig->score;
    s->signals_total++;
    s->dirty = true;
    if (strstr(sig->evidence, "\"field\":\"")) {
        cJSON *ev = cJSON_Parse(sig->evidence);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(ev, "field");
        const cJSON *fo = cJSON_GetObjectItemCaseSensitive(ev, "form");
        if (cJSON_IsString(f))
            set_str(&s->trouble_field, f->valuestring);
        if (cJSON_IsString(fo))
            set_str(&s->trouble_form, fo->valuestring);
        cJSON_Delete(ev);
    }
}

static void record_page_end(struct baselines *b, struct session *s, int64_t dwell)
{
    if (b && s->current_path && dwell >= 0)
        baselines_record(b, s->project_id, s->current_path, dwell, s->scroll_reversals);
}

int session_step(struct session *s, struct engine_event *ev, const struct project_settings *ps,
                 struct baselines *baselines, struct visitor_registry *visitors,
                 struct signal *out, int cap)
{
    engine_event_parse(ev);
    if ((ev->kind == EV_PAGE || ev->kind == EV_SCREEN) && s->page_enter_ts && !s->dwell_recorded)
        record_page_end(baselines, s, ev->ts - s->page_enter_ts - s->hidden_ms);
    if (ev->kind == EV_PAGE_LEAVE && s->page_enter_ts && !s->dwell_recorded && ev->path &&
        s->current_path && !strcmp(ev->path, s->current_path)) {
        record_page_end(baselines, s, ev->dwell_ms > 0 ? ev->dwell_ms : ev->ts - s->page_enter_ts);
        s->dwell_recorded = true;
    }
    struct detect_ctx c = {
        .params = &ps->detectors,
        .baselines = baselines,
        .project_id = s->project_id,
        .out = out,
        .cap_out = cap,
    };
    detect_all(&c, s, ev);
    bool was_converted = s->converted;
    session_apply_event(s, ev, ps);
    if (ev->kind == EV_PAGE || ev->kind == EV_SCREEN)
        s->dwell_recorded = false;
    for (int i = 0; i < c.n_out; i++)
        session_note_signal(s, &out[i]);
    if (!s->visitor_noted)
        visitor_registry_session(visitors, s);
    if (s->converted && !was_converted)
        visitor_registry_converted(visitors, s);
    return c.n_out;
}
