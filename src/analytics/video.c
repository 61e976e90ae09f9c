/*
 * video.c - video views from the tracker's <video> events, and the per-video
 * reports (docs/video.md).
 *
 * A view is one video on one page visit of one session. The analytics
 * thread appends each $video_* event (and the session's $visibility
 * changes) to the open view of (session, video); a page view or $page_leave
 * of the session closes its open views. A view keeps its raw events (24
 * bytes each) and is computed when a report needs it and it changed since:
 * the events are put in time order (arrival order is not trusted) and
 * played through this state machine, in media time:
 *
 *   play          playing from `position` (a play while playing first
 *                 closes the stretch so far)
 *   heartbeat     closes the stretch [last position, position]; a heartbeat
 *                 while not playing (its play was lost) starts playing
 *   pause, ended  close the stretch; ended marks the view completed
 *   seeked        closes the stretch at `from`; a forward seek is a skipped
 *                 segment [from, to], a backward one a rewatch [to, from];
 *                 playing goes on from `to`
 *   ratechange    closes the stretch at the old rate, goes on at the new
 *   hidden        closes the stretch at the position the clock implies;
 *                 nothing counts until the next heartbeat says where it is
 *   end of view   (next page, page leave) closes a running stretch at the
 *                 position the clock implies
 *
 * A stretch counts as watched only if it is short enough to be trusted
 * (at most 7.5 s of wall time: heartbeats come every 5 s while playing and
 * visible) and its media advance fits its wall time at its rate (within
 * 50% + 1 s). So a hidden tab or lost heartbeats never count as watching;
 * rate is kept: media seconds and wall seconds are both summed.
 */
#include "analytics/analytics_internal.h"

#include "common/json_scan.h"
#include "common/timefmt.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRETCH_MAX_MS 7500
#define COMPLETE_SHARE 0.9
#define MAX_SECONDS 36000 /* a 10-hour video at most has a per-second curve */

/* ---- the per-project state ------------------------------------------------------ */

enum vkind { V_PLAY, V_PAUSE, V_SEEKED, V_RATE, V_ENDED, V_HEARTBEAT, V_HIDDEN, V_VISIBLE };

struct vev {
    int64_t ts;
    float pos, from, to;
    float rate;
    uint32_t kind : 8;
    uint32_t seq : 24; /* arrival order, for ties */
};

struct vresult {
    float duration;
    float unique_s, media_s, wall_s, furthest, left_at;
    bool completed;
    uint8_t quartiles; /* bit k: (k+1)/4 reached */
    uint16_t plays;
    uint32_t n_iv, n_pause, n_fwd, n_back, n_rates;
    float *iv;    /* watched stretches [a, b) in order, pairs */
    float *pause; /* positions */
    float *fwd;   /* skipped segments [from, to], pairs */
    float *back;  /* rewound segments [to, from], pairs */
    float *rates; /* (rate, media seconds) pairs */
    float data[];
};

struct ax_view {
    uint32_t session, visitor, video, path;
    uint32_t next_open; /* the session's next open view + 1 */
    bool open, dirty;
    int64_t start_ts, end_ts; /* end_ts: what closed it (0 while open) */
    struct vev *ev;
    uint32_t n_ev, cap_ev;
    struct vresult *res;
};

struct ax_video {
    char *id, *title, *src;
    float duration;
    uint32_t paths[8];
    int n_paths;
    uint32_t *views; /* indices into views */
    size_t n_views, cap_views;
};

struct ax_videos {
    struct strdict ids;
    struct ax_video *videos; /* by id */
    size_t cap_videos;
    struct ax_view *views;
    size_t n_views, cap_views;
    uint32_t *open_by_session; /* first open view + 1 */
    size_t cap_open;
    /* The last video_id as sent (its JSON string, quotes included) and its
     * index: consecutive events nearly always name the same video, and then
     * need no decoding or dictionary lookup. */
    char last_raw[64];
    size_t last_raw_n;
    uint32_t last_vid;
};

static void grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    *arr = xrealloc(*arr, c * size);
    memset((char *)*arr + *cap * size, 0, (c - *cap) * size);
    *cap = c;
}

static struct ax_videos *videos_of(struct ax_project *p)
{
    if (!p->videos) {
        p->videos = xcalloc(1, sizeof *p->videos);
        strdict_init(&p->videos->ids);
    }
    return p->videos;
}

void video_project_free(struct ax_project *p)
{
    struct ax_videos *vs = p->videos;
    if (!vs)
        return;
    for (size_t i = 0; i < vs->n_views; i++) {
        free(vs->views[i].ev);
        free(vs->views[i].res);
    }
    for (uint32_t i = 1; i < vs->ids.n; i++) {
        free(vs->videos[i].id);
        free(vs->videos[i].title);
        free(vs->videos[i].src);
        free(vs->videos[i].views);
    }
    free(vs->videos);
    free(vs->views);
    free(vs->open_by_session);
    strdict_free(&vs->ids);
    free(vs);
    p->videos = NULL;
}

/* ---- feeding (the analytics thread, write lock held) ------------------------------- */

