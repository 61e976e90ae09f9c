/*
 * policy.c - a project's settings (docs/policy.md): when to intervene, how,
 * how often, for whom not, and the conversion goal and detector thresholds.
 *
 * Settings are one JSON document per project, validated as a whole when
 * loaded or changed; every error names its field ("rules[1].when.risk_gte:
 * must be a number from 0 to 100"). Rules are tried in order; the first
 * whose `when` holds decides the action. A `when` object's members must all
 * hold; `any`, `all` and `not` nest.
 *
 * With no rules given, the defaults are the original design's: risk >= 75,
 * or 4 or more signals scoring >= 70, each offering a live chat.
 */
#include "engine/engine_internal.h"

#include "common/util.h"
#include "config/config.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cond_type {
    C_ALL,
    C_ANY,
    C_NOT,
    C_RISK_GTE,
    C_RISK_LT,
    C_SIGNAL,
    C_SIGNALS,
    C_PATH,
    C_PATH_NOT,
    C_TRAIT,
    C_DEVICE,
    C_CONVERTED,
};

struct condition {
    enum cond_type type;
    double num;
    int kind;
    int count;
    bool flag;
    char **strs;
    int n_strs;
    char **keys; /* C_TRAIT: keys[i] = strs[i] */
    struct condition **kids;
    int n_kids;
};

static const char *const DEFAULT_SETTINGS =
    "{\n"
    "  \"rules\": [\n"
    "    {\"name\": \"high-risk\", \"when\": {\"risk_gte\": 75},\n"
    "     \"action\": {\"type\": \"live_chat_offer\", \"title\": \"Need help?\",\n"
    "                \"message\": \"It looks like {{field|this page}} is giving you trouble. "
    "Would you like to chat with someone who can help?\"}},\n"
    "    {\"name\": \"many-signals\", \"when\": {\"signals\": {\"count_gte\": 4, \"score_gte\": "
    "70}},\n"
    "     \"action\": {\"type\": \"live_chat_offer\", \"title\": \"Need help?\",\n"
    "                \"message\": \"It looks like {{field|this page}} is giving you trouble. "
    "Would you like to chat with someone who can help?\"}}\n"
    "  ],\n"
    "  \"caps\": {\"session_interval\": \"10m\", \"daily_per_visitor\": 3, "
    "\"decline_cooldown\": \"30m\"},\n"
    "  \"holdout_pct\": 10,\n"
    "  \"exclude_paths\": [],\n"
    "  \"intervention_ttl\": \"2m\",\n"
    "  \"webhook_url\": null,\n"
    "  \"goal\": null,\n"
    "  \"detectors\": {}\n"
    "}\n";

void engine_default_settings(struct buf *out)
{
    buf_puts(out, DEFAULT_SETTINGS);
}

/* ------------------------------------------------------------------------ */
/* parsing with errors that name the field                                    */

struct parse {
    char *err;
    size_t errlen;
    bool failed;
};

static bool failf(struct parse *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool failf(struct parse *p, const char *path, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    int n = snprintf(p->err, p->errlen, "%s: ", path);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen)
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static void free_condition(struct condition *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_strs; i++) {
        free(c->strs[i]);
        if (c->keys)
            free(c->keys[i]);
    }
    free(c->strs);
    free(c->keys);
    for (int i = 0; i < c->n_kids; i++)
        free_condition(c->kids[i]);
    free(c->kids);
    free(c);
}

static struct condition *cond_new(enum cond_type t)
{
    struct condition *c = xcalloc(1, sizeof *c);
    c->type = t;
    return c;
}

static void add_kid(struct condition *c, struct condition *k)
{
    c->kids = xrealloc(c->kids, (size_t)(c->n_kids + 1) * sizeof *c->kids);
    c->kids[c->n_kids++] = k;
}

static void add_str(struct condition *c, const char *s)
{
    c->strs = xrealloc(c->strs, (size_t)(c->n_strs + 1) * sizeof *c->strs);
    c->strs[c->n_strs++] = xstrdup(s);
}

static bool number_in(struct parse *p, const cJSON *v, const char *path, double lo, double hi,
                      double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return failf(p, path, "must be a number from %g to %g", lo, hi);
    *out = v->valuedouble;
    return true;
}

