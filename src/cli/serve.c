/*
 * serve.c - `journey serve`: wire the subsystems together, serve until
 * SIGTERM or SIGINT, then shut down without losing anything acknowledged.
 *
 * Start-up order: store (schema migrated) -> ingest (dedup window and
 * sessions rebuilt from the stored events) -> engine (live sessions rebuilt
 * from the last session_timeout of events) -> agent, live -> HTTP. The first
 * log line is "listening on HOST:PORT" (tests and scripts read the port).
 *
 *   HTTP ──> ingest ──> store writer ──commit hook──> engine workers
 *                                                         │ decisions
 *   browser <── live (WebSocket) <──── deliver hook ──────┤
 *   webhook <── agent (curl)     <──── webhook hook ──────┘
 *
 * Shutdown: stop accepting; close live sockets; let requests in flight
 * finish (their batches are committed and answered; the writer keeps
 * running meanwhile) up to shutdown_timeout; stop HTTP; stop the engine
 * (it writes what its sessions hold); drain and close the store; exit 0.
 */
#include "cli/cli.h"

#include "agent/agent.h"
#include "analytics/analytics.h"
#include "cli/demo.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/engine.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "live/live.h"
#include "model/model.h"
#include "store/store.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: journey serve [--listen HOST:PORT] [--data DIR] [--config FILE] [options]\n\n"
           "Runs the server: the tracking API, the live channel, the analytics API and the\n"
           "dashboard. Logs are JSON lines on stderr; the first says \"listening on HOST:PORT\".\n"
           "SIGTERM or SIGINT stop it gracefully; SIGHUP reloads the model.\n\n");
    cli_print_flags(NULL, 0, true);
}

/* The wiring between subsystems that must not know each other. */
struct wiring {
    struct engine *engine;
    struct live *live;
    struct agent *agent;
    const char *data_dir;
    pthread_mutex_t model_lock;
};

/* Loads DIR/models/current.json into the engine. Returns the version, or
 * < 0 with the reason (the model in use, if any, keeps serving). */
static int reload_model(void *ctx, char *msg, size_t msglen)
{
    struct wiring *w = ctx;
    char *path = model_current_path(w->data_dir);
    pthread_mutex_lock(&w->model_lock);
    struct model *m = NULL;
    int rc;
    if (access(path, F_OK) != 0) {
        snprintf(msg, msglen, "no trained model at %s (run journey train)", path);
        rc = -ENOENT;
    } else if ((rc = model_load_file(path, &m, msg, msglen)) == 0) {
        rc = model_version(m);
        engine_set_model(w->engine, model_for_engine(m));
    }
    pthread_mutex_unlock(&w->model_lock);
    if (rc >= 0)
        LOG_INFO("main", NULL, "exit-risk model version %d loaded from %s", rc, path);
    else if (rc != -ENOENT)
        LOG_ERROR("main", NULL, "model %s refused: %s", path, msg);
    free(path);
    return rc;
}

static int deliver(void *ctx, int64_t project_id, const char *session_id, const char *json,
                   size_t len)
{
    struct wiring *w = ctx;
    return w->live ? live_push(w->live, project_id, session_id, json, len) : 0;
}

static void webhook(void *ctx, int64_t project_id, const char *url, const char *json, size_t len)
{
    struct wiring *w = ctx;
    if (w->agent && agent_post(w->agent, url, json, len))
        LOG_WARN("main", NULL, "project %lld: webhook queue full, call dropped",
                 (long long)project_id);
}

/* A text message from a browser on /v1/live: {"type":"response","id":..,"status":..}. */
static void live_message(void *ctx, int64_t project_id, const char *session_id, const char *text,
                         size_t len)
{
    struct wiring *w = ctx;
    cJSON *msg = cJSON_ParseWithLength(text, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(msg, "status");
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "response") && cJSON_IsString(id) &&
        cJSON_IsString(status) && strlen(id->valuestring) < 64) {
        static const char *const ok[] = {"shown", "accepted", "declined", "dismissed", "escalated"};
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
            if (!strcmp(status->valuestring, ok[i]))
                engine_respond_session(w->engine, project_id, id->valuestring, ok[i], session_id, 0,
                                       NULL, NULL);
    }
    cJSON_Delete(msg);
}

