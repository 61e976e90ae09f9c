/*
 * util.h - allocation, time and small string helpers used everywhere.
 *
 * Allocation failure aborts the process with a message: a server has no
 * useful recovery from it, and every size taken from input is bounded before
 * anything is allocated, so an abort here means the machine is out of memory.
 */
#ifndef JOURNEY_COMMON_UTIL_H
#define JOURNEY_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define UNUSED(x) ((void)(x))

/* Allocators that never return NULL. Memory is the caller's; free with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string (caller frees). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "journey: <message>" to stderr and exits with status 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Wall-clock milliseconds since the Unix epoch. */
int64_t now_ms(void);
/* Monotonic clock, nanoseconds from an arbitrary origin. */
uint64_t mono_ns(void);

bool str_eq(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);
/* Case-insensitive ASCII search of needle in the first n bytes of hay. */
const char *memcasemem(const char *hay, size_t n, const char *needle);

/* Parses a non-negative decimal integer in [0, max]; 0 on success, -1 otherwise. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Number of online CPUs, at least 1. */
int cpu_count(void);

#endif