static bool strings(struct parse *p, const cJSON *v, const char *path, struct condition *c)
{
    if (cJSON_IsString(v)) {
        add_str(c, v->valuestring);
        return true;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return failf(p, path, "must be a string or a non-empty array of strings");
    const cJSON *s;
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s))
            return failf(p, path, "must be a string or a non-empty array of strings");
        add_str(c, s->valuestring);
    }
    return true;
}

static struct condition *parse_when(struct parse *p, const cJSON *w, const char *path);

static struct condition *parse_member(struct parse *p, const cJSON *v, const char *path,
                                      const char *key)
{
    struct condition *c = NULL;
    char sub[256];
    if (!strcmp(key, "risk_gte") || !strcmp(key, "risk_lt")) {
        c = cond_new(key[5] == 'g' ? C_RISK_GTE : C_RISK_LT);
        if (!number_in(p, v, path, 0, 100, &c->num))
            goto bad;
    } else if (!strcmp(key, "signal")) {
        c = cond_new(C_SIGNAL);
        if (!cJSON_IsObject(v)) {
            failf(p, path, "must be an object like {\"kind\": \"form_errors\", \"score_gte\": 70}");
            goto bad;
        }
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(v, "kind");
        snprintf(sub, sizeof sub, "%s.kind", path);
        c->kind = cJSON_IsString(kind) ? signal_kind_parse(kind->valuestring) : -1;
        if (c->kind < 0) {
            failf(p, sub,
                  "must name a signal kind (rage_click, dead_click, error_click, "
                  "form_errors, field_thrash, form_abandon, calculator_retry, long_dwell, "
                  "u_turn, rapid_navigation, quick_back, scroll_thrash, js_error, "
                  "video_rewatch, video_abandon)");
            goto bad;
        }
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(v, "score_gte");
        snprintf(sub, sizeof sub, "%s.score_gte", path);
        c->num = 1;
        if (score && !number_in(p, score, sub, 0, 100, &c->num))
            goto bad;
    } else if (!strcmp(key, "signals")) {
        c = cond_new(C_SIGNALS);
        if (!cJSON_IsObject(v)) {
            failf(p, path, "must be an object like {\"count_gte\": 4, \"score_gte\": 70}");
            goto bad;
        }
        double count = 0;
        snprintf(sub, sizeof sub, "%s.count_gte", path);
        if (!number_in(p, cJSON_GetObjectItemCaseSensitive(v, "count_gte"), sub, 1, 32, &count))
            goto bad;
        c->count = (int)count;
        snprintf(sub, sizeof sub, "%s.score_gte", path);
        c->num = 0;
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(v, "score_gte");
        if (score && !number_in(p, score, sub, 0, 100, &c->num))
            goto bad;
    } else if (!strcmp(key, "path") || !strcmp(key, "path_not")) {
        c = cond_new(key[4] ? C_PATH_NOT : C_PATH);
        if (!strings(p, v, path, c))
            goto bad;
    } else if (!strcmp(key, "device")) {
        c = cond_new(C_DEVICE);
        if (!strings(p, v, path, c))
            goto bad;
    } else if (!strcmp(key, "converted")) {
        c = cond_new(C_CONVERTED);
        if (!cJSON_IsBool(v)) {
            failf(p, path, "must be true or false");
            goto bad;
        }
        c->flag = cJSON_IsTrue(v);
    } else if (!strcmp(key, "trait")) {
        c = cond_new(C_TRAIT);
        if (!cJSON_IsObject(v) || !v->child) {
            failf(p, path, "must be an object of trait names to values, like {\"plan\": \"pro\"}");
            goto bad;
        }
        const cJSON *t;
        cJSON_ArrayForEach(t, v)
        {
            char val[128];
            if (cJSON_IsString(t))
                snprintf(val, sizeof val, "%s", t->valuestring);
            else if (cJSON_IsNumber(t))
                snprintf(val, sizeof val, "%.15g", t->valuedouble);
            else if (cJSON_IsBool(t))
                snprintf(val, sizeof val, "%s", cJSON_IsTrue(t) ? "true" : "false");
            else {
                snprintf(sub, sizeof sub, "%s.%s", path, t->string);
                failf(p, sub, "must be a string, number or boolean");
                goto bad;
            }
            add_str(c, val);
            c->keys = xrealloc(c->keys, (size_t)c->n_strs * sizeof *c->keys);
            c->keys[c->n_strs - 1] = xstrdup(t->string);
        }
    } else if (!strcmp(key, "all") || !strcmp(key, "any")) {
        c = cond_new(key[1] == 'l' ? C_ALL : C_ANY);
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
            failf(p, path, "must be a non-empty array of conditions");
            goto bad;
        }
        int i = 0;
        const cJSON *k;
        cJSON_ArrayForEach(k, v)
        {
            snprintf(sub, sizeof sub, "%s[%d]", path, i++);
            struct condition *kid = parse_when(p, k, sub);
            if (!kid)
                goto bad;
            add_kid(c, kid);
        }
    } else if (!strcmp(key, "not")) {
        c = cond_new(C_NOT);
        struct condition *kid = parse_when(p, v, path);
        if (!kid)
            goto bad;
        add_kid(c, kid);
    } else {
        failf(p, path,
              "unknown condition (use risk_gte, risk_lt, signal, signals, path, path_not, "
              "device, trait, converted, all, any, not)");
        return NULL;
    }
    return c;
