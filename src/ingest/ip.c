/*
 * ip.c - see ip.h.
 */
#include "ingest/ip.h"

#include <arpa/inet.h>
#include <string.h>

static int convert(const char *s, size_t n, char out[IP_TEXT_MAX], int anonymize)
{
    char tmp[IP_TEXT_MAX + 8];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* Strip an IPv6 zone ("fe80::1%eth0") and brackets. */
    char *pct = strchr(tmp, '%');
    if (pct)
        *pct = '\0';
    char *p = tmp;
    if (*p == '[') {
        p++;
        char *close = strchr(p, ']');
        if (close)
            *close = '\0';
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, p, &a4) == 1) {
        if (anonymize)
            ((unsigned char *)&a4)[3] = 0;
        return inet_ntop(AF_INET, &a4, out, IP_TEXT_MAX) ? 0 : -1;
    }
    if (inet_pton(AF_INET6, p, &a6) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6.s6_addr, mapped, 12) == 0) {
            memcpy(&a4, a6.s6_addr + 12, 4);
            if (anonymize)
                ((unsigned char *)&a4)[3] = 0;
            return inet_ntop(AF_INET, &a4, out, IP_TEXT_MAX) ? 0 : -1;
        }
        if (anonymize)
            memset(a6.s6_addr + 6, 0, 10);
        return inet_ntop(AF_INET6, &a6, out, IP_TEXT_MAX) ? 0 : -1;
    }
    return -1;
}

int ip_anonymize(const char *s, size_t n, char out[IP_TEXT_MAX])
{
    return convert(s, n, out, 1);
}

int ip_normalize(const char *s, size_t n, char out[IP_TEXT_MAX])
{
    return convert(s, n, out, 0);
}
