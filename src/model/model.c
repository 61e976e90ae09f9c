/*
 * model.c - loading a Journey model file, scoring, explanations, and the
 * adapter the engine scores with. See model.h for the file and why scoring
 * is native.
 *
 * Validation on load refuses, with a message naming the problem: a file
 * that is not JSON, not a journey-model envelope, a format version from
 * the future, features that differ from this build's (a model trained with
 * another feature list would score garbage), trees that do not hold
 * together (tree.c), a model XGBoost itself cannot read, or one whose
 * native scores differ from XGBoost's on a few probe rows. A refused model
 * never replaces the one in use.
 *
 * The XGBoost booster (for explanations) is built at load, not at the first
 * explanation: a model XGBoost refuses is then refused as a whole, and the
 * first intervention does not pay the load (milliseconds) on a worker.
 */
#include "model/model_internal.h"

#include "common/json_scan.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <limits.h>
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
    char *described;       /* the envelope without the trees */
    pthread_mutex_t lock;  /* the booster below is not shared between threads */
    BoosterHandle booster; /* the same trees in XGBoost, for explanations */
};

static const char *const contrib_config =
    "{\"type\": 2, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
    "\"strict_shape\": false}";
static const char *const margin_config =
    "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
    "\"strict_shape\": false}";

/* XGBoost's last error, cut to its first line (the rest is a stack trace). */
static void xgb_error(char *err, size_t errlen, const char *what)
{
    const char *e = XGBGetLastError();
    size_t n = strcspn(e, "\n");
    snprintf(err, errlen, "%s: %.*s", what, (int)(n > 200 ? 200 : n), e);
}

/* Probe rows for the load-time check: everything missing, everything 0,
 * and for each feature a value just below and at the first threshold the
 * trees test it against, so both sides of many splits are taken. */
static float *probe_rows(const struct forest *f, int *n_rows)
{
    int d = f->n_features;
    float *rows = xmalloc((size_t)4 * (size_t)d * sizeof *rows);
    for (int j = 0; j < d; j++) {
        rows[j] = NAN;
        rows[d + j] = 0;
        rows[2 * d + j] = rows[3 * d + j] = 1;
    }
    for (size_t i = 0; i < f->n_nodes; i++) {
        const struct node *nd = &f->nodes[i];
        uint32_t j = NODE_FEATURE(nd->split);
        if (nd->split != NODE_LEAF && rows[3 * d + j] == 1) {
            rows[2 * d + j] = nextafterf(nd->value, -INFINITY);
            rows[3 * d + j] = nd->value;
        }
    }
    *n_rows = 4;
    return rows;
}

/* Builds m->booster from XGBoost's model text and checks that XGBoost and
 * the native trees agree: the margins, and the contributions adding up to
 * them. */
static int load_booster(struct model *m, const char *xgb_json, size_t len, char *err, size_t errlen)
{
    if (XGBoosterCreate(NULL, 0, &m->booster) != 0) {
        xgb_error(err, errlen, "XGBoost cannot create a booster");
        m->booster = NULL;
        return -1;
    }
    if (XGBoosterLoadModelFromBuffer(m->booster, xgb_json, (bst_ulong)len) != 0) {
        xgb_error(err, errlen, "XGBoost cannot read the model");
        return -1;
    }
    XGBoosterSetParam(m->booster, "nthread", "1");
    int n_rows, d = m->n_features, rc = -1;
    float *rows = probe_rows(&m->forest, &n_rows);
    DMatrixHandle dm = NULL;
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (XGDMatrixCreateFromMat(rows, (bst_ulong)n_rows, (bst_ulong)d, NAN, &dm) != 0 ||
        XGBoosterPredictFromDMatrix(m->booster, dm, margin_config, &shape, &dim, &res) != 0) {
        xgb_error(err, errlen, "XGBoost cannot score with the model");
        goto out;
    }
    for (int i = 0; i < n_rows; i++) {
        float native = forest_margin(&m->forest, rows + (size_t)i * (size_t)d);
        if (!(fabsf(native - res[i]) <= 1e-4f * (1 + fabsf(native)))) {
            snprintf(err, errlen,
                     "the trees do not score as XGBoost scores them (probe %d: %g, XGBoost %g)", i,
                     native, res[i]);
            goto out;
        }
    }
    if (XGBoosterPredictFromDMatrix(m->booster, dm, contrib_config, &shape, &dim, &res) != 0) {
        xgb_error(err, errlen, "XGBoost cannot explain with the model");
        goto out;
    }
    for (int i = 0; i < n_rows; i++) {
        double sum = 0;
        for (int j = 0; j <= d; j++)
            sum += res[(size_t)i * (size_t)(d + 1) + (size_t)j];
        float native = forest_margin(&m->forest, rows + (size_t)i * (size_t)d);
        if (!(fabs(sum - native) <= 1e-3 * (1 + fabs(native)))) {
            snprintf(err, errlen,
                     "the model's explanations do not add up to its score (probe %d: %g, "
                     "score %g)",
                     i, sum, native);
            goto out;
        }
    }
    rc = 0;
out:
    if (dm)
        XGDMatrixFree(dm);
    free(rows);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The name of a key that an object inside item repeats, or NULL. */
static const char *repeated_key(const cJSON *item)
{
    const cJSON *c;
    if (cJSON_IsObject(item) && item->child && item->child->next) {
        size_t n = 0, i = 0;
        cJSON_ArrayForEach(c, item) n++;
        const char **names = xmalloc(n * sizeof *names);
        cJSON_ArrayForEach(c, item) names[i++] = c->string;
        qsort(names, n, sizeof *names, compare_names);
        const char *dup = NULL;
        for (i = 1; i < n && !dup; i++)
            if (strcmp(names[i - 1], names[i]) == 0)
                dup = names[i];
        free(names);
        if (dup)
            return dup;
    }
    if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
        cJSON_ArrayForEach(c, item)
        {
            const char *dup = repeated_key(c);
            if (dup)
                return dup;
        }
    }
    return NULL;
}

