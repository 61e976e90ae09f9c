/*
 * rage_click.c - several clicks in quick succession on nearly the same spot.
 *
 * posthog-js's rule: N clicks (3), each within rage_window_ms (1000) of the
 * previous one and within rage_radius_px (30, Manhattan distance) of it. It
 * fires once per streak, escalates once if the streak reaches N+2, and
 * re-arms when a click breaks the time or distance rule. Clicks on disabled
 * controls count the same (a disabled "Apply" button is a classic trigger).
 *
 * Score: 70 at N clicks, 90 at N+2.
 */
#include "engine/engine_internal.h"

#include <stdlib.h>

void detect_rage_click(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    const struct detector_params *p = c->params;
    if (!e->has_xy)
        return;
    if (s->click_count > 0) {
        const struct click_rec *prev = &s->clicks[(s->click_count - 1) % SESSION_CLICKS];
        int dist = abs((int)e->x - prev->x) + abs((int)e->y - prev->y);
        bool continues = e->ts - prev->ts <= p->rage_window_ms && e->ts >= prev->ts &&
                         dist <= p->rage_radius_px;
        if (continues) {
            s->rage_streak++;
        } else {
            s->rage_streak = 1;
            s->rage_fired = false;
        }
    } else {
        s->rage_streak = 1;
        s->rage_fired = false;
    }
    char sel[160];
    if (s->rage_streak == p->rage_clicks && !s->rage_fired) {
        s->rage_fired = true;
        detect_emit(c, s, SIG_RAGE_CLICK, 70, e->ts, e->id,
                    "\"clicks\":%d,\"selector\":%s,\"x\":%d,\"y\":%d,\"disabled\":%s",
                    s->rage_streak, JS(sel, e->selector), (int)e->x, (int)e->y,
                    e->disabled ? "true" : "false");
    } else if (s->rage_streak == p->rage_clicks + 2) {
        detect_emit(c, s, SIG_RAGE_CLICK, 90, e->ts, e->id,
                    "\"clicks\":%d,\"selector\":%s,\"x\":%d,\"y\":%d,\"disabled\":%s",
                    s->rage_streak, JS(sel, e->selector), (int)e->x, (int)e->y,
                    e->disabled ? "true" : "false");
    }
}
