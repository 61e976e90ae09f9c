/*
 * fuzz_json_scan.c - the span scanner (src/common/json_scan.h) against a
 * plain reference scanner written here, and against cJSON.
 *
 * Input: the JSON text itself, except that an input starting with the bytes
 * 00 00 D5 (never valid JSON) selects the deep mode below.
 *
 * Normal mode checks, on every input:
 *   - json_skip_value() agrees with the reference (a naive recursive
 *     descent over the grammar in json_scan.h, byte by byte, no SSE2): the
 *     result, the offset (end of value, or the offending byte), and on
 *     success the flags and max_depth; on failure info is left untouched;
 *   - without JSON_SCAN_NON_ASCII no byte of the value is >= 0x80 (the
 *     header's promise that lets ingest skip UTF-8 validation);
 *   - the cJSON cross-check: a whole input the scanner accepts is parsed by
 *     cJSON unless JSON_SCAN_BAD_SURROGATE says it will not be (or the
 *     nesting exceeds CJSON_NESTING_LIMIT, cJSON's own documented limit;
 *     json_scan.h leaves depth limits to its callers); and a flagged bad
 *     surrogate is refused by cJSON;
 * and on a whole valid object or array:
 *   - json_iter_member(), json_iter_next_key() + json_iter_value() and
 *     json_iter_elem() yield the same members, each value a whole value of
 *     its own, and end exactly where the value ends;
 *   - json_object_find() returns the first member of a key (raw bytes);
 *     with no escaped key and no raw NUL in a key, cJSON finds a member of
 *     the same type;
 *   - json_decode_string() of every string member decodes into exactly
 *     v.n bytes (an allocation of that size, so ASan sees any overrun),
 *     fails exactly when the string holds a bad surrogate, and equals
 *     cJSON's valuestring (up to the first NUL, where cJSON's ends).
 *
 * Deep mode (00 00 D5, one byte k, then a text T of at most 64 bytes): T
 * wrapped in D = 65528 + k % 16 arrays, so the nesting crosses JSON_SCAN_STACK_LEVELS and the bit
 * stack moves to the heap mid-value. A whole valid T must give a whole valid wrapped text with the
 * same flags and max_depth + D; a T refused before its last byte must be refused at the same byte,
 * D further on (unless that byte is a leading ']', which closes one of the wrapping arrays). A deep
 * input costs ~10 ms (130 KB scanned), hence the 3-byte magic: a mutation
 * that breaks it falls back to the normal mode and fails at the first byte,
 * so deep inputs stay a small share of the corpus.
 */
#include "common/json_scan.h"

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_json_scan: check failed at line %d: %s\n", __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------------ */
/* the reference scanner                                                     */

#define REF_MAX_DEPTH 20000 /* recursion guard; deeper input is not compared */

struct ref {
    const unsigned char *s;
    size_t n, i;
    unsigned flags;
    int max_depth;
    bool too_deep;
};

static bool ref_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void ref_ws(struct ref *r)
{
    while (r->i < r->n && ref_is_ws(r->s[r->i]))
        r->i++;
}

