/*
 * api_jobs.c - how /api/v1 reports run without holding up ingest.
 *
 * A report can take a second over millions of events; the HTTP threads also
 * answer ingest, so a report never runs on them. The request is suspended
 * and queued to a small pool of report workers (config report_workers); the
 * worker runs the report into a buffer and resumes the request, whose
 * finish() sends the answer. Queries are copied before the request is
 * suspended, so a worker never touches the connection.
 *
 * Two answers are produced while they are sent instead:
 *   - CSV exports of the sessions list, page by page (1,000 rows at a time)
 *     from the content reader callback, so an export of every session never
 *     sits in memory;
 *   - the live KPI event stream (Server-Sent Events): its content reader
 *     writes one event per second and in between suspends its connection;
 *     a ticker thread resumes the waiting streams every second.
 */
#include "http/http_internal.h"

#include "common/log.h"
#include "common/timefmt.h"
#include "common/util.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_QUEUE_MAX 64
#define STREAM_PAGE_ROWS 1000

struct qarg {
    char *key, *value;
};

struct query_copy {
    struct qarg *args;
    size_t n, cap;
};

struct api_job {
    struct api_job *next;
    struct http_request *req;
    struct analytics *analytics;
    report_fn fn;
    report_id_fn idfn; /* a report of one thing (a session, a video): id */
    char id[520];
    char name[40];
    int64_t project_id;
    enum report_format fmt;
    cJSON *body;
    struct query_copy q;
    int64_t now;
    struct buf out;
    struct report_error err;
    int rc;
    /* a task instead of a report */
    int (*task)(void *ctx, struct buf *out, struct report_error *err);
    void *task_ctx;
    void (*task_free)(void *ctx);
};

struct sse {
    struct sse *next;
    struct api_state *api;
    struct MHD_Connection *conn;
    int64_t project_id;
    struct buf pending;
    size_t off;
    int64_t next_due_ms;
    bool suspended;
};

struct api_state {
    struct http_server *srv;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct api_job *head, *tail;
    int queued;
    bool stop;
    pthread_t *workers;
    int n_workers;
    /* event streams */
    struct sse *streams;
    int n_streams;
    pthread_cond_t streams_gone;
    pthread_cond_t tick; /* the ticker's own: workers wait on cond */
    pthread_t ticker;
    bool ticker_running;
    struct metric *m_reports, *m_rejected;
};

/* ---- copied query strings -------------------------------------------------------- */

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct query_copy *q = cls;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 8;
        q->args = xrealloc(q->args, q->cap * sizeof *q->args);
    }
    q->args[q->n].key = xstrdup(key ? key : "");
    q->args[q->n].value = xstrdup(value ? value : "");
    q->n++;
    return MHD_YES;
}

static void query_copy(struct http_request *req, struct query_copy *q)
{
    memset(q, 0, sizeof *q);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, copy_arg, q);
}

static void query_free(struct query_copy *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->args[i].key);
        free(q->args[i].value);
    }
    free(q->args);
    memset(q, 0, sizeof *q);
}

static const char *query_get(void *ctx, const char *name)
{
    const struct query_copy *q = ctx;
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->args[i].key, name))
            return q->args[i].value;
    return NULL;
}

/* ---- answers ------------------------------------------------------------------------ */

/* {"success":false,"error":{"code","message","field"},"request_id"} */
static enum MHD_Result respond_report_error(struct http_request *req,
                                            const struct report_error *err)
{
    struct buf out = BUF_INIT;
    buf_puts(&out, "{\"success\":false,\"error\":{\"code\":");
    json_str(&out, err->code[0] ? err->code : "error");
    buf_puts(&out, ",\"message\":");
    json_str(&out, err->message);
    if (err->field[0]) {
        buf_puts(&out, ",\"field\":");
        json_str(&out, err->field);
    }
    buf_puts(&out, "},\"request_id\":");
    json_str(&out, req->request_id);
    buf_putc(&out, '}');
    int status = err->status ? err->status : 500;
    return http_respond(req, status, &out, status == 503 ? 1 : 0);
}

