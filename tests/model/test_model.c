/*
 * test_model.c - the model: native scoring equals XGBoost's, a saved model
 * loads and reloads to identical predictions, broken or mismatched models are
 * refused with a clear reason (also those XGBoost's own loader would crash
 * on), metrics on hand-computed cases, logistic
 * regression, CSV cross-validation on the committed table.
 */
#include "support_test.h"

#include "common/buf.h"
#include "common/util.h"
#include "engine/engine.h"
#include "model/model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

static uint64_t seed = 12345;

static double unif(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(seed >> 11) / 9007199254740992.0;
}

/* A data set where the label depends on features 0 and 1; some values missing. */
static void make_data(float *x, float *y, size_t n, int d)
{
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < d; j++)
            x[i * (size_t)d + (size_t)j] = unif() < 0.05 ? NAN : (float)(unif() * 10);
        float a = x[i * (size_t)d], b = x[i * (size_t)d + 1];
        double z = (isnan(a) ? 5 : a) - (isnan(b) ? 5 : b) + (unif() - 0.5) * 4;
        y[i] = z > 0;
    }
}

static char *train_json(int d, size_t n, float **xo, float **yo)
{
    float *x = malloc(n * (size_t)d * sizeof *x), *y = malloc(n * sizeof *y);
    make_data(x, y, n, d);
    struct xgb_params p;
    xgb_params_defaults(&p);
    p.max_rounds = 40;
    p.nthread = 1;
    char *json = NULL, err[200];
    int rounds;
    assert_int_equal(xgb_train(&p, x, y, n * 8 / 10, x + n * 8 / 10 * (size_t)d, y + n * 8 / 10,
                               n - n * 8 / 10, d, &json, &rounds, err, sizeof err),
                     0);
    assert_true(rounds > 0);
    *xo = x;
    *yo = y;
    return json;
}

static void test_native_equals_xgboost(void **state)
{
    (void)state;
    int d = 6;
    size_t n = 2000;
    float *x, *y;
    char *json = train_json(d, n, &x, &y);
    cJSON *j = cJSON_Parse(json);
    struct forest f;
    char err[200];
    assert_int_equal(forest_load(&f, j, d, err, sizeof err), 0);
    cJSON_Delete(j);

    BoosterHandle b;
    assert_int_equal(XGBoosterCreate(NULL, 0, &b), 0);
    assert_int_equal(XGBoosterLoadModelFromBuffer(b, json, strlen(json)), 0);
    DMatrixHandle dm;
    assert_int_equal(XGDMatrixCreateFromMat(x, n, (bst_ulong)d, NAN, &dm), 0);
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    assert_int_equal(XGBoosterPredictFromDMatrix(b, dm,
                                                 "{\"type\": 0, \"training\": false, "
                                                 "\"iteration_begin\": 0, \"iteration_end\": 0, "
                                                 "\"strict_shape\": false}",
                                                 &shape, &dim, &res),
                     0);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)forest_predict(&f, x + i * (size_t)d) - (double)res[i]);
        if (diff > worst)
            worst = diff;
    }
    assert_true(worst < 1e-6);
    XGDMatrixFree(dm);
    XGBoosterFree(b);
    forest_free(&f);
    free(json);
    free(x);
    free(y);
}

/* A journey-model envelope around an XGBoost model trained on as many
 * features as the engine has. */
static char *envelope(int version, const char *feature0)
{
    int d = engine_feature_count();
    float *x, *y;
    char *json = train_json(d, 1500, &x, &y);
    free(x);
    free(y);
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "{\"format\":\"journey-model\",\"format_version\":1,\"version\":%d,"
               "\"base_rate\":0.7,\"features\":[",
               version);
    for (int i = 0; i < d; i++) {
        if (i)
            buf_putc(&b, ',');
        json_str(&b, i == 0 && feature0 ? feature0 : engine_feature(i));
    }
    buf_puts(&b, "],\"metrics\":{},\"xgboost\":");
    buf_puts(&b, json);
    buf_puts(&b, "}");
    free(json);
    return buf_steal(&b);
}

