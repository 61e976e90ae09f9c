/*
 * form_errors.c - the same field rejected again and again.
 *
 * Counts validation errors per (form, field) on the current page: the
 * browser's own `invalid` events and the site's journey.validationError()
 * calls. One error is normal; form_errors_min (2) on one field is the first
 * level, then 3 and 4.
 *
 * Score: 60 at 2 errors, 80 at 3, 90 from 4. Each level fires once.
 */
#include "engine/engine_internal.h"

void detect_form_errors(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    struct field_rec *f = session_field(s, e->form, e->field, true);
    if (!f)
        return;
    int n = f->invalid + 1;
    int first = c->params->form_errors_min;
    int level = n >= first + 2 ? 3 : n >= first + 1 ? 2 : n >= first ? 1 : 0;
    if (level <= f->errors_level)
        return;
    f->errors_level = (uint8_t)level;
    static const int scores[] = {0, 60, 80, 90};
    char field[100], form[100], reason[60];
    detect_emit(c, s, SIG_FORM_ERRORS, scores[level], e->ts, e->id,
                "\"field\":%s,\"form\":%s,\"errors\":%d,\"reason\":%s", JS(field, e->field),
                JS(form, e->form), n, JS(reason, e->reason ? e->reason : e->message));
}
