/*
 * funnel.c - ordered funnels over the column store (docs/api.md, "Funnels").
 *
 * One pass over the project's events marks, per event, the steps it
 * matches (a bitmask: the event name decides which steps are candidates,
 * then page globs and property filters). Matching events are grouped by
 * visitor (or session) with a counting sort, ordered by time inside each
 * group, and walked once:
 *
 *   level[k] = the most recent chain that has reached step k, with the times
 *              of its steps. An event matching step k extends level[k-1]
 *              when it is within the window of that chain's first step (and,
 *              in strict order, directly follows the chain's last step).
 *              Steps are tried from the last to the first, so one event never
 *              advances two steps of the same chain.
 *
 * Keeping the most recent chain per level is what makes one pass enough: a
 * later start leaves the most window for the steps still to come. A group
 * counts as far as the furthest level any of its chains reached, and the
 * first chain that got there supplies its step times (for the medians) and
 * its first event (for the breakdown).
 */
#include "analytics/analytics_internal.h"

#include "common/timefmt.h"
#include "common/util.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 16
#define MAX_WHERE 8
#define MAX_BREAKDOWN 50
#define DAY_MS 86400000LL

enum where_op { W_EQ, W_NE, W_GT, W_GTE, W_LT, W_LTE, W_CONTAINS };

struct where {
    uint32_t key;     /* property name id; 0: the name was never seen */
    enum where_op op;
    uint32_t value;   /* value id for eq / ne (0: never seen) */
    double num;       /* for comparisons */
    const char *text; /* for contains */
};

struct fstep {
    uint32_t name;    /* event name id, 0 with a page step */
    bool any_page;    /* a page view or screen of any name */
    bool name_unseen; /* an event never stored: matches nothing */
    uint8_t *path_ok; /* by path id; NULL: any path */
    struct where where[MAX_WHERE];
    int n_where;
    char label[160];
};

struct funnel {
    struct fstep steps[MAX_STEPS];
    int n;
    int64_t window;
    bool strict;
    bool by_session;
    int breakdown; /* 0 none, 1 device, 2 browser, 3 os, 4 referrer, 5 property */
    uint32_t breakdown_key;
    char breakdown_name[80];
    int64_t from, to;
};

/* An event of a group, in the walk. */
struct fentry {
    uint32_t group;
    uint32_t mask;
    uint32_t event; /* index in the project's events */
};

/* What one group reached. */
struct fresult {
    int level; /* -1: not even step 1 */
    int64_t times[MAX_STEPS];
    uint32_t first_event, last_event;
};

static void funnel_free(struct funnel *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->steps[i].path_ok);
}

/* ---- parsing ------------------------------------------------------------------ */

static int parse_where_value(struct analytics *a, const cJSON *v, struct where *w,
                             const char *field, struct report_error *err)
{
    char tmp[64];
    const char *text = NULL;
    if (cJSON_IsString(v)) {
        text = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        snprintf(tmp, sizeof tmp, "%.15g", v->valuedouble);
        text = tmp;
    } else if (cJSON_IsBool(v)) {
        text = cJSON_IsTrue(v) ? "true" : "false";
    } else {
        return report_fail(err, 400, "invalid_parameter", field,
                           "%s: a value must be a string, number or boolean", field);
    }
    w->value = strdict_find(&a->values, text);
    w->text = cJSON_IsString(v) ? v->valuestring : NULL;
    char *end;
    w->num = strtod(text, &end);
    if (*end || end == text)
        w->num = NAN;
    return 0;
}

