/*
 * generate.c - the session sequence of `journey simulate`: when sessions
 * start, who the visitors are, how each message is written, and the truth
 * (p_convert, u) attached to every session. What visitors do on the site is
 * site.c and personas.c.
 *
 * Randomness. Session i gets a 64-bit base from (seed, i) and five
 * independent xoshiro256** streams from it:
 *
 *     base = mix(seed ^ mix(i + K))
 *       seq       start time, visitor, device, persona, referrer source
 *       behaviour everything the visitor does up to the point of decision
 *       outcome   u and the logit noise (so they do not depend on the path)
 *       leave     the "leave" ending
 *       convert   the "convert" ending
 *
 * The only state carried from session to session is the previous start time
 * (start times increase when n_sessions is known) and the pool of past
 * visitors that returning sessions draw from; both depend on the sequence and
 * nothing else, so the same config gives the same bytes.
 *
 * Start times. The rhythm is a weight per local hour of the day times a weight
 * per day of the week; the range [start_ms, end_ms) is cut at hour boundaries
 * into buckets and the cumulative weight is tabulated once, so a uniform x in
 * [0,1) maps to a time by a binary search (inverse CDF). With n_sessions known
 * the x's are the order statistics of n uniforms drawn one by one in
 * increasing order (x_i = 1 - (1 - x_{i-1}) v^(1/(n-i)), v uniform), which is
 * exactly a Poisson process conditioned on n arrivals: increasing start times
 * that fill the range, with realistic gaps.
 *
 * Messages. Each is built in one scratch buffer and copied to an exact-size
 * malloc; the "context" object is built once per page view (sim_page_view)
 * and pasted into every message of that page, which keeps a message to about
 * a microsecond.
 */
#include "sim/sim_internal.h"

#include "common/timefmt.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Tables                                                                    */

static const char *const persona_names[SIM_PERSONA_COUNT] = {
    "decisive_buyer",     "comparison_shopper", "struggler",
    "confused_navigator", "video_learner",      "bouncer",
};
static const double default_mix[SIM_PERSONA_COUNT] = {0.15, 0.20, 0.20, 0.15, 0.10, 0.20};

#define MOBILE_SHARE 0.35

static const struct sim_device desktop_devices[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36",
     false, false},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
     false, false},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36",
     false, false},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15",
     false, false},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", false,
     false},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36",
     false, false},
};
static const double desktop_device_w[] = {0.35, 0.17, 0.18, 0.15, 0.10, 0.05};

static const struct sim_device mobile_devices[] = {
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
     true, true},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36",
     true, false},
    {"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
     true, false},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
     true, true},
};
static const double mobile_device_w[] = {0.45, 0.40, 0.10, 0.05};

/* Viewports (innerWidth x innerHeight). */
static const int desktop_screens[][2] = {{1920, 945},  {1536, 730}, {1440, 778}, {1366, 641},
                                         {2560, 1271}, {1280, 632}, {1680, 920}};
static const double desktop_screen_w[] = {0.30, 0.20, 0.15, 0.12, 0.08, 0.08, 0.07};
static const int ios_screens[][2] = {{390, 664}, {375, 553}, {430, 739}, {393, 659}};
static const double ios_screen_w[] = {0.45, 0.15, 0.25, 0.15};
static const int android_screens[][2] = {{412, 783}, {393, 727}, {360, 640}, {384, 732}};
static const double android_screen_w[] = {0.40, 0.30, 0.15, 0.15};

static const char *const locales[] = {"en-US", "es-US", "en-GB", "fr-CA", "zh-CN"};
static const double locale_w[] = {0.85, 0.07, 0.03, 0.03, 0.02};
static const char *const timezones[] = {"America/New_York", "America/Chicago", "America/Denver",
                                        "America/Los_Angeles", "America/Phoenix"};
static const double timezone_w[] = {0.50, 0.25, 0.07, 0.15, 0.03};

enum source { SRC_DIRECT, SRC_SEARCH, SRC_SOCIAL, SRC_EMAIL, SRC_PAID, SRC_COUNT };
static const char *const source_names[SRC_COUNT] = {"direct", "search", "social", "email", "paid"};
static const double source_w_new[SRC_COUNT] = {0.30, 0.30, 0.12, 0.10, 0.18};
static const double source_w_returning[SRC_COUNT] = {0.55, 0.15, 0.05, 0.20, 0.05};

