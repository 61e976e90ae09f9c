/*
 * test_sim.c - the traffic simulator: determinism, the tracker's message
 * shape, the persona mix, the conversion rate, the patterns the detectors
 * must see (rage clicks, repeated validation errors, u-turns), single-page
 * bouncers, consistent video events, and an outcome that follows behaviour.
 *
 * Messages are checked by parsing them back with cJSON, never by looking at
 * the generator's internals, so a test failing here means a real client of
 * the JSON would see the problem too.
 */
#include "support_test.h"

#include "common/timefmt.h"
#include "sim/sim.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-16T00:00:00Z (a Monday) to 2026-11-30T00:00:00Z: two whole weeks. */
#define T0 1795305600000LL
#define T1 (T0 + 14LL * 86400000LL)

static struct sim *make_sim(uint64_t seed, uint64_t n)
{
    struct sim_config cfg;
    sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.start_ms = T0;
    cfg.end_ms = T1;
    cfg.n_sessions = n;
    struct sim *s = sim_new(&cfg);
    assert_non_null(s);
    return s;
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static bool jbool(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsBool(v));
    return cJSON_IsTrue(v);
}

static const cJSON *jobj(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsObject(v));
    return v;
}

static bool is_event(const cJSON *m, const char *name)
{
    const char *e = jstr(m, "event");
    return e && !strcmp(e, name);
}

static bool is_page(const cJSON *m)
{
    const char *t = jstr(m, "type");
    return t && !strcmp(t, "page");
}

/* One message, parsed strictly: the whole text must be one JSON value. */
static cJSON *parse(const char *json)
{
    cJSON *m = cJSON_ParseWithOpts(json, NULL, true);
    if (!m || !cJSON_IsObject(m))
        fail_msg("not one JSON object: %s", json);
    return m;
}

/* Every message of a list, parsed (the caller frees with free_parsed). */
static cJSON **parse_all(const struct sim_message *v, size_t n)
{
    cJSON **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = parse(v[i].json);
    return out;
}

static void free_parsed(cJSON **m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(m[i]);
    free(m);
}

/* ------------------------------------------------------------------------ */

static bool same_list(const struct sim_message *a, size_t na, const struct sim_message *b,
                      size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].ts != b[i].ts || strcmp(a[i].json, b[i].json) != 0)
            return false;
    return true;
}

static void test_determinism(void **state)
{
    (void)state;
    struct sim *a = make_sim(99, 300), *b = make_sim(99, 300), *c = make_sim(100, 300);
    struct sim_session sa = {0}, sb = {0}, sc = {0};
    int differ = 0;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(sim_next_session(a, &sa), 0);
        assert_int_equal(sim_next_session(b, &sb), 0);
        assert_int_equal(sim_next_session(c, &sc), 0);
        assert_int_equal(sa.index, (uint64_t)i);
        assert_string_equal(sa.session_id, sb.session_id);
        assert_string_equal(sa.anonymous_id, sb.anonymous_id);
        assert_string_equal(sa.user_id, sb.user_id);
        assert_string_equal(sa.persona, sb.persona);
        assert_true(sa.start_ms == sb.start_ms);
        assert_true(sa.p_convert == sb.p_convert && sa.u == sb.u);
        assert_true(same_list(sa.behaviour, sa.n_behaviour, sb.behaviour, sb.n_behaviour));
        assert_true(same_list(sa.convert, sa.n_convert, sb.convert, sb.n_convert));
        assert_true(same_list(sa.leave, sa.n_leave, sb.leave, sb.n_leave));
        differ += !same_list(sa.behaviour, sa.n_behaviour, sc.behaviour, sc.n_behaviour);
    }
    assert_int_equal(differ, 300); /* another seed: every session differs */
    sim_session_clear(&sa);
    sim_session_clear(&sb);
    sim_session_clear(&sc);
    sim_free(a);
    sim_free(b);
    sim_free(c);
}

/* ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct id_set {
    char **v;
    size_t n, cap;
};

static void check_message(const cJSON *m, const struct sim_message *raw,
                          const struct sim_session *ss, struct id_set *ids)
{
    const char *type = jstr(m, "type");
    assert_non_null(type);
    if (!strcmp(type, "track")) {
        assert_non_null(jstr(m, "event"));
        jobj(m, "properties");
    } else if (!strcmp(type, "page")) {
        const cJSON *p = jobj(m, "properties");
        assert_non_null(jstr(m, "name"));
        assert_string_equal(jstr(m, "name"), jstr(p, "title"));
        const char *keys[] = {"path", "url", "title", "referrer", "search"};
        for (int k = 0; k < 5; k++)
            assert_non_null(jstr(p, keys[k]));
        assert_true(strncmp(jstr(p, "path"), "/demo/", 6) == 0);
    } else {
        assert_string_equal(type, "identify");
        jobj(m, "traits");
        assert_string_equal(jstr(m, "userId"), ss->user_id);
    }
    const char *mid = jstr(m, "messageId");
    assert_non_null(mid);
    assert_int_equal(strlen(mid), 36);
    assert_int_equal(mid[14], '4'); /* UUID v4 */
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 4096;
        ids->v = realloc(ids->v, ids->cap * sizeof *ids->v);
    }
    ids->v[ids->n++] = strdup(mid);
    assert_string_equal(jstr(m, "anonymousId"), ss->anonymous_id);
    const char *uid = jstr(m, "userId");
    if (uid)
        assert_string_equal(uid, ss->user_id);
    const char *ts = jstr(m, "timestamp"), *ots = jstr(m, "originalTimestamp");
    assert_non_null(ts);
    assert_non_null(ots);
    assert_string_equal(ts, ots);
    int64_t ms;
    assert_int_equal(timefmt_parse_iso(ts, strlen(ts), &ms), 0);
    assert_true(ms == raw->ts);

    const cJSON *ctx = jobj(m, "context");
    assert_string_equal(jstr(ctx, "sessionId"), ss->session_id);
    const cJSON *page = jobj(ctx, "page");
    const char *keys[] = {"path", "url", "title", "referrer", "search"};
    for (int k = 0; k < 5; k++)
        assert_non_null(jstr(page, keys[k]));
    if (!strcmp(type, "page"))
        assert_string_equal(jstr(page, "url"), jstr(jobj(m, "properties"), "url"));
    const char *ua = jstr(ctx, "userAgent");
    assert_non_null(ua);
    assert_true(strncmp(ua, "Mozilla/5.0 (", 13) == 0);
    const cJSON *lib = jobj(ctx, "library");
    assert_string_equal(jstr(lib, "name"), "journey-simulator");
    assert_non_null(jstr(lib, "version"));
    const cJSON *screen = jobj(ctx, "screen");
    assert_true(jnum(screen, "width") >= 320 && jnum(screen, "height") >= 480);
    assert_non_null(jstr(ctx, "locale"));
    assert_non_null(jstr(ctx, "timezone"));
    /* what the engine reads (src/engine/event.c) is there with the right types */
    if (is_event(m, "$click") || is_event(m, "$dead_click")) {
        const cJSON *p = jobj(m, "properties");
        assert_non_null(jstr(p, "selector"));
        assert_non_null(jstr(p, "tag"));
        jnum(p, "x");
        jnum(p, "y");
        if (is_event(m, "$click")) {
            jbool(p, "interactive");
            jbool(p, "disabled");
            assert_non_null(jstr(p, "text"));
        } else {
            assert_int_equal((int)jnum(p, "wait_ms"), 1000);
        }
    }
    if (strncmp(jstr(m, "event") ? jstr(m, "event") : "", "$field_", 7) == 0) {
        const cJSON *p = jobj(m, "properties");
        assert_non_null(jstr(p, "form"));
        assert_non_null(jstr(p, "field"));
        assert_non_null(jstr(p, "field_type"));
    }
}

static void check_list(const struct sim_message *v, size_t n, const struct sim_session *ss,
                       int64_t not_before, struct id_set *ids)
{
    cJSON **m = parse_all(v, n);
    int64_t prev = not_before;
    for (size_t i = 0; i < n; i++) {
        assert_true(v[i].ts >= prev); /* in time order */
        prev = v[i].ts;
        check_message(m[i], &v[i], ss, ids);
    }
    free_parsed(m, n);
}

