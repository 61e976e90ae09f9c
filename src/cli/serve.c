/*
 * serve.c - `journey serve`: wire the subsystems together, serve until
 * SIGTERM or SIGINT, then shut down without losing anything acknowledged.
 *
 * Start-up order: store (schema migrated) -> ingest (dedup window and
 * sessions rebuilt from the stored events) -> HTTP. The first log line is
 * "listening on HOST:PORT" (tests and scripts read the port from it).
 *
 * Shutdown: stop accepting; let requests in flight finish (their batches are
 * committed and answered; the writer keeps running meanwhile) up to
 * shutdown_timeout; stop HTTP; drain and close the store; exit 0.
 */
#include "cli/cli.h"

#include "cli/demo.h"
#include "common/log.h"
#include "common/util.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "store/store.h"

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
        .web_root = web_root,
        .demo_project_id = demo.id,
    };
    if (http_server_start(&srv, &deps, err, sizeof err)) {
        LOG_ERROR("main", NULL, "%s", err);
        goto out;
    }
    {
        char extra[160];
        snprintf(extra, sizeof extra, "\"address\":\"%s\",\"port\":%u",
                 http_server_address(srv), http_server_port(srv));
        log_write(LOG_LEVEL_INFO, "main", NULL, extra, "listening on %s",
                  http_server_address(srv));
        snprintf(extra, sizeof extra,
                 "\"restored_events\":%lld,\"restore_ms\":%.1f,\"dedup_entries\":%zu",
                 (long long)restored, restore_ms, ingest_dedup_size(ingest));
        log_write(LOG_LEVEL_INFO, "main", NULL, extra, "ready (data %s, version %s)",
                  cfg->data_dir, JOURNEY_VERSION);
    }

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            LOG_INFO("main", NULL, "SIGHUP: nothing to reload yet");
            continue;
        }
        LOG_INFO("main", NULL, "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    http_server_quiesce(srv);
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
    http_server_stop(srv);
    store_close(store); /* commits and completes anything still queued */
    ingest_free(ingest);
    free(web_root);
    if (rc == 0)
        LOG_INFO("main", NULL, "stopped");
    config_free(cfg);
    return rc;
}
