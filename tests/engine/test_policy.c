/*
 * test_policy.c - settings validation (errors name the field), rule
 * matching, templates, caps bookkeeping and holdout.
 */
#include "support_test.h"

#include "common/util.h"
#include "engine/engine_internal.h"

#include <stdlib.h>
#include <string.h>

static void test_defaults(void **state)
{
    (void)state;
    char err[300];
    struct project_settings *ps = project_settings_parse(NULL, 7, err, sizeof err);
    assert_non_null(ps);
    assert_int_equal(ps->n_rules, 2);
    assert_string_equal(ps->rules[0].name, "high-risk");
    assert_int_equal(ps->session_interval_ms, 600000);
    assert_int_equal(ps->daily_cap, 3);
    assert_int_equal(ps->decline_cooldown_ms, 1800000);
    assert_true(ps->holdout_pct == 10);
    project_settings_free(ps);
    /* The published default document parses to the same. */
    struct buf b = BUF_INIT;
    engine_default_settings(&b);
    assert_int_equal(engine_validate_settings(b.data, err, sizeof err), 0);
    buf_free(&b);
}

static void test_validation_errors(void **state)
{
    (void)state;
    struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"[]", "settings: must be a JSON object"},
        {"{\"rulez\":[]}", "rulez: unknown setting"},
        {"{\"rules\":[{\"when\":{\"risk_gte\":150},\"action\":{\"type\":\"live_chat_offer\"}}]}",
         "rules[0].when.risk_gte: must be a number from 0 to 100"},
        {"{\"rules\":[{\"when\":{\"signal\":{\"kind\":\"sadness\"}},\"action\":{\"type\":"
         "\"custom\",\"name\":\"x\"}}]}",
         "rules[0].when.signal.kind: must name a signal kind"},
        {"{\"rules\":[{\"when\":{\"risk_gte\":50},\"action\":{\"type\":\"popup\"}}]}",
         "rules[0].action.type: 'popup' is not one of"},
        {"{\"rules\":[{\"when\":{\"risk_gte\":50},\"action\":{\"type\":\"tooltip\",\"text\":\"hi\"}"
         "}]}",
         "rules[0].action.selector: is required for a tooltip"},
        {"{\"rules\":[{\"when\":{\"any\":[]},\"action\":{\"type\":\"live_chat_offer\"}}]}",
         "rules[0].when.any: must be a non-empty array of conditions"},
        {"{\"rules\":[{\"when\":{\"moon\":\"full\"},\"action\":{\"type\":\"live_chat_offer\"}}]}",
         "rules[0].when.moon: unknown condition"},
        {"{\"caps\":{\"session_interval\":\"ten minutes\"}}",
         "caps.session_interval: must be a duration"},
        /* fuzz/regressions/settings: a number beyond int64_t was converted first (UB) */
        {"{\"intervention_ttl\":1e300}", "intervention_ttl: must be between 5000 ms and"},
        {"{\"caps\":{\"decline_cooldown\":1e999}}",
         "caps.decline_cooldown: must be between 0 ms and"},
        {"{\"holdout_pct\":-1}", "holdout_pct: must be a number from 0 to 100"},
        {"{\"exclude_paths\":[\"checkout\"]}",
         "exclude_paths: each pattern must be a string starting with /"},
        {"{\"webhook_url\":\"ftp://x\"}", "webhook_url: must be an http:// or https:// URL"},
        {"{\"goal\":{}}", "goal: needs an event or a path"},
        {"{\"detectors\":{\"rage_click\":{\"clicks\":1}}}",
         "detectors.rage_click.clicks: must be a number from 2 to 20"},
        {"{\"detectors\":{\"rage_click\":{\"speed\":1}}}",
         "detectors.rage_click.speed: unknown option"},
        {"{\"detectors\":{\"telepathy\":{}}}", "detectors.telepathy: unknown detector"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[300] = "";
        assert_int_equal(engine_validate_settings(cases[i].json, err, sizeof err), -1);
        if (!str_has_prefix(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s...'", i, err, cases[i].want);
    }
}

static struct session *session_with(int risk)
{
    struct session *s = session_new(1, "s", 1);
    s->risk = risk;
    s->current_path = xstrdup("/calculator.html");
    s->device_class = "mobile";
    return s;
}

static void test_matching(void **state)
{
    (void)state;
    char err[300];
    const char *json =
        "{\"rules\":["
        "{\"name\":\"vip\",\"when\":{\"trait\":{\"plan\":\"pro\"},\"risk_gte\":40},"
        " \"action\":{\"type\":\"priority_route\"}},"
        "{\"name\":\"calc\",\"when\":{\"path\":\"/calc*\",\"signal\":{\"kind\":\"form_errors\","
        "\"score_gte\":80}},\"action\":{\"type\":\"tooltip\",\"selector\":\"#income\",\"text\":"
        "\"Annual income, before tax\"}},"
        "{\"name\":\"mobile-any\",\"when\":{\"device\":[\"mobile\"],\"any\":[{\"risk_gte\":90},"
        "{\"signals\":{\"count_gte\":2,\"score_gte\":50}}]},\"action\":{\"type\":\"custom\","
        "\"name\":\"nudge\",\"payload\":{\"a\":1}}}]}";
    struct project_settings *ps = project_settings_parse(json, 1, err, sizeof err);
    assert_non_null(ps);
    struct session *s = session_with(50);
    assert_null(policy_match(ps, s, 0));
    struct signal fe = {.kind = SIG_FORM_ERRORS, .score = 80, .ts = 1};
    session_note_signal(s, &fe);
    assert_string_equal(policy_match(ps, s, 0)->name, "calc");
    s->traits[0].key = xstrdup("plan");
    s->traits[0].value = xstrdup("pro");
    s->trait_count = 1;
    assert_string_equal(policy_match(ps, s, 0)->name, "vip");
    assert_string_equal(ps->rules[2].payload_json, "{\"a\":1}");
    session_free(s);

    s = session_with(10);
    struct signal d = {.kind = SIG_DEAD_CLICK, .score = 50, .ts = 1};
    session_note_signal(s, &d);
    assert_null(policy_match(ps, s, 0));
    session_note_signal(s, &d);
    assert_string_equal(policy_match(ps, s, 0)->name, "mobile-any");
    session_free(s);
    project_settings_free(ps);
}

static void test_default_rules(void **state)
{
    (void)state;
    char err[300];
    struct project_settings *ps = project_settings_parse("{}", 1, err, sizeof err);
    struct session *s = session_with(74);
    assert_null(policy_match(ps, s, 0));
    s->risk = 75;
    assert_string_equal(policy_match(ps, s, 0)->name, "high-risk");
    s->risk = 20;
    struct signal sig = {.kind = SIG_DEAD_CLICK, .score = 70, .ts = 1};
    for (int i = 0; i < 3; i++)
        session_note_signal(s, &sig);
    assert_null(policy_match(ps, s, 0));
    session_note_signal(s, &sig);
    assert_string_equal(policy_match(ps, s, 0)->name, "many-signals");
    session_free(s);
    project_settings_free(ps);
}

static void test_excluded_paths_and_templates(void **state)
{
    (void)state;
    char err[300];
    struct project_settings *ps =
        project_settings_parse("{\"exclude_paths\":[\"/checkout/*\"]}", 1, err, sizeof err);
    assert_true(policy_path_excluded(ps, "/checkout/pay"));
    assert_false(policy_path_excluded(ps, "/calculator"));
    struct session *s = session_with(84);
    char *m = policy_render("Trouble with {{field|this page}} on {{page}} ({{signal}}, {{risk}}).",
                            s, "income", "loan", SIG_FORM_ERRORS);
    assert_string_equal(
        m, "Trouble with the income field on /calculator.html (repeated form errors, 84).");
    free(m);
    m = policy_render("Trouble with {{field|this page}}{{nothing}}.", s, NULL, NULL,
                      SIG_KIND_COUNT);
    assert_string_equal(m, "Trouble with this page.");
    free(m);
    session_free(s);
    project_settings_free(ps);
}

static void test_visitor_caps(void **state)
{
    (void)state;
    struct visitor_caps *v = visitor_caps_new();
    int64_t t = 1795600000000LL;
    assert_int_equal(visitor_caps_count(v, 1, "anon", t), 0);
    visitor_caps_add(v, 1, "anon", t);
    visitor_caps_add(v, 1, "anon", t + 1000);
    assert_int_equal(visitor_caps_count(v, 1, "anon", t + 2000), 2);
    assert_int_equal(visitor_caps_count(v, 2, "anon", t + 2000), 0);
    assert_int_equal(visitor_caps_count(v, 1, "anon", t + 86400000LL + 500), 1);
    visitor_caps_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_default_rules),
        cmocka_unit_test(test_excluded_paths_and_templates),
        cmocka_unit_test(test_visitor_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
