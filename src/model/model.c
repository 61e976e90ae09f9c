/*
 * model.c - loading a Journey model file, scoring, explanations, and the
 * adapter the engine scores with. See model.h for the file and why scoring
 * is native.
 *
 * Validation on load refuses, with a message naming the problem: a file
 * that is not JSON, not a journey-model envelope, a format version from
 * the future, features that differ from this build's (a model trained with
 * another feature list would score garbage), or trees that do not hold
 * together. A refused model never replaces the one in use.
 */
#include "model/model_internal.h"

#include "common/json_scan.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#define FORMAT_VERSION 1

struct model {
    int version;
    double base_rate;
    int n_features;
    struct forest forest;
    char *xgb_json;        /* XGBoost's own model, for explanations */
    char *described;       /* the envelope without the trees */
    pthread_mutex_t lock;  /* the booster below is not shared between threads */
    BoosterHandle booster; /* loaded on the first explanation */
};

char *model_current_path(const char *data_dir)
{
    return xasprintf("%s/models/current.json", data_dir);
}

int model_load_buffer(const char *json, size_t len, struct model **out, char *err, size_t errlen)
{
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        snprintf(err, errlen, "not JSON (corrupt or truncated file)");
        return -EINVAL;
    }
    int rc = -EINVAL;
    struct model *m = NULL;
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *fv = cJSON_GetObjectItemCaseSensitive(root, "format_version");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *features = cJSON_GetObjectItemCaseSensitive(root, "features");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base_rate");
    const cJSON *xgb = cJSON_GetObjectItemCaseSensitive(root, "xgboost");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, "journey-model") != 0) {
        snprintf(err, errlen, "not a Journey model (\"format\" is not \"journey-model\")");
        goto out;
    }
    if (!cJSON_IsNumber(fv) || fv->valuedouble > FORMAT_VERSION) {
        snprintf(err, errlen, "model format version %g is newer than this journey reads (%d)",
                 cJSON_IsNumber(fv) ? fv->valuedouble : -1.0, FORMAT_VERSION);
        goto out;
    }
    if (!cJSON_IsNumber(version) || !cJSON_IsArray(features) || !cJSON_IsNumber(base) ||
        !cJSON_IsObject(xgb)) {
        snprintf(err, errlen, "the model lacks version, features, base_rate or xgboost");
        goto out;
    }
    int n = cJSON_GetArraySize(features);
    if (n != engine_feature_count()) {
        snprintf(err, errlen,
                 "the model was trained with %d features; this journey computes %d: retrain it "
                 "(journey train)",
                 n, engine_feature_count());
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *f = cJSON_GetArrayItem(features, i);
        if (!cJSON_IsString(f) || strcmp(f->valuestring, engine_feature(i)) != 0) {
            snprintf(err, errlen,
                     "feature %d of the model is '%s' but this journey's is '%s': retrain it "
                     "(journey train)",
                     i, cJSON_IsString(f) ? f->valuestring : "?", engine_feature(i));
            goto out;
        }
    }
    m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->version = (int)version->valuedouble;
    m->base_rate = base->valuedouble;
    m->n_features = n;
    if (!(m->base_rate >= 0 && m->base_rate <= 1)) {
        snprintf(err, errlen, "base_rate %g is not a probability", m->base_rate);
        goto out;
    }
    if (forest_load(&m->forest, xgb, n, err, errlen))
        goto out;
    /* XGBoost's loader is strict about number types (0.0 is not 0), so its
     * model is kept as the exact text of the file, not re-printed. */
    struct json_span raw;
    if (json_object_find(json, len, "xgboost", &raw) != 1) {
        snprintf(err, errlen, "the model's xgboost member cannot be located");
        goto out;
    }
    m->xgb_json = xstrndup(raw.p, raw.n);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "xgboost");
    char *printed = cJSON_PrintUnformatted(root);
    m->described = xstrdup(printed);
    cJSON_free(printed);
    *out = m;
    m = NULL;
    rc = 0;
out:
    model_free(m);
    cJSON_Delete(root);
    return rc;
}

int model_load_file(const char *path, struct model **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -errno;
    }
    struct buf b = BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    int rc = model_load_buffer(b.data ? b.data : "", b.len, out, err, errlen);
    buf_free(&b);
    return rc;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    forest_free(&m->forest);
    if (m->booster)
        XGBoosterFree(m->booster);
    free(m->xgb_json);
    free(m->described);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int model_version(const struct model *m)
{
    return m->version;
}

double model_base_rate(const struct model *m)
{
    return m->base_rate;
}

int model_n_features(const struct model *m)
{
    return m->n_features;
}

void model_describe(const struct model *m, struct buf *out)
{
    buf_puts(out, m->described);
}

void model_predict(const struct model *m, const float *rows, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = forest_predict(&m->forest, rows + i * (size_t)m->n_features);
}

int model_explain(struct model *m, const float *row, float *contrib)
{
    int rc = -1;
    pthread_mutex_lock(&m->lock);
    if (!m->booster) {
        if (XGBoosterCreate(NULL, 0, &m->booster) != 0 ||
            XGBoosterLoadModelFromBuffer(m->booster, m->xgb_json, strlen(m->xgb_json)) != 0) {
            LOG_WARN("model", NULL, "loading the model into XGBoost failed: %s", XGBGetLastError());
            if (m->booster)
                XGBoosterFree(m->booster);
            m->booster = NULL;
            goto out;
        }
        XGBoosterSetParam(m->booster, "nthread", "1");
    }
    DMatrixHandle d;
    if (XGDMatrixCreateFromMat(row, 1, (bst_ulong)m->n_features, NAN, &d) != 0)
        goto out;
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (XGBoosterPredictFromDMatrix(m->booster, d,
                                    "{\"type\": 2, \"training\": false, \"iteration_begin\": 0, "
                                    "\"iteration_end\": 0, \"strict_shape\": false}",
                                    &shape, &dim, &res) == 0) {
        memcpy(contrib, res, (size_t)(m->n_features + 1) * sizeof *contrib);
        rc = 0;
    } else {
        LOG_WARN("model", NULL, "explaining a score failed: %s", XGBGetLastError());
    }
    XGDMatrixFree(d);
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int engine_predict(void *ctx, const float *rows, size_t n, float *out)
{
    model_predict(ctx, rows, n, out);
    return 0;
}

static int engine_explain(void *ctx, const float *row, float *contrib)
{
    return model_explain(ctx, row, contrib);
}

static void engine_release(void *ctx)
{
    model_free(ctx);
}

struct engine_model *model_for_engine(struct model *m)
{
    struct engine_model *em = xcalloc(1, sizeof *em);
    em->version = m->version;
    em->base_rate = m->base_rate;
    em->ctx = m;
    em->predict = engine_predict;
    em->explain = engine_explain;
    em->release = engine_release;
    return em;
}
