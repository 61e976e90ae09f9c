/*
 * test_detectors.c - each detector on scripted event sequences, through the
 * same entry point the workers use (detect_all, then session_apply_event).
 */
#include "support_test.h"

#include "common/util.h"
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    struct detector_params params;
    struct project_settings *ps;
    struct baselines *baselines;
    struct session *s;
    struct signal sigs[16];
    int n; /* signals of the last event */
    int64_t t;
    int64_t client_t; /* when set: the next event's browser time (out-of-order arrival) */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    detector_params_defaults(&f->params);
    char err[200];
    f->ps = project_settings_parse("{\"goal\":{\"path\":\"/thanks\"}}", 1, err, sizeof err);
    f->baselines = baselines_new();
    f->s = session_new(1, "s1", 42);
    f->t = 1795600000000LL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    session_free(f->s);
    baselines_free(f->baselines);
    project_settings_free(f->ps);
    free(f);
    return 0;
}

/* Builds an event (props is the JSON of its properties) and runs it. */
static int feed(struct fx *f, int64_t dt, const char *type, const char *name, const char *path,
                const char *props)
{
    f->t += dt;
    char *payload = xasprintf("{\"properties\":%s}", props ? props : "{}");
    size_t need = strlen(payload) + 1;
    struct engine_event *e = calloc(1, sizeof *e + need);
    memcpy(e->data, payload, need);
    free(payload);
    e->payload = e->data;
    e->payload_len = need - 1;
    e->project_id = 1;
    e->id = f->t;
    e->ts = f->t;
    e->client_ts = f->client_t ? f->client_t : f->t;
    e->session_id = "s1";
    e->anonymous_id = "a1";
    e->path = path;
    e->name = name;
    e->kind = engine_event_kind(type, name);
    engine_event_parse(e);
    struct detect_ctx c = {.params = &f->params, .baselines = f->baselines, .project_id = 1,
                           .out = f->sigs, .cap_out = 16};
    detect_all(&c, f->s, e);
    session_apply_event(f->s, e, f->ps);
    for (int i = 0; i < c.n_out; i++)
        session_note_signal(f->s, &f->sigs[i]);
    f->n = c.n_out;
    engine_event_free(e);
    return f->n;
}

#define PAGE(f, dt, path) feed(f, dt, "page", NULL, path, "{\"path\":\"" path "\"}")
#define TRACK(f, dt, name, props) feed(f, dt, "track", name, "/calc", props)

static void expect(struct fx *f, enum signal_kind kind, int score)
{
    for (int i = 0; i < f->n; i++)
        if (f->sigs[i].kind == kind && f->sigs[i].score == score)
            return;
    fail_msg("expected %s at %d; got %d signals (first %s %d %s)", signal_kind_name(kind), score,
             f->n, f->n ? signal_kind_name(f->sigs[0].kind) : "-", f->n ? f->sigs[0].score : 0,
             f->n ? f->sigs[0].evidence : "");
}

static void test_rage_click(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    const char *click = "{\"selector\":\"#apply\",\"x\":100,\"y\":200,\"disabled\":true}";
    assert_int_equal(TRACK(f, 1000, "$click", click), 0);
    assert_int_equal(TRACK(f, 300, "$click", "{\"selector\":\"#apply\",\"x\":110,\"y\":205}"), 0);
    assert_int_equal(TRACK(f, 300, "$click", click), 1);
    expect(f, SIG_RAGE_CLICK, 70);
    assert_non_null(strstr(f->sigs[0].evidence, "\"clicks\":3"));
    assert_non_null(strstr(f->sigs[0].evidence, "#apply"));
    assert_int_equal(TRACK(f, 300, "$click", click), 0); /* once per streak */
    assert_int_equal(TRACK(f, 300, "$click", click), 1); /* escalation at 5 */
    expect(f, SIG_RAGE_CLICK, 90);
    /* A slow click breaks the streak; a new streak needs 3 again. */
    assert_int_equal(TRACK(f, 1500, "$click", click), 0);
    assert_int_equal(TRACK(f, 200, "$click", click), 0);
    assert_int_equal(TRACK(f, 200, "$click", click), 1);
    /* Far apart clicks are not rage. */
    assert_int_equal(TRACK(f, 5000, "$click", "{\"x\":0,\"y\":0}"), 0);
    assert_int_equal(TRACK(f, 100, "$click", "{\"x\":300,\"y\":0}"), 0);
    assert_int_equal(TRACK(f, 100, "$click", "{\"x\":0,\"y\":300}"), 0);
}