static void test_save_load_reload_identical(void **state)
{
    (void)state;
    char *env = envelope(3, NULL);
    int d = engine_feature_count();
    char err[300];
    struct model *a, *b;
    assert_int_equal(model_load_buffer(env, strlen(env), &a, err, sizeof err), 0);
    assert_int_equal(model_version(a), 3);
    assert_true(model_base_rate(a) == 0.7);
    /* Through a file, as the server reloads it. */
    char *dir = test_tmpdir();
    char *path = xasprintf("%s/m.json", dir);
    FILE *f = fopen(path, "w");
    fputs(env, f);
    fclose(f);
    assert_int_equal(model_load_file(path, &b, err, sizeof err), 0);
    float *rows = malloc(200 * (size_t)d * sizeof *rows), pa[200], pb[200];
    for (int i = 0; i < 200 * d; i++)
        rows[i] = unif() < 0.1 ? NAN : (float)(unif() * 10);
    model_predict(a, rows, 200, pa);
    model_predict(b, rows, 200, pb);
    assert_memory_equal(pa, pb, sizeof pa);
    /* Explanations add up to the margin (SHAP's defining property). */
    float contrib[256];
    assert_int_equal(model_explain(b, rows, contrib), 0);
    double sum = 0;
    for (int i = 0; i <= d; i++)
        sum += contrib[i];
    double p = 1 / (1 + exp(-sum));
    assert_true(fabs(p - pb[0]) < 1e-4);
    /* The engine adapter scores the same. */
    struct engine_model *em = model_for_engine(b);
    float pe;
    em->predict(em->ctx, rows, 1, &pe);
    assert_true(pe == pb[0]);
    em->release(em->ctx);
    free(em);
    model_free(a);
    free(rows);
    free(env);
    free(path);
    test_rmdir(dir);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[300];
    struct model *m;
    char *env = envelope(1, NULL);
    /* truncated */
    assert_true(model_load_buffer(env, strlen(env) / 2, &m, err, sizeof err) < 0);
    assert_non_null(strstr(err, "not JSON"));
    /* not ours */
    const char *other = "{\"format\":\"onnx\"}";
    assert_true(model_load_buffer(other, strlen(other), &m, err, sizeof err) < 0);
    assert_non_null(strstr(err, "not a Journey model"));
    /* from the future */
    char *future = xstrdup(env);
    char *fv = strstr(future, "\"format_version\":1");
    fv[17] = '9';
    assert_true(model_load_buffer(future, strlen(future), &m, err, sizeof err) < 0);
    assert_non_null(strstr(err, "newer than this journey reads"));
    free(future);
    /* another feature list */
    char *mismatch = envelope(1, "something_else");
    assert_true(model_load_buffer(mismatch, strlen(mismatch), &m, err, sizeof err) < 0);
    assert_non_null(strstr(err, "feature 0 of the model is 'something_else'"));
    free(mismatch);
    /* a tree pointing outside itself */
    const char *lc = strstr(env, "\"left_children\":[");
    assert_non_null(lc);
    lc += strlen("\"left_children\":[");
    size_t head = (size_t)(lc - env), first = strcspn(lc, ",]");
    char *broken = xasprintf("%.*s9999%s", (int)head, env, lc + first);
    assert_true(model_load_buffer(broken, strlen(broken), &m, err, sizeof err) < 0);
    assert_non_null(strstr(err, "out of range"));
    free(broken);
    free(env);
}

/* The envelope with the first occurrence of `from` replaced by `to`. */
static char *replaced(const char *env, const char *from, const char *to)
{
    const char *at = strstr(env, from);
    assert_non_null(at);
    return xasprintf("%.*s%s%s", (int)(at - env), env, to, at + strlen(from));
}

/* Members XGBoost's own loader trusts: XGBoost 1.7 reads out of bounds (a
 * segfault, seen) when num_trees, tree_info or a tree's id disagree with the
 * trees, or a tree lists categories; others change what the model predicts.
 * Each must be refused before XGBoost sees it. */
