/*
 * utf8.h - strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF).
 */
#ifndef JOURNEY_COMMON_UTF8_H
#define JOURNEY_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (at most n bytes
 * available), or 0 if the bytes there are not valid UTF-8. */
size_t utf8_sequence_len(const char *s, size_t n);

/* True when all n bytes are valid UTF-8. On false, *bad_offset (if not NULL)
 * is the offset of the first invalid byte. */
bool utf8_valid(const char *s, size_t n, size_t *bad_offset);

#endif