static void test_message_shape(void **state)
{
    (void)state;
    struct sim *s = make_sim(5, 1500);
    struct sim_session ss = {0};
    struct id_set ids = {0};
    for (int i = 0; i < 1500; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        assert_true(ss.n_behaviour >= 1 && ss.n_convert >= 1 && ss.n_leave >= 1);
        /* the session id is the tracker's "<start ms>-<8 hex>" */
        char expect[32];
        snprintf(expect, sizeof expect, "%lld-", (long long)ss.start_ms);
        assert_true(strncmp(ss.session_id, expect, strlen(expect)) == 0);
        assert_int_equal(strlen(ss.session_id), strlen(expect) + 8);
        assert_true(ss.start_ms >= T0 && ss.start_ms < T1);
        assert_true(ss.behaviour[0].ts == ss.start_ms);
        cJSON *first = parse(ss.behaviour[0].json);
        assert_true(is_page(first));
        cJSON_Delete(first);
        int64_t end = ss.behaviour[ss.n_behaviour - 1].ts;
        check_list(ss.behaviour, ss.n_behaviour, &ss, ss.start_ms, &ids);
        check_list(ss.convert, ss.n_convert, &ss, end, &ids);
        check_list(ss.leave, ss.n_leave, &ss, end, &ids);

        /* leave ends with $page_leave; convert reaches thanks.html after an identify */
        cJSON *last = parse(ss.leave[ss.n_leave - 1].json);
        assert_true(is_event(last, "$page_leave"));
        const cJSON *lp = jobj(last, "properties");
        jnum(lp, "dwell_ms");
        int filled = (int)jnum(lp, "fields_filled");
        const cJSON *forms = cJSON_GetObjectItemCaseSensitive(lp, "forms_started");
        assert_true(cJSON_IsArray(forms));
        assert_true((cJSON_GetArraySize(forms) > 0) == (filled > 0));
        /* a form typed into on the last page and not sent shows up as started
         * (what the form_abandon detector reads) */
        cJSON **b = parse_all(ss.behaviour, ss.n_behaviour);
        const char *typed_form = NULL;
        for (size_t k = 0; k < ss.n_behaviour; k++) {
            if (is_page(b[k]) || is_event(b[k], "$form_submit"))
                typed_form = NULL;
            else if (is_event(b[k], "$field_change"))
                typed_form = jstr(jobj(b[k], "properties"), "form");
        }
        if (typed_form) {
            assert_true(filled > 0);
            assert_string_equal(cJSON_GetArrayItem(forms, 0)->valuestring, typed_form);
        }
        free_parsed(b, ss.n_behaviour);
        cJSON_Delete(last);
        cJSON **c = parse_all(ss.convert, ss.n_convert);
        bool identified = false, thanks = false;
        for (size_t k = 0; k < ss.n_convert; k++) {
            const char *t = jstr(c[k], "type");
            if (!strcmp(t, "identify"))
                identified = true;
            if (is_page(c[k]) &&
                !strcmp(jstr(jobj(c[k], "properties"), "path"), "/demo/thanks.html")) {
                assert_true(identified);
                assert_string_equal(jstr(c[k], "userId"), ss.user_id);
                thanks = true;
            }
        }
        assert_true(thanks);
        free_parsed(c, ss.n_convert);
    }
    qsort(ids.v, ids.n, sizeof *ids.v, cmp_str);
    for (size_t i = 1; i < ids.n; i++)
        assert_true(strcmp(ids.v[i - 1], ids.v[i]) != 0); /* messageIds are unique */
    for (size_t i = 0; i < ids.n; i++)
        free(ids.v[i]);
    free(ids.v);
    sim_session_clear(&ss);
    sim_free(s);
}

/* ------------------------------------------------------------------------ */

