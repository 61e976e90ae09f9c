/*
 * scroll_thrash.c - scrolling up and down far more than the page asks for.
 *
 * Clarity calls it excessive scrolling: direction reversals above the page's
 * own expected average. The bound is scroll_ratio (3) x the page's mean
 * reversals per view once it has history, and never below scroll_reversals
 * (6), which is also the bound while history is short.
 *
 * Score: 60 at the bound, 80 at twice it.
 */
#include "engine/engine_internal.h"

void detect_scroll_thrash(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    const struct detector_params *p = c->params;
    int reversals = e->reversals > s->scroll_reversals ? e->reversals : s->scroll_reversals;
    if (e->reversals <= s->scroll_reversals && s->last_direction && e->direction != s->last_direction)
        reversals = s->scroll_reversals + 1;
    double bound = p->scroll_reversals;
    if (c->baselines && s->current_path) {
        double mean = baselines_scroll_mean(c->baselines, c->project_id, s->current_path,
                                            p->long_dwell_min_samples);
        if (mean > 0 && mean * p->scroll_ratio > bound)
            bound = mean * p->scroll_ratio;
    }
    char path[200];
    if (!s->scroll_fired && reversals >= bound) {
        s->scroll_fired = true;
        detect_emit(c, s, SIG_SCROLL_THRASH, 60, e->ts, e->id,
                    "\"reversals\":%d,\"bound\":%.1f,\"page\":%s", reversals, bound,
                    JS(path, s->current_path));
    } else if (s->scroll_fired && reversals == (int)(2 * bound + 0.999)) {
        detect_emit(c, s, SIG_SCROLL_THRASH, 80, e->ts, e->id,
                    "\"reversals\":%d,\"bound\":%.1f,\"page\":%s", reversals, bound,
                    JS(path, s->current_path));
    }
}
