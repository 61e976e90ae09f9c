/*
 * index.ts: the browser entry point, bundled as dist/journey.js (the whole tracker, UI included).
 *
 * The install snippet (docs/tracker.md) makes `window.journey` an array with stub methods that push
 * `[method, ...args]` onto it, so a site can call journey.load(), track(), on() ... before this file
 * has arrived. Here the real object replaces the stub and the recorded calls are replayed in order.
 * Without a snippet (a plain <script src=".../journey.js"> followed by the site's own code calling
 * journey.load) there is nothing to replay. Loading the file twice is harmless: the second copy sees
 * the real object (it has a `version`) and does nothing.
 *
 * document.currentScript (set while a classic script, async, deferred or not, first runs) tells where
 * this file came from: its origin is the default host (else the page's origin).
 */
import { browserEnv } from './env';
import { createJourney } from './journey';

type Stub = unknown[] & { version?: string };

(function main(win: Window & typeof globalThis & { journey?: unknown }) {
    const stub = win.journey as Stub | undefined;
    if (stub && stub.version) return;
    const script = win.document.currentScript as HTMLScriptElement | null;
    const api = createJourney(browserEnv(win), script && script.src ? new URL(script.src).origin : win.location.origin) as unknown as Record<
        string,
        (...a: unknown[]) => unknown
    >;
    win.journey = api;
    if (Array.isArray(stub)) {
        for (const call of stub) {
            if (Array.isArray(call) && typeof api[call[0]] === 'function') api[call[0]](...call.slice(1));
        }
    }
})(window);
