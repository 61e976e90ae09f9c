/*
 * timefmt.h - ISO-8601 / RFC 3339 times to and from epoch milliseconds.
 *
 * Parsing accepts what tracking clients send: "2026-11-24T02:04:13.528Z",
 * any number of fraction digits (truncated to ms), "+hh:mm" / "-hhmm" / "Z"
 * offsets, a space instead of 'T', and a date with no zone (read as UTC).
 */
#ifndef JOURNEY_COMMON_TIMEFMT_H
#define JOURNEY_COMMON_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_ISO_LEN 25 /* "2026-11-24T02:04:13.528Z" + NUL */

/* Parses s (n bytes). Returns 0 and sets *ms, or -1 if s is not a valid
 * date-time between years 1970 and 9999. */
int timefmt_parse_iso(const char *s, size_t n, int64_t *ms);

/* Writes the UTC time ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out. */
void timefmt_iso(int64_t ms, char out[TIMEFMT_ISO_LEN]);

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
