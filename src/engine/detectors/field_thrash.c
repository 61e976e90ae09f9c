/*
 * field_thrash.c - the same field changed again and again.
 *
 * Someone who rewrites one field many times is unsure what it wants (the
 * "income" field: monthly or yearly?). Counts change events per (form,
 * field) on the current page.
 *
 * Score: 60 at thrash_changes (4) changes, 75 at 6, 85 from 8.
 */
#include "engine/engine_internal.h"

void detect_field_thrash(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    struct field_rec *f = session_field(s, e->form, e->field, true);
    if (!f)
        return;
    int n = f->changes + 1;
    int first = c->params->thrash_changes;
    int level = n >= first + 4 ? 3 : n >= first + 2 ? 2 : n >= first ? 1 : 0;
    if (level <= f->thrash_level)
        return;
    f->thrash_level = (uint8_t)level;
    static const int scores[] = {0, 60, 75, 85};
    char field[100], form[100];
    detect_emit(c, s, SIG_FIELD_THRASH, scores[level], e->ts, e->id,
                "\"field\":%s,\"form\":%s,\"changes\":%d", JS(field, e->field), JS(form, e->form),
                n);
}
