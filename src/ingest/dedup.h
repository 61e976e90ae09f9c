/*
 * dedup.h - the deduplication window: which (project, messageId) pairs were
 * stored in the last `window_ms`.
 *
 * SDKs resend a batch with the same messageIds when they did not get an
 * answer (timeouts, 5xx, a crash of ours after commit but before the reply),
 * sometimes with a changed body (a new sentAt). A unique index on messageId
 * would do this in the database, but a random-key B-tree on the per-event
 * path costs most of the ingest throughput, so the window lives in memory:
 *
 *   table: 256 shards by the key's top byte, each open addressing with linear
 *          probing, grown on its own (no resize touches more than 1/256 of
 *          the keys), 16-byte keys (XXH3-128 of the
 *          message id seeded with the project id; collisions are ~2^-64 per
 *          pair), backward-shift deletion, grown at 50% load.
 *   ring:  the keys in insertion order with their time, in fixed blocks
 *          (never copied), so expiry pops from
 *          the head: O(1) amortised per message, no scans.
 *
 * About 45 bytes per remembered message. Not thread-safe: the ingest
 * pipeline touches it only from the store's writer thread, which makes
 * check-and-add atomic with respect to commits (a retry racing its original
 * is caught, and a rolled-back batch is forgotten with dedup_remove()).
 */
#ifndef JOURNEY_INGEST_DEDUP_H
#define JOURNEY_INGEST_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dedup_key {
    uint64_t hi, lo;
};

struct dedup;

/* window_ms 0 disables: check_and_add then always answers "new". */
struct dedup *dedup_new(int64_t window_ms, size_t max_entries);
void dedup_free(struct dedup *d);

struct dedup_key dedup_key_make(int64_t project_id, const char *message_id, size_t len);

/* True if key was added within the window before now_ms (a duplicate).
 * Otherwise remembers it at now_ms and returns false. Expires old keys. */
bool dedup_check_and_add(struct dedup *d, struct dedup_key key, int64_t now_ms);
/* Forgets key (its transaction was rolled back). */
void dedup_remove(struct dedup *d, struct dedup_key key);
/* Forgets keys older than the window. */
void dedup_expire(struct dedup *d, int64_t now_ms);

size_t dedup_size(const struct dedup *d);
/* Keys forgotten before their time because max_entries was reached. */
uint64_t dedup_evicted(const struct dedup *d);
size_t dedup_memory_bytes(const struct dedup *d);

#endif
