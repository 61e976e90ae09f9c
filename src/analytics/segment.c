/*
 * segment.c - which sessions a report counts (docs/api.md, "Segments").
 *
 * A segment becomes one byte per session of the project (1 = in): every
 * condition marks the sessions it holds for and the marks are combined with
 * AND. Conditions on what sessions did (pages, events, properties) are one
 * pass over the column store; conditions on what the engine concluded
 * (converted, signals, interventions) read the sessions table for the time
 * range, which is indexed by start.
 */
#include "analytics/analytics_internal.h"

#include "common/util.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct segment {
    uint8_t *in; /* by session dict id */
    size_t n;
};

bool segment_has(const struct segment *sg, uint32_t session)
{
    return !sg || (session < sg->n && sg->in[session]);
}

bool segment_is_all(const struct segment *sg)
{
    return sg == NULL;
}

void segment_free(struct segment *sg)
{
    if (!sg)
        return;
    free(sg->in);
    free(sg);
}

bool segment_has_session_id(struct analytics *a, const struct segment *sg, struct ax_project *p,
                            const char *session_id)
{
    (void)a;
    if (!sg)
        return true;
    if (!p)
        return false;
    return segment_has(sg, strdict_find(&p->session_ids, session_id));
}

/* A string or an array of strings; calls fn for each. */
static int each_string(const cJSON *v, const char *field, struct report_error *err,
                       void (*fn)(const char *s, void *ctx), void *ctx)
{
    if (cJSON_IsString(v)) {
        fn(v->valuestring, ctx);
        return 0;
    }
    if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
        return report_fail(err, 400, "invalid_parameter", field,
                           "%s must be a string or an array of strings", field);
    const cJSON *s;
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s))
            return report_fail(err, 400, "invalid_parameter", field,
                               "%s must be a string or an array of strings", field);
        fn(s->valuestring, ctx);
    }
    return 0;
}

struct small_set {
    struct strdict *dict;
    uint8_t ids[32];
    int n;
};

static void add_small(const char *s, void *ctx)
{
    struct small_set *set = ctx;
    uint32_t id = strdict_find(set->dict, s);
    if (id && set->n < 32)
        set->ids[set->n++] = (uint8_t)id;
}

struct glob_ctx {
    const char *patterns[16];
    int n;
};

static void add_glob(const char *s, void *ctx)
{
    struct glob_ctx *g = ctx;
    if (g->n < 16)
        g->patterns[g->n++] = s;
}

/* Marks of the path ids matching any pattern. */
static uint8_t *matching_paths(struct analytics *a, const struct glob_ctx *g)
{
    uint8_t *m = xcalloc(a->paths.n ? a->paths.n : 1, 1);
    for (uint32_t id = 1; id < a->paths.n; id++)
        for (int i = 0; i < g->n; i++)
            if (fnmatch(g->patterns[i], a->paths.by_id[id], 0) == 0)
                m[id] = 1;
    return m;
}

struct sql_ctx {
    struct ax_project *p;
    uint8_t *mark;
    const cJSON *cond;
};

static bool counts_have(const char *counts_json, const char *kind)
{
    /* signal_counts is {"kind": n, ...} written by the engine. */
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", kind);
    return counts_json && strstr(counts_json, key);
}

static int sql_row(const struct store_session *r, void *arg)
{
    struct sql_ctx *c = arg;
    uint32_t sid = strdict_find(&c->p->session_ids, r->session_id);
    if (!sid)
        return 0;
    bool ok = true;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(c->cond, "converted")))
        ok &= r->converted == cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(c->cond, "struggled")))
        ok &= (r->max_signal >= 70) == cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(c->cond, "intervened")))
        ok &= (r->interventions > 0 && !r->held_out) == cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(c->cond, "held_out")))
        ok &= (r->interventions > 0 && r->held_out) == cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(c->cond, "signal"))) {
        bool any = false;
        if (cJSON_IsString(v))
            any = counts_have(r->signal_counts_json, v->valuestring);
        const cJSON *k;
        if (cJSON_IsArray(v))
            cJSON_ArrayForEach(k, v) if (cJSON_IsString(k)) any |=
                counts_have(r->signal_counts_json, k->valuestring);
        ok &= any;
    }
    if (ok)
        c->mark[sid] = 1;
    return 0;
}