static char *decode_or_null(struct json_span v, size_t max)
{
    if (!v.p || v.p[0] != '"' || v.n > max + 2)
        return NULL;
    char *out = xmalloc(v.n + 1);
    if (json_decode_string(v, out) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void view_add(struct ax_view *v, const struct vev *e)
{
    if (v->n_ev == v->cap_ev) {
        v->cap_ev = v->cap_ev ? v->cap_ev * 2 : 8;
        v->ev = xrealloc(v->ev, v->cap_ev * sizeof *v->ev);
    }
    v->ev[v->n_ev] = *e;
    v->ev[v->n_ev].seq = v->n_ev & 0xffffff;
    v->n_ev++;
    v->dirty = true;
}

/* A JSON number's value. The tracker's positions ("12.345") take the exact
 * fast path: at most 15 significant digits and no exponent, so the digits
 * as an integer and the power of ten are both exact doubles and one
 * division rounds correctly (the result strtod would give). Anything else
 * goes to strtod. */
static double number_value(struct json_span v)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = 0;
    bool neg = i < v.n && v.p[i] == '-';
    i += neg;
    uint64_t m = 0;
    int digits = 0, frac = -1;
    for (; i < v.n; i++) {
        char c = v.p[i];
        if (c >= '0' && c <= '9') {
            m = m * 10 + (uint64_t)(c - '0');
            digits++;
            if (frac >= 0)
                frac++;
        } else if (c == '.' && frac < 0) {
            frac = 0;
        } else {
            break;
        }
    }
    if (i == v.n && digits > 0 && digits <= 15 && frac != 0) {
        double x = (double)m / pow10[frac > 0 ? frac : 0];
        return neg ? -x : x;
    }
    char tmp[40];
    size_t n = v.n < sizeof tmp - 1 ? v.n : sizeof tmp - 1;
    memcpy(tmp, v.p, n);
    tmp[n] = '\0';
    return strtod(tmp, NULL);
}

void video_event(struct analytics *a, struct ax_project *p, const char *name, const char *payload,
                 size_t payload_len, int64_t ts, uint32_t session, uint32_t visitor, uint32_t path)
{
    (void)a;
    static const struct {
        const char *name;
        enum vkind kind;
    } kinds[] = {{"$video_play", V_PLAY},     {"$video_pause", V_PAUSE},
                 {"$video_seeked", V_SEEKED}, {"$video_ratechange", V_RATE},
                 {"$video_ended", V_ENDED},   {"$video_heartbeat", V_HEARTBEAT}};
    int kind = -1;
    for (size_t i = 0; i < ARRAY_LEN(kinds) && kind < 0; i++)
        if (!strcmp(name, kinds[i].name))
            kind = (int)kinds[i].kind;
    if (kind < 0 || !payload)
        return;
    struct json_span props = {0};
    if (json_object_find(payload, payload_len, "properties", &props) != 1)
        return;
    /* one pass over the properties for the members a view needs */
    struct json_span idv = {0}, title = {0}, src = {0};
    double num[5] = {0, 0, 0, 0, 1}; /* duration, position, from, to, rate */
    static const char *const num_keys[5] = {"duration", "position", "from", "to", "rate"};
    struct json_iter it;
    struct json_span k, val;
    if (json_iter_begin(&it, props.p, props.n, '{'))
        return;
    while (json_iter_member(&it, &k, &val, NULL) == 1) {
        if (k.n == 8 && !memcmp(k.p, "video_id", 8)) {
            idv = val;
        } else if (k.n == 5 && !memcmp(k.p, "title", 5)) {
            title = val;
        } else if (k.n == 3 && !memcmp(k.p, "src", 3)) {
            src = val;
        } else if (val.p[0] == '-' || (val.p[0] >= '0' && val.p[0] <= '9')) {
            for (int i = 0; i < 5; i++) {
                if (k.n == strlen(num_keys[i]) && !memcmp(k.p, num_keys[i], k.n)) {
                    double x = number_value(val);
                    if (isfinite(x))
                        num[i] = x;
                    break;
                }
            }
        }
    }
    char idbuf[520];
    if (!idv.p || idv.p[0] != '"' || idv.n > sizeof idbuf)
        return;
    struct ax_videos *vs = videos_of(p);
    uint32_t vid;
    if (vs->last_raw_n && idv.n == vs->last_raw_n && !memcmp(idv.p, vs->last_raw, idv.n)) {
        vid = vs->last_vid;
    } else {
        if (json_decode_string(idv, idbuf) <= 0)
            return;
        vid = strdict_intern(&vs->ids, idbuf, strlen(idbuf));
        grow((void **)&vs->videos, &vs->cap_videos, vid + 1, sizeof *vs->videos);
        if (!vs->videos[vid].id)
            vs->videos[vid].id = xstrdup(idbuf);
        vs->last_raw_n = 0;
        if (idv.n <= sizeof vs->last_raw) {
            memcpy(vs->last_raw, idv.p, idv.n);
            vs->last_raw_n = idv.n;
            vs->last_vid = vid;
        }
    }
    struct ax_video *video = &vs->videos[vid];
    if (!video->title && !video->src && !video->n_views) {
        video->title = decode_or_null(title, 200);
        video->src = decode_or_null(src, 500);
    }
    double duration = num[0];
    if (duration > video->duration && duration < MAX_SECONDS)
        video->duration = (float)duration;
    bool known_path = false;
    for (int i = 0; i < video->n_paths; i++)
        known_path |= video->paths[i] == path;
    if (!known_path && path && video->n_paths < (int)ARRAY_LEN(video->paths))
        video->paths[video->n_paths++] = path;

    /* the open view of (session, video), or a new one */
    grow((void **)&vs->open_by_session, &vs->cap_open, session + 1, sizeof *vs->open_by_session);
    uint32_t vi = vs->open_by_session[session];
    while (vi && vs->views[vi - 1].video != vid)
        vi = vs->views[vi - 1].next_open;
    if (!vi) {
        grow((void **)&vs->views, &vs->cap_views, vs->n_views + 1, sizeof *vs->views);
        struct ax_view *nv = &vs->views[vs->n_views];
        memset(nv, 0, sizeof *nv);
        nv->session = session;
        nv->visitor = visitor;
        nv->video = vid;
        nv->path = path;
        nv->open = true;
        nv->start_ts = ts;
        nv->next_open = vs->open_by_session[session];
        vs->open_by_session[session] = (uint32_t)++vs->n_views;
        vi = (uint32_t)vs->n_views;
        if (video->n_views == video->cap_views) {
            video->cap_views = video->cap_views ? video->cap_views * 2 : 16;
            video->views = xrealloc(video->views, video->cap_views * sizeof *video->views);
        }
        video->views[video->n_views++] = vi - 1;
    }
    struct ax_view *v = &vs->views[vi - 1];
    if (ts < v->start_ts)
        v->start_ts = ts;
    struct vev e = {.ts = ts,
                    .pos = (float)num[1],
                    .from = (float)num[2],
                    .to = (float)num[3],
                    .rate = (float)num[4],
                    .kind = (uint32_t)kind};
    if (!(e.rate > 0 && e.rate <= 16))
        e.rate = 1;
    view_add(v, &e);
}

void video_visibility(struct ax_project *p, uint32_t session, int64_t ts, bool hidden)
{
    struct ax_videos *vs = p->videos;
    if (!vs || session >= vs->cap_open)
        return;
    struct vev e = {.ts = ts, .rate = 1, .kind = hidden ? V_HIDDEN : V_VISIBLE};
    for (uint32_t vi = vs->open_by_session[session]; vi; vi = vs->views[vi - 1].next_open)
        view_add(&vs->views[vi - 1], &e);
}

void video_page_boundary(struct ax_project *p, uint32_t session, int64_t ts)
{
    struct ax_videos *vs = p->videos;
    if (!vs || session >= vs->cap_open)
        return;
    uint32_t vi = vs->open_by_session[session];
    while (vi) {
        struct ax_view *v = &vs->views[vi - 1];
        uint32_t next = v->next_open;
        v->open = false;
        v->end_ts = ts;
        v->next_open = 0;
        v->dirty = true;
        vi = next;
    }
    vs->open_by_session[session] = 0;
}

/* ---- one view -------------------------------------------------------------------- */

static int cmp_vev(const void *x, const void *y)
{
    const struct vev *a = x, *b = y;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct fvec {
    float *v;
    uint32_t n, cap;
};

static void fpush(struct fvec *f, float x)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->v = xrealloc(f->v, f->cap * sizeof *f->v);
    }
    f->v[f->n++] = x;
}

