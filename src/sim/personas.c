/*
 * personas.c - six kinds of visitor, each a script of site actions with its
 * own randomness, from landing to the point of decision.
 *
 * A script ends where the visitor is about to either apply or go: on the
 * application with some fields filled, on the calculator with or without a
 * quote, or anywhere for those who never got that far. The two endings
 * (site.c: sim_site_finish / sim_site_leave) continue from there, so the
 * behaviour never reveals the outcome: the outcome depends on what the
 * behaviour amounted to (generate.c: sim_outcome_logit), not on the persona.
 *
 *   decisive_buyer      home or calculator -> a quote at the first or second
 *                       try -> Apply now -> part of the application
 *   comparison_shopper  rates and home -> several valid quotes with other
 *                       amounts and terms, FAQ/rates and back -> maybe apply
 *   struggler           types a monthly income (and often breaks the amount
 *                       or term rules) -> repeated $field_invalid, rage and
 *                       dead clicks on the disabled "Apply now", a quick trip
 *                       to faq.html#income and back (u-turn) -> some recover
 *   confused_navigator  short hops through nav, footer and in-page links,
 *                       Back within seconds (u-turns, rapid navigation),
 *                       scroll thrash on the FAQ, dead clicks on the fake
 *                       sort headers -> maybe a half-filled calculator
 *   video_learner       the explainer (rate changes, skips, rewinds into the
 *                       income segment, often to the end) -> a calculator
 *                       they mostly get right -> maybe apply
 *   bouncer             one page, a glance and maybe a scroll
 *
 * docs/simulator.md lists the probabilities.
 *
 * Determinism rule: never two PRNG draws in one expression whose order C leaves
 * unspecified (two arguments of one call, two operands of +): compilers
 * evaluate them in different orders. Draw into named variables first.
 */
#include "sim/sim_internal.h"

/* ------------------------------------------------------------------------ */
/* Shared pieces                                                             */

static void look(struct sim_gen *g, double median_ms, double sigma, double goal, double rev)
{
    sim_site_read(g, sim_rng_ms(&g->rng, median_ms, sigma), goal, rev);
}

static enum sim_page pick_page(struct sim_gen *g, const double w[PAGE_COUNT])
{
    return (enum sim_page)sim_rng_pick(&g->rng, w, PAGE_COUNT);
}

/* Goes to the calculator from wherever the visitor is, the way people do. */
static void to_calculator(struct sim_gen *g)
{
    switch (g->page) {
    case PAGE_CALC:
        return;
    case PAGE_HOME:
        sim_site_follow(g, sim_rng_chance(&g->rng, 0.7)   ? EL_HOME_CALC
                           : sim_rng_chance(&g->rng, 0.5) ? EL_HOME_BAND_CALC
                                                          : EL_NAV_CALC);
        return;
    case PAGE_RATES:
        sim_site_follow(g, sim_rng_chance(&g->rng, 0.6) ? EL_RATES_CALC : EL_NAV_CALC);
        return;
    case PAGE_FAQ:
        sim_site_follow(g, sim_rng_chance(&g->rng, 0.3) ? EL_FAQ_BACK_CALC : EL_NAV_CALC);
        return;
    default:
        sim_site_follow(g, EL_NAV_CALC);
        return;
    }
}

/* Amount, term, income in order (each may break a rule on purpose or by habit). */
static void fill_calculator(struct sim_gen *g, enum sim_amount_kind amount, bool respect_terms,
                            bool monthly_income)
{
    sim_site_think(g, 2500, 0.6);
    sim_site_calc_amount(g, amount);
    sim_site_calc_term(g, respect_terms);
    sim_site_calc_income(g, monthly_income);
}

/* Calculates, fixing what is rejected, at most `attempts` times. */
static bool calculate(struct sim_gen *g, int attempts)
{
    for (int i = 0; i < attempts; i++) {
        if (sim_site_calc_submit(g))
            return true;
        if (i + 1 < attempts) {
            sim_site_think(g, 3500, 0.6);
            sim_site_calc_fix(g);
        }
    }
    return false;
}

