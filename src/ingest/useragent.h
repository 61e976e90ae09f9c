/*
 * useragent.h - device class, browser and OS from a User-Agent string.
 *
 * A deliberately small classifier (token checks in a fixed order), enough for
 * segmenting analytics: it names the families people ask about and says
 * "server" for tracking SDKs and HTTP libraries, "bot" for crawlers. The
 * order of checks matters because browsers claim each other's names
 * (Edge says Chrome and Safari; Chrome says Safari; Opera says Chrome).
 */
#ifndef JOURNEY_INGEST_USERAGENT_H
#define JOURNEY_INGEST_USERAGENT_H

#include <stddef.h>

struct user_agent {
    const char *device_class; /* desktop, mobile, tablet, bot, server, unknown */
    const char *browser;      /* Chrome, Firefox, Safari, Edge, Opera, Samsung Internet, ... */
    const char *os;           /* Windows, macOS, iOS, iPadOS, Android, Linux, ChromeOS, ... */
};

/* All results are static strings. A NULL or empty UA gives "unknown". */
void useragent_parse(const char *ua, size_t n, struct user_agent *out);

#endif