static void test_refusals_before_xgboost(void **state)
{
    (void)state;
    char *env = envelope(1, NULL);
    static const struct {
        const char *from, *to, *expect;
    } cases[] = {
        {"\"num_trees\":\"", "\"num_trees\":\"9", "does not match its"},
        {"\"tree_info\":[0,", "\"tree_info\":[", "tree_info does not list"},
        {"\"tree_info\":[0,", "\"tree_info\":[1,", "tree_info[0] is not 0"},
        {"\"id\":0", "\"id\":7", "tree 0: its id is not 0"},
        {"\"categories_nodes\":[]", "\"categories_nodes\":[0]", "categorical splits"},
        {"\"split_type\":[0", "\"split_type\":[1", "categorical splits"},
        {"\"num_class\":\"0\"", "\"num_class\":\"3\"", "one binary output"},
        {"\"num_parallel_tree\":\"1\"", "\"num_parallel_tree\":\"2\"", "num_parallel_tree 1"},
        {"\"num_nodes\":\"", "\"num_nodes\":\"9", "tree_param does not match"},
        {"\"num_deleted\":\"0\"", "\"num_deleted\":\"2\"", "tree_param does not match"},
        {"\"parents\":[2147483647,0,0,", "\"parents\":[2147483647,0,1,", "its parent does not"},
        {"\"left_children\":[1,", "\"left_children\":[1.5,", "left child out of range"},
        {"\"base_weights\":[", "\"base_weights\":[\"x\",", "malformed node arrays"},
        {"\"version\":1,", "\"version\":1e300,", "\"version\" is not a whole number"},
        {"\"format_version\":1", "\"format_version\":0", "\"format_version\" is not"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *bad = replaced(env, cases[i].from, cases[i].to);
        char err[300] = "";
        struct model *m = NULL;
        int rc = model_load_buffer(bad, strlen(bad), &m, err, sizeof err);
        if (rc >= 0 || !strstr(err, cases[i].expect))
            fail_msg("%s -> %s: rc %d, \"%s\" (expected \"%s\")", cases[i].from, cases[i].to, rc,
                     err, cases[i].expect);
        assert_null(m);
        free(bad);
    }
    free(env);
}

/* XGBoost must read the very member that was validated. It did not when the
 * validated member and the text handed to XGBoost were found differently
 * (cJSON compares decoded keys, the text was found by its raw key) or read
 * differently (XGBoost keeps the last of two equal keys, cJSON the first):
 * XGBoost then read unchecked trees and crashed (fuzz/regressions/model). */
static void test_xgboost_member_read_as_validated(void **state)
{
    (void)state;
    char *env = envelope(1, NULL);
    const char *at = strstr(env, "\"xgboost\":");
    assert_non_null(at);
    int head = (int)(at - env);
    const char *xg = at + strlen("\"xgboost\":");
    int xg_len = (int)strlen(xg) - 1; /* without the envelope's closing brace */
    char *xg_text = xasprintf("%.*s", xg_len, xg);
    char *broken = replaced(xg_text, "\"tree_info\":[0,", "\"tree_info\":[");
    const char *info = strstr(env, "\"tree_info\":[");
    assert_non_null(info);
    int info_end = (int)(strchr(info, ']') + 1 - env);
    char *cases[] = {
        /* a valid member under an escaped key, a broken one under the plain key */
        xasprintf("%.*s\"x\\u0067boost\":%s,\"xgboost\":%s}", head, env, xg_text, broken),
        xasprintf("%.*s\"xgboost\\u0000\":%s,\"xgboost\":%s}", head, env, xg_text, broken),
        /* a valid tree_info, then a short one */
        xasprintf("%.*s,\"tree_info\":[0]%s", info_end, env, env + info_end),
    };
    const char *expect[] = {"escape", "escape", "repeats the key \"tree_info\""};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[300] = "";
        struct model *m = NULL;
        int rc = model_load_buffer(cases[i], strlen(cases[i]), &m, err, sizeof err);
        if (rc >= 0 || !strstr(err, expect[i]))
            fail_msg("case %zu: rc %d, \"%s\" (expected \"%s\")", i, rc, err, expect[i]);
        assert_null(m);
        free(cases[i]);
    }
    free(broken);
    free(xg_text);
    free(env);
}

