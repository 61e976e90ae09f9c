/*
 * misc.c - `journey config` and `journey version`.
 */
#include "cli/cli.h"

#include "common/buf.h"

#include <cJSON.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int cmd_config(int argc, char **argv)
{
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
    printf("usage: journey config defaults   print a commented journey.conf with every default\n"
           "       journey config show [opts]  print the effective configuration as JSON\n"
           "                                   (file, environment and flags applied)\n");
    return argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) ? 0 : 2;
}

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("journey %s (libmicrohttpd %s, SQLite %s, cJSON %s, zlib %s)\n", JOURNEY_VERSION,
           MHD_get_version(), sqlite3_libversion(), cJSON_Version(), zlibVersion());
    return 0;
}