static int cmp_float_pair(const void *x, const void *y)
{
    const float *a = x, *b = y;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

struct machine {
    bool playing, broken;
    double pos;
    int64_t ts;
    double rate;
    double media_s, wall_s;
    struct fvec iv, pause, fwd, back, rates;
};

static void add_rate(struct machine *m, double rate, double media)
{
    for (uint32_t i = 0; i < m->rates.n; i += 2) {
        if (fabsf(m->rates.v[i] - (float)rate) < 0.001f) {
            m->rates.v[i + 1] += (float)media;
            return;
        }
    }
    fpush(&m->rates, (float)rate);
    fpush(&m->rates, (float)media);
}

/* The stretch from the last known (ts, pos) to (ts, pos) while playing. */
static void close_stretch(struct machine *m, int64_t ts, double pos)
{
    int64_t dt = ts - m->ts;
    double adv = pos - m->pos;
    bool trusted = !m->broken && dt >= 0 && dt <= STRETCH_MAX_MS && adv >= 0 &&
                   adv <= (double)dt / 1000.0 * m->rate * 1.5 + 1.0;
    if (trusted && adv > 0) {
        fpush(&m->iv, (float)m->pos);
        fpush(&m->iv, (float)pos);
        m->media_s += adv;
        m->wall_s += (double)dt / 1000.0;
        add_rate(m, m->rate, adv);
    }
    m->broken = false;
    m->pos = pos;
    m->ts = ts;
}

/* Where the clock says the playhead is, for a stretch closed without a position. */
static double implied(const struct machine *m, int64_t ts, double duration)
{
    double p = m->pos + (double)(ts - m->ts) / 1000.0 * m->rate;
    return duration > 0 && p > duration ? duration : p;
}

static void view_compute(struct ax_view *v, float duration)
{
    qsort(v->ev, v->n_ev, sizeof *v->ev, cmp_vev);
    struct machine m = {.rate = 1};
    bool completed = false;
    uint16_t plays = 0;
    for (uint32_t i = 0; i < v->n_ev; i++) {
        const struct vev *e = &v->ev[i];
        switch ((enum vkind)e->kind) {
        case V_PLAY:
            plays++;
            if (m.playing)
                close_stretch(&m, e->ts, e->pos);
            m.playing = true;
            m.broken = false;
            m.pos = e->pos;
            m.ts = e->ts;
            m.rate = e->rate;
            break;
        case V_HEARTBEAT:
            if (!m.playing) {
                m.playing = true;
                m.broken = false;
                m.pos = e->pos;
                m.ts = e->ts;
                m.rate = e->rate;
                if (!plays)
                    plays = 1;
            } else {
                close_stretch(&m, e->ts, e->pos);
            }
            break;
        case V_PAUSE:
            if (m.playing) {
                close_stretch(&m, e->ts, e->pos);
                m.playing = false;
            }
            fpush(&m.pause, e->pos);
            m.pos = e->pos;
            break;
        case V_ENDED:
            if (m.playing)
                close_stretch(&m, e->ts, e->pos);
            m.playing = false;
            m.pos = e->pos;
            completed = true;
            break;
        case V_SEEKED: {
            if (m.playing)
                close_stretch(&m, e->ts, e->from);
            struct fvec *f = e->to > e->from ? &m.fwd : &m.back;
            if (fabsf(e->to - e->from) >= 0.5f) {
                fpush(f, e->to > e->from ? e->from : e->to);
                fpush(f, e->to > e->from ? e->to : e->from);
            }
            m.pos = e->to;
            m.ts = e->ts;
            break;
        }
        case V_RATE:
            if (m.playing)
                close_stretch(&m, e->ts, e->pos);
            m.rate = e->rate;
            break;
        case V_HIDDEN:
            if (m.playing) {
                close_stretch(&m, e->ts, implied(&m, e->ts, duration));
                m.broken = true; /* until a heartbeat says where it is */
            }
            break;
        case V_VISIBLE:
            break;
        }
    }
    if (m.playing && v->end_ts) {
        int64_t end = v->end_ts;
        if (end >= m.ts)
            close_stretch(&m, end, implied(&m, end, duration));
    }
    /* union of the stretches */
    uint32_t n_iv = m.iv.n / 2;
    float *sorted = xmalloc((n_iv ? n_iv : 1) * 2 * sizeof *sorted);
    memcpy(sorted, m.iv.v, n_iv * 2 * sizeof *sorted);
    qsort(sorted, n_iv, 2 * sizeof *sorted, cmp_float_pair);
    double unique = 0, furthest = 0, cur_a = -1, cur_b = -1;
    for (uint32_t i = 0; i < n_iv; i++) {
        double a = sorted[2 * i], b = sorted[2 * i + 1];
        if (b > furthest)
            furthest = b;
        if (a > cur_b) {
            if (cur_b > cur_a)
                unique += cur_b - cur_a;
            cur_a = a;
            cur_b = b;
        } else if (b > cur_b) {
            cur_b = b;
        }
    }
    if (cur_b > cur_a)
        unique += cur_b - cur_a;
    free(sorted);
    if (duration > 0 && furthest >= COMPLETE_SHARE * duration)
        completed = true;
    size_t floats = m.iv.n + m.pause.n + m.fwd.n + m.back.n + m.rates.n;
    struct vresult *r = xcalloc(1, sizeof *r + floats * sizeof(float));
    r->duration = duration;
    r->unique_s = (float)unique;
    r->media_s = (float)m.media_s;
    r->wall_s = (float)m.wall_s;
    r->furthest = (float)furthest;
    r->left_at = (float)m.pos;
    r->completed = completed;
    r->plays = plays;
    for (int q = 0; q < 4; q++)
        if (completed || (duration > 0 && furthest >= duration * (q + 1) / 4.0 - 0.5))
            r->quartiles |= (uint8_t)(1u << q);
    float *o = r->data;
    struct {
        struct fvec *src;
        float **dst;
        uint32_t *n;
        uint32_t div;
    } parts[] = {{&m.iv, &r->iv, &r->n_iv, 2},
                 {&m.pause, &r->pause, &r->n_pause, 1},
                 {&m.fwd, &r->fwd, &r->n_fwd, 2},
                 {&m.back, &r->back, &r->n_back, 2},
                 {&m.rates, &r->rates, &r->n_rates, 2}};
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        *parts[i].dst = o;
        *parts[i].n = parts[i].src->n / parts[i].div;
        if (parts[i].src->n)
            memcpy(o, parts[i].src->v, parts[i].src->n * sizeof *o);
        o += parts[i].src->n;
        free(parts[i].src->v);
    }
    free(v->res);
    v->res = r;
    v->dirty = false;
}

