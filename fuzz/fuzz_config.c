/*
 * fuzz_config.c - the journey.conf parser (config_load_file) on arbitrary
 * file contents, written to a memfd and read through /proc/self/fd/N as any
 * file would be.
 *
 * Checks beyond the sanitizers:
 *   - a refused file's error is a NUL-terminated "path:line: ..." naming
 *     the file (config.h: every error "names where it came from");
 *   - an accepted file round-trips: the effective configuration written as
 *     JSON (config_write_json) and applied option by option to fresh
 *     defaults with config_set() is accepted again and gives the same JSON.
 *     So every value the file parser accepts is one the table's bounds and
 *     types accept, and the JSON form loses nothing.
 */
#include "config/config.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_config: check failed at line %d: %s\n", __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int memfd = -1;
static char path[64];

/* Applies the JSON members of the effective configuration to c. Durations
 * are stored in ms and written as plain numbers, which config_set reads only
 * with a unit: a plain number is tried first, then with "ms". */
static void apply_json(struct config *c, const char *json)
{
    cJSON *root = cJSON_Parse(json);
    CHECK(cJSON_IsObject(root));
    const cJSON *m;
    cJSON_ArrayForEach(m, root)
    {
        char value[64];
        const char *text = value;
        if (cJSON_IsString(m))
            text = m->valuestring;
        else if (cJSON_IsBool(m))
            snprintf(value, sizeof value, "%s", cJSON_IsTrue(m) ? "true" : "false");
        else if (cJSON_IsNumber(m))
            snprintf(value, sizeof value, "%.0f", m->valuedouble);
        else
            CHECK(0 && "a member that is no string, boolean or number");
        struct config_error err;
        if (config_set(c, m->string, text, "json", &err) != 0) {
            CHECK(cJSON_IsNumber(m));
            char ms[80];
            snprintf(ms, sizeof ms, "%sms", value);
            if (config_set(c, m->string, ms, "json", &err) != 0) {
                fprintf(stderr, "fuzz_config: %s = %s refused again: %s\n", m->string, value,
                        err.text);
                CHECK(0 && "an accepted value is refused by config_set");
            }
        }
    }
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("journey.conf", 0);
        CHECK(memfd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    }
    CHECK(ftruncate(memfd, 0) == 0);
    CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size);

    struct config c;
    config_defaults(&c);
    struct config_error err;
    memset(&err, 0x7f, sizeof err);
    if (config_load_file(&c, path, &err) != 0) {
        CHECK(memchr(err.text, '\0', sizeof err.text) != NULL);
        CHECK(strncmp(err.text, path, strlen(path)) == 0 && err.text[strlen(path)] == ':');
        config_free(&c);
        return 0;
    }
    struct buf first = BUF_INIT, second = BUF_INIT;
    config_write_json(&c, &first);
    struct config again;
    config_defaults(&again);
    apply_json(&again, first.data);
    config_write_json(&again, &second);
    if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0)
        fprintf(stderr, "fuzz_config: JSON differs after a round trip:\n%s\n%s\n", first.data,
                second.data);
    CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0);
    buf_free(&first);
    buf_free(&second);
    config_free(&again);
    config_free(&c);
    return 0;
}
