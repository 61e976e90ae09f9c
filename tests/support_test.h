/*
 * support_test.h - shared helpers for the cmocka unit tests.
 */
#ifndef JOURNEY_TESTS_SUPPORT_H
#define JOURNEY_TESTS_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A fresh temporary directory (from malloc); removed by test_rmdir(). */
char *test_tmpdir(void);
void test_rmdir(char *dir);

/* A store in a fresh temporary directory (its writer running) and, with
 * with_ingest, an ingest pipeline on it with the production limits of
 * docs/ingest.md. checkpoint_interval_ms 0: the default. NULL on failure. */
struct test_env {
    char *dir;
    struct store *store;
    struct ingest *ig;
};
struct test_env *test_env_open(int synchronous, int64_t checkpoint_interval_ms, int with_ingest);
void test_env_close(struct test_env *e);

#endif
