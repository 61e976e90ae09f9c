/*
 * simulate.c - `journey simulate`: visitors of the demo loan site (src/sim/),
 * written to a data directory, sent to a running server, or printed.
 *
 *   --data DIR   in-process: the events go through the ingest pipeline and
 *                the engine exactly as a server would take them (validation,
 *                dedup, sessions, detectors, risk, decisions, holdout), with
 *                each event received when it happened. A visitor who was
 *                shown an intervention (not held out) converts with
 *                probability p_convert + --intervention-effect, so the
 *                uplift report has a known answer. History for the
 *                dashboards and for `journey train`.
 *   --url URL    over HTTP to a running server (/v1/batch with the write
 *                key), at --rate messages per second over --concurrency
 *                connections. Load for benchmarks; no intervention effect.
 *   --out FILE   the messages as NDJSON (- for stdout); --truth FILE the
 *                per-session truth as CSV.
 *
 * docs/simulator.md describes the visitors and the outcome function.
 */
#include "cli/cli.h"

#include "cli/demo.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "common/util.h"
#include "engine/engine.h"
#include "ingest/ingest.h"
#include "sim/sim.h"
#include "store/store.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000LL
#define WAVE 256

static void usage(void)
{
    printf("usage: journey simulate [--sessions N] [--days D] [--seed S] [--end TIME]\n"
           "         (--data DIR [--project ID|NAME|demo] [--intervention-effect E] [--no-engine]\n"
           "          | --url http://127.0.0.1:PORT --write-key KEY [--rate N] [--concurrency C]\n"
           "          | --out FILE|- [--truth FILE])\n\n"
           "Visitors of the demo loan site (six personas, docs/simulator.md), as journey.js would\n"
           "report them. Sessions start over the D days before --end (default: now), with a daily\n"
           "and weekly rhythm.\n\n"
           "--data   in-process through the ingest pipeline and the engine (a server must not be\n"
           "         running on DIR). Visitors shown an intervention convert with probability\n"
           "         p_convert + E (default 0.10); held-out visitors with p_convert.\n"
           "--url    to a running server over HTTP at N messages/s (0: as fast as it takes them).\n"
           "--out    the messages as NDJSON; --truth the per-session truth as CSV.\n\n");
}

struct opts {
    uint64_t sessions, seed;
    double days, effect, rate;
    int64_t end_ms;
    int concurrency;
    const char *url, *write_key, *out, *truth, *project, *host, *mix;
    bool no_engine;
};

/* ---- the truth file ------------------------------------------------------------- */

static void truth_header(FILE *f)
{
    if (f)
        fputs("index,session_id,anonymous_id,persona,start,p_convert,u,treated,converted\n", f);
}

static void truth_row(FILE *f, const struct sim_session *ss, bool treated, bool converted)
{
    if (f)
        fprintf(f, "%llu,%s,%s,%s,%lld,%.6f,%.6f,%d,%d\n", (unsigned long long)ss->index,
                ss->session_id, ss->anonymous_id, ss->persona, (long long)ss->start_ms,
                ss->p_convert, ss->u, treated, converted);
}

/* ---- --out ---------------------------------------------------------------------- */

static int run_out(const struct opts *o, struct sim *sim, FILE *truth)
{
    FILE *f = strcmp(o->out, "-") ? fopen(o->out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "journey simulate: cannot write %s\n", o->out);
        return 1;
    }
    struct sim_session ss = {0};
    uint64_t messages = 0;
    for (uint64_t i = 0; i < o->sessions; i++) {
        sim_next_session(sim, &ss);
        bool converts = sim_converts(&ss, false, 0);
        for (size_t k = 0; k < ss.n_behaviour; k++)
            fprintf(f, "%s\n", ss.behaviour[k].json);
        const struct sim_message *end = converts ? ss.convert : ss.leave;
        size_t n_end = converts ? ss.n_convert : ss.n_leave;
        for (size_t k = 0; k < n_end; k++)
            fprintf(f, "%s\n", end[k].json);
        messages += ss.n_behaviour + n_end;
        truth_row(truth, &ss, false, converts);
    }
    sim_session_clear(&ss);
    if (f != stdout)
        fclose(f);
    fprintf(stderr, "%llu sessions, %llu messages\n", (unsigned long long)o->sessions,
            (unsigned long long)messages);
    return 0;
}

/* ---- --url ---------------------------------------------------------------------- */