/* Brings the views of a video up to date. Called with the write lock: views
 * are computed in place. */
static void video_refresh(struct ax_videos *vs, struct ax_video *video)
{
    for (size_t i = 0; i < video->n_views; i++) {
        struct ax_view *v = &vs->views[video->views[i]];
        if (v->dirty || !v->res || v->res->duration != video->duration)
            view_compute(v, video->duration);
    }
}

size_t video_refresh_all(struct analytics *a)
{
    size_t n = 0;
    pthread_rwlock_wrlock(&a->lock);
    for (int k = 0; k < a->n_projects; k++) {
        struct ax_videos *vs = a->projects[k]->videos;
        if (!vs)
            continue;
        for (uint32_t id = 1; id < vs->ids.n; id++) {
            video_refresh(vs, &vs->videos[id]);
            n += vs->videos[id].n_views;
        }
    }
    pthread_rwlock_unlock(&a->lock);
    return n;
}

/* ---- reports --------------------------------------------------------------------- */

struct vfilter {
    int64_t from, to;
    struct segment *sg;
};

static bool view_in(const struct ax_view *v, const struct vfilter *f)
{
    return v->start_ts >= f->from && v->start_ts < f->to && segment_has(f->sg, v->session);
}

/* Parses range and segment. The caller holds the lock (write: views get computed). */
static int filter_parse(struct analytics *a, struct ax_project *p, int64_t project_id,
                        const struct report_params *params, struct vfilter *f,
                        struct report_error *err)
{
    memset(f, 0, sizeof *f);
    if (param_range(params, &f->from, &f->to, err))
        return -1;
    cJSON *owned = NULL;
    const cJSON *segj = param_json(params, "segment", &owned, err);
    if (!segj && err->status)
        return -1;
    int rc = segment_parse(a, p, project_id, params, "segment", segj, &f->sg, err);
    cJSON_Delete(owned);
    return rc;
}

struct vsummary {
    int64_t views, completed, visitors;
    double unique_s, wall_s, share_sum;
    int64_t pageviews; /* of the pages that showed it */
};

static void summarize(struct ax_project *p, struct ax_video *video, const struct vfilter *f,
                      struct vsummary *s, uint8_t *seen_visitor)
{
    struct ax_videos *vs = p->videos;
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < video->n_views; i++) {
        const struct ax_view *v = &vs->views[video->views[i]];
        if (!view_in(v, f) || !v->res)
            continue;
        s->views++;
        s->completed += v->res->completed;
        s->unique_s += v->res->unique_s;
        s->wall_s += v->res->wall_s;
        if (video->duration > 0)
            s->share_sum += fmin(1.0, v->res->unique_s / video->duration);
        if (!seen_visitor[v->visitor]) {
            seen_visitor[v->visitor] = 1;
            s->visitors++;
        }
    }
    /* undo the marks for the next video */
    for (size_t i = 0; i < video->n_views; i++)
        seen_visitor[vs->views[video->views[i]].visitor] = 0;
}

/* Page views of the pages a video was seen on, in the range and segment. */
static void count_pageviews(struct ax_project *p, struct ax_video **videos, int n,
                            struct vsummary *sums, const struct vfilter *f, size_t n_paths)
{
    /* path id -> bit mask of the videos shown there (the first 64 videos) */
    uint64_t *mask = xcalloc(n_paths + 1, sizeof *mask);
    for (int k = 0; k < n && k < 64; k++)
        for (int i = 0; i < videos[k]->n_paths; i++)
            if (videos[k]->paths[i] <= n_paths)
                mask[videos[k]->paths[i]] |= 1ull << k;
    for (size_t i = 0; i < p->n_events; i++) {
        const struct ax_event *e = &p->events[i];
        if ((e->type != AX_PAGE && e->type != AX_SCREEN) || !e->path || !mask[e->path])
            continue;
        if (e->ts < f->from || e->ts >= f->to || !segment_has(f->sg, e->session))
            continue;
        uint64_t m = mask[e->path];
        while (m) {
            int k = __builtin_ctzll(m);
            m &= m - 1;
            sums[k].pageviews++;
        }
    }
    free(mask);
}

static void summary_json(struct buf *out, const struct ax_video *video, const struct vsummary *s)
{
    buf_puts(out, "\"id\":");
    json_str(out, video->id);
    buf_puts(out, ",\"title\":");
    json_str(out, video->title);
    buf_puts(out, ",\"src\":");
    json_str(out, video->src);
    buf_puts(out, ",\"duration_seconds\":");
    json_double(out, round(video->duration * 1000) / 1000);
    buf_printf(out, ",\"plays\":%lld,\"page_views\":%lld,\"play_rate\":", (long long)s->views,
               (long long)s->pageviews);
    json_ratio(out, s->views, s->pageviews);
    buf_printf(out, ",\"unique_viewers\":%lld,\"average_share_viewed\":", (long long)s->visitors);
    json_double(out, s->views ? round(s->share_sum / (double)s->views * 10000) / 10000 : NAN);
    buf_printf(out, ",\"completions\":%lld,\"completion_rate\":", (long long)s->completed);
    json_ratio(out, s->completed, s->views);
    buf_puts(out, ",\"watch_seconds_total\":");
    json_double(out, round(s->wall_s * 10) / 10);
    buf_puts(out, ",\"watch_seconds_average\":");
    json_double(out, s->views ? round(s->wall_s / (double)s->views * 10) / 10 : NAN);
}