/* The first k fields of the application, in order, reading a little first. */
static void start_application(struct sim_gen *g, int k)
{
    look(g, 3000, 0.5, 0.4, 0.05);
    for (int f = FLD_APP_FIRST; f < FLD_APP_FIRST + k && f < FLD_COUNT; f++)
        sim_site_app_fill(g, (enum sim_field)f);
    /* with everything typed, a visitor with a formatted phone number presses Send and is
     * refused: the decision is then whether to fix it */
    if (k >= 5 && g->phone_habit_formatted)
        sim_site_app_submit(g);
}

static void video_short(struct sim_gen *g, double stop_lo, double stop_hi, double skip_p)
{
    struct sim_video_plan plan = {0};
    plan.stop_at = sim_rng_range(&g->rng, stop_lo, stop_hi);
    if (sim_rng_chance(&g->rng, skip_p)) {
        plan.skip_from = sim_rng_range(&g->rng, 2, 8);
        plan.skip_to = plan.skip_from + sim_rng_range(&g->rng, 10, 25);
        plan.stop_at += plan.skip_to - plan.skip_from;
    }
    sim_site_video(g, &plan);
}

/* ------------------------------------------------------------------------ */
/* The personas                                                              */

static void decisive_buyer(struct sim_gen *g)
{
    static const double landing[PAGE_COUNT] = {[PAGE_HOME] = 0.65, [PAGE_CALC] = 0.35};
    sim_site_land(g, pick_page(g, landing));
    if (g->page == PAGE_HOME) {
        look(g, 9000, 0.6, 0.4, 0.05);
        if (sim_rng_chance(&g->rng, 0.05))
            video_short(g, 5, 20, 0.3);
        to_calculator(g);
    }
    bool respect = sim_rng_chance(&g->rng, 0.85);
    bool monthly = sim_rng_chance(&g->rng, 0.05);
    fill_calculator(g, AMT_TYPICAL, respect, monthly);
    if (!calculate(g, 3))
        return;
    if (sim_rng_chance(&g->rng, 0.15)) { /* one more try with another amount or term */
        sim_site_think(g, 4000, 0.6);
        if (sim_rng_chance(&g->rng, 0.5))
            sim_site_calc_amount(g, AMT_TYPICAL);
        else
            sim_site_calc_term(g, true);
        if (!calculate(g, 2))
            return;
    }
    sim_site_think(g, 5000, 0.6);
    if (sim_rng_chance(&g->rng, 0.15))
        return; /* weighing the quote */
    sim_site_apply_now(g);
    start_application(g, sim_rng_int(&g->rng, 1, 5));
}

static void comparison_shopper(struct sim_gen *g)
{
    static const double landing[PAGE_COUNT] = {
        [PAGE_HOME] = 0.50, [PAGE_RATES] = 0.35, [PAGE_CALC] = 0.15};
    sim_site_land(g, pick_page(g, landing));
    if (g->page == PAGE_HOME) {
        look(g, 12000, 0.5, 0.6, 0.08);
        if (sim_rng_chance(&g->rng, 0.2))
            video_short(g, 10, 45, 0.4);
        if (sim_rng_chance(&g->rng, 0.6))
            sim_site_follow(g, EL_HOME_RATES);
    }
    if (g->page == PAGE_RATES) {
        look(g, 18000, 0.5, 0.9, 0.12);
        g->knows_term_rules = true;
        if (sim_rng_chance(&g->rng, 0.25)) { /* the headers look sortable */
            static const enum sim_elem heads[] = {EL_RATES_SORT_APR, EL_RATES_SORT_AMOUNT,
                                                  EL_RATES_SORT_TERMS};
            int n = sim_rng_int(&g->rng, 1, 2);
            for (int i = 0; i < n; i++)
                sim_site_dead_click(g, heads[sim_rng_int(&g->rng, 0, 2)]);
        }
    }
    to_calculator(g);
    bool respect = g->knows_term_rules || sim_rng_chance(&g->rng, 0.7);
    bool monthly = sim_rng_chance(&g->rng, 0.08);
    fill_calculator(g, AMT_TYPICAL, respect, monthly);
    bool ok = calculate(g, 3);
    int variants = sim_rng_int(&g->rng, 1, 4);
    for (int i = 0; ok && i < variants; i++) {
        sim_site_think(g, 6000, 0.6);
        if (sim_rng_chance(&g->rng, 0.6))
            sim_site_calc_amount(g, AMT_TYPICAL);
        else
            sim_site_calc_term(g, g->knows_term_rules || sim_rng_chance(&g->rng, 0.7));
        ok = calculate(g, 2);
    }
    if (sim_rng_chance(&g->rng, 0.3)) {
        sim_site_follow(g, EL_CALC_FAQ);
        look(g, 15000, 0.6, 0.7, 0.15);
        sim_site_back(g);
    }
    if (g->page == PAGE_CALC && sim_rng_chance(&g->rng, 0.2)) {
        sim_site_follow(g, EL_CALC_RATES);
        look(g, 9000, 0.5, 0.8, 0.1);
        sim_site_back(g);
    }
    sim_site_think(g, 5000, 0.7);
    if (ok && g->page == PAGE_CALC && sim_rng_chance(&g->rng, 0.35)) {
        sim_site_apply_now(g);
        start_application(g, sim_rng_int(&g->rng, 1, 3));
    }
}