static void test_metrics(void **state)
{
    (void)state;
    /* Scores and labels worked by hand:
     *   score: 0.9 0.8 0.7 0.6 0.5 0.4
     *   label:  1   0   1   1   0   0
     * ROC AUC = pairs (pos > neg) / (3 x 3): positives 0.9 beats 3 negatives,
     * 0.7 beats 2 (0.5, 0.4), 0.6 beats 2 -> 7/9.
     * Average precision: recall steps at ranks 1, 3, 4 with precision 1, 2/3,
     * 3/4 -> (1 + 0.6667 + 0.75) / 3 = 0.8056. */
    float s[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
    float y[] = {1, 0, 1, 1, 0, 0};
    assert_true(fabs(metric_roc_auc(s, y, 6) - 7.0 / 9.0) < 1e-9);
    assert_true(fabs(metric_pr_auc(s, y, 6) - (1 + 2.0 / 3 + 0.75) / 3) < 1e-9);
    /* At 0.65: predicted 0.9 0.8 0.7 -> tp 2, fp 1, fn 1 -> F1 = 4/6. */
    assert_true(fabs(metric_f1(s, y, 6, 0.65) - 4.0 / 6.0) < 1e-9);
    /* Brier of a constant 0.5 is 0.25. */
    float half[] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    assert_true(fabs(metric_brier(half, y, 6) - 0.25) < 1e-9);
    /* Ties count one half: a constant score has AUC 0.5 and AP = prevalence. */
    assert_true(fabs(metric_roc_auc(half, y, 6) - 0.5) < 1e-9);
    assert_true(fabs(metric_pr_auc(half, y, 6) - 0.5) < 1e-9);
    /* The best threshold for F1 here is 0.6 (tp 3, fp 1 -> 6/7). */
    double t = metric_best_threshold(s, y, 6);
    assert_true(fabs(t - 0.6) < 1e-6);
}

static void test_logistic_regression(void **state)
{
    (void)state;
    int d = 4;
    size_t n = 3000;
    float *x = malloc(n * (size_t)d * sizeof *x), *y = malloc(n * sizeof *y),
          *p = malloc(n * sizeof *p);
    make_data(x, y, n, d);
    struct logreg lr;
    logreg_fit(&lr, x, y, n, d, 1e-3);
    logreg_predict(&lr, x, n, p);
    assert_true(metric_roc_auc(p, y, n) > 0.85);
    /* The signs follow the generating function: + for feature 0, - for 1. */
    assert_true(lr.w[0] > 0 && lr.w[1] < 0);
    logreg_free(&lr);
    free(x);
    free(y);
    free(p);
}

static void test_csv_mode(void **state)
{
    (void)state;
    struct csv_options o = {.path = "tests/fixtures/shoppers_sample.csv",
                            .label = "Revenue",
                            .folds = 5,
                            .seed = 1,
                            .nthread = 1};
    struct csv_report r;
    char err[300];
    assert_int_equal(model_train_csv(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.rows, 800);
    assert_int_equal(r.folds, 5);
    assert_string_equal(r.positive, "true");
    assert_true(r.positive_rate > 0.05 && r.positive_rate < 0.2);
    /* Month and VisitorType one-hot, Weekend too; 8 numeric columns. */
    assert_true(r.features > 15);
    assert_true(r.xgboost.roc_auc > 0.62);
    assert_true(r.logistic.roc_auc > 0.62);
    assert_true(fabs(r.baseline.roc_auc - 0.5) < 1e-9);
    o.label = "Nope";
    assert_true(model_train_csv(&o, &r, err, sizeof err) < 0);
    assert_non_null(strstr(err, "no column named 'Nope'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_equals_xgboost),
        cmocka_unit_test(test_save_load_reload_identical),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_refusals_before_xgboost),
        cmocka_unit_test(test_xgboost_member_read_as_validated),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_logistic_regression),
        cmocka_unit_test(test_csv_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
