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

#endif
