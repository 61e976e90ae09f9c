/*
 * calc_retry.c - the same form (a calculator) submitted again and again with
 * changed inputs and no progress.
 *
 * A submit counts as a retry when fields changed since the previous submit
 * of that form and the submit did not succeed (the tracker's `valid`; when
 * a site does not report validity, every changed resubmit counts). A valid
 * result is progress: people comparing offers are not struggling.
 *
 * Score: 70 when the attempts reach calc_retry_submits (3: the first submit
 * plus two retries), 80 at 4, 90 from 5.
 */
#include "engine/engine_internal.h"

void detect_calc_retry(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    struct form_rec *f = session_form(s, e->form, true);
    if (!f)
        return;
    bool ok = e->has_valid && e->valid;
    bool retry = f->submits > 0 && f->changes_since_submit > 0 && !ok;
    if (!retry)
        return;
    int attempts = f->retries + 2; /* the first submit and this one */
    int first = c->params->calc_retry_submits;
    int level = attempts >= first + 2 ? 3 : attempts >= first + 1 ? 2 : attempts >= first ? 1 : 0;
    if (level <= f->retry_level)
        return;
    f->retry_level = (uint8_t)level;
    static const int scores[] = {0, 70, 80, 90};
    char form[100];
    detect_emit(c, s, SIG_CALC_RETRY, scores[level], e->ts, e->id,
                "\"form\":%s,\"attempts\":%d", JS(form, e->form), attempts);
}