bad:
    free_condition(c);
    return NULL;
}

static struct condition *parse_when(struct parse *p, const cJSON *w, const char *path)
{
    if (!cJSON_IsObject(w) || !w->child) {
        failf(p, path, "must be a non-empty object of conditions");
        return NULL;
    }
    struct condition *all = cond_new(C_ALL);
    const cJSON *m;
    cJSON_ArrayForEach(m, w)
    {
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, m->string);
        struct condition *c = parse_member(p, m, sub, m->string);
        if (!c) {
            free_condition(all);
            return NULL;
        }
        add_kid(all, c);
    }
    return all;
}

static bool duration(struct parse *p, const cJSON *v, const char *path, int64_t lo, int64_t hi,
                     int64_t *out)
{
    if (!v || cJSON_IsNull(v))
        return true;
    int64_t ms;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
        /* Bounded before the conversion: a double beyond int64_t (1e300,
         * Infinity from 1e999) has no int64_t value (undefined behaviour). */
        if (v->valuedouble > (double)hi)
            return failf(p, path, "must be between %lld ms and %lld ms", (long long)lo,
                         (long long)hi);
        ms = (int64_t)v->valuedouble;
    } else if (!cJSON_IsString(v) || config_parse_duration_ms(v->valuestring, &ms))
        return failf(p, path, "must be a duration like \"30s\", \"10m\", \"2h\" (or ms)");
    if (ms < lo || ms > hi)
        return failf(p, path, "must be between %lld ms and %lld ms", (long long)lo, (long long)hi);
    *out = ms;
    return true;
}

static char *opt_string(struct parse *p, const cJSON *v, const char *path, size_t max)
{
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
        failf(p, path, "must be a string of at most %zu characters", max);
        return NULL;
    }
    return xstrdup(v->valuestring);
}

static bool parse_action(struct parse *p, const cJSON *a, const char *path, struct rule *r)
{
    char sub[256];
    if (!cJSON_IsObject(a))
        return failf(p, path, "must be an object with a type");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(a, "type");
    snprintf(sub, sizeof sub, "%s.type", path);
    if (!cJSON_IsString(type))
        return failf(p, sub, "is required: live_chat_offer, tooltip, priority_route or custom");
    const char *t = type->valuestring;
    if (!strcmp(t, "live_chat_offer"))
        r->action = ACTION_LIVE_CHAT;
    else if (!strcmp(t, "tooltip"))
        r->action = ACTION_TOOLTIP;
    else if (!strcmp(t, "priority_route"))
        r->action = ACTION_PRIORITY_ROUTE;
    else if (!strcmp(t, "custom"))
        r->action = ACTION_CUSTOM;
    else
        return failf(p, sub, "'%s' is not one of live_chat_offer, tooltip, priority_route, custom",
                     t);
    snprintf(sub, sizeof sub, "%s.title", path);
    r->title = opt_string(p, cJSON_GetObjectItemCaseSensitive(a, "title"), sub, 120);
    snprintf(sub, sizeof sub, "%s.message", path);
    r->message = opt_string(p, cJSON_GetObjectItemCaseSensitive(a, "message"), sub, 600);
    if (!r->message)
        r->message = opt_string(p, cJSON_GetObjectItemCaseSensitive(a, "text"), sub, 600);
    snprintf(sub, sizeof sub, "%s.selector", path);
    r->selector = opt_string(p, cJSON_GetObjectItemCaseSensitive(a, "selector"), sub, 300);
    snprintf(sub, sizeof sub, "%s.name", path);
    r->custom_name = opt_string(p, cJSON_GetObjectItemCaseSensitive(a, "name"), sub, 100);
    if (p->failed)
        return false;
    if (r->action == ACTION_TOOLTIP && (!r->selector || !r->message)) {
        snprintf(sub, sizeof sub, "%s.%s", path, r->selector ? "text" : "selector");
        return failf(p, sub, "is required for a tooltip");
    }
    if (r->action == ACTION_CUSTOM && !r->custom_name) {
        snprintf(sub, sizeof sub, "%s.name", path);
        return failf(p, sub, "is required for a custom action");
    }
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(a, "payload");
    if (payload && !cJSON_IsNull(payload)) {
        char *printed = cJSON_PrintUnformatted(payload);
        r->payload_json = xstrdup(printed);
        cJSON_free(printed);
    }
    if (!r->title && r->action != ACTION_CUSTOM && r->action != ACTION_TOOLTIP)
        r->title = xstrdup("Need help?");
    if (!r->message && (r->action == ACTION_LIVE_CHAT || r->action == ACTION_PRIORITY_ROUTE))
        r->message = xstrdup("It looks like {{field|this page}} is giving you trouble. Would "
                             "you like to chat with someone who can help?");
    return true;
}

