/*
 * train.c - `journey train`: fit the exit-risk model from the store's history,
 * or cross-validate the same learners on any CSV table.
 */
#include "cli/cli.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "model/model.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: journey train [--project ID] [--data DIR] [--test-share 0.2] [--rounds N]\n"
           "                     [--threads N] [--no-save] [--json]\n"
           "       journey train --csv FILE --label COLUMN [--folds 5] [--threads N] [--json]\n\n"
           "From the store: replays every ended session of the project (its goal must be set)\n"
           "through the engine's own feature code, snapshots each at its 1st, 2nd, 4th ... event,\n"
           "splits by time (the newest sessions are the test set), trains XGBoost, and reports\n"
           "ROC AUC, PR AUC, F1 of the minority class and the Brier score beside a logistic\n"
           "regression and the trivial baseline. The model is saved as DIR/models/model-N.json\n"
           "and current.json; a running server loads it on SIGHUP or POST /api/v1/model/reload.\n\n"
           "With --csv: the same learners and metrics by stratified K-fold cross-validation on a\n"
           "table (numeric columns as they are, text columns one-hot). See docs/model.md.\n\n");
}

static void row(const char *name, const struct metric_set *m, const struct metric_set *sd)
{
    if (sd)
        printf("  %-22s %.3f±%.3f  %.3f±%.3f  %.3f±%.3f @%.2f  %.4f±%.4f\n", name, m->roc_auc,
               sd->roc_auc, m->pr_auc, sd->pr_auc, m->f1, sd->f1, m->threshold, m->brier,
               sd->brier);
    else
        printf("  %-22s %7.3f  %7.3f  %7.3f @%.2f  %7.4f\n", name, m->roc_auc, m->pr_auc, m->f1,
               m->threshold, m->brier);
}

static void json_metrics(struct buf *b, const char *name, const struct metric_set *m)
{
    json_key(b, name);
    buf_puts(b, "{\"roc_auc\":");
    json_double(b, m->roc_auc);
    buf_puts(b, ",\"pr_auc\":");
    json_double(b, m->pr_auc);
    buf_puts(b, ",\"f1\":");
    json_double(b, m->f1);
    buf_puts(b, ",\"threshold\":");
    json_double(b, m->threshold);
    buf_puts(b, ",\"brier\":");
    json_double(b, m->brier);
    buf_putc(b, '}');
}