struct http_run {
    const struct opts *o;
    struct sim_config cfg;
    atomic_uint_fast64_t sent, failed, next_session;
    pthread_mutex_t rate_lock;
    double tokens;
    uint64_t last_ns;
    char error[256];
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* Waits until n messages may go out at the configured rate. */
static void rate_wait(struct http_run *r, size_t n)
{
    if (r->o->rate <= 0)
        return;
    for (;;) {
        pthread_mutex_lock(&r->rate_lock);
        uint64_t now = mono_ns();
        r->tokens += (double)(now - r->last_ns) / 1e9 * r->o->rate;
        double cap = r->o->rate / 10 + (double)n; /* at most 100 ms of burst */
        if (r->tokens > cap)
            r->tokens = cap;
        r->last_ns = now;
        if (r->tokens >= (double)n) {
            r->tokens -= (double)n;
            pthread_mutex_unlock(&r->rate_lock);
            return;
        }
        double wait_s = ((double)n - r->tokens) / r->o->rate;
        pthread_mutex_unlock(&r->rate_lock);
        struct timespec ts = {(time_t)wait_s, (long)((wait_s - floor(wait_s)) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int post_batch(struct http_run *r, CURL *c, const char *url, struct buf *body)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
    for (int attempt = 0; attempt < 5; attempt++) {
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK && status == 200)
            return 0;
        if (rc == CURLE_OK && status != 503 && status != 429) {
            snprintf(r->error, sizeof r->error, "the server answered %ld", status);
            return -1;
        }
        if (rc != CURLE_OK)
            snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(rc));
        struct timespec ts = {0, 200000000L << (attempt > 2 ? 2 : attempt)};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void *http_worker(void *arg)
{
    struct http_run *r = arg;
    const struct opts *o = r->o;
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_USERNAME, o->write_key);
    curl_easy_setopt(c, CURLOPT_PASSWORD, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    char *url = xasprintf("%s/v1/batch", o->url);
    /* Each worker generates its own share: one generator per thread. */
    struct sim_config cfg = r->cfg;
    uint64_t me = atomic_fetch_add(&r->next_session, 1);
    cfg.seed = r->cfg.seed * 1000003ull + me;
    cfg.n_sessions = (o->sessions + (uint64_t)o->concurrency - 1) / (uint64_t)o->concurrency;
    struct sim *sim = sim_new(&cfg);
    struct sim_session ss = {0};
    struct buf body = BUF_INIT;
    for (uint64_t i = me; sim && i < o->sessions; i += (uint64_t)o->concurrency) {
        sim_next_session(sim, &ss);
        bool converts = sim_converts(&ss, false, 0);
        const struct sim_message *end = converts ? ss.convert : ss.leave;
        size_t n_end = converts ? ss.n_convert : ss.n_leave;
        size_t total = ss.n_behaviour + n_end;
        /* batches of up to 20 messages, as a browser's tracker would flush them */
        for (size_t k = 0; k < total;) {
            size_t n = total - k < 20 ? total - k : 20;
            buf_reset(&body);
            buf_puts(&body, "{\"batch\":[");
            for (size_t m = 0; m < n; m++) {
                const struct sim_message *msg =
                    k + m < ss.n_behaviour ? &ss.behaviour[k + m] : &end[k + m - ss.n_behaviour];
                if (m)
                    buf_putc(&body, ',');
                buf_puts(&body, msg->json);
            }
            buf_puts(&body, "]}");
            rate_wait(r, n);
            if (post_batch(r, c, url, &body))
                atomic_fetch_add(&r->failed, n);
            else
                atomic_fetch_add(&r->sent, n);
            k += n;
        }
    }
    sim_session_clear(&ss);
    sim_free(sim);
    buf_free(&body);
    free(url);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return NULL;
}

static int run_http(const struct opts *o, const struct sim_config *cfg)
{
    struct http_run r = {.o = o, .cfg = *cfg};
    pthread_mutex_init(&r.rate_lock, NULL);
    r.last_ns = mono_ns();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t *t = xcalloc((size_t)o->concurrency, sizeof *t);
    uint64_t t0 = mono_ns();
    for (int i = 0; i < o->concurrency; i++)
        pthread_create(&t[i], NULL, http_worker, &r);
    for (int i = 0; i < o->concurrency; i++)
        pthread_join(t[i], NULL);
    double secs = (double)(mono_ns() - t0) / 1e9;
    free(t);
    curl_global_cleanup();
    pthread_mutex_destroy(&r.rate_lock);
    uint64_t sent = atomic_load(&r.sent), failed = atomic_load(&r.failed);
    printf("{\"sessions\":%llu,\"messages_sent\":%llu,\"messages_failed\":%llu,\"seconds\":%.2f,"
           "\"messages_per_second\":%.0f}\n",
           (unsigned long long)o->sessions, (unsigned long long)sent,
           (unsigned long long)failed, secs, secs > 0 ? (double)sent / secs : 0);
    if (failed)
        fprintf(stderr, "journey simulate: %llu messages not accepted: %s\n",
                (unsigned long long)failed, r.error);
    return failed ? 1 : 0;
}

/* ---- --data ---------------------------------------------------------------------- */

/* Decisions the engine delivered (treated, not held out), by session. */
struct decided {
    pthread_mutex_t lock;
    struct {
        char session[48];
        char id[64];
    } *items;
    size_t n, cap;
};

static int record_delivery(void *ctx, int64_t project_id, const char *session_id,
                           const char *json, size_t len)
{
    (void)project_id;
    struct decided *d = ctx;
    cJSON *msg = cJSON_ParseWithLength(json, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    if (cJSON_IsString(id)) {
        pthread_mutex_lock(&d->lock);
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 256;
            d->items = xrealloc(d->items, d->cap * sizeof *d->items);
        }
        snprintf(d->items[d->n].session, sizeof d->items[d->n].session, "%s", session_id);
        snprintf(d->items[d->n].id, sizeof d->items[d->n].id, "%s", id->valuestring);
        d->n++;
        pthread_mutex_unlock(&d->lock);
    }
    cJSON_Delete(msg);
    return 0; /* no browser took it: it stays pending until the visitor "answers" below */
}

static const char *decided_id(struct decided *d, const char *session)
{
    const char *found = NULL;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n && !found; i++)
        if (!strcmp(d->items[i].session, session))
            found = d->items[i].id;
    pthread_mutex_unlock(&d->lock);
    return found;
}

struct inflight {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    int failed;
    size_t stored, rejected;
};

static void batch_done(struct ingest_batch *b, int rc, void *arg)
{
    struct inflight *f = arg;
    struct ingest_counts c;
    ingest_batch_counts(b, &c);
    pthread_mutex_lock(&f->lock);
    f->n--;
    if (rc < 0)
        f->failed++;
    f->stored += c.accepted;
    f->rejected += c.rejected;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    ingest_batch_free(b);
}

/* Queues one batch of messages, received when the last of them happened. */
static int submit(struct ingest *ig, int64_t project_id, const struct sim_message *msgs, size_t n,
                  struct inflight *f)
{
    if (!n)
        return 0;
    struct ingest_request req = {.format = INGEST_FORMAT_SEGMENT,
                                 .type = INGEST_TYPE_FROM_BODY,
                                 .batch = true,
                                 .route = "journey simulate",
                                 .user_agent = NULL,
                                 .received_at = msgs[n - 1].ts + 50};
    struct ingest_batch *b = ingest_batch_new(ig, &req);
    struct buf body = BUF_INIT;
    buf_puts(&body, "{\"batch\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(&body, ',');
        buf_puts(&body, msgs[i].json);
    }
    buf_puts(&body, "]}");
    struct ingest_error err = {0};
    if (ingest_batch_decode_take(b, &body, &err) || ingest_batch_parse(b, &err)) {
        fprintf(stderr, "journey simulate: a generated batch was refused: %s\n", err.message);
        buf_free(&body);
        ingest_batch_free(b);
        return -1;
    }
    buf_free(&body);
    ingest_batch_normalize(b, project_id);
    pthread_mutex_lock(&f->lock);
    f->n++;
    pthread_mutex_unlock(&f->lock);
    for (;;) {
        int rc = ingest_batch_submit(b, batch_done, f);
        if (rc == 0)
            return 0;
        if (rc != -EAGAIN) {
            pthread_mutex_lock(&f->lock);
            f->n--;
            pthread_mutex_unlock(&f->lock);
            ingest_batch_free(b);
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void wait_inflight(struct inflight *f)
{
    pthread_mutex_lock(&f->lock);
    while (f->n > 0)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
}

struct find_project {
    const char *name;
    int64_t id;
};

static int match_project(const struct store_project *p, void *arg)
{
    struct find_project *f = arg;
    if (!strcmp(p->name, f->name))
        f->id = p->id;
    return 0;
}

static int64_t resolve_project(struct store *store, const char *data_dir, const char *project)
{
    uint64_t v;
    if (!project || !strcmp(project, "demo")) {
        struct demo_project demo;
        if (demo_project_ensure(store, data_dir, &demo))
            return -1;
        return demo.id;
    }
    if (!parse_u64(project, INT64_MAX, &v)) {
        struct store_project p;
        if (store_project_by_id(store, (int64_t)v, &p) == 1) {
            store_project_clear(&p);
            return (int64_t)v;
        }
        return 0;
    }
    struct find_project f = {project, 0};
    store_projects_list(store, match_project, &f);
    return f.id;
}

static int run_data(const struct opts *o, struct config *cfg, struct sim *sim, FILE *truth)
{
    int rc = 1;
    char err[512];
    struct store *store = NULL;
    struct ingest *ig = NULL;
    struct engine *eng = NULL;
    struct decided dec = {0};
    pthread_mutex_init(&dec.lock, NULL);
    struct inflight f = {0};
    pthread_mutex_init(&f.lock, NULL);
    pthread_cond_init(&f.cond, NULL);

    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = cfg->data_dir;
    so.synchronous = 1; /* normal: a bulk import; a crash midway means running it again */
    so.cache_bytes = cfg->sqlite_cache_bytes;
    so.queue_max_messages = cfg->queue_max_messages;
    so.commit_max_messages = cfg->commit_max_messages;
    so.checkpoint_interval_ms = cfg->checkpoint_interval_ms;
    if (store_open(&store, &so, err, sizeof err)) {
        fprintf(stderr, "journey simulate: %s\n", err);
        goto out;
    }
    int64_t project_id = resolve_project(store, cfg->data_dir, o->project);
    if (project_id <= 0) {
        fprintf(stderr, "journey simulate: no project %s in %s\n", o->project ? o->project : "",
                cfg->data_dir);
        goto out;
    }
    struct ingest_config ic = {
        .max_message_bytes = cfg->max_message_bytes,
        .max_request_bytes = 64 << 20,
        .max_batch_messages = 100000,
        .dedup_window_ms = cfg->dedup_window_ms,
        .dedup_max_entries = cfg->dedup_max_entries,
        .session_timeout_ms = cfg->session_timeout_ms,
        .ip_mode = (int)cfg->ip_mode,
    };
    ig = ingest_new(store, &ic);
    if (ingest_restore(ig, now_ms()) < 0) {
        fprintf(stderr, "journey simulate: reading the stored events failed\n");
        goto out;
    }
    if (!o->no_engine) {
        struct engine_config ec;
        engine_config_defaults(&ec);
        ec.workers = (int)cfg->engine_workers;
        ec.queue_max_events = 10000000; /* an import waits for nothing; keep everything */
        ec.session_timeout_ms = cfg->session_timeout_ms;
        struct engine_hooks hooks = {record_delivery, NULL, &dec};
        eng = engine_new(&ec, store, &hooks);
        if (engine_restore(eng, now_ms()) < 0 || engine_start(eng)) {
            fprintf(stderr, "journey simulate: the engine did not start\n");
            goto out;
        }
        ingest_add_commit_hook(ig, engine_submit, eng);
    }
    uint64_t t0 = mono_ns();
    struct sim_session *wave = xcalloc(WAVE, sizeof *wave);
    uint64_t done = 0, converted = 0, treated_n = 0, treated_conv = 0, messages = 0;
    while (done < o->sessions) {
        size_t n = o->sessions - done < WAVE ? (size_t)(o->sessions - done) : WAVE;
        for (size_t i = 0; i < n; i++) {
            sim_next_session(sim, &wave[i]);
            if (submit(ig, project_id, wave[i].behaviour, wave[i].n_behaviour, &f))
                goto wave_out;
            messages += wave[i].n_behaviour;
        }
        wait_inflight(&f);
        if (eng)
            engine_sync(eng);
        for (size_t i = 0; i < n; i++) {
            struct sim_session *ss = &wave[i];
            const char *iv = eng ? decided_id(&dec, ss->session_id) : NULL;
            bool treated = iv != NULL;
            bool converts = sim_converts(ss, treated, o->effect);
            const struct sim_message *end = converts ? ss->convert : ss->leave;
            size_t n_end = converts ? ss->n_convert : ss->n_leave;
            if (submit(ig, project_id, end, n_end, &f))
                goto wave_out;
            messages += n_end;
            converted += converts;
            treated_n += treated;
            treated_conv += treated && converts;
            if (iv) {
                /* The visitor saw it a moment after the decision, and answered. */
                int64_t at = ss->n_behaviour ? ss->behaviour[ss->n_behaviour - 1].ts : ss->start_ms;
                char id[64];
                snprintf(id, sizeof id, "%s", iv);
                engine_respond_at(eng, project_id, id, "delivered", at + 300, NULL, NULL);
                engine_respond_at(eng, project_id, id, "shown", at + 800, NULL, NULL);
                const char *answer = converts ? "accepted" : (ss->u < 0.7 ? "declined" : "dismissed");
                engine_respond_at(eng, project_id, id, answer, at + 6000, NULL, NULL);
            }
            truth_row(truth, ss, treated, converts);
        }
        wait_inflight(&f);
        pthread_mutex_lock(&dec.lock);
        dec.n = 0; /* sessions do not span waves */
        pthread_mutex_unlock(&dec.lock);
        done += n;
        if (done % (WAVE * 40) == 0 || done == o->sessions)
            fprintf(stderr, "\r%llu / %llu sessions", (unsigned long long)done,
                    (unsigned long long)o->sessions);
    }
    fprintf(stderr, "\n");
    rc = 0;
wave_out:
    for (size_t i = 0; i < WAVE; i++)
        sim_session_clear(&wave[i]);
    free(wave);
    wait_inflight(&f);
    if (eng)
        engine_sync(eng);
    if (rc == 0) {
        double secs = (double)(mono_ns() - t0) / 1e9;
        printf("{\"project_id\":%lld,\"sessions\":%llu,\"messages\":%llu,\"stored\":%zu,"
               "\"rejected\":%zu,\"converted\":%llu,\"treated\":%llu,\"treated_converted\":%llu,"
               "\"seconds\":%.1f,\"messages_per_second\":%.0f}\n",
               (long long)project_id, (unsigned long long)o->sessions,
               (unsigned long long)messages, f.stored, f.rejected, (unsigned long long)converted,
               (unsigned long long)treated_n, (unsigned long long)treated_conv, secs,
               secs > 0 ? (double)messages / secs : 0);
    }
out:
    if (ig)
        ingest_clear_commit_hooks(ig);
    engine_free(eng); /* writes every session it holds */
    store_close(store);
    ingest_free(ig);
    free(dec.items);
    pthread_mutex_destroy(&dec.lock);
    pthread_mutex_destroy(&f.lock);
    pthread_cond_destroy(&f.cond);
    return rc;
}

/* ---- the command ------------------------------------------------------------------- */

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* "name=weight,name=weight": the personas not named weigh 0. */
static int parse_mix(const char *text, double *mix)
{
    for (int i = 0; i < SIM_PERSONA_COUNT; i++)
        mix[i] = 0;
    char *copy = xstrdup(text), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int which = -1;
        if (eq) {
            *eq = '\0';
            for (int i = 0; i < SIM_PERSONA_COUNT; i++)
                if (!strcmp(tok, sim_persona_name((enum sim_persona)i)))
                    which = i;
        }
        double w;
        if (which < 0 || parse_double(eq + 1, 0, 1e6, &w)) {
            fprintf(stderr, "journey simulate: --mix: '%s' is not persona=weight (personas:", tok);
            for (int i = 0; i < SIM_PERSONA_COUNT; i++)
                fprintf(stderr, " %s", sim_persona_name((enum sim_persona)i));
            fprintf(stderr, ")\n");
            rc = -1;
        } else {
            mix[which] = w;
        }
    }
    free(copy);
    return rc;
}

int cmd_simulate(int argc, char **argv)
{
    const char *sessions = NULL, *days = NULL, *seed = NULL, *end = NULL, *effect = NULL,
               *rate = NULL, *conc = NULL;
    struct opts o = {.sessions = 1000, .seed = 1, .days = 7, .effect = 0.10, .concurrency = 4};
    bool help = false;
    struct cli_flag flags[] = {
        {"sessions", &sessions, NULL, "how many sessions (1000)"},
        {"days", &days, NULL, "sessions start over this many days before --end (7)"},
        {"end", &end, NULL, "the end of the range: an ISO date-time or now (now)"},
        {"seed", &seed, NULL, "the same seed gives the same visitors (1)"},
        {"project", &o.project, NULL, "--data: project id, name or demo (demo)"},
        {"intervention-effect", &effect, NULL,
         "--data: added to P(convert) of visitors shown an intervention (0.10)"},
        {"no-engine", NULL, &o.no_engine, "--data: store events only (faster; no sessions)"},
        {"url", &o.url, NULL, "send to this server over HTTP"},
        {"write-key", &o.write_key, NULL, "--url: the project's write key"},
        {"rate", &rate, NULL, "--url: messages per second (0: as fast as accepted)"},
        {"concurrency", &conc, NULL, "--url: parallel connections (4)"},
        {"out", &o.out, NULL, "write the messages as NDJSON to FILE (- for stdout)"},
        {"truth", &o.truth, NULL, "write each session's truth as CSV to FILE"},
        {"host", &o.host, NULL, "the site's origin in page URLs (http://127.0.0.1:8080)"},
        {"mix", &o.mix, NULL,
         "persona weights, e.g. bouncer=70,decisive_buyer=30 (default 15/20/20/15/10/20 %)"},
        {"help", NULL, &help, "this help"},
    };
    struct cli_args a;
    if (cli_parse(argc, argv, flags, (int)ARRAY_LEN(flags), &a))
        return 2;
    if (help) {
        usage();
        cli_print_flags(flags, (int)ARRAY_LEN(flags), true);
        config_free(&a.cfg);
        return 0;
    }
    log_set_level((enum log_level)a.cfg.log_level);
    int rc = 2;
    uint64_t v;
    double d;
    if (sessions && (parse_u64(sessions, 100000000, &v) || v == 0)) {
        fprintf(stderr, "journey simulate: --sessions must be 1 to 100000000\n");
        goto out;
    }
    if (sessions)
        o.sessions = v;
    if (seed && parse_u64(seed, UINT64_MAX, &o.seed)) {
        fprintf(stderr, "journey simulate: --seed must be a whole number\n");
        goto out;
    }
    if (days && parse_double(days, 0.001, 3650, &o.days)) {
        fprintf(stderr, "journey simulate: --days must be from 0.001 to 3650\n");
        goto out;
    }
    if (effect && parse_double(effect, -1, 1, &o.effect)) {
        fprintf(stderr, "journey simulate: --intervention-effect must be from -1 to 1\n");
        goto out;
    }
    if (rate && parse_double(rate, 0, 1e9, &o.rate)) {
        fprintf(stderr, "journey simulate: --rate must be 0 or more\n");
        goto out;
    }
    if (conc && (parse_double(conc, 1, 1024, &d) || d != floor(d))) {
        fprintf(stderr, "journey simulate: --concurrency must be 1 to 1024\n");
        goto out;
    }
    if (conc)
        o.concurrency = (int)d;
    o.end_ms = now_ms();
    if (end && strcmp(end, "now") && timefmt_parse_iso(end, strlen(end), &o.end_ms)) {
        fprintf(stderr, "journey simulate: --end must be an ISO date-time or now\n");
        goto out;
    }
    int modes = (o.url != NULL) + (o.out != NULL);
    if (modes > 1 || (o.url && !o.write_key)) {
        fprintf(stderr, "journey simulate: choose one of --data, --url (with --write-key) or "
                        "--out\n");
        goto out;
    }
    struct sim_config cfg;
    sim_config_init(&cfg);
    cfg.seed = o.seed;
    cfg.end_ms = o.end_ms;
    cfg.start_ms = o.end_ms - (int64_t)(o.days * (double)DAY_MS);
    cfg.n_sessions = o.sessions;
    if (o.host)
        cfg.host = o.host;
    if (o.mix && parse_mix(o.mix, cfg.persona_mix))
        goto out;
    const char *why = sim_config_error(&cfg);
    if (why) {
        fprintf(stderr, "journey simulate: %s\n", why);
        goto out;
    }
    FILE *truth = NULL;
    if (o.truth && !(truth = fopen(o.truth, "w"))) {
        fprintf(stderr, "journey simulate: cannot write %s\n", o.truth);
        goto out;
    }
    truth_header(truth);
    if (o.url) {
        rc = run_http(&o, &cfg);
    } else {
        struct sim *sim = sim_new(&cfg);
        rc = o.out ? run_out(&o, sim, truth) : run_data(&o, &a.cfg, sim, truth);
        sim_free(sim);
    }
    if (truth)
        fclose(truth);
out:
    config_free(&a.cfg);
    return rc;
}
