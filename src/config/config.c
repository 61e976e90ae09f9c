/*
 * config.c - the option table and its loaders. See config.h.
 *
 * To add an option: add a field to struct config and one row to
 * config_options[] below; the file format, environment, flags, --help, the
 * generated journey.conf and the JSON dump all follow from the row. Then run
 * `journey config defaults > journey.conf` (a test fails until you do).
 */
#include "config/config.h"

#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum option_type { OPT_STRING, OPT_INT, OPT_BOOL, OPT_DURATION, OPT_SIZE, OPT_ENUM };

struct option {
    const char *name;
    enum option_type type;
    size_t offset;
    int64_t min, max;
    const char *def;    /* default, as it would be written in journey.conf */
    const char *values; /* OPT_ENUM: "a|b|c", index = stored value */
    const char *section;
    const char *help;
};

#define F(field) offsetof(struct config, field)
#define INF INT64_MAX
#define DAY_MS (86400LL * 1000)

static const struct option config_options[] = {
    /* server */
    {"listen", OPT_STRING, F(listen), 0, 0, "127.0.0.1:8080", NULL, "server",
     "Address and port to listen on, HOST:PORT. Port 0 picks a free port; the first log line\n"
     "says which (\"listening on 127.0.0.1:PORT\")."},
    {"data", OPT_STRING, F(data_dir), 0, 0, "./data", NULL, "server",
     "Directory holding the database (journey.db, in WAL mode) and the models. Created if\n"
     "missing."},
    {"http_threads", OPT_INT, F(http_threads), 0, 256, "0", NULL, "server",
     "HTTP worker threads (each runs its own epoll loop). 0 means one per CPU core."},
    {"connection_limit", OPT_INT, F(connection_limit), 16, 1000000, "10000", NULL, "server",
     "Most concurrent client connections; further connections are refused."},
    {"connection_timeout", OPT_DURATION, F(connection_timeout_ms), 1000, DAY_MS, "60s", NULL,
     "server", "An idle keep-alive connection is closed after this long."},
    {"log_level", OPT_ENUM, F(log_level), 0, 0, "info", "debug|info|warn|error", "server",
     "Least severe log level written (JSON lines on stderr). debug logs every request."},
    {"shutdown_timeout", OPT_DURATION, F(shutdown_timeout_ms), 0, 600000, "10s", NULL, "server",
     "On SIGTERM: stop accepting, then wait this long at most for queued batches to commit\n"
     "and their clients to be answered."},
    {"demo", OPT_BOOL, F(demo), 0, 0, "false", NULL, "server",
     "Serve the demo loan site at /demo/ (with /demo/config.json naming the demo project's\n"
     "write key). `make run` turns it on."},
    {"web_root", OPT_STRING, F(web_root), 0, 0, "", NULL, "server",
     "Directory holding the built web assets (tracker/dist, demo/dist, dashboard/dist).\n"
     "Empty means ./web next to the working directory, else next to the binary."},
    /* ingest */
    {"max_message_bytes", OPT_SIZE, F(max_message_bytes), 256, 16 << 20, "32KB", NULL, "ingest",
     "Largest single message. A larger one goes to the dead letters with the reason\n"
     "message_too_large and the request is still answered 200 (in a batch, the rest of the\n"
     "batch is stored): a 413 would make the client drop or split what cannot be split."},
    {"max_request_bytes", OPT_SIZE, F(max_request_bytes), 1024, 64 << 20, "500KB", NULL, "ingest",
     "Largest request body, both as received and after gzip decompression (a gzip bomb stops\n"
     "here). Larger requests are answered 413 and not stored: clients split and resend."},
    {"max_batch_messages", OPT_INT, F(max_batch_messages), 1, 100000, "2500", NULL, "ingest",
     "Most messages in one batch request; more is answered 413."},
    {"dedup_window", OPT_DURATION, F(dedup_window_ms), 0, 30 * DAY_MS, "24h", NULL, "ingest",
     "A message whose (project, messageId) was stored within this window is acknowledged\n"
     "and not stored again (SDKs resend on retry). Kept in memory and rebuilt from the\n"
     "database at start. 0 disables deduplication."},
    {"dedup_max_entries", OPT_INT, F(dedup_max_entries), 1000, 1000000000, "20000000", NULL,
     "ingest",
     "Most message ids remembered (about 60 bytes each). When full, the oldest are forgotten\n"
     "early and journey_dedup_evicted_total counts them."},
    {"session_timeout", OPT_DURATION, F(session_timeout_ms), 60000, DAY_MS, "30m", NULL, "ingest",
     "A visitor's session ends after this long without an event, for messages that carry no\n"
     "session id of their own (context.sessionId, $session_id)."},
    {"ip_mode", OPT_ENUM, F(ip_mode), 0, 0, "anonymize", "anonymize|full|none", "ingest",
     "What is stored of the visitor's IP: anonymize zeroes the last octet of IPv4 and the\n"
     "last 80 bits of IPv6 (also inside context.ip of stored payloads); full keeps it; none\n"
     "stores nothing."},
    {"trust_proxy", OPT_BOOL, F(trust_proxy), 0, 0, "false", NULL, "ingest",
     "Take the client IP from X-Forwarded-For (the first address). Only behind a proxy you\n"
     "run."},
    {"cors_origins", OPT_STRING, F(cors_origins), 0, 0, "*", NULL, "ingest",
     "Origins allowed to send events and open the live channel from a browser: * for any,\n"
     "or a comma-separated list such as https://shop.example,https://www.shop.example."},
    {"rate_limit_ip", OPT_INT, F(rate_limit_ip), 0, 10000000, "1000", NULL, "ingest",
     "Requests per second allowed from one client IP (token bucket). 0 disables."},
    {"rate_limit_ip_burst", OPT_INT, F(rate_limit_ip_burst), 1, 100000000, "2000", NULL, "ingest",
     "Bucket size of the per-IP limit: requests allowed in a burst."},
    {"rate_limit_key", OPT_INT, F(rate_limit_key), 0, 100000000, "50000", NULL, "ingest",
     "Messages per second allowed per write key (token bucket). 0 disables."},
    {"rate_limit_key_burst", OPT_INT, F(rate_limit_key_burst), 1, 1000000000, "100000", NULL,
     "ingest", "Bucket size of the per-key limit: messages allowed in a burst."},
    /* store */
    {"synchronous", OPT_ENUM, F(synchronous), 0, 0, "full", "off|normal|full", "store",
     "SQLite's synchronous setting for the WAL. full: a 200 means the batch is on disk\n"
     "(fsync per group commit). normal: survives a crash of journey, not of the machine.\n"
     "off: no fsync at all."},
    {"queue_max_messages", OPT_INT, F(queue_max_messages), 100, 100000000, "200000", NULL, "store",
     "Messages waiting for the writer at most. When full, ingest answers 503 with\n"
     "Retry-After before reading the request."},
    {"commit_max_messages", OPT_INT, F(commit_max_messages), 1, 10000000, "20000", NULL, "store",
     "Most messages committed in one transaction (group commit takes everything queued up\n"
     "to this)."},
    {"checkpoint_interval", OPT_DURATION, F(checkpoint_interval_ms), 10, 3600000, "1s", NULL,
     "store",
     "How often a background thread checkpoints the WAL into the database when the writer\n"
     "does not wake it sooner (it does every ~1 MB of WAL; passive: it never blocks the\n"
     "writer). A WAL left idle for this long is truncated."},
    {"sqlite_cache", OPT_SIZE, F(sqlite_cache_bytes), 1 << 20, 1LL << 40, "64MB", NULL, "store",
     "SQLite page cache per connection."},
    {"retry_after", OPT_INT, F(retry_after_s), 1, 3600, "1", NULL, "store",
     "Seconds sent in Retry-After when the write queue is full or the store failed (503)."},
    /* engine */
    {"engine_workers", OPT_INT, F(engine_workers), 0, 64, "0", NULL, "engine",
     "Engine worker threads; sessions are partitioned among them by hash(project, session).\n"
     "0 means one per CPU core."},
    {"engine_queue_events", OPT_INT, F(engine_queue_events), 100, 10000000, "100000", NULL,
     "engine",
     "Events waiting per engine worker at most. Ingest never waits for the engine: past this\n"
     "an event is skipped by the engine (it is stored all the same) and\n"
     "journey_engine_dropped_total counts it."},
    {"engine_flush_interval", OPT_DURATION, F(engine_flush_interval_ms), 10, 60000, "100ms", NULL,
     "engine",
     "How often workers write session rows, signals and risk points (decisions are written\n"
     "at once)."},
    {"engine_tick_interval", OPT_DURATION, F(engine_tick_interval_ms), 10, 60000, "250ms", NULL,
     "engine", "How often time-based detection (long dwell) and session expiry run."},
    {"session_write_interval", OPT_DURATION, F(session_write_interval_ms), 1000, 3600000, "10s",
     NULL, "engine",
     "A live session's summary row (pages, conversion, risk, signals) is rewritten at most\n"
     "this often while it changes, so ranged KPIs and the sessions list are this fresh."},
    /* analytics */
    {"report_workers", OPT_INT, F(report_workers), 1, 64, "2", NULL, "analytics",
     "Threads that run /api/v1 reports (funnels, retention, exports ...). Reports never run\n"
     "on the HTTP threads, so a long report does not hold up ingest."},
    {"analytics_queue_events", OPT_INT, F(analytics_queue_events), 1000, 100000000, "1000000", NULL,
     "analytics",
     "Events waiting for the analytics column store at most. Ingest never waits for it: past\n"
     "this an event is left out of the reports (it is stored all the same) and\n"
     "journey_analytics_dropped_total counts it."},
    /* live */
    {"live_ping_interval", OPT_DURATION, F(live_ping_interval_ms), 1000, 3600000, "20s", NULL,
     "live", "The server pings each open /v1/live WebSocket this often."},
    {"live_idle_timeout", OPT_DURATION, F(live_idle_timeout_ms), 2000, 86400000LL, "60s", NULL,
     "live", "A WebSocket that has sent nothing (not even a pong) for this long is closed."},
    {"live_max_queued", OPT_INT, F(live_max_queued), 1, 100000, "64", NULL, "live",
     "Messages queued for one WebSocket at most; a client that falls further behind is\n"
     "closed with 1013 (it reconnects) so it never holds up others."},
    {"webhook_timeout", OPT_DURATION, F(webhook_timeout_ms), 100, 600000, "5s", NULL, "live",
     "Timeout of one outbound webhook call (priority_route); failures are retried 3 times."},
};

