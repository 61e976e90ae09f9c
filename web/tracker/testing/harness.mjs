/*
 * harness.mjs: what every tracker test needs (test-only; not itself a test file, which is why it
 * lives outside test/: `node --test web/tracker/test/` runs every .mjs under test/).
 *
 *   await loadTracker()   the TypeScript sources bundled by esbuild for Node (ESM) into a temp file and
 *                         imported; the internals (createQueue, createIdentity, ...) are exported too
 *   await makeEnv(opts)   an Env (src/env.ts) around a fresh jsdom window (as env.win), with
 *                           clock    fake time: clock.tick(ms) runs due timers in order and lets
 *                                    promises settle in between; nothing ever sleeps
 *                           net      scripted fetch: net.reply(fn) decides each response; net.calls
 *                           beacons  what sendBeacon was given (accepted unless env.beaconOk = false)
 *                           sockets  FakeSocket instances: s.open(), s.fail(), s.deliver(obj)
 *                           storage  in-memory, shareable between envs to simulate a reload
 *   start(opts)           makeEnv + createJourney + load('KEY', {host: HOST, ...})
 *   sent(env)             every message that left, by fetch or beacon, in order
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { JSDOM } from 'jsdom';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
export const HOST = 'https://journey.test';
export const KEY = 'KEY';
export const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);

let modulePromise = null;

/* Bundle src/ once per test process and import it. */
export function loadTracker() {
    if (!modulePromise) {
        modulePromise = (async () => {
            const r = await build({
                stdin: {
                    contents: [
                        "export * from './journey';",
                        "export * from './queue';",
                        "export * from './session';",
                        "export * from './transport';",
                        "export * from './util';",
                        "export { memoryStorage, store, uuidFrom } from './env';",
                        "export { CHAT_NOTICE } from './ui/chat';",
                        "export { selector, elementText } from './autocapture/dom';",
                    ].join('\n'),
                    resolveDir: SRC,
                    loader: 'ts',
                    sourcefile: 'test-entry.ts',
                },
                bundle: true,
                format: 'esm',
                platform: 'neutral',
                target: 'es2019',
                sourcemap: 'inline',
                write: false,
                logLevel: 'error',
            });
            const dir = mkdtempSync(path.join(tmpdir(), 'journey-test-'));
            const file = path.join(dir, 'tracker.mjs');
            writeFileSync(file, r.outputFiles[0].text);
            try {
                return await import(pathToFileURL(file).href);
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        })();
    }
    return modulePromise;
}

/* Let every pending promise callback (and jsdom microtask) run. */
export async function settle() {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

export class FakeClock {
    constructor(start = T0) {
        this.t = start;
        this.timers = new Map();
        this.seq = 0;
        this.now = () => this.t;
        this.setTimeout = (fn, ms) => {
            const id = ++this.seq;
            this.timers.set(id, { id, at: this.t + Math.max(0, Number(ms) || 0), fn });
            return id;
        };
        this.clearTimeout = (id) => {
            this.timers.delete(id);
        };
    }

    next(limit) {
        let best = null;
        for (const t of this.timers.values()) {
            if (t.at <= limit && (!best || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t;
        }
        return best;
    }

    /* Advance `ms`, running due timers in time order with promises settled between them. */
    async tick(ms = 0) {
        const end = this.t + ms;
        await settle();
        for (let t; (t = this.next(end)); ) {
            this.timers.delete(t.id);
            this.t = t.at;
            t.fn();
            await settle();
        }
        this.t = end;
        await settle();
    }

    /* Delays of pending timers, relative to now, sorted. */
    pending() {
        return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
    }
}

export class MemoryStorage {
    constructor() {
        this.m = new Map();
        this.failWrites = false;
    }
    getItem(k) {
        return this.m.has(k) ? this.m.get(k) : null;
    }
    setItem(k, v) {
        if (this.failWrites) throw new Error('QuotaExceededError');
        this.m.set(k, String(v));
    }
    removeItem(k) {
        this.m.delete(k);
    }
}

function fakeNet(wire) {
    const calls = [];
    let reply = () => ({ status: 200 });
    const fetch = (url, init = {}) => {
        let body = init.body;
        try {
            body = JSON.parse(body);
        } catch (e) {
            /* not JSON */
        }
        const call = { url, init, body, method: init.method || 'GET' };
        calls.push(call);
        if (url.endsWith('/v1/batch')) wire.push(body);
        let r;
        try {
            r = reply(call, calls.length) || { status: 200 };
        } catch (e) {
            return Promise.reject(e);
        }
        if (r instanceof Error) return Promise.reject(r);
        const headers = r.headers || {};
        return Promise.resolve({
            status: r.status ?? 200,
            headers: { get: (n) => headers[n] ?? headers[n.toLowerCase()] ?? null },
            json: async () => r.json ?? {},
        });
    };
    return {
        fetch,
        calls,
        reply(fn) {
            reply = fn;
        },
        batches: () => calls.filter((c) => c.url.endsWith('/v1/batch')),
    };
}

export async function makeEnv(opts = {}) {
    const dom = new JSDOM(opts.html || '<!doctype html><html><head><title>Checkout</title></head><body></body></html>', {
        url: opts.url || 'https://shop.example/checkout?step=1',
        referrer: opts.referrer || 'https://search.example/',
        pretendToBeVisual: true,
    });
    const win = dom.window;
    const clock = opts.clock || new FakeClock();
    const wire = []; /* batch bodies in the order they left, by fetch or beacon */
    const net = fakeNet(wire);
    const beacons = [];
    const sockets = [];
    class FakeSocket {
        constructor(url) {
            this.url = url;
            this.closed = false;
            this.onopen = this.onclose = this.onmessage = null;
            sockets.push(this);
        }
        close() {
            this.closed = true;
        }
        open() {
            if (this.onopen) this.onopen({});
        }
        fail() {
            if (this.onclose) this.onclose({});
        }
        deliver(obj) {
            if (this.onmessage) this.onmessage({ data: JSON.stringify(obj) });
        }
    }
    const storage = opts.storage || new MemoryStorage();
    /* The Env (src/env.ts: internal names start with "_", the minifier renames them), plus test handles. */
    const env = {
        _win: win,
        _now: clock.now,
        _setTimeout: clock.setTimeout,
        _clearTimeout: clock.clearTimeout,
        _random: () => (opts.random ?? 0.5),
        _uuid: () => randomUUID(),
        _fetch: net.fetch,
        _beacon: (url, body) => {
            if (env.beaconOk === false) return false;
            beacons.push({ url, body: JSON.parse(body), raw: body });
            wire.push(JSON.parse(body));
            return true;
        },
        _socket: opts.socket === false ? undefined : FakeSocket,
        _storage: storage,
        /* test handles, not part of Env */
        win,
        storage,
        dom,
        clock,
        net,
        wire,
        beacons,
        sockets,
        beaconOk: true,
    };
    return env;
}

/* A loaded tracker on a fresh page. Options: env options plus `load` (journey.load options). */
export async function start(opts = {}) {
    const { createJourney } = await loadTracker();
    const env = opts.env || (await makeEnv(opts));
    const journey = createJourney(env, HOST);
    journey.load(KEY, { host: HOST, ...opts.load });
    await env.clock.tick(0);
    return { env, journey, clock: env.clock, net: env.net, win: env.win, doc: env.win.document };
}

/* Every message that left the page, by fetch or by beacon, in send order (duplicates kept). */
export function sent(env) {
    return env.wire.flatMap((body) => body.batch);
}

export const tracks = (env, event) => sent(env).filter((m) => m.type === 'track' && m.event === event);

export function click(win, el, init = {}) {
    el.dispatchEvent(new win.MouseEvent('click', { bubbles: true, cancelable: true, composed: true, ...init }));
}

export function key(win, target, k, init = {}) {
    const e = new win.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, composed: true, ...init });
    target.dispatchEvent(e);
    return e;
}