static void test_mix_and_conversion(void **state)
{
    (void)state;
    const int n = 10000;
    static const double expect[SIM_PERSONA_COUNT] = {0.15, 0.20, 0.20, 0.15, 0.10, 0.20};
    struct sim *s = make_sim(11, n);
    struct sim_session ss = {0};
    int count[SIM_PERSONA_COUNT] = {0}, converted = 0, mobile = 0, returning = 0;
    double p_sum = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        assert_string_equal(ss.persona, sim_persona_name(ss.persona_id));
        count[ss.persona_id]++;
        converted += sim_converts(&ss, false, 0.0);
        p_sum += ss.p_convert;
        mobile += ss.summary.mobile;
        returning += ss.summary.returning;
        assert_true(ss.u >= 0.0 && ss.u < 1.0);
        assert_true(ss.p_convert > 0.0 && ss.p_convert < 1.0);
    }
    for (int k = 0; k < SIM_PERSONA_COUNT; k++) {
        double share = (double)count[k] / n;
        if (fabs(share - expect[k]) > 0.015)
            fail_msg("%s: %.3f of sessions, expected %.2f", sim_persona_name(k), share, expect[k]);
    }
    double rate = (double)converted / n;
    if (rate < 0.20 || rate > 0.30)
        fail_msg("conversion rate %.3f outside [0.20, 0.30]", rate);
    assert_true(fabs(p_sum / n - rate) < 0.02); /* u is uniform: rate ~ mean p */
    assert_true(fabs((double)mobile / n - 0.35) < 0.02);
    assert_true(fabs((double)returning / n - 0.25) < 0.04);
    sim_session_clear(&ss);
    sim_free(s);
}

static void test_persona_mix_config(void **state)
{
    (void)state;
    struct sim_config cfg;
    sim_config_init(&cfg);
    cfg.persona_mix[SIM_STRUGGLER] = 1.0;
    struct sim *s = sim_new(&cfg);
    struct sim_session ss = {0};
    for (int i = 0; i < 50; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        assert_string_equal(ss.persona, "struggler");
    }
    sim_session_clear(&ss);
    sim_free(s);
}

/* ------------------------------------------------------------------------ */

/* Rage-click bursts as the engine's detector counts them (3+ clicks, each
 * within 1000 ms and 30 px Manhattan of the previous; once per streak). */
static int rage_bursts(cJSON **m, const struct sim_message *v, size_t n)
{
    int bursts = 0, streak = 0;
    double px = 0, py = 0;
    int64_t pt = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_page(m[i])) {
            streak = 0;
            continue;
        }
        if (!is_event(m[i], "$click"))
            continue;
        const cJSON *p = jobj(m[i], "properties");
        double x = jnum(p, "x"), y = jnum(p, "y");
        bool cont = streak > 0 && v[i].ts - pt <= 1000 && fabs(x - px) + fabs(y - py) <= 30;
        streak = cont ? streak + 1 : 1;
        if (streak == 3)
            bursts++;
        px = x;
        py = y;
        pt = v[i].ts;
    }
    return bursts;
}

/* The most $field_invalid events on one form field. */
static int max_invalid_per_field(cJSON **m, size_t n)
{
    char keys[32][64];
    int counts[32], nk = 0, best = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_event(m[i], "$field_invalid"))
            continue;
        const cJSON *p = jobj(m[i], "properties");
        char key[64];
        snprintf(key, sizeof key, "%s/%s", jstr(p, "form"), jstr(p, "field"));
        int k = 0;
        while (k < nk && strcmp(keys[k], key))
            k++;
        if (k == nk && nk < 32) {
            snprintf(keys[nk], sizeof keys[nk], "%s", key);
            counts[nk++] = 0;
        }
        if (k < nk && ++counts[k] > best)
            best = counts[k];
    }
    return best;
}

static void test_strugglers_are_detectable(void **state)
{
    (void)state;
    struct sim *s = make_sim(21, 4000);
    struct sim_session ss = {0};
    int strugglers = 0, detectable = 0, any = 0, with_rage = 0, with_dead = 0;
    for (int i = 0; i < 4000; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        cJSON **m = parse_all(ss.behaviour, ss.n_behaviour);
        int bursts = rage_bursts(m, ss.behaviour, ss.n_behaviour);
        int dead = 0, invalid = 0;
        for (size_t k = 0; k < ss.n_behaviour; k++) {
            dead += is_event(m[k], "$dead_click");
            invalid += is_event(m[k], "$field_invalid");
        }
        /* the summary is the truth of the events */
        assert_int_equal(ss.summary.rage_clicks, bursts);
        assert_int_equal(ss.summary.dead_clicks, dead);
        assert_int_equal(ss.summary.validation_errors, invalid);
        if (ss.persona_id == SIM_STRUGGLER) {
            strugglers++;
            bool repeated = max_invalid_per_field(m, ss.n_behaviour) >= 2;
            detectable += repeated || bursts > 0;
            any += repeated || bursts > 0 || dead > 0 || ss.summary.u_turns > 0;
            with_rage += bursts > 0;
            with_dead += dead > 0;
            assert_true(invalid >= 1); /* every struggler falls into a trap */
        }
        free_parsed(m, ss.n_behaviour);
    }
    assert_true(strugglers > 600);
    /* some recover at the first retry; most do not (this sample: 87.5 % repeated errors or
     * rage, 95.7 % any pattern, 79 % rage, 89 % dead clicks) */
    if (detectable < 0.85 * strugglers || any < 0.93 * strugglers)
        fail_msg("of %d strugglers, %d show repeated errors on a field or rage clicks, %d any "
                 "struggle pattern; rage %d dead %d",
                 strugglers, detectable, any, with_rage, with_dead);
    assert_true(with_rage > 0.6 * strugglers);
    assert_true(with_dead > 0.7 * strugglers);
    sim_session_clear(&ss);
    sim_free(s);
}