int report_videos(struct analytics *a, int64_t project_id, const struct report_params *params,
                  enum report_format fmt, struct buf *out, struct report_error *err)
{
    pthread_rwlock_wrlock(&a->lock);
    struct ax_project *p = ax_project_find(a, project_id);
    struct vfilter f;
    int rc = filter_parse(a, p, project_id, params, &f, err);
    if (rc) {
        pthread_rwlock_unlock(&a->lock);
        return rc;
    }
    struct ax_videos *vs = p ? p->videos : NULL;
    int n = vs ? (int)vs->ids.n - 1 : 0;
    struct ax_video **list = xcalloc((size_t)(n > 0 ? n : 1), sizeof *list);
    struct vsummary *sums = xcalloc((size_t)(n > 0 ? n : 1), sizeof *sums);
    uint8_t *seen = p ? xcalloc(p->visitor_ids.n + 1, 1) : NULL;
    for (int k = 0; k < n; k++) {
        list[k] = &vs->videos[k + 1];
        video_refresh(vs, list[k]);
        summarize(p, list[k], &f, &sums[k], seen);
    }
    if (n)
        count_pageviews(p, list, n, sums, &f, a->paths.n);
    if (fmt == REPORT_CSV) {
        buf_puts(out, "id,title,src,duration_seconds,plays,page_views,play_rate,unique_viewers,"
                      "average_share_viewed,completions,completion_rate,watch_seconds_total,"
                      "watch_seconds_average\r\n");
        for (int k = 0; k < n; k++) {
            csv_field(out, list[k]->id);
            buf_putc(out, ',');
            csv_field(out, list[k]->title);
            buf_putc(out, ',');
            csv_field(out, list[k]->src);
            buf_putc(out, ',');
            csv_double(out, list[k]->duration);
            buf_printf(out, ",%lld,%lld,", (long long)sums[k].views, (long long)sums[k].pageviews);
            csv_ratio(out, sums[k].views, sums[k].pageviews);
            buf_printf(out, ",%lld,", (long long)sums[k].visitors);
            if (sums[k].views)
                csv_double(out, round(sums[k].share_sum / (double)sums[k].views * 10000) / 10000);
            buf_printf(out, ",%lld,", (long long)sums[k].completed);
            csv_ratio(out, sums[k].completed, sums[k].views);
            buf_putc(out, ',');
            csv_double(out, round(sums[k].wall_s * 10) / 10);
            buf_putc(out, ',');
            if (sums[k].views)
                csv_double(out, round(sums[k].wall_s / (double)sums[k].views * 10) / 10);
            buf_puts(out, "\r\n");
        }
    } else {
        buf_puts(out, "{\"from\":");
        json_time(out, f.from);
        buf_puts(out, ",\"to\":");
        json_time(out, f.to);
        buf_puts(out, ",\"videos\":[");
        for (int k = 0; k < n; k++) {
            buf_puts(out, k ? ",{" : "{");
            summary_json(out, list[k], &sums[k]);
            buf_putc(out, '}');
        }
        buf_puts(out, "]}");
    }
    pthread_rwlock_unlock(&a->lock);
    free(list);
    free(sums);
    free(seen);
    segment_free(f.sg);
    return 0;
}

/* ---- one video -------------------------------------------------------------------- */

/* Adds +1 to the seconds a stretch [a, b) covers: second s counts when the
 * stretch covers its middle (s + 0.5). diff has n + 1 cells. */
static void cover(int32_t *diff, int n, double a, double b)
{
    int first = (int)ceil(a - 0.5), last = (int)floor(b - 0.5);
    if (b - 0.5 == floor(b - 0.5))
        last--; /* [a, b) is open at b */
    if (first < 0)
        first = 0;
    if (last >= n)
        last = n - 1;
    if (first > last)
        return;
    diff[first]++;
    diff[last + 1]--;
}

struct moment {
    const char *kind;
    int start, end, at;
    double value;
};

static int cmp_moment(const void *x, const void *y)
{
    const struct moment *a = x, *b = y;
    return a->value < b->value ? 1 : a->value > b->value ? -1 : 0;
}

static double median_of_int(const int32_t *v, int n)
{
    if (n <= 0)
        return 0;
    double *tmp = xmalloc((size_t)n * sizeof *tmp);
    for (int i = 0; i < n; i++)
        tmp[i] = v[i];
    double m = stats_median(tmp, (size_t)n);
    free(tmp);
    return m;
}

/* Conversion of the sessions that visited a page showing the video, by how
 * much of it they watched. */
struct conv_ctx {
    struct ax_project *p;
    uint8_t *converted; /* by session id: 1 not converted, 2 converted (0: unknown) */
};

static int conv_row(const struct store_session *r, void *arg)
{
    struct conv_ctx *c = arg;
    uint32_t sid = strdict_find(&c->p->session_ids, r->session_id);
    if (sid)
        c->converted[sid] = r->converted ? 2 : 1;
    return 0;
}

/* The video of a per-video report, its views brought up to date, with the
 * analytics write lock held (the caller unlocks); NULL with the lock
 * released and err set if there is no such video or the filter is bad. */
static struct ax_video *video_locked(struct analytics *a, int64_t project_id, const char *video_id,
                                     const struct report_params *params, struct ax_project **pp,
                                     struct vfilter *f, struct report_error *err)
{
    pthread_rwlock_wrlock(&a->lock);
    struct ax_project *p = ax_project_find(a, project_id);
    struct ax_videos *vs = p ? p->videos : NULL;
    uint32_t vid = vs ? strdict_find(&vs->ids, video_id) : 0;
    if (!vid) {
        pthread_rwlock_unlock(&a->lock);
        report_fail(err, 404, "not_found", "id", "no video %.100s", video_id);
        return NULL;
    }
    if (filter_parse(a, p, project_id, params, f, err)) {
        pthread_rwlock_unlock(&a->lock);
        return NULL;
    }
    struct ax_video *video = &vs->videos[vid];
    video_refresh(vs, video);
    *pp = p;
    return video;
}

