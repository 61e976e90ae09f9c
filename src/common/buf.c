/*
 * buf.c - see buf.h.
 */
#include "common/buf.h"

#include "common/timefmt.h"
#include "common/utf8.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_reserve(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
    buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    buf_reserve(b, 64);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    b->len += (size_t)n;
    va_end(ap2);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *buf_steal(struct buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void json_strn(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        buf_append(b, "null", 4);
        return;
    }
    buf_reserve(b, n + 2);
    buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        /* A run of characters that need no escape is copied at once. */
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f &&
               s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            buf_append(b, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t k = utf8_sequence_len(s + i, n - i);
            if (k == 0) {
                buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
                i++;
            } else {
                buf_append(b, s + i, k);
                i += k;
            }
            continue;
        }
        switch (c) {
        case '"':
            buf_append(b, "\\\"", 2);
            break;
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        case '\r':
            buf_append(b, "\\r", 2);
            break;
        case '\t':
            buf_append(b, "\\t", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_append(b, esc, 6);
            } else {
                buf_putc(b, (char)c);
            }
        }
        i++;
    }
    buf_putc(b, '"');
}

void json_str(struct buf *b, const char *s)
{
    json_strn(b, s, s ? strlen(s) : 0);
}

void json_key(struct buf *b, const char *key)
{
    json_str(b, key);
    buf_putc(b, ':');
}

void json_int(struct buf *b, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

void json_double(struct buf *b, double v)
{
    if (!isfinite(v)) {
        buf_append(b, "null", 4);
        return;
    }
    if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
        buf_printf(b, "%lld", (long long)v);
        return;
    }
    /* Shortest of 15 or 17 significant digits that reads back exactly. */
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.17g", v);
    buf_puts(b, tmp);
}

void json_time(struct buf *b, int64_t ms)
{
    if (ms < 0) {
        buf_append(b, "null", 4);
        return;
    }
    char t[TIMEFMT_ISO_LEN];
    timefmt_iso(ms, t);
    buf_putc(b, '"');
    buf_puts(b, t);
    buf_putc(b, '"');
}