static int ref_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at s[at..at+3] (all < n), or -1. */
static long ref_hex4(const struct ref *r, size_t at)
{
    if (at + 4 > r->n)
        return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = ref_hexval(r->s[at + (size_t)k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* s[i] is the opening quote. Errors leave i at the backslash of a bad
 * escape, or at n for an unterminated string. */
static int ref_string(struct ref *r, bool key)
{
    size_t j = r->i + 1;
    for (;;) {
        if (j >= r->n) {
            r->i = r->n;
            return -1;
        }
        unsigned char c = r->s[j];
        if (c == '"') {
            r->i = j + 1;
            return 0;
        }
        if (c == '\\') {
            if (key)
                r->flags |= JSON_SCAN_KEY_ESCAPED;
            if (j + 1 >= r->n) {
                r->i = j;
                return -1;
            }
            unsigned char e = r->s[j + 1];
            if (e == 'u') {
                long cp = ref_hex4(r, j + 2);
                if (cp < 0) {
                    r->i = j;
                    return -1;
                }
                if (cp == 0)
                    r->flags |= JSON_SCAN_NUL_ESCAPE;
                if (cp >= 0xD800 && cp <= 0xDBFF && j + 11 < r->n && r->s[j + 6] == '\\' &&
                    r->s[j + 7] == 'u') {
                    long lo = ref_hex4(r, j + 8);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        j += 12;
                        continue;
                    }
                }
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    r->flags |= JSON_SCAN_BAD_SURROGATE;
                j += 6;
                continue;
            }
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                j += 2;
                continue;
            }
            r->i = j;
            return -1;
        }
        if (c < 0x20)
            r->flags |= JSON_SCAN_CTRL_CHAR;
        else if (c >= 0x80)
            r->flags |= JSON_SCAN_NON_ASCII;
        j++;
    }
}

static bool ref_digit(const struct ref *r, size_t j)
{
    return j < r->n && r->s[j] >= '0' && r->s[j] <= '9';
}

/* A literal or a number; errors leave i at the token's first byte. */
static int ref_scalar(struct ref *r)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        if (r->s[r->i] == (unsigned char)lits[k][0]) {
            size_t len = strlen(lits[k]);
            if (r->i + len > r->n || memcmp(r->s + r->i, lits[k], len) != 0)
                return -1;
            r->i += len;
            return 0;
        }
    }
    size_t j = r->i;
    if (r->s[j] == '-')
        j++;
    if (!ref_digit(r, j))
        return -1;
    if (r->s[j] == '0')
        j++;
    else
        while (ref_digit(r, j))
            j++;
    if (j < r->n && r->s[j] == '.') {
        j++;
        if (!ref_digit(r, j))
            return -1;
        while (ref_digit(r, j))
            j++;
    }
    if (j < r->n && (r->s[j] == 'e' || r->s[j] == 'E')) {
        j++;
        if (j < r->n && (r->s[j] == '+' || r->s[j] == '-'))
            j++;
        if (!ref_digit(r, j))
            return -1;
        while (ref_digit(r, j))
            j++;
    }
    r->i = j;
    return 0;
}

static int ref_value(struct ref *r, int depth)
{
    ref_ws(r);
    if (r->i >= r->n)
        return -1;
    unsigned char c = r->s[r->i];
    if (c == '"')
        return ref_string(r, false);
    if (c != '{' && c != '[')
        return ref_scalar(r);
    depth++;
    if (depth > r->max_depth)
        r->max_depth = depth;
    if (depth > REF_MAX_DEPTH) {
        r->too_deep = true;
        return -1;
    }
    unsigned char close = c == '{' ? '}' : ']';
    r->i++;
    ref_ws(r);
    if (r->i < r->n && r->s[r->i] == close) {
        r->i++;
        return 0;
    }
    for (;;) {
        if (c == '{') {
            if (r->i >= r->n || r->s[r->i] != '"')
                return -1;
            if (ref_string(r, true))
                return -1;
            ref_ws(r);
            if (r->i >= r->n || r->s[r->i] != ':')
                return -1;
            r->i++;
        }
        if (ref_value(r, depth))
            return -1;
        ref_ws(r);
        if (r->i >= r->n)
            return -1;
        if (r->s[r->i] == close) {
            r->i++;
            return 0;
        }
        if (r->s[r->i] != ',')
            return -1;
        r->i++;
        ref_ws(r);
    }
}

/* ------------------------------------------------------------------------ */
/* checks                                                                    */

/* The flags and validity of one value span scanned on its own. */
static unsigned span_flags(struct json_span v)
{
    size_t i = 0;
    struct json_scan_info info = {0, 0};
    CHECK(json_skip_value(v.p, v.n, &i, &info) == 0);
    CHECK(i == v.n);
    return info.flags;
}

/* Decodes the string span v into a buffer of exactly v.n bytes; compares
 * with cJSON's item when there is one. */
static void check_decode(struct json_span v, const cJSON *item)
{
    if (v.n < 2 || v.p[0] != '"')
        return;
    unsigned flags = span_flags(v);
    char *out = malloc(v.n);
    long len = json_decode_string(v, out);
    if (flags & JSON_SCAN_BAD_SURROGATE) {
        CHECK(len == -1);
    } else {
        CHECK(len >= 0 && (size_t)len < v.n);
        CHECK(out[len] == '\0');
        if (!(flags & JSON_SCAN_NUL_ESCAPE))
            CHECK(memchr(out, '\0', (size_t)len) == NULL || (flags & JSON_SCAN_CTRL_CHAR));
        if (item) {
            CHECK(cJSON_IsString(item));
            /* cJSON's string ends at the first NUL (a \u0000 or a raw one). */
            size_t ours = strlen(out);
            CHECK(strlen(item->valuestring) == ours);
            CHECK(memcmp(item->valuestring, out, ours) == 0);
        }
    }
    free(out);
}

