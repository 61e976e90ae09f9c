/*
 * auth.c - write keys: where a request carries one, and which project it
 * belongs to.
 *
 * Forms, first found wins (DESIGN.md): HTTP Basic with the key as the user
 * ("key:"; a key sent as the password with an empty user also counts),
 * "Authorization: Bearer key", "X-Write-Key: key", "?writeKey=key"; the body's
 * writeKey / api_key is the ingest handler's fallback.
 *
 * Lookups are cached (write key -> project id) for a minute, unknown keys for
 * ten seconds, so a flood of bad keys costs one database read per key per ten
 * seconds, not one per request.
 */
#include "http/http_internal.h"

#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#define KEY_TTL_NS (60ull * 1000000000)
#define UNKNOWN_TTL_NS (10ull * 1000000000)
#define CACHE_MAX 65536

struct key_entry {
    char *key; /* NULL = empty slot */
    int64_t project_id;
    uint64_t expires_ns;
};

struct http_keys {
    struct store *store;
    pthread_mutex_t lock;
    struct key_entry *slots;
    size_t cap, count;
};

struct http_keys *http_keys_new(struct store *store)
{
    struct http_keys *k = xcalloc(1, sizeof *k);
    k->store = store;
    pthread_mutex_init(&k->lock, NULL);
    k->cap = 256;
    k->slots = xcalloc(k->cap, sizeof *k->slots);
    return k;
}

static void clear_slots(struct http_keys *k)
{
    for (size_t i = 0; i < k->cap; i++) {
        free(k->slots[i].key);
        k->slots[i].key = NULL;
    }
    k->count = 0;
}

void http_keys_free(struct http_keys *k)
{
    if (!k)
        return;
    clear_slots(k);
    free(k->slots);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static struct key_entry *slot_for(struct http_keys *k, const char *key)
{
    size_t i = (size_t)XXH3_64bits(key, strlen(key)) & (k->cap - 1);
    while (k->slots[i].key && strcmp(k->slots[i].key, key) != 0)
        i = (i + 1) & (k->cap - 1);
    return &k->slots[i];
}

int64_t http_keys_lookup(struct http_keys *k, const char *write_key)
{
    if (!write_key || !*write_key || strlen(write_key) > 200)
        return 0;
    uint64_t now = mono_ns();
    pthread_mutex_lock(&k->lock);
    struct key_entry *e = slot_for(k, write_key);
    if (e->key && e->expires_ns > now) {
        int64_t id = e->project_id;
        pthread_mutex_unlock(&k->lock);
        return id;
    }
    pthread_mutex_unlock(&k->lock);

    struct store_project p;
    int rc = store_project_by_write_key(k->store, write_key, &p);
    if (rc < 0)
        return rc;
    int64_t id = rc == 1 ? p.id : 0;
    if (rc == 1)
        store_project_clear(&p);

    pthread_mutex_lock(&k->lock);
    if ((k->count + 1) * 2 > k->cap) {
        if (k->cap >= CACHE_MAX) {
            clear_slots(k); /* crude but bounded: the cache refills itself */
        } else {
            struct key_entry *old = k->slots;
            size_t old_cap = k->cap;
            k->cap *= 2;
            k->slots = xcalloc(k->cap, sizeof *k->slots);
            for (size_t i = 0; i < old_cap; i++)
                if (old[i].key)
                    *slot_for(k, old[i].key) = old[i];
            free(old);
        }
    }
    e = slot_for(k, write_key);
    if (!e->key) {
        e->key = xstrdup(write_key);
        k->count++;
    }
    e->project_id = id;
    e->expires_ns = now + (id > 0 ? KEY_TTL_NS : UNKNOWN_TTL_NS);
    pthread_mutex_unlock(&k->lock);
    return id;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional) into out. */
static int b64_decode(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        int v = b64_value(*in);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (int)o;
}

static bool copy_key(const char *s, size_t n, char *out, size_t outlen)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= outlen)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool http_request_write_key(struct http_request *req, char *out, size_t outlen)
{
    const char *auth = http_header(req, "Authorization");
    if (auth) {
        if (strncasecmp(auth, "Basic ", 6) == 0) {
            char dec[512];
            int n = b64_decode(auth + 6, dec, sizeof dec);
            if (n > 0) {
                char *colon = memchr(dec, ':', (size_t)n);
                size_t user_len = colon ? (size_t)(colon - dec) : (size_t)n;
                if (copy_key(dec, user_len, out, outlen))
                    return true;
                if (colon && copy_key(colon + 1, (size_t)n - user_len - 1, out, outlen))
                    return true;
            }
        } else if (strncasecmp(auth, "Bearer ", 7) == 0) {
            if (copy_key(auth + 7, strlen(auth + 7), out, outlen))
                return true;
        }
    }
    const char *x = http_header(req, "X-Write-Key");
    if (x && copy_key(x, strlen(x), out, outlen))
        return true;
    const char *q = http_query(req, "writeKey");
    if (q && copy_key(q, strlen(q), out, outlen))
        return true;
    return false;
}

int64_t http_require_write_key(struct http_request *req, enum MHD_Result *result)
{
    char key[256];
    if (!http_request_write_key(req, key, sizeof key)) {
        *result = http_respond_error(req, 401, "missing_write_key",
                                     "send the write key as ?writeKey= or the Basic auth user");
        return 0;
    }
    int64_t id = http_keys_lookup(req->srv->keys, key);
    if (id < 0)
        *result = http_respond_error(req, 503, "store_unavailable",
                                     "cannot check the write key right now");
    else if (id == 0)
        *result = http_respond_error(req, 401, "unknown_write_key",
                                     "the write key is not known to this server");
    return id;
}

int64_t http_require_secret(struct http_request *req, enum MHD_Result *result)
{
    const char *auth = http_header(req, "Authorization");
    char secret[128] = "";
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        copy_key(auth + 7, strlen(auth + 7), secret, sizeof secret);
    if (!secret[0]) {
        *result = http_respond_error(req, 401, "missing_secret_key",
                                     "send the project's secret key as Authorization: Bearer sk_...");
        return 0;
    }
    /* Cached like write keys, under a prefix that cannot collide with them. */
    char key[160];
    snprintf(key, sizeof key, "secret\x1f%s", secret);
    struct http_keys *k = req->srv->keys;
    uint64_t now = mono_ns();
    pthread_mutex_lock(&k->lock);
    struct key_entry *e = slot_for(k, key);
    if (e->key && e->expires_ns > now) {
        int64_t id = e->project_id;
        pthread_mutex_unlock(&k->lock);
        if (id > 0)
            return id;
        *result = http_respond_error(req, 401, "unknown_secret_key", "the secret key is not valid");
        return 0;
    }
    pthread_mutex_unlock(&k->lock);
    int64_t id = 0;
    int rc = store_project_check_secret(k->store, secret, &id);
    if (rc < 0) {
        *result = http_respond_error(req, 503, "store_unavailable", "cannot check the key now");
        return -1;
    }
    if (rc == 0)
        id = 0;
    pthread_mutex_lock(&k->lock);
    if ((k->count + 1) * 2 > k->cap)
        clear_slots(k);
    e = slot_for(k, key);
    if (!e->key) {
        e->key = xstrdup(key);
        k->count++;
    }
    e->project_id = id;
    e->expires_ns = now + (id > 0 ? KEY_TTL_NS : UNKNOWN_TTL_NS);
    pthread_mutex_unlock(&k->lock);
    if (id <= 0)
        *result = http_respond_error(req, 401, "unknown_secret_key", "the secret key is not valid");
    return id;
}
