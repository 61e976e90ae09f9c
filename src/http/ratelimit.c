/*
 * ratelimit.c - see ratelimit.h.
 */
#include "http/ratelimit.h"

#include "common/util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <xxhash.h>

#define SHARDS 16

struct bucket {
    uint64_t key; /* 0 = empty */
    double tokens;
    uint64_t last_ns;
};

struct shard {
    pthread_mutex_t lock;
    struct bucket *slots;
    size_t cap, count;
};

struct ratelimit {
    double rate, burst;
    struct shard shards[SHARDS];
};

struct ratelimit *ratelimit_new(double rate_per_s, double burst)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    rl->rate = rate_per_s;
    rl->burst = burst < 1 ? 1 : burst;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].lock, NULL);
        rl->shards[i].cap = 64;
        rl->shards[i].slots = xcalloc(64, sizeof(struct bucket));
    }
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_destroy(&rl->shards[i].lock);
        free(rl->shards[i].slots);
    }
    free(rl);
}

static struct bucket *find(struct shard *sh, uint64_t key)
{
    size_t i = (size_t)(key >> 8) & (sh->cap - 1);
    while (sh->slots[i].key && sh->slots[i].key != key)
        i = (i + 1) & (sh->cap - 1);
    return &sh->slots[i];
}

/* Rebuilds the shard without full buckets; doubles it if still half full. */
static void compact(struct ratelimit *rl, struct shard *sh, uint64_t now_ns)
{
    struct bucket *old = sh->slots;
    size_t old_cap = sh->cap, live = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key)
            continue;
        double t = old[i].tokens + (double)(now_ns - old[i].last_ns) / 1e9 * rl->rate;
        if (t < rl->burst)
            live++;
    }
    size_t cap = old_cap;
    while ((live + 1) * 2 > cap)
        cap *= 2;
    sh->slots = xcalloc(cap, sizeof *sh->slots);
    sh->cap = cap;
    sh->count = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key)
            continue;
        double t = old[i].tokens + (double)(now_ns - old[i].last_ns) / 1e9 * rl->rate;
        if (t >= rl->burst)
            continue;
        *find(sh, old[i].key) = old[i];
        sh->count++;
    }
    free(old);
}

bool ratelimit_take(struct ratelimit *rl, const char *key, size_t len, double cost,
                    uint64_t now_ns, int64_t *retry_after_ms)
{
    if (!rl || rl->rate <= 0)
        return true;
    uint64_t h = XXH3_64bits(key, len);
    if (!h)
        h = 1;
    struct shard *sh = &rl->shards[h % SHARDS];
    pthread_mutex_lock(&sh->lock);
    struct bucket *b = find(sh, h);
    if (!b->key) {
        if ((sh->count + 1) * 2 > sh->cap) {
            compact(rl, sh, now_ns);
            b = find(sh, h);
        }
        b->key = h;
        b->tokens = rl->burst;
        b->last_ns = now_ns;
        sh->count++;
    }
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) / 1e9 * rl->rate;
        if (b->tokens > rl->burst)
            b->tokens = rl->burst;
        b->last_ns = now_ns;
    }
    /* A single request costing more than the whole bucket passes when the
     * bucket is full, or it could never pass. */
    if (cost > rl->burst)
        cost = rl->burst;
    bool ok = b->tokens >= cost;
    if (ok) {
        b->tokens -= cost;
    } else if (retry_after_ms) {
        double need = cost - b->tokens;
        *retry_after_ms = (int64_t)ceil(need / rl->rate * 1000.0);
    }
    pthread_mutex_unlock(&sh->lock);
    return ok;
}

size_t ratelimit_keys(struct ratelimit *rl)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].lock);
        n += rl->shards[i].count;
        pthread_mutex_unlock(&rl->shards[i].lock);
    }
    return n;
}
