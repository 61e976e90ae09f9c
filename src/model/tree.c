/*
 * tree.c - XGBoost's trees evaluated natively.
 *
 * From XGBoost's JSON model (learner.gradient_booster.model.trees[]), each
 * tree's parallel arrays become one compact node array (12 bytes a node,
 * laid out breadth-first so that a node's children are adjacent): a leaf
 * holds its value, an inner node its feature, threshold, default direction
 * and first child. The arithmetic
 * is XGBoost's: go left when x < threshold (in float), follow default_left
 * when x is missing (NAN), add the leaves in float, start from the logit of
 * base_score, and squash with 1 / (1 + e^-x). Trees are validated on load:
 * indices in range and children after their parent, so evaluation cannot
 * leave the array or loop.
 */
#include "model/model_internal.h"

#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* XGBoost's own loader trusts much of its JSON: a tree count, a tree id or a
 * tree_info entry that disagrees with the arrays makes XGBoost 1.7 read out
 * of bounds (seen: segfaults on num_trees, tree_info, id and
 * categories_nodes), and a model that loads cleanly can still mean
 * something else (num_class, num_parallel_tree, size_leaf_vector change
 * what it predicts). So every member XGBoost reads is checked here against
 * the shape we evaluate, before the text is ever given to XGBoost (for
 * explanations), and anything else is refused. */

/* An integer held in a JSON number, within [lo, hi]. */
static int int_at(const cJSON *arr, int i, int lo, int hi, int *out)
{
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (int)v->valuedouble;
    return 0;
}

/* A parameter XGBoost writes as a string holding an integer ("53"). */
static int int_param(const cJSON *obj, const char *name, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v->valuestring, &end, 10);
    if (*end || errno)
        return -1;
    *out = n;
    return 0;
}

/* name is an array of n numbers. */
static bool numbers(const cJSON *t, const char *name, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, name);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return false;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsNumber(v))
            return false;
    }
    return true;
}

/* name is absent or an empty array (no categorical splits). */
static bool absent_or_empty(const cJSON *t, const char *name)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(t, name);
    return !a || (cJSON_IsArray(a) && cJSON_GetArraySize(a) == 0);
}

