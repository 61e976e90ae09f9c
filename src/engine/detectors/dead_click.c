/*
 * dead_click.c - a click after which nothing happened.
 *
 * The tracker decides: no navigation, no DOM mutation and no network request
 * within 1000 ms of the click means a $dead_click (docs/protocol.md; the
 * window and its false positives on the demo site are in docs/detectors.md).
 * One dead click is a weak hint (a slow button, a mis-click); the second and
 * third on the same page are strong.
 *
 * Score: 50 for the first on a page, 70 for the second, 85 from the third.
 */
#include "engine/engine_internal.h"

void detect_dead_click(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    int n = s->dead_clicks_page + 1;
    if (n > 3)
        return;
    int score = n == 1 ? 50 : n == 2 ? 70 : 85;
    char sel[160], tag[40], click[80];
    detect_emit(c, s, SIG_DEAD_CLICK, score, e->ts, e->id,
                "\"dead_clicks\":%d,\"selector\":%s,\"tag\":%s,\"click_id\":%s", n,
                JS(sel, e->selector), JS(tag, e->tag), JS(click, e->click_id));
}