static void test_dead_click(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    const char *dead = "{\"selector\":\"th.sortable\",\"x\":1,\"y\":2,\"click_id\":\"m1\"}";
    TRACK(f, 1000, "$dead_click", dead);
    expect(f, SIG_DEAD_CLICK, 50);
    TRACK(f, 1000, "$dead_click", dead);
    expect(f, SIG_DEAD_CLICK, 70);
    TRACK(f, 1000, "$dead_click", dead);
    expect(f, SIG_DEAD_CLICK, 85);
    assert_int_equal(TRACK(f, 1000, "$dead_click", dead), 0);
    /* A new page starts over. */
    PAGE(f, 1000, "/faq");
    TRACK(f, 1000, "$dead_click", dead);
    expect(f, SIG_DEAD_CLICK, 50);
}

static void test_error_click(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    TRACK(f, 1000, "$click", "{\"selector\":\"#go\",\"x\":5,\"y\":5}");
    TRACK(f, 400, "$js_error", "{\"message\":\"TypeError: x is undefined\"}");
    expect(f, SIG_ERROR_CLICK, 75);
    expect(f, SIG_JS_ERROR, 50);
    /* The same click does not count twice; an error long after a click is just an error. */
    TRACK(f, 100, "$js_error", "{\"message\":\"again\"}");
    assert_int_equal(f->n, 1);
    expect(f, SIG_JS_ERROR, 65);
    TRACK(f, 5000, "$click", "{\"selector\":\"#go\",\"x\":5,\"y\":5}");
    TRACK(f, 3000, "$js_error", "{\"message\":\"late\"}");
    assert_int_equal(f->n, 1);
    expect(f, SIG_JS_ERROR, 80);
    assert_int_equal(TRACK(f, 100, "$js_error", "{}"), 0); /* a 4th adds nothing */
}

static void test_form_errors(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    const char *inv = "{\"form\":\"loan\",\"field\":\"income\",\"reason\":\"rangeUnderflow\"}";
    assert_int_equal(TRACK(f, 1000, "$field_invalid", inv), 0);
    TRACK(f, 1000, "$field_invalid", inv);
    expect(f, SIG_FORM_ERRORS, 60);
    assert_non_null(strstr(f->sigs[0].evidence, "\"field\":\"income\""));
    TRACK(f, 1000, "$field_invalid", inv);
    expect(f, SIG_FORM_ERRORS, 80);
    TRACK(f, 1000, "$field_invalid", inv);
    expect(f, SIG_FORM_ERRORS, 90);
    assert_int_equal(TRACK(f, 1000, "$field_invalid", inv), 0);
    /* Another field counts on its own. */
    assert_int_equal(TRACK(f, 1000, "$field_invalid", "{\"form\":\"loan\",\"field\":\"term\"}"), 0);
    assert_string_equal(f->s->trouble_field, "income");
}

static void test_field_thrash(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    const char *chg = "{\"form\":\"loan\",\"field\":\"amount\",\"length\":5,\"valid\":true}";
    for (int i = 0; i < 3; i++)
        assert_int_equal(TRACK(f, 2000, "$field_change", chg), 0);
    TRACK(f, 2000, "$field_change", chg);
    expect(f, SIG_FIELD_THRASH, 60);
    TRACK(f, 2000, "$field_change", chg);
    assert_int_equal(f->n, 0);
    TRACK(f, 2000, "$field_change", chg);
    expect(f, SIG_FIELD_THRASH, 75);
}

static void test_calculator_retry(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    const char *chg = "{\"form\":\"loan\",\"field\":\"income\",\"length\":4}";
    const char *bad = "{\"form\":\"loan\",\"valid\":false}";
    TRACK(f, 1000, "$field_change", chg);
    assert_int_equal(TRACK(f, 1000, "$form_submit", bad), 0);
    TRACK(f, 1000, "$field_change", chg);
    assert_int_equal(TRACK(f, 1000, "$form_submit", bad), 0);
    /* A resubmit without changes is not a retry. */
    assert_int_equal(TRACK(f, 1000, "$form_submit", bad), 0);
    TRACK(f, 1000, "$field_change", chg);
    TRACK(f, 1000, "$form_submit", bad);
    expect(f, SIG_CALC_RETRY, 70);
    /* A valid result is progress: no signal. */
    TRACK(f, 1000, "$field_change", chg);
    assert_int_equal(TRACK(f, 1000, "$form_submit", "{\"form\":\"loan\",\"valid\":true}"), 0);
}