#define N_OPTIONS ARRAY_LEN(config_options)

/* ------------------------------------------------------------------------ */
/* value parsers                                                             */

int config_parse_duration_ms(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    int64_t mult;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else if (strcmp(end, "d") == 0)
        mult = DAY_MS;
    else if (*end == '\0' && v == 0)
        mult = 1;
    else
        return -1;
    if (v > (unsigned long long)(INT64_MAX / mult))
        return -1;
    *out = (int64_t)v * mult;
    return 0;
}

int config_parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    int64_t mult;
    if (*end == '\0' || strcasecmp(end, "b") == 0)
        mult = 1;
    else if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kb") == 0 || strcasecmp(end, "kib") == 0)
        mult = 1024;
    else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mb") == 0 || strcasecmp(end, "mib") == 0)
        mult = 1024 * 1024;
    else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gb") == 0 || strcasecmp(end, "gib") == 0)
        mult = 1024LL * 1024 * 1024;
    else
        return -1;
    if (v > (unsigned long long)(INT64_MAX / mult))
        return -1;
    *out = (int64_t)v * mult;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "1")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

static int parse_enum(const char *values, const char *s, int64_t *out)
{
    int64_t idx = 0;
    size_t n = strlen(s);
    const char *p = values;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) {
            *out = idx;
            return 0;
        }
        idx++;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