static bool prop_matches(struct analytics *a, const struct ax_project *p, uint32_t props,
                         const uint32_t *keys, const uint32_t *vals, int n)
{
    (void)a;
    for (int i = 0; i < n; i++)
        if (!vals[i] || ax_prop(p, props, keys[i]) != vals[i])
            return false;
    return true;
}

int segment_parse(struct analytics *a, struct ax_project *p, int64_t project_id,
                  const struct report_params *params, const char *field, const cJSON *json,
                  struct segment **out, struct report_error *err)
{
    *out = NULL;
    if (!json || cJSON_IsNull(json) || (cJSON_IsObject(json) && !json->child))
        return 0;
    if (!cJSON_IsObject(json))
        return report_fail(err, 400, "invalid_parameter", field, "%s must be a JSON object",
                           field);
    static const char *const known[] = {"device", "browser",   "os",         "referrer",
                                        "entry_path", "path",  "event",      "property",
                                        "trait",  "converted", "signal",     "struggled",
                                        "intervened", "held_out"};
    const cJSON *m;
    cJSON_ArrayForEach(m, json)
    {
        bool ok = false;
        for (size_t i = 0; i < ARRAY_LEN(known); i++)
            ok |= !strcmp(m->string, known[i]);
        if (!ok)
            return report_fail(err, 400, "invalid_parameter", field,
                               "%s.%s: unknown segment condition (see docs/api.md)", field,
                               m->string);
    }
    struct segment *sg = xcalloc(1, sizeof *sg);
    size_t n = p ? p->session_ids.n : 1;
    sg->n = n;
    sg->in = xmalloc(n);
    memset(sg->in, 1, n);
    sg->in[0] = 0;
    uint8_t *mark = xcalloc(n, 1);
    char sub[120];
    int rc = -1;