int report_video(struct analytics *a, int64_t project_id, const char *video_id,
                 const struct report_params *params, enum report_format fmt, struct buf *out,
                 struct report_error *err)
{
    struct ax_project *p;
    struct vfilter f;
    struct ax_video *video = video_locked(a, project_id, video_id, params, &p, &f, err);
    if (!video)
        return -1;
    struct ax_videos *vs = p->videos;
    struct vsummary sum;
    uint8_t *seen = xcalloc(p->visitor_ids.n + 1, 1);
    summarize(p, video, &f, &sum, seen);
    free(seen);
    count_pageviews(p, &video, 1, &sum, &f, a->paths.n);
    int S = (int)ceil(video->duration);
    if (S < 1)
        S = 1;
    if (S > MAX_SECONDS)
        S = MAX_SECONDS;
    int32_t *watched = xcalloc((size_t)S + 1, sizeof *watched); /* views watching second s */
    int32_t *plays = xcalloc((size_t)S + 1, sizeof *plays);     /* times second s was played */
    int32_t *skipped = xcalloc((size_t)S + 1, sizeof *skipped);
    int32_t *pauses = xcalloc((size_t)S + 1, sizeof *pauses);
    double rate_media[8] = {0};
    static const float rate_steps[8] = {0.25f, 0.5f, 0.75f, 1.0f, 1.25f, 1.5f, 1.75f, 2.0f};
    double rate_other = 0;
    int64_t views = 0;
    float *merged = NULL;
    size_t cap_merged = 0;
    for (size_t i = 0; i < video->n_views; i++) {
        const struct ax_view *v = &vs->views[video->views[i]];
        if (!view_in(v, &f) || !v->res)
            continue;
        const struct vresult *r = v->res;
        views++;
        /* plays: every stretch; watched: their union */
        if (r->n_iv * 2 > cap_merged) {
            cap_merged = r->n_iv * 2;
            merged = xrealloc(merged, cap_merged * sizeof *merged);
        }
        memcpy(merged, r->iv, r->n_iv * 2 * sizeof *merged);
        qsort(merged, r->n_iv, 2 * sizeof *merged, cmp_float_pair);
        double ca = -1, cb = -1;
        for (uint32_t k = 0; k < r->n_iv; k++) {
            cover(plays, S, r->iv[2 * k], r->iv[2 * k + 1]);
            double x = merged[2 * k], y = merged[2 * k + 1];
            if (x > cb) {
                if (cb > ca)
                    cover(watched, S, ca, cb);
                ca = x;
                cb = y;
            } else if (y > cb) {
                cb = y;
            }
        }
        if (cb > ca)
            cover(watched, S, ca, cb);
        for (uint32_t k = 0; k < r->n_fwd; k++)
            cover(skipped, S, r->fwd[2 * k], r->fwd[2 * k + 1]);
        for (uint32_t k = 0; k < r->n_pause; k++) {
            int s = (int)r->pause[k];
            if (s >= S) /* a pause at the very end belongs to the last second */
                s = S - 1;
            if (s >= 0)
                pauses[s]++;
        }
        for (uint32_t k = 0; k < r->n_rates; k++) {
            float rate = r->rates[2 * k];
            bool placed = false;
            for (int q = 0; q < 8 && !placed; q++)
                if (fabsf(rate - rate_steps[q]) < 0.01f) {
                    rate_media[q] += r->rates[2 * k + 1];
                    placed = true;
                }
            if (!placed)
                rate_other += r->rates[2 * k + 1];
        }
    }
    free(merged);
    /* prefix sums: per second */
    for (int s = 1; s <= S; s++) {
        watched[s] += watched[s - 1];
        plays[s] += plays[s - 1];
        skipped[s] += skipped[s - 1];
    }
    int32_t *rewatch = xcalloc((size_t)S + 1, sizeof *rewatch);
    double mean_ret = 0;
    for (int s = 0; s < S; s++) {
        rewatch[s] = plays[s] - watched[s];
        mean_ret += views ? (double)watched[s] / (double)views : 0;
    }
    mean_ret /= S;

    /* Key moments. Spikes: rewatches far above the video's usual (3x the
     * median and at least 5% of the views, 2 views at least), merged into
     * segments. Dips: the share watching falls by at least 5 points and 3x
     * the usual 5-second fall within 5 seconds. Half: where fewer than half
     * of the views still watch. */
    struct moment moments[64];
    int n_moments = 0;
    double med_rw = median_of_int(rewatch, S);
    double spike_min = fmax(3 * med_rw, fmax(0.05 * (double)views, 2));
    for (int s = 0; s < S && n_moments < 20;) {
        if (rewatch[s] < spike_min) {
            s++;
            continue;
        }
        int e = s;
        int32_t peak = rewatch[s];
        while (e + 1 < S && rewatch[e + 1] >= spike_min) {
            e++;
            if (rewatch[e] > peak)
                peak = rewatch[e];
        }
        int at = s;
        for (int k = s; k <= e; k++)
            if (rewatch[k] == peak) {
                at = k;
                break;
            }
        moments[n_moments++] = (struct moment){"rewatch_spike", s, e + 1, at,
                                               views ? (double)peak / (double)views : 0};
        s = e + 1;
    }
    int n_spikes = n_moments;
    if (n_spikes > 1)
        qsort(moments, (size_t)n_spikes, sizeof *moments, cmp_moment);
    if (n_spikes > 5)
        n_spikes = n_moments = 5;
    int W = S >= 20 ? 5 : 1;
    if (views > 0 && S > W) {
        int32_t *drops = xcalloc((size_t)S, sizeof *drops);
        for (int s = 0; s + W < S; s++)
            drops[s] = watched[s] - watched[s + W];
        double med_drop = median_of_int(drops, S - W);
        double dip_min = fmax(3 * med_drop, 0.05 * (double)views);
        int dips_start = n_moments;
        for (int s = 0; s + W < S && n_moments < dips_start + 20;) {
            if (drops[s] < dip_min || drops[s] <= 0) {
                s++;
                continue;
            }
            int e = s, best = s;
            while (e + 1 + W < S && drops[e + 1] >= dip_min) {
                e++;
                if (drops[e] > drops[best])
                    best = e;
            }
            /* the second at which most of the window's fall happens */
            int at = best + 1;
            for (int k = best + 1; k <= best + W && k < S; k++)
                if (watched[k - 1] - watched[k] > watched[at - 1] - watched[at])
                    at = k;
            moments[n_moments++] =
                (struct moment){"dip", best, best + W + 1, at, (double)drops[best] / (double)views};
            s = e + 1;
        }
        int n_dips = n_moments - dips_start;
        if (n_dips > 1)
            qsort(moments + dips_start, (size_t)n_dips, sizeof *moments, cmp_moment);
        if (n_dips > 5)
            n_moments = dips_start + 5;
        free(drops);
    }
    int half = -1;
    for (int s = 0; s < S && views; s++)
        if ((double)watched[s] <= 0.5 * (double)views) {
            half = s;
            break;
        }

