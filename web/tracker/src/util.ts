/*
 * util.ts: small helpers shared by several modules.
 *
 * The retry policy lives here because three senders share it (event batches, intervention responses,
 * the live channel's reconnects): exponential backoff with "equal jitter", i.e. a delay drawn
 * uniformly from [d/2, d] where d doubles per attempt up to a cap, so a fleet of browsers that lost the
 * server at the same moment does not come back in lockstep.
 */

export type Props = Record<string, unknown>;

export const iso = (ms: number): string => new Date(ms).toISOString();

export const trunc = (s: unknown, max: number): string => String(s == null ? '' : s).slice(0, max);

export const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/* Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, with equal jitter. */
export function backoff(attempt: number, baseMs: number, capMs: number, random: number): number {
    const d = Math.min(capMs, baseMs * Math.pow(2, Math.max(0, attempt - 1)));
    return Math.round(d / 2 + (random * d) / 2);
}

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

/* addEventListener that never lets a tracker bug escape into the host page. */
export function listen(target: EventTarget, type: string, fn: (ev: any) => void, capture = true): void {
    target.addEventListener(type, (ev) => safeCall(fn, ev), { capture, passive: type === 'scroll' });
}

export function readJson<T>(raw: string | null): T | null {
    try {
        return raw ? (JSON.parse(raw) as T) : null;
    } catch (e) {
        return null;
    }
}
