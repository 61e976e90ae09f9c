/*
 * json_scan.c - see json_scan.h.
 *
 * The skipper is iterative with a bit stack (1 = inside an object, 0 = an
 * array), so a hostile body nested thousands deep costs 8 KB of C stack and
 * no recursion.
 */
#include "common/json_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(const char *s, size_t n, size_t *i)
{
    while (*i < n && is_ws(s[*i]))
        (*i)++;
}

bool json_skip_ws_to_end(const char *s, size_t n, size_t *i)
{
    skip_ws(s, n, i);
    return *i == n;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v = v << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* s[j] is the backslash of a \u escape whose 4 hex digits were checked.
 * Returns the bytes the escape (or surrogate pair) spans, and flags what
 * cJSON would make of it. */
static size_t check_u_escape(const char *s, size_t n, size_t j, unsigned *flags)
{
    unsigned code = hex4(s + j + 2);
    if (code == 0)
        *flags |= JSON_SCAN_NUL_ESCAPE;
    if (code < 0xD800 || code > 0xDFFF)
        return 6;
    if (code >= 0xDC00 || j + 11 >= n || s[j + 6] != '\\' || s[j + 7] != 'u' || !is_hex(s[j + 8]) ||
        !is_hex(s[j + 9]) || !is_hex(s[j + 10]) || !is_hex(s[j + 11])) {
        *flags |= JSON_SCAN_BAD_SURROGATE;
        return 6;
    }
    unsigned low = hex4(s + j + 8);
    if (low < 0xDC00 || low > 0xDFFF) {
        *flags |= JSON_SCAN_BAD_SURROGATE;
        return 6;
    }
    return 12;
}

/* Offset of the first byte at or after j that ends a plain run of string
 * bytes ('"', '\\', a control byte, or n); bytes >= 0x80 before it set
 * JSON_SCAN_NON_ASCII. */
static size_t plain_run(const char *s, size_t n, size_t j, unsigned *flags)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    const __m128i minus_one = _mm_set1_epi8(-1);
    while (j + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + j));
        /* signed compares: bytes >= 0x80 are negative, so "< 0x20 and > -1"
         * is exactly the control bytes */
        __m128i ctrl = _mm_and_si128(_mm_cmplt_epi8(v, space), _mm_cmpgt_epi8(v, minus_one));
        __m128i stop = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), ctrl);
        unsigned mask = (unsigned)_mm_movemask_epi8(stop);
        unsigned high = (unsigned)_mm_movemask_epi8(v);
        if (mask == 0) {
            if (high)
                *flags |= JSON_SCAN_NON_ASCII;
            j += 16;
            continue;
        }
        unsigned first = (unsigned)__builtin_ctz(mask);
        if (high & ((1u << first) - 1))
            *flags |= JSON_SCAN_NON_ASCII;
        return j + first;
    }
#endif
    for (; j < n; j++) {
        unsigned char c = (unsigned char)s[j];
        if (c == '"' || c == '\\' || c < 0x20)
            return j;
        if (c >= 0x80)
            *flags |= JSON_SCAN_NON_ASCII;
    }
    return j;
}

/* s[*i] is the opening quote. */
static int skip_string(const char *s, size_t n, size_t *i, unsigned *flags, bool *escaped)
{
    size_t j = *i + 1;
    for (;;) {
        j = plain_run(s, n, j, flags);
        if (j >= n)
            break;
        unsigned char c = (unsigned char)s[j];
        if (c == '"') {
            *i = j + 1;
            return 0;
        }
        if (c == '\\') {
            if (escaped)
                *escaped = true;
            if (j + 1 >= n)
                break;
            char e = s[j + 1];
            if (e == 'u') {
                if (j + 5 >= n || !is_hex(s[j + 2]) || !is_hex(s[j + 3]) || !is_hex(s[j + 4]) ||
                    !is_hex(s[j + 5])) {
                    *i = j;
                    return -1;
                }
                j += check_u_escape(s, n, j, flags);
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                *i = j;
                return -1;
            }
            j += 2;
            continue;
        }
        *flags |= JSON_SCAN_CTRL_CHAR; /* c < 0x20 */
        j++;
    }
    *i = j;
    return -1;
}

