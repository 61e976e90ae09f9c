/*
 * main.c - the journey binary: picks the subcommand, nothing else.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: journey COMMAND [options]   (journey COMMAND --help for each)\n\n"
            "  serve         run the server (tracking API, live channel, analytics, dashboard)\n"
            "  project       create and list projects (create NAME, list, demo)\n"
            "  deadletters   list or replay quarantined input (list, replay)\n"
            "  train         train the exit-risk model from history (or a CSV table)\n"
            "  simulate      visitors of the demo site: history, load or NDJSON\n"
            "  config        print the default journey.conf, or the effective configuration\n"
            "  version       print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"serve", cmd_serve},        {"project", cmd_project}, {"deadletters", cmd_deadletters},
        {"config", cmd_config},      {"version", cmd_version}, {"--version", cmd_version},
        {"train", cmd_train},        {"simulate", cmd_simulate},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 2, argv + 2);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "journey: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