/* Locates the text of the top-level "xgboost" member, which XGBoost reads
 * with its own JSON reader, and makes sure it is the member validated
 * (xgb, from cJSON) read the same way. They can differ: cJSON compares
 * decoded keys ("\u0078gboost", or "xgboost" and a raw NUL byte, are
 * "xgboost" to it) while the text is found by its raw key, and XGBoost keeps
 * the last of two equal keys where cJSON keeps the first. Either way XGBoost
 * was handed trees nobody checked and crashed on them (fuzz/regressions/
 * model). They agree when no key before or inside the member is escaped or
 * holds a control byte and no object inside it repeats a key; journey train
 * writes none of these, so anything else is refused. */
static int locate_xgboost(const char *json, size_t len, const cJSON *xgb, struct json_span *out,
                          char *err, size_t errlen)
{
    struct json_iter it;
    struct json_span k, v;
    struct json_scan_info info = {0, 0};
    if (json_iter_begin(&it, json, len, '{') == 0) {
        while (json_iter_member(&it, &k, &v, &info) == 1) {
            bool plain = !memchr(k.p, '\\', k.n);
            for (size_t i = 0; i < k.n && plain; i++)
                plain = (unsigned char)k.p[i] >= 0x20;
            bool ours = plain && k.n == 7 && memcmp(k.p, "xgboost", 7) == 0;
            if (!plain || (ours && (info.flags & (JSON_SCAN_KEY_ESCAPED | JSON_SCAN_CTRL_CHAR)))) {
                snprintf(err, errlen,
                         "the model has a key written with an escape or a control character: "
                         "not a file journey train wrote");
                return -1;
            }
            if (ours) {
                const char *dup = repeated_key(xgb);
                if (dup) {
                    snprintf(err, errlen, "the model's xgboost member repeats the key \"%.60s\"",
                             dup);
                    return -1;
                }
                *out = v;
                return 0;
            }
            info = (struct json_scan_info){0, 0};
        }
    }
    snprintf(err, errlen, "the model's xgboost member cannot be located");
    return -1;
}

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
    if (!cJSON_IsNumber(fv) || fv->valuedouble < 1 || fv->valuedouble != floor(fv->valuedouble)) {
        snprintf(err, errlen, "the model's \"format_version\" is not a whole number from 1");
        goto out;
    }
    if (fv->valuedouble > FORMAT_VERSION) {
        snprintf(err, errlen, "model format version %g is newer than this journey reads (%d)",
                 fv->valuedouble, FORMAT_VERSION);
        goto out;
    }
    if (!cJSON_IsNumber(version) || !cJSON_IsArray(features) || !cJSON_IsNumber(base) ||
        !cJSON_IsObject(xgb)) {
        snprintf(err, errlen, "the model lacks version, features, base_rate or xgboost");
        goto out;
    }
    if (!(version->valuedouble >= 1 && version->valuedouble <= INT_MAX) ||
        version->valuedouble != floor(version->valuedouble)) {
        snprintf(err, errlen, "the model's \"version\" is not a whole number from 1");
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
    /* XGBoost's loader is strict about number types (0.0 is not 0), so its
     * model is kept as the exact text of the file, not re-printed. */
    struct json_span raw;
    if (locate_xgboost(json, len, xgb, &raw, err, errlen))
        goto out;
    if (forest_load(&m->forest, xgb, n, err, errlen))
        goto out;
    if (load_booster(m, raw.p, raw.n, err, errlen))
        goto out;
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
    DMatrixHandle d;
    if (XGDMatrixCreateFromMat(row, 1, (bst_ulong)m->n_features, NAN, &d) != 0) {
        LOG_WARN("model", NULL, "explaining a score failed: %s", XGBGetLastError());
        goto out;
    }
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (XGBoosterPredictFromDMatrix(m->booster, d, contrib_config, &shape, &dim, &res) == 0) {
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
