/*
 * video.c - struggle seen through a video: rewinding into the same segment
 * again and again (the explanation is not landing), and abandoning the
 * video early.
 *
 *   video_rewatch  video_rewatch_count (3) backward seeks landing within
 *                  10 s of each other. Score 60, 75 at 5.
 *   video_abandon  the video paused or left before video_abandon_ratio
 *                  (25%) of it after at least 5 s of watching, on a page
 *                  whose main content it is. Score 55. (Not yet fired:
 *                  needs the per-view model of the video issue.)
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