/* The type cJSON gives the value whose text starts with c. */
static bool same_type(char c, const cJSON *item)
{
    switch (c) {
    case '{':
        return cJSON_IsObject(item);
    case '[':
        return cJSON_IsArray(item);
    case '"':
        return cJSON_IsString(item);
    case 't':
        return cJSON_IsTrue(item);
    case 'f':
        return cJSON_IsFalse(item);
    case 'n':
        return cJSON_IsNull(item);
    default:
        return cJSON_IsNumber(item);
    }
}

static bool span_eq(struct json_span a, struct json_span b)
{
    return a.p == b.p && a.n == b.n;
}

#define MAX_ITEMS 512

static void check_object(const char *s, size_t n, size_t end, const cJSON *root)
{
    struct json_iter a, b;
    CHECK(json_iter_begin(&a, s, n, '{') == 0);
    CHECK(json_iter_begin(&b, s, n, '{') == 0);
    struct json_span keys[MAX_ITEMS], vals[MAX_ITEMS];
    size_t count = 0;
    /* cJSON decodes keys and ends them at a NUL byte (raw or \u0000); the
     * scanner's keys are raw bytes (json_scan.h). Keys compare alike only
     * when no key of the object is escaped or holds a raw NUL. */
    bool escaped_keys = false;
    int ra, rb;
    for (;;) {
        struct json_span k, v, k2, v2;
        struct json_scan_info ia = {0, 0}, ib = {0, 0};
        ra = json_iter_member(&a, &k, &v, &ia);
        rb = json_iter_next_key(&b, &k2, &ib);
        CHECK(ra == rb);
        if (ra != 1)
            break;
        CHECK(span_eq(k, k2));
        CHECK(json_iter_value(&b, &v2, &ib) == 1);
        CHECK(span_eq(v, v2));
        CHECK(ia.flags == ib.flags && ia.max_depth == ib.max_depth);
        CHECK(k.p[-1] == '"' && k.p[k.n] == '"');
        unsigned vf = span_flags(v);
        CHECK((vf & ~ia.flags) == 0);
        if ((ia.flags & JSON_SCAN_KEY_ESCAPED) || memchr(k.p, '\0', k.n))
            escaped_keys = true;
        if (count < MAX_ITEMS) {
            keys[count] = k;
            vals[count] = v;
        }
        count++;
    }
    CHECK(ra == 0);
    CHECK(a.i == end && b.i == end);

    size_t seen = count < MAX_ITEMS ? count : MAX_ITEMS;
    for (size_t m = 0; m < seen; m++) {
        /* json_object_find takes a C string: keys without NUL bytes only. */
        if (memchr(keys[m].p, '\0', keys[m].n) || keys[m].n > 200)
            continue;
        char key[201];
        memcpy(key, keys[m].p, keys[m].n);
        key[keys[m].n] = '\0';
        struct json_span found;
        CHECK(json_object_find(s, n, key, &found) == 1);
        size_t first = m;
        for (size_t e = 0; e < m; e++) {
            if (keys[e].n == keys[m].n && memcmp(keys[e].p, keys[m].p, keys[m].n) == 0) {
                first = e;
                break;
            }
        }
        CHECK(span_eq(found, vals[first]));
        const cJSON *item = NULL;
        if (root && !escaped_keys && !memchr(key, '\\', keys[m].n)) {
            item = cJSON_GetObjectItemCaseSensitive(root, key);
            CHECK(item != NULL);
            CHECK(same_type(found.p[0], item));
        }
        if (first == m)
            check_decode(vals[m], item);
    }
}