/* Relative traffic per local hour, and per day of the week (Sunday first). */
static const double hour_w[24] = {0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.35, 0.60,
                                  0.85, 1.00, 1.05, 1.10, 1.20, 1.15, 1.05, 1.00,
                                  1.00, 1.05, 1.15, 1.30, 1.35, 1.20, 0.90, 0.60};
static const double dow_w[7] = {0.70, 1.00, 1.00, 1.00, 1.00, 0.90, 0.65};

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define SESSION_GAP_MS (31LL * 60 * 1000) /* the tracker starts a new session after 30 min */
#define MAX_BUCKETS (20 * 366 * 24)       /* 20 years of hours */
#define POOL_MAX 65536                    /* past visitors remembered for returning sessions */

/* ------------------------------------------------------------------------ */
/* The generator                                                             */

struct sim_visitor {
    char anonymous_id[37];
    char user_id[24]; /* "" until a (no-intervention) conversion */
    uint8_t device;   /* index into desktop_devices, or 64 + index into mobile */
    uint8_t screen, locale, timezone;
    uint16_t visits, conversions;
    int64_t last_end_ms;
};

struct sim {
    struct sim_config cfg;
    char *host;
    double mix[SIM_PERSONA_COUNT];
    uint64_t next_index;
    double order_x; /* the latest sorted uniform */
    double *cum;    /* cumulative rhythm weight, n_buckets + 1 entries */
    double *rate;   /* weight per ms of each bucket */
    size_t n_buckets;
    int64_t bucket0_ms;       /* hour boundary at or before start_ms */
    struct sim_visitor *pool; /* ring of past visitors */
    size_t pool_len, pool_cap, pool_next;
};

const char *sim_persona_name(enum sim_persona p)
{
    return (unsigned)p < SIM_PERSONA_COUNT ? persona_names[p] : NULL;
}

void sim_config_init(struct sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->end_ms = 1795392000000LL; /* 2026-11-23T00:00:00Z */
    cfg->start_ms = cfg->end_ms - 7 * DAY_MS;
    cfg->returning_share = 0.25;
    cfg->host = "http://127.0.0.1:8080";
    cfg->utc_offset_min = -300;
}

const char *sim_config_error(const struct sim_config *cfg)
{
    if (!cfg)
        return "no configuration";
    if (cfg->start_ms < 0 || cfg->end_ms <= cfg->start_ms)
        return "the time range is empty (end must be after start)";
    if ((cfg->end_ms - cfg->start_ms) / HOUR_MS > MAX_BUCKETS)
        return "the time range is longer than 20 years";
    if (!(cfg->returning_share >= 0.0 && cfg->returning_share <= 1.0))
        return "returning_share must be between 0 and 1";
    if (cfg->utc_offset_min < -14 * 60 || cfg->utc_offset_min > 14 * 60)
        return "utc_offset_min must be within +-14 hours";
    if (cfg->host && strlen(cfg->host) > 120)
        return "host is longer than 120 characters";
    for (int i = 0; i < SIM_PERSONA_COUNT; i++)
        if (!(cfg->persona_mix[i] >= 0.0 && cfg->persona_mix[i] < 1e9))
            return "persona weights must be finite and not negative";
    return NULL;
}

