/*
 * cli.h - the journey command line: one function per subcommand, and the
 * shared option parsing that lets every subcommand take the server's
 * options (--data, --log-level ...) from flags, JOURNEY_* variables and a
 * config file exactly like `journey serve` does.
 */
#ifndef JOURNEY_CLI_CLI_H
#define JOURNEY_CLI_CLI_H

#include <stdbool.h>

#include "config/config.h"

#define JOURNEY_VERSION "0.1.0"

/* A subcommand's own flag. value_out NULL: a boolean flag. */
struct cli_flag {
    const char *name; /* without the dashes */
    const char **value_out;
    bool *set_out;
    const char *help;
};

struct cli_args {
    struct config cfg;
    const char *positional[8];
    int n_positional;
};

/* Parses argv (after the subcommand words) into a->cfg (defaults, the config
 * file from --config or JOURNEY_CONFIG, the environment, then flags) and the
 * command's own flags. Prints the problem and returns -1 on a bad argument. */
int cli_parse(int argc, char **argv, const struct cli_flag *flags, int n_flags,
              struct cli_args *a);
void cli_print_flags(const struct cli_flag *flags, int n_flags, bool server_options);

int cmd_serve(int argc, char **argv);
int cmd_project(int argc, char **argv);
int cmd_deadletters(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