static bool parse_detectors(struct parse *p, const cJSON *d, struct detector_params *dp)
{
    if (!d || cJSON_IsNull(d))
        return true;
    if (!cJSON_IsObject(d))
        return failf(p, "detectors", "must be an object of detector names to settings");
    const cJSON *det;
    cJSON_ArrayForEach(det, d)
    {
        char path[160];
        snprintf(path, sizeof path, "detectors.%s", det->string);
        int kind = signal_kind_parse(det->string);
        if (kind < 0)
            return failf(p, path, "unknown detector");
        if (!cJSON_IsObject(det))
            return failf(p, path, "must be an object");
        const cJSON *opt;
        cJSON_ArrayForEach(opt, det)
        {
            char sub[200];
            snprintf(sub, sizeof sub, "%s.%s", path, opt->string);
            const char *k = opt->string;
            double v = 0;
            if (!strcmp(k, "enabled")) {
                if (!cJSON_IsBool(opt))
                    return failf(p, sub, "must be true or false");
                dp->enabled[kind] = cJSON_IsTrue(opt);
                continue;
            }
            /* every other option is a number; the table says which apply where */
            struct {
                int kind;
                const char *name;
                double lo, hi;
                void *field;
                bool is_ms;
                bool is_double;
            } opts[] = {
                {SIG_RAGE_CLICK, "clicks", 2, 20, &dp->rage_clicks, false, false},
                {SIG_RAGE_CLICK, "window_ms", 100, 10000, &dp->rage_window_ms, true, false},
                {SIG_RAGE_CLICK, "radius_px", 1, 500, &dp->rage_radius_px, false, false},
                {SIG_ERROR_CLICK, "window_ms", 100, 10000, &dp->error_click_window_ms, true, false},
                {SIG_FORM_ERRORS, "errors", 1, 20, &dp->form_errors_min, false, false},
                {SIG_FIELD_THRASH, "changes", 2, 50, &dp->thrash_changes, false, false},
                {SIG_CALC_RETRY, "submits", 2, 20, &dp->calc_retry_submits, false, false},
                {SIG_LONG_DWELL, "bound_ms", 1000, 3600000, &dp->long_dwell_ms, true, false},
                {SIG_LONG_DWELL, "min_samples", 1, 100000, &dp->long_dwell_min_samples, false,
                 false},
                {SIG_U_TURN, "within_ms", 500, 600000, &dp->u_turn_ms, true, false},
                {SIG_RAPID_NAV, "pages", 2, 50, &dp->rapid_nav_pages, false, false},
                {SIG_RAPID_NAV, "window_ms", 1000, 600000, &dp->rapid_nav_window_ms, true, false},
                {SIG_QUICK_BACK, "ratio", 0.01, 1, &dp->quick_back_ratio, false, true},
                {SIG_SCROLL_THRASH, "reversals", 2, 100, &dp->scroll_reversals, false, false},
                {SIG_SCROLL_THRASH, "ratio", 1, 20, &dp->scroll_ratio, false, true},
                {SIG_VIDEO_REWATCH, "rewinds", 2, 50, &dp->video_rewatch_count, false, false},
                {SIG_VIDEO_ABANDON, "ratio", 0.01, 1, &dp->video_abandon_ratio, false, true},
                {SIG_VIDEO_ABANDON, "min_watch_ms", 0, 600000, &dp->video_abandon_min_ms, true,
                 false},
                {SIG_VIDEO_ABANDON, "min_duration_s", 1, 36000, &dp->video_abandon_min_duration_s,
                 false, false},
            };
            bool known = false;
            for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
                if (opts[i].kind != kind || strcmp(opts[i].name, k) != 0)
                    continue;
                known = true;
                if (!number_in(p, opt, sub, opts[i].lo, opts[i].hi, &v))
                    return false;
                if (opts[i].is_double)
                    *(double *)opts[i].field = v;
                else if (opts[i].is_ms)
                    *(int64_t *)opts[i].field = (int64_t)v;
                else
                    *(int *)opts[i].field = (int)v;
            }
            if (!known)
                return failf(p, sub, "unknown option for this detector (see docs/detectors.md)");
        }
    }
    return true;
}