static void struggler(struct sim_gen *g)
{
    static const double landing[PAGE_COUNT] = {[PAGE_HOME] = 0.5, [PAGE_CALC] = 0.5};
    sim_site_land(g, pick_page(g, landing));
    if (g->page == PAGE_HOME) {
        look(g, 10000, 0.6, 0.4, 0.1);
        if (sim_rng_chance(&g->rng, 0.15)) {
            struct sim_video_plan plan = {0};
            plan.stop_at = sim_rng_range(&g->rng, 30, 55);
            if (sim_rng_chance(&g->rng, 0.4)) {
                plan.rewinds = sim_rng_int(&g->rng, 1, 3);
                plan.stop_at = 50;
            }
            sim_site_video(g, &plan);
        }
        to_calculator(g);
    }
    /* every struggler falls into at least one trap: most type the monthly income from their
     * payslip; the others ask for too much, type "25k", or skip the term */
    bool monthly = !g->knows_income_annual && sim_rng_chance(&g->rng, 0.8);
    enum sim_amount_kind amount = AMT_TYPICAL;
    bool skip_term = false;
    if (monthly) {
        static const double amount_w[] = {0.85, 0.07, 0.05, 0.03};
        amount = (enum sim_amount_kind)sim_rng_pick(&g->rng, amount_w, 4);
    } else {
        double r = sim_rng_unit(&g->rng);
        if (r < 0.4)
            amount = AMT_TOO_BIG;
        else if (r < 0.6)
            amount = AMT_GARBAGE;
        else
            skip_term = true;
    }
    sim_site_think(g, 2500, 0.6);
    sim_site_calc_amount(g, amount);
    if (!skip_term)
        sim_site_calc_term(g, sim_rng_chance(&g->rng, 0.3));
    sim_site_calc_income(g, monthly);
    bool ok = sim_site_calc_submit(g);
    int attempts = 1, max_attempts = sim_rng_int(&g->rng, 3, 6);
    bool visited_faq = false;
    while (!ok && attempts < max_attempts) {
        if (sim_rng_chance(&g->rng, 0.5))
            sim_site_rage(g, EL_CALC_APPLY_NOW, sim_rng_int(&g->rng, 3, 6));
        else if (sim_rng_chance(&g->rng, 0.35))
            sim_site_apply_now(g); /* disabled: a dead click */
        bool income_bad = g->calc_err_mask & (1u << FLD_INCOME);
        if (income_bad && !visited_faq && sim_rng_chance(&g->rng, 0.3)) {
            visited_faq = true;
            sim_site_follow(g, EL_CALC_INCOME_HELP);
            look(g, 5000, 0.4, 0.6, 0.3);
            sim_site_back(g);
            if (sim_rng_chance(&g->rng, 0.6))
                g->knows_income_annual = true;
        }
        sim_site_think(g, 3000, 0.6);
        /* they read the messages next to amount and term; income is the puzzle */
        if ((g->calc_err_mask & (1u << FLD_AMOUNT)) && sim_rng_chance(&g->rng, 0.6))
            sim_site_calc_amount(g, AMT_TYPICAL);
        if ((g->calc_err_mask & ((1u << FLD_AMOUNT) | (1u << FLD_TERM))) &&
            sim_rng_chance(&g->rng, 0.6))
            sim_site_calc_term(g, true);
        if (income_bad)
            sim_site_calc_income(g, !g->knows_income_annual);
        ok = sim_site_calc_submit(g);
        attempts++;
    }
    if (!ok) {
        if (sim_rng_chance(&g->rng, 0.3))
            sim_site_rage(g, EL_CALC_APPLY_NOW, sim_rng_int(&g->rng, 3, 5));
        sim_site_think(g, 4000, 0.7);
        return;
    }
    sim_site_think(g, 5000, 0.7);
    if (sim_rng_chance(&g->rng, 0.5)) {
        sim_site_apply_now(g);
        start_application(g, sim_rng_int(&g->rng, 1, 4));
    }
}

