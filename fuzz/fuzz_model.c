/*
 * fuzz_model.c - loading a model file (src/model/model.h) from arbitrary
 * bytes, by the path the server loads at start, on SIGHUP and on POST
 * /api/v1/model/reload: DIR/models/current.json (model_current_path) read
 * with model_load_file(). The file is rewritten in a temporary data
 * directory for each input.
 *
 * A file must be refused cleanly or loaded whole; it must never crash,
 * whether in Journey's validation (model.c, tree.c) or in XGBoost, which is
 * only ever given a model that validation accepted (tree.c: XGBoost's
 * loader reads out of bounds on inconsistent models).
 *
 * Checks on a loaded model, as the engine then uses it:
 *   - this build's feature count, a version >= 1, a base rate in [0, 1];
 *   - the description (model_describe) is JSON without the trees;
 *   - scores (model_predict, and the engine adapter) of rows with every
 *     feature missing, all zeros and values taken from the input are
 *     probabilities (or NaN), and an explanation (model_explain) succeeds.
 * A refusal leaves a NUL-terminated message and no model.
 */
#include "model/model.h"

#include "common/util.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_model: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char *current_path;

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = xasprintf("%s/journey-fuzz-model-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    char *models = xasprintf("%s/models", dir);
    CHECK(mkdir(models, 0700) == 0);
    current_path = model_current_path(dir);
    free(models);
    free(dir);
}

static void check_loaded(struct model *m, const uint8_t *data, size_t size)
{
    int d = model_n_features(m);
    CHECK(d == engine_feature_count());
    CHECK(model_version(m) >= 1);
    CHECK(model_base_rate(m) >= 0 && model_base_rate(m) <= 1);

    struct buf desc = BUF_INIT;
    model_describe(m, &desc);
    cJSON *j = cJSON_ParseWithLength(desc.data, desc.len);
    CHECK(cJSON_IsObject(j));
    CHECK(cJSON_GetObjectItemCaseSensitive(j, "xgboost") == NULL);
    cJSON_Delete(j);
    buf_free(&desc);

    float *rows = xmalloc(3 * (size_t)d * sizeof *rows);
    for (int i = 0; i < d; i++) {
        rows[i] = NAN;
        rows[d + i] = 0;
        /* a value from the input, some missing */
        uint8_t b = size ? data[(size_t)i * 7 % size] : 0;
        rows[2 * d + i] = b == 0xff ? NAN : (float)b - 32.0f;
    }
    float out[3];
    model_predict(m, rows, 3, out);
    for (int i = 0; i < 3; i++)
        CHECK(isnan(out[i]) || (out[i] >= 0 && out[i] <= 1));
    float *contrib = xmalloc(((size_t)d + 1) * sizeof *contrib);
    CHECK(model_explain(m, rows + 2 * d, contrib) == 0);
    free(contrib);

    struct engine_model *em = model_for_engine(m); /* takes m */
    float again[3];
    CHECK(em->predict(em->ctx, rows, 3, again) == 0);
    CHECK(memcmp(out, again, sizeof out) == 0 || isnan(out[0]) || isnan(out[1]) || isnan(out[2]));
    em->release(em->ctx);
    free(em);
    free(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!current_path)
        setup();
    FILE *f = fopen(current_path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);

    struct model *m = (struct model *)&m; /* must be reset to NULL on failure */
    char err[256];
    memset(err, 0x7f, sizeof err);
    int rc = model_load_file(current_path, &m, err, sizeof err);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_model: %s\n", rc ? err : "loaded");
    if (rc != 0) {
        CHECK(rc < 0);
        CHECK(m == NULL);
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        return 0;
    }
    CHECK(m != NULL);
    check_loaded(m, data, size);
    return 0;
}
