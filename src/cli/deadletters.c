/*
 * deadletters.c - `journey deadletters list` and `journey deadletters replay`.
 *
 * Replay runs in this process against the database directly (the server may
 * keep running: SQLite serialises the writers). Messages already stored are
 * recognised by the same dedup window the server keeps, rebuilt here from
 * the stored events.
 */
#include "cli/cli.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"
#include "ingest/ingest.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: journey deadletters list [--project ID] [--limit N] [--after ID] [--all]\n"
           "       journey deadletters replay [--id ID | --project ID] [--limit N]\n\n"
           "list    one JSON object per line: id, project, time, request id, route, kind\n"
           "        (message or request), reason, field, detail and the raw input (as text\n"
           "        when it is UTF-8, else base64 in raw_base64). --all includes dead letters\n"
           "        that were replayed successfully.\n"
           "replay  re-runs dead letters through today's validation; those that pass are\n"
           "        stored (deduplicated) and marked replayed. Prints a JSON summary.\n\n");
}

static int print_one(const struct store_dead_letter *d, void *ctx)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    ingest_dead_letter_json(&b, d);
    buf_putc(&b, '\n');
    fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
    return 0;
}

static int to_int(const char *s, int64_t *out)
{
    uint64_t v;
    if (!s)
        return 0;
    if (parse_u64(s, INT64_MAX, &v)) {
        fprintf(stderr, "journey deadletters: '%s' is not a number\n", s);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int cmd_deadletters(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        usage();
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    const char *project = NULL, *limit = NULL, *after = NULL, *id = NULL;
    bool all = false, help = false;
    struct cli_flag flags[] = {
        {"project", &project, NULL, "only this project's dead letters"},
        {"limit", &limit, NULL, "at most N (default 100 for list, 1000 for replay)"},
        {"after", &after, NULL, "list: start after this id"},
        {"id", &id, NULL, "replay: only this dead letter"},
        {"all", NULL, &all, "list: include replayed ones"},
        {"help", NULL, &help, "this help"},
    };
    struct cli_args a;
    if (cli_parse(argc - 1, argv + 1, flags, (int)ARRAY_LEN(flags), &a))
        return 2;
    if (help) {
        usage();
        cli_print_flags(flags, (int)ARRAY_LEN(flags), false);
        config_free(&a.cfg);
        return 0;
    }
    log_set_level((enum log_level)a.cfg.log_level);
    struct store_dead_letter_query q = {0};
    int64_t lim = 0;
    int rc = 2;
    struct store *store = NULL;
    struct ingest *ig = NULL;
    if (to_int(project, &q.project_id) || to_int(after, &q.after_id) || to_int(id, &q.only_id) ||
        to_int(limit, &lim))
        goto out;
    q.limit = (int)lim;
    q.include_replayed = all;

    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = a.cfg.data_dir;
    so.synchronous = (int)a.cfg.synchronous;
    so.start_writer = false;
    char err[512];
    if (store_open(&store, &so, err, sizeof err)) {
        fprintf(stderr, "journey: %s\n", err);
        rc = 1;
        goto out;
    }
    if (!strcmp(sub, "list")) {
        if (q.limit <= 0)
            q.limit = 100;
        rc = store_dead_letters(store, &q, print_one, NULL) ? 1 : 0;
    } else if (!strcmp(sub, "replay")) {
        struct ingest_config ic = {
            .max_message_bytes = a.cfg.max_message_bytes,
            .max_request_bytes = a.cfg.max_request_bytes,
            .max_batch_messages = a.cfg.max_batch_messages,
            .dedup_window_ms = a.cfg.dedup_window_ms,
            .dedup_max_entries = a.cfg.dedup_max_entries,
            .session_timeout_ms = a.cfg.session_timeout_ms,
            .ip_mode = (int)a.cfg.ip_mode,
        };
        ig = ingest_new(store, &ic);
        if (ingest_restore(ig, now_ms()) < 0) {
            fprintf(stderr, "journey: reading recent events failed\n");
            rc = 1;
            goto out;
        }
        struct ingest_replay_result r;
        if (ingest_replay(ig, &q, &r)) {
            fprintf(stderr, "journey: replay failed (see the log)\n");
            rc = 1;
            goto out;
        }
        printf("{\"examined\":%zu,\"replayed\":%zu,\"still_rejected\":%zu,\"events_stored\":%zu,"
               "\"duplicates\":%zu}\n",
               r.examined, r.replayed, r.still_bad, r.events, r.duplicates);
        rc = 0;
    } else {
        fprintf(stderr, "journey deadletters: unknown subcommand '%s'\n", sub);
    }
out:
    ingest_free(ig);
    store_close(store);
    config_free(&a.cfg);
    return rc;
}
