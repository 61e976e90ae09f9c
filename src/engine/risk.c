/*
 * risk.c - exit risk before a model is trained: a transparent function of
 * the session's signals.
 *
 *   risk = 100 x (1 - prod_k (1 - 0.8 x d_k x s_k / 100))
 *
 * over signal kinds k, where s_k is the kind's latest score and d_k halves
 * every 10 minutes since that kind last fired (old trouble fades). Each kind
 * counts once, so twenty dead clicks cannot make risk 100 on their own; two
 * independent strong signals (80 and 70) give 84, one alone at most 80. The
 * weight 0.8 makes a single signal unable to reach the default intervention
 * bound of 75 unless it scores 94 or more.
 */
#include "engine/engine_internal.h"

#include <math.h>

#define WEIGHT 0.8
#define HALF_LIFE_MS (10.0 * 60 * 1000)

static double term(const struct signal_state *st, int64_t now)
{
    if (!st->count || !st->score)
        return 0;
    double age = (double)(now - st->last_ts);
    double decay = age > 0 ? pow(0.5, age / HALF_LIFE_MS) : 1.0;
    return WEIGHT * decay * st->score / 100.0;
}

int risk_from_signals(const struct session *s, int64_t now)
{
    double keep = 1.0;
    for (int k = 0; k < SIG_KIND_COUNT; k++)
        keep *= 1.0 - term(&s->sig[k], now);
    return (int)lround(100.0 * (1.0 - keep));
}

int risk_contributions(const struct session *s, int64_t now, int out[SIG_KIND_COUNT])
{
    int total = risk_from_signals(s, now);
    for (int k = 0; k < SIG_KIND_COUNT; k++) {
        double keep = 1.0;
        for (int j = 0; j < SIG_KIND_COUNT; j++)
            if (j != k)
                keep *= 1.0 - term(&s->sig[j], now);
        out[k] = total - (int)lround(100.0 * (1.0 - keep));
    }
    return total;
}
