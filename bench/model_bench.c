/*
 * model_bench.c - what scoring with the exit-risk model costs per event:
 * native evaluation of the trees (src/model/tree.c, what the engine runs)
 * against XGBoost's C API on the same model, in the same run.
 *
 *   build/release/bench/model_bench --data DIR [--project ID] [--sessions N]
 *                                   [--rate 10000] [--paced-seconds 5] [--json FILE]
 *
 * DIR holds simulated history and a trained model (DIR/models/current.json);
 * bench/model makes both. Phases:
 *
 *   1. replay  the first N ended sessions (default 20,000) are replayed through
 *              the engine's own per-event code (engine_offline_*, as training
 *              does) and after every event the engine's model step is timed:
 *              the feature vector, P(exit) from the native trees, and the risk
 *              0-100. That is the latency the model adds to each event, with
 *              the caches as the engine leaves them. Every event's feature row
 *              is kept for the next phases.
 *   2. paced   the rows scored one per event at --rate events/s (default the
 *              target's 10,000/s: one every 100 us, the thread idle between),
 *              natively, through a one-row DMatrix + XGBoosterPredictFromDMatrix,
 *              and through in-place prediction (XGBoosterPredictFromDense):
 *              per-event latency p50/p90/p99/p99.9/max.
 *   3. batch   throughput in a tight loop, one event per call and in
 *              micro-batches of 8, 32, 128 and 1024 rows, the same three ways:
 *              per-call latency and cost per event. A micro-batch shares the C
 *              API's fixed cost, but at 10,000 events/s a batch of B events
 *              also waits B x 100 us to fill: that wait is reported beside it.
 *   4. explain the SHAP contributions of one row (model_explain, XGBoost's
 *              pred_contribs), what the engine asks for once per decision.
 *
 * Every path scores the same rows with the same model; the largest difference
 * between native and XGBoost's probabilities is printed as a check. XGBoost
 * runs with nthread 1 (fastest for small batches: DESIGN.md). Times come
 * from CLOCK_MONOTONIC around each call; the cost of the clock itself is
 * printed (it is included in the per-event figures). On a shared machine
 * the tail is set by other tenants preempting this thread: phases 1 and 2
 * also give the figures of the calls during which the thread was not
 * switched out (getrusage, read outside the timed region), i.e. the cost of
 * the code itself.
 */
#include "common/buf.h"
#include "common/json_scan.h"
#include "common/util.h"
#include "engine/engine.h"
#include "model/model.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <xgboost/c_api.h>

static uint64_t clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Context switches of this thread so far. A sample whose call saw one was
 * (or may have been) preempted: on a shared machine the other tenants'
 * threads, not the code measured, set the tail of such samples. Read outside
 * the timed region (it is a system call). */
