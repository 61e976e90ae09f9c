/*
 * test_config.c - the option table: defaults, every source, bounds and the
 * errors that name where they came from; the committed journey.conf is the
 * table's own output.
 */
#include "support_test.h"

#include "common/buf.h"
#include "common/util.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_tmp(const char *text)
{
    char path[] = "/tmp/journey-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return xstrdup(path);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(c.max_message_bytes, 32 * 1024);
    assert_int_equal(c.max_request_bytes, 500 * 1024);
    assert_int_equal(c.max_batch_messages, 2500);
    assert_int_equal(c.dedup_window_ms, 24LL * 3600 * 1000);
    assert_int_equal(c.ip_mode, IP_MODE_ANONYMIZE);
    assert_int_equal(c.synchronous, SYNC_FULL);
    assert_false(c.demo);
    config_free(&c);
}

static void test_parsers(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(config_parse_duration_ms("500ms", &v), 0);
    assert_int_equal(v, 500);
    assert_int_equal(config_parse_duration_ms("24h", &v), 0);
    assert_int_equal(v, 86400000);
    assert_int_equal(config_parse_duration_ms("7d", &v), 0);
    assert_int_equal(config_parse_duration_ms("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(config_parse_duration_ms("10", &v), -1); /* a unit is required */
    assert_int_equal(config_parse_duration_ms("-1s", &v), -1);
    assert_int_equal(config_parse_duration_ms("1w", &v), -1);
    assert_int_equal(config_parse_size("32KB", &v), 0);
    assert_int_equal(v, 32768);
    assert_int_equal(config_parse_size("64mb", &v), 0);
    assert_int_equal(v, 64 << 20);
    assert_int_equal(config_parse_size("123", &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(config_parse_size("12XB", &v), -1);
}

static void test_file_env_flag_precedence(void **state)
{
    (void)state;
    struct config c;
    struct config_error err;
    config_defaults(&c);
    char *path = write_tmp("# comment\n\nlisten = 127.0.0.1:9000\ndedup_window = \"1h\"\n"
                           "demo = true\nmax_message_bytes = 64KB\n");
    assert_int_equal(config_load_file(&c, path, &err), 0);
    assert_string_equal(c.listen, "127.0.0.1:9000");
    assert_int_equal(c.dedup_window_ms, 3600000);
    assert_true(c.demo);
    char *env[] = {"PATH=/bin",
                   "JOURNEY_LISTEN=127.0.0.1:9001",
                   "JOURNEY_DEMO=false",
                   "JOURNEY_CONFIG=/ignored",
                   "JOURNEY_FAULT_COMMIT_FAILURES=1",
                   NULL};
    assert_int_equal(config_load_env(&c, env, &err), 0);
    assert_string_equal(c.listen, "127.0.0.1:9001");
    assert_false(c.demo);
    assert_int_equal(config_set(&c, "max-message-bytes", "1MB", "--max-message-bytes", &err), 0);
    assert_int_equal(c.max_message_bytes, 1 << 20);
    unlink(path);
    free(path);
    config_free(&c);
}

static void test_errors_name_their_source(void **state)
{
    (void)state;
    struct config c;
    struct config_error err;
    config_defaults(&c);
    char *path = write_tmp("listen = 127.0.0.1:1\n\nbogus_option = 3\n");
    assert_int_equal(config_load_file(&c, path, &err), -1);
    char want[256];
    snprintf(want, sizeof want, "%s:3: unknown option 'bogus_option'", path);
    assert_string_equal(err.text, want);
    unlink(path);
    free(path);

    path = write_tmp("max_batch_messages = 0\n");
    assert_int_equal(config_load_file(&c, path, &err), -1);
    snprintf(want, sizeof want, "%s:1: max_batch_messages: 0 is out of range [1, 100000]", path);
    assert_string_equal(err.text, want);
    unlink(path);
    free(path);

    /* fuzz C1: a NUL byte used to end the line early (a last line's rest ignored) */
    {
        char nul_path[] = "/tmp/journey-conf-XXXXXX";
        int fd = mkstemp(nul_path);
        assert_true(fd >= 0);
        static const char text[] = "demo = true\0garbage";
        assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
        close(fd);
        assert_int_equal(config_load_file(&c, nul_path, &err), -1);
        assert_non_null(strstr(err.text, ":1: a NUL byte in the line"));
        unlink(nul_path);
    }

    path = write_tmp("this line has no equals sign\n");
    assert_int_equal(config_load_file(&c, path, &err), -1);
    assert_non_null(strstr(err.text, ":1: expected 'name = value'"));
    unlink(path);
    free(path);

    char *env[] = {"JOURNEY_SYNCHRONOUS=sometimes", NULL};
    assert_int_equal(config_load_env(&c, env, &err), -1);
    assert_string_equal(
        err.text, "JOURNEY_SYNCHRONOUS: synchronous: 'sometimes' is not one of off|normal|full");
    char *env2[] = {"JOURNEY_NOT_AN_OPTION=1", NULL};
    assert_int_equal(config_load_env(&c, env2, &err), -1);
    assert_string_equal(err.text, "JOURNEY_NOT_AN_OPTION: unknown option 'not_an_option'");
    assert_int_equal(config_set(&c, "dedup-window", "10", "--dedup-window", &err), -1);
    assert_non_null(strstr(err.text, "--dedup-window: dedup_window: '10' is not a duration"));
    assert_int_equal(config_set(&c, "demo", "maybe", "--demo", &err), -1);
    assert_int_equal(config_load_file(&c, "/nonexistent/journey.conf", &err), -1);
    assert_non_null(strstr(err.text, "/nonexistent/journey.conf: cannot open"));
    config_free(&c);
}

static void test_committed_conf_matches_table(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    config_write_defaults(&b);
    FILE *f = fopen("journey.conf", "r");
    assert_non_null(f); /* tests run from the repository root */
    struct buf file = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&file, chunk, n);
    fclose(f);
    if (b.len != file.len || memcmp(b.data, file.data, b.len) != 0)
        fail_msg("journey.conf is out of date: run `journey config defaults > journey.conf`");
    /* And the generated file loads back to the defaults. */
    struct config c;
    struct config_error err;
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, "journey.conf", &err), 0);
    config_free(&c);
    buf_free(&b);
    buf_free(&file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_file_env_flag_precedence),
        cmocka_unit_test(test_errors_name_their_source),
        cmocka_unit_test(test_committed_conf_matches_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
