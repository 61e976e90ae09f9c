/*
 * dedup.c - see dedup.h.
 */
#include "ingest/dedup.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct ring_entry {
    struct dedup_key key;
    int64_t time_ms;
};

/* The table is DEDUP_SHARDS independent open-addressing tables, chosen by
 * the key's top bits, each grown on its own: a resize rehashes 1/256 of the
 * keys (~16k at 4M remembered, well under a millisecond) instead of all of
 * them at once, which stalled the writer for ~1 s at 4M keys (bench/README).
 * The ring is a list of fixed blocks for the same reason: it never copies. */
#define DEDUP_SHARDS 256
#define DEDUP_SHARD_MIN 64
#define RING_BLOCK 4096

struct shard {
    struct dedup_key *slots; /* {0,0} = empty */
    size_t cap;              /* power of two */
    size_t count;
};

struct ring_block {
    struct ring_block *next;
    struct ring_entry e[RING_BLOCK];
};

struct dedup {
    int64_t window_ms;
    size_t max_entries;
    struct shard shards[DEDUP_SHARDS];
    size_t count;
    /* the ring: entries [head_i, ...) of the head block up to tail_i of the
     * tail block, in insertion order */
    struct ring_block *head, *tail;
    size_t head_i, tail_i, ring_len, ring_blocks;
    uint64_t evicted;
};

static bool key_empty(struct dedup_key k)
{
    return k.hi == 0 && k.lo == 0;
}

static bool key_eq(struct dedup_key a, struct dedup_key b)
{
    return a.hi == b.hi && a.lo == b.lo;
}

struct dedup_key dedup_key_make(int64_t project_id, const char *message_id, size_t len)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(message_id, len, (XXH64_hash_t)project_id);
    struct dedup_key k = {h.high64, h.low64};
    if (key_empty(k))
        k.lo = 1;
    return k;
}

struct dedup *dedup_new(int64_t window_ms, size_t max_entries)
{
    struct dedup *d = xcalloc(1, sizeof *d);
    d->window_ms = window_ms;
    d->max_entries = max_entries ? max_entries : 1;
    for (int i = 0; i < DEDUP_SHARDS; i++) {
        d->shards[i].cap = DEDUP_SHARD_MIN;
        d->shards[i].slots = xcalloc(DEDUP_SHARD_MIN, sizeof *d->shards[i].slots);
    }
    return d;
}

void dedup_free(struct dedup *d)
{
    if (!d)
        return;
    for (int i = 0; i < DEDUP_SHARDS; i++)
        free(d->shards[i].slots);
    while (d->head) {
        struct ring_block *next = d->head->next;
        free(d->head);
        d->head = next;
    }
    free(d);
}

static struct shard *shard_of(struct dedup *d, struct dedup_key k)
{
    return &d->shards[k.hi >> 56];
}

static size_t slot_of(const struct shard *t, struct dedup_key k)
{
    return (size_t)k.lo & (t->cap - 1);
}

/* Index of k in t, or of the empty slot where it would go. */
static size_t find(const struct shard *t, struct dedup_key k)
{
    size_t i = slot_of(t, k);
    while (!key_empty(t->slots[i]) && !key_eq(t->slots[i], k))
        i = (i + 1) & (t->cap - 1);
    return i;
}

static void grow(struct shard *t)
{
    struct dedup_key *old = t->slots;
    size_t old_cap = t->cap;
    t->cap *= 2;
    t->slots = xcalloc(t->cap, sizeof *t->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (!key_empty(old[i]))
            t->slots[find(t, old[i])] = old[i];
    free(old);
}

static void table_delete(struct dedup *d, struct dedup_key k)
{
    struct shard *t = shard_of(d, k);
    size_t i = find(t, k);
    if (key_empty(t->slots[i]))
        return;
    /* Backward-shift deletion: pull later members of the probe run back. */
    size_t j = i;
    for (;;) {
        t->slots[i] = (struct dedup_key){0, 0};
        for (;;) {
            j = (j + 1) & (t->cap - 1);
            if (key_empty(t->slots[j])) {
                t->count--;
                d->count--;
                return;
            }
            size_t home = slot_of(t, t->slots[j]);
            /* Move j back to i unless its home lies cyclically in (i, j]. */
            bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays)
                break;
        }
        t->slots[i] = t->slots[j];
        i = j;
    }
}

static void ring_push(struct dedup *d, struct dedup_key k, int64_t t)
{
    if (!d->tail || d->tail_i == RING_BLOCK) {
        struct ring_block *b = xmalloc(sizeof *b);
        b->next = NULL;
        if (d->tail)
            d->tail->next = b;
        else
            d->head = b;
        d->tail = b;
        d->tail_i = 0;
        d->ring_blocks++;
    }
    d->tail->e[d->tail_i++] = (struct ring_entry){k, t};
    d->ring_len++;
}

static const struct ring_entry *ring_front(const struct dedup *d)
{
    return d->ring_len ? &d->head->e[d->head_i] : NULL;
}

static void ring_pop(struct dedup *d)
{
    table_delete(d, d->head->e[d->head_i].key);
    d->ring_len--;
    if (++d->head_i == RING_BLOCK || d->ring_len == 0) {
        bool last = d->head == d->tail;
        struct ring_block *next = d->head->next;
        if (last && d->ring_len == 0 && d->head_i < RING_BLOCK) {
            d->head_i = d->tail_i = 0; /* empty: reuse the block from its start */
            return;
        }
        free(d->head);
        d->ring_blocks--;
        d->head = next;
        d->head_i = 0;
        if (!d->head) {
            d->tail = NULL;
            d->tail_i = 0;
        }
    }
}

void dedup_expire(struct dedup *d, int64_t now_ms)
{
    int64_t cutoff = now_ms - d->window_ms;
    const struct ring_entry *f;
    while ((f = ring_front(d)) && f->time_ms < cutoff)
        ring_pop(d);
}

bool dedup_check_and_add(struct dedup *d, struct dedup_key key, int64_t now_ms)
{
    if (d->window_ms <= 0)
        return false;
    dedup_expire(d, now_ms);
    struct shard *t = shard_of(d, key);
    size_t i = find(t, key);
    if (!key_empty(t->slots[i]))
        return true;
    bool moved = false;
    while (d->count >= d->max_entries && d->ring_len > 0) {
        size_t before = d->count;
        ring_pop(d);
        if (d->count < before)
            d->evicted++;
        moved = true;
    }
    if ((t->count + 1) * 2 > t->cap) {
        grow(t);
        moved = true;
    }
    if (moved) /* evictions shift members of probe runs; a grow rehashes */
        i = find(t, key);
    t->slots[i] = key;
    t->count++;
    d->count++;
    ring_push(d, key, now_ms);
    return false;
}

void dedup_remove(struct dedup *d, struct dedup_key key)
{
    /* The ring keeps its entry; popping it later finds nothing to delete. */
    table_delete(d, key);
}

size_t dedup_size(const struct dedup *d)
{
    return d->count;
}

uint64_t dedup_evicted(const struct dedup *d)
{
    return d->evicted;
}

size_t dedup_memory_bytes(const struct dedup *d)
{
    size_t n = d->ring_blocks * sizeof(struct ring_block);
    for (int i = 0; i < DEDUP_SHARDS; i++)
        n += d->shards[i].cap * sizeof *d->shards[i].slots;
    return n;
}