static void confused_navigator(struct sim_gen *g)
{
    static const double landing[PAGE_COUNT] = {
        [PAGE_HOME] = 0.45, [PAGE_FAQ] = 0.25, [PAGE_RATES] = 0.20, [PAGE_CALC] = 0.10};
    sim_site_land(g, pick_page(g, landing));
    /* half of them hop: a glance per page and straight on (rapid navigation) */
    bool rapid = sim_rng_chance(&g->rng, 0.5);
    int hops = sim_rng_int(&g->rng, rapid ? 4 : 3, 7);
    for (int i = 0; i < hops; i++) {
        if (g->page == PAGE_FAQ && sim_rng_chance(&g->rng, 0.5)) {
            look(g, 3000, 0.5, 0.4, 0.1);
            sim_site_scroll_hunt(g, sim_rng_int(&g->rng, 6, 14)); /* where is the answer? */
        } else {
            look(g, rapid ? 1000 : 4000, 0.4, 0.5, 0.3);
        }
        double r = sim_rng_unit(&g->rng);
        if (rapid)
            r *= 0.8; /* hops are navigation, not dead clicks or video */
        if (r < 0.25 && sim_site_back(g))
            continue;
        if (r < 0.45) {
            static const enum sim_elem nav[] = {EL_NAV_HOME, EL_NAV_CALC, EL_NAV_APPLY};
            sim_site_follow(g, nav[sim_rng_int(&g->rng, 0, 2)]);
        } else if (r < 0.60) {
            static const enum sim_elem foot[] = {EL_FOOT_FAQ, EL_FOOT_RATES, EL_FOOT_CALC};
            sim_site_follow(g, foot[sim_rng_int(&g->rng, 0, 2)]);
        } else if (r < 0.80) {
            switch (g->page) {
            case PAGE_HOME:
                sim_site_follow(g, sim_rng_chance(&g->rng, 0.5) ? EL_HOME_RATES : EL_HOME_CALC);
                break;
            case PAGE_CALC:
                sim_site_follow(g, sim_rng_chance(&g->rng, 0.5) ? EL_CALC_FAQ : EL_CALC_RATES);
                break;
            case PAGE_FAQ:
                sim_site_follow(g, sim_rng_chance(&g->rng, 0.6)   ? EL_FAQ_TOC_INCOME
                                   : sim_rng_chance(&g->rng, 0.5) ? EL_FAQ_TOC_TERMS
                                                                  : EL_FAQ_TERMS_RATES);
                break;
            case PAGE_RATES:
                sim_site_follow(g, EL_RATES_CALC);
                break;
            default:
                sim_site_follow(g, EL_NAV_HOME);
                break;
            }
        } else if (r < 0.92) {
            if (g->page == PAGE_RATES) {
                sim_site_dead_click(g, EL_RATES_SORT_APR);
                if (sim_rng_chance(&g->rng, 0.5))
                    sim_site_dead_click(g, EL_RATES_SORT_AMOUNT);
            } else if (g->page == PAGE_CALC && !g->calc.quote) {
                sim_site_apply_now(g); /* disabled */
            } else {
                sim_site_follow(g, EL_FOOT_RATES);
            }
        } else if (g->page == PAGE_HOME) {
            video_short(g, 3, 15, 0.6);
        }
    }
    if (g->page == PAGE_CALC || sim_rng_chance(&g->rng, 0.4)) {
        to_calculator(g);
        sim_site_think(g, 3000, 0.6);
        sim_site_calc_amount(g, AMT_TYPICAL);
        if (sim_rng_chance(&g->rng, 0.6)) {
            sim_site_calc_term(g, sim_rng_chance(&g->rng, 0.5));
            sim_site_calc_income(g, sim_rng_chance(&g->rng, 0.3));
        }
        if (sim_rng_chance(&g->rng, 0.7) && !sim_site_calc_submit(g) &&
            sim_rng_chance(&g->rng, 0.5)) {
            sim_site_think(g, 4000, 0.6);
            sim_site_calc_fix(g);
            sim_site_calc_submit(g);
        }
    }
}

