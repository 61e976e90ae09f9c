/*
 * projects.c - projects and their keys.
 *
 * A project has a public write key (sent by trackers from browsers, so not a
 * secret: it only lets you send events) and a secret API key (reads the
 * analytics API and the dashboard). Only the SHA-256 of the secret is stored;
 * the secret itself is shown once, when the project is created.
 */
#include "store/store_internal.h"

#include "common/log.h"
#include "common/random.h"
#include "common/util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

void store_project_clear(struct store_project *p)
{
    if (!p)
        return;
    free(p->settings_json);
    p->settings_json = NULL;
}

struct create_ctx {
    const char *name;
    struct store_project *out;
    const char *secret;
};

static int create_apply(struct store_tx *tx, void *arg)
{
    struct create_ctx *c = arg;
    char hash[65];
    sha256_hex(c->secret, hash);
    sqlite3_stmt *st = store_tx_stmt(
        tx, "INSERT INTO projects (name, write_key, secret_hash, secret_prefix, created_at)"
            " VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->out->write_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->out->secret_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, c->out->created_at);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        LOG_ERROR("store", NULL, "create project: %s", sqlite3_errmsg(store_tx_db(tx)));
        return -EIO;
    }
    c->out->id = sqlite3_last_insert_rowid(store_tx_db(tx));
    return 0;
}

int store_project_create(struct store *s, const char *name, struct store_project *out,
                         char *secret_out, size_t secret_len)
{
    if (secret_len < 64)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    char rnd[48];
    random_base62(rnd, 24);
    snprintf(out->write_key, sizeof out->write_key, "wk_%s", rnd);
    random_base62(rnd, 40);
    snprintf(secret_out, secret_len, "sk_%s", rnd);
    snprintf(out->secret_prefix, sizeof out->secret_prefix, "%.10s", secret_out);
    out->created_at = now_ms();
    out->settings_json = xstrdup("{}");
    struct create_ctx c = {name, out, secret_out};
    int rc = store_write_sync(s, create_apply, NULL, &c);
    if (rc)
        store_project_clear(out);
    return rc;
}

static void read_row(sqlite3_stmt *st, struct store_project *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    snprintf(p->name, sizeof p->name, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(p->write_key, sizeof p->write_key, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(p->secret_prefix, sizeof p->secret_prefix, "%s",
             (const char *)sqlite3_column_text(st, 3));
    p->created_at = sqlite3_column_int64(st, 4);
    const char *settings = (const char *)sqlite3_column_text(st, 5);
    p->settings_json = xstrdup(settings ? settings : "{}");
}

#define PROJECT_COLUMNS "id, name, write_key, secret_prefix, created_at, settings"

static int lookup(struct store *s, const char *sql, const char *text, int64_t num,
                  struct store_project *out)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st = store_reader_stmt(s, db, sql);
    int rc = -EIO;
    if (st) {
        if (text)
            sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, 1, num);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            read_row(st, out);
            rc = 1;
        } else if (step == SQLITE_DONE) {
            rc = 0;
        }
        sqlite3_reset(st);
    }
    store_reader_release(s, db);
    return rc;
}

int store_project_by_write_key(struct store *s, const char *write_key, struct store_project *out)
{
    return lookup(s, "SELECT " PROJECT_COLUMNS " FROM projects WHERE write_key = ?1", write_key,
                  0, out);
}

int store_project_by_id(struct store *s, int64_t id, struct store_project *out)
{
    return lookup(s, "SELECT " PROJECT_COLUMNS " FROM projects WHERE id = ?1", NULL, id, out);
}

int store_project_check_secret(struct store *s, const char *secret, int64_t *id_out)
{
    char hash[65];
    sha256_hex(secret, hash);
    struct store_project p;
    int rc = lookup(s, "SELECT " PROJECT_COLUMNS " FROM projects WHERE secret_hash = ?1", hash, 0,
                    &p);
    if (rc != 1)
        return rc;
    int ok = (*id_out == 0 || *id_out == p.id) ? 1 : 0;
    if (ok)
        *id_out = p.id;
    store_project_clear(&p);
    return ok;
}

int store_projects_list(struct store *s, int (*fn)(const struct store_project *p, void *ctx),
                        void *ctx)
{
    sqlite3 *db = store_reader_acquire(s);
    if (!db)
        return -EIO;
    sqlite3_stmt *st =
        store_reader_stmt(s, db, "SELECT " PROJECT_COLUMNS " FROM projects ORDER BY id");
    int rc = st ? 0 : -EIO;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct store_project p;
        read_row(st, &p);
        rc++;
        int stop = fn(&p, ctx);
        store_project_clear(&p);
        if (stop)
            break;
    }
    if (st)
        sqlite3_reset(st);
    store_reader_release(s, db);
    return rc;
}

struct settings_ctx {
    int64_t id;
    const char *json;
};

static int settings_apply(struct store_tx *tx, void *arg)
{
    struct settings_ctx *c = arg;
    sqlite3_stmt *st = store_tx_stmt(tx, "UPDATE projects SET settings = ?2 WHERE id = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, c->id);
    sqlite3_bind_text(st, 2, c->json, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -EIO;
    return sqlite3_changes(store_tx_db(tx)) ? 0 : -ENOENT;
}

int store_project_set_settings(struct store *s, int64_t id, const char *settings_json)
{
    struct settings_ctx c = {id, settings_json};
    return store_write_sync(s, settings_apply, NULL, &c);
}
