/*
 * site.c - the demo site (the pages in web/demo/src/) as the simulator sees it, and
 * what a visitor can do on it, written down as journey.js would report it.
 *
 * The site model is three tables: pages (path, title, document height),
 * elements (the selector the tracker's dom.ts would compute, tag, visible text,
 * whether it is interactive, where it leads, and its box on a desktop and on a
 * phone layout), and form fields (form id, name, field_type). Coordinates are
 * page coordinates: desktop boxes are relative to the 1120 px centred
 * container (x < 0 counts from its right edge), phone boxes use percentages of
 * the one-column width; y < 0 counts from the bottom of the page (footer).
 *
 * Every action replays the tracker's own bookkeeping so the events carry the
 * numbers a real page would produce:
 *   - scroll.ts: positions settle 250 ms after a move; moves under 10 px are
 *     ignored; a $scroll goes out on a new 25% step or a direction reversal;
 *     the step visible at page load is not reported;
 *   - forms.ts: focus -> (typing: `input` remembers the length) -> change
 *     (text: on blur, before it; select and checkbox: at once) -> blur with
 *     dwell_ms; a submit forgets its form's fields for $page_leave;
 *   - clicks.ts: $click on everything; $dead_click 1000 ms later when nothing
 *     happened (only the disabled "Apply now", the fake sort headers and stray
 *     clicks on text; the visitor never acts within that second, so no later
 *     action would have cancelled it);
 *   - the calculator (loan.ts, calculator.ts): the same rules, messages and
 *     order ($form_submit, then one $field_invalid per bad field in field
 *     order with source "api", then focus on the first bad field); the
 *     application (application.ts) uses native validation: an invalid submit
 *     fires no submit event, only `invalid` per field (source "native");
 *   - video.ts: play starts a 5 s wall-clock heartbeat chain; pause and ended
 *     stop it; seeks and rate changes do not; the media position advances by
 *     wall time x rate; at the end the element fires pause, then ended.
 * Values typed are simulated (to know lengths and validity) and never written.
 */
#include "sim/sim_internal.h"

#include "common/util.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The site                                                                  */

const struct sim_page_def sim_pages[PAGE_COUNT] = {
    [PAGE_HOME] = {"/demo/index.html",
                   "Personal loans from $1,000 to $50,000 \xC2\xB7 Kestrel Loans", 2300, 3900},
    [PAGE_CALC] = {"/demo/calculator.html", "Loan calculator \xC2\xB7 Kestrel Loans", 1150, 1900},
    [PAGE_RATES] = {"/demo/rates.html", "Rates and fees \xC2\xB7 Kestrel Loans", 1250, 1950},
    [PAGE_FAQ] = {"/demo/faq.html", "Questions and answers \xC2\xB7 Kestrel Loans", 2750, 5200},
    [PAGE_APPLY] = {"/demo/apply.html", "Apply for a loan \xC2\xB7 Kestrel Loans", 1200, 1800},
    [PAGE_THANKS] = {"/demo/thanks.html", "Application received \xC2\xB7 Kestrel Loans", 800, 1000},
};

#define ANY_PAGE PAGE_COUNT
#define NO_TARGET (-1)

struct elem_def {
    int page; /* enum sim_page, or ANY_PAGE (header and footer) */
    const char *selector, *tag, *text;
    bool interactive;
    int target;           /* the page it loads, or NO_TARGET */
    const char *hash;     /* fragment of the link ("" for none) */
    short dx, dy, dw, dh; /* desktop box (see the top of the file) */
    short mx, my, mw, mh; /* phone box: x, w in % of the column; y, h in px */
};

#define NAV "div.container.header-inner > nav.site-nav > ul > li:nth-of-type"
#define FOOT "div.container.footer-inner > nav > ul > li:nth-of-type"
#define HERO                                                                                       \
    "section.hero:nth-of-type(1) > div.container.hero-inner > div.hero-copy:nth-of-type(1) > "     \
    "div.actions > "
#define CALC_LINKS "#main > div.container.calc-layout:nth-of-type(2) > aside.card.quote > "
#define TOC "div.container.prose-layout:nth-of-type(2) > nav.toc.card > ul > li:nth-of-type"
#define APPLY_ASIDE "#main > div.container.calc-layout:nth-of-type(2) > aside.card.aside-info > "
#define SORT "#rates-table > thead > tr > th:nth-of-type"