    /* Conversion by how much was watched: sessions with a page view of the
     * video's pages, their best view's share. */
    struct conv_ctx cc = {p, xcalloc(p->session_ids.n + 1, 1)};
    struct store_session_query sq = {
        .project_id = project_id, .from = f.from - 86400000, .to = f.to + 86400000};
    if (store_sessions(a->store, &sq, conv_row, &cc) < 0) {
        report_fail(err, 503, "store_unavailable", "", "cannot read sessions now");
        pthread_rwlock_unlock(&a->lock);
        goto free_all;
    }
    float *best = xcalloc(p->session_ids.n + 1, sizeof *best); /* -1: no page view */
    for (size_t s = 0; s < p->session_ids.n; s++)
        best[s] = -1;
    for (size_t i = 0; i < p->n_events; i++) {
        const struct ax_event *e = &p->events[i];
        if ((e->type != AX_PAGE && e->type != AX_SCREEN) || !e->path)
            continue;
        bool shows = false;
        for (int k = 0; k < video->n_paths; k++)
            shows |= video->paths[k] == e->path;
        if (shows && e->ts >= f.from && e->ts < f.to && segment_has(f.sg, e->session) &&
            best[e->session] < 0)
            best[e->session] = 0;
    }
    for (size_t i = 0; i < video->n_views; i++) {
        const struct ax_view *v = &vs->views[video->views[i]];
        if (!view_in(v, &f) || !v->res || video->duration <= 0)
            continue;
        float share = fminf(1.0f, v->res->unique_s / video->duration);
        if (share > best[v->session])
            best[v->session] = share;
    }
    int64_t bn[4] = {0}, bc[4] = {0};
    for (size_t s = 1; s < p->session_ids.n; s++) {
        if (best[s] < 0 || !cc.converted[s])
            continue;
        int b = best[s] <= 0 ? 0 : best[s] < 0.25f ? 1 : best[s] <= 0.75f ? 2 : 3;
        bn[b]++;
        bc[b] += cc.converted[s] == 2;
    }
    free(best);
    free(cc.converted);
    pthread_rwlock_unlock(&a->lock);

    static const char *const bucket_names[4] = {"none", "under_25", "25_to_75", "over_75"};
    if (fmt == REPORT_CSV) {
        /* the per-second table: the curve and the heat */
        buf_puts(out, "second,watching,share,relative,plays,rewatches,skips,pauses\r\n");
        for (int s = 0; s < S; s++) {
            double share = views ? (double)watched[s] / (double)views : 0;
            buf_printf(out, "%d,%d,", s, watched[s]);
            csv_double(out, round(share * 10000) / 10000);
            buf_putc(out, ',');
            csv_double(out, mean_ret > 0 ? round(share / mean_ret * 10000) / 10000 : 0);
            buf_printf(out, ",%d,%d,%d,%d\r\n", plays[s], rewatch[s], skipped[s], pauses[s]);
        }
    } else {
        buf_putc(out, '{');
        summary_json(out, video, &sum);
        buf_puts(out, ",\"from\":");
        json_time(out, f.from);
        buf_puts(out, ",\"to\":");
        json_time(out, f.to);
        buf_puts(out, ",\"retention\":{\"seconds\":[");
        for (int s = 0; s < S; s++)
            buf_printf(out, "%s%d", s ? "," : "", watched[s]);
        buf_puts(out, "],\"share\":[");
        for (int s = 0; s < S; s++) {
            if (s)
                buf_putc(out, ',');
            json_double(out, views ? round((double)watched[s] / (double)views * 10000) / 10000 : 0);
        }
        buf_puts(out, "],\"relative\":[");
        for (int s = 0; s < S; s++) {
            double share = views ? (double)watched[s] / (double)views : 0;
            if (s)
                buf_putc(out, ',');
            json_double(out, mean_ret > 0 ? round(share / mean_ret * 10000) / 10000 : 0);
        }
        buf_puts(out, "]},\"heat\":{\"rewatches\":[");
        for (int s = 0; s < S; s++)
            buf_printf(out, "%s%d", s ? "," : "", rewatch[s]);
        buf_puts(out, "],\"skips\":[");
        for (int s = 0; s < S; s++)
            buf_printf(out, "%s%d", s ? "," : "", skipped[s]);
        buf_puts(out, "],\"pauses\":[");
        for (int s = 0; s < S; s++)
            buf_printf(out, "%s%d", s ? "," : "", pauses[s]);
        buf_puts(out, "]},\"key_moments\":[");
        for (int k = 0; k < n_moments; k++) {
            buf_printf(out,
                       "%s{\"kind\":\"%s\",\"second\":%d,\"start_second\":%d,"
                       "\"end_second\":%d,\"value\":",
                       k ? "," : "", moments[k].kind, moments[k].at, moments[k].start,
                       moments[k].end);
            json_double(out, round(moments[k].value * 10000) / 10000);
            buf_putc(out, '}');
        }
        if (half >= 0)
            buf_printf(out,
                       "%s{\"kind\":\"half_gone\",\"second\":%d,\"start_second\":%d,"
                       "\"end_second\":%d,\"value\":0.5}",
                       n_moments ? "," : "", half, half, half + 1);
        buf_puts(out, "],\"speeds\":[");
        bool first = true;
        double total_media = rate_other;
        for (int q = 0; q < 8; q++)
            total_media += rate_media[q];
        for (int q = 0; q < 8; q++) {
            if (rate_media[q] <= 0)
                continue;
            buf_printf(out, "%s{\"rate\":", first ? "" : ",");
            json_double(out, rate_steps[q]);
            buf_puts(out, ",\"media_seconds\":");
            json_double(out, round(rate_media[q] * 10) / 10);
            buf_puts(out, ",\"share\":");
            json_double(out, round(rate_media[q] / total_media * 10000) / 10000);
            buf_putc(out, '}');
            first = false;
        }
        if (rate_other > 0) {
            buf_printf(out, "%s{\"rate\":\"other\",\"media_seconds\":", first ? "" : ",");
            json_double(out, round(rate_other * 10) / 10);
            buf_puts(out, ",\"share\":");
            json_double(out, round(rate_other / total_media * 10000) / 10000);
            buf_putc(out, '}');
        }
        buf_puts(out, "],\"conversion_by_watch\":[");
        for (int b = 0; b < 4; b++) {
            double rate = bn[b] ? (double)bc[b] / (double)bn[b] : NAN;
            /* Wilson 95% interval of the bucket's rate */
            double z = 1.959963984540054, lo = NAN, hi = NAN;
            if (bn[b]) {
                double n = (double)bn[b];
                double c = (rate + z * z / (2 * n)) / (1 + z * z / n);
                double h = z * sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n);
                lo = c - h;
                hi = c + h;
            }
            buf_printf(out, "%s{\"bucket\":\"%s\",\"sessions\":%lld,\"conversions\":%lld,\"rate\":",
                       b ? "," : "", bucket_names[b], (long long)bn[b], (long long)bc[b]);
            json_double(out, round(rate * 10000) / 10000);
            buf_puts(out, ",\"ci95\":");
            if (bn[b]) {
                buf_putc(out, '[');
                json_double(out, round(lo * 10000) / 10000);
                buf_putc(out, ',');
                json_double(out, round(hi * 10000) / 10000);
                buf_putc(out, ']');
            } else {
                buf_puts(out, "null");
            }
            if (b > 0) {
                double diff, dlo, dhi, pv;
                stats_two_proportions(bn[b], bc[b], bn[0], bc[0], &diff, &dlo, &dhi, &pv);
                buf_puts(out, ",\"difference_vs_none\":");
                json_double(out, round(diff * 10000) / 10000);
                buf_puts(out, ",\"difference_ci95\":");
                if (isnan(dlo)) {
                    buf_puts(out, "null");
                } else {
                    buf_putc(out, '[');
                    json_double(out, round(dlo * 10000) / 10000);
                    buf_putc(out, ',');
                    json_double(out, round(dhi * 10000) / 10000);
                    buf_putc(out, ']');
                }
                buf_puts(out, ",\"p_value\":");
                json_double(out, round(pv * 10000) / 10000);
            }
            buf_putc(out, '}');
        }
        buf_puts(out, "]}");
    }
