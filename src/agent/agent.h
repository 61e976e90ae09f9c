/*
 * agent.h - slow outbound calls (webhooks now, language models later) on a
 * thread of their own, so nothing slow ever blocks ingest or detection.
 *
 * agent_post() only queues (bounded; a full queue drops the call and counts
 * it); the agent thread POSTs with libcurl, with a timeout, and retries a
 * failed call (network error or 5xx) up to three times with backoff.
 */
#ifndef JOURNEY_AGENT_AGENT_H
#define JOURNEY_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

struct agent;

struct agent *agent_new(int64_t timeout_ms, size_t max_queue);
/* Waits for queued calls up to wait_ms, then stops. NULL-safe. */
void agent_free(struct agent *a, int64_t wait_ms);
/* Queues a JSON POST to url. 0, or -1 if the queue is full. Copies both. */
int agent_post(struct agent *a, const char *url, const char *json, size_t len);

#endif
