/*
 * csv.c - `journey train --csv FILE --label COLUMN [--folds K]`: the same
 * learners and metrics on any table, to compare against published results
 * (the UCI online shoppers data, say) or to try features before they are
 * built into the engine.
 *
 * The file is RFC 4180 CSV with a header row (quoted fields, "" for a
 * quote, LF or CRLF). A column whose non-empty values all parse as numbers
 * is used as it is (empty = missing); any other column is one-hot encoded
 * (its 30 most frequent values, the rest together). The label column's
 * positive class is TRUE/true/yes/1 when the values look boolean, else the
 * rarer value. Stratified K-fold cross-validation (default 5): each fold is
 * the test set once, the rest trains, with a stratified eighth of it held
 * out for early stopping and the threshold. Figures are the means over
 * folds, with their standard deviations.
 */
#include "model/model_internal.h"

#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CATEGORIES 30

struct table {
    char **names;
    int cols;
    char ***cells; /* rows x cols */
    int rows, cap;
};

static void table_free(struct table *t)
{
    for (int r = 0; r < t->rows; r++) {
        for (int c = 0; c < t->cols; c++)
            free(t->cells[r][c]);
        free(t->cells[r]);
    }
    free(t->cells);
    for (int c = 0; c < t->cols; c++)
        free(t->names[c]);
    free(t->names);
}

/* Reads one record into fields; returns the number of fields, 0 at EOF, -1 on error. */
static int read_record(FILE *f, char ***fields)
{
    int n = 0, cap = 0;
    *fields = NULL;
    struct buf cell = BUF_INIT;
    int ch = fgetc(f);
    if (ch == EOF)
        return 0;
    bool quoted = false, any = false;
    for (;;) {
        if (ch == EOF && quoted) {
            buf_free(&cell);
            return -1;
        }
        if (quoted) {
            if (ch == '"') {
                int next = fgetc(f);
                if (next == '"') {
                    buf_putc(&cell, '"');
                } else {
                    quoted = false;
                    ch = next;
                    continue;
                }
            } else {
                buf_putc(&cell, (char)ch);
            }
            ch = fgetc(f);
            continue;
        }
        if (ch == '"' && cell.len == 0) {
            quoted = true;
            any = true;
            ch = fgetc(f);
            continue;
        }
        if (ch == ',' || ch == '\n' || ch == '\r' || ch == EOF) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                *fields = xrealloc(*fields, (size_t)cap * sizeof **fields);
            }
            (*fields)[n++] = buf_steal(&cell);
            if (ch == ',') {
                any = true;
                ch = fgetc(f);
                continue;
            }
            if (ch == '\r') {
                ch = fgetc(f);
                if (ch != '\n' && ch != EOF)
                    ungetc(ch, f);
            }
            (void)any;
            return n;
        }
        buf_putc(&cell, (char)ch);
        ch = fgetc(f);
    }
}

static int read_table(const char *path, struct table *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char **fields;
    int n = read_record(f, &fields);
    if (n <= 1) {
        snprintf(err, errlen, "%s: no header row with at least two columns", path);
        fclose(f);
        for (int i = 0; i < n; i++)
            free(fields[i]);
        free(fields);
        return -1;
    }
    t->names = fields;
    t->cols = n;
    int line = 1;
    while ((n = read_record(f, &fields)) > 0) {
        line++;
        if (n == 1 && fields[0][0] == '\0') { /* a blank line */
            free(fields[0]);
            free(fields);
            continue;
        }
        if (n != t->cols) {
            snprintf(err, errlen, "%s:%d: %d fields, the header has %d", path, line, n, t->cols);
            for (int i = 0; i < n; i++)
                free(fields[i]);
            free(fields);
            fclose(f);
            return -1;
        }
        if (t->rows == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 256;
            t->cells = xrealloc(t->cells, (size_t)t->cap * sizeof *t->cells);
        }
        t->cells[t->rows++] = fields;
    }
    fclose(f);
    if (n < 0) {
        snprintf(err, errlen, "%s: an unterminated quoted field", path);
        return -1;
    }
    return 0;
}

static bool is_number(const char *s, double *v)
{
    if (!*s)
        return false;
    char *end;
    *v = strtod(s, &end);
    while (*end == ' ')
        end++;
    return *end == '\0' && isfinite(*v);
}

static bool truthy(const char *s)
{
    return !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") ||
           !strcasecmp(s, "y") || !strcasecmp(s, "t");
}

static bool booleanish(const char *s)
{
    return truthy(s) || !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") ||
           !strcasecmp(s, "n") || !strcasecmp(s, "f");
}

struct column_plan {
    bool numeric;
    char *cats[MAX_CATEGORIES];
    int n_cats;
    bool other; /* an "other" column for the rest */
};

static int count_cmp(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return y[1] - x[1];
}

struct splitmix {
    uint64_t s;
};