int cmd_train(int argc, char **argv)
{
    const char *project = NULL, *csv = NULL, *label = NULL, *folds = NULL, *rounds = NULL,
               *share = NULL, *threads = NULL;
    bool json = false, no_save = false, help = false;
    struct cli_flag flags[] = {
        {"project", &project, NULL, "the project to learn from (default 1)"},
        {"csv", &csv, NULL, "train on this CSV table instead of the store"},
        {"label", &label, NULL, "--csv: the column to predict"},
        {"folds", &folds, NULL, "--csv: cross-validation folds (5)"},
        {"rounds", &rounds, NULL, "most boosting rounds (400; early stopping decides)"},
        {"test-share", &share, NULL, "share of the newest sessions kept for the test (0.2)"},
        {"threads", &threads, NULL, "XGBoost's training threads (0: one per core)"},
        {"json", NULL, &json, "print the report as JSON"},
        {"no-save", NULL, &no_save, "measure only; do not write a model"},
        {"help", NULL, &help, "this help"},
    };
    struct cli_args a;
    if (cli_parse(argc, argv, flags, (int)ARRAY_LEN(flags), &a))
        return 2;
    if (help) {
        usage();
        cli_print_flags(flags, (int)ARRAY_LEN(flags), false);
        config_free(&a.cfg);
        return 0;
    }
    log_set_level((enum log_level)a.cfg.log_level);
    int rc = 1;
    char err[512];
    struct store *store = NULL;
    uint64_t v;
    int nthread = 0;
    if (threads) {
        if (parse_u64(threads, 256, &v)) {
            fprintf(stderr, "journey train: --threads must be 0 to 256\n");
            rc = 2;
            goto out;
        }
        nthread = (int)v;
    }
    if (csv) {
        if (!label) {
            fprintf(stderr, "journey train: --csv needs --label COLUMN\n");
            rc = 2;
            goto out;
        }
        struct csv_options co = {
            .path = csv, .label = label, .folds = 5, .seed = 1, .nthread = nthread};
        if (folds && (parse_u64(folds, 50, &v) || v < 2)) {
            fprintf(stderr, "journey train: --folds must be 2 to 50\n");
            rc = 2;
            goto out;
        }
        if (folds)
            co.folds = (int)v;
        if (rounds && !parse_u64(rounds, 10000, &v))
            co.max_rounds = (int)v;
        struct csv_report r;
        if (model_train_csv(&co, &r, err, sizeof err)) {
            fprintf(stderr, "journey train: %s\n", err);
            goto out;
        }
        if (json) {
            struct buf b = BUF_INIT;
            buf_printf(&b,
                       "{\"rows\":%d,\"columns\":%d,\"features\":%d,\"folds\":%d,"
                       "\"positive\":",
                       r.rows, r.columns, r.features, r.folds);
            json_str(&b, r.positive);
            buf_puts(&b, ",\"positive_rate\":");
            json_double(&b, r.positive_rate);
            buf_putc(&b, ',');
            json_metrics(&b, "xgboost", &r.xgboost);
            buf_putc(&b, ',');
            json_metrics(&b, "logistic_regression", &r.logistic);
            buf_putc(&b, ',');
            json_metrics(&b, "baseline", &r.baseline);
            buf_putc(&b, ',');
            json_metrics(&b, "xgboost_sd", &r.xgboost_sd);
            buf_putc(&b, ',');
            json_metrics(&b, "logistic_regression_sd", &r.logistic_sd);
            buf_putc(&b, ',');
            json_metrics(&b, "baseline_sd", &r.baseline_sd);
            buf_puts(&b, "}\n");
            fputs(b.data, stdout);
            buf_free(&b);
        } else {
            printf(
                "%s: %d rows, %d columns -> %d features; label %s = %s (%.1f%% of rows); %d-fold "
                "stratified cross-validation\n\n",
                csv, r.rows, r.columns, r.features, label, r.positive, 100 * r.positive_rate,
                r.folds);
            printf("  %-22s %-11s  %-11s  %-17s  %s\n", "", "ROC AUC", "PR AUC", "F1 @threshold",
                   "Brier");
            row("xgboost", &r.xgboost, &r.xgboost_sd);
            row("logistic regression", &r.logistic, &r.logistic_sd);
            row("trivial baseline", &r.baseline, &r.baseline_sd);
        }
        rc = 0;
        goto out;
    }

    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = a.cfg.data_dir;
    so.start_writer = false;
    if (store_open(&store, &so, err, sizeof err)) {
        fprintf(stderr, "journey: %s\n", err);
        goto out;
    }
    struct train_options o;
    train_options_defaults(&o);
    o.data_dir = a.cfg.data_dir;
    o.session_timeout_ms = a.cfg.session_timeout_ms;
    o.save = !no_save;
    o.nthread = nthread;
    if (rounds && !parse_u64(rounds, 10000, &v))
        o.max_rounds = (int)v;
    if (share) {
        double s = strtod(share, NULL);
        if (!(s >= 0.05 && s <= 0.5)) {
            fprintf(stderr, "journey train: --test-share must be from 0.05 to 0.5\n");
            rc = 2;
            goto out;
        }
        o.test_share = s;
    }
    if (project) {
        if (parse_u64(project, INT64_MAX, &v)) {
            fprintf(stderr, "journey train: --project must be a project id\n");
            rc = 2;
            goto out;
        }
        o.project_id = (int64_t)v;
    } else {
        o.project_id = 1;
    }
    struct train_report r;
    if (model_train_store(store, &o, &r, err, sizeof err)) {
        fprintf(stderr, "journey train: %s\n", err);
        goto out;
    }
    const char *minority = r.minority_is_exit ? "exit" : "converted";
    if (json) {
        struct buf b = BUF_INIT;
        buf_printf(&b,
                   "{\"project_id\":%lld,\"version\":%d,\"sessions\":%lld,\"snapshots\":%lld,"
                   "\"train_sessions\":%lld,\"test_sessions\":%lld,\"exit_rate\":",
                   (long long)o.project_id, r.version, (long long)r.sessions,
                   (long long)r.snapshots, (long long)r.train_sessions, (long long)r.test_sessions);
        json_double(&b, r.exit_rate);
        buf_puts(&b, ",\"minority_class\":");
        json_str(&b, minority);
        buf_printf(&b,
                   ",\"rounds\":%d,\"seconds\":%.3f,\"replay_seconds\":%.3f,"
                   "\"xgboost_seconds\":%.3f,\"logistic_seconds\":%.3f,\"threads\":%d,",
                   r.rounds, r.seconds, r.replay_seconds, r.xgboost_seconds, r.logistic_seconds,
                   nthread > 0 ? nthread : cpu_count());
        json_metrics(&b, "xgboost", &r.xgboost);
        buf_putc(&b, ',');
        json_metrics(&b, "logistic_regression", &r.logistic);
        buf_putc(&b, ',');
        json_metrics(&b, "baseline", &r.baseline);
        buf_puts(&b, ",\"path\":");
        json_str(&b, r.path[0] ? r.path : NULL);
        buf_puts(&b, "}\n");
        fputs(b.data, stdout);
        buf_free(&b);
    } else {
        printf("project %lld: %lld ended sessions, %lld snapshots; %.1f%% of snapshots exit "
               "(the minority class is '%s')\n",
               (long long)o.project_id, (long long)r.sessions, (long long)r.snapshots,
               100 * r.exit_rate, minority);
        printf("split by time: %lld older sessions train, the %lld newest test\n\n",
               (long long)r.train_sessions, (long long)r.test_sessions);
        printf("  %-22s %7s  %7s  %-13s  %7s\n", "", "ROC AUC", "PR AUC", "F1(minority)", "Brier");
        row("xgboost", &r.xgboost, NULL);
        row("logistic regression", &r.logistic, NULL);
        row("trivial baseline", &r.baseline, NULL);
        printf("\n%d boosting rounds, %.1f s", r.rounds, r.seconds);
        if (r.path[0])
            printf("; saved %s (and current.json)", r.path);
        printf("\n");
    }
    rc = 0;
out:
    store_close(store);
    config_free(&a.cfg);
    return rc;
}
