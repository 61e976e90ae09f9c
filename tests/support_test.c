/*
 * support_test.c - see support_test.h.
 */
#include "support_test.h"

#include "common/util.h"

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