/* The submit's request overtakes the request carrying the changes made
 * before it (both sent at once by the tracker): still a retry. */
static void test_calculator_retry_out_of_order(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    const char *chg = "{\"form\":\"loan\",\"field\":\"income\",\"length\":4}";
    const char *bad = "{\"form\":\"loan\",\"valid\":false}";
    TRACK(f, 1000, "$field_change", chg);
    TRACK(f, 1000, "$form_submit", bad);
    TRACK(f, 1000, "$field_change", chg);
    TRACK(f, 1000, "$form_submit", bad);
    /* third attempt: the submit (browser time T) arrives before its change (T - 300 ms) */
    int64_t submit_at = f->t + 1000;
    f->client_t = submit_at;
    assert_int_equal(TRACK(f, 1000, "$form_submit", bad), 0);
    f->client_t = submit_at - 300;
    TRACK(f, 5, "$field_change", chg);
    f->client_t = 0;
    expect(f, SIG_CALC_RETRY, 70);
    /* and the late change does not count again for the next submit */
    assert_int_equal(TRACK(f, 1000, "$form_submit", bad), 0);
}

static void test_comparison_shopper_is_not_flagged(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/calc");
    for (int i = 0; i < 6; i++) {
        TRACK(f, 3000, "$field_change", "{\"form\":\"loan\",\"field\":\"amount\",\"length\":5}");
        assert_int_equal(TRACK(f, 1000, "$form_submit", "{\"form\":\"loan\",\"valid\":true}"), 0);
    }
}

static void test_form_abandon(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/apply");
    TRACK(f, 2000, "$field_change", "{\"form\":\"app\",\"field\":\"name\",\"length\":5}");
    TRACK(f, 2000, "$field_change", "{\"form\":\"app\",\"field\":\"email\",\"length\":9}");
    feed(f, 5000, "track", "$page_leave", "/apply", "{\"dwell_ms\":9000,\"fields_filled\":2}");
    expect(f, SIG_FORM_ABANDON, 70);
    /* The next page view does not count it again. */
    assert_int_equal(PAGE(f, 100, "/faq"), 0);
    /* A submitted form is not abandoned. */
    PAGE(f, 1000, "/apply");
    TRACK(f, 2000, "$field_change", "{\"form\":\"app\",\"field\":\"name\",\"length\":5}");
    TRACK(f, 2000, "$form_submit", "{\"form\":\"app\",\"valid\":true}");
    assert_int_equal(PAGE(f, 1000, "/thanks"), 0);
    assert_true(f->s->converted);
}

static void test_navigation(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/a");
    PAGE(f, 20000, "/b");
    PAGE(f, 3000, "/a");
    expect(f, SIG_U_TURN, 55);
    PAGE(f, 20000, "/b");
    PAGE(f, 2000, "/a");
    expect(f, SIG_U_TURN, 75);
    /* Slow back-and-forth is reading, not a u-turn. */
    PAGE(f, 30000, "/b");
    assert_int_equal(PAGE(f, 30000, "/a"), 0);
    /* Four pages within ten seconds. */
    PAGE(f, 60000, "/c");
    PAGE(f, 1000, "/d");
    PAGE(f, 1000, "/e");
    PAGE(f, 1000, "/f");
    expect(f, SIG_RAPID_NAV, 65);
}

static void test_quick_back_uses_page_history(void **state)
{
    struct fx *f = *state;
    /* /guide is normally read for about 2 minutes. */
    for (int i = 0; i < 40; i++)
        baselines_record(f->baselines, 1, "/guide", 110000 + i * 1000, 0);
    PAGE(f, 0, "/a");
    PAGE(f, 30000, "/guide");
    PAGE(f, 15000, "/a"); /* 15 s on a 2-minute page: back quickly, past the u-turn bound */
    expect(f, SIG_QUICK_BACK, 65);
}

