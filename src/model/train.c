/*
 * train.c - `journey train`: learn exit risk from the store's history.
 *
 *   1. Sessions that have ended (no event for session_timeout) are replayed in
 *      the order they started through the engine's own per-event code
 *      (engine_offline_*), so the features are exactly those computed online.
 *   2. Each session gives snapshots after its 1st, 2nd, 4th, 8th ... event,
 *      as long as it has not converted yet (after the goal the answer is
 *      known); every snapshot is labelled 1 if the session ended without
 *      converting (it exited), 0 if it converted.
 *   3. The split is by time, never random: the newest test_share of sessions
 *      (by start) is the test set, the rest trains; the newest eighth of the
 *      training sessions is the validation set for early stopping and for
 *      choosing the decision threshold. A model is judged on sessions newer
 *      than any it learned from, as it will be used.
 *   4. XGBoost, a logistic regression and the trivial baseline (always the
 *      training exit rate) are measured on the test set: ROC AUC, PR AUC, F1
 *      of the minority class at the threshold chosen on validation, Brier.
 *   5. The model is saved as DIR/models/model-N.json (N one more than the
 *      newest there) and copied to current.json (written to a temporary file
 *      and renamed, so a reader never sees half a model).
 */
#include "model/model_internal.h"

#include "common/log.h"
#include "common/timefmt.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void train_options_defaults(struct train_options *o)
{
    memset(o, 0, sizeof *o);
    o->now_ms = now_ms();
    o->session_timeout_ms = 30 * 60 * 1000;
    o->test_share = 0.2;
    o->max_rounds = 400;
    o->seed = 1;
    o->save = true;
}

/* ---- building the data set ----------------------------------------------- */

struct dataset {
    int d;
    float *x;
    float *y;
    int *session; /* the session index of each row */
    size_t n, cap;
    int64_t sessions;
};

struct build_ctx {
    struct engine_offline *off;
    struct dataset *ds;
    char *current; /* the session being replayed (from malloc) */
    bool open;
    int events;
    size_t first_row; /* rows of the current session start here */
};

static void add_row(struct build_ctx *c, int64_t ts)
{
    struct dataset *ds = c->ds;
    if (ds->n == ds->cap) {
        ds->cap = ds->cap ? ds->cap * 2 : 4096;
        ds->x = xrealloc(ds->x, ds->cap * (size_t)ds->d * sizeof *ds->x);
        ds->y = xrealloc(ds->y, ds->cap * sizeof *ds->y);
        ds->session = xrealloc(ds->session, ds->cap * sizeof *ds->session);
    }
    engine_offline_features(c->off, ts, ds->x + ds->n * (size_t)ds->d);
    ds->session[ds->n] = (int)ds->sessions;
    ds->n++;
}

static void end_session(struct build_ctx *c)
{
    if (!c->open)
        return;
    float label = engine_offline_converted(c->off) ? 0.0f : 1.0f;
    for (size_t i = c->first_row; i < c->ds->n; i++)
        c->ds->y[i] = label;
    if (c->ds->n > c->first_row)
        c->ds->sessions++;
    engine_offline_end(c->off);
    c->open = false;
}

static bool snapshot_point(int k)
{
    return k > 0 && (k & (k - 1)) == 0 && k <= 256; /* 1, 2, 4, ... 256 */
}