void project_settings_free(struct project_settings *ps)
{
    if (!ps)
        return;
    for (int i = 0; i < ps->n_rules; i++) {
        struct rule *r = &ps->rules[i];
        free(r->name);
        free_condition(r->when);
        free(r->title);
        free(r->message);
        free(r->selector);
        free(r->custom_name);
        free(r->payload_json);
    }
    free(ps->rules);
    for (int i = 0; i < ps->n_exclude_paths; i++)
        free(ps->exclude_paths[i]);
    free(ps->exclude_paths);
    free(ps->webhook_url);
    free(ps->goal_event);
    free(ps->goal_path);
    free(ps);
}

static bool parse_rules(struct parse *p, const cJSON *rules, struct project_settings *ps)
{
    if (!cJSON_IsArray(rules))
        return failf(p, "rules", "must be an array of rules");
    int n = cJSON_GetArraySize(rules);
    if (n > 100)
        return failf(p, "rules", "at most 100 rules");
    ps->rules = xcalloc((size_t)(n ? n : 1), sizeof *ps->rules);
    int i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rules)
    {
        char path[64], sub[96];
        snprintf(path, sizeof path, "rules[%d]", i);
        struct rule *rule = &ps->rules[i];
        ps->n_rules = ++i;
        if (!cJSON_IsObject(r))
            return failf(p, path, "must be an object with when and action");
        snprintf(sub, sizeof sub, "%s.name", path);
        rule->name = opt_string(p, cJSON_GetObjectItemCaseSensitive(r, "name"), sub, 80);
        if (p->failed)
            return false;
        if (!rule->name)
            rule->name = xasprintf("rule-%d", i);
        snprintf(sub, sizeof sub, "%s.when", path);
        rule->when = parse_when(p, cJSON_GetObjectItemCaseSensitive(r, "when"), sub);
        if (!rule->when)
            return false;
        snprintf(sub, sizeof sub, "%s.action", path);
        if (!parse_action(p, cJSON_GetObjectItemCaseSensitive(r, "action"), sub, rule))
            return false;
    }
    return true;
}

