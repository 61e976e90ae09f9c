/*
 * js_error.c - JavaScript errors and unhandled rejections on the visitor's
 * page. The page is broken for them whatever they do.
 *
 * Score: 50 for the first in a session, 65 for the second, 80 for the third
 * (later ones add nothing).
 */
#include "engine/engine_internal.h"

void detect_js_error(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    int n = s->js_errors + 1;
    if (n > 3)
        return;
    char msg[220];
    detect_emit(c, s, SIG_JS_ERROR, n == 1 ? 50 : n == 2 ? 65 : 80, e->ts, e->id,
                "\"errors\":%d,\"message\":%s", n, JS(msg, e->message));
}