static void test_scroll_thrash(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/rates");
    for (int r = 1; r <= 5; r++) {
        char p[80];
        snprintf(p, sizeof p, "{\"depth\":50,\"direction\":\"%s\",\"reversals\":%d}",
                 r % 2 ? "up" : "down", r);
        assert_int_equal(TRACK(f, 500, "$scroll", p), 0);
    }
    TRACK(f, 500, "$scroll", "{\"depth\":50,\"direction\":\"down\",\"reversals\":6}");
    expect(f, SIG_SCROLL_THRASH, 60);
    /* A page people scroll around on a lot raises its own bound. */
    for (int i = 0; i < 40; i++)
        baselines_record(f->baselines, 1, "/compare", 30000, 8);
    PAGE(f, 1000, "/compare");
    for (int r = 1; r <= 20; r++) {
        char p[80];
        snprintf(p, sizeof p, "{\"depth\":40,\"direction\":\"%s\",\"reversals\":%d}",
                 r % 2 ? "up" : "down", r);
        TRACK(f, 300, "$scroll", p);
        if (r < 24)
            assert_int_equal(f->n, 0);
    }
}

static void test_long_dwell(void **state)
{
    struct fx *f = *state;
    f->params.long_dwell_ms = 60000;
    PAGE(f, 0, "/calc");
    int64_t enter = f->t;
    struct signal sigs[2];
    struct detect_ctx c = {.params = &f->params, .baselines = f->baselines, .project_id = 1,
                           .out = sigs, .cap_out = 2};
    detect_long_dwell(&c, f->s, enter + 59000);
    assert_int_equal(c.n_out, 0);
    detect_long_dwell(&c, f->s, enter + 61000);
    assert_int_equal(c.n_out, 1);
    assert_int_equal(sigs[0].kind, SIG_LONG_DWELL);
    assert_int_equal(sigs[0].score, 60);
    assert_non_null(strstr(sigs[0].evidence, "\"bound\":\"configured\""));

    /* A careful reader scrolling deeper is making progress: no signal. */
    PAGE(f, 1000, "/article");
    enter = f->t;
    for (int d = 10; d <= 100; d += 10) {
        char p[64];
        snprintf(p, sizeof p, "{\"depth\":%d,\"direction\":\"down\"}", d);
        feed(f, 12000, "track", "$scroll", "/article", p);
    }
    c.n_out = 0;
    detect_long_dwell(&c, f->s, f->t + 20000); /* 140 s on the page, 20 s since progress */
    assert_int_equal(c.n_out, 0);

    /* Hidden time does not count. */
    PAGE(f, 1000, "/calc2");
    feed(f, 1000, "track", "$visibility", "/calc2", "{\"state\":\"hidden\"}");
    c.n_out = 0;
    detect_long_dwell(&c, f->s, f->t + 600000);
    assert_int_equal(c.n_out, 0);
}

static void test_long_dwell_adaptive(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 40; i++)
        baselines_record(f->baselines, 1, "/quick", 4000 + i * 100, 0);
    PAGE(f, 0, "/quick");
    struct signal sigs[2];
    struct detect_ctx c = {.params = &f->params, .baselines = f->baselines, .project_id = 1,
                           .out = sigs, .cap_out = 2};
    detect_long_dwell(&c, f->s, f->t + 20000); /* 20 s on a page normally left after ~8 s */
    assert_int_equal(c.n_out, 1);
    assert_non_null(strstr(sigs[0].evidence, "\"bound\":\"page_p90\""));
    assert_true(sigs[0].score >= 80);
}

static void test_video_rewatch(void **state)
{
    struct fx *f = *state;
    PAGE(f, 0, "/");
    const char *seek = "{\"video_id\":\"v\",\"from\":45,\"to\":30}";
    assert_int_equal(feed(f, 5000, "track", "$video_seeked", "/", seek), 0);
    assert_int_equal(feed(f, 5000, "track", "$video_seeked", "/", seek), 0);
    feed(f, 5000, "track", "$video_seeked", "/", "{\"video_id\":\"v\",\"from\":44,\"to\":31}");
    expect(f, SIG_VIDEO_REWATCH, 60);
    /* Forward seeks are skips, not rewinds. */
    assert_int_equal(feed(f, 5000, "track", "$video_seeked", "/",
                          "{\"video_id\":\"v\",\"from\":10,\"to\":50}"),
                     0);
}

#define VID(pos) "{\"video_id\":\"intro\",\"duration\":60,\"position\":" #pos ",\"rate\":1}"