static void video_learner(struct sim_gen *g)
{
    sim_site_land(g, PAGE_HOME);
    look(g, 6000, 0.5, 0.35, 0.05);
    struct sim_video_plan plan = {0};
    plan.stop_at = sim_rng_chance(&g->rng, 0.6) ? 61 : sim_rng_range(&g->rng, 15, 55);
    if (sim_rng_chance(&g->rng, 0.35)) {
        static const double rates[] = {1.25, 1.5, 2.0};
        static const double rate_w[] = {0.35, 0.40, 0.25};
        plan.rate = rates[sim_rng_pick(&g->rng, rate_w, 3)];
        plan.rate_at = sim_rng_range(&g->rng, 2, 8);
    }
    if (sim_rng_chance(&g->rng, 0.12)) {
        plan.skip_from = sim_rng_range(&g->rng, 8, 20);
        plan.skip_to = plan.skip_from + sim_rng_range(&g->rng, 8, 15);
    }
    if (sim_rng_chance(&g->rng, 0.3))
        plan.rewinds = sim_rng_int(&g->rng, 2, 4);
    plan.pause_resume = sim_rng_chance(&g->rng, 0.25);
    sim_site_video(g, &plan);
    /* the income slide runs from 32 to 45 s; the term slide before it */
    int income_seen = 0, term_seen = 0;
    for (int b = 64; b < 90; b++)
        income_seen += g->video_seen[b];
    for (int b = 30; b < 64; b++)
        term_seen += g->video_seen[b];
    g->knows_income_annual = income_seen > 18 || sim_rng_chance(&g->rng, 0.5);
    g->knows_term_rules = term_seen > 24 || sim_rng_chance(&g->rng, 0.4);
    look(g, 4000, 0.5, 0.6, 0.05);
    if (sim_rng_chance(&g->rng, 0.15))
        return;
    to_calculator(g);
    bool respect = g->knows_term_rules || sim_rng_chance(&g->rng, 0.6);
    bool monthly = !g->knows_income_annual && sim_rng_chance(&g->rng, 0.3);
    fill_calculator(g, AMT_TYPICAL, respect, monthly);
    if (!calculate(g, 3))
        return;
    sim_site_think(g, 6000, 0.6);
    if (sim_rng_chance(&g->rng, 0.45)) {
        sim_site_apply_now(g);
        start_application(g, sim_rng_int(&g->rng, 1, 4));
    }
}

static void bouncer(struct sim_gen *g)
{
    static const double landing[PAGE_COUNT] = {
        [PAGE_HOME] = 0.60, [PAGE_CALC] = 0.20, [PAGE_RATES] = 0.10, [PAGE_FAQ] = 0.10};
    sim_site_land(g, pick_page(g, landing));
    look(g, 7000, 0.8, sim_rng_range(&g->rng, 0.2, 0.6), 0.05);
    if (g->page == PAGE_HOME && sim_rng_chance(&g->rng, 0.05))
        video_short(g, 2, 8, 0.0);
}

void sim_persona_run(struct sim_gen *g, enum sim_persona p)
{
    g->phone_habit_formatted = sim_rng_chance(&g->rng, 0.25);
    g->email_typo = sim_rng_chance(&g->rng, 0.04);
    switch (p) {
    case SIM_DECISIVE_BUYER:
        decisive_buyer(g);
        break;
    case SIM_COMPARISON_SHOPPER:
        comparison_shopper(g);
        break;
    case SIM_STRUGGLER:
        struggler(g);
        break;
    case SIM_CONFUSED_NAVIGATOR:
        confused_navigator(g);
        break;
    case SIM_VIDEO_LEARNER:
        video_learner(g);
        break;
    case SIM_BOUNCER:
    default:
        bouncer(g);
        break;
    }
}