static int build_one(const struct store_event *e, int64_t id, void *arg)
{
    struct build_ctx *c = arg;
    if (!c->open || strcmp(c->current, e->session_id) != 0) {
        end_session(c);
        free(c->current);
        c->current = xstrdup(e->session_id);
        engine_offline_begin(c->off, e->project_id, e->session_id);
        c->open = true;
        c->events = 0;
        c->first_row = c->ds->n;
    }
    engine_offline_event(c->off, e, id);
    c->events++;
    if (snapshot_point(c->events) && !engine_offline_converted(c->off))
        add_row(c, e->timestamp);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

/* Rows whose session index is in [lo, hi). Rows are in session order. */
static void slice(const struct dataset *ds, int lo, int hi, size_t *from, size_t *to)
{
    size_t a = 0;
    while (a < ds->n && ds->session[a] < lo)
        a++;
    size_t b = a;
    while (b < ds->n && ds->session[b] < hi)
        b++;
    *from = a;
    *to = b;
}

/* Metrics on the minority class: scores are P(exit), flipped if converting
 * is the rarer outcome. */
static void minority_metrics(struct metric_set *m, const float *p, const float *y, size_t n,
                             bool minority_is_exit, double threshold)
{
    float *s = xmalloc((n ? n : 1) * sizeof *s), *l = xmalloc((n ? n : 1) * sizeof *l);
    for (size_t i = 0; i < n; i++) {
        s[i] = minority_is_exit ? p[i] : 1.0f - p[i];
        l[i] = minority_is_exit ? y[i] : 1.0f - y[i];
    }
    metric_set_compute(m, s, l, n, threshold);
    /* ROC AUC and Brier do not depend on which class is called positive;
     * PR AUC does, and is reported for the minority class too. */
    free(s);
    free(l);
}

static double minority_threshold(const float *p, const float *y, size_t n, bool minority_is_exit)
{
    float *s = xmalloc((n ? n : 1) * sizeof *s), *l = xmalloc((n ? n : 1) * sizeof *l);
    for (size_t i = 0; i < n; i++) {
        s[i] = minority_is_exit ? p[i] : 1.0f - p[i];
        l[i] = minority_is_exit ? y[i] : 1.0f - y[i];
    }
    double t = metric_best_threshold(s, l, n);
    free(s);
    free(l);
    return t;
}

static int next_version(const char *dir)
{
    int best = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        int v;
        if (sscanf(ent->d_name, "model-%d.json", &v) == 1 && v > best)
            best = v;
    }
    closedir(d);
    return best + 1;
}

static int write_atomic(const char *path, const char *data, size_t len)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = -1;
    if (f) {
        if (fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0)
            rc = 0;
        fclose(f);
    }
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

static void metrics_json(struct buf *b, const char *name, const struct metric_set *m)
{
    json_key(b, name);
    buf_puts(b, "{\"roc_auc\":");
    json_double(b, m->roc_auc);
    buf_puts(b, ",\"pr_auc\":");
    json_double(b, m->pr_auc);
    buf_puts(b, ",\"f1\":");
    json_double(b, m->f1);
    buf_puts(b, ",\"threshold\":");
    json_double(b, m->threshold);
    buf_puts(b, ",\"brier\":");
    json_double(b, m->brier);
    buf_putc(b, '}');
}

/* ---- training -------------------------------------------------------------- */

