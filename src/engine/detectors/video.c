/*
 * video.c - struggle seen through a video: rewinding into the same segment
 * again and again (the explanation is not landing), and abandoning the
 * video early.
 *
 *   video_rewatch  video_rewatch_count (3) backward seeks landing within
 *                  10 s of each other. Score 60, 75 at 5.
 *   video_abandon  the visitor leaves a page (another page view, or
 *                  $page_leave) on which they played a video that is the
 *                  page's content (at least min_duration_s = 20 s long)
 *                  for at least min_watch_ms (5 s) of watching, without
 *                  reaching `ratio` (25%) of it and without it ending.
 *                  Score 55: on its own it does not trip a rule; beside
 *                  other struggle it adds to the risk. Watching is counted
 *                  like the video views of the reports (docs/video.md):
 *                  between a play or heartbeat and the next event of the
 *                  video, at most 7.5 s per stretch (a hidden tab or a lost
 *                  heartbeat is not watching).
 */
#include "engine/engine_internal.h"

#include <math.h>

void detect_video(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    if (e->kind != EV_VIDEO_SEEKED || !(e->to < e->from - 1.0))
        return;
    if (s->video_rewinds > 0 && fabs(e->to - s->video_last_to) <= 10.0)
        s->video_rewinds++;
    else
        s->video_rewinds = 1;
    s->video_last_to = e->to;
    int n = s->video_rewinds;
    int first = c->params->video_rewatch_count;
    if (n != first && n != first + 2)
        return;
    char vid[120];
    detect_emit(c, s, SIG_VIDEO_REWATCH, n == first ? 60 : 75, e->ts, e->id,
                "\"video_id\":%s,\"rewinds\":%d,\"segment_start_s\":%.1f", JS(vid, e->video_id),
                n, e->to);
}

#define VIDEO_STRETCH_MAX_MS 7500

/* Keeps the current page's video state (called for every video event, from
 * session_apply_event's side: here so the rule and its state sit together). */
void video_note(struct session *s, const struct engine_event *e)
{
    uint64_t id = engine_hash(e->video_id ? e->video_id : "");
    if (!id)
        id = 1;
    if (s->page_video != id) {
        if (e->kind != EV_VIDEO_PLAY && e->kind != EV_VIDEO_HEARTBEAT)
            return;
        /* the first video played on this page, or another one: it takes over */
        s->page_video = id;
        s->page_video_furthest = 0;
        s->page_video_watch_ms = 0;
        s->page_video_last_ts = 0;
        s->page_video_done = false;
    }
    if (e->duration > 0)
        s->page_video_duration = e->duration;
    if (s->page_video_last_ts && e->ts > s->page_video_last_ts) {
        int64_t d = e->ts - s->page_video_last_ts;
        s->page_video_watch_ms += d < VIDEO_STRETCH_MAX_MS ? d : 0;
    }
    double pos = e->kind == EV_VIDEO_SEEKED ? e->from : e->position;
    if (pos > s->page_video_furthest)
        s->page_video_furthest = pos;
    switch (e->kind) {
    case EV_VIDEO_PLAY:
    case EV_VIDEO_HEARTBEAT:
    case EV_VIDEO_RATE:
    case EV_VIDEO_SEEKED:
        s->page_video_last_ts = e->kind == EV_VIDEO_SEEKED && !s->page_video_last_ts ? 0 : e->ts;
        break;
    case EV_VIDEO_ENDED:
        s->page_video_done = true;
        s->page_video_last_ts = 0;
        break;
    default: /* pause */
        s->page_video_last_ts = 0;
        break;
    }
}

void detect_video_abandon(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    const struct detector_params *p = c->params;
    if (!s->page_video || s->page_video_done ||
        s->page_video_duration < p->video_abandon_min_duration_s)
        goto reset;
    int64_t watched = s->page_video_watch_ms;
    if (s->page_video_last_ts && e->ts > s->page_video_last_ts) /* still playing as they left */
        watched += e->ts - s->page_video_last_ts < VIDEO_STRETCH_MAX_MS
                       ? e->ts - s->page_video_last_ts
                       : 0;
    double share = s->page_video_furthest / s->page_video_duration;
    if (watched >= p->video_abandon_min_ms && share < p->video_abandon_ratio) {
        char path[200];
        detect_emit(c, s, SIG_VIDEO_ABANDON, 55, e->ts, e->id,
                    "\"page\":%s,\"watched_seconds\":%.1f,\"furthest_s\":%.1f,"
                    "\"duration_s\":%.1f,\"share\":%.3f",
                    JS(path, s->current_path), (double)watched / 1000.0, s->page_video_furthest,
                    s->page_video_duration, share);
    }
reset:
    if (e->kind == EV_PAGE || e->kind == EV_SCREEN || e->kind == EV_PAGE_LEAVE) {
        s->page_video = 0;
        s->page_video_done = false;
        s->page_video_duration = 0;
    }
}