static long switches(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

/* ---- latency samples ------------------------------------------------------ */

struct samples {
    uint64_t *ns;
    size_t n, cap;
};

static void sample_add(struct samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->ns = xrealloc(s->ns, s->cap * sizeof *s->ns);
    }
    s->ns[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct summary {
    size_t n;
    double mean_us, p50_us, p90_us, p99_us, p999_us, max_us;
};

static struct summary summarise(struct samples *s)
{
    struct summary r = {.n = s->n};
    if (!s->n)
        return r;
    qsort(s->ns, s->n, sizeof *s->ns, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->ns[i];
#define AT(q) ((double)s->ns[(size_t)((double)(s->n - 1) * (q))] / 1000.0)
    r.mean_us = sum / (double)s->n / 1000.0;
    r.p50_us = AT(0.5);
    r.p90_us = AT(0.9);
    r.p99_us = AT(0.99);
    r.p999_us = AT(0.999);
    r.max_us = (double)s->ns[s->n - 1] / 1000.0;
#undef AT
    s->n = 0;
    return r;
}

static struct buf report = BUF_INIT; /* the JSON report, built as we go */

static void print_summary(const char *name, const struct summary *r)
{
    printf("  %-44s %9zu  %8.2f %8.2f %8.2f %8.2f %9.2f %9.2f\n", name, r->n, r->mean_us, r->p50_us,
           r->p90_us, r->p99_us, r->p999_us, r->max_us);
    buf_printf(&report,
               "%s{\"name\":\"%s\",\"n\":%zu,\"mean_us\":%.3f,\"p50_us\":%.3f,\"p90_us\":%.3f,"
               "\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f}",
               report.data[report.len - 1] == '[' ? "" : ",", name, r->n, r->mean_us, r->p50_us,
               r->p90_us, r->p99_us, r->p999_us, r->max_us);
}

static void print_header(const char *title)
{
    printf("\n%s\n  %-44s %9s  %8s %8s %8s %8s %9s %9s\n", title, "(microseconds)", "n", "mean",
           "p50", "p90", "p99", "p99.9", "max");
}

/* ---- the three ways to score ----------------------------------------------- */

enum way { NATIVE, DMATRIX, INPLACE, N_WAYS };
static const char *const way_name[N_WAYS] = {"native trees", "C API: DMatrix + PredictFromDMatrix",
                                             "C API: in-place PredictFromDense"};

static const char *const predict_config =
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
    "\"strict_shape\": false}";
static const char *const inplace_config =
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
    "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}";

struct scorer {
    struct model *model;
    BoosterHandle booster;
    int d;
};

/* Scores n rows one of three ways into out. Aborts on an XGBoost error: a
 * benchmark that silently measures a failing call measures nothing. */
static void score(const struct scorer *sc, enum way w, const float *rows, size_t n, float *out)
{
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (w == NATIVE) {
        model_predict(sc->model, rows, n, out);
        return;
    }
    if (w == DMATRIX) {
        DMatrixHandle dm;
        if (XGDMatrixCreateFromMat(rows, (bst_ulong)n, (bst_ulong)sc->d, NAN, &dm) != 0 ||
            XGBoosterPredictFromDMatrix(sc->booster, dm, predict_config, &shape, &dim, &res) != 0)
            die("XGBoost: %s", XGBGetLastError());
        memcpy(out, res, n * sizeof *out);
        XGDMatrixFree(dm);
        return;
    }
    char array[160];
    snprintf(array, sizeof array,
             "{\"data\": [%llu, true], \"shape\": [%zu, %d], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)rows, n, sc->d);
    if (XGBoosterPredictFromDense(sc->booster, array, inplace_config, NULL, &shape, &dim, &res) !=
        0)
        die("XGBoost: %s", XGBGetLastError());
    memcpy(out, res, n * sizeof *out);
}

/* ---- phase 1: replay ---------------------------------------------------------- */

struct replay {
    struct engine_offline *off;
    struct model *model;
    double base_rate;
    int d;
    char *current;
    int sessions, max_sessions;
    float *rows; /* every event's feature row */
    size_t n_rows, cap_rows;
    struct samples features, predict, total, total_clean;
    int64_t risk_sum;
};

static int replay_event(const struct store_event *e, int64_t id, void *arg)
{
    struct replay *r = arg;
    if (!r->current || strcmp(r->current, e->session_id) != 0) {
        if (r->sessions == r->max_sessions)
            return 1; /* enough */
        free(r->current);
        r->current = xstrdup(e->session_id);
        engine_offline_begin(r->off, e->project_id, e->session_id);
        r->sessions++;
    }
    engine_offline_event(r->off, e, id);
    if (r->n_rows == r->cap_rows) {
        r->cap_rows = r->cap_rows ? r->cap_rows * 2 : 65536;
        r->rows = xrealloc(r->rows, r->cap_rows * (size_t)r->d * sizeof *r->rows);
    }
    /* What after_signals() in src/engine/engine.c does with a model: the
     * vector goes to a buffer on the stack, as there; it is kept in rows
     * outside the timed region (writing into that ever-growing array touches
     * a new page every ~20 events, and its page faults are not the model's). */
    float vec[128], p; /* d <= 128: checked at start */
    long sw = switches();
    uint64_t t0 = clock_ns();
    engine_offline_features(r->off, e->timestamp, vec);
    uint64_t t1 = clock_ns();
    model_predict(r->model, vec, 1, &p);
    int risk = engine_risk_from_probability(p, r->base_rate);
    uint64_t t2 = clock_ns();
    memcpy(r->rows + r->n_rows * (size_t)r->d, vec, (size_t)r->d * sizeof vec[0]);
    sample_add(&r->features, t1 - t0);
    sample_add(&r->predict, t2 - t1);
    sample_add(&r->total, t2 - t0);
    if (switches() == sw)
        sample_add(&r->total_clean, t2 - t0);
    r->risk_sum += risk;
    r->n_rows++;
    return 0;
}

/* ---- phase 2: paced ----------------------------------------------------------- */

static void paced(const struct scorer *sc, enum way w, const float *rows, size_t n_rows,
                  double rate, double seconds, struct samples *out, struct samples *clean)
{
    size_t n = (size_t)(rate * seconds);
    double gap_ns = 1e9 / rate;
    uint64_t start = clock_ns() + 1000000;
    float p;
    for (size_t i = 0; i < n; i++) {
        uint64_t due = start + (uint64_t)((double)i * gap_ns);
        while (clock_ns() < due)
            ; /* the engine's worker would be idle or busy elsewhere */
        const float *row = rows + (i % n_rows) * (size_t)sc->d;
        long sw = switches();
        uint64_t t0 = clock_ns();
        score(sc, w, row, 1, &p);
        uint64_t dt = clock_ns() - t0;
        sample_add(out, dt);
        if (switches() == sw)
            sample_add(clean, dt);
    }
}

/* ---- phase 3: batches --------------------------------------------------------- */

struct batch_result {
    double ns_per_event, events_per_s;
    struct summary call;
};

static struct batch_result batched(const struct scorer *sc, enum way w, const float *rows,
                                   size_t n_rows, size_t batch, double seconds, float *out)
{
    struct samples s = {0};
    size_t events = 0, at = 0;
    uint64_t begin = clock_ns(), end = begin + (uint64_t)(seconds * 1e9);
    uint64_t busy = 0;
    while (clock_ns() < end) {
        if (at + batch > n_rows)
            at = 0;
        uint64_t t0 = clock_ns();
        score(sc, w, rows + at * (size_t)sc->d, batch, out);
        uint64_t dt = clock_ns() - t0;
        busy += dt;
        sample_add(&s, dt);
        events += batch;
        at += batch;
    }
    struct batch_result r;
    r.ns_per_event = (double)busy / (double)events;
    r.events_per_s = 1e9 / r.ns_per_event;
    r.call = summarise(&s);
    free(s.ns);
    return r;
}

/* ---- main --------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    struct buf b = BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

int main(int argc, char **argv)
{
    const char *data = NULL, *json_out = NULL;
    int64_t project = 1;
    int max_sessions = 20000;
    double rate = 10000, paced_seconds = 5, batch_seconds = 1.5;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--data") && v)
            data = argv[++i];
        else if (!strcmp(argv[i], "--project") && v)
            project = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--sessions") && v)
            max_sessions = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && v)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--paced-seconds") && v)
            paced_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--batch-seconds") && v)
            batch_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--json") && v)
            json_out = argv[++i];
        else {
            fprintf(stderr,
                    "usage: model_bench --data DIR [--project ID] [--sessions N] [--rate R]\n"
                    "                   [--paced-seconds S] [--batch-seconds S] [--json FILE]\n");
            return 2;
        }
    }
    if (!data || max_sessions <= 0 || !(rate > 0) || !(paced_seconds > 0))
        die("model_bench: --data DIR is required (see the header of bench/model_bench.c)");

    /* The model, natively and in XGBoost, from the same file. */
    char err[512];
    char *path = model_current_path(data);
    struct model *model;
    if (model_load_file(path, &model, err, sizeof err))
        die("model_bench: %s: %s", path, err);
    size_t len;
    char *text = read_file(path, &len);
    struct json_span xgb;
    if (json_object_find(text, len, "xgboost", &xgb) != 1)
        die("model_bench: no xgboost member in %s", path);
    struct scorer sc = {.model = model, .d = model_n_features(model)};
    if (sc.d > 128)
        die("model_bench: %d features; the replay's buffer holds 128", sc.d);
    if (XGBoosterCreate(NULL, 0, &sc.booster) ||
        XGBoosterLoadModelFromBuffer(sc.booster, xgb.p, (bst_ulong)xgb.n) ||
        XGBoosterSetParam(sc.booster, "nthread", "1"))
        die("model_bench: XGBoost: %s", XGBGetLastError());
    free(text);

    struct store *store;
    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = data;
    so.start_writer = false;
    if (store_open(&store, &so, err, sizeof err))
        die("model_bench: %s", err);
    struct store_project proj;
    if (store_project_by_id(store, project, &proj) != 1)
        die("model_bench: no project %lld in %s", (long long)project, data);
    struct replay rp = {
        .off = engine_offline_new(proj.settings_json, err, sizeof err),
        .model = model,
        .base_rate = model_base_rate(model),
        .d = sc.d,
        .max_sessions = max_sessions,
    };
    store_project_clear(&proj);
    if (!rp.off)
        die("model_bench: project settings: %s", err);

    struct samples clock_cost = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t t0 = clock_ns();
        sample_add(&clock_cost, clock_ns() - t0);
    }
    struct summary cc = summarise(&clock_cost);
    printf("model %s: version %d, %d features; XGBoost %s\n", path, model_version(model), sc.d,
           "1.7 C API, nthread 1");
    printf("clock_gettime pair: p50 %.3f us, p99 %.3f us (included in every figure below)\n",
           cc.p50_us, cc.p99_us);
    buf_printf(&report, "{\"model_version\":%d,\"features\":%d,\"clock_p50_us\":%.4f,\"phases\":[",
               model_version(model), sc.d, cc.p50_us);

    /* 1. replay */
    uint64_t t0 = clock_ns();
    if (store_scan_ended_sessions(store, project, now_ms() - 30 * 60 * 1000, replay_event, &rp) < 0)
        die("model_bench: reading the events failed");
    double replay_s = (double)(clock_ns() - t0) / 1e9;
    print_header("1. replay: the model's step after each event of the first sessions (what the "
                 "engine adds per event)");
    size_t n_events = rp.total.n;
    struct summary f = summarise(&rp.features), pr = summarise(&rp.predict),
                   tot = summarise(&rp.total), clean = summarise(&rp.total_clean);
    print_summary("features (engine_features)", &f);
    print_summary("native P(exit) + risk 0-100", &pr);
    print_summary("features + P(exit) + risk: added per event", &tot);
    print_summary("  the same, calls not preempted", &clean);
    printf("  (%.2f%% of calls saw a context switch)\n",
           100.0 * (double)(n_events - clean.n) / (double)(n_events ? n_events : 1));
    printf("  %d sessions, %zu events replayed in %.1f s; mean risk %.1f\n", rp.sessions, rp.n_rows,
           replay_s, (double)rp.risk_sum / (double)(rp.n_rows ? rp.n_rows : 1));
    if (!rp.n_rows)
        die("model_bench: no ended sessions in %s", data);

    /* The same rows, the three ways: do they agree? */
    size_t check = rp.n_rows < 20000 ? rp.n_rows : 20000;
    float *out[N_WAYS];
    for (int w = 0; w < N_WAYS; w++) {
        out[w] = xmalloc((rp.n_rows > 1024 ? rp.n_rows : 1024) * sizeof *out[w]);
        score(&sc, (enum way)w, rp.rows, check, out[w]);
    }
    double worst = 0;
    for (size_t i = 0; i < check; i++)
        for (int w = 1; w < N_WAYS; w++)
            worst = fmax(worst, fabs((double)out[w][i] - (double)out[NATIVE][i]));
    printf("  check: native vs XGBoost on %zu rows, largest |difference| in P(exit): %.2g\n", check,
           worst);

    /* 2. paced */
    char title[160];
    snprintf(title, sizeof title,
             "2. paced: one event every %.0f us (%.0f events/s), one row per call, %.0f s each",
             1e6 / rate, rate, paced_seconds);
    print_header(title);
    struct summary paced_sum[N_WAYS], paced_clean[N_WAYS];
    for (int w = 0; w < N_WAYS; w++) {
        struct samples s = {0}, c = {0};
        paced(&sc, (enum way)w, rp.rows, rp.n_rows, rate, paced_seconds, &s, &c);
        paced_sum[w] = summarise(&s);
        paced_clean[w] = summarise(&c);
        print_summary(way_name[w], &paced_sum[w]);
        char name[80];
        snprintf(name, sizeof name, "  the same, calls not preempted (%.1f%%)",
                 100.0 * (double)paced_clean[w].n / (double)(paced_sum[w].n ? paced_sum[w].n : 1));
        print_summary(name, &paced_clean[w]);
        free(s.ns);
        free(c.ns);
    }
    printf("  C API / native, calls not preempted: DMatrix %.1fx at p50, %.1fx at p99; in-place "
           "%.1fx, %.1fx\n",
           paced_clean[DMATRIX].p50_us / paced_clean[NATIVE].p50_us,
           paced_clean[DMATRIX].p99_us / paced_clean[NATIVE].p99_us,
           paced_clean[INPLACE].p50_us / paced_clean[NATIVE].p50_us,
           paced_clean[INPLACE].p99_us / paced_clean[NATIVE].p99_us);
    buf_puts(&report, "],\"batches\":[");

    /* 3. batches */
    static const size_t sizes[] = {1, 8, 32, 128, 1024};
    printf("\n3. throughput, tight loop, %.1f s per line. ns/event and events/s: all the time in "
           "calls (preemption\n   included); p50 ns/ev: the median call / B (robust on a busy "
           "machine); last column: that against\n   native one row per call. A batch of B fills "
           "in (B - 1) x %.0f us at %.0f events/s.\n",
           batch_seconds, 1e6 / rate, rate);
    printf("  %-36s %6s %10s %10s %11s %10s %10s %10s\n", "", "batch", "ns/event", "events/s",
           "p50 ns/ev", "call p50", "call p99", "fill wait");
    double one_native_p50 = 0;
    for (int w = 0; w < N_WAYS; w++) {
        for (size_t k = 0; k < ARRAY_LEN(sizes); k++) {
            size_t b = sizes[k];
            if (b > rp.n_rows)
                continue;
            struct batch_result r =
                batched(&sc, (enum way)w, rp.rows, rp.n_rows, b, batch_seconds, out[w]);
            double fill_us = (double)(b - 1) * 1e6 / rate;
            double p50_ns = r.call.p50_us * 1000 / (double)b;
            if (w == NATIVE && b == 1)
                one_native_p50 = p50_ns;
            printf("  %-36s %6zu %10.0f %10.0f %11.0f %8.2fus %8.2fus %8.0fus  %5.1fx\n",
                   way_name[w], b, r.ns_per_event, r.events_per_s, p50_ns, r.call.p50_us,
                   r.call.p99_us, fill_us, p50_ns / one_native_p50);
            buf_printf(
                &report,
                "%s{\"way\":\"%s\",\"batch\":%zu,\"ns_per_event\":%.1f,\"events_per_s\":%.0f,"
                "\"call_p50_us\":%.3f,\"call_p99_us\":%.3f,\"fill_wait_us\":%.0f}",
                report.data[report.len - 1] == '[' ? "" : ",", way_name[w], b, r.ns_per_event,
                r.events_per_s, r.call.p50_us, r.call.p99_us, fill_us);
        }
    }
    buf_puts(&report, "],\"explain\":[");

    /* 4. explanations */
    print_header("4. explanation of one score (SHAP contributions, model_explain), per decision");
    struct samples ex = {0};
    float contrib[256];
    for (size_t i = 0; i < 5000 && i < rp.n_rows; i++) {
        uint64_t a = clock_ns();
        if (model_explain(model, rp.rows + i * (size_t)sc.d, contrib))
            die("model_bench: model_explain failed");
        sample_add(&ex, clock_ns() - a);
    }
    struct summary exs = summarise(&ex);
    print_summary("model_explain (one row)", &exs);
    buf_printf(&report,
               "],\"replay\":{\"sessions\":%d,\"events\":%zu,\"features_p50_us\":%.3f,"
               "\"features_p99_us\":%.3f,\"predict_p50_us\":%.3f,\"predict_p99_us\":%.3f,"
               "\"added_p50_us\":%.3f,\"added_p99_us\":%.3f,\"added_p999_us\":%.3f,"
               "\"added_not_preempted_p99_us\":%.3f},"
               "\"paced_rate\":%.0f,\"max_abs_diff\":%.3g}\n",
               rp.sessions, rp.n_rows, f.p50_us, f.p99_us, pr.p50_us, pr.p99_us, tot.p50_us,
               tot.p99_us, tot.p999_us, clean.p99_us, rate, worst);
    /* The paced phases were appended under "phases" with the replay's; fine for readers. */
    if (json_out) {
        FILE *jf = fopen(json_out, "w");
        if (!jf || fwrite(report.data, 1, report.len, jf) != report.len)
            die("model_bench: cannot write %s", json_out);
        fclose(jf);
    }

    for (int w = 0; w < N_WAYS; w++)
        free(out[w]);
    free(rp.rows);
    free(rp.current);
    free(rp.features.ns);
    free(rp.predict.ns);
    free(rp.total.ns);
    free(rp.total_clean.ns);
    free(ex.ns);
    free(clock_cost.ns);
    free(path);
    buf_free(&report);
    engine_offline_free(rp.off);
    store_close(store);
    XGBoosterFree(sc.booster);
    model_free(model);
    return 0;
}
