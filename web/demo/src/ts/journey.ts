/*
 * The demo site's only door to the Journey tracker, used exactly as a customer
 * would: /journey.js is loaded by a plain <script defer> before this bundle,
 * then we fetch /demo/config.json ({"writeKey": "...", "host": "..."}) and
 * call journey.load(writeKey, {host}).
 *
 * This is the first install form of docs/tracker.md (no inline snippet, which
 * a strict CSP forbids). Calls made before load (a validation error typed in
 * the first second, a chat handler registered at start-up) wait in a small
 * queue and run, in order, right after load. If the tracker is missing (blocked, not built) or
 * the config cannot be read, the site keeps working and the queue is dropped:
 * analytics must never break the loan forms.
 */

export interface JourneyLoadOptions {
    host?: string;
}

export interface JourneyValidationOptions {
    form?: string;
}

/** The part of the tracker's public API this site uses (docs/tracker.md). */
export interface JourneyApi {
    load(writeKey: string, options?: JourneyLoadOptions): void;
    track(event: string, properties?: Record<string, unknown>): void;
    page(): void;
    identify(userId: string, traits?: Record<string, unknown>): void;
    validationError(field: string, message?: string, options?: JourneyValidationOptions): void;
    on(event: string, handler: (...args: unknown[]) => void): void;
}

declare global {
    interface Window {
        journey?: Partial<JourneyApi>;
    }
}

export interface DemoConfig {
    writeKey: string;
    host?: string;
}

export const CONFIG_URL = '/demo/config.json';

type Call = (journey: JourneyApi) => void;

let loaded = false;
let gaveUp = false;
let pending: Call[] = [];

/* Every call goes through the global, never a saved reference: docs/tracker.md
 * asks for that, since the object behind `window.journey` may be replaced. */
function run(call: Call): void {
    const journey = window.journey;
    if (!isTracker(journey)) return;
    try {
        call(journey);
    } catch (err) {
        // A tracker bug must not take the page down with it.
        console.warn('journey: tracker call failed', err);
    }
}

/** Runs `call` against the loaded tracker now, or right after load. */
export function withJourney(call: Call): void {
    if (loaded) run(call);
    else if (!gaveUp) pending.push(call);
}

function isTracker(j: Partial<JourneyApi> | undefined): j is JourneyApi {
    return (
        !!j &&
        typeof j.load === 'function' &&
        typeof j.track === 'function' &&
        typeof j.validationError === 'function' &&
        typeof j.on === 'function'
    );
}

export function parseConfig(body: unknown): DemoConfig | null {
    if (typeof body !== 'object' || body === null) return null;
    const { writeKey, host } = body as { writeKey?: unknown; host?: unknown };
    if (typeof writeKey !== 'string' || writeKey === '') return null;
    if (host !== undefined && typeof host !== 'string') return null;
    return host ? { writeKey, host } : { writeKey };
}

function giveUp(why: string): void {
    gaveUp = true;
    pending = [];
    console.warn(`journey: analytics disabled (${why}); the site works without it`);
}

/** Fetches the demo config and loads the tracker. Never rejects. */
export async function startJourney(): Promise<void> {
    const journey = window.journey;
    if (!isTracker(journey)) {
        giveUp('/journey.js did not load');
        return;
    }
    let config: DemoConfig | null = null;
    try {
        const res = await fetch(CONFIG_URL, { credentials: 'same-origin', cache: 'no-store' });
        if (res.ok) config = parseConfig(await res.json());
    } catch {
        config = null;
    }
    if (!config) {
        giveUp(`${CONFIG_URL} is missing or malformed`);
        return;
    }
    try {
        journey.load(config.writeKey, config.host ? { host: config.host } : {});
    } catch (err) {
        giveUp(`journey.load failed: ${String(err)}`);
        return;
    }
    loaded = true;
    const calls = pending;
    pending = [];
    for (const call of calls) run(call);
}

export function track(event: string, properties?: Record<string, unknown>): void {
    withJourney((j) => j.track(event, properties));
}

export function validationError(form: string, field: string, message: string): void {
    withJourney((j) => j.validationError(field, message, { form }));
}

export function onJourney(event: string, handler: (...args: unknown[]) => void): void {
    withJourney((j) => j.on(event, handler));
}
