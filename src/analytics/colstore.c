/*
 * colstore.c - the in-memory column store of events (see analytics.h):
 * dictionaries, the per-project arrays, the thread that fills them from the
 * history and then from the ingest commit hook.
 */
#include "analytics/analytics_internal.h"

#include "common/log.h"
#include "common/util.h"
#include "engine/engine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define MAX_PROPS 16
#define MAX_VALUE_LEN 200

/* ---- dictionaries ------------------------------------------------------------- */

void strdict_init(struct strdict *d)
{
    memset(d, 0, sizeof *d);
    arena_init(&d->strings, 65536);
    d->cap = 1024;
    d->by_id = xcalloc(d->cap, sizeof *d->by_id);
    d->num = xcalloc(d->cap, sizeof *d->num);
    d->n = 1; /* id 0 = none */
    d->slot_cap = 2048;
    d->slots = xcalloc(d->slot_cap, sizeof *d->slots);
}

void strdict_free(struct strdict *d)
{
    arena_free(&d->strings);
    free(d->by_id);
    free(d->num);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

static uint32_t slot_index(const struct strdict *d, const char *s, size_t len)
{
    uint32_t mask = d->slot_cap - 1;
    uint32_t i = (uint32_t)XXH3_64bits(s, len) & mask;
    while (d->slots[i]) {
        const char *t = d->by_id[d->slots[i]];
        if (strlen(t) == len && memcmp(t, s, len) == 0)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

uint32_t strdict_find(const struct strdict *d, const char *s)
{
    if (!s)
        return 0;
    return d->slots[slot_index(d, s, strlen(s))];
}

uint32_t strdict_intern(struct strdict *d, const char *s, size_t len)
{
    if (!s)
        return 0;
    uint32_t i = slot_index(d, s, len);
    if (d->slots[i])
        return d->slots[i];
    if ((d->n + 1) * 2 > d->slot_cap) {
        free(d->slots);
        d->slot_cap *= 2;
        d->slots = xcalloc(d->slot_cap, sizeof *d->slots);
        for (uint32_t id = 1; id < d->n; id++)
            d->slots[slot_index(d, d->by_id[id], strlen(d->by_id[id]))] = id;
        i = slot_index(d, s, len);
    }
    if (d->n == d->cap) {
        d->cap *= 2;
        d->by_id = xrealloc(d->by_id, d->cap * sizeof *d->by_id);
        d->num = xrealloc(d->num, d->cap * sizeof *d->num);
    }
    uint32_t id = d->n++;
    char *copy = arena_strndup(&d->strings, s, len);
    d->by_id[id] = copy;
    char *end;
    double v = len ? strtod(copy, &end) : NAN;
    d->num[id] = len && *end == '\0' && isfinite(v) ? v : NAN;
    d->slots[i] = id;
    return id;
}

const char *strdict_get(const struct strdict *d, uint32_t id)
{
    return id && id < d->n ? d->by_id[id] : NULL;
}

/* ---- projects ------------------------------------------------------------------- */

struct ax_project *ax_project_find(struct analytics *a, int64_t project_id)
{
    for (int i = 0; i < a->n_projects; i++)
        if (a->projects[i]->id == project_id)
            return a->projects[i];
    return NULL;
}

static struct ax_project *project_get(struct analytics *a, int64_t id)
{
    struct ax_project *p = ax_project_find(a, id);
    if (p)
        return p;
    p = xcalloc(1, sizeof *p);
    p->id = id;
    strdict_init(&p->session_ids);
    strdict_init(&p->visitor_ids);
    p->n_props = 1;
    a->projects = xrealloc(a->projects, (size_t)(a->n_projects + 1) * sizeof *a->projects);
    a->projects[a->n_projects++] = p;
    return p;
}

static void project_free(struct ax_project *p)
{
    free(p->events);
    free(p->sessions);
    free(p->visitors);
    free(p->props);
    strdict_free(&p->session_ids);
    strdict_free(&p->visitor_ids);
    free(p);
}

uint32_t ax_pageview_name(struct analytics *a)
{
    return strdict_find(&a->names, "$pageview");
}

uint32_t ax_prop(const struct ax_project *p, uint32_t props, uint32_t key)
{
    if (!props || !key)
        return 0;
    uint32_t n = p->props[props];
    for (uint32_t i = 0; i < n; i++)
        if (p->props[props + 1 + 2 * i] == key)
            return p->props[props + 2 + 2 * i];
    return 0;
}

static void reserve(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    *arr = xrealloc(*arr, c * size);
    memset((char *)*arr + *cap * size, 0, (c - *cap) * size);
    *cap = c;
}

/* Scalar members of a JSON object as (key, value) pairs in the props pool. */
static uint32_t add_props(struct analytics *a, struct ax_project *p, const cJSON *obj)
{
    if (!cJSON_IsObject(obj))
        return 0;
    uint32_t keys[MAX_PROPS], vals[MAX_PROPS];
    uint32_t n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        if (n == MAX_PROPS)
            break;
        char tmp[64];
        const char *v = NULL;
        size_t vlen = 0;
        if (cJSON_IsString(m)) {
            v = m->valuestring;
            vlen = strlen(v);
            if (vlen > MAX_VALUE_LEN)
                continue;
        } else if (cJSON_IsNumber(m)) {
            snprintf(tmp, sizeof tmp, "%.15g", m->valuedouble);
            v = tmp;
            vlen = strlen(tmp);
        } else if (cJSON_IsBool(m)) {
            v = cJSON_IsTrue(m) ? "true" : "false";
            vlen = strlen(v);
        } else {
            continue;
        }
        keys[n] = strdict_intern(&a->keys, m->string, strlen(m->string));
        vals[n] = strdict_intern(&a->values, v, vlen);
        n++;
    }
    if (!n)
        return 0;
    size_t need = p->n_props + 1 + 2 * n;
    reserve((void **)&p->props, &p->cap_props, need, sizeof *p->props);
    uint32_t off = (uint32_t)p->n_props;
    p->props[off] = n;
    for (uint32_t i = 0; i < n; i++) {
        p->props[off + 1 + 2 * i] = keys[i];
        p->props[off + 2 + 2 * i] = vals[i];
    }
    p->n_props = need;
    return off;
}

/* Appends one event. Under the write lock. */
static void apply(struct analytics *a, const struct ax_pending *e)
{
    struct ax_project *p = project_get(a, e->project_id);
    if (!e->visitor || !e->session)
        return;
    uint32_t vid = strdict_intern(&p->visitor_ids, e->visitor, strlen(e->visitor));
    uint32_t sid = strdict_intern(&p->session_ids, e->session, strlen(e->session));
    reserve((void **)&p->visitors, &p->cap_visitors, vid + 1, sizeof *p->visitors);
    reserve((void **)&p->sessions, &p->cap_sessions, sid + 1, sizeof *p->sessions);
    reserve((void **)&p->events, &p->cap_events, p->n_events + 1, sizeof *p->events);
    struct ax_event *ev = &p->events[p->n_events++];
    ev->ts = e->ts;
    ev->row = e->row;
    ev->visitor = vid;
    ev->session = sid;
    ev->type = e->type;
    ev->name = strdict_intern(&a->names, e->name, strlen(e->name));
    ev->path = e->path ? strdict_intern(&a->paths, e->path, strlen(e->path)) : 0;
    ev->props = 0;

    struct ax_visitor *v = &p->visitors[vid];
    if (!v->first_seen || e->ts < v->first_seen)
        v->first_seen = e->ts;
    if (e->ts > v->last_seen)
        v->last_seen = e->ts;
    struct ax_session *s = &p->sessions[sid];
    bool first = s->events == 0;
    if (first) {
        s->visitor = vid;
        s->start = s->last = e->ts;
        if (e->device)
            s->device = (uint8_t)strdict_intern(&a->small, e->device, strlen(e->device));
        if (e->browser)
            s->browser = (uint8_t)strdict_intern(&a->small, e->browser, strlen(e->browser));
        if (e->os)
            s->os = (uint8_t)strdict_intern(&a->small, e->os, strlen(e->os));
    }
    if (e->ts < s->start)
        s->start = e->ts;
    if (e->ts > s->last)
        s->last = e->ts;
    s->events++;
    if (e->type == AX_PAGE || e->type == AX_SCREEN)
        s->pageviews++;
    if (!s->device && e->device && strcmp(e->device, "server") != 0)
        s->device = (uint8_t)strdict_intern(&a->small, e->device, strlen(e->device));

    if (e->payload) {
        cJSON *root = cJSON_Parse(e->payload);
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(root, "properties");
        if (e->type == AX_IDENTIFY) {
            uint32_t off = add_props(a, p, cJSON_GetObjectItemCaseSensitive(root, "traits"));
            if (off)
                v->traits = off;
        } else {
            ev->props = add_props(a, p, props);
        }
        if ((e->type == AX_PAGE || e->type == AX_SCREEN) && !s->entry_path) {
            s->entry_path = ev->path;
            const cJSON *ref = cJSON_GetObjectItemCaseSensitive(props, "referrer");
            const cJSON *url = cJSON_GetObjectItemCaseSensitive(props, "url");
            const char *cls = engine_referrer_class(cJSON_IsString(ref) ? ref->valuestring : NULL,
                                                    cJSON_IsString(url) ? url->valuestring : NULL);
            s->referrer = (uint8_t)strdict_intern(&a->small, cls, strlen(cls));
        }
        cJSON_Delete(root);
    }
    /* events per second, by the second they were received */
    int64_t sec = e->received_at / 1000;
    int k = (int)(sec % 64);
    if (p->per_second_at[k] != sec) {
        p->per_second_at[k] = sec;
        p->per_second[k] = 0;
    }
    p->per_second[k]++;
}

/* ---- feeding ------------------------------------------------------------------- */

static enum ax_type type_of(const char *t)
{
    if (!t)
        return AX_OTHER;
    if (!strcmp(t, "track"))
        return AX_TRACK;
    if (!strcmp(t, "page"))
        return AX_PAGE;
    if (!strcmp(t, "screen"))
        return AX_SCREEN;
    if (!strcmp(t, "identify"))
        return AX_IDENTIFY;
    return AX_OTHER;
}

static struct ax_pending *copy_pending(const struct store_event *r, int64_t id)
{
    enum ax_type type = type_of(r->type);
    const char *name = type == AX_PAGE     ? "$pageview"
                       : type == AX_SCREEN ? "$screen"
                       : type == AX_IDENTIFY ? "$identify"
                       : r->event          ? r->event
                       : r->type ? r->type : "?";
    /* Properties are kept for custom events and page views; autocapture's
     * own events ($click ...) carry only the engine's interest. */
    bool keep_payload = type == AX_PAGE || type == AX_SCREEN || type == AX_IDENTIFY ||
                        (type == AX_TRACK && r->event && r->event[0] != '$');
    const char *visitor = r->anonymous_id ? r->anonymous_id : r->user_id;
    const char *strs[] = {name, visitor, r->session_id, r->path, r->device_class, r->browser, r->os,
                          keep_payload ? r->payload : NULL};
    size_t need = 0;
    for (size_t i = 0; i < ARRAY_LEN(strs); i++)
        need += strs[i] ? strlen(strs[i]) + 1 : 0;
    struct ax_pending *e = xcalloc(1, sizeof *e + need);
    char *o = e->data;
    const char **dst[] = {&e->name, &e->visitor, &e->session, &e->path,
                          &e->device, &e->browser, &e->os, &e->payload};
    for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
        if (!strs[i])
            continue;
        size_t n = strlen(strs[i]) + 1;
        memcpy(o, strs[i], n);
        *dst[i] = o;
        o += n;
    }
    e->project_id = r->project_id;
    e->row = id;
    e->ts = r->timestamp;
    e->received_at = r->received_at;
    e->type = (uint8_t)type;
    return e;
}

void analytics_submit(void *arg, const struct store_event *const *events, const int64_t *ids,
                      size_t n)
{
    struct analytics *a = arg;
    struct ax_pending *head = NULL, *tail = NULL;
    size_t k = 0;
    pthread_mutex_lock(&a->qlock);
    size_t room = a->queued < a->cfg.queue_max_events ? a->cfg.queue_max_events - a->queued : 0;
    pthread_mutex_unlock(&a->qlock);
    for (size_t i = 0; i < n; i++) {
        if (k >= room) {
            atomic_fetch_add(&a->dropped, n - i);
            metric_add(a->m_dropped, n - i);
            break;
        }
        struct ax_pending *e = copy_pending(events[i], ids[i]);
        if (tail)
            tail->next = e;
        else
            head = e;
        tail = e;
        k++;
    }
    if (!k)
        return;
    pthread_mutex_lock(&a->qlock);
    if (a->tail)
        a->tail->next = head;
    else
        a->head = head;
    a->tail = tail;
    a->queued += k;
    a->submitted += k;
    pthread_cond_signal(&a->qcond);
    pthread_mutex_unlock(&a->qlock);
}

struct load_ctx {
    struct analytics *a;
    size_t in_batch;
    int64_t max_row;
};

static int load_one(const struct store_event *r, int64_t id, void *arg)
{
    struct load_ctx *c = arg;
    struct ax_pending *e = copy_pending(r, id);
    if (c->in_batch == 0)
        pthread_rwlock_wrlock(&c->a->lock);
    apply(c->a, e);
    free(e);
    c->max_row = id;
    if (++c->in_batch == 10000) {
        pthread_rwlock_unlock(&c->a->lock);
        c->in_batch = 0;
    }
    return c->a->stop;
}

static void *analytics_main(void *arg)
{
    struct analytics *a = arg;
    uint64_t t0 = mono_ns();
    struct load_ctx lc = {a, 0, 0};
    store_scan_events_since(a->store, 0, load_one, &lc);
    if (lc.in_batch)
        pthread_rwlock_unlock(&a->lock);
    a->loaded_max_row = lc.max_row;
    atomic_store(&a->ready, true);
    struct analytics_stats st;
    analytics_stats(a, &st);
    char extra[160];
    snprintf(extra, sizeof extra, "\"events\":%llu,\"ms\":%.0f,\"bytes\":%zu",
             (unsigned long long)st.events, (double)(mono_ns() - t0) / 1e6, st.bytes);
    log_write(LOG_LEVEL_INFO, "analytics", NULL, extra, "column store loaded");

    pthread_mutex_lock(&a->qlock);
    for (;;) {
        while (!a->head && !a->stop)
            pthread_cond_wait(&a->qcond, &a->qlock);
        if (!a->head)
            break;
        struct ax_pending *list = a->head;
        size_t n = a->queued;
        a->head = a->tail = NULL;
        a->queued = 0;
        pthread_mutex_unlock(&a->qlock);
        pthread_rwlock_wrlock(&a->lock);
        for (struct ax_pending *e = list; e; e = e->next)
            if (e->row > a->loaded_max_row) /* not already read by the history scan */
                apply(a, e);
        pthread_rwlock_unlock(&a->lock);
        while (list) {
            struct ax_pending *next = list->next;
            free(list);
            list = next;
        }
        pthread_mutex_lock(&a->qlock);
        a->applied += n;
        pthread_cond_broadcast(&a->applied_cond);
    }
    pthread_mutex_unlock(&a->qlock);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------ */

void analytics_config_defaults(struct analytics_config *c)
{
    c->queue_max_events = 1000000;
    c->session_timeout_ms = 30 * 60 * 1000;
}

static double gauge_events(void *ctx)
{
    struct analytics_stats st;
    analytics_stats(ctx, &st);
    return (double)st.events;
}

struct analytics *analytics_new(const struct analytics_config *cfg, struct store *store)
{
    struct analytics *a = xcalloc(1, sizeof *a);
    a->cfg = *cfg;
    a->store = store;
    pthread_mutex_init(&a->qlock, NULL);
    pthread_cond_init(&a->qcond, NULL);
    pthread_cond_init(&a->applied_cond, NULL);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&a->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    strdict_init(&a->names);
    strdict_init(&a->paths);
    strdict_init(&a->keys);
    strdict_init(&a->values);
    strdict_init(&a->small);
    strdict_intern(&a->names, "$pageview", 9);
    a->m_dropped = metrics_counter(
        "journey_analytics_dropped_total",
        "Events the analytics column store skipped because its queue was full", NULL);
    metrics_gauge_fn("journey_analytics_events", "Events in the analytics column store", NULL,
                     gauge_events, a);
    return a;
}

int analytics_start(struct analytics *a)
{
    if (pthread_create(&a->thread, NULL, analytics_main, a) != 0)
        return -EAGAIN;
    a->running = true;
    return 0;
}

void analytics_free(struct analytics *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->qlock);
    a->stop = true;
    pthread_cond_broadcast(&a->qcond);
    pthread_mutex_unlock(&a->qlock);
    if (a->running)
        pthread_join(a->thread, NULL);
    while (a->head) {
        struct ax_pending *n = a->head->next;
        free(a->head);
        a->head = n;
    }
    for (int i = 0; i < a->n_projects; i++)
        project_free(a->projects[i]);
    free(a->projects);
    strdict_free(&a->names);
    strdict_free(&a->paths);
    strdict_free(&a->keys);
    strdict_free(&a->values);
    strdict_free(&a->small);
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->qlock);
    pthread_cond_destroy(&a->qcond);
    pthread_cond_destroy(&a->applied_cond);
    free(a);
}

bool analytics_ready(struct analytics *a)
{
    return atomic_load(&a->ready);
}

void analytics_sync(struct analytics *a)
{
    while (!analytics_ready(a)) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&a->qlock);
    uint64_t target = a->submitted;
    while (a->applied < target && !a->stop)
        pthread_cond_wait(&a->applied_cond, &a->qlock);
    pthread_mutex_unlock(&a->qlock);
}

void analytics_stats(struct analytics *a, struct analytics_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&a->lock);
    for (int i = 0; i < a->n_projects; i++) {
        struct ax_project *p = a->projects[i];
        out->events += p->n_events;
        out->visitors += p->visitor_ids.n - 1;
        out->sessions += p->session_ids.n - 1;
        out->bytes += p->cap_events * sizeof *p->events + p->cap_sessions * sizeof *p->sessions +
                      p->cap_visitors * sizeof *p->visitors + p->cap_props * sizeof *p->props +
                      p->session_ids.strings.total + p->visitor_ids.strings.total;
    }
    pthread_rwlock_unlock(&a->lock);
    out->dropped = atomic_load(&a->dropped);
}
