/*
 * metrics.c - how good a classifier is, stated honestly: ROC AUC, PR AUC
 * (average precision), F1 of the class of interest at a threshold, and the
 * Brier score. Never accuracy alone: a model that always says "will leave"
 * scores 85% accuracy on a site where 85% leave.
 */
#include "model/model_internal.h"

#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pair {
    float s;
    float y;
};

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const struct pair *)a)->s, y = ((const struct pair *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

static struct pair *sorted(const float *score, const float *label, size_t n)
{
    struct pair *p = xmalloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pair){score[i], label[i]};
    qsort(p, n, sizeof *p, by_score_desc);
    return p;
}

double metric_roc_auc(const float *score, const float *label, size_t n)
{
    /* Mann-Whitney: the share of (positive, negative) pairs ordered right,
     * ties counting one half. Walk groups of equal scores from the top. */
    struct pair *p = sorted(score, label, n);
    double pos = 0, neg = 0, area = 0;
    for (size_t i = 0; i < n; i++)
        pos += p[i].y > 0.5f;
    neg = (double)n - pos;
    if (pos == 0 || neg == 0) {
        free(p);
        return NAN;
    }
    double neg_below = neg; /* negatives not yet passed */
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        double gp = 0, gn = 0;
        while (j < n && p[j].s == p[i].s) {
            if (p[j].y > 0.5f)
                gp++;
            else
                gn++;
            j++;
        }
        neg_below -= gn;
        area += gp * (neg_below + gn / 2.0);
        i = j;
    }
    free(p);
    return area / (pos * neg);
}

double metric_pr_auc(const float *score, const float *label, size_t n)
{
    /* Average precision: sum over thresholds of (recall gained) x precision. */
    struct pair *p = sorted(score, label, n);
    double pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += p[i].y > 0.5f;
    if (pos == 0) {
        free(p);
        return NAN;
    }
    double tp = 0, seen = 0, ap = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        double gp = 0;
        while (j < n && p[j].s == p[i].s) {
            gp += p[j].y > 0.5f;
            j++;
        }
        tp += gp;
        seen += (double)(j - i);
        ap += (gp / pos) * (tp / seen);
        i = j;
    }
    free(p);
    return ap;
}

double metric_brier(const float *prob, const float *label, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)prob[i] - (double)label[i];
        s += d * d;
    }
    return n ? s / (double)n : NAN;
}

double metric_f1(const float *score, const float *label, size_t n, double threshold)
{
    double tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        bool pred = score[i] >= threshold;
        bool y = label[i] > 0.5f;
        tp += pred && y;
        fp += pred && !y;
        fn += !pred && y;
    }
    return tp == 0 ? 0 : 2 * tp / (2 * tp + fp + fn);
}

double metric_best_threshold(const float *score, const float *label, size_t n)
{
    struct pair *p = sorted(score, label, n);
    double pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += p[i].y > 0.5f;
    double tp = 0, fp = 0, best = -1, best_t = 0.5;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j].s == p[i].s) {
            if (p[j].y > 0.5f)
                tp++;
            else
                fp++;
            j++;
        }
        double f1 = tp == 0 ? 0 : 2 * tp / (2 * tp + fp + (pos - tp));
        if (f1 > best) {
            best = f1;
            best_t = p[i].s;
        }
        i = j;
    }
    free(p);
    return best_t;
}

void metric_set_compute(struct metric_set *m, const float *score, const float *label, size_t n,
                        double threshold)
{
    m->roc_auc = metric_roc_auc(score, label, n);
    m->pr_auc = metric_pr_auc(score, label, n);
    m->brier = metric_brier(score, label, n);
    m->threshold = threshold;
    m->f1 = metric_f1(score, label, n, threshold);
}
