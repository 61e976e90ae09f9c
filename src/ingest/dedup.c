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

struct dedup {
    int64_t window_ms;
    size_t max_entries;
    struct dedup_key *slots; /* {0,0} = empty */
    size_t cap;              /* power of two */
    size_t count;
    struct ring_entry *ring; /* circular, power-of-two capacity */
    size_t ring_cap, ring_head, ring_len;
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
    d->cap = 1024;
    d->slots = xcalloc(d->cap, sizeof *d->slots);
    d->ring_cap = 1024;
    d->ring = xmalloc(d->ring_cap * sizeof *d->ring);
    return d;
}

void dedup_free(struct dedup *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d->ring);
    free(d);
}

static size_t slot_of(const struct dedup *d, struct dedup_key k)
{
    return (size_t)k.lo & (d->cap - 1);
}

/* Index of k, or of the empty slot where it would go. */
static size_t find(const struct dedup *d, struct dedup_key k)
{
    size_t i = slot_of(d, k);
    while (!key_empty(d->slots[i]) && !key_eq(d->slots[i], k))
        i = (i + 1) & (d->cap - 1);
    return i;
}

static void grow(struct dedup *d)
{
    struct dedup_key *old = d->slots;
    size_t old_cap = d->cap;
    d->cap *= 2;
    d->slots = xcalloc(d->cap, sizeof *d->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (!key_empty(old[i]))
            d->slots[find(d, old[i])] = old[i];
    free(old);
}

static void table_delete(struct dedup *d, struct dedup_key k)
{
    size_t i = find(d, k);
    if (key_empty(d->slots[i]))
        return;
    /* Backward-shift deletion: pull later members of the probe run back. */
    size_t j = i;
    for (;;) {
        d->slots[i] = (struct dedup_key){0, 0};
        for (;;) {
            j = (j + 1) & (d->cap - 1);
            if (key_empty(d->slots[j])) {
                d->count--;
                return;
            }
            size_t home = slot_of(d, d->slots[j]);
            /* Move j back to i unless its home lies cyclically in (i, j]. */
            bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays)
                break;
        }
        d->slots[i] = d->slots[j];
        i = j;
    }
}

static void ring_push(struct dedup *d, struct dedup_key k, int64_t t)
{
    if (d->ring_len == d->ring_cap) {
        struct ring_entry *nr = xmalloc(2 * d->ring_cap * sizeof *nr);
        for (size_t i = 0; i < d->ring_len; i++)
            nr[i] = d->ring[(d->ring_head + i) & (d->ring_cap - 1)];
        free(d->ring);
        d->ring = nr;
        d->ring_cap *= 2;
        d->ring_head = 0;
    }
    d->ring[(d->ring_head + d->ring_len) & (d->ring_cap - 1)] = (struct ring_entry){k, t};
    d->ring_len++;
}

static void ring_pop(struct dedup *d)
{
    table_delete(d, d->ring[d->ring_head].key);
    d->ring_head = (d->ring_head + 1) & (d->ring_cap - 1);
    d->ring_len--;
}

void dedup_expire(struct dedup *d, int64_t now_ms)
{
    int64_t cutoff = now_ms - d->window_ms;
    while (d->ring_len > 0 && d->ring[d->ring_head].time_ms < cutoff)
        ring_pop(d);
}

bool dedup_check_and_add(struct dedup *d, struct dedup_key key, int64_t now_ms)
{
    if (d->window_ms <= 0)
        return false;
    dedup_expire(d, now_ms);
    size_t i = find(d, key);
    if (!key_empty(d->slots[i]))
        return true;
    while (d->count >= d->max_entries && d->ring_len > 0) {
        size_t before = d->count;
        ring_pop(d);
        if (d->count < before)
            d->evicted++;
    }
    if ((d->count + 1) * 2 > d->cap) {
        grow(d);
        i = find(d, key);
    }
    d->slots[i] = key;
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
    return d->cap * sizeof *d->slots + d->ring_cap * sizeof *d->ring;
}