int model_train_store(struct store *store, const struct train_options *o, struct train_report *r,
                      char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    uint64_t t0 = mono_ns();
    struct store_project proj;
    if (store_project_by_id(store, o->project_id, &proj) != 1) {
        snprintf(err, errlen, "no project %lld", (long long)o->project_id);
        return -ENOENT;
    }
    char perr[300];
    struct engine_offline *off = engine_offline_new(proj.settings_json, perr, sizeof perr);
    store_project_clear(&proj);
    if (!off) {
        snprintf(err, errlen, "the project's settings are invalid: %s", perr);
        return -EINVAL;
    }
    int rc = -EINVAL;
    struct dataset ds = {.d = engine_feature_count()};
    float *pv = NULL, *pt = NULL;
    char *xgb_json = NULL;
    struct logreg lr = {0};
    if (!engine_offline_has_goal(off)) {
        snprintf(err, errlen,
                 "the project has no conversion goal: set one first (journey project settings ID "
                 "--json '{\"goal\": {\"path\": \"/thanks\"}}')");
        goto out;
    }
    struct build_ctx bc = {.off = off, .ds = &ds};
    if (store_scan_ended_sessions(store, o->project_id, o->now_ms - o->session_timeout_ms,
                                  build_one, &bc) < 0) {
        free(bc.current);
        snprintf(err, errlen, "reading the stored events failed");
        rc = -EIO;
        goto out;
    }
    end_session(&bc);
    free(bc.current);
    r->replay_seconds = (double)(mono_ns() - t0) / 1e9;
    r->sessions = ds.sessions;
    r->snapshots = (int64_t)ds.n;
    if (ds.sessions < 50 || ds.n < 200) {
        snprintf(err, errlen,
                 "not enough history: %lld ended sessions (%zu snapshots); at least 50 sessions "
                 "are needed",
                 (long long)ds.sessions, ds.n);
        goto out;
    }
    double exits = 0;
    for (size_t i = 0; i < ds.n; i++)
        exits += ds.y[i];
    if (exits == 0 || exits == (double)ds.n) {
        snprintf(err, errlen, "every session %s: nothing to learn",
                 exits == 0 ? "converted" : "left without converting");
        goto out;
    }

    int n_sessions = (int)ds.sessions;
    int cut = (int)floor(n_sessions * (1.0 - o->test_share));
    int vcut = cut - (cut + 7) / 8;
    size_t a0, a1, v0, v1, t0r, t1r;
    slice(&ds, 0, vcut, &a0, &a1);
    slice(&ds, vcut, cut, &v0, &v1);
    slice(&ds, cut, n_sessions, &t0r, &t1r);
    size_t na = a1 - a0, nv = v1 - v0, nt = t1r - t0r;
    if (na < 50 || nv < 10 || nt < 10) {
        snprintf(err, errlen, "too little history to split by time (%zu/%zu/%zu snapshots)", na, nv,
                 nt);
        goto out;
    }
    r->train_sessions = cut;
    r->test_sessions = n_sessions - cut;
    int d = ds.d;
    const float *xa = ds.x + a0 * (size_t)d, *ya = ds.y + a0;
    const float *xv = ds.x + v0 * (size_t)d, *yv = ds.y + v0;
    const float *xt = ds.x + t0r * (size_t)d, *yt = ds.y + t0r;
    double base = 0;
    for (size_t i = 0; i < na + nv; i++)
        base += ds.y[a0 + i];
    base /= (double)(na + nv);
    r->exit_rate = base;
    r->minority_is_exit = base < 0.5;

    struct xgb_params xp;
    xgb_params_defaults(&xp);
    xp.max_rounds = o->max_rounds;
    xp.nthread = o->nthread;
    xp.seed = o->seed;
    uint64_t t_xgb = mono_ns();
    if (xgb_train(&xp, xa, ya, na, xv, yv, nv, d, &xgb_json, &r->rounds, err, errlen)) {
        rc = -EIO;
        goto out;
    }
    r->xgboost_seconds = (double)(mono_ns() - t_xgb) / 1e9;
    /* Score validation and test with the saved model itself, natively: what
     * is measured is exactly what will serve. */
    cJSON *xgb = cJSON_Parse(xgb_json);
    struct forest f;
    if (forest_load(&f, xgb, d, err, errlen)) {
        cJSON_Delete(xgb);
        rc = -EIO;
        goto out;
    }
    cJSON_Delete(xgb);
    pv = xmalloc(nv * sizeof *pv);
    pt = xmalloc(nt * sizeof *pt);
    for (size_t i = 0; i < nv; i++)
        pv[i] = forest_predict(&f, xv + i * (size_t)d);
    for (size_t i = 0; i < nt; i++)
        pt[i] = forest_predict(&f, xt + i * (size_t)d);
    forest_free(&f);
    double thr = minority_threshold(pv, yv, nv, r->minority_is_exit);
    minority_metrics(&r->xgboost, pt, yt, nt, r->minority_is_exit, thr);

    uint64_t t_lr = mono_ns();
    logreg_fit(&lr, xa, ya, na, d, 1e-3);
    r->logistic_seconds = (double)(mono_ns() - t_lr) / 1e9;
    logreg_predict(&lr, xv, nv, pv);
    thr = minority_threshold(pv, yv, nv, r->minority_is_exit);
    logreg_predict(&lr, xt, nt, pt);
    minority_metrics(&r->logistic, pt, yt, nt, r->minority_is_exit, thr);

    /* The trivial baseline: everyone gets the training exit rate. Predicting
     * the minority for everyone is its best F1. */
    for (size_t i = 0; i < nt; i++)
        pt[i] = (float)base;
    minority_metrics(&r->baseline, pt, yt, nt, r->minority_is_exit, 0);

    r->seconds = (double)(mono_ns() - t0) / 1e9;
    if (o->save) {
        char *dir = xasprintf("%s/models", o->data_dir);
        mkdir(dir, 0755);
        r->version = next_version(dir);
        struct buf b = BUF_INIT;
        buf_printf(&b, "{\"format\":\"journey-model\",\"format_version\":1,\"version\":%d,",
                   r->version);
        buf_puts(&b, "\"created_at\":");
        json_time(&b, now_ms());
        buf_printf(&b, ",\"project_id\":%lld,\"features\":[", (long long)o->project_id);
        for (int i = 0; i < d; i++) {
            if (i)
                buf_putc(&b, ',');
            json_str(&b, engine_feature(i));
        }
        buf_puts(&b, "],\"label\":\"exit (the session ended without reaching the goal)\",");
        buf_puts(&b, "\"base_rate\":");
        json_double(&b, base);
        buf_puts(&b, ",\"minority_class\":");
        json_str(&b, r->minority_is_exit ? "exit" : "converted");
        buf_puts(&b, ",\"threshold\":");
        json_double(&b, r->xgboost.threshold);
        buf_puts(&b, ",\"metrics\":{\"test\":{");
        metrics_json(&b, "xgboost", &r->xgboost);
        buf_putc(&b, ',');
        metrics_json(&b, "logistic_regression", &r->logistic);
        buf_putc(&b, ',');
        metrics_json(&b, "baseline", &r->baseline);
        buf_puts(&b, "}},\"training\":{");
        buf_printf(&b,
                   "\"sessions\":%lld,\"snapshots\":%lld,\"train_sessions\":%lld,"
                   "\"test_sessions\":%lld,\"split\":\"time\",\"rounds\":%d,\"seconds\":%.2f,"
                   "\"exit_rate\":",
                   (long long)r->sessions, (long long)r->snapshots, (long long)r->train_sessions,
                   (long long)r->test_sessions, r->rounds, r->seconds);
        json_double(&b, base);
        buf_printf(&b,
                   ",\"params\":{\"max_depth\":%d,\"eta\":%g,\"subsample\":%g,"
                   "\"colsample_bytree\":%g,\"min_child_weight\":%g}},",
                   xp.max_depth, xp.eta, xp.subsample, xp.colsample, xp.min_child_weight);
        buf_puts(&b, "\"xgboost\":");
        buf_puts(&b, xgb_json);
        buf_puts(&b, "}\n");
        snprintf(r->path, sizeof r->path, "%s/model-%d.json", dir, r->version);
        char *cur = model_current_path(o->data_dir);
        if (write_atomic(r->path, b.data, b.len) || write_atomic(cur, b.data, b.len)) {
            snprintf(err, errlen, "cannot write %s: %s", r->path, strerror(errno));
            rc = -EIO;
        } else {
            rc = 0;
        }
        free(cur);
        free(dir);
        buf_free(&b);
        if (rc)
            goto out;
    }
    rc = 0;
out:
    logreg_free(&lr);
    free(pv);
    free(pt);
    free(xgb_json);
    free(ds.x);
    free(ds.y);
    free(ds.session);
    engine_offline_free(off);
    return rc;
}
