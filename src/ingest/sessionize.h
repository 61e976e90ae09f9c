/*
 * sessionize.h - session ids for messages that do not carry one.
 *
 * Trackers that know sessions send an id (context.sessionId, PostHog's
 * $session_id) and it is kept as is. For the rest, a session is a visitor's
 * (anonymousId, else userId) run of events with no gap longer than the
 * timeout (30 minutes by default). The id is derived from the visitor and the
 * session's first event time, "~<start ms in base 36>.<visitor hash>", so the
 * same history always gives the same ids, and a restart can rebuild the
 * state from the stored events of the last timeout period
 * (sessionize_restore).
 *
 * The state is one small entry per visitor seen within the timeout (24
 * bytes + table overhead), in 256 shards grown and swept of idle visitors
 * one at a time, so no rebuild walks every visitor at once. Not thread-safe:
 * used on the store's writer thread only, where messages are seen in commit
 * order.
 */
#ifndef JOURNEY_INGEST_SESSIONIZE_H
#define JOURNEY_INGEST_SESSIONIZE_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_ID_MAX 32

struct sessionizer;

struct sessionizer *sessionizer_new(int64_t timeout_ms);
void sessionizer_free(struct sessionizer *s);

/* Writes the session id of an event by `visitor` (len bytes) at ts_ms into
 * out and advances the visitor's state. now_ms drives eviction. */
void sessionize(struct sessionizer *s, int64_t project_id, const char *visitor, size_t len,
                int64_t ts_ms, int64_t now_ms, char out[SESSION_ID_MAX]);
/* Feeds back a stored event's derived session id (from a restart scan). */
void sessionize_restore(struct sessionizer *s, int64_t project_id, const char *visitor,
                        size_t len, const char *session_id, int64_t ts_ms);
size_t sessionizer_size(const struct sessionizer *s);

#endif