/* Dead clicks come 1 s after their click and name it; rage bursts hit the disabled
 * "Apply now" (aria-disabled, so the clicks are reported with disabled: true). */
static void test_dead_clicks_follow_their_click(void **state)
{
    (void)state;
    struct sim *s = make_sim(23, 800);
    struct sim_session ss = {0};
    int checked = 0, disabled_apply = 0;
    for (int i = 0; i < 800; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        cJSON **m = parse_all(ss.behaviour, ss.n_behaviour);
        for (size_t k = 0; k < ss.n_behaviour; k++) {
            if (is_event(m[k], "$click")) {
                const cJSON *p = jobj(m[k], "properties");
                if (!strcmp(jstr(p, "selector"), "#apply-now") && jbool(p, "disabled"))
                    disabled_apply++;
            }
            if (!is_event(m[k], "$dead_click"))
                continue;
            const char *id = jstr(jobj(m[k], "properties"), "click_id");
            bool found = false;
            for (size_t j = 0; j < k && !found; j++) {
                if (!is_event(m[j], "$click") || strcmp(jstr(m[j], "messageId"), id))
                    continue;
                found = true;
                int64_t dt = ss.behaviour[k].ts - ss.behaviour[j].ts;
                assert_true(dt >= 1000 && dt < 1020);
                assert_string_equal(jstr(jobj(m[j], "properties"), "selector"),
                                    jstr(jobj(m[k], "properties"), "selector"));
            }
            assert_true(found);
            checked++;
        }
        free_parsed(m, ss.n_behaviour);
    }
    assert_true(checked > 100);
    assert_true(disabled_apply > 50);
    sim_session_clear(&ss);
    sim_free(s);
}

static void test_bouncers_see_one_page(void **state)
{
    (void)state;
    struct sim *s = make_sim(31, 1500);
    struct sim_session ss = {0};
    int bouncers = 0;
    for (int i = 0; i < 1500; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        if (ss.persona_id != SIM_BOUNCER)
            continue;
        bouncers++;
        cJSON **m = parse_all(ss.behaviour, ss.n_behaviour);
        int pages = 0;
        for (size_t k = 0; k < ss.n_behaviour; k++)
            pages += is_page(m[k]);
        assert_int_equal(pages, 1);
        assert_int_equal(ss.summary.pages, 1);
        free_parsed(m, ss.n_behaviour);
        cJSON **l = parse_all(ss.leave, ss.n_leave);
        for (size_t k = 0; k < ss.n_leave; k++)
            assert_false(is_page(l[k]));
        free_parsed(l, ss.n_leave);
        if (ss.summary.bounced)
            assert_true(ss.p_convert < 0.02);
    }
    assert_true(bouncers > 200);
    sim_session_clear(&ss);
    sim_free(s);
}

