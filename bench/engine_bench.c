/*
 * engine_bench.c - the engine on its own: events per second per worker
 * (core), and memory per live session.
 *
 *   build/release/bench/engine_bench [--workers N] [--sessions N] [--events-per-session N]
 *
 * It opens a real store in a temporary directory (the engine writes its
 * session rows, signals and decisions there as in production), then plays
 * synthetic sessions shaped like the demo site's traffic (page views,
 * clicks, scrolls, field changes, submits; a share of them struggling) into
 * engine_submit() from this thread, exactly as the store's writer thread
 * does after a commit, and waits until the workers processed everything.
 *
 * Printed: events/s in total and per worker, and, with every session still
 * live, the engine's own accounting of session memory (session_bytes /
 * live_sessions) beside the process's RSS growth per session.
 */
#include "common/util.h"
#include "engine/engine.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct gen {
    struct store_event ev;
    char session[48], anon[48], payload[600], path[32], event[32];
};

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Fills g with event k of session s. */
static void make_event(struct gen *g, int s, int k, int64_t t0, bool struggler)
{
    static const char *const pages[] = {"/demo/", "/demo/calculator.html", "/demo/rates.html",
                                        "/demo/apply.html", "/demo/faq.html"};
    memset(&g->ev, 0, sizeof g->ev);
    snprintf(g->session, sizeof g->session, "bench-%d", s);
    snprintf(g->anon, sizeof g->anon, "anon-%d", s);
    int64_t ts = t0 + (int64_t)k * 700;
    const char *path = pages[(s + k / 6) % 5];
    snprintf(g->path, sizeof g->path, "%s", path);
    const char *type = "track";
    const char *props;
    char tmp[400];
    switch (k % 6) {
    case 0:
        type = "page";
        snprintf(g->event, sizeof g->event, "Page");
        snprintf(tmp, sizeof tmp, "{\"path\":\"%s\",\"url\":\"http://x.test%s\"}", path, path);
        break;
    case 1:
        snprintf(g->event, sizeof g->event, "$click");
        snprintf(tmp, sizeof tmp,
                 "{\"selector\":\"#btn-%d\",\"x\":%d,\"y\":%d,\"interactive\":true,"
                 "\"disabled\":%s,\"tag\":\"button\"}",
                 k % 3, struggler ? 200 : (int)(next_rand() % 900),
                 struggler ? 300 : (int)(next_rand() % 700), struggler ? "true" : "false");
        break;
    case 2:
        snprintf(g->event, sizeof g->event, "$scroll");
        snprintf(tmp, sizeof tmp, "{\"depth\":%d,\"direction\":\"down\",\"reversals\":%d}",
                 25 * (1 + k % 4), k / 12);
        break;
    case 3:
        snprintf(g->event, sizeof g->event, "$field_change");
        snprintf(tmp, sizeof tmp,
                 "{\"form\":\"loan-calculator\",\"field\":\"income\",\"length\":%d,\"valid\":true}",
                 (int)(next_rand() % 7));
        break;
    case 4:
        snprintf(g->event, sizeof g->event, struggler ? "$field_invalid" : "$field_blur");
        snprintf(tmp, sizeof tmp,
                 "{\"form\":\"loan-calculator\",\"field\":\"income\",\"reason\":\"custom\","
                 "\"message\":\"Income too low\",\"valid\":%s}",
                 struggler ? "false" : "true");
        break;
    default:
        snprintf(g->event, sizeof g->event, "$form_submit");
        snprintf(tmp, sizeof tmp, "{\"form\":\"loan-calculator\",\"valid\":%s}",
                 struggler ? "false" : "true");
        break;
    }
    props = tmp;
    snprintf(g->payload, sizeof g->payload,
             "{\"type\":\"%s\",\"event\":\"%s\",\"anonymousId\":\"%s\",\"properties\":%s,"
             "\"context\":{\"sessionId\":\"%s\",\"page\":{\"path\":\"%s\"}}}",
             type, g->event, g->anon, props, g->session, path);
    g->ev.project_id = 1;
    g->ev.message_id = "m";
    g->ev.type = type;
    g->ev.event = strcmp(type, "page") ? g->event : NULL;
    g->ev.anonymous_id = g->anon;
    g->ev.session_id = g->session;
    g->ev.timestamp = ts;
    g->ev.received_at = ts;
    g->ev.original_timestamp = g->ev.sent_at = -1;
    g->ev.path = g->path;
    g->ev.device_class = "desktop";
    g->ev.browser = "Chrome";
    g->ev.os = "Linux";
    g->ev.payload = g->payload;
    g->ev.payload_len = strlen(g->payload);
}

