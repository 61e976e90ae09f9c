/*
 * misc.c - `journey config` and `journey version`.
 */
#include "cli/cli.h"

#include "common/buf.h"

#include <cJSON.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>

static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

static void config_usage(void)
{
    printf("usage: journey config defaults   print a commented journey.conf with every default\n"
           "       journey config show [opts]  print the effective configuration as JSON\n"
           "                                   (file, environment and flags applied)\n\n"
           "config show takes every option of journey serve:\n\n");
    cli_print_flags(NULL, 0, true);
}

int cmd_config(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        config_usage();
        return 0;
    }
    if (argc >= 1 && !strcmp(argv[0], "defaults")) {
        struct buf b = BUF_INIT;
        config_write_defaults(&b);
        fputs(b.data, stdout);
        buf_free(&b);
        return 0;
    }
    if (argc >= 1 && !strcmp(argv[0], "show")) {
        struct cli_args a;
        if (cli_parse(argc - 1, argv + 1, NULL, 0, &a))
            return 2;
        struct buf b = BUF_INIT;
        config_write_json(&a.cfg, &b);
        puts(b.data);
        buf_free(&b);
        config_free(&a.cfg);
        return 0;
    }
    config_usage();
    return 2;
}

int cmd_version(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: journey version\n\nPrints the version of journey and of the libraries it "
               "runs on.\n");
        return 0;
    }
    printf("journey %s (libmicrohttpd %s, SQLite %s, cJSON %s, zlib %s)\n", JOURNEY_VERSION,
           MHD_get_version(), sqlite3_libversion(), cJSON_Version(), zlibVersion());
    return 0;
}
