/*
 * sim_internal.h - what the files of src/sim/ share: the PRNG, the generator
 * state of one session (struct sim_gen), message writing (generate.c), the
 * demo site model and its actions (site.c) and the persona scripts
 * (personas.c).
 *
 *   sim_next_session (generate.c)
 *     -> start time, visitor, persona, referrer source
 *     -> sim_persona_run (personas.c)          behaviour: a script per persona
 *          -> sim_site_* (site.c)              clicks, fields, scrolls, video, navigation
 *               -> sim_track / sim_page_view   one message each (generate.c)
 *     -> summary -> p_convert, u
 *     -> sim_site_leave  (leave stream)        the ending if the visitor goes
 *     -> sim_site_finish (convert stream)      the ending if the visitor applies
 *
 * Time only moves forward: every action advances g->t and emits at g->t. The
 * one exception is a $dead_click, which the tracker sends 1 s after its click
 * while the visitor may click on; those wait in g->pend and are merged in
 * time order (sim_flush), so every list is sorted by ts by construction.
 */
#ifndef JOURNEY_SIM_INTERNAL_H
#define JOURNEY_SIM_INTERNAL_H

#include "sim/sim.h"

#include "common/buf.h"

#include <math.h>

/* ---- PRNG: splitmix64 seeding, xoshiro256** --------------------------- */

struct sim_rng {
    uint64_t s[4];
};

static inline uint64_t sim_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static inline void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ULL;
        r->s[i] = sim_mix64(seed);
    }
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double sim_rng_unit(struct sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

static inline bool sim_rng_chance(struct sim_rng *r, double p)
{
    return sim_rng_unit(r) < p;
}

/* Uniform integer in [lo, hi]. */
static inline int sim_rng_int(struct sim_rng *r, int lo, int hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int)(sim_rng_next(r) % (uint64_t)(hi - lo + 1));
}

static inline double sim_rng_range(struct sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_unit(r);
}

