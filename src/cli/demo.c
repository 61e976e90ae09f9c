/*
 * demo.c - the demo project that `make run` and `journey serve --demo` use.
 *
 * Its keys live in DIR/demo-project.json (mode 0600): the secret key is shown
 * only once at creation, and the demo must be able to print it again.
 */
#include "cli/demo.h"

#include "common/buf.h"
#include "common/util.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b);
}

int demo_project_ensure(struct store *s, const char *data_dir, struct demo_project *out)
{
    memset(out, 0, sizeof *out);
    char *path = xasprintf("%s/demo-project.json", data_dir);
    char *text = read_file(path);
    int rc = 0;
    if (text) {
        cJSON *j = cJSON_Parse(text);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        const cJSON *wk = cJSON_GetObjectItemCaseSensitive(j, "write_key");
        const cJSON *sk = cJSON_GetObjectItemCaseSensitive(j, "secret_key");
        if (cJSON_IsNumber(id) && cJSON_IsString(wk) && cJSON_IsString(sk)) {
            struct store_project p;
            if (store_project_by_write_key(s, wk->valuestring, &p) == 1) {
                out->id = p.id;
                snprintf(out->write_key, sizeof out->write_key, "%s", wk->valuestring);
                snprintf(out->secret_key, sizeof out->secret_key, "%s", sk->valuestring);
                store_project_clear(&p);
            }
        }
        cJSON_Delete(j);
        free(text);
        if (out->id > 0)
            goto done;
    }
    struct store_project p;
    rc = store_project_create(s, "Demo loan site", &p, out->secret_key, sizeof out->secret_key);
    if (rc)
        goto done;
    out->id = p.id;
    out->created = true;
    /* The demo's conversion goal is its thank-you page. */
    store_project_set_settings(s, p.id, "{\"goal\": {\"path\": \"/demo/thanks.html\"}}");
    snprintf(out->write_key, sizeof out->write_key, "%s", p.write_key);
    store_project_clear(&p);
    struct buf b = BUF_INIT;
    buf_printf(&b, "{\"id\":%lld,\"name\":\"Demo loan site\",\"write_key\":", (long long)out->id);
    json_str(&b, out->write_key);
    buf_puts(&b, ",\"secret_key\":");
    json_str(&b, out->secret_key);
    buf_puts(&b, "}\n");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    buf_free(&b);
done:
    free(path);
    return rc;
}