static int skip_scalar(const char *s, size_t n, size_t *i)
{
    size_t j = *i;
    char c = s[j];
    if (c == 't' || c == 'f' || c == 'n') {
        const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t k = strlen(lit);
        if (j + k > n || memcmp(s + j, lit, k) != 0)
            return -1;
        *i = j + k;
        return 0;
    }
    /* number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (s[j] == '-')
        j++;
    if (j >= n || s[j] < '0' || s[j] > '9')
        return -1;
    if (s[j] == '0')
        j++;
    else
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
    if (j < n && s[j] == '.') {
        j++;
        if (j >= n || s[j] < '0' || s[j] > '9')
            return -1;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j >= n || s[j] < '0' || s[j] > '9')
            return -1;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
    }
    *i = j;
    return 0;
}

#define BIT_GET(st, d) (((st)[(d) >> 3] >> ((d)&7)) & 1)
#define BIT_SET(st, d, v)                                                                          \
    ((st)[(d) >> 3] = (unsigned char)(((st)[(d) >> 3] & ~(1u << ((d)&7))) | ((v) << ((d)&7))))

int json_skip_value(const char *s, size_t n, size_t *i, struct json_scan_info *info)
{
    unsigned char local[JSON_SCAN_STACK_LEVELS / 8]; /* bit d: level d+1 is an object */
    unsigned char *stack = local;
    size_t cap_levels = JSON_SCAN_STACK_LEVELS;
    int depth = 0, max_depth = 0;
    unsigned flags = 0;
    int rc = -1;
    skip_ws(s, n, i);
    for (;;) {
        /* read a value */
        if (*i >= n)
            goto out;
        char c = s[*i];
        if (c == '{' || c == '[') {
            if ((size_t)depth >= cap_levels) {
                /* Deeper than the C stack holds: every level costs at least
                 * one byte of input, so n levels is the most there can be. */
                size_t want = cap_levels * 2 > n + 8 ? cap_levels * 2 : n + 8;
                unsigned char *grown = malloc(want / 8 + 1);
                if (!grown)
                    goto out;
                memcpy(grown, stack, cap_levels / 8);
                if (stack != local)
                    free(stack);
                stack = grown;
                cap_levels = want / 8 * 8;
            }
            BIT_SET(stack, depth, c == '{' ? 1u : 0u);
            depth++;
            if (depth > max_depth)
                max_depth = depth;
            (*i)++;
            skip_ws(s, n, i);
            if (*i < n && s[*i] == (c == '{' ? '}' : ']')) {
                (*i)++;
                depth--;
                goto after_value;
            }
            if (c == '{')
                goto read_key;
            continue;
        } else if (c == '"') {
            if (skip_string(s, n, i, &flags, NULL))
                goto out;
        } else {
            if (skip_scalar(s, n, i))
                goto out;
        }
    after_value:
        if (depth == 0) {
            if (info) {
                info->flags |= flags;
                if (max_depth > info->max_depth)
                    info->max_depth = max_depth;
            }
            rc = 0;
            goto out;
        }
        skip_ws(s, n, i);
        if (*i >= n)
            goto out;
        {
            char close = BIT_GET(stack, depth - 1) ? '}' : ']';
            if (s[*i] == close) {
                (*i)++;
                depth--;
                goto after_value;
            }
        }
        if (s[*i] != ',')
            goto out;
        (*i)++;
        skip_ws(s, n, i);
        if (!BIT_GET(stack, depth - 1))
            continue;
    read_key:
        if (*i >= n || s[*i] != '"')
            goto out;
        {
            bool esc = false;
            if (skip_string(s, n, i, &flags, &esc))
                goto out;
            if (esc)
                flags |= JSON_SCAN_KEY_ESCAPED;
        }
        skip_ws(s, n, i);
        if (*i >= n || s[*i] != ':')
            goto out;
        (*i)++;
        skip_ws(s, n, i);
    }
out:
    if (stack != local)
        free(stack);
    return rc;
}

