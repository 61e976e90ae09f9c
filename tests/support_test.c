/*
 * support_test.c - see support_test.h.
 */
#include "support_test.h"

#include "common/util.h"
#include "config/config.h"
#include "ingest/ingest.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/journey-unit-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        die("mkdtemp failed");
    return xstrdup(d);
}

void test_rmdir(char *dir)
{
    if (!dir)
        return;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
    free(dir);
}

struct test_env *test_env_open(int synchronous, int64_t checkpoint_interval_ms, int with_ingest)
{
    struct test_env *e = xcalloc(1, sizeof *e);
    e->dir = test_tmpdir();
    struct store_options so;
    store_options_defaults(&so);
    so.data_dir = e->dir;
    so.synchronous = synchronous;
    if (checkpoint_interval_ms)
        so.checkpoint_interval_ms = checkpoint_interval_ms;
    char err[256];
    if (store_open(&e->store, &so, err, sizeof err)) {
        fprintf(stderr, "store_open: %s\n", err);
        test_rmdir(e->dir);
        free(e);
        return NULL;
    }
    if (with_ingest) {
        struct ingest_config ic = {
            .max_message_bytes = 32 * 1024,
            .max_request_bytes = 500 * 1024,
            .max_batch_messages = 2500,
            .dedup_window_ms = 24LL * 3600 * 1000,
            .dedup_max_entries = 1000000,
            .session_timeout_ms = 30 * 60 * 1000,
            .ip_mode = IP_MODE_ANONYMIZE,
        };
        e->ig = ingest_new(e->store, &ic);
    }
    return e;
}

void test_env_close(struct test_env *e)
{
    if (!e)
        return;
    ingest_free(e->ig);
    store_close(e->store);
    test_rmdir(e->dir);
    free(e);
}
