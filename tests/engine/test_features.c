/*
 * test_features.c - the feature vector of scripted sessions, exact values,
 * through the offline replay (the same code the engine's workers run).
 */
#include "support_test.h"

#include "common/util.h"
#include "engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795600800000LL /* 2026-11-25T10:00:00.000Z */

static int feature(const char *name)
{
    for (int i = 0; i < engine_feature_count(); i++)
        if (!strcmp(engine_feature(i), name))
            return i;
    fail_msg("no feature %s", name);
    return -1;
}

static void send(struct engine_offline *o, const char *sid, const char *anon, int64_t ts,
                 const char *type, const char *event, const char *path, const char *props)
{
    char *payload = xasprintf("{\"properties\":%s}", props ? props : "{}");
    struct store_event e = {
        .project_id = 1,
        .message_id = "m",
        .type = type,
        .event = event,
        .anonymous_id = anon,
        .session_id = sid,
        .timestamp = ts,
        .received_at = ts,
        .original_timestamp = -1,
        .sent_at = -1,
        .path = path,
        .device_class = "mobile",
        .browser = "Safari",
        .os = "iOS",
        .payload = payload,
        .payload_len = strlen(payload),
    };
    engine_offline_event(o, &e, ts);
    free(payload);
}

static void test_exact_values(void **state)
{
    (void)state;
    char err[200];
    struct engine_offline *o =
        engine_offline_new("{\"goal\":{\"path\":\"/thanks\"}}", err, sizeof err);
    assert_non_null(o);
    assert_true(engine_offline_has_goal(o));
    engine_offline_begin(o, 1, "s1");
    send(o, "s1", "v1", T0, "page", NULL, "/",
         "{\"path\":\"/\",\"referrer\":\"https://www.google.com/search?q=loans\"}");
    send(o, "s1", "v1", T0 + 2000, "track", "$click", "/", "{\"x\":10,\"y\":10}");
    send(o, "s1", "v1", T0 + 10000, "page", NULL, "/calc", "{\"path\":\"/calc\"}");
    send(o, "s1", "v1", T0 + 15000, "track", "$field_invalid", "/calc",
         "{\"form\":\"loan\",\"field\":\"income\",\"reason\":\"custom\"}");
    send(o, "s1", "v1", T0 + 16000, "track", "$field_invalid", "/calc",
         "{\"form\":\"loan\",\"field\":\"income\",\"reason\":\"custom\"}");
    send(o, "s1", "v1", T0 + 17000, "track", "$scroll", "/calc",
         "{\"depth\":50,\"direction\":\"down\"}");
    float f[256];
    engine_offline_features(o, T0 + 20000, f);
    assert_true(f[feature("session_seconds")] == 20.0f);
    assert_true(f[feature("pages")] == 2.0f);
    assert_true(f[feature("distinct_pages")] == 2.0f);
    assert_true(fabsf(f[feature("events_per_minute")] - 6.0f / (17.0f / 60.0f)) < 1e-3f);
    assert_true(f[feature("seconds_since_previous_event")] == 1.0f);
    assert_true(f[feature("page_dwell_seconds")] == 10.0f);
    assert_true(f[feature("back_navigations")] == 0.0f);
    assert_true(f[feature("count_form_errors")] == 1.0f);
    assert_true(f[feature("max_form_errors")] == 60.0f);
    assert_true(f[feature("count_rage_click")] == 0.0f);
    assert_true(f[feature("form_errors")] == 2.0f);
    assert_true(f[feature("scroll_depth")] == 50.0f);
    assert_true(f[feature("video_watch_ratio")] == 0.0f);
    assert_true(f[feature("device_mobile")] == 1.0f);
    assert_true(f[feature("device_desktop")] == 0.0f);
    assert_true(f[feature("hour_of_day")] == 10.0f);
    assert_true(f[feature("returning")] == 0.0f);
    assert_true(f[feature("earlier_conversions")] == 0.0f);
    assert_true(f[feature("referrer_search")] == 1.0f);
    assert_true(f[feature("referrer_direct")] == 0.0f);
    assert_false(engine_offline_converted(o));
    /* Back to the first page: a back navigation. Then the goal. */
    send(o, "s1", "v1", T0 + 21000, "page", NULL, "/", "{\"path\":\"/\"}");
    send(o, "s1", "v1", T0 + 30000, "page", NULL, "/thanks", "{\"path\":\"/thanks\"}");
    engine_offline_features(o, T0 + 30000, f);
    assert_true(f[feature("back_navigations")] == 1.0f);
    assert_true(engine_offline_converted(o));
    engine_offline_end(o);

    /* The same visitor again: returning, with one earlier conversion; a
     * campaign link makes it an email visit. */
    engine_offline_begin(o, 1, "s2");
    send(o, "s2", "v1", T0 + 3600000, "page", NULL, "/",
         "{\"path\":\"/\",\"url\":\"https://x.test/?utm_source=news&utm_medium=email\"}");
    send(o, "s2", "v1", T0 + 3605000, "track", "$video_heartbeat", "/",
         "{\"video_id\":\"v\",\"position\":30,\"duration\":60}");
    engine_offline_features(o, T0 + 3605000, f);
    assert_true(f[feature("returning")] == 1.0f);
    assert_true(f[feature("earlier_conversions")] == 1.0f);
    assert_true(f[feature("referrer_email")] == 1.0f);
    assert_true(fabsf(f[feature("video_watch_ratio")] - 0.5f) < 1e-6f);
    assert_true(isnan(f[feature("seconds_since_previous_event")]) == 0);
    engine_offline_end(o);
    engine_offline_free(o);
}

static void test_risk_mapping(void **state)
{
    (void)state;
    assert_int_equal(engine_risk_from_probability(0.7, 0.7), 0);
    assert_int_equal(engine_risk_from_probability(0.5, 0.7), 0);
    assert_int_equal(engine_risk_from_probability(1.0, 0.7), 100);
    assert_int_equal(engine_risk_from_probability(0.925, 0.7), 75);
    assert_int_equal(engine_risk_from_probability(0.4, 0.2), 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_values),
        cmocka_unit_test(test_risk_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
