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
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static void usage(void)
{
    printf("usage: journey project create NAME [--data DIR]\n"
           "       journey project list [--data DIR]\n"
           "       journey project demo [--data DIR]\n\n"
           "create  makes a project and prints one JSON object with its id, its public write key\n"
           "        (for trackers and SDKs) and its secret API key (for the API and dashboard;\n"
           "        shown only this once, only its hash is stored).\n"
           "list    prints the projects, one JSON object per line (no secrets).\n"
           "demo    finds or creates the demo project and prints its keys (they are kept in\n"
           "        DIR/demo-project.json).\n\n");
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
    struct cli_args a;
    if (cli_parse(argc - 1, argv + 1, NULL, 0, &a))
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
        rc = store_projects_list(store, print_project, NULL) ? 1 : 0;
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
    } else {
        fprintf(stderr, "journey project: unknown subcommand '%s'\n", sub);
    }
out:
    store_close(store);
    config_free(&a.cfg);
    return rc;
}
