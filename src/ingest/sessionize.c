/*
 * sessionize.c - see sessionize.h.
 */
#include "ingest/sessionize.h"

#include "common/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct visitor {
    uint64_t key;     /* XXH3-64 of the visitor id seeded with the project; 0 = empty */
    int64_t start_ms; /* first event of the current session */
    int64_t last_ms;  /* latest event of the current session */
};

/* SHARDS tables chosen by the key's top bits, each grown and swept of idle
 * visitors on its own (a sweep when that shard is next touched a minute
 * after its last one): no single rebuild walks every visitor on the
 * writer thread, which at a million visitors would hold commits up. */
#define SHARDS 256
#define SHARD_MIN 16
#define SWEEP_EVERY_MS 60000

struct shard {
    struct visitor *slots;
    size_t cap, count;
    int64_t last_sweep_ms;
};

struct sessionizer {
    int64_t timeout_ms;
    struct shard shards[SHARDS];
    size_t count;
};

struct sessionizer *sessionizer_new(int64_t timeout_ms)
{
    struct sessionizer *s = xcalloc(1, sizeof *s);
    s->timeout_ms = timeout_ms > 0 ? timeout_ms : 30 * 60 * 1000;
    for (int i = 0; i < SHARDS; i++) {
        s->shards[i].cap = SHARD_MIN;
        s->shards[i].slots = xcalloc(SHARD_MIN, sizeof *s->shards[i].slots);
    }
    return s;
}

void sessionizer_free(struct sessionizer *s)
{
    if (!s)
        return;
    for (int i = 0; i < SHARDS; i++)
        free(s->shards[i].slots);
    free(s);
}

static uint64_t visitor_key(int64_t project_id, const char *v, size_t n)
{
    uint64_t k = XXH3_64bits_withSeed(v, n, (XXH64_hash_t)project_id);
    return k ? k : 1;
}

static struct visitor *slot(struct shard *t, uint64_t key)
{
    size_t i = (size_t)key & (t->cap - 1);
    while (t->slots[i].key && t->slots[i].key != key)
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

/* Rebuilds one shard keeping visitors seen within the timeout. */
static void rehash(struct sessionizer *s, struct shard *t, size_t new_cap, int64_t keep_after_ms)
{
    struct visitor *old = t->slots;
    size_t old_cap = t->cap;
    t->cap = new_cap;
    t->slots = xcalloc(new_cap, sizeof *t->slots);
    s->count -= t->count;
    t->count = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key && old[i].last_ms >= keep_after_ms) {
            *slot(t, old[i].key) = old[i];
            t->count++;
        }
    }
    s->count += t->count;
    free(old);
}

static void format_id(int64_t start_ms, uint64_t key, char out[SESSION_ID_MAX])
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char tmp[16];
    int n = 0;
    uint64_t v = start_ms > 0 ? (uint64_t)start_ms : 0;
    do {
        tmp[n++] = digits[v % 36];
        v /= 36;
    } while (v && n < (int)sizeof tmp);
    char *p = out;
    *p++ = '~';
    while (n)
        *p++ = tmp[--n];
    snprintf(p, (size_t)(out + SESSION_ID_MAX - p), ".%08llx", (unsigned long long)(key >> 32));
}

static struct visitor *upsert(struct sessionizer *s, uint64_t key, int64_t now_ms)
{
    struct shard *t = &s->shards[key >> 56];
    if (now_ms - t->last_sweep_ms > SWEEP_EVERY_MS) {
        size_t cap = t->cap;
        while (cap > SHARD_MIN && t->count * 8 < cap) /* shrink after a busy hour */
            cap /= 2;
        rehash(s, t, cap, now_ms - 2 * s->timeout_ms);
        t->last_sweep_ms = now_ms;
    }
    if ((t->count + 1) * 2 > t->cap)
        rehash(s, t, t->cap * 2, INT64_MIN);
    struct visitor *v = slot(t, key);
    if (!v->key) {
        v->key = key;
        v->start_ms = v->last_ms = INT64_MIN;
        t->count++;
        s->count++;
    }
    return v;
}

void sessionize(struct sessionizer *s, int64_t project_id, const char *visitor, size_t len,
                int64_t ts_ms, int64_t now_ms, char out[SESSION_ID_MAX])
{
    uint64_t key = visitor_key(project_id, visitor, len);
    struct visitor *v = upsert(s, key, now_ms);
    if (v->start_ms == INT64_MIN || ts_ms > v->last_ms + s->timeout_ms) {
        /* First sight, or the gap since the last event ends the session. */
        v->start_ms = v->last_ms = ts_ms;
    } else if (ts_ms < v->start_ms - s->timeout_ms) {
        /* A late event from long before the current session: a session of
         * its own, without disturbing the current one. */
        format_id(ts_ms, key, out);
        return;
    } else if (ts_ms > v->last_ms) {
        /* An event a little before the session's start joins it too; the id
         * (from the start) stays stable. */
        v->last_ms = ts_ms;
    }
    format_id(v->start_ms, key, out);
}

static int64_t parse_start(const char *id)
{
    if (!id || id[0] != '~')
        return INT64_MIN;
    int64_t v = 0;
    for (const char *p = id + 1; *p && *p != '.'; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'z')
            d = *p - 'a' + 10;
        else
            return INT64_MIN;
        v = v * 36 + d;
    }
    return v;
}

void sessionize_restore(struct sessionizer *s, int64_t project_id, const char *visitor, size_t len,
                        const char *session_id, int64_t ts_ms)
{
    int64_t start = parse_start(session_id);
    if (start == INT64_MIN)
        return;
    uint64_t key = visitor_key(project_id, visitor, len);
    struct visitor *v = upsert(s, key, ts_ms);
    if (v->start_ms == INT64_MIN || start >= v->start_ms) {
        if (start != v->start_ms)
            v->last_ms = ts_ms;
        v->start_ms = start;
        if (ts_ms > v->last_ms)
            v->last_ms = ts_ms;
    }
}

size_t sessionizer_size(const struct sessionizer *s)
{
    return s->count;
}