/* clang-format off */
static const struct elem_def elems[EL_COUNT] = {
    [EL_NAV_HOME] = {ANY_PAGE, NAV "(1) > a", "a", "Home", true, PAGE_HOME, "",
                     -330, 24, 60, 26, 0, 82, 14, 26},
    [EL_NAV_CALC] = {ANY_PAGE, NAV "(2) > a", "a", "Loan calculator", true, PAGE_CALC, "",
                     -250, 24, 130, 26, 20, 82, 36, 26},
    [EL_NAV_APPLY] = {ANY_PAGE, NAV "(3) > a", "a", "Apply", true, PAGE_APPLY, "",
                      -90, 24, 60, 26, 62, 82, 16, 26},
    [EL_FOOT_FAQ] = {ANY_PAGE, FOOT "(1) > a", "a", "Questions and answers", true, PAGE_FAQ, "",
                     0, -150, 170, 24, 0, -260, 55, 24},
    [EL_FOOT_RATES] = {ANY_PAGE, FOOT "(2) > a", "a", "Rates and fees", true, PAGE_RATES, "",
                       200, -150, 110, 24, 0, -225, 40, 24},
    [EL_FOOT_CALC] = {ANY_PAGE, FOOT "(3) > a", "a", "Loan calculator", true, PAGE_CALC, "",
                      340, -150, 120, 24, 0, -190, 45, 24},
    [EL_HOME_CALC] = {PAGE_HOME, HERO "a.button.button-accent:nth-of-type(1)", "a",
                      "Calculate your payment", true, PAGE_CALC, "",
                      0, 392, 240, 52, 0, 470, 70, 52},
    [EL_HOME_RATES] = {PAGE_HOME, HERO "a.button.button-ghost:nth-of-type(2)", "a",
                       "See our rates", true, PAGE_RATES, "",
                       256, 392, 160, 52, 0, 536, 48, 52},
    [EL_HOME_VIDEO] = {PAGE_HOME, "#explainer", "video",
                       "Your browser cannot play this video. Download the explainer (WebM, 170 "
                       "KB).",
                       false, NO_TARGET, "", 560, 640, 520, 292, 0, 1290, 100, 200},
    [EL_HOME_BAND_CALC] = {PAGE_HOME,
                           "#main > section.section.cta-band:nth-of-type(4) > "
                           "div.container.cta-inner > a.button.button-accent",
                           "a", "Open the loan calculator", true, PAGE_CALC, "",
                           820, 1640, 250, 52, 0, 3150, 75, 52},
    [EL_HOME_RATE_CARD] = {PAGE_HOME,
                           "#main > section.hero:nth-of-type(1) > div.container.hero-inner > "
                           "div.hero-card:nth-of-type(2) > p.hero-card-rate:nth-of-type(2)",
                           "p", "6.9% APR", false, NO_TARGET, "",
                           760, 250, 260, 60, 5, 700, 60, 60},
    [EL_CALC_SUBMIT] = {PAGE_CALC, "#loan-calculator > button.button.button-primary", "button",
                        "Calculate", true, NO_TARGET, "", 32, 700, 140, 48, 0, 775, 42, 48},
    [EL_CALC_APPLY_NOW] = {PAGE_CALC, "#apply-now", "button", "Apply now", true, PAGE_APPLY, "",
                           700, 478, 350, 50, 5, 1010, 90, 50},
    [EL_CALC_INCOME_HELP] = {PAGE_CALC, "#income-hint > a", "a", "What counts as income?", true,
                             PAGE_FAQ, "#income", 330, 586, 170, 22, 0, 650, 55, 22},
    [EL_CALC_RATES] = {PAGE_CALC, CALC_LINKS "p.quote-links > a:nth-of-type(1)", "a",
                       "Rates and terms", true, PAGE_RATES, "",
                       720, 562, 110, 22, 5, 1095, 35, 22},
    [EL_CALC_FAQ] = {PAGE_CALC, CALC_LINKS "p.quote-links > a:nth-of-type(2)", "a",
                     "Questions and answers", true, PAGE_FAQ, "",
                     850, 562, 160, 22, 45, 1095, 50, 22},
    [EL_CALC_PLACEHOLDER] = {PAGE_CALC, "#quote-result > p.quote-placeholder", "p",
                             "Fill in the form and press Calculate to see your monthly payment.",
                             false, NO_TARGET, "", 720, 390, 330, 50, 5, 920, 90, 50},
    [EL_RATES_SORT_AMOUNT] = {PAGE_RATES, SORT "(1) > span.sort-look", "span",
                              "Amount \xE2\x86\x95", false, NO_TARGET, "",
                              30, 300, 80, 24, 4, 330, 22, 24},
    [EL_RATES_SORT_APR] = {PAGE_RATES, SORT "(2) > span.sort-look", "span",
                           "Representative APR \xE2\x86\x95", false, NO_TARGET, "",
                           400, 300, 180, 24, 36, 330, 34, 40},
    [EL_RATES_SORT_TERMS] = {PAGE_RATES, SORT "(3) > span.sort-look", "span",
                             "Terms \xE2\x86\x95", false, NO_TARGET, "",
                             760, 300, 70, 24, 76, 330, 20, 24},
    [EL_RATES_CALC] = {PAGE_RATES,
                       "div.container:nth-of-type(2) > div.two-col.section-tight:nth-of-type(2) > "
                       "section.card:nth-of-type(2) > p:nth-of-type(2) > a.button.button-primary",
                       "a", "Open the loan calculator", true, PAGE_CALC, "",
                       600, 860, 250, 48, 0, 1450, 75, 48},
    [EL_RATES_CELL] = {PAGE_RATES, "#rates-table > tbody > tr:nth-of-type(4) > td:nth-of-type(2)",
                       "td", "7.4%", false, NO_TARGET, "", 400, 520, 120, 30, 36, 560, 30, 40},
    [EL_FAQ_TOC_TERMS] = {PAGE_FAQ, TOC "(3) > a", "a", "Which terms can I choose?", true,
                          PAGE_FAQ, "#terms", 24, 402, 230, 22, 5, 480, 70, 22},
    [EL_FAQ_TOC_INCOME] = {PAGE_FAQ, TOC "(4) > a", "a", "What counts as income?", true, PAGE_FAQ,
                           "#income", 24, 434, 200, 22, 5, 512, 60, 22},
    [EL_FAQ_TERMS_RATES] = {PAGE_FAQ, "#terms > p:nth-of-type(2) > a", "a", "rates and fees",
                            true, PAGE_RATES, "", 380, 1180, 110, 22, 10, 2150, 30, 22},
    [EL_FAQ_BACK_CALC] = {PAGE_FAQ, "#contact > p:nth-of-type(2) > a.button.button-primary", "a",
                          "Back to the calculator", true, PAGE_CALC, "",
                          340, 2330, 220, 48, 0, 4720, 65, 48},
    [EL_FAQ_INCOME_TEXT] = {PAGE_FAQ, "#income > p:nth-of-type(1)", "p",
                            "Enter your annual income before tax: what you earn in a whole year, "
                            "not in a month.",
                            false, NO_TARGET, "", 340, 1380, 700, 80, 0, 2500, 100, 150},
    [EL_APPLY_SUBMIT] = {PAGE_APPLY, "#application > button.button.button-primary", "button",
                         "Send application", true, NO_TARGET, "",
                         32, 900, 200, 48, 0, 990, 55, 48},
    [EL_APPLY_BACK_CALC] = {PAGE_APPLY, APPLY_ASIDE "p.quote-links > a:nth-of-type(1)", "a",
                            "Back to the calculator", true, PAGE_CALC, "",
                            720, 700, 170, 22, 5, 1300, 50, 22},
    [EL_APPLY_STEPS] = {PAGE_APPLY, APPLY_ASIDE "ol.steps.steps-compact > li:nth-of-type(1)", "li",
                        "We check your details with a credit reference agency.", false, NO_TARGET,
                        "", 720, 420, 330, 50, 5, 1120, 90, 50},
    [EL_THANKS_HOME] = {PAGE_THANKS,
                        "#main > div.container.narrow > div.card.confirmation > "
                        "div.actions.actions-center:nth-of-type(2) > "
                        "a.button.button-primary:nth-of-type(1)",
                        "a", "Back to the home page", true, PAGE_HOME, "",
                        320, 470, 220, 48, 0, 560, 65, 48},
    [EL_F_AMOUNT] = {PAGE_CALC, "#amount", "input", "", true, NO_TARGET, "",
                     30, 395, 570, 46, 0, 440, 100, 46},
    [EL_F_TERM] = {PAGE_CALC, "#term", "select", "", true, NO_TARGET, "",
                   30, 505, 570, 46, 0, 565, 100, 46},
    [EL_F_INCOME] = {PAGE_CALC, "#income", "input", "", true, NO_TARGET, "",
                     30, 625, 570, 46, 0, 690, 100, 46},
    [EL_F_FULL_NAME] = {PAGE_APPLY, "#full-name", "input", "", true, NO_TARGET, "",
                        30, 380, 570, 46, 0, 400, 100, 46},
    [EL_F_EMAIL] = {PAGE_APPLY, "#email", "input", "", true, NO_TARGET, "",
                    30, 490, 570, 46, 0, 520, 100, 46},
    [EL_F_PHONE] = {PAGE_APPLY, "#phone", "input", "", true, NO_TARGET, "",
                    30, 610, 570, 46, 0, 650, 100, 46},
    [EL_F_EMPLOYMENT] = {PAGE_APPLY, "#employment", "select", "", true, NO_TARGET, "",
                         30, 720, 570, 46, 0, 770, 100, 46},
    [EL_F_CONSENT] = {PAGE_APPLY, "#consent", "input", "", true, NO_TARGET, "",
                      30, 800, 22, 22, 0, 860, 7, 22},
};
/* clang-format on */

struct field_def {
    const char *form, *name, *type;
    enum sim_elem el;
};

static const struct field_def field_defs[FLD_COUNT] = {
    [FLD_AMOUNT] = {"loan-calculator", "amount", "text", EL_F_AMOUNT},
    [FLD_TERM] = {"loan-calculator", "term", "select", EL_F_TERM},
    [FLD_INCOME] = {"loan-calculator", "income", "text", EL_F_INCOME},
    [FLD_FULL_NAME] = {"application", "full_name", "text", EL_F_FULL_NAME},
    [FLD_EMAIL] = {"application", "email", "email", EL_F_EMAIL},
    [FLD_PHONE] = {"application", "phone", "tel", EL_F_PHONE},
    [FLD_EMPLOYMENT] = {"application", "employment", "select", EL_F_EMPLOYMENT},
    [FLD_CONSENT] = {"application", "consent", "checkbox", EL_F_CONSENT},
};

/* Anchors of the FAQ (y of the section heading). */
static int anchor_y(const struct sim_gen *g, const char *hash)
{
    bool m = g->dev->mobile;
    if (!strcmp(hash, "#income"))
        return m ? 2400 : 1330;
    if (!strcmp(hash, "#terms"))
        return m ? 1950 : 1080;
    return 0;
}

static const char *const video_src_path = "/demo/media/explainer.webm";
#define VIDEO_ID "loan-explainer"
#define VIDEO_TITLE "How our loans work"
#define VIDEO_S 60.0

static bool is_calc_field(int f)
{
    return f >= FLD_AMOUNT && f <= FLD_INCOME;
}

/* ------------------------------------------------------------------------ */
/* Geometry                                                                  */

static int container_left(const struct sim_gen *g)
{
    if (g->dev->mobile)
        return 20;
    return (g->vw > 1120 ? (g->vw - 1120) / 2 : 0) + 20;
}