static int parse_where(struct analytics *a, const cJSON *where, struct fstep *st,
                       const char *field, struct report_error *err)
{
    if (!cJSON_IsObject(where))
        return report_fail(err, 400, "invalid_parameter", field,
                           "%s must be an object of property names to conditions", field);
    static const char *const ops[] = {"eq", "ne", "gt", "gte", "lt", "lte", "contains"};
    const cJSON *prop;
    cJSON_ArrayForEach(prop, where)
    {
        char sub[200];
        snprintf(sub, sizeof sub, "%s.%s", field, prop->string);
        uint32_t key = strdict_find(&a->keys, prop->string);
        if (!cJSON_IsObject(prop)) {
            if (st->n_where == MAX_WHERE)
                return report_fail(err, 400, "invalid_parameter", field,
                                   "%s: at most %d conditions", field, MAX_WHERE);
            struct where *w = &st->where[st->n_where++];
            w->key = key;
            w->op = W_EQ;
            if (parse_where_value(a, prop, w, sub, err))
                return -1;
            continue;
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, prop)
        {
            int op = -1;
            for (size_t i = 0; i < ARRAY_LEN(ops); i++)
                if (!strcmp(c->string, ops[i]))
                    op = (int)i;
            char sub2[240];
            snprintf(sub2, sizeof sub2, "%s.%s", sub, c->string);
            if (op < 0)
                return report_fail(err, 400, "invalid_parameter", sub2,
                                   "%s: unknown operator (eq, ne, gt, gte, lt, lte, contains)",
                                   sub2);
            if (st->n_where == MAX_WHERE)
                return report_fail(err, 400, "invalid_parameter", field,
                                   "%s: at most %d conditions", field, MAX_WHERE);
            struct where *w = &st->where[st->n_where++];
            w->key = key;
            w->op = (enum where_op)op;
            if (parse_where_value(a, c, w, sub2, err))
                return -1;
            if (op >= W_GT && op <= W_LTE && isnan(w->num))
                return report_fail(err, 400, "invalid_parameter", sub2,
                                   "%s: a comparison needs a number", sub2);
            if (op == W_CONTAINS && !w->text)
                return report_fail(err, 400, "invalid_parameter", sub2,
                                   "%s: contains needs a string", sub2);
        }
    }
    return 0;
}

static uint8_t *glob_paths(struct analytics *a, const char *glob)
{
    uint8_t *ok = xcalloc(a->paths.n + 1, 1);
    for (uint32_t id = 1; id < a->paths.n; id++)
        ok[id] = fnmatch(glob, a->paths.by_id[id], 0) == 0;
    return ok;
}

static int funnel_parse(struct analytics *a, const struct report_params *p, struct funnel *f,
                 struct report_error *err)
{
    memset(f, 0, sizeof *f);
    cJSON *owned = NULL;
    const cJSON *steps = param_json(p, "steps", &owned, err);
    if (!steps && err->status)
        return -1;
    int rc = -1;
    if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) < 2 ||
        cJSON_GetArraySize(steps) > MAX_STEPS) {
        report_fail(err, 400, "invalid_parameter", "steps",
                    "steps must be an array of 2 to %d steps", MAX_STEPS);
        goto out;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, steps)
    {
        struct fstep *st = &f->steps[f->n];
        char field[40];
        snprintf(field, sizeof field, "steps[%d]", f->n);
        f->n++;
        if (!cJSON_IsObject(s)) {
            report_fail(err, 400, "invalid_parameter", field,
                        "%s must be an object with an event or a path", field);
            goto out;
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, s)
        {
            if (strcmp(m->string, "event") && strcmp(m->string, "path") &&
                strcmp(m->string, "where") && strcmp(m->string, "label")) {
                report_fail(err, 400, "invalid_parameter", field,
                            "%s.%s: unknown member (event, path, where, label)", field,
                            m->string);
                goto out;
            }
        }
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(s, "event");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(s, "path");
        const cJSON *where = cJSON_GetObjectItemCaseSensitive(s, "where");
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(s, "label");
        if ((ev && (!cJSON_IsString(ev) || !*ev->valuestring)) ||
            (path && (!cJSON_IsString(path) || !*path->valuestring)) || (!ev && !path)) {
            report_fail(err, 400, "invalid_parameter", field,
                        "%s needs an event (a name) or a path (a glob such as /pricing*)",
                        field);
            goto out;
        }
        if (ev) {
            st->name = strdict_find(&a->names, ev->valuestring);
            st->name_unseen = st->name == 0;
            if (!strcmp(ev->valuestring, "$pageview")) {
                st->any_page = true;
                st->name = 0;
                st->name_unseen = false;
            }
        } else {
            st->any_page = true;
        }
        if (path)
            st->path_ok = glob_paths(a, path->valuestring);
        if (where) {
            char sub[60];
            snprintf(sub, sizeof sub, "%s.where", field);
            if (parse_where(a, where, st, sub, err))
                goto out;
        }
        snprintf(st->label, sizeof st->label, "%s",
                 cJSON_IsString(label) ? label->valuestring
                 : ev                  ? ev->valuestring
                                       : path->valuestring);
    }
    char b[80];
    const char *w = param_text(p, "window", b, sizeof b);
    f->window = DAY_MS;
    if (w && (parse_duration_param(w, &f->window) || f->window <= 0 ||
              f->window > 366 * DAY_MS)) {
        report_fail(err, 400, "invalid_parameter", "window",
                    "window: '%.40s' is not a duration from 1s to 366d (30m, 1h, 7d)", w);
        goto out;
    }
    const char *order = param_text(p, "order", b, sizeof b);
    if (order && strcmp(order, "loose") && strcmp(order, "strict")) {
        report_fail(err, 400, "invalid_parameter", "order", "order must be loose or strict");
        goto out;
    }
    f->strict = order && !strcmp(order, "strict");
    const char *by = param_text(p, "by", b, sizeof b);
    if (by && strcmp(by, "visitor") && strcmp(by, "session")) {
        report_fail(err, 400, "invalid_parameter", "by", "by must be visitor or session");
        goto out;
    }
    f->by_session = by && !strcmp(by, "session");
    const char *bd = param_text(p, "breakdown", b, sizeof b);
    if (bd && *bd) {
        static const char *const kinds[] = {"device", "browser", "os", "referrer"};
        for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
            if (!strcmp(bd, kinds[i]))
                f->breakdown = (int)i + 1;
        if (!f->breakdown && !strncmp(bd, "property:", 9) && bd[9]) {
            f->breakdown = 5;
            f->breakdown_key = strdict_find(&a->keys, bd + 9);
        }
        if (!f->breakdown) {
            report_fail(err, 400, "invalid_parameter", "breakdown",
                        "breakdown must be device, browser, os, referrer or property:NAME");
            goto out;
        }
        snprintf(f->breakdown_name, sizeof f->breakdown_name, "%s", bd);
    }
    if (param_range(p, &f->from, &f->to, err))
        goto out;
    rc = 0;
