/*
 * buf.h - a growable byte buffer, and JSON writing on top of it.
 *
 * A struct buf owns its data (from malloc); buf_free() releases it and leaves
 * an empty buffer. data is always NUL-terminated once anything was appended,
 * so it can be handed to C string APIs; len excludes the terminator.
 *
 * The json_* writers append JSON text. They do not track commas: callers write
 * separators themselves, which keeps the hot paths (responses, log lines)
 * free of hidden state. json_str() escapes per RFC 8259 and passes valid
 * UTF-8 through unchanged; invalid bytes become U+FFFD so the output is
 * always valid JSON, whatever a client sent.
 */
#ifndef JOURNEY_COMMON_BUF_H
#define JOURNEY_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
void buf_free(struct buf *b);
/* Hands the data to the caller (free() it) and leaves b empty. */
char *buf_steal(struct buf *b);

/* Appends s (n bytes) as a quoted, escaped JSON string. NULL appends null. */
void json_strn(struct buf *b, const char *s, size_t n);
void json_str(struct buf *b, const char *s);
/* Appends "key": (quoted key, colon). */
void json_key(struct buf *b, const char *key);
void json_int(struct buf *b, int64_t v);
/* Finite doubles only; NaN and infinities are written as null. */
void json_double(struct buf *b, double v);
/* Appends an ISO-8601 UTC time with milliseconds, quoted; ms < 0 writes null. */
void json_time(struct buf *b, int64_t ms);

#endif