/* Standard normal (Box-Muller, one value per call: no hidden cached state). */
static inline double sim_rng_normal(struct sim_rng *r)
{
    double u1 = 1.0 - sim_rng_unit(r); /* (0, 1] */
    double u2 = sim_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Lognormal with the given median; the spread sigma is capped at 3 sd. */
static inline double sim_rng_lognormal(struct sim_rng *r, double median, double sigma)
{
    double z = sim_rng_normal(r);
    if (z > 3.0)
        z = 3.0;
    if (z < -3.0)
        z = -3.0;
    return median * exp(sigma * z);
}

/* A duration in ms, lognormal, at least 1. */
static inline int64_t sim_rng_ms(struct sim_rng *r, double median_ms, double sigma)
{
    double v = sim_rng_lognormal(r, median_ms, sigma);
    return v < 1.0 ? 1 : (int64_t)(v + 0.5);
}

/* An index drawn with the given (non-negative, not all zero) weights. */
int sim_rng_pick(struct sim_rng *r, const double *weights, int n);

/* ---- the demo site ------------------------------------------------------ */

enum sim_page { PAGE_HOME, PAGE_CALC, PAGE_RATES, PAGE_FAQ, PAGE_APPLY, PAGE_THANKS, PAGE_COUNT };

struct sim_page_def {
    const char *path; /* as linked inside the site */
    const char *title;
    int height_desktop, height_mobile; /* document height, px */
};
extern const struct sim_page_def sim_pages[PAGE_COUNT];

/* Form fields, in DOM order per form (the order validation reports them). */
/* clang-format off */
enum sim_field {
    FLD_AMOUNT, FLD_TERM, FLD_INCOME,                                   /* #loan-calculator */
    FLD_FULL_NAME, FLD_EMAIL, FLD_PHONE, FLD_EMPLOYMENT, FLD_CONSENT, /* #application */
    FLD_COUNT
};
/* clang-format on */
#define FLD_CALC_FIRST FLD_AMOUNT
#define FLD_APP_FIRST FLD_FULL_NAME

/* Clickable (or click-attracting) things, with where they are. */
/* clang-format off */
enum sim_elem {
    EL_NAV_HOME, EL_NAV_CALC, EL_NAV_APPLY,
    EL_FOOT_FAQ, EL_FOOT_RATES, EL_FOOT_CALC,
    EL_HOME_CALC, EL_HOME_RATES, EL_HOME_VIDEO, EL_HOME_BAND_CALC, EL_HOME_RATE_CARD,
    EL_CALC_SUBMIT, EL_CALC_APPLY_NOW, EL_CALC_INCOME_HELP, EL_CALC_RATES, EL_CALC_FAQ,
    EL_CALC_PLACEHOLDER,
    EL_RATES_SORT_AMOUNT, EL_RATES_SORT_APR, EL_RATES_SORT_TERMS, EL_RATES_CALC, EL_RATES_CELL,
    EL_FAQ_TOC_TERMS, EL_FAQ_TOC_INCOME, EL_FAQ_TERMS_RATES, EL_FAQ_BACK_CALC, EL_FAQ_INCOME_TEXT,
    EL_APPLY_SUBMIT, EL_APPLY_BACK_CALC, EL_APPLY_STEPS,
    EL_THANKS_HOME,
    EL_F_AMOUNT, EL_F_TERM, EL_F_INCOME,
    EL_F_FULL_NAME, EL_F_EMAIL, EL_F_PHONE, EL_F_EMPLOYMENT, EL_F_CONSENT,
    EL_COUNT
};
/* clang-format on */

/* ---- one session being generated --------------------------------------- */

struct sim_msg_list {
    struct sim_message *v;
    size_t n, cap;
};

struct sim_pending {
    int64_t ts;
    char *json;
};
#define SIM_MAX_PENDING 32
#define SIM_HISTORY 24
#define SIM_URL_MAX 320

struct sim_device {
    const char *user_agent;
    bool mobile;
    bool ios;
};

/* One entry of the tab's history: enough to load it again on Back. */
struct sim_history_entry {
    enum sim_page page;
    const char *path; /* static */
    const char *hash; /* static, "" for none */
    char search[200];
    char referrer[SIM_URL_MAX];
};

/* The calculator's form as typed (values are simulated, never sent). */
struct sim_calc {
    int amount_state; /* 0 empty, 1 a number, 2 not a number */
    int amount;
    int amount_len;
    int term;         /* 0 = "Choose a term" */
    int income_state; /* 0 empty, 1 a number */
    int income;
    int income_len;
    bool quote; /* a valid quote is shown and nothing was edited since */
};

struct sim_app {
    int len[5];
    bool valid[5];
};

/* The tracker's per-page-view field bookkeeping (PageState._fields / _changes). */
struct sim_field_state {
    int length;  /* last length the tracker saw */
    bool in_map; /* touched on this page view and not submitted since */
    int changes; /* change events on this page view */
    bool dirty;  /* typed into since focus: a change event is due on blur */
};

struct sim_gen {
    struct sim *sim;
    const char *host;
    struct sim_session *ss;
    struct sim_rng rng;
    struct sim_msg_list *out; /* the list being written */
    int64_t t;                /* now, epoch ms */
    int64_t last_ts;          /* the latest ts written to *out */
    struct sim_pending pend[SIM_MAX_PENDING];
    int n_pend;
    struct buf msg, props; /* scratch */
    char last_id[37];      /* messageId of the latest track message */

    /* visitor and device */
    const struct sim_device *dev;
    int vw, vh;
    const char *locale, *timezone;
    char user_id_now[48]; /* userId on messages ("" before identify) */
    const char *landing_referrer;
    char landing_search[200];

    /* current page view */
    enum sim_page page;
    bool page_open;
    char url[SIM_URL_MAX];     /* location.href */
    char doc_url[SIM_URL_MAX]; /* the URL without its fragment: the next page's referrer */
    struct buf ctx;            /* "context":{...} of this page view */
    struct buf page_props;     /* {"path":...} of this page view */
    int64_t page_start;
    int height;
    int scroll_y, depth, step, direction, reversals;
    int dead_clicks_page;
    bool vis_planned, err_planned, stray_planned;
    struct sim_field_state fields[FLD_COUNT];
    int focused; /* enum sim_field, or -1 */
    int64_t focused_at;
    struct sim_history_entry hist[SIM_HISTORY];
    int hist_len;

    /* site state */
    struct sim_calc calc;
    struct sim_app app;
    bool knows_income_annual;
    bool knows_term_rules;
    bool phone_habit_formatted; /* types (555) 123-4567 first */
    bool phone_error_seen;
    bool email_typo, email_error_seen;
    unsigned calc_err_mask; /* fields the last calculation rejected (1 << FLD_*) */
    double video_pos, video_rate;
    unsigned char video_seen[120]; /* half-second bins of the 60 s video */

    /* truth, counted while writing behaviour */
    bool in_behaviour;
    struct sim_summary sum;
    bool interacted;
    int64_t click_last_ts;
    int click_last_x, click_last_y, click_streak;
    uint64_t visit_path[2]; /* the last two page views' paths (hash) */
    int64_t visit_ts[2];
    int visits;
};

/* ---- messages (generate.c) ---------------------------------------------- */

/* Properties under construction: sim_p_begin, then the sim_p_* members in order. */
void sim_p_begin(struct sim_gen *g);
void sim_p_str(struct sim_gen *g, const char *key, const char *v);
void sim_p_int(struct sim_gen *g, const char *key, int64_t v);
void sim_p_bool(struct sim_gen *g, const char *key, bool v);
void sim_p_num(struct sim_gen *g, const char *key, double v, int decimals); /* JS-style */
void sim_p_raw(struct sim_gen *g, const char *key, const char *json);

/* Writes a track message with the properties built, at g->t. Its messageId is in g->last_id. */
void sim_track(struct sim_gen *g, const char *event);
/* The same message held back until ts (> g->t), e.g. a $dead_click. */
void sim_track_later(struct sim_gen *g, const char *event, int64_t ts);
/* A page view of the current page (g->page_props, g->ctx), at g->t. */
void sim_page_view(struct sim_gen *g);
/* identify(user_id): from now on every message carries userId. */
void sim_identify(struct sim_gen *g, const char *user_id);
/* Writes every held-back message (dead clicks) due up to ts; INT64_MAX: all. */
void sim_flush(struct sim_gen *g, int64_t ts);
/* json_str with a fast path for strings that need no escaping. */
void sim_json_str(struct buf *b, const char *s);
/* A UUID v4 from the session's PRNG. */
void sim_uuid(struct sim_rng *r, char out[37]);

/* ---- the site (site.c) ---------------------------------------------------- */

/* Opens the landing page (external referrer and campaign search) at g->t. */
void sim_site_land(struct sim_gen *g, enum sim_page page);
/* Clicks a link or button that loads another page (or jumps within the page). */
void sim_site_follow(struct sim_gen *g, enum sim_elem el);
/* The browser's Back button; false if there is no earlier page. */
bool sim_site_back(struct sim_gen *g);
/* Spends dwell_ms on the page reading: scrolls towards depth_goal (0-1) with the given chance
 * of turning back on each move; now and then a hidden tab, a stray click or a JS error. */
void sim_site_read(struct sim_gen *g, int64_t dwell_ms, double depth_goal, double reversal_p);
/* Scrolls up and down looking for something: `moves` quick gestures, turning back often. */
void sim_site_scroll_hunt(struct sim_gen *g, int moves);
/* Pauses without doing anything visible. */
void sim_site_think(struct sim_gen *g, double median_ms, double sigma);
/* Clicks something that does nothing: $click, then $dead_click 1 s later. */
void sim_site_dead_click(struct sim_gen *g, enum sim_elem el);
/* n quick clicks on the same spot of el (a rage-click burst), each a dead click. */
void sim_site_rage(struct sim_gen *g, enum sim_elem el, int n);

/* The calculator: what the visitor types (lengths and validity follow loan.ts). */
enum sim_amount_kind { AMT_TYPICAL, AMT_TOO_BIG, AMT_TOO_SMALL, AMT_GARBAGE };
void sim_site_calc_amount(struct sim_gen *g, enum sim_amount_kind kind);
/* Chooses a term; respecting the rules if the visitor knows them (or must). */
void sim_site_calc_term(struct sim_gen *g, bool respect_rules);
/* Types an income: annual, or the monthly figure from the payslip. */
void sim_site_calc_income(struct sim_gen *g, bool monthly);
/* Presses Calculate (or Enter); true if the quote appears. */
bool sim_site_calc_submit(struct sim_gen *g);
/* Fixes what the last failed calculation complained about (as a visitor who understood). */
void sim_site_calc_fix(struct sim_gen *g);
/* "Apply now": with a quote, to apply.html; without, a dead click. */
void sim_site_apply_now(struct sim_gen *g);

/* The application: fills one field (well, or the habitual way for the phone). */
void sim_site_app_fill(struct sim_gen *g, enum sim_field f);
/* Presses "Send application"; true if it went through (then the caller goes on). */
bool sim_site_app_submit(struct sim_gen *g);
int sim_site_app_filled(const struct sim_gen *g);

/* The explainer video on the home page. */
struct sim_video_plan {
    double stop_at;            /* media position where the viewer stops; >= 60: the end */
    double rate, rate_at;      /* a rate change (rate 0: none) at a media position */
    double skip_from, skip_to; /* a forward seek (skip_from <= 0: none) */
    int rewinds;               /* seeks back into the income segment (32-45 s) */
    bool pause_resume;
};
void sim_site_video(struct sim_gen *g, const struct sim_video_plan *plan);

/* The two endings. */
void sim_site_leave(struct sim_gen *g);
void sim_site_finish(struct sim_gen *g);

/* Per-page-view randomness (visibility, stray clicks, errors), set when a page opens. */
void sim_site_plan_page(struct sim_gen *g);

/* ---- personas (personas.c) ------------------------------------------------ */

/* Writes the behaviour of persona p, from landing to the point of decision. */
void sim_persona_run(struct sim_gen *g, enum sim_persona p);

#endif
