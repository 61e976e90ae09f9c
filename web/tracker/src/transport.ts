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
import type { TimerId } from './env';
import type { Message, Queue } from './queue';
import { endpoint, iso, post, retryable, retryDelay, type Server } from './util';

export interface Transport {
    _schedule(urgent: boolean): void;
    _flush(): void;
    _beacon(): void;
    _stop(): void;
}

const MAX_IN_FLIGHT = 3;
const MAX_BATCH_BYTES = 480 * 1024; /* under the usual 500 KB batch limit */
const BEACON_MAX_BYTES = 60 * 1024;

/* `flushAt`: messages that trigger a flush, and the largest batch; `flushInterval`: ms a message may wait. */
export function createTransport(srv: Server, queue: Queue, flushAt: number, flushInterval: number): Transport {
    const env = srv._env;
    const auth = 'Basic ' + env._win.btoa(srv._writeKey + ':');
    const inFlight: Record<string, 1> = {};
    let requests = 0; /* in flight */
    let flushTimer: TimerId | undefined;
    let retryTimer: TimerId | undefined;
    let again = false; /* a flush was asked for while we could not send */
    let attempt = 0; /* consecutive retryable failures */
    let limit = flushAt; /* messages per batch; halves on 413 */

    function body(batch: Message[]): string {
        const sentAt = iso(env._now());
        return JSON.stringify({ batch: batch.map((m) => ({ ...m, sentAt })), sentAt });
    }

    function schedule(urgent: boolean): void {
        if (urgent || queue._size() >= flushAt) flush();
        else if (flushTimer === undefined && retryTimer === undefined) {
            flushTimer = env._setTimeout(flush, flushInterval);
        }
    }

    function flush(): void {
        env._clearTimeout(flushTimer);
        flushTimer = undefined;
        if (retryTimer !== undefined || requests >= MAX_IN_FLIGHT) {
            again = true;
            return;
        }
        const batch = queue._peek(limit, MAX_BATCH_BYTES, inFlight);
        if (!env._fetch || !batch.length) return;
        again = false;
        requests++;
        for (const m of batch) inFlight[m.messageId] = 1;
        post(env, srv._host + '/v1/batch', body(batch), { Authorization: auth }, (status, after) => done(batch, status, after));
    }

    function done(batch: Message[], status: number, retryAfter: string | null): void {
        requests--;
        for (const m of batch) delete inFlight[m.messageId];
        if (retryable(status)) {
            if (retryTimer === undefined) {
                attempt++;
                retryTimer = env._setTimeout(() => {
                    retryTimer = undefined;
                    flush();
                }, retryDelay(env, attempt, retryAfter));
            }
            return;
        }
        attempt = 0;
        if (status === 413 && batch.length > 1) {
            limit = Math.ceil(batch.length / 2);
            return flush();
        }
        queue._remove(batch); /* delivered, or refused for good */
        const left = queue._size();
        if (status === 413 || !left) limit = flushAt;
        if (again || limit < flushAt || left >= flushAt) flush();
        else if (left) schedule(false);
    }

    function beacon(): void {
        const send = env._beacon;
        if (!send) return flush();
        const url = endpoint(srv, '/beacon/v1/batch');
        for (;;) {
            const batch = queue._peek(Infinity, BEACON_MAX_BYTES, inFlight);
            if (!batch.length || !send(url, body(batch))) return;
            queue._remove(batch);
        }
    }

    /* Back online: do not sit out the rest of a long backoff. */
    env._win.addEventListener('online', () => {
        if (retryTimer === undefined) return;
        env._clearTimeout(retryTimer);
        retryTimer = undefined;
        flush();
    });

    return {
        _schedule: schedule,
        _flush: flush,
        _beacon: beacon,
        /* Forget pending timers (opt-out); a later schedule() starts afresh. */
        _stop() {
            env._clearTimeout(flushTimer);
            env._clearTimeout(retryTimer);
            flushTimer = retryTimer = undefined;
        },
    };
}
