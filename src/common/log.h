/*
 * log.h - structured logs: one JSON object per line on stderr.
 *
 *   {"time":"2026-11-25T08:45:31.123Z","level":"info","sub":"http",
 *    "req":"3f9c2a1b7d004e11","msg":"listening on 127.0.0.1:8080"}
 *
 * The level is checked before anything is formatted (the LOG_* macros), the
 * message is escaped (it may carry client text), and each line is written
 * with a single write(2) so lines from different threads never interleave.
 * `extra` is an optional fragment of JSON members ("\"port\":8080") that the
 * caller built; it is inserted as is.
 */
#ifndef JOURNEY_COMMON_LOG_H
#define JOURNEY_COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn" or "error"; -1 if unknown. */
int log_level_parse(const char *name);
bool log_enabled(enum log_level level);
/* Redirects output to fd (default 2). For tests. */
void log_set_fd(int fd);

void log_write(enum log_level level, const char *sub, const char *req, const char *extra,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define LOG_AT(lvl, sub, req, ...)                                                                 \
    do {                                                                                           \
        if (log_enabled(lvl))                                                                      \
            log_write(lvl, sub, req, NULL, __VA_ARGS__);                                           \
    } while (0)
#define LOG_DEBUG(sub, req, ...) LOG_AT(LOG_LEVEL_DEBUG, sub, req, __VA_ARGS__)
#define LOG_INFO(sub, req, ...) LOG_AT(LOG_LEVEL_INFO, sub, req, __VA_ARGS__)
#define LOG_WARN(sub, req, ...) LOG_AT(LOG_LEVEL_WARN, sub, req, __VA_ARGS__)
#define LOG_ERROR(sub, req, ...) LOG_AT(LOG_LEVEL_ERROR, sub, req, __VA_ARGS__)

#endif
