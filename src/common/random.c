/*
 * random.c - see random.h.
 */
#include "common/random.h"

#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

void random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("getrandom failed");
        }
        p += r;
        n -= (size_t)r;
    }
}

uint64_t random_u64(void)
{
    uint64_t v;
    random_bytes(&v, sizeof v);
    return v;
}

void random_uuid(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

void random_base62(char *out, size_t n)
{
    static const char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t i = 0;
    while (i < n) {
        unsigned char b[32];
        random_bytes(b, sizeof b);
        for (size_t k = 0; k < sizeof b && i < n; k++) {
            if (b[k] >= 248) /* 248 = 4 * 62: reject to keep the draw uniform */
                continue;
            out[i++] = alphabet[b[k] % 62];
        }
    }
    out[n] = '\0';
}

void random_hex(char *out, size_t n_bytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    size_t done = 0;
    while (done < n_bytes) {
        size_t k = MIN(sizeof b, n_bytes - done);
        random_bytes(b, k);
        for (size_t j = 0; j < k; j++) {
            out[2 * (done + j)] = hex[b[j] >> 4];
            out[2 * (done + j) + 1] = hex[b[j] & 15];
        }
        done += k;
    }
    out[2 * n_bytes] = '\0';
}