static void test_confused_navigators_turn_around(void **state)
{
    (void)state;
    struct sim *s = make_sim(41, 2000);
    struct sim_session ss = {0};
    int confused = 0, noticed = 0;
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        if (ss.persona_id != SIM_CONFUSED_NAVIGATOR)
            continue;
        confused++;
        /* u-turns, or 4 page views within 10 s (the rapid-navigation detector) */
        int64_t page_ts[64];
        int np = 0;
        bool rapid = false;
        for (size_t k = 0; k < ss.n_behaviour; k++) {
            cJSON *m = parse(ss.behaviour[k].json);
            if (is_page(m) && np < 64) {
                page_ts[np++] = ss.behaviour[k].ts;
                if (np >= 4 && page_ts[np - 1] - page_ts[np - 4] <= 10000)
                    rapid = true;
            }
            cJSON_Delete(m);
        }
        assert_int_equal(ss.summary.pages, np);
        noticed += ss.summary.u_turns > 0 || rapid;
    }
    assert_true(confused > 200);
    if (noticed < 0.6 * confused)
        fail_msg("only %d of %d confused navigators make u-turns or rapid hops", noticed, confused);
    sim_session_clear(&ss);
    sim_free(s);
}

/* ------------------------------------------------------------------------ */

static void test_video_events_are_consistent(void **state)
{
    (void)state;
    struct sim *s = make_sim(51, 1500);
    struct sim_session ss = {0};
    int heartbeats = 0, checked_pairs = 0, ended = 0, seeks = 0, rate_changes = 0;
    for (int i = 0; i < 1500; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        const struct sim_message *lists[3] = {ss.behaviour, ss.convert, ss.leave};
        size_t counts[3] = {ss.n_behaviour, ss.n_convert, ss.n_leave};
        for (int l = 0; l < 3; l++) {
            cJSON **m = parse_all(lists[l], counts[l]);
            const char *prev = NULL; /* the previous video event of this list */
            double prev_pos = 0;
            int64_t prev_ts = 0;
            for (size_t k = 0; k < counts[l]; k++) {
                const char *e = jstr(m[k], "event");
                if (!e || strncmp(e, "$video_", 7) != 0)
                    continue;
                const cJSON *p = jobj(m[k], "properties");
                assert_string_equal(jstr(p, "video_id"), "loan-explainer");
                assert_string_equal(jstr(p, "title"), "How our loans work");
                assert_true(jnum(p, "duration") == 60);
                const char *path = jstr(jobj(jobj(m[k], "context"), "page"), "path");
                assert_true(!strcmp(path, "/demo/") || !strcmp(path, "/demo/index.html"));
                double pos = jnum(p, "position"), rate = jnum(p, "rate");
                assert_true(pos >= 0 && pos <= 60);
                assert_true(rate == 1 || rate == 1.25 || rate == 1.5 || rate == 2);
                if (!strcmp(e, "$video_heartbeat")) {
                    heartbeats++;
                    /* every 5 s of wall time while playing, 5 x rate s of media */
                    if (prev &&
                        (!strcmp(prev, "$video_heartbeat") || !strcmp(prev, "$video_play"))) {
                        assert_true(lists[l][k].ts - prev_ts == 5000);
                        assert_true(fabs(pos - prev_pos - 5.0 * rate) < 0.003);
                        checked_pairs++;
                    }
                } else if (!strcmp(e, "$video_seeked")) {
                    seeks++;
                    double from = jnum(p, "from"), to = jnum(p, "to");
                    assert_true(from >= 0 && from <= 60 && to >= 0 && to <= 60);
                    assert_true(fabs(to - pos) < 0.001);
                } else if (!strcmp(e, "$video_ended")) {
                    ended++;
                    assert_true(pos == 60);
                    assert_string_equal(prev, "$video_pause");
                } else if (!strcmp(e, "$video_ratechange")) {
                    rate_changes++;
                }
                prev = e;
                prev_pos = pos;
                prev_ts = lists[l][k].ts;
            }
            free_parsed(m, counts[l]);
        }
        if (ss.persona_id == SIM_VIDEO_LEARNER)
            assert_true(ss.summary.video_watched > 0);
    }
    assert_true(heartbeats > 1000 && checked_pairs > 1000);
    assert_true(ended > 20 && seeks > 20 && rate_changes > 10);
    sim_session_clear(&ss);
    sim_free(s);
}

