/*
 * navigation.c - three page-view detectors that read the ring of the latest
 * page views:
 *
 *   u_turn            A -> B -> A with less than u_turn_ms (10 s) on B.
 *                     Score 55, 75 for the second in a session, 85 after.
 *   rapid_navigation  rapid_nav_pages (4) page views within
 *                     rapid_nav_window_ms (10 s). Score 65, 80 at 6 pages.
 *                     At most once per window.
 *   quick_back        back to A after B, faster than quick_back_ratio (0.25)
 *                     of B's own median dwell, once B has enough history
 *                     (Clarity's adaptive rule); stays beside u_turn for
 *                     pages where 10 s is long. Score 65.
 */
#include "engine/engine_internal.h"

void detect_navigation(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    const struct detector_params *p = c->params;
    uint64_t here = engine_hash(e->path);
    char path[200];
    if (s->visit_count >= 2) {
        const struct page_visit *b = &s->visits[(s->visit_count - 1) % SESSION_VISITS];
        const struct page_visit *a = &s->visits[(s->visit_count - 2) % SESSION_VISITS];
        int64_t on_b = e->ts - b->enter_ts;
        if (a->path_hash == here && b->path_hash != here && on_b >= 0) {
            if (on_b < p->u_turn_ms) {
                int n = s->u_turns + 1;
                s->u_turns = n;
                detect_emit(c, s, SIG_U_TURN, n == 1 ? 55 : n == 2 ? 75 : 85, e->ts, e->id,
                            "\"back_to\":%s,\"seconds_away\":%.1f,\"u_turns\":%d",
                            JS(path, e->path), (double)on_b / 1000.0, n);
            } else if (c->baselines && s->current_path) {
                int64_t median = baselines_dwell_quantile(c->baselines, c->project_id,
                                                          s->current_path, 0.5,
                                                          p->long_dwell_min_samples);
                if (median > 0 && (double)on_b < p->quick_back_ratio * (double)median)
                    detect_emit(c, s, SIG_QUICK_BACK, 65, e->ts, e->id,
                                "\"left\":%s,\"seconds_on_page\":%.1f,\"page_median_s\":%.1f",
                                JS(path, s->current_path), (double)on_b / 1000.0,
                                (double)median / 1000.0);
            }
        }
    }
    /* This page view plus those already in the window. */
    int in_window = 1;
    int span = s->visit_count < SESSION_VISITS ? s->visit_count : SESSION_VISITS;
    for (int i = 0; i < span; i++) {
        const struct page_visit *v = &s->visits[(s->visit_count - 1 - i) % SESSION_VISITS];
        if (e->ts - v->enter_ts <= p->rapid_nav_window_ms)
            in_window++;
        else
            break;
    }
    if (in_window >= p->rapid_nav_pages &&
        (!s->rapid_nav_ts || e->ts - s->rapid_nav_ts > p->rapid_nav_window_ms ||
         in_window == p->rapid_nav_pages + 2)) {
        s->rapid_nav_ts = e->ts;
        detect_emit(c, s, SIG_RAPID_NAV, in_window >= p->rapid_nav_pages + 2 ? 80 : 65, e->ts,
                    e->id, "\"pages\":%d,\"within_s\":%.0f", in_window,
                    (double)p->rapid_nav_window_ms / 1000.0);
    }
}