static uint64_t sm_next(struct splitmix *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void accumulate(struct metric_set *sum, struct metric_set *sq, const struct metric_set *m)
{
    sum->roc_auc += m->roc_auc;
    sq->roc_auc += m->roc_auc * m->roc_auc;
    sum->pr_auc += m->pr_auc;
    sq->pr_auc += m->pr_auc * m->pr_auc;
    sum->f1 += m->f1;
    sq->f1 += m->f1 * m->f1;
    sum->brier += m->brier;
    sq->brier += m->brier * m->brier;
    sum->threshold += m->threshold;
}

static void finish(struct metric_set *mean, struct metric_set *sd, int k)
{
    struct metric_set sq = *sd;
    double n = k;
#define FIN(f)                                                                                     \
    do {                                                                                           \
        mean->f /= n;                                                                              \
        double var = sq.f / n - mean->f * mean->f;                                                 \
        sd->f = var > 0 ? sqrt(var) : 0;                                                           \
    } while (0)
    FIN(roc_auc);
    FIN(pr_auc);
    FIN(f1);
    FIN(brier);
#undef FIN
    mean->threshold /= n;
    sd->threshold = 0;
}

int model_train_csv(const struct csv_options *o, struct csv_report *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    struct table t;
    if (read_table(o->path, &t, err, errlen)) {
        table_free(&t);
        return -EINVAL;
    }
    int rc = -EINVAL;
    int label = -1;
    for (int c = 0; c < t.cols; c++)
        if (!strcmp(t.names[c], o->label))
            label = c;
    struct column_plan *plan = xcalloc((size_t)t.cols, sizeof *plan);
    float *x = NULL, *y = NULL;
    int *fold = NULL;
    if (label < 0) {
        snprintf(err, errlen, "no column named '%s' in %s", o->label, o->path);
        goto out;
    }
    if (t.rows < 20) {
        snprintf(err, errlen, "%s has %d rows; at least 20 are needed", o->path, t.rows);
        goto out;
    }
    /* The label: boolean-looking, else the rarer value is the positive class. */
    bool boolish = true;
    for (int i = 0; i < t.rows && boolish; i++)
        boolish = booleanish(t.cells[i][label]);
    const char *positive = NULL;
    if (boolish) {
        positive = "true";
    } else {
        const char *a = t.cells[0][label], *b = NULL;
        int na = 0, nb = 0;
        for (int i = 0; i < t.rows; i++) {
            const char *v = t.cells[i][label];
            if (!strcmp(v, a)) {
                na++;
            } else if (!b || !strcmp(v, b)) {
                b = v;
                nb++;
            } else {
                snprintf(err, errlen, "the label column '%s' has more than two values", o->label);
                goto out;
            }
        }
        if (!b) {
            snprintf(err, errlen, "the label column '%s' has only one value", o->label);
            goto out;
        }
        positive = na <= nb ? a : b;
    }
    snprintf(r->positive, sizeof r->positive, "%s", positive);

    /* Plan the features. */
    int d = 0;
    for (int c = 0; c < t.cols; c++) {
        if (c == label)
            continue;
        double v;
        bool numeric = true;
        for (int i = 0; i < t.rows && numeric; i++)
            numeric = !t.cells[i][c][0] || is_number(t.cells[i][c], &v);
        plan[c].numeric = numeric;
        if (numeric) {
            d++;
            continue;
        }
        /* the most frequent values */
        char **vals = xcalloc((size_t)t.rows, sizeof *vals);
        int(*counts)[2] = xcalloc((size_t)t.rows, sizeof *counts);
        int nv = 0;
        for (int i = 0; i < t.rows; i++) {
            int k = 0;
            while (k < nv && strcmp(vals[k], t.cells[i][c]) != 0)
                k++;
            if (k == nv) {
                vals[nv] = t.cells[i][c];
                counts[nv][0] = nv;
                nv++;
            }
            counts[k][1]++;
        }
        qsort(counts, (size_t)nv, sizeof *counts, count_cmp);
        for (int k = 0; k < nv && k < MAX_CATEGORIES; k++)
            plan[c].cats[plan[c].n_cats++] = xstrdup(vals[counts[k][0]]);
        plan[c].other = nv > MAX_CATEGORIES;
        d += plan[c].n_cats + plan[c].other;
        free(vals);
        free(counts);
    }
    r->rows = t.rows;
    r->columns = t.cols;
    r->features = d;
    x = xmalloc((size_t)t.rows * (size_t)d * sizeof *x);
    y = xmalloc((size_t)t.rows * sizeof *y);
    double pos = 0;
    for (int i = 0; i < t.rows; i++) {
        float *row = x + (size_t)i * (size_t)d;
        int j = 0;
        for (int c = 0; c < t.cols; c++) {
            if (c == label)
                continue;
            const char *v = t.cells[i][c];
            if (plan[c].numeric) {
                double num;
                row[j++] = is_number(v, &num) ? (float)num : NAN;
                continue;
            }
            bool hit = false;
            for (int k = 0; k < plan[c].n_cats; k++) {
                bool m = !strcmp(v, plan[c].cats[k]);
                row[j++] = m;
                hit |= m;
            }
            if (plan[c].other)
                row[j++] = !hit;
        }
        const char *lv = t.cells[i][label];
        y[i] = boolish ? (float)truthy(lv) : (float)!strcmp(lv, positive);
        pos += y[i];
    }
    r->positive_rate = pos / t.rows;
    if (pos == 0 || pos == t.rows) {
        snprintf(err, errlen, "every row has the same label");
        goto out;
    }

    /* Stratified folds: each class shuffled, then dealt round-robin. */
    int k = o->folds > 1 ? o->folds : 5;
    if (k > t.rows / 4)
        k = t.rows / 4;
    r->folds = k;
    fold = xmalloc((size_t)t.rows * sizeof *fold);
    struct splitmix rng = {o->seed ? o->seed : 1};
    for (int cls = 0; cls < 2; cls++) {
        int *idx = xmalloc((size_t)t.rows * sizeof *idx), n = 0;
        for (int i = 0; i < t.rows; i++)
            if ((y[i] > 0.5f) == cls)
                idx[n++] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(sm_next(&rng) % (uint64_t)(i + 1));
            int tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
        for (int i = 0; i < n; i++)
            fold[idx[i]] = i % k;
        free(idx);
    }
    struct metric_set sq_x = {0}, sq_l = {0}, sq_b = {0};
    size_t nrows = (size_t)t.rows;
    float *xa = xmalloc(nrows * (size_t)d * sizeof *xa), *ya = xmalloc(nrows * sizeof *ya);
    float *xv = xmalloc(nrows * (size_t)d * sizeof *xv), *yv = xmalloc(nrows * sizeof *yv);
    float *xt = xmalloc(nrows * (size_t)d * sizeof *xt), *yt = xmalloc(nrows * sizeof *yt);
    float *p = xmalloc(nrows * sizeof *p);
    for (int f = 0; f < k; f++) {
        size_t na = 0, nv = 0, nt = 0;
        for (int i = 0; i < t.rows; i++) {
            const float *row = x + (size_t)i * (size_t)d;
            if (fold[i] == f) {
                memcpy(xt + nt * (size_t)d, row, (size_t)d * sizeof *row);
                yt[nt++] = y[i];
            } else if ((i * 7 + f) % 8 == 0) { /* about an eighth, both classes */
                memcpy(xv + nv * (size_t)d, row, (size_t)d * sizeof *row);
                yv[nv++] = y[i];
            } else {
                memcpy(xa + na * (size_t)d, row, (size_t)d * sizeof *row);
                ya[na++] = y[i];
            }
        }
        struct xgb_params xp;
        xgb_params_defaults(&xp);
        xp.max_rounds = o->max_rounds > 0 ? o->max_rounds : 400;
        xp.nthread = o->nthread;
        xp.seed = o->seed + (uint64_t)f;
        char *json = NULL;
        int rounds;
        if (xgb_train(&xp, xa, ya, na, xv, yv, nv, d, &json, &rounds, err, errlen)) {
            rc = -EIO;
            goto fold_out;
        }
        cJSON *j = cJSON_Parse(json);
        struct forest fo;
        int lrc = forest_load(&fo, j, d, err, errlen);
        cJSON_Delete(j);
        free(json);
        if (lrc) {
            rc = -EIO;
            goto fold_out;
        }
        struct metric_set m;
        for (size_t i = 0; i < nv; i++)
            p[i] = forest_predict(&fo, xv + i * (size_t)d);
        double thr = metric_best_threshold(p, yv, nv);
        for (size_t i = 0; i < nt; i++)
            p[i] = forest_predict(&fo, xt + i * (size_t)d);
        forest_free(&fo);
        metric_set_compute(&m, p, yt, nt, thr);
        accumulate(&r->xgboost, &sq_x, &m);

        struct logreg lr;
        logreg_fit(&lr, xa, ya, na, d, 1e-3);
        logreg_predict(&lr, xv, nv, p);
        thr = metric_best_threshold(p, yv, nv);
        logreg_predict(&lr, xt, nt, p);
        logreg_free(&lr);
        metric_set_compute(&m, p, yt, nt, thr);
        accumulate(&r->logistic, &sq_l, &m);

        double base = 0;
        for (size_t i = 0; i < na; i++)
            base += ya[i];
        base /= (double)na;
        for (size_t i = 0; i < nt; i++)
            p[i] = (float)base;
        metric_set_compute(&m, p, yt, nt, 0);
        accumulate(&r->baseline, &sq_b, &m);
    }
    r->xgboost_sd = sq_x;
    r->logistic_sd = sq_l;
    r->baseline_sd = sq_b;
    finish(&r->xgboost, &r->xgboost_sd, k);
    finish(&r->logistic, &r->logistic_sd, k);
    finish(&r->baseline, &r->baseline_sd, k);
    rc = 0;
fold_out:
    free(xa);
    free(ya);
    free(xv);
    free(yv);
    free(xt);
    free(yt);
    free(p);
out:
    for (int c = 0; c < t.cols; c++)
        for (int i = 0; i < plan[c].n_cats; i++)
            free(plan[c].cats[i]);
    free(plan);
    free(x);
    free(y);
    free(fold);
    table_free(&t);
    return rc;
}