static void enum_name(const char *values, int64_t idx, char *out, size_t cap)
{
    const char *p = values;
    for (int64_t i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p) {
        snprintf(out, cap, "?");
        return;
    }
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    snprintf(out, cap, "%.*s", (int)len, p);
}

/* ------------------------------------------------------------------------ */
/* the table applied                                                         */

static const struct option *find_option(const char *name)
{
    char norm[64];
    size_t n = strlen(name);
    if (n >= sizeof norm)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(config_options[i].name, norm) == 0)
            return &config_options[i];
    return NULL;
}

bool config_is_option(const char *name)
{
    return find_option(name) != NULL;
}

bool config_is_bool(const char *name)
{
    const struct option *o = find_option(name);
    return o && o->type == OPT_BOOL;
}

static void set_error(struct config_error *err, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct config_error *err, const char *where, const char *fmt, ...)
{
    if (!err)
        return;
    int n = snprintf(err->text, sizeof err->text, "%s: ", where);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof err->text)
        vsnprintf(err->text + n, sizeof err->text - (size_t)n, fmt, ap);
    va_end(ap);
}

static const char *type_hint(const struct option *o)
{
    switch (o->type) {
    case OPT_DURATION:
        return "a duration like 500ms, 30s, 10m, 24h or 7d";
    case OPT_SIZE:
        return "a size like 512, 32KB or 64MB";
    case OPT_BOOL:
        return "true or false";
    case OPT_INT:
        return "an integer";
    default:
        return "a value";
    }
}

