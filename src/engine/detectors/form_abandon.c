/*
 * form_abandon.c - fields filled, no submit, page left.
 *
 * Checked once per page view, when the page is left: on the tracker's
 * $page_leave, or on the next page view if the leave never arrived (a beacon
 * can be lost). A $page_leave that arrives late, after the next page view,
 * is about an earlier page and is ignored.
 *
 * Score: 60 + 5 per filled field, at most 90.
 */
#include "engine/engine_internal.h"

#include <string.h>

void detect_form_abandon(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    if (s->abandon_checked || !s->page_enter_ts)
        return;
    if (e->kind == EV_PAGE_LEAVE && e->path && s->current_path &&
        strcmp(e->path, s->current_path) != 0)
        return;
    s->abandon_checked = true;
    int filled = 0;
    bool started = false;
    for (int i = 0; i < s->form_count; i++)
        if (s->forms[i].started && s->forms[i].submits == 0)
            started = true;
    if (!started)
        return;
    for (int i = 0; i < s->field_count; i++)
        filled += s->fields[i].filled;
    if (e->kind == EV_PAGE_LEAVE && e->fields_filled > filled)
        filled = e->fields_filled;
    if (filled == 0)
        return;
    int score = 60 + 5 * filled;
    char path[200];
    detect_emit(c, s, SIG_FORM_ABANDON, score > 90 ? 90 : score, e->ts, e->id,
                "\"fields_filled\":%d,\"page\":%s,\"time_on_page_ms\":%lld", filled,
                JS(path, s->current_path), (long long)(e->ts - s->page_enter_ts));
}
