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
 *
 * Order: the tracker sends an interaction at once, even while an earlier
 * request is on its way, so a submit can be stored before the field changes
 * that came before it (they travel with the click that preceded the submit).
 * A change whose browser time is before the form's last submit, when that
 * submit failed with no change seen, makes that submit a retry after all.
 */
#include "engine/engine_internal.h"

static void emit_level(struct detect_ctx *c, struct session *s, struct form_rec *f,
                       const struct engine_event *e, int attempts)
{
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

void detect_calc_retry(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    if (e->kind == EV_FIELD_CHANGE) {
        struct form_rec *f = session_form(s, e->form, false);
        if (!f || !f->unchanged_fail || e->client_ts >= f->last_submit_client_ts)
            return;
        /* a late change: the last submit was a retry after all */
        f->unchanged_fail = false;
        f->retries++;
        emit_level(c, s, f, e, f->retries + 1);
        return;
    }
    struct form_rec *f = session_form(s, e->form, true);
    if (!f)
        return;
    bool ok = e->has_valid && e->valid;
    bool retry = f->submits > 0 && f->changes_since_submit > 0 && !ok;
    if (!retry)
        return;
    emit_level(c, s, f, e, f->retries + 2); /* the first submit and this one */
}
