/*
 * xgb.c - training a gradient-boosted model with XGBoost's C API
 * (Debian's libxgboost-dev, 1.7): binary:logistic on a dense float matrix
 * with NAN as the missing value, one round at a time with early stopping on
 * the validation AUC, then the best rounds saved as XGBoost's JSON model.
 */
#include "model/model_internal.h"

#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

void xgb_params_defaults(struct xgb_params *p)
{
    p->max_rounds = 400;
    p->early_stop = 25;
    p->max_depth = 5;
    p->eta = 0.08;
    p->subsample = 0.8;
    p->colsample = 0.8;
    p->min_child_weight = 2;
    p->scale_pos_weight = 1;
    p->nthread = 0;
    p->seed = 1;
}

static int check(int rc, char *err, size_t errlen, const char *what)
{
    if (rc != 0) {
        snprintf(err, errlen, "XGBoost %s failed: %s", what, XGBGetLastError());
        return -1;
    }
    return 0;
}

int xgb_train(const struct xgb_params *p, const float *x, const float *y, size_t n, const float *vx,
              const float *vy, size_t vn, int d, char **model_json, int *rounds, char *err,
              size_t errlen)
{
    DMatrixHandle train = NULL, valid = NULL;
    BoosterHandle booster = NULL;
    int rc = -1;
    *model_json = NULL;
    if (check(XGDMatrixCreateFromMat(x, n, (bst_ulong)d, NAN, &train), err, errlen, "matrix") ||
        check(XGDMatrixSetFloatInfo(train, "label", y, n), err, errlen, "labels"))
        goto out;
    if (vn > 0 &&
        (check(XGDMatrixCreateFromMat(vx, vn, (bst_ulong)d, NAN, &valid), err, errlen, "matrix") ||
         check(XGDMatrixSetFloatInfo(valid, "label", vy, vn), err, errlen, "labels")))
        goto out;
    DMatrixHandle cache[2] = {train, valid};
    if (check(XGBoosterCreate(cache, valid ? 2 : 1, &booster), err, errlen, "create"))
        goto out;
    char v[64];
    XGBoosterSetParam(booster, "objective", "binary:logistic");
    XGBoosterSetParam(booster, "eval_metric", "auc");
    XGBoosterSetParam(booster, "tree_method", "hist");
    snprintf(v, sizeof v, "%d", p->max_depth);
    XGBoosterSetParam(booster, "max_depth", v);
    snprintf(v, sizeof v, "%g", p->eta);
    XGBoosterSetParam(booster, "eta", v);
    snprintf(v, sizeof v, "%g", p->subsample);
    XGBoosterSetParam(booster, "subsample", v);
    snprintf(v, sizeof v, "%g", p->colsample);
    XGBoosterSetParam(booster, "colsample_bytree", v);
    snprintf(v, sizeof v, "%g", p->min_child_weight);
    XGBoosterSetParam(booster, "min_child_weight", v);
    snprintf(v, sizeof v, "%g", p->scale_pos_weight);
    XGBoosterSetParam(booster, "scale_pos_weight", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)(p->seed % 2147483647u));
    XGBoosterSetParam(booster, "seed", v);
    snprintf(v, sizeof v, "%d", p->nthread > 0 ? p->nthread : cpu_count());
    XGBoosterSetParam(booster, "nthread", v);
    XGBoosterSetParam(booster, "verbosity", "0");
    /* Start from the base rate, not 0.5: early rounds then refine a calibrated
     * score instead of spending themselves walking away from 0.5. */
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += y[i];
    mean = n ? mean / (double)n : 0.5;
    if (mean < 0.01)
        mean = 0.01;
    if (mean > 0.99)
        mean = 0.99;
    snprintf(v, sizeof v, "%.6f", mean);
    XGBoosterSetParam(booster, "base_score", v);

    double best = -1;
    int best_round = 0;
    const char *names[] = {"valid"};
    for (int it = 0; it < p->max_rounds; it++) {
        if (check(XGBoosterUpdateOneIter(booster, it, train), err, errlen, "update"))
            goto out;
        if (!valid) {
            best_round = it + 1;
            continue;
        }
        const char *res = NULL;
        if (check(XGBoosterEvalOneIter(booster, it, &valid, names, 1, &res), err, errlen, "eval"))
            goto out;
        const char *a = res ? strstr(res, "valid-auc:") : NULL;
        double auc = a ? strtod(a + 10, NULL) : 0;
        if (auc > best + 1e-6) {
            best = auc;
            best_round = it + 1;
        } else if (it + 1 - best_round >= p->early_stop) {
            break;
        }
    }
    *rounds = best_round;
    /* Keep the best rounds only. */
    BoosterHandle kept = booster;
    const char *sliced_json;
    bst_ulong len = 0;
    BoosterHandle slice = NULL;
    if (best_round > 0 && XGBoosterSlice(booster, 0, best_round, 1, &slice) == 0)
        kept = slice;
    if (check(XGBoosterSaveModelToBuffer(kept, "{\"format\": \"json\"}", &len, &sliced_json), err,
              errlen, "save")) {
        if (slice)
            XGBoosterFree(slice);
        goto out;
    }
    *model_json = xstrndup(sliced_json, (size_t)len);
    if (slice)
        XGBoosterFree(slice);
    rc = 0;
out:
    if (booster)
        XGBoosterFree(booster);
    if (train)
        XGDMatrixFree(train);
    if (valid)
        XGDMatrixFree(valid);
    return rc;
}