int sim_rng_pick(struct sim_rng *r, const double *weights, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += weights[i];
    double x = sim_rng_unit(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Weight per ms of local time around t. */
static double rhythm_rate(const struct sim *s, int64_t t)
{
    int64_t local = t + (int64_t)s->cfg.utc_offset_min * 60000;
    int64_t days = floor_div(local, DAY_MS);
    int hour = (int)((local - days * DAY_MS) / HOUR_MS);
    int dow = (int)(((days + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    return hour_w[hour] * dow_w[dow];
}

static void rhythm_build(struct sim *s)
{
    int64_t start = s->cfg.start_ms, end = s->cfg.end_ms;
    s->bucket0_ms = floor_div(start, HOUR_MS) * HOUR_MS;
    s->n_buckets = (size_t)((end - s->bucket0_ms + HOUR_MS - 1) / HOUR_MS);
    s->cum = xmalloc((s->n_buckets + 1) * sizeof *s->cum);
    s->rate = xmalloc(s->n_buckets * sizeof *s->rate);
    s->cum[0] = 0;
    for (size_t k = 0; k < s->n_buckets; k++) {
        int64_t lo = s->bucket0_ms + (int64_t)k * HOUR_MS, hi = lo + HOUR_MS;
        s->rate[k] = rhythm_rate(s, lo);
        lo = MAX(lo, start);
        hi = MIN(hi, end);
        s->cum[k + 1] = s->cum[k] + s->rate[k] * (double)(hi - lo);
    }
}

/* The time at which a share x in [0,1) of the range's traffic has arrived. */
static int64_t rhythm_inverse(const struct sim *s, double x)
{
    double target = x * s->cum[s->n_buckets];
    size_t lo = 0, hi = s->n_buckets; /* cum[lo] <= target < cum[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->cum[mid] <= target)
            lo = mid;
        else
            hi = mid;
    }
    int64_t bstart = MAX(s->bucket0_ms + (int64_t)lo * HOUR_MS, s->cfg.start_ms);
    int64_t t = bstart + (int64_t)((target - s->cum[lo]) / s->rate[lo]);
    if (t >= s->cfg.end_ms)
        t = s->cfg.end_ms - 1;
    if (t < s->cfg.start_ms)
        t = s->cfg.start_ms;
    return t;
}

static int64_t next_start(struct sim *s, struct sim_rng *r, uint64_t index)
{
    double x;
    if (s->cfg.n_sessions > 0 && index < s->cfg.n_sessions) {
        double k = (double)(s->cfg.n_sessions - index); /* uniforms left, this one included */
        double v = 1.0 - sim_rng_unit(r);               /* (0, 1] */
        x = 1.0 - (1.0 - s->order_x) * pow(v, 1.0 / k);
        if (x < s->order_x)
            x = s->order_x;
        if (x >= 1.0)
            x = nextafter(1.0, 0.0);
        s->order_x = x;
    } else {
        x = sim_rng_unit(r);
    }
    return rhythm_inverse(s, x);
}

struct sim *sim_new(const struct sim_config *cfg)
{
    if (sim_config_error(cfg))
        return NULL;
    struct sim *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    const char *host = cfg->host && cfg->host[0] ? cfg->host : "http://127.0.0.1:8080";
    size_t n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    s->host = xstrndup(host, n);
    s->cfg.host = s->host;
    double total = 0;
    for (int i = 0; i < SIM_PERSONA_COUNT; i++)
        total += cfg->persona_mix[i];
    for (int i = 0; i < SIM_PERSONA_COUNT; i++)
        s->mix[i] = total > 0 ? cfg->persona_mix[i] : default_mix[i];
    rhythm_build(s);
    return s;
}

void sim_free(struct sim *s)
{
    if (!s)
        return;
    free(s->host);
    free(s->cum);
    free(s->rate);
    free(s->pool);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Message writing                                                           */

static void put_uint(struct buf *b, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_reserve(b, (size_t)n);
    while (n > 0)
        b->data[b->len++] = tmp[--n];
    b->data[b->len] = '\0';
}

static void put_int(struct buf *b, int64_t v)
{
    if (v < 0) {
        buf_putc(b, '-');
        put_uint(b, (uint64_t)0 - (uint64_t)v);
    } else {
        put_uint(b, (uint64_t)v);
    }
}

/* v rounded to `decimals` places, written the way JavaScript prints a number
 * (no trailing zeros, no exponent for the magnitudes used here). */
static void put_num(struct buf *b, double v, int decimals)
{
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000};
    if (!isfinite(v)) {
        buf_puts(b, "null");
        return;
    }
    int64_t scale = pow10[decimals < 0 ? 0 : decimals > 4 ? 4 : decimals];
    int64_t q = llround(v * (double)scale);
    if (q < 0) {
        buf_putc(b, '-');
        q = -q;
    }
    put_uint(b, (uint64_t)(q / scale));
    int64_t frac = q % scale;
    if (frac == 0)
        return;
    char digits[8];
    int nd = 0;
    for (int64_t p = scale / 10; p >= 1; p /= 10)
        digits[nd++] = (char)('0' + (frac / p) % 10);
    while (nd > 0 && digits[nd - 1] == '0')
        nd--;
    buf_putc(b, '.');
    buf_append(b, digits, (size_t)nd);
}

/* A JSON string. Ours are valid UTF-8 and rarely need escaping: those are copied in one
 * go; anything else goes through json_str. */
static void put_str(struct buf *b, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f) {
            json_str(b, s);
            return;
        }
    buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
}

void sim_json_str(struct buf *b, const char *s)
{
    put_str(b, s);
}

static void p_key(struct sim_gen *g, const char *key)
{
    if (g->props.len > 1)
        buf_putc(&g->props, ',');
    buf_putc(&g->props, '"');
    buf_puts(&g->props, key); /* keys are our own identifiers: nothing to escape */
    buf_append(&g->props, "\":", 2);
}

void sim_p_begin(struct sim_gen *g)
{
    buf_reset(&g->props);
    buf_putc(&g->props, '{');
}

void sim_p_str(struct sim_gen *g, const char *key, const char *v)
{
    p_key(g, key);
    put_str(&g->props, v);
}

void sim_p_int(struct sim_gen *g, const char *key, int64_t v)
{
    p_key(g, key);
    put_int(&g->props, v);
}

void sim_p_bool(struct sim_gen *g, const char *key, bool v)
{
    p_key(g, key);
    buf_puts(&g->props, v ? "true" : "false");
}

void sim_p_num(struct sim_gen *g, const char *key, double v, int decimals)
{
    p_key(g, key);
    put_num(&g->props, v, decimals);
}

void sim_p_raw(struct sim_gen *g, const char *key, const char *json)
{
    p_key(g, key);
    buf_puts(&g->props, json);
}

void sim_uuid(struct sim_rng *r, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t a = sim_rng_next(r), c = sim_rng_next(r);
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(a >> (8 * i));
        b[8 + i] = (unsigned char)(c >> (8 * i));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

enum msg_type { MSG_TRACK, MSG_PAGE, MSG_IDENTIFY };

/* Builds one message at ts (props from g->props for track); from malloc. */
static char *build(struct sim_gen *g, enum msg_type type, const char *event, int64_t ts)
{
    struct buf *b = &g->msg;
    buf_reset(b);
    switch (type) {
    case MSG_TRACK:
        buf_puts(b, "{\"type\":\"track\",\"event\":");
        put_str(b, event);
        buf_puts(b, ",\"properties\":");
        buf_append(b, g->props.data, g->props.len);
        break;
    case MSG_PAGE:
        buf_puts(b, "{\"type\":\"page\",\"name\":");
        put_str(b, sim_pages[g->page].title);
        buf_puts(b, ",\"properties\":");
        buf_append(b, g->page_props.data, g->page_props.len);
        break;
    case MSG_IDENTIFY:
        buf_puts(b, "{\"type\":\"identify\",\"traits\":{}");
        break;
    }
    sim_uuid(&g->rng, g->last_id);
    buf_puts(b, ",\"messageId\":\"");
    buf_append(b, g->last_id, 36);
    buf_puts(b, "\",\"anonymousId\":\"");
    buf_puts(b, g->ss->anonymous_id);
    if (g->user_id_now[0]) {
        buf_puts(b, "\",\"userId\":\"");
        buf_puts(b, g->user_id_now);
    }
    char iso[TIMEFMT_ISO_LEN];
    timefmt_iso(ts, iso);
    buf_puts(b, "\",\"timestamp\":\"");
    buf_append(b, iso, TIMEFMT_ISO_LEN - 1);
    buf_puts(b, "\",\"originalTimestamp\":\"");
    buf_append(b, iso, TIMEFMT_ISO_LEN - 1);
    buf_puts(b, "\",\"context\":");
    buf_append(b, g->ctx.data, g->ctx.len);
    buf_putc(b, '}');
    char *json = xmalloc(b->len + 1);
    memcpy(json, b->data, b->len + 1);
    return json;
}

static void push(struct sim_gen *g, int64_t ts, char *json)
{
    struct sim_msg_list *l = g->out;
    if (ts < g->last_ts) /* cannot happen by construction; keep the order promise anyway */
        ts = g->last_ts;
    g->last_ts = ts;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].json = json;
    l->v[l->n].ts = ts;
    l->n++;
}

void sim_flush(struct sim_gen *g, int64_t ts)
{
    int i = 0;
    while (i < g->n_pend && g->pend[i].ts <= ts) {
        push(g, g->pend[i].ts, g->pend[i].json);
        i++;
    }
    if (i > 0) {
        memmove(g->pend, g->pend + i, (size_t)(g->n_pend - i) * sizeof *g->pend);
        g->n_pend -= i;
    }
}

static void emit(struct sim_gen *g, int64_t ts, char *json)
{
    sim_flush(g, ts);
    push(g, ts, json);
}

void sim_track(struct sim_gen *g, const char *event)
{
    buf_putc(&g->props, '}');
    emit(g, g->t, build(g, MSG_TRACK, event, g->t));
}

void sim_track_later(struct sim_gen *g, const char *event, int64_t ts)
{
    buf_putc(&g->props, '}');
    char *json = build(g, MSG_TRACK, event, ts);
    if (g->n_pend == SIM_MAX_PENDING) /* never with the bursts the personas make */
        sim_flush(g, g->pend[0].ts);
    int i = g->n_pend;
    while (i > 0 && g->pend[i - 1].ts > ts) {
        g->pend[i] = g->pend[i - 1];
        i--;
    }
    g->pend[i].ts = ts;
    g->pend[i].json = json;
    g->n_pend++;
}

void sim_page_view(struct sim_gen *g)
{
    emit(g, g->t, build(g, MSG_PAGE, NULL, g->t));
}

void sim_identify(struct sim_gen *g, const char *user_id)
{
    snprintf(g->user_id_now, sizeof g->user_id_now, "%s", user_id);
    emit(g, g->t, build(g, MSG_IDENTIFY, NULL, g->t));
}

/* ------------------------------------------------------------------------ */
/* The outcome                                                               */

double sim_outcome_logit(const struct sim_summary *s)
{
    double z = -2.55;
    z += s->valid_quote ? 1.6 : 0.0;
    z += s->reached_apply ? 0.9 : 0.0;
    z += 0.3 * MIN(s->app_fields, 5);
    z -= 0.3 * MIN(s->validation_errors, 8);
    z -= 0.6 * MIN(s->rage_clicks, 3);
    z -= 0.2 * MIN(s->dead_clicks, 5);
    z -= 0.35 * MIN(s->u_turns, 4);
    z += 0.5 * s->video_watched + (s->video_watched >= 0.75 ? 0.8 : 0.0);
    z -= s->mobile ? 0.35 : 0.0;
    z -= 0.3 * MIN(s->js_errors, 2);
    z += s->returning ? 0.2 : 0.0;
    z += s->prior_conversions > 0 ? 0.8 : 0.0;
    if (s->source) {
        if (!strcmp(s->source, "email"))
            z += 0.3;
        else if (!strcmp(s->source, "paid"))
            z -= 0.15;
        else if (!strcmp(s->source, "social"))
            z -= 0.25;
    }
    z -= s->bounced ? 4.0 : 0.0;
    return z + s->noise;
}

bool sim_converts(const struct sim_session *ss, bool treated, double effect)
{
    return ss->u < ss->p_convert + (treated ? effect : 0.0);
}

/* ------------------------------------------------------------------------ */
/* Sessions                                                                  */

void sim_session_clear(struct sim_session *out)
{
    if (!out)
        return;
    struct sim_message *lists[3] = {out->behaviour, out->convert, out->leave};
    size_t counts[3] = {out->n_behaviour, out->n_convert, out->n_leave};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < counts[k]; i++)
            free(lists[k][i].json);
        free(lists[k]);
    }
    memset(out, 0, sizeof *out);
}

/* A past visitor whose last session ended long enough before `start`, or NULL. */
static struct sim_visitor *pick_returning(struct sim *s, struct sim_rng *r, int64_t start)
{
    if (s->pool_len == 0 || !sim_rng_chance(r, s->cfg.returning_share))
        return NULL;
    for (int attempt = 0; attempt < 8; attempt++) {
        struct sim_visitor *v = &s->pool[sim_rng_int(r, 0, (int)s->pool_len - 1)];
        if (v->last_end_ms + SESSION_GAP_MS < start)
            return v;
    }
    return NULL;
}

static void new_visitor(struct sim_rng *r, struct sim_visitor *v)
{
    memset(v, 0, sizeof *v);
    sim_uuid(r, v->anonymous_id);
    if (sim_rng_chance(r, MOBILE_SHARE)) {
        int d = sim_rng_pick(r, mobile_device_w, (int)ARRAY_LEN(mobile_device_w));
        v->device = (uint8_t)(64 + d);
        v->screen =
            (uint8_t)(mobile_devices[d].ios
                          ? sim_rng_pick(r, ios_screen_w, (int)ARRAY_LEN(ios_screen_w))
                          : sim_rng_pick(r, android_screen_w, (int)ARRAY_LEN(android_screen_w)));
    } else {
        v->device = (uint8_t)sim_rng_pick(r, desktop_device_w, (int)ARRAY_LEN(desktop_device_w));
        v->screen = (uint8_t)sim_rng_pick(r, desktop_screen_w, (int)ARRAY_LEN(desktop_screen_w));
    }
    v->locale = (uint8_t)sim_rng_pick(r, locale_w, (int)ARRAY_LEN(locale_w));
    v->timezone = (uint8_t)sim_rng_pick(r, timezone_w, (int)ARRAY_LEN(timezone_w));
}

static void remember_visitor(struct sim *s, const struct sim_visitor *v)
{
    if (s->pool_len < POOL_MAX) {
        if (s->pool_len == s->pool_cap) {
            s->pool_cap = s->pool_cap ? s->pool_cap * 2 : 1024;
            s->pool = xrealloc(s->pool, s->pool_cap * sizeof *s->pool);
        }
        s->pool[s->pool_len++] = *v;
    } else {
        s->pool[s->pool_next] = *v;
        s->pool_next = (s->pool_next + 1) % POOL_MAX;
    }
}

static void set_device(struct sim_gen *g, const struct sim_visitor *v)
{
    if (v->device >= 64) {
        g->dev = &mobile_devices[v->device - 64];
        const int(*scr)[2] = g->dev->ios ? ios_screens : android_screens;
        g->vw = scr[v->screen][0];
        g->vh = scr[v->screen][1];
    } else {
        g->dev = &desktop_devices[v->device];
        g->vw = desktop_screens[v->screen][0];
        g->vh = desktop_screens[v->screen][1];
    }
    g->locale = locales[v->locale];
    g->timezone = timezones[v->timezone];
}

/* Where the visitor came from: referrer and campaign search of the landing page. */
static enum source set_source(struct sim_gen *g, struct sim_rng *r, bool returning)
{
    enum source src =
        (enum source)sim_rng_pick(r, returning ? source_w_returning : source_w_new, SRC_COUNT);
    static const char *const campaigns[] = {"autumn-rates", "loan-reminder", "welcome"};
    static const char *const terms[] = {"personal+loan", "loan+calculator", "low+apr+loan"};
    static const char *const socials[] = {"https://www.facebook.com/", "https://t.co/",
                                          "https://www.linkedin.com/", "https://www.reddit.com/"};
    static const char *const social_src[] = {"facebook", "twitter", "linkedin", "reddit"};
    static const char *const engines[] = {"https://www.google.com/", "https://www.bing.com/",
                                          "https://duckduckgo.com/"};
    static const double engine_w[] = {0.80, 0.12, 0.08};
    g->landing_referrer = "";
    g->landing_search[0] = '\0';
    switch (src) {
    case SRC_DIRECT:
        break;
    case SRC_SEARCH:
        g->landing_referrer = engines[sim_rng_pick(r, engine_w, 3)];
        break;
    case SRC_SOCIAL: {
        int k = sim_rng_int(r, 0, 3);
        g->landing_referrer = socials[k];
        if (sim_rng_chance(r, 0.6))
            snprintf(g->landing_search, sizeof g->landing_search,
                     "?utm_source=%s&utm_medium=social", social_src[k]);
        break;
    }
    case SRC_EMAIL:
        snprintf(g->landing_search, sizeof g->landing_search,
                 "?utm_source=newsletter&utm_medium=email&utm_campaign=%s",
                 campaigns[sim_rng_int(r, 0, 2)]);
        break;
    case SRC_PAID:
        if (sim_rng_chance(r, 0.85)) {
            g->landing_referrer = "https://www.google.com/";
            snprintf(g->landing_search, sizeof g->landing_search,
                     "?utm_source=google&utm_medium=cpc&utm_campaign=personal-loans&utm_term=%s",
                     terms[sim_rng_int(r, 0, 2)]);
        } else {
            g->landing_referrer = "https://www.bing.com/";
            snprintf(g->landing_search, sizeof g->landing_search,
                     "?utm_source=bing&utm_medium=cpc&utm_campaign=personal-loans");
        }
        break;
    default:
        break;
    }
    return src;
}

static void take_list(struct sim_msg_list *l, struct sim_message **v, size_t *n)
{
    *v = l->v;
    *n = l->n;
    l->v = NULL;
    l->n = l->cap = 0;
}

static double video_share(const struct sim_gen *g)
{
    int seen = 0;
    for (size_t i = 0; i < sizeof g->video_seen; i++)
        seen += g->video_seen[i] != 0;
    return (double)seen / (double)sizeof g->video_seen;
}

int sim_next_session(struct sim *s, struct sim_session *out)
{
    if (!s || !out)
        return -EINVAL;
    sim_session_clear(out);
    uint64_t index = s->next_index++;
    uint64_t base = sim_mix64(s->cfg.seed ^ sim_mix64(index + 0x5851f42d4c957f2dULL));
    struct sim_rng seq, outcome;
    sim_rng_seed(&seq, base ^ 0x01);
    sim_rng_seed(&outcome, base ^ 0x03);

    out->index = index;
    out->start_ms = next_start(s, &seq, index);

    /* who */
    struct sim_visitor fresh, *known = pick_returning(s, &seq, out->start_ms);
    new_visitor(&seq, &fresh); /* drawn either way, so the stream does not fork */
    struct sim_visitor *v = known ? known : &fresh;
    snprintf(out->anonymous_id, sizeof out->anonymous_id, "%s", v->anonymous_id);
    if (!v->user_id[0])
        snprintf(v->user_id, sizeof v->user_id, "cust_%012llx",
                 (unsigned long long)(sim_rng_next(&seq) >> 16));
    else
        (void)sim_rng_next(&seq);
    snprintf(out->user_id, sizeof out->user_id, "%s", v->user_id);
    snprintf(out->session_id, sizeof out->session_id, "%lld-%08x", (long long)out->start_ms,
             (unsigned)(sim_rng_next(&seq) >> 32));
    enum sim_persona persona = (enum sim_persona)sim_rng_pick(&seq, s->mix, SIM_PERSONA_COUNT);
    out->persona_id = persona;
    out->persona = persona_names[persona];

    struct sim_gen g;
    memset(&g, 0, sizeof g);
    g.sim = s;
    g.host = s->host;
    g.ss = out;
    g.focused = -1;
    g.video_rate = 1.0;
    set_device(&g, v);
    enum source src = set_source(&g, &seq, known != NULL);
    if (known && known->conversions > 0) /* journey.userId is still in localStorage */
        snprintf(g.user_id_now, sizeof g.user_id_now, "%s", v->user_id);
    g.sum.mobile = g.dev->mobile;
    g.sum.returning = known != NULL;
    g.sum.prior_conversions = known ? known->conversions : 0;
    g.sum.source = source_names[src];

    /* behaviour */
    struct sim_msg_list behaviour = {0}, convert = {0}, leave = {0};
    sim_rng_seed(&g.rng, base ^ 0x02);
    g.out = &behaviour;
    g.t = out->start_ms;
    g.in_behaviour = true;
    sim_persona_run(&g, persona);
    sim_flush(&g, INT64_MAX);
    g.in_behaviour = false;

    struct sim_summary *sum = &out->summary;
    *sum = g.sum;
    sum->video_watched = video_share(&g);
    sum->app_fields = sim_site_app_filled(&g);
    sum->bounced = sum->pages <= 1 && !g.interacted;
    sum->noise = 0.5 * sim_rng_normal(&outcome);
    out->p_convert = 1.0 / (1.0 + exp(-sim_outcome_logit(sum)));
    out->u = sim_rng_unit(&outcome);

    /* the two endings, from the same point */
    int64_t t_end = g.t;
    sim_rng_seed(&g.rng, base ^ 0x04);
    g.out = &leave;
    g.last_ts = 0;
    sim_site_leave(&g);
    sim_flush(&g, INT64_MAX);
    int64_t leave_end = g.t;

    g.t = t_end;
    g.page_open = true;
    sim_rng_seed(&g.rng, base ^ 0x05);
    g.out = &convert;
    g.last_ts = 0;
    sim_site_finish(&g);
    sim_flush(&g, INT64_MAX);
    int64_t convert_end = g.t;

    take_list(&behaviour, &out->behaviour, &out->n_behaviour);
    take_list(&convert, &out->convert, &out->n_convert);
    take_list(&leave, &out->leave, &out->n_leave);
    buf_free(&g.msg);
    buf_free(&g.props);
    buf_free(&g.ctx);
    buf_free(&g.page_props);

    /* what later sessions of this visitor remember */
    v->visits++;
    v->last_end_ms = MAX(leave_end, convert_end);
    if (out->u < out->p_convert && v->conversions < UINT16_MAX)
        v->conversions++;
    if (!known)
        remember_visitor(s, v);
    return 0;
}