    /* Session attributes. */
    static const char *const attrs[] = {"device", "browser", "os", "referrer"};
    for (size_t k = 0; k < ARRAY_LEN(attrs); k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, attrs[k]);
        if (!v)
            continue;
        snprintf(sub, sizeof sub, "%s.%s", field, attrs[k]);
        struct small_set set = {&a->small, {0}, 0};
        if (each_string(v, sub, err, add_small, &set))
            goto out;
        for (size_t s = 1; p && s < n; s++) {
            const struct ax_session *ss = &p->sessions[s];
            uint8_t val = k == 0 ? ss->device : k == 1 ? ss->browser : k == 2 ? ss->os : ss->referrer;
            bool hit = false;
            for (int i = 0; i < set.n; i++)
                hit |= val == set.ids[i];
            if (!hit)
                sg->in[s] = 0;
        }
    }
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(json, "entry_path"))) {
        snprintf(sub, sizeof sub, "%s.entry_path", field);
        struct glob_ctx g = {{0}, 0};
        if (each_string(v, sub, err, add_glob, &g))
            goto out;
        uint8_t *ok = matching_paths(a, &g);
        for (size_t s = 1; p && s < n; s++)
            if (!ok[p->sessions[s].entry_path])
                sg->in[s] = 0;
        free(ok);
    }
    /* What sessions did: one pass over the events for all such conditions. */
    const cJSON *vpath = cJSON_GetObjectItemCaseSensitive(json, "path");
    const cJSON *vevent = cJSON_GetObjectItemCaseSensitive(json, "event");
    const cJSON *vprop = cJSON_GetObjectItemCaseSensitive(json, "property");
    const cJSON *vtrait = cJSON_GetObjectItemCaseSensitive(json, "trait");
    uint8_t *path_ok = NULL;
    uint32_t event_ids[16];
    int n_events = 0;
    uint32_t pkeys[16], pvals[16], tkeys[16], tvals[16];
    int n_props = 0, n_traits = 0;
    if (vpath) {
        snprintf(sub, sizeof sub, "%s.path", field);
        struct glob_ctx g = {{0}, 0};
        if (each_string(vpath, sub, err, add_glob, &g))
            goto out;
        path_ok = matching_paths(a, &g);
    }
    if (vevent) {
        if (!cJSON_IsString(vevent)) {
            report_fail(err, 400, "invalid_parameter", field, "%s.event must be a string", field);
            goto out;
        }
        event_ids[n_events++] = strdict_find(&a->names, vevent->valuestring);
    }
    for (int which = 0; which < 2; which++) {
        const cJSON *obj = which ? vtrait : vprop;
        if (!obj)
            continue;
        if (!cJSON_IsObject(obj) || !obj->child) {
            report_fail(err, 400, "invalid_parameter", field,
                        "%s.%s must be an object of names to values", field,
                        which ? "trait" : "property");
            goto out;
        }
        const cJSON *kv;
        cJSON_ArrayForEach(kv, obj)
        {
            char val[64];
            const char *text = cJSON_IsString(kv) ? kv->valuestring : NULL;
            if (cJSON_IsNumber(kv)) {
                snprintf(val, sizeof val, "%.15g", kv->valuedouble);
                text = val;
            } else if (cJSON_IsBool(kv)) {
                text = cJSON_IsTrue(kv) ? "true" : "false";
            }
            if (!text) {
                report_fail(err, 400, "invalid_parameter", field,
                            "%s.%s.%s must be a string, number or boolean", field,
                            which ? "trait" : "property", kv->string);
                goto out;
            }
            uint32_t *ks = which ? tkeys : pkeys, *vs = which ? tvals : pvals;
            int *cnt = which ? &n_traits : &n_props;
            if (*cnt < 16) {
                ks[*cnt] = strdict_find(&a->keys, kv->string);
                vs[*cnt] = strdict_find(&a->values, text);
                (*cnt)++;
            }
        }
    }
    if (p && (path_ok || n_events || n_props)) {
        uint8_t *seen_path = path_ok ? xcalloc(n, 1) : NULL;
        uint8_t *seen_event = n_events ? xcalloc(n, 1) : NULL;
        uint8_t *seen_prop = n_props ? xcalloc(n, 1) : NULL;
        for (size_t i = 0; i < p->n_events; i++) {
            const struct ax_event *e = &p->events[i];
            if (path_ok && e->path && path_ok[e->path] &&
                (e->type == AX_PAGE || e->type == AX_SCREEN))
                seen_path[e->session] = 1;
            if (n_events && e->name == event_ids[0])
                seen_event[e->session] = 1;
            if (n_props && e->props && prop_matches(a, p, e->props, pkeys, pvals, n_props))
                seen_prop[e->session] = 1;
        }
        for (size_t s = 1; s < n; s++) {
            if ((seen_path && !seen_path[s]) || (seen_event && !seen_event[s]) ||
                (seen_prop && !seen_prop[s]))
                sg->in[s] = 0;
        }
        free(seen_path);
        free(seen_event);
        free(seen_prop);
    } else if (path_ok || n_events || n_props) {
        memset(sg->in, 0, n);
    }
    free(path_ok);
    if (n_traits && p) {
        for (size_t s = 1; s < n; s++) {
            const struct ax_visitor *vis = &p->visitors[p->sessions[s].visitor];
            if (!prop_matches(a, p, vis->traits, tkeys, tvals, n_traits))
                sg->in[s] = 0;
        }
    }
    /* What the engine concluded: from the sessions table over the range
     * (a day either side, so sessions straddling its edges are found). */
    bool engine_conds = cJSON_GetObjectItemCaseSensitive(json, "converted") ||
                        cJSON_GetObjectItemCaseSensitive(json, "signal") ||
                        cJSON_GetObjectItemCaseSensitive(json, "struggled") ||
                        cJSON_GetObjectItemCaseSensitive(json, "intervened") ||
                        cJSON_GetObjectItemCaseSensitive(json, "held_out");
    if (engine_conds && p) {
        int64_t from, to;
        if (param_range(params, &from, &to, err))
            goto out;
        struct sql_ctx c = {p, mark, json};
        struct store_session_query q = {.project_id = project_id,
                                        .from = from - 86400000,
                                        .to = to + 86400000};
        if (store_sessions(a->store, &q, sql_row, &c) < 0) {
            report_fail(err, 503, "store_unavailable", field, "cannot read sessions now");
            goto out;
        }
        for (size_t s = 1; s < n; s++)
            if (!mark[s])
                sg->in[s] = 0;
    }
    *out = sg;
    sg = NULL;
    rc = 0;
out:
    free(mark);
    segment_free(sg);
    return rc;
}