out:
    cJSON_Delete(owned);
    return rc;
}

/* ---- matching ----------------------------------------------------------------- */

static bool where_holds(struct analytics *a, const struct ax_project *p, uint32_t props,
                        const struct where *w)
{
    uint32_t v = ax_prop(p, props, w->key);
    switch (w->op) {
    case W_EQ:
        return v && v == w->value;
    case W_NE:
        return v != w->value || !v;
    case W_CONTAINS:
        return v && strstr(a->values.by_id[v], w->text) != NULL;
    default:
        break;
    }
    if (!v)
        return false;
    double x = a->values.num[v];
    if (isnan(x))
        return false;
    switch (w->op) {
    case W_GT:
        return x > w->num;
    case W_GTE:
        return x >= w->num;
    case W_LT:
        return x < w->num;
    case W_LTE:
        return x <= w->num;
    default:
        return false;
    }
}

/* Per event name id: the steps it may match (before paths and filters), and
 * whether it is an event that breaks a strict sequence (a page view, a screen
 * or a custom event; autocapture's $-events are ignored). */
struct name_table {
    uint32_t *mask;
    uint8_t *significant;
};

static void name_table_build(struct analytics *a, const struct funnel *f, struct name_table *t)
{
    uint32_t n = a->names.n;
    t->mask = xcalloc(n + 1, sizeof *t->mask);
    t->significant = xcalloc(n + 1, 1);
    uint32_t pv = strdict_find(&a->names, "$pageview");
    uint32_t sc = strdict_find(&a->names, "$screen");
    for (uint32_t id = 1; id < n; id++) {
        const char *s = a->names.by_id[id];
        t->significant[id] = s[0] != '$' || id == pv || id == sc;
    }
    for (int k = 0; k < f->n; k++) {
        const struct fstep *st = &f->steps[k];
        if (st->name_unseen)
            continue;
        if (st->any_page) {
            if (pv)
                t->mask[pv] |= 1u << k;
            if (sc)
                t->mask[sc] |= 1u << k;
        } else {
            t->mask[st->name] |= 1u << k;
        }
    }
}

static uint32_t event_mask(struct analytics *a, const struct ax_project *p, const struct funnel *f,
                           const struct name_table *t, const struct ax_event *e)
{
    uint32_t cand = t->mask[e->name];
    uint32_t m = 0;
    while (cand) {
        int k = __builtin_ctz(cand);
        cand &= cand - 1;
        const struct fstep *st = &f->steps[k];
        if (st->path_ok && !(e->path && st->path_ok[e->path]))
            continue;
        bool ok = true;
        for (int i = 0; i < st->n_where && ok; i++)
            ok = where_holds(a, p, e->props, &st->where[i]);
        if (ok)
            m |= 1u << k;
    }
    return m;
}