static int container_width(const struct sim_gen *g)
{
    return (g->vw < 1120 ? g->vw : 1120) - 40;
}

/* The element's box in page coordinates. */
static void elem_box(const struct sim_gen *g, enum sim_elem el, int *x, int *y, int *w, int *h)
{
    const struct elem_def *d = &elems[el];
    int left = container_left(g), cw = container_width(g);
    if (g->dev->mobile) {
        *x = left + d->mx * cw / 100;
        *w = d->mw * cw / 100;
        *y = d->my;
        *h = d->mh;
    } else {
        *x = d->dx >= 0 ? left + d->dx : left + cw + d->dx;
        *w = d->dw;
        *y = d->dy;
        *h = d->dh;
    }
    if (*y < 0)
        *y += g->height;
    if (*w < 4)
        *w = 4;
}

/* Where a pointer lands on el: inside its box, around the middle. */
static void elem_point(struct sim_gen *g, enum sim_elem el, int *px, int *py)
{
    int x, y, w, h;
    elem_box(g, el, &x, &y, &w, &h);
    *px = x + (int)(w * sim_rng_range(&g->rng, 0.2, 0.8));
    *py = y + (int)(h * sim_rng_range(&g->rng, 0.25, 0.75));
}

static int depth_now(const struct sim_gen *g)
{
    if (g->height <= g->vh)
        return 100;
    int d = (int)lround((double)(g->scroll_y + g->vh) * 100.0 / g->height);
    return d > 100 ? 100 : d;
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static void wait_ms(struct sim_gen *g, double median, double sigma)
{
    g->t += sim_rng_ms(&g->rng, median, sigma);
}

void sim_site_think(struct sim_gen *g, double median_ms, double sigma)
{
    wait_ms(g, median_ms, sigma);
}

static uint64_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The element's visible text as elementText() reports it: at most 60 characters
 * (all ours are in the Basic Multilingual Plane, so characters = UTF-16 units). */
static void p_text(struct sim_gen *g, const char *text)
{
    size_t n = 0, chars = 0;
    while (text[n] && chars < 60) {
        unsigned char c = (unsigned char)text[n];
        n += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        chars++;
    }
    char tmp[256];
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, text, n);
    tmp[n] = '\0';
    sim_p_str(g, "text", tmp);
}

static void p_field(struct sim_gen *g, enum sim_field f)
{
    sim_p_str(g, "form", field_defs[f].form);
    sim_p_str(g, "field", field_defs[f].name);
    sim_p_str(g, "field_type", field_defs[f].type);
}

/* ------------------------------------------------------------------------ */
/* Scrolling                                                                 */

/* One scroll gesture by dy px; the tracker reports it once it settles. */
static void scroll_by(struct sim_gen *g, int dy)
{
    int max_y = g->height - g->vh;
    if (max_y <= 0)
        return;
    int y = g->scroll_y + dy;
    if (y < 0)
        y = 0;
    if (y > max_y)
        y = max_y;
    int moved = y - g->scroll_y;
    g->t += 150 + (moved < 0 ? -moved : moved) / 4 + 250; /* the gesture, then the debounce */
    if (moved > -10 && moved < 10)
        return;
    int dir = moved > 0 ? 1 : -1;
    bool reversed = g->direction != 0 && dir != g->direction;
    if (reversed)
        g->reversals++;
    g->direction = dir;
    g->scroll_y = y;
    int d = depth_now(g);
    if (d > g->depth)
        g->depth = d;
    bool new_step = g->depth / 25 > g->step;
    if (new_step)
        g->step = g->depth / 25;
    if (reversed || new_step) {
        sim_p_begin(g);
        sim_p_int(g, "depth", g->depth);
        sim_p_int(g, "y", y);
        sim_p_str(g, "direction", dir > 0 ? "down" : "up");
        sim_p_int(g, "reversals", g->reversals);
        sim_track(g, "$scroll");
    }
}

/* Brings page position y into view if it is not. */
static void scroll_to_show(struct sim_gen *g, int y)
{
    if (y >= g->scroll_y + 40 && y <= g->scroll_y + g->vh - 40)
        return;
    int target = y - g->vh / 2 + sim_rng_int(&g->rng, -60, 60);
    scroll_by(g, target - g->scroll_y);
    g->t += sim_rng_ms(&g->rng, 400, 0.4);
}

/* ------------------------------------------------------------------------ */
/* Pages                                                                     */

static void build_page_json(struct sim_gen *g, const char *path, const char *search,
                            const char *referrer)
{
    struct buf *p = &g->page_props;
    buf_reset(p);
    buf_puts(p, "{\"path\":");
    sim_json_str(p, path);
    buf_puts(p, ",\"url\":");
    sim_json_str(p, g->url);
    buf_puts(p, ",\"title\":");
    sim_json_str(p, sim_pages[g->page].title);
    buf_puts(p, ",\"referrer\":");
    sim_json_str(p, referrer);
    buf_puts(p, ",\"search\":");
    sim_json_str(p, search);
    buf_putc(p, '}');

    struct buf *c = &g->ctx;
    buf_reset(c);
    buf_puts(c, "{\"sessionId\":");
    sim_json_str(c, g->ss->session_id);
    buf_puts(c, ",\"page\":");
    buf_append(c, p->data, p->len);
    buf_puts(c, ",\"userAgent\":");
    sim_json_str(c, g->dev->user_agent);
    buf_puts(c, ",\"library\":{\"name\":\"" SIM_LIBRARY_NAME "\",\"version\":\"" SIM_VERSION
                "\"},\"screen\":{\"width\":");
    buf_printf(c, "%d,\"height\":%d},\"locale\":", g->vw, g->vh);
    sim_json_str(c, g->locale);
    buf_puts(c, ",\"timezone\":");
    sim_json_str(c, g->timezone);
    buf_putc(c, '}');
}

void sim_site_plan_page(struct sim_gen *g)
{
    g->vis_planned = sim_rng_chance(&g->rng, g->dev->mobile ? 0.12 : 0.06);
    g->err_planned = sim_rng_chance(&g->rng, 0.008);
    g->stray_planned = sim_rng_chance(&g->rng, 0.04);
}

/* A page view of entry e (a fresh load unless same_document: a fragment jump). */
static void open_entry(struct sim_gen *g, const struct sim_history_entry *e, bool same_document)
{
    g->page = e->page;
    snprintf(g->url, sizeof g->url, "%s%s%s%s", g->host, e->path, e->search, e->hash);
    snprintf(g->doc_url, sizeof g->doc_url, "%s%s%s", g->host, e->path, e->search);
    build_page_json(g, e->path, e->search, e->referrer);
    g->height =
        g->dev->mobile ? sim_pages[e->page].height_mobile : sim_pages[e->page].height_desktop;
    if (!same_document) {
        g->scroll_y = 0;
        g->direction = 0;
    }
    if (e->hash[0]) {
        int max_y = g->height - g->vh;
        int y = anchor_y(g, e->hash);
        g->scroll_y = y < max_y ? y : (max_y > 0 ? max_y : 0);
    }
    /* the tracker's fresh PageState and scroll hook */
    g->page_start = g->t;
    g->depth = depth_now(g);
    g->step = g->depth / 25;
    g->direction = 0;
    g->reversals = 0;
    g->dead_clicks_page = 0;
    g->focused = -1;
    memset(g->fields, 0, sizeof g->fields);
    g->click_streak = 0;
    g->click_last_ts = 0;
    sim_page_view(g);
    g->page_open = true;

    if (g->in_behaviour) {
        uint64_t h = path_hash(e->path);
        g->sum.pages++;
        if (e->page == PAGE_APPLY)
            g->sum.reached_apply = true;
        if (g->visits >= 2 && g->visit_path[0] == h && g->visit_path[1] != h &&
            g->t - g->visit_ts[1] < 10000)
            g->sum.u_turns++;
        g->visit_path[0] = g->visit_path[1];
        g->visit_ts[0] = g->visit_ts[1];
        g->visit_path[1] = h;
        g->visit_ts[1] = g->t;
        g->visits++;
    }
    sim_site_plan_page(g);
}