static int reload_project(const struct store_project *p, void *ctx)
{
    engine_reload_project(ctx, p->id);
    return 0;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The web assets directory: the option, else ./web, else next to the binary
 * (build/<mode>/journey -> ../../web). */
static char *find_web_root(const char *configured)
{
    if (configured && *configured)
        return xstrdup(configured);
    if (is_dir("web"))
        return realpath("web", NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *cand = xasprintf("%s/../../web", exe);
            char *real = realpath(cand, NULL);
            free(cand);
            if (real && is_dir(real))
                return real;
            free(real);
        }
    }
    return NULL;
}

int cmd_serve(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
    }
    struct cli_args a;
    if (cli_parse(argc, argv, NULL, 0, &a))
        return 2;
    if (a.n_positional) {
        fprintf(stderr, "journey serve: unexpected argument '%s'\n", a.positional[0]);
        config_free(&a.cfg);
        return 2;
    }
    struct config *cfg = &a.cfg;
    log_set_level((enum log_level)cfg->log_level);

    /* Signals are taken by sigwait in this thread only; every thread created
     * from here on inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    char err[512];
    struct store *store = NULL;
    struct ingest *ingest = NULL;
    struct http_server *srv = NULL;
    struct analytics *analytics = NULL;
    struct wiring wiring = {0};
    pthread_mutex_init(&wiring.model_lock, NULL);
    wiring.data_dir = cfg->data_dir;
    char *web_root = NULL;

    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = cfg->data_dir;
    so.synchronous = (int)cfg->synchronous;
    so.cache_bytes = cfg->sqlite_cache_bytes;
    so.queue_max_messages = cfg->queue_max_messages;
    so.commit_max_messages = cfg->commit_max_messages;
    so.checkpoint_interval_ms = cfg->checkpoint_interval_ms;
    if (store_open(&store, &so, err, sizeof err)) {
        LOG_ERROR("main", NULL, "%s", err);
        goto out;
    }
    struct ingest_config ic = {
        .max_message_bytes = cfg->max_message_bytes,
        .max_request_bytes = cfg->max_request_bytes,
        .max_batch_messages = cfg->max_batch_messages,
        .dedup_window_ms = cfg->dedup_window_ms,
        .dedup_max_entries = cfg->dedup_max_entries,
        .session_timeout_ms = cfg->session_timeout_ms,
        .ip_mode = (int)cfg->ip_mode,
    };
    ingest = ingest_new(store, &ic);
    uint64_t t0 = mono_ns();
    int64_t restored = ingest_restore(ingest, now_ms());
    if (restored < 0) {
        LOG_ERROR("main", NULL, "reading recent events failed");
        goto out;
    }
    double restore_ms = (double)(mono_ns() - t0) / 1e6;

    struct engine_config ec;
    engine_config_defaults(&ec);
    ec.workers = (int)cfg->engine_workers;
    ec.queue_max_events = (size_t)cfg->engine_queue_events;
    ec.session_timeout_ms = cfg->session_timeout_ms;
    ec.flush_interval_ms = cfg->engine_flush_interval_ms;
    ec.tick_interval_ms = cfg->engine_tick_interval_ms;
    ec.session_write_interval_ms = cfg->session_write_interval_ms;
    struct engine_hooks hooks = {deliver, webhook, &wiring};
    wiring.engine = engine_new(&ec, store, &hooks);
    char model_msg[400];
    int model_rc = reload_model(&wiring, model_msg, sizeof model_msg); /* before the replay */
    t0 = mono_ns();
    int64_t replayed = engine_restore(wiring.engine, now_ms());
    if (replayed < 0) {
        LOG_ERROR("main", NULL, "rebuilding live sessions failed");
        goto out;
    }
    double engine_ms = (double)(mono_ns() - t0) / 1e6;
    if (engine_start(wiring.engine)) {
        LOG_ERROR("main", NULL, "cannot start the engine workers");
        goto out;
    }
    ingest_add_commit_hook(ingest, engine_submit, wiring.engine);
    /* The analytics column store loads the stored events on its own thread
     * while the server already serves (reports answer 503 until then);
     * events committed meanwhile wait in its queue. */
    struct analytics_config ac;
    analytics_config_defaults(&ac);
    ac.queue_max_events = (size_t)cfg->analytics_queue_events;
    ac.session_timeout_ms = cfg->session_timeout_ms;
    analytics = analytics_new(&ac, store);
    ingest_add_commit_hook(ingest, analytics_submit, analytics);
    wiring.agent = agent_new(cfg->webhook_timeout_ms, 10000);
    struct live_config lc;
    live_config_defaults(&lc);
    lc.ping_interval_ms = cfg->live_ping_interval_ms;
    lc.idle_timeout_ms = cfg->live_idle_timeout_ms;
    lc.max_queued_messages = (size_t)cfg->live_max_queued;
    wiring.live = live_new(&lc, live_message, &wiring);

    struct demo_project demo = {0};
    if (cfg->demo && demo_project_ensure(store, cfg->data_dir, &demo)) {
        LOG_ERROR("main", NULL, "cannot create the demo project");
        goto out;
    }
    web_root = find_web_root(cfg->web_root);

    struct http_deps deps = {
        .cfg = cfg,
        .store = store,
        .ingest = ingest,
        .engine = wiring.engine,
        .live = wiring.live,
        .analytics = analytics,
        .web_root = web_root,
        .demo_project_id = demo.id,
        .reload_model = reload_model,
        .reload_ctx = &wiring,
    };
    if (http_server_start(&srv, &deps, err, sizeof err)) {
        LOG_ERROR("main", NULL, "%s", err);
        goto out;
    }
    {
        char extra[160];
        snprintf(extra, sizeof extra, "\"address\":\"%s\",\"port\":%u", http_server_address(srv),
                 http_server_port(srv));
        log_write(LOG_LEVEL_INFO, "main", NULL, extra, "listening on %s", http_server_address(srv));
        /* Started after that line, which must come first (its own log
         * line says when the store is loaded). */
        if (analytics_start(analytics)) {
            LOG_ERROR("main", NULL, "cannot start the analytics thread");
            goto out;
        }
        snprintf(extra, sizeof extra,
                 "\"restored_events\":%lld,\"restore_ms\":%.1f,\"dedup_entries\":%zu,"
                 "\"engine_replayed\":%lld,\"engine_restore_ms\":%.1f,\"model_version\":%d",
                 (long long)restored, restore_ms, ingest_dedup_size(ingest), (long long)replayed,
                 engine_ms, model_rc > 0 ? model_rc : 0);
        log_write(LOG_LEVEL_INFO, "main", NULL, extra, "ready (data %s, version %s)", cfg->data_dir,
                  JOURNEY_VERSION);
    }

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            int n = store_projects_list(store, reload_project, wiring.engine);
            LOG_INFO("main", NULL, "SIGHUP: project settings reloaded (%d)", n);
            char msg[400];
            reload_model(&wiring, msg, sizeof msg);
            continue;
        }
        LOG_INFO("main", NULL, "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    http_server_quiesce(srv);
    /* Open WebSockets first: they are upgraded MHD connections. */
    live_free(wiring.live);
    wiring.live = NULL;
    /* Event streams end; reports in progress are answered. */
    http_server_end_streams(srv);
    /* Requests still uploading get until the deadline; requests waiting for
     * a commit are always waited for (the writer runs until store_close, so
     * they finish), because the writer's completion touches them. */
    uint64_t deadline = mono_ns() + (uint64_t)cfg->shutdown_timeout_ms * 1000000u;
    while ((http_server_active(srv) > 0 && mono_ns() < deadline) ||
           http_server_suspended(srv) > 0) {
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (http_server_active(srv) > 0)
        LOG_WARN("main", NULL, "%ld requests still open at the shutdown deadline",
                 http_server_active(srv));
    rc = 0;
out:
    live_free(wiring.live);
    http_server_stop(srv);
    ingest_clear_commit_hooks(ingest);
    engine_free(wiring.engine); /* writes what its sessions still hold */
    analytics_free(analytics);
    agent_free(wiring.agent, 2000);
    store_close(store); /* commits and completes anything still queued */
    ingest_free(ingest);
    free(web_root);
    pthread_mutex_destroy(&wiring.model_lock);
    if (rc == 0)
        LOG_INFO("main", NULL, "stopped");
    config_free(cfg);
    return rc;
}