static int apply(struct config *c, const struct option *o, const char *value, const char *where,
                 struct config_error *err)
{
    void *field = (char *)c + o->offset;
    int64_t v = 0;
    switch (o->type) {
    case OPT_STRING: {
        char **sp = field;
        free(*sp);
        *sp = xstrdup(value);
        return 0;
    }
    case OPT_BOOL: {
        bool b;
        if (parse_bool(value, &b)) {
            set_error(err, where, "%s: '%s' is not %s", o->name, value, type_hint(o));
            return -1;
        }
        *(bool *)field = b;
        return 0;
    }
    case OPT_ENUM:
        if (parse_enum(o->values, value, &v)) {
            set_error(err, where, "%s: '%s' is not one of %s", o->name, value, o->values);
            return -1;
        }
        *(int64_t *)field = v;
        return 0;
    case OPT_INT: {
        uint64_t u;
        if (parse_u64(value, INT64_MAX, &u)) {
            set_error(err, where, "%s: '%s' is not %s", o->name, value, type_hint(o));
            return -1;
        }
        v = (int64_t)u;
        break;
    }
    case OPT_DURATION:
        if (config_parse_duration_ms(value, &v)) {
            set_error(err, where, "%s: '%s' is not %s", o->name, value, type_hint(o));
            return -1;
        }
        break;
    case OPT_SIZE:
        if (config_parse_size(value, &v)) {
            set_error(err, where, "%s: '%s' is not %s", o->name, value, type_hint(o));
            return -1;
        }
        break;
    }
    if (v < o->min || v > o->max) {
        if (o->max == INF)
            set_error(err, where, "%s: %s is below the minimum %lld", o->name, value,
                      (long long)o->min);
        else
            set_error(err, where, "%s: %s is out of range [%lld, %lld]", o->name, value,
                      (long long)o->min, (long long)o->max);
        return -1;
    }
    *(int64_t *)field = v;
    return 0;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        struct config_error err;
        if (apply(c, &config_options[i], config_options[i].def, "default", &err))
            die("bad default in the option table: %s", err.text);
    }
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (config_options[i].type == OPT_STRING) {
            char **sp = (char **)((char *)c + config_options[i].offset);
            free(*sp);
            *sp = NULL;
        }
    }
}