static void history_push(struct sim_gen *g, const struct sim_history_entry *e)
{
    if (g->hist_len == SIM_HISTORY) {
        memmove(g->hist, g->hist + 1, (SIM_HISTORY - 1) * sizeof *g->hist);
        g->hist_len--;
    }
    g->hist[g->hist_len++] = *e;
}

void sim_site_land(struct sim_gen *g, enum sim_page page)
{
    struct sim_history_entry e;
    memset(&e, 0, sizeof e);
    e.page = page;
    /* Typed or linked from outside, the home page is the directory URL. */
    e.path = page == PAGE_HOME ? "/demo/" : sim_pages[page].path;
    e.hash = "";
    snprintf(e.search, sizeof e.search, "%s", g->landing_search);
    snprintf(e.referrer, sizeof e.referrer, "%s", g->landing_referrer);
    history_push(g, &e);
    open_entry(g, &e, false);
}

/* pagehide: $page_leave with what this page view amounted to. */
static void page_leave(struct sim_gen *g)
{
    sim_flush(g, g->t);
    int filled = 0;
    bool calc = false, app = false;
    for (int f = 0; f < FLD_COUNT; f++) {
        if (!g->fields[f].in_map || g->fields[f].length <= 0)
            continue;
        filled++;
        if (is_calc_field(f))
            calc = true;
        else
            app = true;
    }
    sim_p_begin(g);
    sim_p_int(g, "dwell_ms", g->t - g->page_start);
    sim_p_int(g, "max_depth", g->depth);
    sim_p_int(g, "fields_filled", filled);
    /* forms in the order their first field was touched: the calculator and the
     * application are on different pages, so there is never more than one */
    sim_p_raw(g, "forms_started",
              calc  ? "[\"loan-calculator\"]"
              : app ? "[\"application\"]"
                    : "[]");
    sim_track(g, "$page_leave");
    g->page_open = false;
}

static void reset_form_state(struct sim_gen *g, enum sim_page page)
{
    if (page == PAGE_CALC)
        memset(&g->calc, 0, sizeof g->calc);
    if (page == PAGE_APPLY)
        memset(&g->app, 0, sizeof g->app);
}

/* Loads another document: pagehide on this one, then the new page view. */
static void navigate(struct sim_gen *g, const struct sim_history_entry *e)
{
    g->t += sim_rng_ms(&g->rng, 180, 0.5);
    page_leave(g);
    g->t += sim_rng_ms(&g->rng, 320, 0.5);
    open_entry(g, e, false);
}

/* ------------------------------------------------------------------------ */
/* Clicks                                                                    */

static void note_click(struct sim_gen *g, int x, int y)
{
    g->interacted = true;
    int dist = (x > g->click_last_x ? x - g->click_last_x : g->click_last_x - x) +
               (y > g->click_last_y ? y - g->click_last_y : g->click_last_y - y);
    bool continues = g->click_streak > 0 && g->t - g->click_last_ts <= 1000 && dist <= 30;
    g->click_streak = continues ? g->click_streak + 1 : 1;
    if (g->click_streak == 3 && g->in_behaviour)
        g->sum.rage_clicks++;
    g->click_last_ts = g->t;
    g->click_last_x = x;
    g->click_last_y = y;
}

static void click_at(struct sim_gen *g, enum sim_elem el, int x, int y, bool disabled)
{
    const struct elem_def *d = &elems[el];
    sim_p_begin(g);
    sim_p_str(g, "selector", d->selector);
    sim_p_str(g, "tag", d->tag);
    sim_p_int(g, "x", x);
    sim_p_int(g, "y", y);
    p_text(g, d->text);
    sim_p_bool(g, "interactive", d->interactive);
    sim_p_bool(g, "disabled", disabled);
    sim_track(g, "$click");
    note_click(g, x, y);
}

static void schedule_dead_click(struct sim_gen *g, enum sim_elem el, int x, int y)
{
    const struct elem_def *d = &elems[el];
    char click_id[37];
    memcpy(click_id, g->last_id, sizeof click_id);
    sim_p_begin(g);
    sim_p_str(g, "selector", d->selector);
    sim_p_str(g, "tag", d->tag);
    sim_p_int(g, "x", x);
    sim_p_int(g, "y", y);
    sim_p_str(g, "click_id", click_id);
    sim_p_int(g, "wait_ms", 1000);
    sim_track_later(g, "$dead_click", g->t + 1000 + sim_rng_int(&g->rng, 0, 6));
    g->dead_clicks_page++;
    if (g->in_behaviour)
        g->sum.dead_clicks++;
}

static void blur_field(struct sim_gen *g);

void sim_site_dead_click(struct sim_gen *g, enum sim_elem el)
{
    int x, y;
    blur_field(g);
    elem_point(g, el, &x, &y);
    scroll_to_show(g, y);
    wait_ms(g, 600, 0.4);
    bool disabled = el == EL_CALC_APPLY_NOW && !g->calc.quote;
    click_at(g, el, x, y, disabled);
    int64_t clicked = g->t;
    schedule_dead_click(g, el, x, y);
    /* the visitor waits for something to happen before doing anything else */
    g->t = clicked + 1000 + sim_rng_ms(&g->rng, 1500, 0.5);
    sim_flush(g, g->t);
}

void sim_site_rage(struct sim_gen *g, enum sim_elem el, int n)
{
    int x, y;
    blur_field(g);
    elem_point(g, el, &x, &y);
    scroll_to_show(g, y);
    wait_ms(g, 500, 0.4);
    bool disabled = el == EL_CALC_APPLY_NOW && !g->calc.quote;
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            int64_t gap = sim_rng_ms(&g->rng, 230, 0.35);
            g->t += gap < 90 ? 90 : gap > 600 ? 600 : gap;
        }
        int cx = x + sim_rng_int(&g->rng, -6, 6), cy = y + sim_rng_int(&g->rng, -5, 5);
        click_at(g, el, cx, cy, disabled);
        schedule_dead_click(g, el, cx, cy);
    }
    g->t += 1000 + sim_rng_ms(&g->rng, 1800, 0.5);
    sim_flush(g, g->t);
}

/* A click on text that looks like it might do something. */
static void stray_click(struct sim_gen *g)
{
    static const enum sim_elem stray[PAGE_COUNT] = {
        [PAGE_HOME] = EL_HOME_RATE_CARD, [PAGE_CALC] = EL_CALC_PLACEHOLDER,
        [PAGE_RATES] = EL_RATES_CELL,    [PAGE_FAQ] = EL_FAQ_INCOME_TEXT,
        [PAGE_APPLY] = EL_APPLY_STEPS,   [PAGE_THANKS] = EL_COUNT,
    };
    enum sim_elem el = stray[g->page];
    if (el == EL_COUNT || g->focused >= 0)
        return;
    if (sim_rng_chance(&g->rng, 0.5)) {
        sim_site_dead_click(g, el);
    } else { /* a click that selects a word: the tracker does not call that dead */
        int x, y;
        elem_point(g, el, &x, &y);
        scroll_to_show(g, y);
        click_at(g, el, x, y, false);
        wait_ms(g, 1200, 0.4);
    }
}

void sim_site_follow(struct sim_gen *g, enum sim_elem el)
{
    const struct elem_def *d = &elems[el];
    int x, y;
    blur_field(g);
    elem_point(g, el, &x, &y);
    scroll_to_show(g, y);
    wait_ms(g, 700, 0.5);
    click_at(g, el, x, y, false);
    struct sim_history_entry e;
    memset(&e, 0, sizeof e);
    e.page = (enum sim_page)d->target;
    e.path = sim_pages[e.page].path;
    e.hash = d->hash;
    if (e.page == g->page && d->hash[0]) {
        /* a fragment link: hashchange, a page view with the full previous URL as referrer */
        snprintf(e.referrer, sizeof e.referrer, "%s", g->url);
        const struct sim_history_entry *cur = &g->hist[g->hist_len - 1];
        e.path = cur->path;
        snprintf(e.search, sizeof e.search, "%s", cur->search);
        g->t += sim_rng_ms(&g->rng, 60, 0.4);
        history_push(g, &e);
        open_entry(g, &e, true);
        return;
    }
    snprintf(e.referrer, sizeof e.referrer, "%s", g->doc_url);
    reset_form_state(g, e.page);
    history_push(g, &e);
    navigate(g, &e);
}

