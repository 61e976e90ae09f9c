/*
 * routes.c - which handler serves which path.
 *
 * Ingest speaks several clients' dialects unchanged (see docs/ingest.md):
 *   Segment / RudderStack / journey.js   /v1/{track,page,screen,identify,group,alias,batch}
 *                                         and the short forms /v1/{t,p,s,i,g,a,b}, /v1/import
 *   sendBeacon (no headers possible)      /beacon/v1/batch?writeKey=
 *   Jitsu                                 /api/s/{type}, /api/s/s2s/{type}
 *   PostHog                               /batch/, /e/, /i/v0/e/, /capture/ (with or without
 *                                         the trailing slash)
 * Route entries are static: each keeps its own metric pointers.
 */
#include "http/http_internal.h"

#include "common/util.h"

#include <string.h>

#define INGEST(nm, fmt, ty, bat)                                                                   \
    {.kind = ROUTE_INGEST, .name = nm, .methods = M_POST | M_OPTIONS, .wants_body = true,         \
     .handle = http_ingest_handle, .format = fmt, .type = ty, .batch = bat}

static struct route segment_routes[INGEST_TYPE_COUNT] = {
    INGEST("/v1/track", INGEST_FORMAT_SEGMENT, INGEST_TRACK, false),
    INGEST("/v1/page", INGEST_FORMAT_SEGMENT, INGEST_PAGE, false),
    INGEST("/v1/screen", INGEST_FORMAT_SEGMENT, INGEST_SCREEN, false),
    INGEST("/v1/identify", INGEST_FORMAT_SEGMENT, INGEST_IDENTIFY, false),
    INGEST("/v1/group", INGEST_FORMAT_SEGMENT, INGEST_GROUP, false),
    INGEST("/v1/alias", INGEST_FORMAT_SEGMENT, INGEST_ALIAS, false),
};
static struct route jitsu_routes[INGEST_TYPE_COUNT] = {
    INGEST("/api/s/track", INGEST_FORMAT_SEGMENT, INGEST_TRACK, false),
    INGEST("/api/s/page", INGEST_FORMAT_SEGMENT, INGEST_PAGE, false),
    INGEST("/api/s/screen", INGEST_FORMAT_SEGMENT, INGEST_SCREEN, false),
    INGEST("/api/s/identify", INGEST_FORMAT_SEGMENT, INGEST_IDENTIFY, false),
    INGEST("/api/s/group", INGEST_FORMAT_SEGMENT, INGEST_GROUP, false),
    INGEST("/api/s/alias", INGEST_FORMAT_SEGMENT, INGEST_ALIAS, false),
};
static struct route batch_route = INGEST("/v1/batch", INGEST_FORMAT_SEGMENT, INGEST_TYPE_FROM_BODY, true);
static struct route beacon_route =
    INGEST("/beacon/v1/batch", INGEST_FORMAT_SEGMENT, INGEST_TYPE_FROM_BODY, true);
static struct route posthog_batch_route =
    INGEST("/batch/", INGEST_FORMAT_POSTHOG, INGEST_TYPE_FROM_BODY, true);
static struct route posthog_capture_route =
    INGEST("/e/", INGEST_FORMAT_POSTHOG, INGEST_TYPE_FROM_BODY, false);

static struct route healthz_route = {.kind = ROUTE_HEALTHZ, .name = "/healthz",
                                     .methods = M_GET | M_HEAD, .handle = http_healthz};
static struct route readyz_route = {.kind = ROUTE_READYZ, .name = "/readyz",
                                    .methods = M_GET | M_HEAD, .handle = http_readyz};
static struct route metrics_route = {.kind = ROUTE_METRICS, .name = "/metrics",
                                     .methods = M_GET | M_HEAD, .handle = http_metrics};
static struct route live_route = {.kind = ROUTE_LIVE, .name = "/v1/live",
                                  .methods = M_GET, .handle = http_live_handle};
static struct route interventions_route = {.kind = ROUTE_INTERVENTIONS,
                                           .name = "/v1/interventions",
                                           .methods = M_GET | M_POST | M_OPTIONS,
                                           .wants_body = true,
                                           .handle = http_interventions_handle};
static struct route not_found_route = {.kind = ROUTE_NOT_FOUND, .name = "other"};
static struct route api_route = {.kind = ROUTE_API, .name = "/api/v1",
                                 .methods = M_GET | M_POST | M_PUT | M_DELETE | M_OPTIONS | M_HEAD,
                                 .wants_body = true, .handle = http_api_handle};
static struct route static_route = {.kind = ROUTE_STATIC, .name = "static",
                                    .methods = M_GET | M_HEAD, .handle = http_static_handle};

static const char *const type_short[INGEST_TYPE_COUNT] = {"t", "p", "s", "i", "g", "a"};

static int type_index(const char *s)
{
    for (int i = 0; i < INGEST_TYPE_COUNT; i++)
        if (!strcmp(s, ingest_type_name((enum ingest_type)i)))
            return i;
    return -1;
}

static bool is(const char *path, const char *a)
{
    return strcmp(path, a) == 0;
}

/* path equals base, with or without a trailing slash */
static bool is_slash(const char *path, const char *base)
{
    size_t n = strlen(base);
    return strncmp(path, base, n) == 0 && (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0'));
}

struct route *http_route_match(const char *path)
{
    if (is(path, "/v1/live"))
        return &live_route;
    if (str_has_prefix(path, "/v1/interventions/"))
        return &interventions_route;
    if (str_has_prefix(path, "/v1/")) {
        const char *t = path + 4;
        if (is(t, "batch") || is(t, "b") || is(t, "import"))
            return &batch_route;
        int i = type_index(t);
        if (i >= 0)
            return &segment_routes[i];
        for (int k = 0; k < INGEST_TYPE_COUNT; k++)
            if (is(t, type_short[k]))
                return &segment_routes[k];
        return &not_found_route;
    }
    if (str_has_prefix(path, "/api/s/")) {
        const char *t = path + 7;
        if (str_has_prefix(t, "s2s/"))
            t += 4;
        int i = type_index(t);
        return i >= 0 ? &jitsu_routes[i] : &not_found_route;
    }
    if (is(path, "/beacon/v1/batch"))
        return &beacon_route;
    if (is_slash(path, "/batch"))
        return &posthog_batch_route;
    if (is_slash(path, "/e") || is_slash(path, "/i/v0/e") || is_slash(path, "/capture"))
        return &posthog_capture_route;
    if (is(path, "/healthz"))
        return &healthz_route;
    if (is(path, "/readyz"))
        return &readyz_route;
    if (is(path, "/metrics"))
        return &metrics_route;
    if (str_has_prefix(path, "/api/v1/"))
        return &api_route;
    if (str_has_prefix(path, "/v1/") || str_has_prefix(path, "/api/"))
        return &not_found_route;
    return &static_route;
}
