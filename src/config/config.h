/*
 * config.h - every setting of the server, driven by one table.
 *
 * The table in config.c (name, type, bounds, default, help) is the single
 * source of truth for:
 *   - the journey.conf file format ("name = value", '#' comments),
 *   - JOURNEY_<NAME> environment overrides,
 *   - --name-with-dashes command-line flags,
 *   - `journey serve --help` and `journey config defaults` (which prints a
 *     fully commented journey.conf; tests keep the committed one identical).
 *
 * Precedence, lowest to highest: defaults, the config file, the environment,
 * flags. Any unknown option or value out of range is an error that names
 * where it came from ("journey.conf:12: ...", "JOURNEY_LISTEN: ...",
 * "--listen: ...") and stops start-up.
 *
 * Durations are stored in milliseconds and written with a unit (500ms, 30s,
 * 10m, 24h, 7d); sizes are stored in bytes and accept KB/MB/GB (powers of
 * 1024) or a plain byte count.
 */
#ifndef JOURNEY_CONFIG_CONFIG_H
#define JOURNEY_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"

enum ip_mode { IP_MODE_ANONYMIZE, IP_MODE_FULL, IP_MODE_NONE };
enum sync_mode { SYNC_OFF, SYNC_NORMAL, SYNC_FULL };

struct config {
    /* server */
    char *listen;
    char *data_dir;
    int64_t http_threads;
    int64_t connection_limit;
    int64_t connection_timeout_ms;
    int64_t log_level;
    int64_t shutdown_timeout_ms;
    bool demo;
    char *web_root;
    /* ingest */
    int64_t max_message_bytes;
    int64_t max_request_bytes;
    int64_t max_batch_messages;
    int64_t dedup_window_ms;
    int64_t dedup_max_entries;
    int64_t session_timeout_ms;
    int64_t ip_mode;
    bool trust_proxy;
    char *cors_origins;
    int64_t rate_limit_ip;
    int64_t rate_limit_ip_burst;
    int64_t rate_limit_key;
    int64_t rate_limit_key_burst;
    /* store */
    int64_t synchronous;
    int64_t queue_max_messages;
    int64_t commit_max_messages;
    int64_t checkpoint_interval_ms;
    int64_t sqlite_cache_bytes;
    int64_t retry_after_s;
    /* engine */
    int64_t engine_workers;
    int64_t engine_queue_events;
    int64_t engine_flush_interval_ms;
    int64_t engine_tick_interval_ms;
    int64_t session_write_interval_ms;
    int64_t report_workers;
    int64_t analytics_queue_events;
    /* live */
    int64_t live_ping_interval_ms;
    int64_t live_idle_timeout_ms;
    int64_t live_max_queued;
    int64_t webhook_timeout_ms;
};

/* An error produced while loading: "where: message". */
struct config_error {
    char text[512];
};

/* Fills c with the defaults. Strings are owned by c; release with config_free(). */
void config_defaults(struct config *c);
void config_free(struct config *c);

/* Applies "name = value" lines from the file at path. 0 or -1 with err. */
int config_load_file(struct config *c, const char *path, struct config_error *err);
/* Applies JOURNEY_* variables from envp (NULL-terminated "K=V" strings). */
int config_load_env(struct config *c, char *const *envp, struct config_error *err);
/* Sets one option by name (underscores or dashes) from text; `where` names
 * the source for error messages. */
int config_set(struct config *c, const char *name, const char *value, const char *where,
               struct config_error *err);
/* True if name (dashes allowed) is an option. */
bool config_is_option(const char *name);
/* True if the option is a boolean (a bare --flag means true). */
bool config_is_bool(const char *name);

/* Appends a commented journey.conf with every option at its default. */
void config_write_defaults(struct buf *out);
/* Appends "--flag VALUE  help (default ...)" lines for --help. */
void config_write_help(struct buf *out);
/* Appends the effective configuration as one JSON object. */
void config_write_json(const struct config *c, struct buf *out);

/* Parsers shared with tests. 0 on success, -1 on a malformed value. */
int config_parse_duration_ms(const char *s, int64_t *out);
int config_parse_size(const char *s, int64_t *out);

#endif