bool sim_site_back(struct sim_gen *g)
{
    if (g->hist_len < 2)
        return false;
    blur_field(g);
    const struct sim_history_entry *cur = &g->hist[g->hist_len - 1];
    const struct sim_history_entry *prev = &g->hist[g->hist_len - 2];
    bool same_document = cur->page == prev->page && !strcmp(cur->path, prev->path) &&
                         !strcmp(cur->search, prev->search);
    g->hist_len--;
    struct sim_history_entry e = *prev;
    wait_ms(g, 500, 0.5);
    if (same_document) { /* popstate within the page */
        g->t += sim_rng_ms(&g->rng, 40, 0.4);
        open_entry(g, &e, true);
    } else { /* the back/forward cache restores the page with its form values */
        navigate(g, &e);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

static void visibility(struct sim_gen *g, const char *state)
{
    sim_p_begin(g);
    sim_p_str(g, "state", state);
    sim_track(g, "$visibility");
}

static void hidden_period(struct sim_gen *g)
{
    visibility(g, "hidden");
    int64_t away = sim_rng_ms(&g->rng, 20000, 1.0);
    g->t += away > 600000 ? 600000 : away;
    visibility(g, "visible");
}

static void js_error(struct sim_gen *g)
{
    static const char *const messages[] = {
        "ResizeObserver loop completed with undelivered notifications.",
        "Script error.",
        "TypeError: Cannot read properties of null (reading 'getAttribute')",
        "Failed to fetch",
    };
    int k = sim_rng_int(&g->rng, 0, 3);
    char source[SIM_URL_MAX + 32], stack[2 * SIM_URL_MAX];
    source[0] = stack[0] = '\0';
    int line = 0, column = 0;
    if (k == 0) {
        snprintf(source, sizeof source, "%s", g->doc_url);
    } else if (k == 2) {
        snprintf(source, sizeof source, "%s/demo/js/site.js", g->host);
        line = 1;
        column = 4711;
        snprintf(stack, sizeof stack, "%s\n    at %s:1:4711", messages[k], source);
    } else if (k == 3) {
        snprintf(stack, sizeof stack,
                 "TypeError: Failed to fetch\n    at %s/demo/js/site.js:1:2298", g->host);
    }
    sim_p_begin(g);
    sim_p_str(g, "message", messages[k]);
    sim_p_str(g, "source", source);
    sim_p_int(g, "line", line);
    sim_p_int(g, "column", column);
    sim_p_str(g, "stack", stack);
    sim_p_str(g, "kind", k == 3 ? "unhandledrejection" : "error");
    sim_track(g, "$js_error");
    if (g->in_behaviour)
        g->sum.js_errors++;
}

/* Things that happen on some page views whatever the visitor is doing. */
static void incidentals(struct sim_gen *g)
{
    if (g->vis_planned && sim_rng_chance(&g->rng, 0.35)) {
        g->vis_planned = false;
        hidden_period(g);
    }
    if (g->err_planned && sim_rng_chance(&g->rng, 0.5)) {
        g->err_planned = false;
        js_error(g);
    }
    if (g->stray_planned && sim_rng_chance(&g->rng, 0.35)) {
        g->stray_planned = false;
        stray_click(g);
    }
}

void sim_site_read(struct sim_gen *g, int64_t dwell_ms, double depth_goal, double reversal_p)
{
    int64_t end = g->t + dwell_ms;
    for (;;) {
        int64_t gap = sim_rng_ms(&g->rng, 2400, 0.6);
        if (g->t + gap >= end)
            break;
        g->t += gap;
        int64_t before = g->t;
        incidentals(g);
        end += g->t - before; /* time away or spent on a stray click is not reading time */
        if (g->scroll_y > 0 && sim_rng_chance(&g->rng, reversal_p))
            scroll_by(g, -(int)sim_rng_lognormal(&g->rng, 0.5 * g->vh, 0.5));
        else if (g->depth < depth_goal * 100)
            scroll_by(g, (int)sim_rng_lognormal(&g->rng, 0.7 * g->vh, 0.4));
        else if (sim_rng_chance(&g->rng, 0.12))
            scroll_by(g, -(int)sim_rng_lognormal(&g->rng, 0.3 * g->vh, 0.5));
    }
    if (g->t < end)
        g->t = end;
}

void sim_site_scroll_hunt(struct sim_gen *g, int moves)
{
    for (int i = 0; i < moves; i++) {
        g->t += sim_rng_ms(&g->rng, 700, 0.5);
        int step = (int)sim_rng_lognormal(&g->rng, 0.6 * g->vh, 0.4);
        bool up = g->scroll_y + g->vh >= g->height - 10 ||
                  (g->scroll_y > 0 && sim_rng_chance(&g->rng, g->direction > 0 ? 0.55 : 0.35));
        scroll_by(g, up ? -step : step);
    }
}

/* ------------------------------------------------------------------------ */
/* Fields                                                                    */

/* Loan rules (loan.ts): the message for the field's first failed rule, NULL if fine. */
static const char *calc_error(const struct sim_calc *c, enum sim_field f)
{
    switch (f) {
    case FLD_AMOUNT:
        if (c->amount_state == 0)
            return "Enter the amount you want to borrow.";
        if (c->amount_state == 2)
            return "Enter the amount as a number, for example 12,000.";
        if (c->amount < 1000)
            return "The smallest loan we offer is $1,000.";
        if (c->amount > 50000)
            return "The largest loan we offer is $50,000.";
        return NULL;
    case FLD_TERM: {
        if (c->term == 0)
            return "Choose a term.";
        bool amount_ok = c->amount_state == 1 && c->amount >= 1000 && c->amount <= 50000;
        if (amount_ok && c->amount > 20000 && c->term < 36)
            return "Loans over $20,000 need a term of at least 36 months.";
        if (amount_ok && c->amount < 5000 && c->term > 24)
            return "Loans under $5,000 can be repaid over 24 months at most.";
        return NULL;
    }
    case FLD_INCOME:
        if (c->income_state == 0)
            return "Enter your income.";
        if (c->income < 12000)
            return "Income too low: we can lend to people earning at least $12,000.";
        return NULL;
    default:
        return NULL;
    }
}

static void field_now(const struct sim_gen *g, enum sim_field f, int *len, bool *valid)
{
    switch (f) {
    case FLD_AMOUNT:
        *len = g->calc.amount_len;
        break;
    case FLD_TERM:
        *len = g->calc.term ? 2 : 0;
        break;
    case FLD_INCOME:
        *len = g->calc.income_len;
        break;
    default:
        *len = g->app.len[f - FLD_APP_FIRST];
        *valid = g->app.valid[f - FLD_APP_FIRST];
        return;
    }
    *valid = calc_error(&g->calc, f) == NULL;
}

static void emit_change(struct sim_gen *g, enum sim_field f)
{
    struct sim_field_state *fs = &g->fields[f];
    int len;
    bool valid;
    field_now(g, f, &len, &valid);
    fs->changes++;
    fs->in_map = true;
    fs->length = len;
    fs->dirty = false;
    sim_p_begin(g);
    p_field(g, f);
    sim_p_int(g, "length", len);
    sim_p_bool(g, "valid", valid);
    sim_p_int(g, "change_count", fs->changes);
    sim_track(g, "$field_change");
}

static void blur_field(struct sim_gen *g)
{
    if (g->focused < 0)
        return;
    enum sim_field f = (enum sim_field)g->focused;
    struct sim_field_state *fs = &g->fields[f];
    g->t += sim_rng_int(&g->rng, 1, 4);
    if (fs->dirty)
        emit_change(g, f); /* a text field commits its value before losing focus */
    int len;
    bool valid;
    field_now(g, f, &len, &valid);
    fs->in_map = true;
    fs->length = len;
    sim_p_begin(g);
    p_field(g, f);
    sim_p_int(g, "length", len);
    sim_p_bool(g, "valid", valid);
    sim_p_int(g, "dwell_ms", g->t - g->focused_at);
    sim_track(g, "$field_blur");
    g->focused = -1;
}

static void emit_focus(struct sim_gen *g, enum sim_field f)
{
    sim_p_begin(g);
    p_field(g, f);
    sim_track(g, "$field_focus");
    g->focused = (int)f;
    g->focused_at = g->t;
    g->interacted = true;
}

/* Moves into field f with a click (focus on mousedown, then the click) or the Tab key. */
static void focus_field(struct sim_gen *g, enum sim_field f, bool by_click)
{
    int x, y;
    elem_point(g, field_defs[f].el, &x, &y);
    if (g->focused == (int)f) {
        if (by_click) {
            wait_ms(g, 500, 0.4);
            click_at(g, field_defs[f].el, x, y, false);
        }
        return;
    }
    if (by_click) {
        scroll_to_show(g, y);
        wait_ms(g, 600, 0.5);
    } else {
        wait_ms(g, 350, 0.4);
    }
    blur_field(g);
    emit_focus(g, f);
    if (by_click) {
        g->t += sim_rng_int(&g->rng, 60, 140);
        click_at(g, field_defs[f].el, x, y, false);
    }
}

/* Types (or retypes) into the focused text field until it holds len characters. */
static void type_text(struct sim_gen *g, enum sim_field f, int len)
{
    double per_char = g->dev->mobile ? 320 : 210;
    wait_ms(g, 700, 0.5);
    g->t += (int64_t)(len * sim_rng_lognormal(&g->rng, per_char, 0.3));
    struct sim_field_state *fs = &g->fields[f];
    fs->dirty = true;
    fs->in_map = true; /* the `input` listener remembers the length */
    fs->length = len;
}

/* Picks an option of the focused select: change fires at once. */
static void choose_option(struct sim_gen *g, enum sim_field f)
{
    wait_ms(g, 1600, 0.5);
    g->fields[f].in_map = true;
    emit_change(g, f);
}

static int digits_of(int v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Length of a number as typed: 25000, 25,000, $25,000 or 25 000. */
static int typed_len(struct sim_gen *g, int v, bool allow_dollar)
{
    int d = digits_of(v), seps = (d - 1) / 3;
    double r = sim_rng_unit(&g->rng);
    if (r < 0.5)
        return d;
    if (r < 0.88 || !allow_dollar)
        return d + seps;
    return d + seps + 1;
}

static bool in_calc_form(const struct sim_gen *g)
{
    return g->focused >= FLD_AMOUNT && g->focused <= FLD_INCOME;
}

static void calc_field_begin(struct sim_gen *g, enum sim_field f)
{
    /* Tab from the previous field sometimes; the first field is always clicked */
    bool by_click = !(in_calc_form(g) && g->focused == (int)f - 1 && sim_rng_chance(&g->rng, 0.4));
    focus_field(g, f, by_click);
    g->calc.quote = false; /* any input removes the quote (calculator.ts resetQuote) */
}

void sim_site_calc_amount(struct sim_gen *g, enum sim_amount_kind kind)
{
    calc_field_begin(g, FLD_AMOUNT);
    struct sim_calc *c = &g->calc;
    c->amount_state = 1;
    switch (kind) {
    case AMT_TYPICAL: {
        double a = sim_rng_lognormal(&g->rng, 9000, 0.75);
        int step = a < 5000 ? 500 : 1000;
        int v = (int)(a / step + 0.5) * step;
        c->amount = v < 1000 ? 1000 : v > 50000 ? 50000 : v;
        break;
    }
    case AMT_TOO_BIG: {
        static const int big[] = {55000, 60000, 75000, 100000};
        c->amount = big[sim_rng_int(&g->rng, 0, 3)];
        break;
    }
    case AMT_TOO_SMALL: {
        static const int small[] = {250, 500, 800};
        c->amount = small[sim_rng_int(&g->rng, 0, 2)];
        break;
    }
    case AMT_GARBAGE:
        c->amount_state = 2; /* "25k" */
        c->amount = 0;
        c->amount_len = 3;
        type_text(g, FLD_AMOUNT, 3);
        return;
    }
    c->amount_len = typed_len(g, c->amount, true);
    type_text(g, FLD_AMOUNT, c->amount_len);
}

static bool term_ok(int amount, int term)
{
    return !(amount > 20000 && term < 36) && !(amount < 5000 && term > 24);
}

void sim_site_calc_term(struct sim_gen *g, bool respect_rules)
{
    static const int terms[] = {12, 24, 36, 48, 60};
    static const double pref[] = {0.15, 0.25, 0.30, 0.15, 0.15};
    calc_field_begin(g, FLD_TERM);
    int amount = g->calc.amount_state == 1 ? g->calc.amount : 10000;
    int term = terms[sim_rng_pick(&g->rng, pref, 5)];
    for (int i = 0; respect_rules && !term_ok(amount, term) && i < 20; i++)
        term = terms[sim_rng_pick(&g->rng, pref, 5)];
    if (respect_rules && !term_ok(amount, term))
        term = amount > 20000 ? 36 : 24;
    if (term == g->calc.term) /* choosing the same option again fires no change */
        term = term == 60 ? 48 : term + 12;
    if (respect_rules && !term_ok(amount, term))
        term = amount > 20000 ? 48 : 12;
    g->calc.term = term;
    choose_option(g, FLD_TERM);
}

void sim_site_calc_income(struct sim_gen *g, bool monthly)
{
    calc_field_begin(g, FLD_INCOME);
    struct sim_calc *c = &g->calc;
    int v;
    if (monthly) {
        v = (int)(sim_rng_lognormal(&g->rng, 2900, 0.35) / 50 + 0.5) * 50;
        v = v < 800 ? 800 : v > 11900 ? 11900 : v;
    } else if (c->income_state == 1 && c->income < 12000 && g->knows_income_annual) {
        v = c->income * 12; /* "multiply it by twelve" */
    } else {
        v = (int)(sim_rng_lognormal(&g->rng, 48000, 0.45) / 500 + 0.5) * 500;
        v = v < 12000 ? 12000 : v;
    }
    c->income_state = 1;
    c->income = v;
    c->income_len = typed_len(g, v, false);
    type_text(g, FLD_INCOME, c->income_len);
}

static double apr_for(int amount)
{
    if (amount < 5000)
        return 14.9;
    if (amount < 10000)
        return 9.9;
    if (amount <= 20000)
        return 6.9;
    return 7.4;
}

bool sim_site_calc_submit(struct sim_gen *g)
{
    bool by_enter =
        (g->focused == FLD_AMOUNT || g->focused == FLD_INCOME) && sim_rng_chance(&g->rng, 0.25);
    if (by_enter) {
        wait_ms(g, 400, 0.4);
        if (g->fields[g->focused].dirty)
            emit_change(g, (enum sim_field)g->focused); /* Enter commits the value */
    } else {
        int x, y;
        blur_field(g);
        elem_point(g, EL_CALC_SUBMIT, &x, &y);
        scroll_to_show(g, y);
        wait_ms(g, 700, 0.5);
        click_at(g, EL_CALC_SUBMIT, x, y, false);
    }
    g->t += sim_rng_int(&g->rng, 2, 12);
    int filled = 0;
    unsigned bad = 0;
    for (int f = FLD_AMOUNT; f <= FLD_INCOME; f++) {
        int len;
        bool valid;
        field_now(g, (enum sim_field)f, &len, &valid);
        filled += len > 0;
        if (!valid)
            bad |= 1u << f;
    }
    sim_p_begin(g);
    sim_p_str(g, "form", "loan-calculator");
    sim_p_int(g, "field_count", 3);
    sim_p_int(g, "filled_count", filled);
    sim_p_bool(g, "valid", bad == 0);
    sim_track(g, "$form_submit");
    for (int f = FLD_AMOUNT; f <= FLD_INCOME; f++)
        g->fields[f].in_map = false; /* a submit forgets its form's fields */
    g->calc_err_mask = bad;
    if (bad) {
        int first = -1;
        for (int f = FLD_AMOUNT; f <= FLD_INCOME; f++) {
            if (!(bad & (1u << f)))
                continue;
            if (first < 0)
                first = f;
            g->t += 1;
            sim_p_begin(g);
            p_field(g, (enum sim_field)f);
            sim_p_str(g, "reason", "custom");
            sim_p_str(g, "source", "api");
            sim_p_str(g, "message", calc_error(&g->calc, (enum sim_field)f));
            sim_track(g, "$field_invalid");
            if (g->in_behaviour)
                g->sum.validation_errors++;
        }
        g->calc.quote = false;
        g->t += 2;
        if (g->focused != first) { /* the page focuses the first bad field */
            blur_field(g);
            emit_focus(g, (enum sim_field)first);
        }
        return false;
    }
    const struct sim_calc *c = &g->calc;
    double apr = apr_for(c->amount), r = apr / 100 / 12;
    double payment = c->amount * r / (1 - pow(1 + r, -c->term));
    g->t += sim_rng_int(&g->rng, 3, 15);
    sim_p_begin(g);
    sim_p_int(g, "amount", c->amount);
    sim_p_int(g, "term_months", c->term);
    sim_p_num(g, "apr", apr, 1);
    sim_p_num(g, "monthly_payment", payment, 2);
    sim_track(g, "Loan Calculated");
    g->calc.quote = true;
    if (g->in_behaviour)
        g->sum.valid_quote = true;
    return true;
}

void sim_site_calc_fix(struct sim_gen *g)
{
    unsigned bad = g->calc_err_mask;
    if (bad & (1u << FLD_AMOUNT)) {
        wait_ms(g, 1500, 0.5);
        sim_site_calc_amount(g, AMT_TYPICAL); /* always in range */
    }
    /* a new amount can make the term wrong, so the rules are checked again */
    if ((bad & (1u << FLD_TERM)) || calc_error(&g->calc, FLD_TERM)) {
        g->knows_term_rules = true;
        wait_ms(g, 1500, 0.5);
        sim_site_calc_term(g, true);
    }
    if ((bad & (1u << FLD_INCOME)) || calc_error(&g->calc, FLD_INCOME)) {
        g->knows_income_annual = true;
        wait_ms(g, 2000, 0.5);
        sim_site_calc_income(g, false);
    }
}

void sim_site_apply_now(struct sim_gen *g)
{
    if (!g->calc.quote) {
        sim_site_dead_click(g, EL_CALC_APPLY_NOW);
        return;
    }
    int x, y;
    blur_field(g);
    elem_point(g, EL_CALC_APPLY_NOW, &x, &y);
    scroll_to_show(g, y);
    wait_ms(g, 900, 0.5);
    click_at(g, EL_CALC_APPLY_NOW, x, y, false);
    g->t += sim_rng_int(&g->rng, 1, 5);
    sim_p_begin(g);
    sim_p_str(g, "from", "calculator");
    sim_track(g, "Apply Clicked");
    struct sim_history_entry e;
    memset(&e, 0, sizeof e);
    e.page = PAGE_APPLY;
    e.path = sim_pages[PAGE_APPLY].path;
    e.hash = "";
    snprintf(e.referrer, sizeof e.referrer, "%s", g->doc_url);
    reset_form_state(g, PAGE_APPLY);
    history_push(g, &e);
    navigate(g, &e);
}

/* ------------------------------------------------------------------------ */
/* The application                                                           */

int sim_site_app_filled(const struct sim_gen *g)
{
    int n = 0;
    for (int i = 0; i < 5; i++)
        n += g->app.valid[i];
    return n;
}

void sim_site_app_fill(struct sim_gen *g, enum sim_field f)
{
    static const int employment_len[] = {9, 9, 13, 7, 7, 11};
    static const double employment_w[] = {0.55, 0.15, 0.15, 0.07, 0.04, 0.04};
    int i = f - FLD_APP_FIRST;
    bool tab = g->focused == (int)f - 1 && f != FLD_CONSENT && sim_rng_chance(&g->rng, 0.4);
    focus_field(g, f, !tab);
    int len = 0;
    bool valid = true;
    switch (f) {
    case FLD_FULL_NAME:
        len = sim_rng_int(&g->rng, 8, 24);
        break;
    case FLD_EMAIL:
        if (g->email_typo && !g->email_error_seen) {
            len = sim_rng_int(&g->rng, 4, 9); /* "sam.lee@" */
            valid = false;
        } else {
            len = sim_rng_int(&g->rng, 14, 30);
        }
        break;
    case FLD_PHONE:
        if (g->phone_habit_formatted && !g->phone_error_seen) {
            len = 14; /* (555) 123-4567 */
            valid = false;
        } else {
            len = sim_rng_chance(&g->rng, 0.8) ? 10 : 12;
        }
        break;
    case FLD_EMPLOYMENT:
        len = employment_len[sim_rng_pick(&g->rng, employment_w, 6)];
        break;
    case FLD_CONSENT:
        len = 1;
        break;
    default:
        return;
    }
    g->app.len[i] = len;
    g->app.valid[i] = valid;
    if (f == FLD_EMPLOYMENT) {
        choose_option(g, f);
    } else if (f == FLD_CONSENT) {
        g->t += sim_rng_int(&g->rng, 1, 5);
        g->fields[f].in_map = true;
        emit_change(g, f); /* a checkbox changes on the click */
    } else {
        type_text(g, f, len);
    }
}

bool sim_site_app_submit(struct sim_gen *g)
{
    int x, y;
    blur_field(g);
    elem_point(g, EL_APPLY_SUBMIT, &x, &y);
    scroll_to_show(g, y);
    wait_ms(g, 900, 0.5);
    click_at(g, EL_APPLY_SUBMIT, x, y, false);
    g->t += sim_rng_int(&g->rng, 1, 6);
    int first = -1, filled = 0;
    for (int f = FLD_APP_FIRST; f < FLD_COUNT; f++) {
        int i = f - FLD_APP_FIRST;
        filled += g->app.len[i] > 0;
        if (g->app.valid[i] && g->app.len[i] > 0)
            continue;
        /* the browser's `invalid`, one per bad field in tree order; no submit event */
        const char *reason = g->app.len[i] == 0 ? "valueMissing"
                             : f == FLD_EMAIL   ? "typeMismatch"
                                                : "patternMismatch";
        sim_p_begin(g);
        p_field(g, (enum sim_field)f);
        sim_p_str(g, "reason", reason);
        sim_p_str(g, "source", "native");
        sim_track(g, "$field_invalid");
        if (g->in_behaviour)
            g->sum.validation_errors++;
        if (f == FLD_PHONE && g->app.len[i] > 0)
            g->phone_error_seen = true;
        if (f == FLD_EMAIL && g->app.len[i] > 0)
            g->email_error_seen = true;
        if (first < 0)
            first = f;
    }
    if (first >= 0) {
        g->t += sim_rng_int(&g->rng, 2, 10);
        emit_focus(g, (enum sim_field)first);
        return false;
    }
    sim_p_begin(g);
    sim_p_str(g, "form", "application");
    sim_p_int(g, "field_count", 5);
    sim_p_int(g, "filled_count", filled);
    sim_p_bool(g, "valid", true);
    sim_track(g, "$form_submit");
    for (int f = FLD_APP_FIRST; f < FLD_COUNT; f++)
        g->fields[f].in_map = false;
    g->t += sim_rng_int(&g->rng, 1, 6);
    sim_p_begin(g);
    sim_p_str(g, "form", "application");
    sim_track(g, "Application Submitted");
    return true;
}

/* ------------------------------------------------------------------------ */
/* The explainer video                                                       */

static void video_event(struct sim_gen *g, const char *event, bool seek, double from, double to)
{
    char src[SIM_URL_MAX];
    snprintf(src, sizeof src, "%s%s", g->host, video_src_path);
    sim_p_begin(g);
    sim_p_str(g, "video_id", VIDEO_ID);
    sim_p_str(g, "src", src);
    sim_p_str(g, "title", VIDEO_TITLE);
    sim_p_int(g, "duration", 60);
    sim_p_num(g, "position", g->video_pos, 3);
    sim_p_num(g, "rate", g->video_rate, 2);
    if (seek) {
        sim_p_num(g, "from", from, 3);
        sim_p_num(g, "to", to, 3);
    }
    sim_track(g, event);
}

/* Plays from the current position for dt ms of wall time (or to the end). */
static void video_advance(struct sim_gen *g, int64_t dt)
{
    double to = g->video_pos + (double)dt * g->video_rate / 1000.0;
    if (to > VIDEO_S)
        to = VIDEO_S;
    for (int b = (int)(g->video_pos * 2); b < (int)(to * 2) && b < 120; b++)
        g->video_seen[b] = 1;
    g->video_pos = to;
    g->t += dt;
}

void sim_site_video(struct sim_gen *g, const struct sim_video_plan *plan)
{
    int x, y;
    blur_field(g);
    elem_point(g, EL_HOME_VIDEO, &x, &y);
    scroll_to_show(g, y);
    wait_ms(g, 1200, 0.5);
    if (g->video_pos >= VIDEO_S)
        g->video_pos = 0;                    /* playing an ended video starts it over */
    click_at(g, EL_HOME_VIDEO, x, y, false); /* the native play control */
    g->t += sim_rng_int(&g->rng, 20, 90);
    video_event(g, "$video_play", false, 0, 0);
    int64_t beat = g->t + 5000;

    double rate_at = plan->rate > 0 ? plan->rate_at : -1;
    double skip_at = plan->skip_from > 0 ? plan->skip_from : -1;
    double pause_at = plan->pause_resume ? sim_rng_range(&g->rng, 10, 40) : -1;
    int rewinds = plan->rewinds;
    double rewind_at = rewinds > 0 ? sim_rng_range(&g->rng, 43, 47) : -1;
    double stop_at = plan->stop_at < VIDEO_S ? plan->stop_at : VIDEO_S;

    for (;;) {
        /* the next thing the viewer does, as a media position ahead of us */
        double next = stop_at;
        int what = 0; /* 0 stop/end, 1 rate, 2 skip, 3 pause, 4 rewind */
        const double at[] = {0, rate_at, skip_at, pause_at, rewind_at};
        for (int k = 1; k <= 4; k++) {
            if (at[k] >= 0 && at[k] < next && at[k] >= g->video_pos) {
                next = at[k];
                what = k;
            }
        }
        if (next < g->video_pos) /* a seek took the viewer past the point */
            next = g->video_pos;
        int64_t act = g->t + (int64_t)ceil((next - g->video_pos) * 1000.0 / g->video_rate);
        while (beat <= act) {
            video_advance(g, beat - g->t);
            video_event(g, "$video_heartbeat", false, 0, 0);
            beat += 5000;
        }
        video_advance(g, act - g->t);
        if (what == 0) {
            if (g->video_pos >= VIDEO_S - 1e-9) {
                g->video_pos = VIDEO_S;
                video_event(g, "$video_pause", false, 0, 0);
                video_event(g, "$video_ended", false, 0, 0);
            } else {
                video_event(g, "$video_pause", false, 0, 0);
            }
            break;
        }
        if (what == 1) {
            g->video_rate = plan->rate;
            rate_at = -1;
            video_event(g, "$video_ratechange", false, 0, 0);
        } else if (what == 2 || what == 4) {
            double from = g->video_pos;
            double to = what == 2 ? plan->skip_to : sim_rng_range(&g->rng, 31.5, 34.5);
            if (to > VIDEO_S - 1)
                to = VIDEO_S - 1;
            g->video_pos = to;
            video_event(g, "$video_seeked", true, from, to);
            g->t += sim_rng_int(&g->rng, 60, 400); /* buffering after the seek */
            if (what == 2) {
                skip_at = -1;
            } else if (--rewinds > 0) {
                rewind_at = sim_rng_range(&g->rng, 43, 47);
            } else {
                rewind_at = -1;
            }
            if (pause_at >= 0 && pause_at < g->video_pos)
                pause_at = -1;
            if (beat < g->t)
                beat = g->t + 1; /* the timer fired while buffering: next tick */
        } else if (what == 3) {
            pause_at = -1;
            video_event(g, "$video_pause", false, 0, 0);
            g->t += sim_rng_ms(&g->rng, 5000, 0.7);
            video_event(g, "$video_play", false, 0, 0);
            beat = g->t + 5000;
        }
    }
    g->t += sim_rng_ms(&g->rng, 1500, 0.5);
}

/* ------------------------------------------------------------------------ */
/* The endings                                                               */

void sim_site_leave(struct sim_gen *g)
{
    g->t += sim_rng_ms(&g->rng, 5000, 0.8);
    if (g->dev->mobile && sim_rng_chance(&g->rng, 0.5)) {
        visibility(g, "hidden"); /* switched apps, then the tab was closed */
        g->t += sim_rng_ms(&g->rng, 4000, 1.0);
    }
    page_leave(g);
}

static enum sim_elem link_to_calculator(const struct sim_gen *g)
{
    switch (g->page) {
    case PAGE_HOME:
        return EL_HOME_CALC;
    case PAGE_RATES:
        return EL_RATES_CALC;
    case PAGE_FAQ:
        return EL_NAV_CALC;
    default:
        return EL_NAV_CALC;
    }
}

void sim_site_finish(struct sim_gen *g)
{
    if (g->page != PAGE_APPLY) {
        if (g->page != PAGE_CALC) {
            wait_ms(g, 3000, 0.6);
            sim_site_follow(g, link_to_calculator(g));
            wait_ms(g, 2500, 0.5);
        }
        for (int attempt = 0; !g->calc.quote && attempt < 4; attempt++) {
            if (calc_error(&g->calc, FLD_AMOUNT))
                sim_site_calc_amount(g, AMT_TYPICAL);
            if (calc_error(&g->calc, FLD_TERM))
                sim_site_calc_term(g, true);
            if (calc_error(&g->calc, FLD_INCOME)) {
                g->knows_income_annual = true;
                sim_site_calc_income(g, false);
            }
            if (sim_site_calc_submit(g))
                break;
            sim_site_calc_fix(g);
        }
        wait_ms(g, 4000, 0.6);
        sim_site_apply_now(g);
        wait_ms(g, 2500, 0.5);
    }
    for (int attempt = 0; attempt < 4; attempt++) {
        for (int f = FLD_APP_FIRST; f < FLD_COUNT; f++)
            if (!g->app.valid[f - FLD_APP_FIRST] || g->app.len[f - FLD_APP_FIRST] == 0)
                sim_site_app_fill(g, (enum sim_field)f);
        wait_ms(g, 1500, 0.5);
        if (sim_site_app_submit(g))
            break;
        wait_ms(g, 2500, 0.5);
    }
    g->t += sim_rng_int(&g->rng, 5, 40);
    sim_identify(g, g->ss->user_id);

    struct sim_history_entry e;
    memset(&e, 0, sizeof e);
    e.page = PAGE_THANKS;
    e.path = sim_pages[PAGE_THANKS].path;
    e.hash = "";
    snprintf(e.referrer, sizeof e.referrer, "%s", g->doc_url);
    history_push(g, &e);
    navigate(g, &e);
    sim_site_read(g, sim_rng_ms(&g->rng, 9000, 0.6), 1.0, 0.05);
    page_leave(g);
}