/* Loan Calculated only for quotes the site would give; validation messages as the site's. */
static void test_calculator_rules(void **state)
{
    (void)state;
    struct sim *s = make_sim(61, 1000);
    struct sim_session ss = {0};
    int quotes = 0, api = 0, native = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        cJSON **m = parse_all(ss.behaviour, ss.n_behaviour);
        for (size_t k = 0; k < ss.n_behaviour; k++) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(m[k], "properties");
            if (is_event(m[k], "Loan Calculated")) {
                quotes++;
                double amount = jnum(p, "amount"), term = jnum(p, "term_months");
                double apr = jnum(p, "apr");
                assert_true(amount >= 1000 && amount <= 50000);
                assert_false(amount > 20000 && term < 36);
                assert_false(amount < 5000 && term > 24);
                assert_true(apr == (amount < 5000     ? 14.9
                                    : amount < 10000  ? 9.9
                                    : amount <= 20000 ? 6.9
                                                      : 7.4));
                double r = apr / 1200, pay = amount * r / (1 - pow(1 + r, -term));
                assert_true(fabs(jnum(p, "monthly_payment") - pay) < 0.006);
                /* a valid calculation is a valid $form_submit just before */
                bool submit = false;
                for (size_t j = k; j-- > 0 && !submit;)
                    if (is_event(m[j], "$form_submit"))
                        submit = jbool(jobj(m[j], "properties"), "valid");
                assert_true(submit);
            }
            if (is_event(m[k], "$field_invalid")) {
                const char *src = jstr(p, "source");
                if (!strcmp(src, "api")) {
                    api++;
                    assert_string_equal(jstr(p, "form"), "loan-calculator");
                    assert_string_equal(jstr(p, "reason"), "custom");
                    assert_true(strlen(jstr(p, "message")) > 10);
                } else {
                    native++;
                    assert_string_equal(src, "native");
                    assert_string_equal(jstr(p, "form"), "application");
                    assert_null(jstr(p, "message")); /* never the browser's text */
                }
            }
        }
        free_parsed(m, ss.n_behaviour);
    }
    assert_true(quotes > 300 && api > 200 && native > 5);
    sim_session_clear(&ss);
    sim_free(s);
}

/* ------------------------------------------------------------------------ */

static void test_outcome_follows_behaviour(void **state)
{
    (void)state;
    struct sim *s = make_sim(71, 5000);
    struct sim_session ss = {0};
    double p_quote = 0, p_none = 0, p_calm = 0, p_rage = 0;
    int n_quote = 0, n_none = 0, n_calm = 0, n_rage = 0;
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        double lp = log(ss.p_convert / (1 - ss.p_convert));
        assert_true(fabs(lp - sim_outcome_logit(&ss.summary)) < 1e-9);
        if (ss.summary.valid_quote) {
            p_quote += ss.p_convert;
            n_quote++;
        } else {
            p_none += ss.p_convert;
            n_none++;
        }
        if (ss.persona_id == SIM_STRUGGLER) {
            if (ss.summary.rage_clicks > 0) {
                p_rage += ss.p_convert;
                n_rage++;
            } else {
                p_calm += ss.p_convert;
                n_calm++;
            }
        }
    }
    assert_true(n_quote > 500 && n_none > 500 && n_rage > 50 && n_calm > 50);
    assert_true(p_quote / n_quote > 2.0 * (p_none / n_none));
    assert_true(p_rage / n_rage < p_calm / n_calm);

    /* the function itself, one input at a time */
    struct sim_summary base = {0};
    base.valid_quote = true;
    base.pages = 2;
    base.source = "direct";
    double z = sim_outcome_logit(&base);
    struct sim_summary v = base;
    v.rage_clicks = 1;
    assert_true(sim_outcome_logit(&v) < z);
    v = base;
    v.validation_errors = 3;
    assert_true(sim_outcome_logit(&v) < z);
    v = base;
    v.video_watched = 0.9;
    assert_true(sim_outcome_logit(&v) > z);
    v = base;
    v.mobile = true;
    assert_true(sim_outcome_logit(&v) < z);
    v = base;
    v.returning = true;
    v.prior_conversions = 1;
    assert_true(sim_outcome_logit(&v) > z);
    v = base;
    v.valid_quote = false;
    assert_true(sim_outcome_logit(&v) < z);
    v = base;
    v.valid_quote = false;
    v.pages = 1;
    v.bounced = true;
    assert_true(1 / (1 + exp(-sim_outcome_logit(&v))) < 0.01);

    /* sim_converts: u < p + effect when treated */
    struct sim_session fake = {0};
    fake.p_convert = 0.3;
    fake.u = 0.35;
    assert_false(sim_converts(&fake, false, 0.1));
    assert_false(sim_converts(&fake, true, 0.04));
    assert_true(sim_converts(&fake, true, 0.1));
    sim_session_clear(&ss);
    sim_free(s);
}

