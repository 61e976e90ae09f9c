/*
 * transport.ts: moves the outbox (queue.ts) to the server.
 *
 *   schedule(urgent) ──> flush() ──POST /v1/batch──> done(status)
 *     (1 s timer, 20 queued,   ▲  up to MAX_IN_FLIGHT     │ 2xx        remove the batch
 *      or urgent: at once)     │  requests at a time       │ 413, n>1   halve the batch size, resend
 *                              │                           │ 400/401/4xx, 413 alone: remove (refused)
 *                              └──── retry timer <─────────┘ 0/408/429/5xx: backoff 500 ms..30 s,
 *                                                                          or Retry-After
 *
 * Messages leave the queue only when the server answered for them, so the same messageId is re-sent
 * on every retry and across reloads. Messages in flight are remembered (`inFlight`) and left out of
 * the next batch, which lets an interaction event go out at once even while an earlier request is
 * still on its way. While a retry is pending nothing else is sent: the server said it is down or busy.
 * `sentAt` is stamped on the copies that go on the wire, never stored. On 413 the batch limit halves
 * until the oversized message travels alone and is dropped; the limit returns to flushAt after that
 * drop or once the queue is empty.
 *
 * beacon() is for the page going away: it hands the queue (minus what is in flight: those are
 * keepalive requests that outlive the page) to navigator.sendBeacon in chunks of at most ~60 KB
 * (browsers cap in-flight beacon data at 64 KB), as text/plain (the only type a cross-origin beacon
 * can carry without a preflight) with the write key in the query string (a beacon cannot set
 * headers). Chunks the browser accepted are removed; the rest wait for the next page.
 */
import type { Env, TimerId } from './env';
import type { Message, Queue } from './queue';
import { backoff, iso, retryAfterMs, retryable } from './util';

export interface Transport {
    schedule(urgent: boolean): void;
    flush(): void;
    beacon(): void;
    stop(): void;
}

export interface TransportOptions {
    host: string;
    writeKey: string;
    flushAt: number;
    flushInterval: number;
}

const MAX_IN_FLIGHT = 3;
const MAX_BATCH_BYTES = 480 * 1024; /* under the usual 500 KB batch limit */
const KEEPALIVE_MAX_BYTES = 60 * 1024; /* keepalive requests share the 64 KB beacon budget */
const BEACON_MAX_BYTES = 60 * 1024;
const RETRY_BASE_MS = 500;
const RETRY_CAP_MS = 30 * 1000;

export function createTransport(env: Env, queue: Queue, o: TransportOptions): Transport {
    const auth = 'Basic ' + env.win.btoa(o.writeKey + ':');
    const inFlight: Record<string, 1> = {};
    let requests = 0; /* in flight */
    let flushTimer: TimerId | undefined;
    let retryTimer: TimerId | undefined;
    let again = false; /* a flush was asked for while we could not send */
    let attempt = 0; /* consecutive retryable failures */
    let limit = o.flushAt; /* messages per batch; halves on 413 */

    function body(batch: Message[]): string {
        const sentAt = iso(env.now());
        return JSON.stringify({ batch: batch.map((m) => ({ ...m, sentAt })), sentAt });
    }

    function schedule(urgent: boolean): void {
        if (urgent || queue.size() >= o.flushAt) flush();
        else if (flushTimer === undefined && retryTimer === undefined) {
            flushTimer = env.setTimeout(flush, o.flushInterval);
        }
    }

    function flush(): void {
        env.clearTimeout(flushTimer);
        flushTimer = undefined;
        const fetch = env.fetch;
        if (retryTimer !== undefined || requests >= MAX_IN_FLIGHT) {
            again = true;
            return;
        }
        const batch = queue.peek(limit, MAX_BATCH_BYTES, inFlight);
        if (!fetch || !batch.length) return;
        again = false;
        requests++;
        for (const m of batch) inFlight[m.messageId] = 1;
        const json = body(batch);
        fetch(o.host + '/v1/batch', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: auth },
            body: json,
            keepalive: json.length < KEEPALIVE_MAX_BYTES,
            credentials: 'omit',
        }).then(
            (r) => done(batch, r.status, r.headers.get('Retry-After')),
            () => done(batch, 0, null),
        );
    }

    function done(batch: Message[], status: number, retryAfter: string | null): void {
        requests--;
        for (const m of batch) delete inFlight[m.messageId];
        if (retryable(status)) {
            if (retryTimer === undefined) {
                attempt++;
                const delay = retryAfterMs(retryAfter, env.now()) ?? backoff(attempt, RETRY_BASE_MS, RETRY_CAP_MS, env.random());
                retryTimer = env.setTimeout(() => {
                    retryTimer = undefined;
                    flush();
                }, delay);
            }
            return;
        }
        attempt = 0;
        if (status === 413 && batch.length > 1) {
            limit = Math.ceil(batch.length / 2);
            return flush();
        }
        queue.remove(batch); /* delivered, or refused for good */
        const left = queue.size();
        if (status === 413 || !left) limit = o.flushAt;
        if (again || limit < o.flushAt || left >= o.flushAt) flush();
        else if (left) schedule(false);
    }

    function beacon(): void {
        const send = env.beacon;
        if (!send) return flush();
        const url = o.host + '/beacon/v1/batch?writeKey=' + encodeURIComponent(o.writeKey);
        for (;;) {
            const batch = queue.peek(Infinity, BEACON_MAX_BYTES, inFlight);
            if (!batch.length || !send(url, body(batch))) return;
            queue.remove(batch);
        }
    }

    /* Back online: do not sit out the rest of a long backoff. */
    env.win.addEventListener('online', () => {
        if (retryTimer === undefined) return;
        env.clearTimeout(retryTimer);
        retryTimer = undefined;
        flush();
    });

    return {
        schedule,
        flush,
        beacon,
        /* Forget pending timers (opt-out); a later schedule() starts afresh. */
        stop() {
            env.clearTimeout(flushTimer);
            env.clearTimeout(retryTimer);
            flushTimer = retryTimer = undefined;
        },
    };
}