free_all:
    free(watched);
    free(plays);
    free(skipped);
    free(pauses);
    free(rewatch);
    segment_free(f.sg);
    return err->status ? -1 : 0;
}

/* The views of a video, newest first, each with its intervals: what the
 * state machine made of the events (tests, debugging, exports). */
int report_video_views(struct analytics *a, int64_t project_id, const char *video_id,
                       const struct report_params *params, enum report_format fmt, struct buf *out,
                       struct report_error *err)
{
    int64_t limit;
    if (param_int(params, "limit", 100, 1, 100000, &limit, err))
        return -1;
    struct ax_project *p;
    struct vfilter f;
    struct ax_video *video = video_locked(a, project_id, video_id, params, &p, &f, err);
    if (!video)
        return -1;
    struct ax_videos *vs = p->videos;
    if (fmt == REPORT_CSV)
        buf_puts(out, "session_id,visitor,started_at,unique_seconds,media_seconds,wall_seconds,"
                      "furthest,left_at,completed,quartiles,plays,pauses,forward_seeks,"
                      "backward_seeks\r\n");
    else
        buf_puts(out, "{\"views\":[");
    int64_t shown = 0, total = 0;
    for (size_t i = video->n_views; i-- > 0;) {
        const struct ax_view *v = &vs->views[video->views[i]];
        if (!view_in(v, &f) || !v->res)
            continue;
        if (++total > limit)
            continue; /* counted for the total only */
        const struct vresult *r = v->res;
        const char *session = strdict_get(&p->session_ids, v->session);
        const char *visitor = strdict_get(&p->visitor_ids, v->visitor);
        int q = 0;
        for (int k = 0; k < 4; k++)
            q += (r->quartiles >> k) & 1;
        if (fmt == REPORT_CSV) {
            char t[TIMEFMT_ISO_LEN];
            timefmt_iso(v->start_ts, t);
            csv_field(out, session);
            buf_putc(out, ',');
            csv_field(out, visitor);
            buf_printf(out, ",%s,%.3f,%.3f,%.3f,%.3f,%.3f,%s,%d,%u,%u,%u,%u\r\n", t, r->unique_s,
                       r->media_s, r->wall_s, r->furthest, r->left_at,
                       r->completed ? "true" : "false", q * 25, r->plays, r->n_pause, r->n_fwd,
                       r->n_back);
            shown++;
            continue;
        }
        buf_puts(out, shown ? ",{\"session_id\":" : "{\"session_id\":");
        json_str(out, session);
        buf_puts(out, ",\"visitor\":");
        json_str(out, visitor);
        buf_puts(out, ",\"started_at\":");
        json_time(out, v->start_ts);
        buf_puts(out, ",\"path\":");
        json_str(out, strdict_get(&a->paths, v->path));
        buf_printf(out, ",\"open\":%s", v->open ? "true" : "false");
        struct {
            const char *name;
            double v;
        } nums[] = {{"unique_seconds", r->unique_s},
                    {"media_seconds", r->media_s},
                    {"wall_seconds", r->wall_s},
                    {"furthest", r->furthest},
                    {"left_at", r->left_at}};
        for (size_t k = 0; k < ARRAY_LEN(nums); k++) {
            buf_printf(out, ",\"%s\":", nums[k].name);
            json_double(out, round(nums[k].v * 1000) / 1000);
        }
        buf_printf(out, ",\"completed\":%s,\"quartiles\":[", r->completed ? "true" : "false");
        bool first = true;
        for (int k = 0; k < 4; k++)
            if (r->quartiles & (1u << k)) {
                buf_printf(out, "%s%d", first ? "" : ",", (k + 1) * 25);
                first = false;
            }
        buf_printf(out, "],\"plays\":%u,\"intervals\":[", r->plays);
        for (uint32_t k = 0; k < r->n_iv; k++) {
            buf_puts(out, k ? ",[" : "[");
            json_double(out, round(r->iv[2 * k] * 1000) / 1000);
            buf_putc(out, ',');
            json_double(out, round(r->iv[2 * k + 1] * 1000) / 1000);
            buf_putc(out, ']');
        }
        buf_puts(out, "],\"pauses\":[");
        for (uint32_t k = 0; k < r->n_pause; k++) {
            if (k)
                buf_putc(out, ',');
            json_double(out, round(r->pause[k] * 1000) / 1000);
        }
        const float *pairs[2] = {r->fwd, r->back};
        const uint32_t counts[2] = {r->n_fwd, r->n_back};
        for (int w = 0; w < 2; w++) {
            buf_puts(out, w ? "],\"rewound\":[" : "],\"skipped\":[");
            for (uint32_t k = 0; k < counts[w]; k++) {
                buf_puts(out, k ? ",[" : "[");
                json_double(out, round(pairs[w][2 * k] * 1000) / 1000);
                buf_putc(out, ',');
                json_double(out, round(pairs[w][2 * k + 1] * 1000) / 1000);
                buf_putc(out, ']');
            }
        }
        buf_puts(out, "],\"speeds\":[");
        for (uint32_t k = 0; k < r->n_rates; k++) {
            buf_puts(out, k ? ",{\"rate\":" : "{\"rate\":");
            json_double(out, r->rates[2 * k]);
            buf_puts(out, ",\"media_seconds\":");
            json_double(out, round(r->rates[2 * k + 1] * 1000) / 1000);
            buf_putc(out, '}');
        }
        buf_puts(out, "]}");
        shown++;
    }
    if (fmt == REPORT_JSON)
        buf_printf(out, "],\"total\":%lld}", (long long)total);
    pthread_rwlock_unlock(&a->lock);
    segment_free(f.sg);
    return 0;
}
