/*
 * tree.c - XGBoost's trees evaluated natively.
 *
 * From XGBoost's JSON model (learner.gradient_booster.model.trees[]), each
 * tree's parallel arrays become one compact node array: a leaf holds its
 * value, an inner node its feature, threshold and children. The arithmetic
 * is XGBoost's: go left when x < threshold (in float), follow default_left
 * when x is missing (NAN), add the leaves in float, start from the logit of
 * base_score, and squash with 1 / (1 + e^-x). Trees are validated on load:
 * indices in range and children after their parent, so evaluation cannot
 * leave the array or loop.
 */
#include "model/model_internal.h"

#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int int_at(const cJSON *arr, int i, int *out)
{
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    if (!cJSON_IsNumber(v))
        return -1;
    *out = (int)v->valuedouble;
    return 0;
}

int forest_load(struct forest *f, const cJSON *xgb, int n_features, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    const cJSON *learner = cJSON_GetObjectItemCaseSensitive(xgb, "learner");
    const cJSON *param = cJSON_GetObjectItemCaseSensitive(learner, "learner_model_param");
    const cJSON *objective = cJSON_GetObjectItemCaseSensitive(learner, "objective");
    const cJSON *obj_name = cJSON_GetObjectItemCaseSensitive(objective, "name");
    const cJSON *booster = cJSON_GetObjectItemCaseSensitive(learner, "gradient_booster");
    const cJSON *gbname = cJSON_GetObjectItemCaseSensitive(booster, "name");
    const cJSON *trees =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(booster, "model"), "trees");
    if (!cJSON_IsString(obj_name) || strcmp(obj_name->valuestring, "binary:logistic") != 0) {
        snprintf(err, errlen, "the XGBoost model is not binary:logistic");
        return -1;
    }
    if (!cJSON_IsString(gbname) || strcmp(gbname->valuestring, "gbtree") != 0 ||
        !cJSON_IsArray(trees)) {
        snprintf(err, errlen, "the XGBoost model is not a gbtree with trees");
        return -1;
    }
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(param, "base_score");
    const cJSON *nf = cJSON_GetObjectItemCaseSensitive(param, "num_feature");
    float base = cJSON_IsString(bs) ? strtof(bs->valuestring, NULL) : 0.5f;
    if (!(base > 0 && base < 1)) {
        snprintf(err, errlen, "the XGBoost model's base_score is not a probability");
        return -1;
    }
    if (!cJSON_IsString(nf) || atoi(nf->valuestring) != n_features) {
        snprintf(err, errlen, "the XGBoost model has %s features, not %d",
                 cJSON_IsString(nf) ? nf->valuestring : "?", n_features);
        return -1;
    }
    f->base_margin = logf(base / (1.0f - base));
    f->n_features = n_features;
    int n_trees = cJSON_GetArraySize(trees);
    f->roots = xcalloc((size_t)(n_trees ? n_trees : 1), sizeof *f->roots);
    size_t cap = 1024;
    f->nodes = xmalloc(cap * sizeof *f->nodes);
    const cJSON *t;
    int ti = 0;
    cJSON_ArrayForEach(t, trees)
    {
        const cJSON *left = cJSON_GetObjectItemCaseSensitive(t, "left_children");
        const cJSON *right = cJSON_GetObjectItemCaseSensitive(t, "right_children");
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(t, "split_indices");
        const cJSON *cond = cJSON_GetObjectItemCaseSensitive(t, "split_conditions");
        const cJSON *defl = cJSON_GetObjectItemCaseSensitive(t, "default_left");
        int n = cJSON_GetArraySize(left);
        if (n <= 0 || cJSON_GetArraySize(right) != n || cJSON_GetArraySize(idx) != n ||
            cJSON_GetArraySize(cond) != n || cJSON_GetArraySize(defl) != n) {
            snprintf(err, errlen, "tree %d: malformed node arrays", ti);
            goto bad;
        }
        if (f->n_nodes + (size_t)n > cap) {
            while (f->n_nodes + (size_t)n > cap)
                cap *= 2;
            f->nodes = xrealloc(f->nodes, cap * sizeof *f->nodes);
        }
        size_t base_index = f->n_nodes;
        for (int i = 0; i < n; i++) {
            struct node *nd = &f->nodes[base_index + (size_t)i];
            int l, r, fi, dl;
            const cJSON *c = cJSON_GetArrayItem(cond, i);
            if (int_at(left, i, &l) || int_at(right, i, &r) || int_at(idx, i, &fi) ||
                int_at(defl, i, &dl) || !cJSON_IsNumber(c)) {
                snprintf(err, errlen, "tree %d node %d: malformed", ti, i);
                goto bad;
            }
            if (l == -1) {
                nd->feature = -1;
                nd->value = (float)c->valuedouble;
                nd->left = nd->right = 0;
                continue;
            }
            if (l <= i || r <= i || l >= n || r >= n || fi < 0 || fi >= n_features) {
                snprintf(err, errlen, "tree %d node %d: child or feature index out of range", ti,
                         i);
                goto bad;
            }
            nd->feature = fi;
            nd->value = (float)c->valuedouble;
            nd->left = (uint32_t)(base_index + (size_t)l);
            nd->right = (uint32_t)(base_index + (size_t)r);
            nd->default_left = dl != 0;
        }
        f->roots[ti++] = (uint32_t)base_index;
        f->n_nodes += (size_t)n;
    }
    f->n_trees = ti;
    return 0;
bad:
    forest_free(f);
    return -1;
}

void forest_free(struct forest *f)
{
    free(f->roots);
    free(f->nodes);
    memset(f, 0, sizeof *f);
}

float forest_margin(const struct forest *f, const float *x)
{
    float sum = 0;
    for (int t = 0; t < f->n_trees; t++) {
        const struct node *nd = &f->nodes[f->roots[t]];
        while (nd->feature >= 0) {
            float v = x[nd->feature];
            bool left = isnan(v) ? nd->default_left : v < nd->value;
            nd = &f->nodes[left ? nd->left : nd->right];
        }
        sum += nd->value;
    }
    return f->base_margin + sum;
}

float forest_predict(const struct forest *f, const float *x)
{
    float m = forest_margin(f, x);
    return 1.0f / (1.0f + expf(-m));
}
