/*
 * useragent.c - see useragent.h.
 *
 * Classifying one string costs a few dozen case-insensitive substring
 * searches (~1-2 us), and traffic carries few distinct user agents, so
 * results are cached per thread: a direct-mapped table of UA_CACHE_SLOTS
 * entries indexed by a hash of the string, each holding a copy of the string
 * (compared in full: a hit is always the right answer) and its result.
 * Strings longer than UA_CACHE_MAX_LEN are classified every time.
 */
#include "ingest/useragent.h"

#include "common/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#define UA_CACHE_SLOTS 32
#define UA_CACHE_MAX_LEN 255

struct ua_cache_entry {
    uint8_t len; /* 0: empty */
    char text[UA_CACHE_MAX_LEN];
    struct user_agent result;
};

static _Thread_local struct ua_cache_entry ua_cache[UA_CACHE_SLOTS];

static bool has(const char *ua, size_t n, const char *token)
{
    return memcasemem(ua, n, token) != NULL;
}

static const char *const bot_tokens[] = {
    "bot",           "crawler",    "spider",  "slurp",       "facebookexternalhit",
    "bingpreview",   "lighthouse", "pingdom", "uptimerobot", "headlesschrome-bot",
    "python-urllib", "scrapy",
};

static const char *const server_tokens[] = {
    "analytics-node", "posthog-node", "rudder", "jitsu", "snowplow",    "python-requests",
    "go-http-client", "okhttp",       "curl/",  "wget/", "java/",       "node-fetch",
    "axios/",         "undici",       "ruby",   "php/",  "libwww-perl", "apache-httpclient",
};

static void classify(const char *ua, size_t n, struct user_agent *out)
{
    out->device_class = "unknown";
    out->browser = "unknown";
    out->os = "unknown";
    if (!ua || n == 0)
        return;

    for (size_t i = 0; i < ARRAY_LEN(bot_tokens); i++) {
        if (has(ua, n, bot_tokens[i])) {
            out->device_class = "bot";
            out->browser = "bot";
            return;
        }
    }
    bool mozilla = has(ua, n, "mozilla/") || has(ua, n, "opera/");
    if (!mozilla) {
        for (size_t i = 0; i < ARRAY_LEN(server_tokens); i++) {
            if (has(ua, n, server_tokens[i])) {
                out->device_class = "server";
                out->browser = "none";
                return;
            }
        }
        /* A bare "node" (Node's fetch) or anything else without a browser token. */
        out->device_class = "server";
        out->browser = "none";
        return;
    }

    /* OS: order matters (iPad before Mac: iPadOS 13+ may say Macintosh; Android
     * before Linux; ChromeOS says Linux too). */
    bool ipad = has(ua, n, "ipad");
    bool iphone = has(ua, n, "iphone") || has(ua, n, "ipod");
    bool android = has(ua, n, "android");
    if (ipad)
        out->os = "iPadOS";
    else if (iphone)
        out->os = "iOS";
    else if (android)
        out->os = "Android";
    else if (has(ua, n, "windows"))
        out->os = "Windows";
    else if (has(ua, n, "cros"))
        out->os = "ChromeOS";
    else if (has(ua, n, "mac os x") || has(ua, n, "macintosh"))
        out->os = "macOS";
    else if (has(ua, n, "linux") || has(ua, n, "x11"))
        out->os = "Linux";

    /* Browser. */
    if (has(ua, n, "edg/") || has(ua, n, "edga/") || has(ua, n, "edgios/") || has(ua, n, "edge/"))
        out->browser = "Edge";
    else if (has(ua, n, "opr/") || has(ua, n, "opera"))
        out->browser = "Opera";
    else if (has(ua, n, "samsungbrowser/"))
        out->browser = "Samsung Internet";
    else if (has(ua, n, "headlesschrome"))
        out->browser = "Chrome Headless";
    else if (has(ua, n, "crios/") || has(ua, n, "chrome/") || has(ua, n, "chromium/"))
        out->browser = "Chrome";
    else if (has(ua, n, "fxios/") || has(ua, n, "firefox/"))
        out->browser = "Firefox";
    else if (has(ua, n, "msie ") || has(ua, n, "trident/"))
        out->browser = "Internet Explorer";
    else if (has(ua, n, "jsdom"))
        out->browser = "jsdom";
    else if (has(ua, n, "safari/") || has(ua, n, "applewebkit/"))
        out->browser = "Safari";
    else
        out->browser = "other";

    /* Device class. */
    if (ipad || has(ua, n, "tablet") || (android && !has(ua, n, "mobile")) ||
        has(ua, n, "kindle") || has(ua, n, "silk/"))
        out->device_class = "tablet";
    else if (iphone || android || has(ua, n, "mobile") || has(ua, n, "iemobile") ||
             has(ua, n, "opera mini"))
        out->device_class = "mobile";
    else
        out->device_class = "desktop";
}

void useragent_parse(const char *ua, size_t n, struct user_agent *out)
{
    if (!ua || n == 0 || n > UA_CACHE_MAX_LEN) {
        classify(ua, n, out);
        return;
    }
    struct ua_cache_entry *e = &ua_cache[XXH3_64bits(ua, n) % UA_CACHE_SLOTS];
    if (e->len == n && memcmp(e->text, ua, n) == 0) {
        *out = e->result;
        return;
    }
    classify(ua, n, out);
    e->len = (uint8_t)n;
    memcpy(e->text, ua, n);
    e->result = *out;
}