static void add_common_headers(struct http_request *req, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result queue_response(struct http_request *req, int status,
                                      struct MHD_Response *resp)
{
    add_common_headers(req, resp);
    req->status = status;
    req->state = REQ_ANSWERED;
    enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

static void attachment(struct MHD_Response *resp, const char *name, int64_t now)
{
    char t[TIMEFMT_ISO_LEN], cd[160];
    timefmt_iso(now, t);
    t[10] = '\0';
    snprintf(cd, sizeof cd, "attachment; filename=\"journey-%s-%s.csv\"", name, t);
    MHD_add_response_header(resp, "Content-Disposition", cd);
}

static enum MHD_Result respond_csv(struct http_request *req, struct buf *body, const char *name,
                                   int64_t now)
{
    size_t len = body->len;
    char *data = buf_steal(body);
    struct MHD_Response *resp =
        data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "text/csv; charset=utf-8");
    attachment(resp, name, now);
    return queue_response(req, 200, resp);
}

/* ---- the workers ---------------------------------------------------------------------- */

static void job_free(struct api_job *j)
{
    if (!j)
        return;
    cJSON_Delete(j->body);
    if (j->task_free)
        j->task_free(j->task_ctx);
    query_free(&j->q);
    buf_free(&j->out);
    free(j);
}

static enum MHD_Result job_finish(struct http_request *req)
{
    struct api_job *j = req->api_job;
    req->api_job = NULL;
    req->finish = NULL;
    enum MHD_Result r;
    if (j->rc)
        r = respond_report_error(req, &j->err);
    else if (j->fmt == REPORT_CSV)
        r = respond_csv(req, &j->out, j->name, j->now);
    else
        r = http_respond(req, 200, &j->out, 0);
    job_free(j);
    return r;
}

static void job_run(struct api_job *j)
{
    struct report_params p = {.get = query_get, .ctx = &j->q, .body = j->body, .now_ms = j->now};
    uint64_t t0 = mono_ns();
    if (j->task)
        j->rc = j->task(j->task_ctx, &j->out, &j->err);
    else if (j->idfn)
        j->rc = j->idfn(j->analytics, j->project_id, j->id, &p, j->fmt, &j->out, &j->err);
    else
        j->rc = j->fn(j->analytics, j->project_id, &p, j->fmt, &j->out, &j->err);
    if (j->rc && !j->err.status) {
        j->err.status = 500;
        snprintf(j->err.code, sizeof j->err.code, "internal");
        snprintf(j->err.message, sizeof j->err.message, "the report failed");
    }
    double ms = (double)(mono_ns() - t0) / 1e6;
    if (ms > 1000) {
        char extra[120];
        snprintf(extra, sizeof extra, "\"report\":\"%s\",\"ms\":%.0f", j->name, ms);
        log_write(LOG_LEVEL_INFO, "api", j->req->request_id, extra, "slow report");
    }
}

static void *worker_main(void *arg)
{
    struct api_state *api = arg;
    pthread_mutex_lock(&api->lock);
    for (;;) {
        while (!api->head && !api->stop)
            pthread_cond_wait(&api->cond, &api->lock);
        if (!api->head)
            break;
        struct api_job *j = api->head;
        api->head = j->next;
        if (!api->head)
            api->tail = NULL;
        api->queued--;
        pthread_mutex_unlock(&api->lock);
        job_run(j);
        struct http_request *req = j->req;
        req->finish = job_finish;
        http_request_resume(req);
        pthread_mutex_lock(&api->lock);
    }
    pthread_mutex_unlock(&api->lock);
    return NULL;
}

/* ---- event streams ------------------------------------------------------------------- */

static void *ticker_main(void *arg)
{
    struct api_state *api = arg;
    pthread_mutex_lock(&api->lock);
    while (!api->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&api->tick, &api->lock, &ts);
        for (struct sse *s = api->streams; s; s = s->next) {
            if (s->suspended) {
                s->suspended = false;
                MHD_resume_connection(s->conn);
            }
        }
    }
    pthread_mutex_unlock(&api->lock);
    return NULL;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse *s = cls;
    struct api_state *api = s->api;
    if (s->off < s->pending.len) {
        size_t n = s->pending.len - s->off;
        if (n > max)
            n = max;
        memcpy(buf, s->pending.data + s->off, n);
        s->off += n;
        return (ssize_t)n;
    }
    pthread_mutex_lock(&api->lock);
    bool stop = api->stop;
    pthread_mutex_unlock(&api->lock);
    if (stop)
        return MHD_CONTENT_READER_END_OF_STREAM;
    int64_t now = now_ms();
    if (now >= s->next_due_ms) {
        buf_reset(&s->pending);
        s->off = 0;
        struct buf kpis = BUF_INIT;
        struct report_params p = {.now_ms = now};
        struct report_error err = {0};
        if (api->srv->deps.analytics &&
            report_kpis_live(api->srv->deps.analytics, s->project_id, &p, REPORT_JSON, &kpis,
                             &err) == 0) {
            buf_puts(&s->pending, "event: kpis\ndata: ");
            buf_append(&s->pending, kpis.data, kpis.len);
            buf_puts(&s->pending, "\n\n");
        } else {
            buf_puts(&s->pending, ": unavailable\n\n");
        }
        buf_free(&kpis);
        s->next_due_ms = now - now % 1000 + 1000;
        size_t n = s->pending.len < max ? s->pending.len : max;
        memcpy(buf, s->pending.data, n);
        s->off = n;
        return (ssize_t)n;
    }
    /* Nothing to say yet: park the connection until the ticker's next round. */
    pthread_mutex_lock(&api->lock);
    s->suspended = true;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&api->lock);
    return 0;
}