static void test_video_abandon(void **state)
{
    struct fx *f = *state;
    /* Played 10 s of a 60 s video (16%), then went to another page. */
    PAGE(f, 0, "/");
    feed(f, 2000, "track", "$video_play", "/", VID(0));
    feed(f, 5000, "track", "$video_heartbeat", "/", VID(5));
    feed(f, 5000, "track", "$video_pause", "/", VID(10));
    assert_int_equal(PAGE(f, 3000, "/calc"), 1);
    expect(f, SIG_VIDEO_ABANDON, 55);
    assert_non_null(strstr(f->sigs[0].evidence, "\"watched_seconds\":10.0"));

    /* Watched past a quarter: no signal. */
    PAGE(f, 1000, "/");
    feed(f, 1000, "track", "$video_play", "/", VID(0));
    feed(f, 5000, "track", "$video_heartbeat", "/", VID(5));
    feed(f, 5000, "track", "$video_heartbeat", "/", VID(10));
    feed(f, 5000, "track", "$video_heartbeat", "/", VID(15));
    feed(f, 5000, "track", "$video_heartbeat", "/", VID(20));
    assert_int_equal(feed(f, 1000, "track", "$page_leave", "/", "{\"dwell_ms\":30000}"), 0);

    /* Less than 5 s watched: a glance, not an abandon. */
    PAGE(f, 1000, "/");
    feed(f, 1000, "track", "$video_play", "/", VID(0));
    feed(f, 3000, "track", "$video_pause", "/", VID(3));
    assert_int_equal(PAGE(f, 1000, "/calc"), 0);

    /* A hidden tab (no heartbeats for 60 s) is not watching: 5 s counted, not 65. */
    PAGE(f, 1000, "/");
    feed(f, 1000, "track", "$video_play", "/", VID(0));
    feed(f, 5000, "track", "$video_heartbeat", "/", VID(5));
    feed(f, 60000, "track", "$video_heartbeat", "/", VID(12));
    assert_int_equal(PAGE(f, 1000, "/calc"), 1);
    assert_non_null(strstr(f->sigs[0].evidence, "\"watched_seconds\":6.0"));
}

static void test_disabled_detector(void **state)
{
    struct fx *f = *state;
    f->params.enabled[SIG_DEAD_CLICK] = false;
    PAGE(f, 0, "/calc");
    assert_int_equal(TRACK(f, 100, "$dead_click", "{}"), 0);
}

static void test_risk_function(void **state)
{
    struct fx *f = *state;
    int64_t now = f->t;
    assert_int_equal(risk_from_signals(f->s, now), 0);
    struct signal a = {.kind = SIG_FORM_ERRORS, .score = 80, .ts = now};
    struct signal b = {.kind = SIG_CALC_RETRY, .score = 70, .ts = now};
    session_note_signal(f->s, &a);
    assert_int_equal(risk_from_signals(f->s, now), 64); /* 0.8 x 80 */
    session_note_signal(f->s, &b);
    /* 1 - (1 - 0.64)(1 - 0.56) = 0.8416 */
    assert_int_equal(risk_from_signals(f->s, now), 84);
    int contrib[SIG_KIND_COUNT];
    assert_int_equal(risk_contributions(f->s, now, contrib), 84);
    assert_int_equal(contrib[SIG_FORM_ERRORS], 84 - 56);
    assert_int_equal(contrib[SIG_CALC_RETRY], 84 - 64);
    /* Ten minutes later each term is halved: 1 - (1 - 0.32)(1 - 0.28) = 0.5104 */
    assert_int_equal(risk_from_signals(f->s, now + 600000), 51);
    /* A kind counts once: more signals of it raise nothing but its score. */
    for (int i = 0; i < 10; i++)
        session_note_signal(f->s, &a);
    assert_int_equal(risk_from_signals(f->s, now), 84);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rage_click),          T(test_dead_click),
        T(test_error_click),         T(test_form_errors),
        T(test_field_thrash),        T(test_calculator_retry), T(test_calculator_retry_out_of_order),
        T(test_comparison_shopper_is_not_flagged), T(test_form_abandon),
        T(test_navigation),          T(test_quick_back_uses_page_history),
        T(test_scroll_thrash),       T(test_long_dwell),
        T(test_long_dwell_adaptive), T(test_video_rewatch), T(test_video_abandon),
        T(test_disabled_detector),   T(test_risk_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
