/*
 * json_scan.h - find the byte spans of JSON values without building a tree.
 *
 * Ingest keeps each message exactly as the client sent it (big integers keep
 * every digit, key order and spelling are untouched), so it needs to know
 * where each message of a batch begins and ends in the body, and where a few
 * members (context.ip) sit inside a message. cJSON gives a tree but no
 * offsets; this scanner gives offsets. It is strict where cJSON is lenient:
 * only the four JSON whitespace characters between tokens, no raw control
 * characters inside strings (reported as a flag, so one message can be
 * quarantined instead of the whole body), and it reports "\u0000" escapes,
 * which would silently truncate C strings further on.
 *
 * It also reports what a later reader of the text would trip on, so one scan
 * decides whether a message needs anything beyond the spans:
 * JSON_SCAN_NON_ASCII (no byte >= 0x80 anywhere means the text is valid
 * UTF-8 without checking), and the one kind of valid JSON that cJSON
 * refuses (a \u escape that is not a well-formed UTF-16 surrogate pair), so
 * that callers that replace cJSON can keep accepting exactly what it did.
 *
 * Spans point into the caller's buffer (borrowed; valid while it is).
 * Object keys are raw (escapes not decoded); JSON_SCAN_KEY_ESCAPED is set when
 * a key contains a backslash (json_decode_string() decodes one).
 *
 * Strings, most of a typical message's bytes, are skipped 16 bytes at a time
 * with SSE2 where the compiler targets it.
 */
#ifndef JOURNEY_COMMON_JSON_SCAN_H
#define JOURNEY_COMMON_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

enum {
    JSON_SCAN_NUL_ESCAPE = 1u << 0,    /* a string contains \u0000 */
    JSON_SCAN_CTRL_CHAR = 1u << 1,     /* a string contains a raw byte < 0x20 */
    JSON_SCAN_KEY_ESCAPED = 1u << 2,   /* an object key contains an escape */
    JSON_SCAN_NON_ASCII = 1u << 3,     /* a string contains a byte >= 0x80 */
    JSON_SCAN_BAD_SURROGATE = 1u << 4, /* a \uD800-\uDFFF escape not in a valid pair */
};

/* The scanner keeps one bit per nesting level: 8 KB on the C stack covers
 * 65,536 levels, and deeper input moves the bits to the heap (at most n/16
 * bytes for n bytes of input), so any body within the request limit is
 * scanned whatever its depth. Callers apply their own, smaller, limit to
 * what they accept. */
#define JSON_SCAN_STACK_LEVELS 65536

struct json_span {
    const char *p;
    size_t n;
};

/* What a scan found besides the value's extent. */
struct json_scan_info {
    unsigned flags; /* JSON_SCAN_* ORed over the value */
    int max_depth;  /* deepest nesting inside the value: 0 for a scalar, 1 for [] */
};

/* Skips JSON whitespace then one value starting at s[*i] (s has n bytes).
 * On success returns 0, *i is just past the value, and info (if not NULL) has
 * the value's flags ORed in and max_depth raised to the value's depth. On a
 * syntax error returns -1 with *i at the offending byte. */
int json_skip_value(const char *s, size_t n, size_t *i, struct json_scan_info *info);

/* Skips JSON whitespace from *i; true if the end of input was reached. */
bool json_skip_ws_to_end(const char *s, size_t n, size_t *i);

/* Iteration over the members of an object or the elements of an array whose
 * span is [s, s+n). Begin with json_iter_begin(), which checks the opening
 * bracket; each next() call returns 1 with the next item, 0 at the end, -1 on
 * a syntax error (it->i is then the offset). */
struct json_iter {
    const char *s;
    size_t n;
    size_t i;
    char close;
    bool first;
};

int json_iter_begin(struct json_iter *it, const char *s, size_t n, char open);
int json_iter_member(struct json_iter *it, struct json_span *key, struct json_span *val,
                     struct json_scan_info *info);
int json_iter_elem(struct json_iter *it, struct json_span *val, struct json_scan_info *info);

/* Member iteration in two steps, for callers that descend into some values
 * instead of skipping them: next_key() returns 1 with the key and leaves
 * it->i at the start of its value, which the caller then either skips with
 * json_iter_value() or walks with an iterator of its own over
 * [it->s + it->i, it->s + it->n), advancing it->i past the value itself. */
int json_iter_next_key(struct json_iter *it, struct json_span *key, struct json_scan_info *info);
int json_iter_value(struct json_iter *it, struct json_span *val, struct json_scan_info *info);

/* Finds the top-level member `key` of the object span; 1 found, 0 absent, -1 error. */
int json_object_find(const char *s, size_t n, const char *key, struct json_span *val);

/* Decodes the JSON string span v (quotes included, as scanned) into out, which
 * has room for v.n bytes (never more is needed), and NUL-terminates it.
 * Returns the decoded length, or -1 if v is not a string or holds an escape
 * cJSON would refuse (an invalid surrogate). \u0000 decodes to a NUL byte. */
long json_decode_string(struct json_span v, char *out);

#endif
