/*
 * model.h - the exit-risk model: training with XGBoost, the saved model, and
 * scoring.
 *
 * A Journey model file (DIR/models/model-N.json, and current.json for the
 * one in use) is a JSON envelope around XGBoost's own JSON model: version,
 * creation time, the feature names it was trained with (the engine's, see
 * engine_feature_name), the base exit rate, the decision threshold, the
 * metrics measured when it was trained, and the training facts. docs/model.md
 * describes it.
 *
 * Scoring evaluates XGBoost's trees natively (a few hundred node visits per
 * row, about a microsecond, no allocation, safe from any number of
 * threads), which tests check against XGBoost's own predictions; the per-call
 * overhead of XGBoost's C API (tens of microseconds) would otherwise dominate
 * a one-event score. Explanations (per-feature contributions, SHAP) use
 * XGBoost's C API: they are asked for only when an intervention is decided.
 */
#ifndef JOURNEY_MODEL_MODEL_H
#define JOURNEY_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "engine/engine.h"
#include "store/store.h"

struct model;

/* Loads and validates a model file: the envelope, the feature list (must be
 * this build's), and every tree. On failure returns < 0 with a message. */
int model_load_file(const char *path, struct model **out, char *err, size_t errlen);
int model_load_buffer(const char *json, size_t len, struct model **out, char *err, size_t errlen);
void model_free(struct model *m);

int model_version(const struct model *m);
double model_base_rate(const struct model *m);
int model_n_features(const struct model *m);
/* The envelope without the trees (metrics, training facts) as JSON. */
void model_describe(const struct model *m, struct buf *out);

/* P(exit) for n rows of model_n_features() floats (NAN = missing). */
void model_predict(const struct model *m, const float *rows, size_t n, float *out);
/* Per-feature contributions in log-odds and the bias last (n_features + 1). */
int model_explain(struct model *m, const float *row, float *contrib);

/* An engine_model that scores with m; takes ownership of m. */
struct engine_model *model_for_engine(struct model *m);

/* DIR/models/current.json */
char *model_current_path(const char *data_dir);

/* ---- training ------------------------------------------------------------ */

struct train_options {
    int64_t project_id;
    int64_t now_ms; /* sessions with an event after now - session_timeout are open */
    int64_t session_timeout_ms;
    double test_share; /* newest sessions kept for the test (0.2) */
    int max_rounds;    /* 400 */
    int nthread;       /* 0: all cores */
    uint64_t seed;
    bool save; /* write DIR/models/model-N.json and current.json */
    const char *data_dir;
};

struct metric_set {
    double roc_auc, pr_auc, f1, threshold, brier;
};

struct train_report {
    int version;
    int64_t sessions, snapshots, train_sessions, test_sessions;
    double exit_rate;
    bool minority_is_exit; /* which class the F1 is of */
    int rounds;
    double seconds;         /* all of it */
    double replay_seconds;  /* reading and replaying the sessions into snapshots */
    double xgboost_seconds; /* boosting, with early stopping */
    double logistic_seconds;
    struct metric_set xgboost, logistic, baseline;
    char path[512];
};

void train_options_defaults(struct train_options *o);
/* Trains from the store's sessions of o->project_id. 0 or < 0 with err. */
int model_train_store(struct store *store, const struct train_options *o, struct train_report *r,
                      char *err, size_t errlen);

struct csv_options {
    const char *path;
    const char *label;
    int folds;
    int max_rounds;
    int nthread;
    uint64_t seed;
};

struct csv_report {
    int rows, columns, features, folds;
    double positive_rate;
    char positive[64];
    struct metric_set xgboost, logistic, baseline; /* means over folds */
    struct metric_set xgboost_sd, logistic_sd, baseline_sd;
};

int model_train_csv(const struct csv_options *o, struct csv_report *r, char *err, size_t errlen);

#endif