static void sse_free(void *cls)
{
    struct sse *s = cls;
    struct api_state *api = s->api;
    pthread_mutex_lock(&api->lock);
    for (struct sse **pp = &api->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    api->n_streams--;
    pthread_cond_broadcast(&api->streams_gone);
    pthread_mutex_unlock(&api->lock);
    buf_free(&s->pending);
    free(s);
}

/* ---- streamed CSV exports ------------------------------------------------------------- */

struct export_stream {
    struct analytics *analytics;
    int64_t project_id;
    struct query_copy q;
    int64_t now;
    struct buf chunk;
    size_t off;
    char cursor[200];
    bool started, done;
};

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct export_stream *x = cls;
    while (x->off == x->chunk.len) {
        if (x->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        buf_reset(&x->chunk);
        x->off = 0;
        struct report_params p = {.get = query_get, .ctx = &x->q, .now_ms = x->now};
        struct report_error err = {0};
        char next[200];
        if (report_sessions_page(x->analytics, x->project_id, &p, REPORT_CSV, !x->started,
                                 STREAM_PAGE_ROWS, x->started ? x->cursor : NULL, &x->chunk,
                                 next, sizeof next, &err))
            return MHD_CONTENT_READER_END_WITH_ERROR; /* the client sees a cut transfer */
        x->started = true;
        snprintf(x->cursor, sizeof x->cursor, "%s", next);
        x->done = next[0] == '\0';
    }
    size_t n = x->chunk.len - x->off;
    if (n > max)
        n = max;
    memcpy(buf, x->chunk.data + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

static void export_free(void *cls)
{
    struct export_stream *x = cls;
    query_free(&x->q);
    buf_free(&x->chunk);
    free(x);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static struct api_state *api_get(struct http_server *srv)
{
    struct api_state *api = atomic_load(&srv->api);
    if (api)
        return api;
    api = xcalloc(1, sizeof *api);
    api->srv = srv;
    pthread_mutex_init(&api->lock, NULL);
    pthread_cond_init(&api->cond, NULL);
    pthread_cond_init(&api->streams_gone, NULL);
    pthread_cond_init(&api->tick, NULL);
    struct api_state *expected = NULL;
    if (!atomic_compare_exchange_strong(&srv->api, &expected, api)) {
        pthread_mutex_destroy(&api->lock);
        pthread_cond_destroy(&api->cond);
        pthread_cond_destroy(&api->streams_gone);
        pthread_cond_destroy(&api->tick);
        free(api);
        return expected;
    }
    int n = (int)srv->deps.cfg->report_workers;
    if (n < 1)
        n = 1;
    api->workers = xcalloc((size_t)n, sizeof *api->workers);
    pthread_mutex_lock(&api->lock);
    for (int i = 0; i < n; i++)
        if (pthread_create(&api->workers[api->n_workers], NULL, worker_main, api) == 0)
            api->n_workers++;
    if (pthread_create(&api->ticker, NULL, ticker_main, api) == 0)
        api->ticker_running = true;
    pthread_mutex_unlock(&api->lock);
    return api;
}

void http_server_end_streams(struct http_server *srv)
{
    struct api_state *api = srv ? atomic_load(&srv->api) : NULL;
    if (!api)
        return;
    pthread_mutex_lock(&api->lock);
    api->stop = true;
    pthread_cond_broadcast(&api->cond);
    pthread_cond_broadcast(&api->tick);
    for (struct sse *s = api->streams; s; s = s->next) {
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
    }
    /* Streams end at their next read; give them a few seconds. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    while (api->n_streams > 0)
        if (pthread_cond_timedwait(&api->streams_gone, &api->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&api->lock);
    /* Workers drain the queue (every suspended report is answered) and stop. */
    for (int i = 0; i < api->n_workers; i++)
        pthread_join(api->workers[i], NULL);
    api->n_workers = 0;
    if (api->ticker_running)
        pthread_join(api->ticker, NULL);
    api->ticker_running = false;
}

void http_api_free(struct http_server *srv)
{
    struct api_state *api = atomic_load(&srv->api);
    if (!api)
        return;
    http_server_end_streams(srv);
    free(api->workers);
    pthread_mutex_destroy(&api->lock);
    pthread_cond_destroy(&api->cond);
    pthread_cond_destroy(&api->streams_gone);
    pthread_cond_destroy(&api->tick);
    free(api);
    atomic_store(&srv->api, NULL);
}

/* ---- entry points (api.c) ----------------------------------------------------------------- */

/* The format parameter: ?format= or a "format" member of the body. */
static int format_of(struct http_request *req, const cJSON *body, enum report_format *fmt)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(body, "format");
    const char *v = cJSON_IsString(f) ? f->valuestring : http_query(req, "format");
    *fmt = REPORT_JSON;
    if (!v || !*v || !strcmp(v, "json"))
        return 0;
    if (!strcmp(v, "csv")) {
        *fmt = REPORT_CSV;
        return 0;
    }
    return -1;
}

static bool analytics_usable(struct http_request *req, enum MHD_Result *r)
{
    struct analytics *a = req->srv->deps.analytics;
    if (!a) {
        *r = http_respond_error(req, 503, "analytics_unavailable",
                                "this server runs without the analytics store");
        return false;
    }
    if (!analytics_ready(a)) {
        *r = http_respond_error(req, 503, "analytics_loading",
                                "the analytics store is still loading stored events; retry "
                                "shortly");
        return false;
    }
    return true;
}

/* Queues a job for the workers and suspends its request (or answers 503). */
static enum MHD_Result submit(struct http_request *req, struct api_job *j)
{
    struct api_state *api = api_get(req->srv);
    j->req = req;
    j->now = now_ms();
    query_copy(req, &j->q);
    pthread_mutex_lock(&api->lock);
    if (api->stop || api->queued >= API_QUEUE_MAX) {
        bool stopping = api->stop;
        pthread_mutex_unlock(&api->lock);
        job_free(j);
        return http_respond_error(req, 503, stopping ? "shutting_down" : "busy",
                                  stopping ? "the server is stopping"
                                           : "too many reports are running; retry shortly");
    }
    req->api_job = j;
    http_request_suspend(req);
    if (api->tail)
        api->tail->next = j;
    else
        api->head = j;
    api->tail = j;
    api->queued++;
    pthread_cond_signal(&api->cond);
    pthread_mutex_unlock(&api->lock);
    return MHD_YES;
}

enum MHD_Result http_api_run_report(struct http_request *req, int64_t project_id, report_fn fn,
                                    report_id_fn idfn, const char *id, const char *name)
{
    enum MHD_Result r;
    if (!analytics_usable(req, &r))
        return r;
    cJSON *body = NULL;
    if (req->body.len) {
        const char *end = NULL;
        body = cJSON_ParseWithLengthOpts(req->body.data, req->body.len, &end, false);
        if (!body || !cJSON_IsObject(body)) {
            long pos = end && body == NULL ? (long)(end - req->body.data) : 0;
            cJSON_Delete(body);
            struct report_error err = {.status = 400};
            snprintf(err.code, sizeof err.code, "invalid_json");
            snprintf(err.field, sizeof err.field, "body");
            snprintf(err.message, sizeof err.message,
                     "the body must be a JSON object (error near byte %ld)", pos);
            return respond_report_error(req, &err);
        }
    }
    enum report_format fmt;
    if (format_of(req, body, &fmt)) {
        cJSON_Delete(body);
        struct report_error err = {.status = 400};
        snprintf(err.code, sizeof err.code, "invalid_parameter");
        snprintf(err.field, sizeof err.field, "format");
        snprintf(err.message, sizeof err.message, "format must be json or csv");
        return respond_report_error(req, &err);
    }
    struct api_job *j = xcalloc(1, sizeof *j);
    j->analytics = req->srv->deps.analytics;
    j->fn = fn;
    j->project_id = project_id;
    j->fmt = fmt;
    j->body = body;
    snprintf(j->name, sizeof j->name, "%s", name);
    j->idfn = idfn;
    if (id)
        snprintf(j->id, sizeof j->id, "%s", id);
    return submit(req, j);
}

enum MHD_Result http_api_run_task(struct http_request *req,
                                  int (*task)(void *ctx, struct buf *out,
                                              struct report_error *err),
                                  void *ctx, void (*free_ctx)(void *ctx), const char *name)
{
    struct api_job *j = xcalloc(1, sizeof *j);
    j->task = task;
    j->task_ctx = ctx;
    j->task_free = free_ctx;
    snprintf(j->name, sizeof j->name, "%s", name);
    return submit(req, j);
}

enum MHD_Result http_api_kpis_live(struct http_request *req, int64_t project_id)
{
    enum MHD_Result r;
    if (!analytics_usable(req, &r))
        return r;
    enum report_format fmt;
    if (format_of(req, NULL, &fmt))
        return http_respond_error(req, 400, "invalid_parameter", "format must be json or csv");
    struct buf out = BUF_INIT;
    struct report_params p = {.now_ms = now_ms()};
    struct report_error err = {0};
    if (report_kpis_live(req->srv->deps.analytics, project_id, &p, fmt, &out, &err)) {
        buf_free(&out);
        return respond_report_error(req, &err);
    }
    if (fmt == REPORT_CSV)
        return respond_csv(req, &out, "kpis-live", p.now_ms);
    return http_respond(req, 200, &out, 0);
}

enum MHD_Result http_api_kpis_stream(struct http_request *req, int64_t project_id)
{
    enum MHD_Result r;
    if (!analytics_usable(req, &r))
        return r;
    struct api_state *api = api_get(req->srv);
    struct sse *s = xcalloc(1, sizeof *s);
    s->api = api;
    s->conn = req->conn;
    s->project_id = project_id;
    pthread_mutex_lock(&api->lock);
    if (api->stop) {
        pthread_mutex_unlock(&api->lock);
        free(s);
        return http_respond_error(req, 503, "shutting_down", "the server is stopping");
    }
    s->next = api->streams;
    api->streams = s;
    api->n_streams++;
    pthread_mutex_unlock(&api->lock);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
                                                                  sse_read, s, sse_free);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return queue_response(req, 200, resp);
}

enum MHD_Result http_api_sessions_export(struct http_request *req, int64_t project_id)
{
    enum MHD_Result r;
    if (!analytics_usable(req, &r))
        return r;
    struct export_stream *x = xcalloc(1, sizeof *x);
    x->analytics = req->srv->deps.analytics;
    x->project_id = project_id;
    x->now = now_ms();
    query_copy(req, &x->q);
    /* Parameters are checked before the 200 goes out: one page of zero rows. */
    struct report_params p = {.get = query_get, .ctx = &x->q, .now_ms = x->now};
    struct report_error err = {0};
    char next[200];
    int rc = report_sessions_page(x->analytics, project_id, &p, REPORT_CSV, true,
                                  STREAM_PAGE_ROWS, NULL, &x->chunk, next, sizeof next, &err);
    if (rc) {
        export_free(x);
        return respond_report_error(req, &err);
    }
    x->started = true;
    snprintf(x->cursor, sizeof x->cursor, "%s", next);
    x->done = next[0] == '\0';
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536,
                                                                  export_read, x, export_free);
    MHD_add_response_header(resp, "Content-Type", "text/csv; charset=utf-8");
    attachment(resp, "sessions", x->now);
    return queue_response(req, 200, resp);
}
