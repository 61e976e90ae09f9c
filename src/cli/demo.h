/*
 * demo.h - the demo project (see demo.c).
 */
#ifndef JOURNEY_CLI_DEMO_H
#define JOURNEY_CLI_DEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct demo_project {
    int64_t id;
    char write_key[64];
    char secret_key[80];
    bool created;
};

/* Finds the demo project recorded in DIR/demo-project.json, or creates it
 * and records it. 0 or a negative error. */
int demo_project_ensure(struct store *s, const char *data_dir, struct demo_project *out);

#endif
