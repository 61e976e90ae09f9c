/*
 * colstore.c - the in-memory column store of events (see analytics.h):
 * dictionaries, the per-project arrays, the thread that fills them from the
 * history and then from the ingest commit hook.
 */
#include "analytics/analytics_internal.h"

#include "common/json_scan.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/engine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
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
    d->lens = xcalloc(d->cap, sizeof *d->lens);
    d->num = xcalloc(d->cap, sizeof *d->num);
    d->n = 1; /* id 0 = none */
    d->slot_cap = 2048;
    d->slots = xcalloc(d->slot_cap, sizeof *d->slots);
}

void strdict_free(struct strdict *d)
{
    arena_free(&d->strings);
    free(d->by_id);
    free(d->lens);
    free(d->num);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

static uint32_t slot_index(const struct strdict *d, const char *s, size_t len)
{
    uint32_t mask = d->slot_cap - 1;
    uint32_t i = (uint32_t)XXH3_64bits(s, len) & mask;
    while (d->slots[i]) {
        uint32_t id = d->slots[i];
        if (d->lens[id] == len && memcmp(d->by_id[id], s, len) == 0)
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
            d->slots[slot_index(d, d->by_id[id], d->lens[id])] = id;
        i = slot_index(d, s, len);
    }
    if (d->n == d->cap) {
        d->cap *= 2;
        d->by_id = xrealloc(d->by_id, d->cap * sizeof *d->by_id);
        d->lens = xrealloc(d->lens, d->cap * sizeof *d->lens);
        d->num = xrealloc(d->num, d->cap * sizeof *d->num);
    }
    uint32_t id = d->n++;
    char *copy = arena_strndup(&d->strings, s, len);
    d->by_id[id] = copy;
    d->lens[id] = (uint32_t)len;
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

static void free_big(void *arr, bool mapped);

static void project_free(struct ax_project *p)
{
    video_project_free(p);
    free(p->active);
    free_big(p->events, p->events_mapped);
    free_big(p->sessions, p->sessions_mapped);
    free_big(p->visitors, p->visitors_mapped);
    free_big(p->props, p->props_mapped);
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

/* The columns grow to millions of rows: doubling one by realloc moved and
 * zeroed hundreds of MB at once (at 4M events: 190 MB, and every ingest
 * request waited ~0.7 s behind it, bench/README). So once a column passes
 * BIG_FROM bytes it moves, once, into a reserved mapping as large as it may
 * ever be (address space only, MAP_NORESERVE: pages are given, zeroed, as
 * they are first written) and never moves again. If the kernel refuses the
 * reservation (strict overcommit), the column keeps doubling. used: the
 * elements in use (what a move copies). */
#define BIG_FROM ((size_t)16 << 20)
#define ANALYTICS_NICE 5
#define BIG_BYTES ((size_t)1 << 38) /* 256 GB of address space per column */

static void reserve_big(void **arr, size_t *cap, bool *mapped, size_t used, size_t need,
                        size_t size)
{
    if (need <= *cap)
        return;
    if (!*mapped && need * size > BIG_FROM) {
        void *m = mmap(NULL, BIG_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m != MAP_FAILED) {
            if (used)
                memcpy(m, *arr, used * size);
            free(*arr);
            *arr = m;
            *cap = BIG_BYTES / size;
            *mapped = true;
            return;
        }
    }
    reserve(arr, cap, need, size);
}

static void free_big(void *arr, bool mapped)
{
    if (mapped)
        munmap(arr, BIG_BYTES);
    else
        free(arr);
}

/* Bytes a column holds: a mapped one only what is in use. */
static size_t big_bytes(size_t cap, bool mapped, size_t used, size_t size)
{
    return (mapped ? used : cap) * size;
}

/* The scalar members of the JSON object span as (key, value) pairs in the
 * props pool: strings decoded, numbers in one canonical form ("%.15g", so
 * 1.50 and 1.5 are one value), booleans as true / false; nested values and
 * nulls are left out. Returns the pool offset, 0 for none. */
static uint32_t add_props(struct analytics *a, struct ax_project *p, struct json_span obj)
{
    struct json_iter it;
    if (!obj.p || json_iter_begin(&it, obj.p, obj.n, '{'))
        return 0;
    uint32_t keys[MAX_PROPS], vals[MAX_PROPS];
    uint32_t n = 0;
    struct json_span k, v;
    char kbuf[256], vbuf[MAX_VALUE_LEN + 8];
    while (n < MAX_PROPS && json_iter_member(&it, &k, &v, NULL) == 1) {
        const char *val;
        size_t vlen;
        if (v.p[0] == '"') {
            if (v.n > MAX_VALUE_LEN + 2)
                continue;
            long len = json_decode_string(v, vbuf);
            if (len < 0)
                continue;
            val = vbuf;
            vlen = (size_t)len;
        } else if (v.p[0] == 't' || v.p[0] == 'f') {
            val = v.p[0] == 't' ? "true" : "false";
            vlen = strlen(val);
        } else if (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')) {
            char num[64];
            size_t m = v.n < sizeof num - 1 ? v.n : sizeof num - 1;
            memcpy(num, v.p, m);
            num[m] = '\0';
            snprintf(vbuf, sizeof vbuf, "%.15g", strtod(num, NULL));
            val = vbuf;
            vlen = strlen(vbuf);
        } else {
            continue; /* null, objects, arrays */
        }
        /* keys come without their quotes, escapes undecoded */
        if (k.n == 0 || k.n + 2 > sizeof kbuf)
            continue;
        long klen = (long)k.n;
        if (memchr(k.p, '\\', k.n)) {
            struct json_span quoted = {k.p - 1, k.n + 2};
            klen = json_decode_string(quoted, kbuf);
            if (klen <= 0)
                continue;
        } else {
            memcpy(kbuf, k.p, k.n);
        }
        keys[n] = strdict_intern(&a->keys, kbuf, (size_t)klen);
        vals[n] = strdict_intern(&a->values, val, vlen);
        n++;
    }
    if (!n)
        return 0;
    size_t need = p->n_props + 1 + 2 * n;
    reserve_big((void **)&p->props, &p->cap_props, &p->props_mapped, p->n_props, need,
                sizeof *p->props);
    uint32_t off = (uint32_t)p->n_props;
    p->props[off] = n;
    for (uint32_t i = 0; i < n; i++) {
        p->props[off + 1 + 2 * i] = keys[i];
        p->props[off + 2 + 2 * i] = vals[i];
    }
    p->n_props = need;
    return off;
}

/* A string member of an object span, decoded into out (NULL if absent or
 * not a string). */
static const char *string_member(struct json_span obj, const char *key, char *out, size_t cap)
{
    struct json_span v;
    if (!obj.p || json_object_find(obj.p, obj.n, key, &v) != 1 || v.p[0] != '"' || v.n > cap)
        return NULL;
    return json_decode_string(v, out) < 0 ? NULL : out;
}

/* Appends one event. Under the write lock. */
static void apply(struct analytics *a, const struct ax_pending *e)
{
    struct ax_project *p = project_get(a, e->project_id);
    if (!e->visitor || !e->session)
        return;
    uint32_t vid = p->last_vid, sid = p->last_sid;
    const char *last_s = strdict_get(&p->session_ids, sid);
    const char *last_v = strdict_get(&p->visitor_ids, vid);
    if (!last_s || !last_v || strcmp(last_s, e->session) != 0 || strcmp(last_v, e->visitor) != 0) {
        vid = strdict_intern(&p->visitor_ids, e->visitor, strlen(e->visitor));
        sid = strdict_intern(&p->session_ids, e->session, strlen(e->session));
        p->last_vid = vid;
        p->last_sid = sid;
    }
    reserve_big((void **)&p->visitors, &p->cap_visitors, &p->visitors_mapped, p->cap_visitors,
                vid + 1, sizeof *p->visitors);
    reserve_big((void **)&p->sessions, &p->cap_sessions, &p->sessions_mapped, p->cap_sessions,
                sid + 1, sizeof *p->sessions);
    reserve_big((void **)&p->events, &p->cap_events, &p->events_mapped, p->n_events,
                p->n_events + 1, sizeof *p->events);
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
    if (!v->first_seen || e->ts < v->first_seen) {
        v->first_seen = e->ts;
        v->first_session = sid;
    }
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
    if (e->received_at > s->last_received)
        s->last_received = e->received_at;
    if (!s->listed_active && e->received_at > now_ms() - ACTIVE_MS) {
        reserve((void **)&p->active, &p->cap_active, p->n_active + 1, sizeof *p->active);
        p->active[p->n_active++] = sid;
        s->listed_active = true;
    }
    if (e->type == AX_PAGE || e->type == AX_SCREEN)
        s->pageviews++;
    if (p->videos && (e->type == AX_PAGE || e->type == AX_SCREEN ||
                      (e->type == AX_TRACK && !strcmp(e->name, "$page_leave"))))
        video_page_boundary(p, sid, e->ts);
    if (!s->device && e->device && strcmp(e->device, "server") != 0)
        s->device = (uint8_t)strdict_intern(&a->small, e->device, strlen(e->device));

    if (e->payload) {
        struct json_span props = {0}, traits = {0};
        size_t plen = e->payload_len;
        if (e->type == AX_IDENTIFY) {
            if (json_object_find(e->payload, plen, "traits", &traits) == 1) {
                uint32_t off = add_props(a, p, traits);
                if (off)
                    v->traits = off;
            }
        } else if (e->type == AX_TRACK && e->name[0] == '$') {
            /* autocapture: video views, not properties */
            if (!strncmp(e->name, "$video_", 7)) {
                video_event(a, p, e->name, e->payload, plen, e->ts, sid, vid, ev->path);
            } else if (!strcmp(e->name, "$visibility") &&
                       json_object_find(e->payload, plen, "properties", &props) == 1) {
                char state[16];
                const char *st = string_member(props, "state", state, sizeof state);
                if (st)
                    video_visibility(p, sid, e->ts, !strcmp(st, "hidden"));
            }
            props.p = NULL;
        } else if (json_object_find(e->payload, plen, "properties", &props) == 1) {
            ev->props = add_props(a, p, props);
        }
        if ((e->type == AX_PAGE || e->type == AX_SCREEN) && !s->entry_path) {
            s->entry_path = ev->path;
            char ref[1024], url[2048];
            const char *cls =
                engine_referrer_class(string_member(props, "referrer", ref, sizeof ref),
                                      string_member(props, "url", url, sizeof url));
            s->referrer = (uint8_t)strdict_intern(&a->small, cls, strlen(cls));
        }
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

/* Drops the sessions that are no longer active from the active lists.
 * Under the write lock. */
static void prune_active(struct analytics *a)
{
    /* The list only bounds what the live count walks (which checks each
     * entry's time itself), so once a second is enough: pruning after every
     * applied batch walked every session active in the last 5 minutes per
     * commit (4% of the server's CPU under single-message load). */
    int64_t now = now_ms();
    if (now - a->pruned_at < 1000)
        return;
    a->pruned_at = now;
    int64_t cutoff = now - ACTIVE_MS;
    for (int i = 0; i < a->n_projects; i++) {
        struct ax_project *p = a->projects[i];
        size_t k = 0;
        for (size_t j = 0; j < p->n_active; j++) {
            struct ax_session *s = &p->sessions[p->active[j]];
            if (s->last_received > cutoff)
                p->active[k++] = p->active[j];
            else
                s->listed_active = false;
        }
        p->n_active = k;
    }
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

/* The strings of a row a pending event keeps, and their lengths. */
struct pending_plan {
    const char *strs[8];
    size_t lens[8];
    size_t bytes; /* the pending's size, 8-aligned */
    enum ax_type type;
};

static void plan_pending(const struct store_event *r, struct pending_plan *pl)
{
    enum ax_type type = type_of(r->type);
    const char *name = type == AX_PAGE       ? "$pageview"
                       : type == AX_SCREEN   ? "$screen"
                       : type == AX_IDENTIFY ? "$identify"
                       : r->event            ? r->event
                       : r->type             ? r->type
                                             : "?";
    /* Properties are kept for custom events and page views; of autocapture's
     * own events ($click ...) only video and visibility (for video views). */
    bool keep_payload = type == AX_PAGE || type == AX_SCREEN || type == AX_IDENTIFY ||
                        (type == AX_TRACK && r->event &&
                         (r->event[0] != '$' || !strncmp(r->event, "$video_", 7) ||
                          !strcmp(r->event, "$visibility")));
    const char *visitor = r->anonymous_id ? r->anonymous_id : r->user_id;
    const char *strs[8] = {name,
                           visitor,
                           r->session_id,
                           r->path,
                           r->device_class,
                           r->browser,
                           r->os,
                           keep_payload ? r->payload : NULL};
    size_t need = sizeof(struct ax_pending);
    for (int i = 0; i < 8; i++) {
        pl->strs[i] = strs[i];
        pl->lens[i] = !strs[i] ? 0 : i == 7 && r->payload_len ? r->payload_len : strlen(strs[i]);
        need += strs[i] ? pl->lens[i] + 1 : 0;
    }
    pl->bytes = (need + 7) & ~(size_t)7;
    pl->type = type;
}

static struct ax_pending *fill_pending(void *mem, const struct store_event *r, int64_t id,
                                       const struct pending_plan *pl)
{
    struct ax_pending *e = mem;
    memset(e, 0, sizeof *e);
    char *o = e->data;
    const char **dst[] = {&e->name,   &e->visitor, &e->session, &e->path,
                          &e->device, &e->browser, &e->os,      &e->payload};
    for (int i = 0; i < 8; i++) {
        if (!pl->strs[i])
            continue;
        memcpy(o, pl->strs[i], pl->lens[i]);
        o[pl->lens[i]] = '\0';
        *dst[i] = o;
        o += pl->lens[i] + 1;
    }
    e->payload_len = pl->strs[7] ? pl->lens[7] : 0;
    e->project_id = r->project_id;
    e->row = id;
    e->ts = r->timestamp;
    e->received_at = r->received_at;
    e->type = (uint8_t)pl->type;
    return e;
}

/* Called on the writer thread: the rows are copied in one allocation per
 * call (freed as one block once applied), and queued. */
void analytics_submit(void *arg, const struct store_event *const *events, const int64_t *ids,
                      size_t n)
{
    struct analytics *a = arg;
    pthread_mutex_lock(&a->qlock);
    size_t room = a->queued < a->cfg.queue_max_events ? a->cfg.queue_max_events - a->queued : 0;
    pthread_mutex_unlock(&a->qlock);
    size_t k = n < room ? n : room;
    if (k < n) {
        atomic_fetch_add(&a->dropped, n - k);
        metric_add(a->m_dropped, n - k);
    }
    if (!k)
        return;
    struct pending_plan stack_plans[64];
    struct pending_plan *plans = k <= 64 ? stack_plans : xmalloc(k * sizeof *plans);
    size_t total = 0;
    for (size_t i = 0; i < k; i++) {
        plan_pending(events[i], &plans[i]);
        total += plans[i].bytes;
    }
    char *block = NULL;
    size_t block_cap = total;
    pthread_mutex_lock(&a->qlock);
    for (int i = 0; i < a->n_spare; i++) {
        if (a->spare[i]->block_cap >= total) {
            block = (char *)a->spare[i];
            block_cap = a->spare[i]->block_cap;
            a->spare[i] = a->spare[--a->n_spare];
            break;
        }
    }
    pthread_mutex_unlock(&a->qlock);
    if (!block)
        block = xmalloc(total);
    struct ax_pending *head = NULL, *tail = NULL;
    char *o = block;
    for (size_t i = 0; i < k; i++) {
        struct ax_pending *e = fill_pending(o, events[i], ids[i], &plans[i]);
        o += plans[i].bytes;
        if (tail)
            tail->next = e;
        else
            head = e;
        tail = e;
    }
    head->block = true; /* the first of the block owns the memory */
    head->block_cap = block_cap;
    if (plans != stack_plans)
        free(plans);
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

/* A block back to the spares (or freed when there are enough). */
static void release_block(struct analytics *a, struct ax_pending *block)
{
    if (!block)
        return;
    pthread_mutex_lock(&a->qlock);
    if (a->n_spare < (int)ARRAY_LEN(a->spare) && block->block_cap <= (8u << 20)) {
        a->spare[a->n_spare++] = block;
        block = NULL;
    }
    pthread_mutex_unlock(&a->qlock);
    free(block);
}

/* Releases a list of pending events made by analytics_submit (blocks). */
static void free_pending_list(struct analytics *a, struct ax_pending *list)
{
    struct ax_pending *block = NULL;
    while (list) {
        struct ax_pending *next = list->next;
        if (list->block) {
            release_block(a, block); /* the previous block: nothing in it is read any more */
            block = list;
        }
        list = next;
    }
    release_block(a, block);
}

struct load_ctx {
    struct analytics *a;
    size_t in_batch;
    int64_t max_row;
    char *buf; /* one pending at a time, reused */
    size_t cap;
};

static int load_one(const struct store_event *r, int64_t id, void *arg)
{
    struct load_ctx *c = arg;
    struct pending_plan pl;
    plan_pending(r, &pl);
    if (pl.bytes > c->cap) {
        c->cap = pl.bytes * 2;
        c->buf = xrealloc(c->buf, c->cap);
    }
    struct ax_pending *e = fill_pending(c->buf, r, id, &pl);
    if (c->in_batch == 0)
        pthread_rwlock_wrlock(&c->a->lock);
    apply(c->a, e);
    c->max_row = id;
    if (++c->in_batch == 10000) {
        pthread_rwlock_unlock(&c->a->lock);
        c->in_batch = 0;
    }
    return c->a->stop;
}

/* Recomputes the store-backed live counts of the projects asked about in the
 * last minute, at most once a second (force: now). */
/* Active sessions and events of the last 10 s, from the column store.
 * Needs the lock (read) or the analytics thread. */
static void live_memory_of(struct analytics *a, int64_t project_id, int64_t now,
                           struct live_memory *m)
{
    memset(m, 0, sizeof *m);
    struct ax_project *p = ax_project_find(a, project_id);
    if (!p)
        return;
    for (size_t i = 0; i < p->n_active; i++)
        m->active_sessions += p->sessions[p->active[i]].last_received > now - ACTIVE_MS;
    int64_t sec = now / 1000;
    for (int64_t s = sec - 10; s < sec; s++) {
        int k = (int)(s % 64);
        if (p->per_second_at[k] == s)
            m->events_last_10s += p->per_second[k];
    }
}

/* Recomputes the live counts of the projects asked about in the last
 * minute, at most once a second (force: now). The analytics thread only:
 * the column store is its own, so it reads it without the lock. */
void live_refresh(struct analytics *a, bool force)
{
    int64_t now = now_ms();
    if (!force && now - a->live_refreshed_at < 1000)
        return;
    a->live_refreshed_at = now;
    int64_t ids[32];
    int n = 0;
    pthread_mutex_lock(&a->live_lock);
    for (int i = 0; i < a->n_live; i++)
        if (now - a->live[i].asked_at < 60000)
            ids[n++] = a->live[i].project_id;
    pthread_mutex_unlock(&a->live_lock);
    for (int k = 0; k < n; k++) {
        struct store_live_counts c;
        if (store_live_counts(a->store, ids[k], now, &c))
            continue;
        struct live_memory m;
        live_memory_of(a, ids[k], now, &m);
        pthread_mutex_lock(&a->live_lock);
        for (int i = 0; i < a->n_live; i++) {
            if (a->live[i].project_id == ids[k]) {
                a->live[i].counts = c;
                a->live[i].mem = m;
                a->live[i].computed_at = now;
            }
        }
        pthread_mutex_unlock(&a->live_lock);
    }
}

int live_counts(struct analytics *a, int64_t project_id, int64_t now, struct store_live_counts *out,
                struct live_memory *mem)
{
    pthread_mutex_lock(&a->live_lock);
    for (int i = 0; i < a->n_live; i++) {
        if (a->live[i].project_id == project_id && a->live[i].computed_at) {
            a->live[i].asked_at = now;
            *out = a->live[i].counts;
            *mem = a->live[i].mem;
            pthread_mutex_unlock(&a->live_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&a->live_lock);
    /* First time for this project: computed here, then kept fresh. */
    int rc = store_live_counts(a->store, project_id, now, out);
    if (rc)
        return rc;
    pthread_rwlock_rdlock(&a->lock);
    live_memory_of(a, project_id, now, mem);
    pthread_rwlock_unlock(&a->lock);
    pthread_mutex_lock(&a->live_lock);
    int slot = -1;
    for (int i = 0; i < a->n_live && slot < 0; i++)
        if (a->live[i].project_id == project_id)
            slot = i;
    if (slot < 0 && a->n_live < (int)ARRAY_LEN(a->live))
        slot = a->n_live++;
    if (slot < 0) { /* full: the least recently asked goes */
        slot = 0;
        for (int i = 1; i < a->n_live; i++)
            if (a->live[i].asked_at < a->live[slot].asked_at)
                slot = i;
    }
    a->live[slot].project_id = project_id;
    a->live[slot].counts = *out;
    a->live[slot].mem = *mem;
    a->live[slot].computed_at = now;
    a->live[slot].asked_at = now;
    pthread_mutex_unlock(&a->live_lock);
    return 0;
}

static void *analytics_main(void *arg)
{
    struct analytics *a = arg;
    pthread_setname_np(pthread_self(), "analytics");
    /* Below the threads that answer requests and commit them: on a busy
     * machine the column store may lag a little (its queue is bounded; a
     * drop is counted), ingest must not (per-thread nice; best effort). */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), ANALYTICS_NICE);
    uint64_t t0 = mono_ns();
    struct load_ctx lc = {a, 0, 0, NULL, 0};
    store_scan_events_since(a->store, 0, load_one, &lc);
    free(lc.buf);
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
        while (!a->head && !a->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&a->qcond, &a->qlock, &ts) == ETIMEDOUT) {
                pthread_mutex_unlock(&a->qlock);
                live_refresh(a, false);
                pthread_mutex_lock(&a->qlock);
            }
        }
        if (!a->head)
            break;
        struct ax_pending *list = a->head;
        size_t n = a->queued;
        a->head = a->tail = NULL;
        a->queued = 0;
        pthread_mutex_unlock(&a->qlock);
        /* The write lock is taken for at most 1,000 events at a time, so a
         * report (kpis/live) never waits long behind a big batch. */
        pthread_rwlock_wrlock(&a->lock);
        int in_lock = 0;
        for (struct ax_pending *e = list; e; e = e->next) {
            if (e->row > a->loaded_max_row) /* not already read by the history scan */
                apply(a, e);
            if (++in_lock == 1000) {
                pthread_rwlock_unlock(&a->lock);
                pthread_rwlock_wrlock(&a->lock);
                in_lock = 0;
            }
        }
        prune_active(a);
        pthread_rwlock_unlock(&a->lock);
        free_pending_list(a, list);
        live_refresh(a, false);
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

static double gauge_visitors(void *ctx)
{
    struct analytics_stats st;
    analytics_stats(ctx, &st);
    return (double)st.visitors;
}

static double gauge_bytes(void *ctx)
{
    struct analytics_stats st;
    analytics_stats(ctx, &st);
    return (double)st.bytes;
}

struct analytics *analytics_new(const struct analytics_config *cfg, struct store *store)
{
    struct analytics *a = xcalloc(1, sizeof *a);
    a->cfg = *cfg;
    a->store = store;
    pthread_mutex_init(&a->qlock, NULL);
    pthread_cond_init(&a->qcond, NULL);
    pthread_cond_init(&a->applied_cond, NULL);
    pthread_mutex_init(&a->live_lock, NULL);
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
    metrics_gauge_fn("journey_analytics_visitors", "Visitors in the analytics column store", NULL,
                     gauge_visitors, a);
    metrics_gauge_fn("journey_analytics_bytes", "Memory held by the analytics column store", NULL,
                     gauge_bytes, a);
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
    free_pending_list(a, a->head);
    a->head = a->tail = NULL;
    for (int i = 0; i < a->n_spare; i++)
        free(a->spare[i]);
    a->n_spare = 0;
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
    pthread_mutex_destroy(&a->live_lock);
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
        out->bytes +=
            big_bytes(p->cap_events, p->events_mapped, p->n_events, sizeof *p->events) +
            big_bytes(p->cap_sessions, p->sessions_mapped, p->session_ids.n, sizeof *p->sessions) +
            big_bytes(p->cap_visitors, p->visitors_mapped, p->visitor_ids.n, sizeof *p->visitors) +
            big_bytes(p->cap_props, p->props_mapped, p->n_props, sizeof *p->props) +
            p->session_ids.strings.total + p->visitor_ids.strings.total;
    }
    pthread_rwlock_unlock(&a->lock);
    out->dropped = atomic_load(&a->dropped);
}