int json_iter_begin(struct json_iter *it, const char *s, size_t n, char open)
{
    it->s = s;
    it->n = n;
    it->i = 0;
    it->first = true;
    it->close = open == '{' ? '}' : ']';
    skip_ws(s, n, &it->i);
    if (it->i >= n || s[it->i] != open)
        return -1;
    it->i++;
    return 0;
}

/* Moves past ',' or detects the close; 1 = an item follows, 0 = end. */
static int iter_step(struct json_iter *it)
{
    skip_ws(it->s, it->n, &it->i);
    if (it->i >= it->n)
        return -1;
    if (it->s[it->i] == it->close) {
        it->i++;
        return 0;
    }
    if (!it->first) {
        if (it->s[it->i] != ',')
            return -1;
        it->i++;
        skip_ws(it->s, it->n, &it->i);
    }
    it->first = false;
    return 1;
}

int json_iter_next_key(struct json_iter *it, struct json_span *key, struct json_scan_info *info)
{
    int r = iter_step(it);
    if (r <= 0)
        return r;
    if (it->i >= it->n || it->s[it->i] != '"')
        return -1;
    size_t start = it->i;
    bool esc = false;
    unsigned f = 0;
    if (skip_string(it->s, it->n, &it->i, &f, &esc))
        return -1;
    key->p = it->s + start + 1;
    key->n = it->i - start - 2;
    if (esc)
        f |= JSON_SCAN_KEY_ESCAPED;
    if (info)
        info->flags |= f;
    skip_ws(it->s, it->n, &it->i);
    if (it->i >= it->n || it->s[it->i] != ':')
        return -1;
    it->i++;
    skip_ws(it->s, it->n, &it->i);
    return 1;
}

int json_iter_value(struct json_iter *it, struct json_span *val, struct json_scan_info *info)
{
    size_t start = it->i;
    if (json_skip_value(it->s, it->n, &it->i, info))
        return -1;
    val->p = it->s + start;
    val->n = it->i - start;
    return 1;
}

int json_iter_member(struct json_iter *it, struct json_span *key, struct json_span *val,
                     struct json_scan_info *info)
{
    int r = json_iter_next_key(it, key, info);
    return r <= 0 ? r : json_iter_value(it, val, info);
}

int json_iter_elem(struct json_iter *it, struct json_span *val, struct json_scan_info *info)
{
    int r = iter_step(it);
    return r <= 0 ? r : json_iter_value(it, val, info);
}

int json_object_find(const char *s, size_t n, const char *key, struct json_span *val)
{
    struct json_iter it;
    if (json_iter_begin(&it, s, n, '{'))
        return -1;
    size_t klen = strlen(key);
    struct json_span k, v;
    int r;
    while ((r = json_iter_member(&it, &k, &v, NULL)) == 1) {
        if (k.n == klen && memcmp(k.p, key, klen) == 0) {
            *val = v; /* the first one wins, as in cJSON_GetObjectItem */
            return 1;
        }
    }
    return r;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

long json_decode_string(struct json_span v, char *out)
{
    if (v.n < 2 || v.p[0] != '"' || v.p[v.n - 1] != '"')
        return -1;
    const char *p = v.p + 1, *end = v.p + v.n - 1;
    char *o = out;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t plain = bs ? (size_t)(bs - p) : (size_t)(end - p);
        memcpy(o, p, plain);
        o += plain;
        p += plain;
        if (!bs)
            break;
        if (p + 1 >= end)
            return -1;
        char e = p[1];
        switch (e) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case '"':
        case '\\':
        case '/':
            *o++ = e;
            break;
        case 'u': {
            if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                return -1;
            unsigned long cp = hex4(p + 2);
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !is_hex(p[8]) || !is_hex(p[9]) ||
                    !is_hex(p[10]) || !is_hex(p[11]))
                    return -1;
                unsigned long low = hex4(p + 8);
                if (low < 0xDC00 || low > 0xDFFF)
                    return -1;
                cp = 0x10000 + (((cp & 0x3FF) << 10) | (low & 0x3FF));
                p += 6;
            }
            o += put_utf8(o, cp);
            break;
        }
        default:
            return -1;
        }
        p += e == 'u' ? 6 : 2;
    }
    *o = '\0';
    return (long)(o - out);
}
