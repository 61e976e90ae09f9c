/*
 * long_dwell.c - a long time on a page without progress.
 *
 * Time-based, checked on the engine's ticks. The bound is the page's own
 * 90th percentile dwell once it has long_dwell_min_samples (30) finished
 * views, else long_dwell_ms (120 s). Hidden time does not count, and
 * progress (scrolling deeper, a working click, a valid field, video playing)
 * means the visitor is reading, not stuck: the signal needs the time since
 * the last progress to be at least half the bound as well.
 *
 * Score: 60 at the bound, 70 at 1.5x, 80 at 2x, 90 at 3x; fires once per
 * page and escalates once at 2x.
 */
#include "engine/engine_internal.h"

void detect_long_dwell(struct detect_ctx *c, struct session *s, int64_t now)
{
    const struct detector_params *p = c->params;
    if (!s->page_enter_ts || s->hidden_since)
        return;
    int64_t dwell = now - s->page_enter_ts - s->hidden_ms;
    int64_t idle = now - (s->last_progress_ts > s->page_enter_ts ? s->last_progress_ts
                                                                   : s->page_enter_ts);
    int64_t bound = p->long_dwell_ms;
    bool adaptive = false;
    if (c->baselines && s->current_path) {
        int64_t p90 = baselines_dwell_quantile(c->baselines, c->project_id, s->current_path, 0.9,
                                               p->long_dwell_min_samples);
        if (p90 > 0) {
            bound = p90;
            adaptive = true;
        }
    }
    if (bound <= 0 || dwell < bound || idle < bound / 2)
        return;
    double ratio = (double)dwell / (double)bound;
    int score = ratio >= 3 ? 90 : ratio >= 2 ? 80 : ratio >= 1.5 ? 70 : 60;
    if (s->long_dwell_fired && !(score >= 80 && s->sig[SIG_LONG_DWELL].score < 80))
        return;
    s->long_dwell_fired = true;
    char path[200];
    detect_emit(c, s, SIG_LONG_DWELL, score, now, s->last_event_id,
                "\"page\":%s,\"seconds\":%.0f,\"idle_seconds\":%.0f,\"bound_seconds\":%.0f,"
                "\"bound\":\"%s\"",
                JS(path, s->current_path), (double)dwell / 1000.0, (double)idle / 1000.0,
                (double)bound / 1000.0, adaptive ? "page_p90" : "configured");
}
