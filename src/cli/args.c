/*
 * args.c - command-line parsing shared by the subcommands (see cli.h).
 */
#include "cli/cli.h"

#include "common/buf.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int cli_parse(int argc, char **argv, const struct cli_flag *flags, int n_flags,
              struct cli_args *a)
{
    memset(a, 0, sizeof *a);
    config_defaults(&a->cfg);
    struct config_error err;

    /* The config file first (flags and the environment override it). */
    const char *file = getenv("JOURNEY_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && config_load_file(&a->cfg, file, &err)) {
        fprintf(stderr, "journey: %s\n", err.text);
        return -1;
    }
    if (config_load_env(&a->cfg, environ, &err)) {
        fprintf(stderr, "journey: %s\n", err.text);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (a->n_positional < (int)ARRAY_LEN(a->positional)) {
                a->positional[a->n_positional++] = arg;
                continue;
            }
            fprintf(stderr, "journey: too many arguments at '%s'\n", arg);
            return -1;
        }
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (nlen >= sizeof name) {
            fprintf(stderr, "journey: unknown flag %s\n", arg);
            return -1;
        }
        memcpy(name, arg + 2, nlen);
        name[nlen] = '\0';
        const char *value = eq ? eq + 1 : NULL;
        if (!strcmp(name, "config")) {
            if (!value)
                i++;
            continue;
        }
        const struct cli_flag *f = NULL;
        for (int k = 0; k < n_flags; k++)
            if (!strcmp(flags[k].name, name))
                f = &flags[k];
        if (f) {
            if (f->value_out) {
                if (!value) {
                    if (i + 1 >= argc) {
                        fprintf(stderr, "journey: --%s needs a value\n", name);
                        return -1;
                    }
                    value = argv[++i];
                }
                *f->value_out = value;
            }
            if (f->set_out)
                *f->set_out = true;
            continue;
        }
        if (!config_is_option(name)) {
            fprintf(stderr, "journey: unknown flag --%s (see --help)\n", name);
            return -1;
        }
        if (!value) {
            if (config_is_bool(name) && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
                                         (strcmp(argv[i + 1], "true") && strcmp(argv[i + 1], "false")))) {
                value = "true";
            } else {
                if (i + 1 >= argc) {
                    fprintf(stderr, "journey: --%s needs a value\n", name);
                    return -1;
                }
                value = argv[++i];
            }
        }
        char where[80];
        snprintf(where, sizeof where, "--%s", name);
        if (config_set(&a->cfg, name, value, where, &err)) {
            fprintf(stderr, "journey: %s\n", err.text);
            return -1;
        }
    }
    return 0;
}

void cli_print_flags(const struct cli_flag *flags, int n_flags, bool server_options)
{
    for (int i = 0; i < n_flags; i++)
        printf("  --%s%s  %s\n", flags[i].name, flags[i].value_out ? " VALUE" : "",
               flags[i].help);
    printf("  --config FILE  read options from FILE (journey.conf format; env JOURNEY_CONFIG)\n");
    if (server_options) {
        struct buf b = BUF_INIT;
        config_write_help(&b);
        printf("\nServer options (flag, environment variable, journey.conf line):\n%s",
               b.data ? b.data : "");
        buf_free(&b);
    } else {
        printf("  --data DIR  data directory (env JOURNEY_DATA, default ./data); every server\n"
               "             option is accepted too, see `journey serve --help`\n");
    }
}
