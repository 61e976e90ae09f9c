/*
 * project.c - `journey project create NAME`, `journey project list`,
 * `journey project demo`.
 */
#include "cli/cli.h"

#include "cli/demo.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "common/util.h"
#include "engine/engine.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: journey project create NAME [--data DIR]\n"
           "       journey project list [--data DIR]\n"
           "       journey project demo [--data DIR]\n"
           "       journey project settings ID [--file FILE | --json TEXT] [--data DIR]\n\n"
           "create  makes a project and prints one JSON object with its id, its public write key\n"
           "        (for trackers and SDKs) and its secret API key (for the API and dashboard;\n"
           "        shown only this once, only its hash is stored).\n"
           "list    prints the projects, one JSON object per line (no secrets).\n"
           "demo    finds or creates the demo project and prints its keys (they are kept in\n"
           "        DIR/demo-project.json).\n"
           "settings  prints a project's settings (rules, caps, holdout, goal, detectors:\n"
           "        docs/policy.md), or with --file / --json validates and replaces them. A\n"
           "        running server picks them up on SIGHUP or PUT /api/v1/settings.\n\n");
    cli_print_flags(NULL, 0, false);
}

static int open_store(const struct config *cfg, struct store **out)
{
    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = cfg->data_dir;
    so.synchronous = (int)cfg->synchronous;
    so.start_writer = false;
    char err[512];
    if (store_open(out, &so, err, sizeof err)) {
        fprintf(stderr, "journey: %s\n", err);
        return -1;
    }
    return 0;
}

static int print_project(const struct store_project *p, void *ctx)
{
    (void)ctx;
    struct buf b = BUF_INIT;
    buf_printf(&b, "{\"id\":%lld,\"name\":", (long long)p->id);
    json_str(&b, p->name);
    buf_puts(&b, ",\"write_key\":");
    json_str(&b, p->write_key);
    buf_puts(&b, ",\"secret_key_prefix\":");
    json_str(&b, p->secret_prefix);
    buf_puts(&b, ",\"created_at\":");
    json_time(&b, p->created_at);
    buf_puts(&b, "}\n");
    fputs(b.data, stdout);
    buf_free(&b);
    return 0;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b);
}

static int settings(struct store *store, const char *id_text, const char *file, const char *json)
{
    uint64_t id;
    if (parse_u64(id_text, INT64_MAX, &id) || id == 0) {
        fprintf(stderr, "journey project settings: '%s' is not a project id\n", id_text);
        return 2;
    }
    struct store_project p;
    if (store_project_by_id(store, (int64_t)id, &p) != 1) {
        fprintf(stderr, "journey project settings: no project %llu\n", (unsigned long long)id);
        return 1;
    }
    int rc = 0;
    if (!file && !json) {
        printf("%s\n", p.settings_json);
        goto out;
    }
    char *text = file ? read_all(file) : xstrdup(json);
    if (!text) {
        fprintf(stderr, "journey project settings: cannot read %s\n", file);
        rc = 1;
        goto out;
    }
    char err[400];
    if (engine_validate_settings(text, err, sizeof err)) {
        fprintf(stderr, "journey project settings: %s: %s\n", file ? file : "--json", err);
        free(text);
        rc = 1;
        goto out;
    }
    rc = store_project_set_settings(store, (int64_t)id, text) ? 1 : 0;
    if (rc == 0)
        printf("%s\n", text);
    free(text);
out:
    store_project_clear(&p);
    return rc;
}

int cmd_project(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        usage();
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
    }
    const char *file = NULL, *json = NULL;
    struct cli_flag flags[] = {
        {"file", &file, NULL, "settings: read the settings from FILE"},
        {"json", &json, NULL, "settings: the settings as a JSON text"},
    };
    struct cli_args a;
    if (cli_parse(argc - 1, argv + 1, flags, (int)ARRAY_LEN(flags), &a))
        return 2;
    log_set_level((enum log_level)a.cfg.log_level);
    int rc = 2;
    struct store *store = NULL;
    if (!strcmp(sub, "create")) {
        if (a.n_positional != 1 || !a.positional[0][0] || strlen(a.positional[0]) > 100) {
            fprintf(stderr, "journey project create: give one NAME (1-100 characters)\n");
            goto out;
        }
        if (open_store(&a.cfg, &store))
            goto out;
        struct store_project p;
        char secret[80];
        if (store_project_create(store, a.positional[0], &p, secret, sizeof secret)) {
            fprintf(stderr, "journey: creating the project failed\n");
            rc = 1;
            goto out;
        }
        struct buf b = BUF_INIT;
        buf_printf(&b, "{\"id\":%lld,\"name\":", (long long)p.id);
        json_str(&b, p.name);
        buf_puts(&b, ",\"write_key\":");
        json_str(&b, p.write_key);
        buf_puts(&b, ",\"secret_key\":");
        json_str(&b, secret);
        buf_puts(&b, "}\n");
        fputs(b.data, stdout);
        buf_free(&b);
        store_project_clear(&p);
        rc = 0;
    } else if (!strcmp(sub, "list")) {
        if (open_store(&a.cfg, &store))
            goto out;
        rc = store_projects_list(store, print_project, NULL) < 0 ? 1 : 0;
    } else if (!strcmp(sub, "demo")) {
        if (open_store(&a.cfg, &store))
            goto out;
        struct demo_project d;
        if (demo_project_ensure(store, a.cfg.data_dir, &d)) {
            fprintf(stderr, "journey: cannot create the demo project\n");
            rc = 1;
            goto out;
        }
        printf("{\"id\":%lld,\"write_key\":\"%s\",\"secret_key\":\"%s\",\"created\":%s}\n",
               (long long)d.id, d.write_key, d.secret_key, d.created ? "true" : "false");
        rc = 0;
    } else if (!strcmp(sub, "settings")) {
        if (a.n_positional != 1) {
            fprintf(stderr, "journey project settings: give the project ID\n");
            goto out;
        }
        if (open_store(&a.cfg, &store))
            goto out;
        rc = settings(store, a.positional[0], file, json);
    } else {
        fprintf(stderr, "journey project: unknown subcommand '%s'\n", sub);
    }
out:
    store_close(store);
    config_free(&a.cfg);
    return rc;
}