int config_set(struct config *c, const char *name, const char *value, const char *where,
               struct config_error *err)
{
    const struct option *o = find_option(name);
    if (!o) {
        set_error(err, where, "unknown option '%s'", name);
        return -1;
    }
    return apply(c, o, value, where, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(struct config *c, const char *path, struct config_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        set_error(err, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (len > 4095) {
            set_error(err, where, "line too long");
            rc = -1;
            break;
        }
        if (memchr(line, '\0', (size_t)len)) { /* would end the line early */
            set_error(err, where, "a NUL byte in the line");
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            set_error(err, where, "expected 'name = value', got '%s'", s);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s);
        char *value = trim(eq + 1);
        size_t vn = strlen(value);
        if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
            value[vn - 1] = '\0';
            value++;
        }
        if (config_set(c, name, value, where, err)) {
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int config_load_env(struct config *c, char *const *envp, struct config_error *err)
{
    for (; envp && *envp; envp++) {
        const char *kv = *envp;
        if (strncmp(kv, "JOURNEY_", 8) != 0)
            continue;
        const char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        char name[64];
        size_t n = (size_t)(eq - kv) - 8;
        if (n >= sizeof name)
            n = sizeof name - 1;
        for (size_t i = 0; i < n; i++)
            name[i] = (char)tolower((unsigned char)kv[8 + i]);
        name[n] = '\0';
        if (strcmp(name, "config") == 0) /* JOURNEY_CONFIG names the file itself */
            continue;
        if (strncmp(name, "fault_", 6) == 0) /* test fault injection, read by store/ */
            continue;
        char where[80];
        snprintf(where, sizeof where, "%.*s", (int)(eq - kv), kv);
        if (config_set(c, name, eq + 1, where, err))
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* writers                                                                   */

static void write_comment(struct buf *out, const char *text, const char *prefix)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        buf_printf(out, "%s%.*s\n", prefix, (int)len, p);
        p += len;
        if (*p == '\n')
            p++;
    }
}

void config_write_defaults(struct buf *out)
{
    buf_puts(out, "# journey.conf - every option of `journey serve`, at its default.\n"
                  "#\n"
                  "# Format: name = value; '#' starts a comment. Each option can also be set\n"
                  "# with the environment variable JOURNEY_<NAME> (upper case) or the flag\n"
                  "# --name-with-dashes; flags win over the environment, which wins over this\n"
                  "# file. Durations take a unit (500ms, 30s, 10m, 24h, 7d); sizes take KB, MB\n"
                  "# or GB (powers of 1024) or a plain byte count.\n"
                  "#\n"
                  "# Generated by `journey config defaults`; a test keeps it in step with the\n"
                  "# option table in src/config/config.c.\n");
    const char *section = NULL;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &config_options[i];
        if (!section || strcmp(section, o->section) != 0) {
            buf_printf(out, "\n# ---- %s ", o->section);
            for (size_t k = strlen(o->section); k < 66; k++)
                buf_putc(out, '-');
            buf_puts(out, "\n");
            section = o->section;
        }
        buf_puts(out, "\n");
        write_comment(out, o->help, "# ");
        if (o->type == OPT_ENUM)
            buf_printf(out, "# One of: %s.\n", o->values);
        else if (o->type == OPT_INT)
            buf_printf(out, "# Range: %lld to %lld.\n", (long long)o->min, (long long)o->max);
        const char *def = o->def;
        bool quote = o->type == OPT_STRING && (def[0] == '\0' || strchr(def, ' '));
        buf_printf(out, quote ? "%s = \"%s\"\n" : "%s = %s\n", o->name, def);
    }
}

void config_write_help(struct buf *out)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &config_options[i];
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        char env[64];
        snprintf(env, sizeof env, "JOURNEY_%s", o->name);
        for (char *p = env; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        buf_printf(out, "  %s %s  (env %s, default %s)\n", flag,
                   o->type == OPT_BOOL ? "[true|false]" : "VALUE", env,
                   o->def[0] ? o->def : "\"\"");
        write_comment(out, o->help, "      ");
    }
}

void config_write_json(const struct config *c, struct buf *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &config_options[i];
        if (i)
            buf_putc(out, ',');
        json_key(out, o->name);
        const void *field = (const char *)c + o->offset;
        if (o->type == OPT_STRING) {
            json_str(out, *(char *const *)field);
        } else if (o->type == OPT_BOOL) {
            buf_puts(out, *(const bool *)field ? "true" : "false");
        } else if (o->type == OPT_ENUM) {
            char tmp[64];
            enum_name(o->values, *(const int64_t *)field, tmp, sizeof tmp);
            json_str(out, tmp);
        } else {
            json_int(out, *(const int64_t *)field);
        }
    }
    buf_putc(out, '}');
}