static int load_tree(struct forest *f, const cJSON *t, int ti, int n_features, char *err,
                     size_t errlen)
{
    const cJSON *left = cJSON_GetObjectItemCaseSensitive(t, "left_children");
    const cJSON *right = cJSON_GetObjectItemCaseSensitive(t, "right_children");
    const cJSON *parents = cJSON_GetObjectItemCaseSensitive(t, "parents");
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(t, "split_indices");
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(t, "split_conditions");
    const cJSON *defl = cJSON_GetObjectItemCaseSensitive(t, "default_left");
    const cJSON *stype = cJSON_GetObjectItemCaseSensitive(t, "split_type");
    const cJSON *param = cJSON_GetObjectItemCaseSensitive(t, "tree_param");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
    int n = cJSON_GetArraySize(left);
    long num_nodes, num_deleted, num_feature, leaf_vector;
    if (!cJSON_IsNumber(id) || id->valuedouble != ti) {
        snprintf(err, errlen, "tree %d: its id is not %d", ti, ti);
        return -1;
    }
    if (!cJSON_IsArray(left) || n <= 0 || n > (1 << 24) || !numbers(t, "left_children", n) ||
        !numbers(t, "right_children", n) || !numbers(t, "parents", n) ||
        !numbers(t, "split_indices", n) || !numbers(t, "split_conditions", n) ||
        !numbers(t, "default_left", n) || !numbers(t, "split_type", n) ||
        !numbers(t, "loss_changes", n) || !numbers(t, "sum_hessian", n) ||
        !numbers(t, "base_weights", n)) {
        snprintf(err, errlen, "tree %d: malformed node arrays", ti);
        return -1;
    }
    if (int_param(param, "num_nodes", &num_nodes) || num_nodes != n ||
        int_param(param, "num_deleted", &num_deleted) || num_deleted != 0 ||
        int_param(param, "num_feature", &num_feature) || num_feature != n_features ||
        (cJSON_GetObjectItemCaseSensitive(param, "size_leaf_vector") &&
         (int_param(param, "size_leaf_vector", &leaf_vector) || leaf_vector != 0))) {
        snprintf(err, errlen, "tree %d: tree_param does not match its %d nodes and %d features", ti,
                 n, n_features);
        return -1;
    }
    if (!absent_or_empty(t, "categories") || !absent_or_empty(t, "categories_nodes") ||
        !absent_or_empty(t, "categories_segments") || !absent_or_empty(t, "categories_sizes")) {
        snprintf(err, errlen, "tree %d: categorical splits are not supported", ti);
        return -1;
    }
    /* Read and check every node, then lay the tree out breadth-first. */
    struct raw {
        int left, right, feature, parent, refs;
        bool default_left;
        float value;
    } *raw = xcalloc((size_t)n, sizeof *raw);
    int rc = -1;
    for (int i = 0; i < n; i++) {
        struct raw *nd = &raw[i];
        int dl, st;
        const char *bad = int_at(left, i, -1, n - 1, &nd->left)                   ? "left child"
                          : int_at(right, i, -1, n - 1, &nd->right)               ? "right child"
                          : int_at(idx, i, 0, n_features - 1, &nd->feature)       ? "feature index"
                          : int_at(defl, i, 0, 1, &dl)                            ? "default_left"
                          : int_at(parents, i, INT32_MIN, INT32_MAX, &nd->parent) ? "parent"
                                                                                  : NULL;
        if (bad) {
            snprintf(err, errlen, "tree %d node %d: %s out of range", ti, i, bad);
            goto out;
        }
        if (int_at(stype, i, 0, 0, &st)) {
            snprintf(err, errlen, "tree %d node %d: categorical splits are not supported", ti, i);
            goto out;
        }
        nd->default_left = dl != 0;
        nd->value = (float)cJSON_GetArrayItem(cond, i)->valuedouble;
        if (nd->left == -1 || nd->right == -1) {
            if (nd->left != nd->right) {
                snprintf(err, errlen, "tree %d node %d: one child only", ti, i);
                goto out;
            }
            continue;
        }
        if (nd->left <= i || nd->right <= i || nd->left == nd->right) {
            snprintf(err, errlen, "tree %d node %d: child index out of range", ti, i);
            goto out;
        }
        raw[nd->left].refs++;
        raw[nd->right].refs++;
    }
    /* Every node but the root is the child of exactly one node, the one its
     * parent names; children come after their parent: one tree, no loops. */
    for (int i = 0; i < n; i++) {
        int p = raw[i].parent;
        bool ok =
            i == 0 ? raw[i].refs == 0 && (p < 0 || p >= n)
                   : raw[i].refs == 1 && p >= 0 && p < i && (raw[p].left == i || raw[p].right == i);
        if (!ok) {
            snprintf(err, errlen, "tree %d node %d: its parent does not lead to it", ti, i);
            goto out;
        }
    }
    /* Breadth-first: a node's children get two adjacent slots. */
    int *order = xmalloc((size_t)n * sizeof *order), head = 0, tail = 1;
    struct node *base = &f->nodes[f->n_nodes];
    order[0] = 0;
    while (head < tail) {
        int slot = head, i = order[head++];
        struct node *nd = &base[slot];
        nd->value = raw[i].value;
        if (raw[i].left == -1) {
            nd->split = NODE_LEAF;
            nd->left = 0;
            continue;
        }
        nd->split = (uint32_t)raw[i].feature | (raw[i].default_left ? NODE_DEFAULT_LEFT : 0);
        nd->left = (uint32_t)tail;
        order[tail++] = raw[i].left;
        order[tail++] = raw[i].right;
    }
    free(order);
    f->n_nodes += (size_t)n;
    rc = 0;
out:
    free(raw);
    return rc;
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
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(booster, "model");
    const cJSON *gbparam = cJSON_GetObjectItemCaseSensitive(model, "gbtree_model_param");
    const cJSON *trees = cJSON_GetObjectItemCaseSensitive(model, "trees");
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(model, "tree_info");
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
    long nf, num_class, num_target = 1, num_trees, parallel, leaf_vector = 0;
    float base = cJSON_IsString(bs) ? strtof(bs->valuestring, NULL) : 0.5f;
    if (!(base > 0 && base < 1)) {
        snprintf(err, errlen, "the XGBoost model's base_score is not a probability");
        return -1;
    }
    if (int_param(param, "num_feature", &nf) || nf != n_features) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(param, "num_feature");
        snprintf(err, errlen, "the XGBoost model has %s features, not %d",
                 cJSON_IsString(v) ? v->valuestring : "?", n_features);
        return -1;
    }
    if (int_param(param, "num_class", &num_class) || num_class != 0 ||
        (cJSON_GetObjectItemCaseSensitive(param, "num_target") &&
         int_param(param, "num_target", &num_target)) ||
        num_target != 1) {
        snprintf(err, errlen, "the XGBoost model does not have one binary output");
        return -1;
    }
    int n_trees = cJSON_GetArraySize(trees);
    if (int_param(gbparam, "num_trees", &num_trees) || num_trees != n_trees ||
        int_param(gbparam, "num_parallel_tree", &parallel) || parallel != 1 ||
        (cJSON_GetObjectItemCaseSensitive(gbparam, "size_leaf_vector") &&
         int_param(gbparam, "size_leaf_vector", &leaf_vector)) ||
        leaf_vector != 0) {
        snprintf(err, errlen,
                 "the XGBoost model's gbtree_model_param does not match its %d trees (num_trees, "
                 "num_parallel_tree 1, size_leaf_vector 0)",
                 n_trees);
        return -1;
    }
    if (!cJSON_IsArray(info) || cJSON_GetArraySize(info) != n_trees) {
        snprintf(err, errlen, "the XGBoost model's tree_info does not list its %d trees", n_trees);
        return -1;
    }
    for (int i = 0; i < n_trees; i++) {
        int group;
        if (int_at(info, i, 0, 0, &group)) {
            snprintf(err, errlen, "the XGBoost model's tree_info[%d] is not 0", i);
            return -1;
        }
    }
    f->base_margin = logf(base / (1.0f - base));
    f->n_features = n_features;
    f->roots = xcalloc((size_t)(n_trees ? n_trees : 1), sizeof *f->roots);
    size_t cap = 1024;
    f->nodes = xmalloc(cap * sizeof *f->nodes);
    const cJSON *t;
    int ti = 0;
    cJSON_ArrayForEach(t, trees)
    {
        size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "left_children"));
        if (f->n_nodes + n > UINT32_MAX / 2) {
            snprintf(err, errlen, "the XGBoost model has too many nodes");
            goto bad;
        }
        if (f->n_nodes + n > cap) {
            while (f->n_nodes + n > cap)
                cap *= 2;
            f->nodes = xrealloc(f->nodes, cap * sizeof *f->nodes);
        }
        f->roots[ti] = (uint32_t)f->n_nodes;
        if (load_tree(f, t, ti, n_features, err, errlen))
            goto bad;
        ti++;
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
        const struct node *base = &f->nodes[f->roots[t]], *nd = base;
        while (nd->split != NODE_LEAF) {
            float v = x[NODE_FEATURE(nd->split)];
            /* XGBoost's rule: left when v < threshold, missing follows the
             * default; written so the compiler can avoid a branch. */
            bool right = isnan(v) ? !(nd->split & NODE_DEFAULT_LEFT) : !(v < nd->value);
            nd = base + nd->left + right;
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