/* ---- the walk ----------------------------------------------------------------- */

static int cmp_entry_time(const void *x, const void *y, void *ctx)
{
    const struct ax_event *ev = ctx;
    const struct ax_event *a = &ev[((const struct fentry *)x)->event];
    const struct ax_event *b = &ev[((const struct fentry *)y)->event];
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Orders one group's entries by (time, row): insertion sort, as arrival
 * order is nearly time order; a long group that is far from it goes to
 * qsort. */
static void sort_group(struct fentry *g, size_t n, const struct ax_event *ev)
{
    size_t moves = 0;
    for (size_t i = 1; i < n; i++) {
        struct fentry x = g[i];
        size_t j = i;
        while (j > 0 && cmp_entry_time(&g[j - 1], &x, (void *)ev) > 0) {
            g[j] = g[j - 1];
            j--;
            if (++moves > 4 * n + 64) {
                qsort_r(g, n, sizeof *g, cmp_entry_time, (void *)ev);
                return;
            }
        }
        g[j] = x;
    }
}

struct chain {
    bool valid;
    size_t last_pos; /* position of its last step in the group (strict order) */
    int64_t times[MAX_STEPS];
    uint32_t first_event, last_event;
};

static void walk_group(const struct funnel *f, const struct fentry *g, size_t n,
                       const struct ax_event *ev, struct fresult *out)
{
    struct chain level[MAX_STEPS];
    for (int k = 0; k < f->n; k++)
        level[k].valid = false;
    out->level = -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t m = g[i].mask;
        if (!m)
            continue;
        int64_t ts = ev[g[i].event].ts;
        for (int k = f->n - 1; k >= 1; k--) {
            if (!(m & (1u << k)) || !level[k - 1].valid)
                continue;
            const struct chain *prev = &level[k - 1];
            if (ts - prev->times[0] > f->window)
                continue;
            if (f->strict && prev->last_pos + 1 != i)
                continue;
            struct chain *c = &level[k];
            memcpy(c->times, prev->times, (size_t)k * sizeof c->times[0]);
            c->times[k] = ts;
            c->valid = true;
            c->last_pos = i;
            c->first_event = prev->first_event;
            c->last_event = g[i].event;
            if (k > out->level) {
                out->level = k;
                memcpy(out->times, c->times, (size_t)(k + 1) * sizeof c->times[0]);
                out->first_event = c->first_event;
                out->last_event = c->last_event;
            }
        }
        if ((m & 1u) && ts >= f->from && ts < f->to) {
            struct chain *c = &level[0];
            c->valid = true;
            c->times[0] = ts;
            c->last_pos = i;
            c->first_event = c->last_event = g[i].event;
            if (out->level < 0) {
                out->level = 0;
                out->times[0] = ts;
                out->first_event = out->last_event = g[i].event;
            }
        }
    }
}

/* Runs the funnel: results[group] for every group id (visitor or session);
 * returns the number of group ids (the array's length). Read lock held. */
