/*
 * ratelimit.h - token buckets keyed by a string (client IP, write key).
 *
 * Each key has a bucket of `burst` tokens refilled at `rate` per second; a
 * request takes `cost` tokens or is refused with the time until enough will
 * be there (for Retry-After). Keys are hashed to 64 bits into 16 shards,
 * each a mutex and an open-addressing table; buckets that have refilled
 * completely carry no information and are dropped when a shard grows, so
 * memory follows the number of keys active in the last few seconds.
 */
#ifndef JOURNEY_HTTP_RATELIMIT_H
#define JOURNEY_HTTP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* rate <= 0 disables the limiter (every take succeeds). */
struct ratelimit *ratelimit_new(double rate_per_s, double burst);
void ratelimit_free(struct ratelimit *rl);

/* Takes cost tokens from key's bucket at time now_ns. True if allowed; when
 * refused, *retry_after_ms (if not NULL) is the wait before it would be. */
bool ratelimit_take(struct ratelimit *rl, const char *key, size_t len, double cost,
                    uint64_t now_ns, int64_t *retry_after_ms);
size_t ratelimit_keys(struct ratelimit *rl);

#endif