struct project_settings *project_settings_parse(const char *json, int64_t project_id, char *err,
                                                size_t errlen)
{
    struct parse p = {err, errlen, false};
    struct project_settings *ps = xcalloc(1, sizeof *ps);
    ps->project_id = project_id;
    ps->session_interval_ms = 10 * 60 * 1000;
    ps->daily_cap = 3;
    ps->decline_cooldown_ms = 30 * 60 * 1000;
    ps->holdout_pct = 10;
    ps->intervention_ttl_ms = 2 * 60 * 1000;
    detector_params_defaults(&ps->detectors);

    cJSON *defaults = cJSON_Parse(DEFAULT_SETTINGS);
    cJSON *root = json && *json ? cJSON_Parse(json) : cJSON_CreateObject();
    if (!cJSON_IsObject(root)) {
        failf(&p, "settings", "must be a JSON object");
        goto out;
    }
    static const char *const known[] = {
        "rules",       "caps", "holdout_pct", "exclude_paths", "intervention_ttl",
        "webhook_url", "goal", "detectors"};
    const cJSON *m;
    cJSON_ArrayForEach(m, root)
    {
        bool ok = false;
        for (size_t i = 0; i < ARRAY_LEN(known); i++)
            ok |= !strcmp(m->string, known[i]);
        if (!ok) {
            failf(&p, m->string,
                  "unknown setting (use rules, caps, holdout_pct, exclude_paths, "
                  "intervention_ttl, webhook_url, goal, detectors)");
            goto out;
        }
    }
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
    if (!rules || cJSON_IsNull(rules))
        rules = cJSON_GetObjectItemCaseSensitive(defaults, "rules");
    if (!parse_rules(&p, rules, ps))
        goto out;

    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(root, "caps");
    if (caps && !cJSON_IsNull(caps)) {
        if (!cJSON_IsObject(caps)) {
            failf(&p, "caps", "must be an object");
            goto out;
        }
        if (!duration(&p, cJSON_GetObjectItemCaseSensitive(caps, "session_interval"),
                      "caps.session_interval", 0, 86400000LL, &ps->session_interval_ms) ||
            !duration(&p, cJSON_GetObjectItemCaseSensitive(caps, "decline_cooldown"),
                      "caps.decline_cooldown", 0, 7 * 86400000LL, &ps->decline_cooldown_ms))
            goto out;
        const cJSON *daily = cJSON_GetObjectItemCaseSensitive(caps, "daily_per_visitor");
        double d = 0;
        if (daily && !cJSON_IsNull(daily)) {
            if (!number_in(&p, daily, "caps.daily_per_visitor", 0, 32, &d))
                goto out;
            ps->daily_cap = (int)d;
        }
    }
    const cJSON *holdout = cJSON_GetObjectItemCaseSensitive(root, "holdout_pct");
    if (holdout && !cJSON_IsNull(holdout) &&
        !number_in(&p, holdout, "holdout_pct", 0, 100, &ps->holdout_pct))
        goto out;
    const cJSON *excl = cJSON_GetObjectItemCaseSensitive(root, "exclude_paths");
    if (excl && !cJSON_IsNull(excl)) {
        if (!cJSON_IsArray(excl)) {
            failf(&p, "exclude_paths", "must be an array of path patterns like \"/checkout/*\"");
            goto out;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, excl)
        {
            if (!cJSON_IsString(e) || e->valuestring[0] != '/') {
                failf(&p, "exclude_paths", "each pattern must be a string starting with /");
                goto out;
            }
            ps->exclude_paths =
                xrealloc(ps->exclude_paths, (size_t)(ps->n_exclude_paths + 1) * sizeof(char *));
            ps->exclude_paths[ps->n_exclude_paths++] = xstrdup(e->valuestring);
        }
    }
    if (!duration(&p, cJSON_GetObjectItemCaseSensitive(root, "intervention_ttl"),
                  "intervention_ttl", 5000, 86400000LL, &ps->intervention_ttl_ms))
        goto out;
    ps->webhook_url =
        opt_string(&p, cJSON_GetObjectItemCaseSensitive(root, "webhook_url"), "webhook_url", 500);
    if (p.failed)
        goto out;
    if (ps->webhook_url && !str_has_prefix(ps->webhook_url, "http://") &&
        !str_has_prefix(ps->webhook_url, "https://")) {
        failf(&p, "webhook_url", "must be an http:// or https:// URL");
        goto out;
    }
    const cJSON *goal = cJSON_GetObjectItemCaseSensitive(root, "goal");
    if (goal && !cJSON_IsNull(goal)) {
        if (!cJSON_IsObject(goal)) {
            failf(&p, "goal", "must be {\"event\": NAME} or {\"path\": \"/thanks\"}");
            goto out;
        }
        ps->goal_event =
            opt_string(&p, cJSON_GetObjectItemCaseSensitive(goal, "event"), "goal.event", 200);
        ps->goal_path =
            opt_string(&p, cJSON_GetObjectItemCaseSensitive(goal, "path"), "goal.path", 500);
        if (p.failed)
            goto out;
        if (!ps->goal_event && !ps->goal_path) {
            failf(&p, "goal", "needs an event or a path");
            goto out;
        }
    }
    parse_detectors(&p, cJSON_GetObjectItemCaseSensitive(root, "detectors"), &ps->detectors);
out:
    cJSON_Delete(root);
    cJSON_Delete(defaults);
    if (p.failed) {
        project_settings_free(ps);
        return NULL;
    }
    return ps;
}