static double now_s(void)
{
    return (double)mono_ns() / 1e9;
}

int main(int argc, char **argv)
{
    int workers = 1, sessions = 100000, per_session = 12;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--workers"))
            workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sessions"))
            sessions = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--events-per-session"))
            per_session = atoi(argv[i + 1]);
    }
    char dir[] = "/tmp/journey-engine-bench-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = dir;
    so.synchronous = 1;
    struct store *store;
    char err[256];
    if (store_open(&store, &so, err, sizeof err))
        die("%s", err);
    struct store_project p;
    char secret[80];
    store_project_create(store, "bench", &p, secret, sizeof secret);
    store_project_set_settings(store, p.id, "{\"holdout_pct\": 0}");
    store_project_clear(&p);

    struct engine_config ec;
    engine_config_defaults(&ec);
    ec.workers = workers;
    ec.queue_max_events = 10000000;
    struct engine *e = engine_new(&ec, store, NULL);
    engine_start(e);

    long rss0 = rss_kb();
    int64_t t0 = now_ms();
    size_t total = (size_t)sessions * (size_t)per_session;
    enum { BATCH = 100 };
    struct gen *gens = xcalloc(BATCH, sizeof *gens);
    const struct store_event *rows[BATCH];
    int64_t ids[BATCH];
    size_t sent = 0;
    double start = now_s();
    /* Sessions interleave as on a live site: a round of each session's next event. */
    for (int k = 0; k < per_session; k++) {
        for (int s = 0; s < sessions;) {
            int n = 0;
            for (; n < BATCH && s < sessions; n++, s++) {
                make_event(&gens[n], s, k, t0 - 60000 + s % 1000, s % 10 == 0);
                rows[n] = &gens[n].ev;
                ids[n] = (int64_t)++sent;
            }
            engine_submit(e, rows, ids, (size_t)n);
            /* Keep the queues bounded like a real writer would see them. */
            for (;;) {
                struct engine_stats st;
                engine_stats(e, &st);
                if (st.queued < 200000)
                    break;
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
        }
    }
    struct engine_stats st;
    for (;;) {
        engine_stats(e, &st);
        if (st.events >= total)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    double secs = now_s() - start;
    /* Let a tick refresh the memory accounting. */
    struct timespec ts = {0, 400000000};
    nanosleep(&ts, NULL);
    engine_stats(e, &st);
    long rss1 = rss_kb();
    printf("{\"workers\":%d,\"sessions\":%d,\"events\":%zu,\"seconds\":%.3f,"
           "\"events_per_s\":%.0f,\"events_per_s_per_worker\":%.0f,\"live_sessions\":%zu,"
           "\"session_bytes\":%zu,\"bytes_per_session\":%.0f,\"rss_growth_per_session\":%.0f,"
           "\"signals\":%llu,\"decisions\":%llu,\"dropped\":%llu}\n",
           workers, sessions, total, secs, (double)total / secs,
           (double)total / secs / workers, st.live_sessions, st.session_bytes,
           st.live_sessions ? (double)st.session_bytes / (double)st.live_sessions : 0,
           sessions ? (double)(rss1 - rss0) * 1024.0 / sessions : 0,
           (unsigned long long)st.signals, (unsigned long long)st.decisions,
           (unsigned long long)st.dropped);
    engine_free(e);
    store_close(store);
    free(gens);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
    return 0;
}
