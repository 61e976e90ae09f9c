/*
 * features.c - the session's feature vector: the one function that both the
 * online engine (scoring every event) and `journey train` (snapshots of
 * stored sessions replayed through the same session code) call, so the two
 * can never drift apart. The names and meanings are in docs/model.md; a
 * trained model records the names it was trained with and is refused if
 * they differ from these.
 */
#include "engine/engine_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const base_names[] = {
    "session_seconds",
    "pages",
    "distinct_pages",
    "events_per_minute",
    "seconds_since_previous_event",
    "page_dwell_seconds",
    "back_navigations",
};
static const char *const tail_names[] = {
    "form_errors",         "scroll_depth",    "video_watch_ratio", "device_desktop",
    "device_mobile",       "device_tablet",   "hour_of_day",       "returning",
    "earlier_conversions", "referrer_direct", "referrer_search",   "referrer_social",
    "referrer_email",      "referrer_paid",   "referrer_other",
};

const char *engine_feature_name(int i)
{
    static char names[2 * SIG_KIND_COUNT][40];
    static bool ready;
    if (!ready) {
        for (int k = 0; k < SIG_KIND_COUNT; k++) {
            snprintf(names[k], sizeof names[k], "count_%s", signal_kind_name((enum signal_kind)k));
            snprintf(names[SIG_KIND_COUNT + k], sizeof names[0], "max_%s",
                     signal_kind_name((enum signal_kind)k));
        }
        ready = true; /* benign race: every writer writes the same bytes */
    }
    int nb = (int)(sizeof base_names / sizeof base_names[0]);
    if (i < nb)
        return base_names[i];
    i -= nb;
    if (i < 2 * SIG_KIND_COUNT)
        return names[i];
    i -= 2 * SIG_KIND_COUNT;
    if (i < (int)(sizeof tail_names / sizeof tail_names[0]))
        return tail_names[i];
    return "unknown";
}

static bool host_has(const char *url, const char *const *needles, size_t n)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t len = strcspn(h, "/?#");
    for (size_t i = 0; i < n; i++) {
        const char *p = h;
        size_t nl = strlen(needles[i]);
        while ((p = strcasestr(p, needles[i])) && (size_t)(p - h) < len) {
            if (p + nl <= h + len)
                return true;
            p++;
        }
    }
    return false;
}

enum referrer_class referrer_classify(const char *referrer, const char *url)
{
    if (url) {
        if (strcasestr(url, "utm_medium=cpc") || strcasestr(url, "utm_medium=ppc") ||
            strcasestr(url, "utm_medium=paid") || strcasestr(url, "gclid=") ||
            strcasestr(url, "fbclid=") || strcasestr(url, "msclkid="))
            return REF_PAID;
        if (strcasestr(url, "utm_medium=email"))
            return REF_EMAIL;
    }
    if (!referrer || !*referrer)
        return REF_DIRECT;
    static const char *const search[] = {"google.", "bing.",  "duckduckgo.", "yahoo.",
                                         "ecosia.", "baidu.", "yandex.",     "qwant."};
    static const char *const social[] = {"facebook.", "t.co",       "twitter.", "x.com",
                                         "linkedin.", "instagram.", "reddit.",  "youtube.",
                                         "tiktok.",   "pinterest."};
    static const char *const mail[] = {"mail.", "outlook.", "gmail."};
    if (host_has(referrer, search, sizeof search / sizeof search[0]))
        return REF_SEARCH;
    if (host_has(referrer, social, sizeof social / sizeof social[0]))
        return REF_SOCIAL;
    if (host_has(referrer, mail, sizeof mail / sizeof mail[0]))
        return REF_EMAIL;
    /* The site's own pages refer to each other: that is not an acquisition. */
    if (url) {
        const char *a = strstr(referrer, "://"), *b = strstr(url, "://");
        if (a && b) {
            a += 3;
            b += 3;
            size_t la = strcspn(a, "/?#"), lb = strcspn(b, "/?#");
            if (la == lb && strncasecmp(a, b, la) == 0)
                return REF_DIRECT;
        }
    }
    return REF_OTHER;
}

void engine_features(const struct session *s, int64_t now, float *out)
{
    int i = 0;
    double minutes = (double)(s->last_ts - s->start_ts) / 60000.0;
    out[i++] = (float)((double)(now - s->start_ts) / 1000.0);
    out[i++] = (float)s->pages;
    out[i++] = (float)s->distinct_pages;
    out[i++] = (float)(minutes > 0.05 ? s->events / minutes : s->events / 0.05);
    out[i++] = s->prev_event_ts ? (float)((double)(s->last_ts - s->prev_event_ts) / 1000.0) : NAN;
    out[i++] =
        s->page_enter_ts ? (float)((double)(now - s->page_enter_ts - s->hidden_ms) / 1000.0) : NAN;
    out[i++] = (float)s->back_navigations;
    for (int k = 0; k < SIG_KIND_COUNT; k++)
        out[i++] = (float)s->sig[k].count;
    for (int k = 0; k < SIG_KIND_COUNT; k++)
        out[i++] = (float)s->sig[k].max_score;
    out[i++] = (float)s->form_errors;
    out[i++] = (float)s->max_depth;
    out[i++] = s->video_ratio;
    const char *dc = s->device_class ? s->device_class : "";
    out[i++] = !strcmp(dc, "desktop");
    out[i++] = !strcmp(dc, "mobile");
    out[i++] = !strcmp(dc, "tablet");
    /* The UTC hour by arithmetic: gmtime_r() takes glibc's time-zone lock. */
    int64_t ms_of_day = now % 86400000;
    if (ms_of_day < 0)
        ms_of_day += 86400000;
    out[i++] = (float)(ms_of_day / 3600000);
    out[i++] = s->returning;
    out[i++] = (float)s->earlier_conversions;
    for (int r = 0; r < REF_CLASS_COUNT; r++)
        out[i++] = s->referrer_class == r;
}

const char *engine_referrer_class(const char *referrer, const char *url)
{
    static const char *const names[REF_CLASS_COUNT] = {"direct", "search", "social",
                                                       "email",  "paid",   "other"};
    return names[referrer_classify(referrer, url)];
}