int engine_validate_settings(const char *json, char *err, size_t errlen)
{
    struct project_settings *ps = project_settings_parse(json, 0, err, errlen);
    if (!ps)
        return -1;
    project_settings_free(ps);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* evaluation                                                                */

static int signals_at_least(const struct session *s, double score)
{
    int n = 0;
    int have = s->signals_total < 32 ? s->signals_total : 32;
    for (int i = 0; i < have; i++)
        n += s->recent_scores[i] >= score;
    return n;
}

static const char *trait_value(const struct session *s, const char *key)
{
    for (int i = 0; i < s->trait_count; i++)
        if (!strcmp(s->traits[i].key, key))
            return s->traits[i].value;
    return NULL;
}

static bool holds(const struct condition *c, const struct session *s)
{
    switch (c->type) {
    case C_ALL:
        for (int i = 0; i < c->n_kids; i++)
            if (!holds(c->kids[i], s))
                return false;
        return true;
    case C_ANY:
        for (int i = 0; i < c->n_kids; i++)
            if (holds(c->kids[i], s))
                return true;
        return false;
    case C_NOT:
        return !holds(c->kids[0], s);
    case C_RISK_GTE:
        return s->risk >= c->num;
    case C_RISK_LT:
        return s->risk < c->num;
    case C_SIGNAL:
        return s->sig[c->kind].count > 0 && s->sig[c->kind].max_score >= c->num;
    case C_SIGNALS:
        return signals_at_least(s, c->num) >= c->count;
    case C_PATH:
    case C_PATH_NOT: {
        bool m = false;
        for (int i = 0; i < c->n_strs && !m; i++)
            m = s->current_path && fnmatch(c->strs[i], s->current_path, 0) == 0;
        return c->type == C_PATH ? m : !m;
    }
    case C_DEVICE:
        for (int i = 0; i < c->n_strs; i++)
            if (s->device_class && !strcmp(s->device_class, c->strs[i]))
                return true;
        return false;
    case C_CONVERTED:
        return s->converted == c->flag;
    case C_TRAIT:
        for (int i = 0; i < c->n_strs; i++) {
            const char *v = trait_value(s, c->keys[i]);
            if (!v || strcmp(v, c->strs[i]) != 0)
                return false;
        }
        return true;
    }
    return false;
}

const struct rule *policy_match(const struct project_settings *ps, const struct session *s,
                                int64_t now)
{
    (void)now;
    for (int i = 0; i < ps->n_rules; i++)
        if (holds(ps->rules[i].when, s))
            return &ps->rules[i];
    return NULL;
}

bool policy_path_excluded(const struct project_settings *ps, const char *path)
{
    for (int i = 0; path && i < ps->n_exclude_paths; i++)
        if (fnmatch(ps->exclude_paths[i], path, 0) == 0)
            return true;
    return false;
}

char *policy_render(const char *tmpl, const struct session *s, const char *field, const char *form,
                    enum signal_kind top)
{
    struct buf out = BUF_INIT;
    buf_puts(&out, "");
    const char *p = tmpl ? tmpl : "";
    while (*p) {
        const char *open = strstr(p, "{{");
        const char *close = open ? strstr(open + 2, "}}") : NULL;
        if (!open || !close) {
            buf_puts(&out, p);
            break;
        }
        buf_append(&out, p, (size_t)(open - p));
        char name[64] = "", fallback[160] = "";
        const char *inner = open + 2;
        size_t len = (size_t)(close - inner);
        const char *bar = memchr(inner, '|', len);
        size_t nlen = bar ? (size_t)(bar - inner) : len;
        snprintf(name, sizeof name, "%.*s", (int)nlen, inner);
        if (bar)
            snprintf(fallback, sizeof fallback, "%.*s", (int)(len - nlen - 1), bar + 1);
        char value[200] = "";
        if (!strcmp(name, "page") && s->current_path)
            snprintf(value, sizeof value, "%s", s->current_path);
        else if (!strcmp(name, "field") && field)
            snprintf(value, sizeof value, "the %s field", field);
        else if (!strcmp(name, "field_name") && field)
            snprintf(value, sizeof value, "%s", field);
        else if (!strcmp(name, "form") && form)
            snprintf(value, sizeof value, "%s", form);
        else if (!strcmp(name, "signal") && top < SIG_KIND_COUNT)
            snprintf(value, sizeof value, "%s", signal_kind_label(top));
        else if (!strcmp(name, "risk"))
            snprintf(value, sizeof value, "%d", s->risk);
        buf_puts(&out, value[0] ? value : fallback);
        p = close + 2;
    }
    return buf_steal(&out);
}