static size_t funnel_run(struct analytics *a, const struct ax_project *p, const struct funnel *f,
                         const struct segment *sg, struct fresult **results)
{
    size_t n_groups = f->by_session ? p->session_ids.n : p->visitor_ids.n;
    struct name_table t;
    name_table_build(a, f, &t);
    int64_t hi = f->to + f->window;
    /* 1. the events that match a step (or, in strict order, break a sequence) */
    size_t cap = 1 << 16, n = 0;
    struct fentry *cand = xmalloc(cap * sizeof *cand);
    uint32_t *count = xcalloc(n_groups + 1, sizeof *count);
    for (size_t i = 0; i < p->n_events; i++) {
        const struct ax_event *e = &p->events[i];
        if (!t.mask[e->name] && !(f->strict && t.significant[e->name]))
            continue;
        if (e->ts < f->from || e->ts >= hi || !segment_has(sg, e->session))
            continue;
        uint32_t m = t.mask[e->name] ? event_mask(a, p, f, &t, e) : 0;
        if (!m && !f->strict)
            continue;
        if (n == cap) {
            cap *= 2;
            cand = xrealloc(cand, cap * sizeof *cand);
        }
        uint32_t g = f->by_session ? e->session : e->visitor;
        cand[n++] = (struct fentry){g, m, (uint32_t)i};
        count[g]++;
    }
    free(t.mask);
    free(t.significant);
    /* 2. grouped: a counting sort by group (stable: arrival order within) */
    size_t *start = xmalloc((n_groups + 1) * sizeof *start);
    size_t acc = 0;
    for (size_t g = 0; g < n_groups; g++) {
        start[g] = acc;
        acc += count[g];
    }
    start[n_groups] = acc;
    struct fentry *sorted = xmalloc((n ? n : 1) * sizeof *sorted);
    size_t *fill = xmalloc((n_groups + 1) * sizeof *fill);
    memcpy(fill, start, (n_groups + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        sorted[fill[cand[i].group]++] = cand[i];
    free(fill);
    free(cand);
    free(count);
    /* 3. each group walked in time order */
    struct fresult *res = xmalloc((n_groups ? n_groups : 1) * sizeof *res);
    for (size_t g = 0; g < n_groups; g++) {
        size_t len = start[g + 1] - start[g];
        res[g].level = -1;
        if (!len)
            continue;
        sort_group(sorted + start[g], len, p->events);
        walk_group(f, sorted + start[g], len, p->events, &res[g]);
    }
    free(start);
    free(sorted);
    *results = res;
    return n_groups;
}

/* ---- answers ------------------------------------------------------------------- */

/* The breakdown value of a group's result: a dictionary id (small or
 * values), 0 for none. */
static uint32_t breakdown_value(const struct ax_project *p, const struct funnel *f,
                                const struct fresult *r)
{
    const struct ax_event *e = &p->events[r->first_event];
    const struct ax_session *s = &p->sessions[e->session];
    switch (f->breakdown) {
    case 1:
        return s->device;
    case 2:
        return s->browser;
    case 3:
        return s->os;
    case 4:
        return s->referrer;
    case 5:
        return ax_prop(p, e->props, f->breakdown_key);
    default:
        return 0;
    }
}

struct bd_row {
    uint32_t value;
    int64_t counts[MAX_STEPS];
};

static int cmp_bd(const void *x, const void *y)
{
    const struct bd_row *a = x, *b = y;
    if (a->counts[0] != b->counts[0])
        return a->counts[0] > b->counts[0] ? -1 : 1;
    return a->value < b->value ? -1 : a->value > b->value;
}

int report_funnel(struct analytics *a, int64_t project_id, const struct report_params *p,
                  enum report_format fmt, struct buf *out, struct report_error *err)
{
    struct funnel f;
    pthread_rwlock_rdlock(&a->lock);
    int rc = -1;
    struct segment *sg = NULL;
    struct fresult *res = NULL;
    struct bd_row *bd = NULL;
    double *dur[MAX_STEPS] = {0};
    if (funnel_parse(a, p, &f, err))
        goto out;
    struct ax_project *proj = ax_project_find(a, project_id);
    cJSON *owned = NULL;
    const cJSON *segj = param_json(p, "segment", &owned, err);
    if (!segj && err->status)
        goto out;
    int src = segment_parse(a, proj, project_id, p, "segment", segj, &sg, err);
    cJSON_Delete(owned);
    if (src)
        goto out;
    int64_t counts[MAX_STEPS] = {0};
    size_t n_dur[MAX_STEPS] = {0};
    size_t n_bd = 0, cap_bd = 0;
    size_t n_groups = proj ? funnel_run(a, proj, &f, sg, &res) : 0;
    size_t reached0 = 0;
    for (size_t g = 0; g < n_groups; g++)
        reached0 += res[g].level >= 0;
    for (int k = 0; k < f.n; k++)
        dur[k] = xmalloc((reached0 ? reached0 : 1) * sizeof *dur[k]);
    uint32_t *bd_index = NULL; /* by value id + 1 -> row + 1 */
    size_t bd_index_cap = 0;
    if (f.breakdown) {
        bd_index_cap = f.breakdown == 5 ? a->values.n + 1 : a->small.n + 1;
        bd_index = xcalloc(bd_index_cap, sizeof *bd_index);
    }
    for (size_t g = 0; g < n_groups; g++) {
        const struct fresult *r = &res[g];
        if (r->level < 0)
            continue;
        for (int k = 0; k <= r->level; k++) {
            counts[k]++;
            if (k > 0)
                dur[k][n_dur[k]++] = (double)(r->times[k] - r->times[k - 1]) / 1000.0;
        }
        if (f.breakdown) {
            uint32_t v = breakdown_value(proj, &f, r);
            if (v >= bd_index_cap)
                v = 0;
            if (!bd_index[v]) {
                if (n_bd == cap_bd) {
                    cap_bd = cap_bd ? cap_bd * 2 : 16;
                    bd = xrealloc(bd, cap_bd * sizeof *bd);
                }
                memset(&bd[n_bd], 0, sizeof bd[n_bd]);
                bd[n_bd].value = v;
                bd_index[v] = (uint32_t)++n_bd;
            }
            struct bd_row *row = &bd[bd_index[v] - 1];
            for (int k = 0; k <= r->level; k++)
                row->counts[k]++;
        }
    }
    free(bd_index);
    if (n_bd > 1)
        qsort(bd, n_bd, sizeof *bd, cmp_bd);
    /* Past the first MAX_BREAKDOWN values, the rest are one "(other)" row. */
    if (n_bd > MAX_BREAKDOWN) {
        struct bd_row *other = &bd[MAX_BREAKDOWN - 1];
        for (size_t i = MAX_BREAKDOWN; i < n_bd; i++)
            for (int k = 0; k < f.n; k++)
                other->counts[k] += bd[i].counts[k];
        other->value = UINT32_MAX;
        n_bd = MAX_BREAKDOWN;
    }
    const struct strdict *bd_dict = f.breakdown == 5 ? &a->values : &a->small;
    if (fmt == REPORT_CSV) {
        buf_puts(out, "breakdown,step,label,count,conversion,from_previous,dropoff,"
                      "median_seconds_from_previous\r\n");
        for (int k = 0; k < f.n; k++) {
            buf_puts(out, "(all),");
            buf_printf(out, "%d,", k);
            csv_field(out, f.steps[k].label);
            buf_printf(out, ",%lld,", (long long)counts[k]);
            csv_ratio(out, counts[k], counts[0]);
            buf_putc(out, ',');
            csv_ratio(out, counts[k], k ? counts[k - 1] : counts[0]);
            buf_printf(out, ",%lld,", (long long)(k ? counts[k - 1] - counts[k] : 0));
            if (k)
                csv_double(out, stats_median(dur[k], n_dur[k]));
            buf_puts(out, "\r\n");
        }
        for (size_t i = 0; i < n_bd; i++) {
            for (int k = 0; k < f.n; k++) {
                const char *v = bd[i].value == UINT32_MAX ? "(other)"
                                                          : strdict_get(bd_dict, bd[i].value);
                csv_field(out, v ? v : "(none)");
                buf_printf(out, ",%d,", k);
                csv_field(out, f.steps[k].label);
                buf_printf(out, ",%lld,", (long long)bd[i].counts[k]);
                csv_ratio(out, bd[i].counts[k], bd[i].counts[0]);
                buf_putc(out, ',');
                csv_ratio(out, bd[i].counts[k], k ? bd[i].counts[k - 1] : bd[i].counts[0]);
                buf_printf(out, ",%lld,\r\n",
                           (long long)(k ? bd[i].counts[k - 1] - bd[i].counts[k] : 0));
            }
        }
    } else {
        buf_puts(out, "{\"from\":");
        json_time(out, f.from);
        buf_puts(out, ",\"to\":");
        json_time(out, f.to);
        buf_printf(out, ",\"window_seconds\":%lld,\"order\":\"%s\",\"by\":\"%s\",\"steps\":[",
                   (long long)(f.window / 1000), f.strict ? "strict" : "loose",
                   f.by_session ? "session" : "visitor");
        for (int k = 0; k < f.n; k++) {
            buf_printf(out, "%s{\"index\":%d,\"label\":", k ? "," : "", k);
            json_str(out, f.steps[k].label);
            buf_printf(out, ",\"count\":%lld,\"conversion\":", (long long)counts[k]);
            json_ratio(out, counts[k], counts[0]);
            buf_puts(out, ",\"from_previous\":");
            json_ratio(out, counts[k], k ? counts[k - 1] : counts[0]);
            buf_printf(out, ",\"dropoff\":%lld,\"median_seconds_from_previous\":",
                       (long long)(k ? counts[k - 1] - counts[k] : 0));
            if (k && n_dur[k])
                json_double(out, round(stats_median(dur[k], n_dur[k]) * 1000) / 1000);
            else
                buf_puts(out, "null");
            buf_putc(out, '}');
        }
        buf_putc(out, ']');
        if (f.breakdown) {
            buf_puts(out, ",\"breakdown_by\":");
            json_str(out, f.breakdown_name);
            buf_puts(out, ",\"breakdown\":[");
            for (size_t i = 0; i < n_bd; i++) {
                buf_puts(out, i ? ",{\"value\":" : "{\"value\":");
                const char *v = bd[i].value == UINT32_MAX ? "(other)"
                                                          : strdict_get(bd_dict, bd[i].value);
                json_str(out, v ? v : "(none)");
                buf_puts(out, ",\"counts\":[");
                for (int k = 0; k < f.n; k++)
                    buf_printf(out, "%s%lld", k ? "," : "", (long long)bd[i].counts[k]);
                buf_puts(out, "]}");
            }
            buf_putc(out, ']');
        }
        buf_putc(out, '}');
    }
    rc = 0;
out:
    pthread_rwlock_unlock(&a->lock);
    for (int k = 0; k < MAX_STEPS; k++)
        free(dur[k]);
    free(bd);
    free(res);
    segment_free(sg);
    funnel_free(&f);
    return rc;
}

int report_funnel_dropped(struct analytics *a, int64_t project_id, const struct report_params *p,
                          enum report_format fmt, struct buf *out, struct report_error *err)
{
    struct funnel f;
    pthread_rwlock_rdlock(&a->lock);
    int rc = -1;
    struct segment *sg = NULL;
    struct fresult *res = NULL;
    if (funnel_parse(a, p, &f, err))
        goto out;
    int64_t step, limit;
    if (param_int(p, "step", -1, 1, f.n - 1, &step, err))
        goto out;
    if (step < 0) {
        report_fail(err, 400, "invalid_parameter", "step",
                    "step: the step the visitors did not reach (1 to %d)", f.n - 1);
        goto out;
    }
    if (param_int(p, "limit", 100, 1, 100000, &limit, err))
        goto out;
    struct ax_project *proj = ax_project_find(a, project_id);
    cJSON *owned = NULL;
    const cJSON *segj = param_json(p, "segment", &owned, err);
    if (!segj && err->status)
        goto out;
    int src = segment_parse(a, proj, project_id, p, "segment", segj, &sg, err);
    cJSON_Delete(owned);
    if (src)
        goto out;
    size_t n_groups = proj ? funnel_run(a, proj, &f, sg, &res) : 0;
    if (fmt == REPORT_CSV)
        buf_puts(out, "visitor,session_id,reached_step,reached_at\r\n");
    else
        buf_printf(out, "{\"step\":%lld,\"label\":", (long long)step);
    if (fmt == REPORT_JSON) {
        json_str(out, f.steps[step].label);
        buf_puts(out, ",\"dropped\":[");
    }
    int64_t shown = 0, total = 0;
    for (size_t g = 0; g < n_groups; g++) {
        const struct fresult *r = &res[g];
        if (r->level != step - 1)
            continue;
        total++;
        if (shown >= limit)
            continue;
        const struct ax_event *e = &proj->events[r->last_event];
        const char *visitor = strdict_get(&proj->visitor_ids, e->visitor);
        const char *session = strdict_get(&proj->session_ids, e->session);
        if (fmt == REPORT_CSV) {
            csv_field(out, visitor);
            buf_putc(out, ',');
            csv_field(out, session);
            char t[TIMEFMT_ISO_LEN];
            timefmt_iso(r->times[r->level], t);
            buf_printf(out, ",%d,%s\r\n", r->level, t);
        } else {
            buf_puts(out, shown ? ",{\"visitor\":" : "{\"visitor\":");
            json_str(out, visitor);
            buf_puts(out, ",\"session_id\":");
            json_str(out, session);
            buf_printf(out, ",\"reached_step\":%d,\"reached_at\":", r->level);
            json_time(out, r->times[r->level]);
            buf_putc(out, '}');
        }
        shown++;
    }
    if (fmt == REPORT_JSON)
        buf_printf(out, "],\"total\":%lld}", (long long)total);
    rc = 0;
out:
    pthread_rwlock_unlock(&a->lock);
    free(res);
    segment_free(sg);
    funnel_free(&f);
    return rc;
}
