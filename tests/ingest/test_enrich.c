/*
 * test_enrich.c - user agents and IP anonymisation.
 */
#include "support_test.h"

#include "ingest/ip.h"
#include "ingest/useragent.h"

#include <string.h>

struct ua_case {
    const char *ua, *device, *browser, *os;
};

static void test_user_agents(void **state)
{
    (void)state;
    const struct ua_case cases[] = {
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36",
         "desktop", "Chrome", "Windows"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
         "desktop", "Edge", "Windows"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.2 Safari/605.1.15",
         "desktop", "Safari", "macOS"},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
         "mobile", "Safari", "iOS"},
        {"Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "CriOS/120.0 Mobile/15E148 Safari/604.1",
         "tablet", "Chrome", "iPadOS"},
        {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Mobile Safari/537.36",
         "mobile", "Chrome", "Android"},
        {"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
         "SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
         "tablet", "Samsung Internet", "Android"},
        {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
         "desktop", "Firefox", "Linux"},
        {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36",
         "desktop", "Chrome", "ChromeOS"},
        {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/156.0.0.0 Safari/537.36",
         "desktop", "Chrome Headless", "Linux"},
        {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "bot",
         "unknown"},
        {"analytics-node-next/latest", "server", "none", "unknown"},
        {"posthog-node/5.70.0", "server", "none", "unknown"},
        {"node", "server", "none", "unknown"},
        {"", "unknown", "unknown", "unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct user_agent ua;
        useragent_parse(cases[i].ua, strlen(cases[i].ua), &ua);
        assert_string_equal(ua.device_class, cases[i].device);
        assert_string_equal(ua.browser, cases[i].browser);
        assert_string_equal(ua.os, cases[i].os);
    }
}

static void test_ip(void **state)
{
    (void)state;
    char out[IP_TEXT_MAX];
    assert_int_equal(ip_anonymize("203.0.113.77", 12, out), 0);
    assert_string_equal(out, "203.0.113.0");
    assert_int_equal(ip_anonymize("2001:db8:85a3:1234:5678:8a2e:370:7334", 37, out), 0);
    assert_string_equal(out, "2001:db8:85a3::");
    assert_int_equal(ip_anonymize("::ffff:198.51.100.9", 19, out), 0);
    assert_string_equal(out, "198.51.100.0");
    assert_int_equal(ip_anonymize("[::1]", 5, out), 0);
    assert_string_equal(out, "::");
    assert_int_equal(ip_normalize("203.0.113.77", 12, out), 0);
    assert_string_equal(out, "203.0.113.77");
    assert_int_equal(ip_anonymize("not-an-ip", 9, out), -1);
    assert_int_equal(ip_anonymize("", 0, out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_agents),
        cmocka_unit_test(test_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