static void check_array(const char *s, size_t n, size_t end, const cJSON *root)
{
    struct json_iter it;
    CHECK(json_iter_begin(&it, s, n, '[') == 0);
    struct json_span v;
    struct json_scan_info info = {0, 0};
    int r, count = 0;
    const cJSON *item = root ? root->child : NULL;
    while ((r = json_iter_elem(&it, &v, &info)) == 1) {
        unsigned vf = span_flags(v);
        CHECK((vf & ~info.flags) == 0);
        if (root) {
            CHECK(item != NULL);
            CHECK(same_type(v.p[0], item));
        }
        check_decode(v, item);
        if (item)
            item = item->next;
        count++;
    }
    CHECK(r == 0);
    CHECK(it.i == end);
    if (root)
        CHECK(item == NULL && cJSON_GetArraySize(root) == count);
}

static void normal_mode(const char *s, size_t n)
{
    size_t i = 0;
    struct json_scan_info info = {0x40000000u, -7}; /* sentinels: kept on failure */
    int rc = json_skip_value(s, n, &i, &info);
    CHECK(i <= n);

    struct ref r = {(const unsigned char *)s, n, 0, 0, 0, false};
    int ref_rc = ref_value(&r, 0);
    if (!r.too_deep) {
        CHECK(rc == ref_rc);
        CHECK(i == r.i);
    }
    if (rc != 0) {
        CHECK(info.flags == 0x40000000u && info.max_depth == -7);
        return;
    }
    info.flags &= ~0x40000000u;
    if (!r.too_deep) {
        CHECK(info.flags == r.flags);
        CHECK(info.max_depth == r.max_depth);
    }
    if (!(info.flags & JSON_SCAN_NON_ASCII))
        for (size_t k = 0; k < i; k++)
            CHECK((unsigned char)s[k] < 0x80);

    size_t end = i;
    if (!json_skip_ws_to_end(s, n, &i))
        return; /* not a whole input: only the prefix was a value */
    CHECK(i == n);

    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &parse_end, false);
    if (info.flags & JSON_SCAN_BAD_SURROGATE)
        CHECK(root == NULL);
    else if (info.max_depth <= CJSON_NESTING_LIMIT)
        CHECK(root != NULL);

    size_t start = 0;
    while (start < n &&
           (s[start] == ' ' || s[start] == '\t' || s[start] == '\n' || s[start] == '\r'))
        start++;
    if (s[start] == '{')
        check_object(s, n, end, root);
    else if (s[start] == '[')
        check_array(s, n, end, root);
    else if (s[start] == '"')
        check_decode((struct json_span){s + start, end - start}, root);
    cJSON_Delete(root);
}

/* T refused at its first byte (after whitespace) because it is a ']': in
 * the wrapped text that byte closes the innermost array instead. */
static bool closes_outer(const char *t, size_t at)
{
    if (t[at] != ']')
        return false;
    for (size_t k = 0; k < at; k++)
        if (t[k] != ' ' && t[k] != '\t' && t[k] != '\n' && t[k] != '\r')
            return false;
    return true;
}

static void deep_mode(const uint8_t *data, size_t size)
{
    size_t depth = JSON_SCAN_STACK_LEVELS - 8 + (data[3] % 16);
    const char *t = (const char *)data + 4;
    size_t tn = size - 4 < 64 ? size - 4 : 64;

    size_t ti = 0;
    struct json_scan_info tinfo = {0, 0};
    int trc = json_skip_value(t, tn, &ti, &tinfo);
    size_t tend = ti;
    bool whole = trc == 0 && json_skip_ws_to_end(t, tn, &tend);

    size_t n = 2 * depth + tn;
    char *s = malloc(n);
    memset(s, '[', depth);
    memcpy(s + depth, t, tn);
    memset(s + depth + tn, ']', depth);
    size_t i = 0;
    struct json_scan_info info = {0, 0};
    int rc = json_skip_value(s, n, &i, &info);
    if (whole) {
        CHECK(rc == 0 && i == n);
        CHECK(info.flags == tinfo.flags);
        CHECK((size_t)info.max_depth == depth + (size_t)tinfo.max_depth);
    } else if (trc != 0 && ti < tn && !closes_outer(t, ti)) {
        CHECK(rc == -1);
        CHECK(i == depth + ti);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 5 && data[0] == 0 && data[1] == 0 && data[2] == 0xD5)
        deep_mode(data, size);
    else
        normal_mode((const char *)data, size);
    return 0;
}
