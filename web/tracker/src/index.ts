/*
 * index.ts: the browser entry point, bundled as dist/journey.js.
 *
 * The install snippet (docs/tracker.md) makes `window.journey` an array with stub methods that push
 * `[method, ...args]` onto it, so a site can call journey.load(), track(), on() ... before this file
 * has arrived. Here the real object replaces the stub and the recorded calls are replayed in order.
 * Without a snippet (a plain <script src=".../journey.js"> followed by the site's own code calling
 * journey.load) there is nothing to replay. Loading the file twice is harmless: the second copy sees
 * the real object (it has a `version`) and does nothing.
 *
 * document.currentScript (set while a classic script, async, deferred or not, first runs) tells where
 * this file came from: its origin is the default host (else the page's origin). The lazily loaded UI,
 * journey-ui.js, is fetched from the same directory as this file, with the same CSP nonce; if that
 * fails (a site serving journey.js itself may not serve the UI file), from {host}/journey-ui.js.
 */
import { browserEnv, type UiKit } from './env';
import { createJourney } from './journey';

type Stub = unknown[] & { version?: string };

(function main(win: Window & typeof globalThis & { journey?: unknown }) {
    const stub = win.journey as Stub | undefined;
    if (stub && stub.version) return;
    const doc = win.document;
    const script = doc.currentScript as HTMLScriptElement | null;
    const src = script && script.src;
    const env = browserEnv(win);

    /* The kit arrives as the detail of a "journeyui" event on the element, while the file runs
     * (ui/index.ts); by `load` it has, or the file was something else: reject (a no-op if resolved). */
    const fetchUi = (url: string) =>
        new Promise<UiKit>((resolve, reject) => {
            const s = doc.createElement('script');
            s.src = url;
            if (script && script.nonce) s.nonce = script.nonce;
            s.addEventListener('journeyui', (e) => resolve((e as CustomEvent<UiKit>).detail));
            s.onload = s.onerror = () => {
                s.remove();
                reject();
            };
            doc.head.appendChild(s);
        });
    env.loadUi = (host) => {
        const fallback = host + '/journey-ui.js';
        const near = src ? new URL('journey-ui.js', src).href : fallback;
        return fetchUi(near).catch(() => (near === fallback ? Promise.reject() : fetchUi(fallback)));
    };

    const api = createJourney(env, src ? new URL(src).origin : win.location.origin) as unknown as Record<
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
