/*
 * agent.c - see agent.h.
 */
#include "agent/agent.h"

#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct call {
    struct call *next;
    char *url;
    char *body;
    size_t len;
    int attempts;
    uint64_t not_before_ns;
};

struct agent {
    int64_t timeout_ms;
    size_t max_queue;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct call *head, *tail;
    size_t depth;
    bool stop;
    struct metric *m_ok, *m_failed, *m_dropped;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static bool perform(struct agent *a, struct call *c)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return false;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "User-Agent: journey-agent/1");
    curl_easy_setopt(curl, CURLOPT_URL, c->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)c->len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)a->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK || status >= 500) {
        LOG_WARN("agent", NULL, "POST %s failed (%s, status %ld), attempt %d", c->url,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "server error", status,
                 c->attempts + 1);
        return false;
    }
    if (status >= 400)
        LOG_WARN("agent", NULL, "POST %s refused with status %ld; not retried", c->url, status);
    return true;
}

static void free_call(struct call *c)
{
    free(c->url);
    free(c->body);
    free(c);
}

static void *agent_main(void *arg)
{
    struct agent *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->head && !a->stop)
            pthread_cond_wait(&a->cond, &a->lock);
        if (!a->head)
            break;
        struct call *c = a->head;
        uint64_t now = mono_ns();
        if (c->not_before_ns > now && !a->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t wait = c->not_before_ns - now;
            ts.tv_sec += (time_t)(wait / 1000000000u);
            ts.tv_nsec += (long)(wait % 1000000000u);
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&a->cond, &a->lock, &ts);
            continue;
        }
        a->head = c->next;
        if (!a->head)
            a->tail = NULL;
        a->depth--;
        pthread_mutex_unlock(&a->lock);
        bool ok = perform(a, c);
        pthread_mutex_lock(&a->lock);
        if (ok) {
            metric_add(a->m_ok, 1);
            free_call(c);
        } else if (++c->attempts >= 4 || a->stop) {
            metric_add(a->m_failed, 1);
            free_call(c);
        } else {
            c->not_before_ns = mono_ns() + (uint64_t)(500u << c->attempts) * 1000000u;
            c->next = NULL;
            if (a->tail)
                a->tail->next = c;
            else
                a->head = c;
            a->tail = c;
            a->depth++;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

struct agent *agent_new(int64_t timeout_ms, size_t max_queue)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct agent *a = xcalloc(1, sizeof *a);
    a->timeout_ms = timeout_ms;
    a->max_queue = max_queue;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    a->m_ok = metrics_counter("journey_agent_calls_total", "Outbound calls (webhooks) by outcome",
                              "outcome=\"ok\"");
    a->m_failed = metrics_counter("journey_agent_calls_total", NULL, "outcome=\"failed\"");
    a->m_dropped = metrics_counter("journey_agent_calls_total", NULL, "outcome=\"dropped\"");
    if (pthread_create(&a->thread, NULL, agent_main, a) == 0)
        a->running = true;
    return a;
}

void agent_free(struct agent *a, int64_t wait_ms)
{
    if (!a)
        return;
    uint64_t deadline = mono_ns() + (uint64_t)wait_ms * 1000000u;
    for (;;) {
        pthread_mutex_lock(&a->lock);
        bool empty = !a->head;
        pthread_mutex_unlock(&a->lock);
        if (empty || mono_ns() > deadline)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&a->lock);
    a->stop = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (a->running)
        pthread_join(a->thread, NULL);
    while (a->head) {
        struct call *c = a->head;
        a->head = c->next;
        free_call(c);
    }
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    free(a);
    curl_global_cleanup();
}

int agent_post(struct agent *a, const char *url, const char *json, size_t len)
{
    pthread_mutex_lock(&a->lock);
    if (a->depth >= a->max_queue || a->stop) {
        pthread_mutex_unlock(&a->lock);
        metric_add(a->m_dropped, 1);
        return -1;
    }
    struct call *c = xcalloc(1, sizeof *c);
    c->url = xstrdup(url);
    c->body = xmalloc(len + 1);
    memcpy(c->body, json, len);
    c->body[len] = '\0';
    c->len = len;
    if (a->tail)
        a->tail->next = c;
    else
        a->head = c;
    a->tail = c;
    a->depth++;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    return 0;
}
