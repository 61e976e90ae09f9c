/*
 * model_internal.h - shared by the files of src/model/.
 */
#ifndef JOURNEY_MODEL_INTERNAL_H
#define JOURNEY_MODEL_INTERNAL_H

#include "model/model.h"

#include <cJSON.h>
#include <pthread.h>

/* One node in 12 bytes. An inner node's two children are adjacent (right =
 * left + 1; tree.c lays each tree out breadth-first so), its split holds the
 * feature index and, in the top bit, whether a missing value goes left. */
struct node {
    float value;    /* the threshold, or the leaf's value */
    uint32_t split; /* NODE_LEAF, or the feature | NODE_DEFAULT_LEFT */
    uint32_t left;  /* the left child, counted from the tree's root */
};
#define NODE_LEAF 0x7fffffffu
#define NODE_DEFAULT_LEFT 0x80000000u
#define NODE_FEATURE(split) ((split) & ~NODE_DEFAULT_LEFT)

struct forest {
    struct node *nodes;
    size_t n_nodes;
    uint32_t *roots; /* each tree's first node in nodes */
    int n_trees;
    int n_features;
    float base_margin;
};

int forest_load(struct forest *f, const cJSON *xgb, int n_features, char *err, size_t errlen);
void forest_free(struct forest *f);
float forest_margin(const struct forest *f, const float *x);
float forest_predict(const struct forest *f, const float *x);

/* metrics.c */
double metric_roc_auc(const float *score, const float *label, size_t n);
double metric_pr_auc(const float *score, const float *label, size_t n);
double metric_brier(const float *p, const float *label, size_t n);
double metric_f1(const float *score, const float *label, size_t n, double threshold);
/* The threshold on score that maximises F1 of label 1. */
double metric_best_threshold(const float *score, const float *label, size_t n);
/* All four figures for scores of label 1 at threshold. */
void metric_set_compute(struct metric_set *m, const float *score, const float *label, size_t n,
                        double threshold);

/* logreg.c: L2-regularised logistic regression (Newton's method) on
 * standardised features; missing values are imputed with the mean. */
struct logreg {
    int d;
    double *mean, *scale, *w; /* w[d] is the intercept */
};
int logreg_fit(struct logreg *m, const float *x, const float *y, size_t n, int d, double l2);
void logreg_predict(const struct logreg *m, const float *x, size_t n, float *out);
void logreg_free(struct logreg *m);

/* xgb.c: training through XGBoost's C API. */
struct xgb_params {
    int max_rounds;
    int early_stop; /* rounds without improvement of the validation AUC */
    int max_depth;
    double eta;
    double subsample;
    double colsample;
    double min_child_weight;
    double scale_pos_weight;
    int nthread;
    uint64_t seed;
};
void xgb_params_defaults(struct xgb_params *p);
/* Trains on (x, y) with early stopping on (vx, vy) (may be empty). Writes
 * XGBoost's JSON model into model_json (malloc'd) and the rounds kept. */
int xgb_train(const struct xgb_params *p, const float *x, const float *y, size_t n, const float *vx,
              const float *vy, size_t vn, int d, char **model_json, int *rounds, char *err,
              size_t errlen);

#endif