/* ------------------------------------------------------------------------ */

static void test_start_times_follow_the_rhythm(void **state)
{
    (void)state;
    const int n = 20000;
    struct sim_config cfg;
    sim_config_init(&cfg);
    cfg.seed = 3;
    cfg.start_ms = T0;
    cfg.end_ms = T1;
    cfg.n_sessions = n;
    cfg.utc_offset_min = -300;
    struct sim *s = sim_new(&cfg);
    struct sim_session ss = {0};
    int64_t prev = 0;
    int day = 0, night = 0, weekday = 0, weekend = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        assert_true(ss.start_ms >= T0 && ss.start_ms < T1);
        assert_true(ss.start_ms >= prev); /* n_sessions known: in order */
        prev = ss.start_ms;
        int64_t local = ss.start_ms - 300LL * 60000;
        int hour = (int)((local / 3600000) % 24);
        int dow = (int)(((local / 86400000) + 4) % 7); /* 0 = Sunday */
        day += hour >= 10 && hour < 22;
        night += hour >= 1 && hour < 6;
        if (dow == 0 || dow == 6)
            weekend++;
        else
            weekday++;
    }
    /* 12 busy hours against 5 quiet ones; per day, weekdays busier than weekends */
    assert_true(day / 12.0 > 4.0 * (night / 5.0));
    assert_true(weekday / 10.0 > 1.2 * (weekend / 4.0));
    /* sessions past n_sessions still land in the range */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        assert_true(ss.start_ms >= T0 && ss.start_ms < T1);
    }
    sim_session_clear(&ss);
    sim_free(s);
}

static void test_config_and_errors(void **state)
{
    (void)state;
    struct sim_config cfg;
    sim_config_init(&cfg);
    assert_null(sim_config_error(&cfg));
    cfg.end_ms = cfg.start_ms;
    assert_non_null(sim_config_error(&cfg));
    assert_null(sim_new(&cfg));
    sim_config_init(&cfg);
    cfg.returning_share = 1.5;
    assert_null(sim_new(&cfg));
    sim_config_init(&cfg);
    cfg.persona_mix[0] = -1;
    assert_null(sim_new(&cfg));
    assert_non_null(sim_config_error(NULL));

    sim_config_init(&cfg);
    cfg.host = "https://loans.example/"; /* the trailing slash is dropped */
    cfg.returning_share = 0;
    struct sim *s = sim_new(&cfg);
    struct sim_session ss = {0};
    assert_int_equal(sim_next_session(NULL, &ss), -EINVAL);
    assert_int_equal(sim_next_session(s, NULL), -EINVAL);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(sim_next_session(s, &ss), 0);
        assert_false(ss.summary.returning);
        cJSON *m = parse(ss.behaviour[0].json);
        const char *url = jstr(jobj(m, "properties"), "url");
        assert_true(strncmp(url, "https://loans.example/demo/", 27) == 0);
        cJSON_Delete(m);
    }
    /* a caller may take a message and clear the rest */
    char *taken = ss.behaviour[0].json;
    ss.behaviour[0].json = NULL;
    sim_session_clear(&ss);
    free(taken);
    sim_session_clear(&ss); /* twice is fine */
    sim_session_clear(NULL);
    sim_free(s);
    sim_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_message_shape),
        cmocka_unit_test(test_mix_and_conversion),
        cmocka_unit_test(test_persona_mix_config),
        cmocka_unit_test(test_strugglers_are_detectable),
        cmocka_unit_test(test_dead_clicks_follow_their_click),
        cmocka_unit_test(test_bouncers_see_one_page),
        cmocka_unit_test(test_confused_navigators_turn_around),
        cmocka_unit_test(test_video_events_are_consistent),
        cmocka_unit_test(test_calculator_rules),
        cmocka_unit_test(test_outcome_follows_behaviour),
        cmocka_unit_test(test_start_times_follow_the_rhythm),
        cmocka_unit_test(test_config_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
