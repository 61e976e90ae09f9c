/*
 * util.ts: small helpers shared by several modules.
 *
 * The retry policy lives here because three senders share it (event batches, intervention responses,
 * the live channel's reconnects): exponential backoff with "equal jitter", i.e. a delay drawn
 * uniformly from [d/2, d] where d doubles per attempt up to a cap, so a fleet of browsers that lost the
 * server at the same moment does not come back in lockstep.
 */

import type { Env } from './env';
import type { Identity } from './session';

export type Props = Record<string, unknown>;

export const enc = encodeURIComponent;

/* Where and as whom the tracker talks to the Journey server: shared by transport, live, interventions. */
export interface Server {
    _env: Env;
    _host: string; /* no trailing slash */
    _writeKey: string;
    _ids: Identity; /* only read by the server-facing modules, never touched */
}

/* {host}{path}?writeKey=KEY{more}: beacons, sockets and the intervention routes carry the write key
 * in the query string (a beacon and a WebSocket cannot set an Authorization header). */
export const endpoint = (s: Server, path: string, more = ''): string =>
    s._host + path + '?writeKey=' + enc(s._writeKey) + more;

export const iso = (ms: number): string => new Date(ms).toISOString();

export const trunc = (s: unknown, max: number): string => String(s == null ? '' : s).slice(0, max);

export const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/* Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, with equal jitter. */
export function backoff(attempt: number, baseMs: number, capMs: number, random: number): number {
    const d = Math.min(capMs, baseMs * Math.pow(2, Math.max(0, attempt - 1)));
    return Math.round(d / 2 + (random * d) / 2);
}

/* Delay before retry number `attempt` of a request: the server's Retry-After when it sent one, else
 * the backoff from 500 ms up to 30 s. */
export const retryDelay = (env: Env, attempt: number, retryAfter: string | null): number =>
    retryAfterMs(retryAfter, env._now()) ?? backoff(attempt, 500, 30000, env._random());

/* POST a JSON `body` with `headers` (Content-Type added), never with credentials, keepalive when it
 * fits the browsers' 64 KB keepalive budget. done(status, Retry-After) runs once; status 0 stands for
 * a network error. Uses env._fetch, so it does not count as page activity. */
export function post(
    env: Env,
    url: string,
    body: string,
    headers: Record<string, string>,
    done: (status: number, retryAfter: string | null) => void,
): void {
    const fetch = env._fetch;
    if (!fetch) return;
    headers['Content-Type'] = 'application/json';
    fetch(url, { method: 'POST', headers, body, keepalive: body.length < KEEPALIVE_MAX_BYTES, credentials: 'omit' }).then(
        (r) => done(r.status, r.headers.get('Retry-After')),
        () => done(0, null),
    );
}

const KEEPALIVE_MAX_BYTES = 60 * 1024; /* keepalive requests share the 64 KB beacon budget */

/* Status 0 stands for a network error (fetch rejected). */
export const retryable = (status: number): boolean =>
    status === 0 || status === 408 || status === 429 || status >= 500;

const RETRY_AFTER_CAP_MS = 10 * 60 * 1000;

/* Retry-After as milliseconds (seconds or an HTTP date), capped at 10 minutes; null when absent/bad. */
export function retryAfterMs(header: string | null, nowMs: number): number | null {
    if (!header) return null;
    const h = header.trim();
    const ms = /^\d+$/.test(h) ? Number(h) * 1000 : Date.parse(h) - nowMs;
    return ms >= 0 ? Math.min(ms, RETRY_AFTER_CAP_MS) : null;
}

/* Call fn(arg); an exception (a tracker bug, or a site handler's) goes no further. */
export function safeCall(fn: (arg: any) => unknown, arg?: unknown): unknown {
    try {
        return fn(arg);
    } catch (e) {
        return undefined;
    }
}

/* addEventListener that never lets a tracker bug escape into the host page (capture phase unless
 * told otherwise; scroll listeners passive). Returns the function that removes the listener. */
export function listen(target: EventTarget, type: string, fn: (ev: any) => unknown, capture = true): () => void {
    const opts = { capture, passive: type === 'scroll' };
    const guarded = (ev: Event): unknown => safeCall(fn, ev);
    target.addEventListener(type, guarded, opts);
    return () => target.removeEventListener(type, guarded, opts);
}

export function readJson<T>(raw: string | null): T | null {
    try {
        return raw ? (JSON.parse(raw) as T) : null;
    } catch (e) {
        return null;
    }
}
