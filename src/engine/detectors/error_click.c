/*
 * error_click.c - a click followed by a JavaScript error.
 *
 * An error within error_click_window_ms (1000) of a click on the same page is
 * taken to be caused by it: the visitor pressed something and it broke.
 * Once per click.
 *
 * Score: 75.
 */
#include "engine/engine_internal.h"

void detect_error_click(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    if (!s->last_click_ts || s->error_click_ts == s->last_click_ts)
        return;
    int64_t gap = e->ts - s->last_click_ts;
    if (gap < 0 || gap > c->params->error_click_window_ms)
        return;
    s->error_click_ts = s->last_click_ts;
    char msg[220];
    detect_emit(c, s, SIG_ERROR_CLICK, 75, e->ts, e->id,
                "\"after_click_ms\":%lld,\"message\":%s", (long long)gap, JS(msg, e->message));
}
