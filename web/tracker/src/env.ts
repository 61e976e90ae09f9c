/*
 * env.ts: everything the tracker takes from the outside world, in one object.
 *
 * No other module touches the global clock, timers, `fetch`, `sendBeacon`, `WebSocket`, randomness
 * or storage directly: they ask the Env. index.ts builds the real one from the browser window; the
 * tests build one around a jsdom window with a fake clock, a scripted fetch and an in-memory storage,
 * so every timing rule (1 s flush, backoff, 30 min session, 1 s dead click, 5 s heartbeat) is tested
 * without sleeping.
 *
 * `fetch` is captured here, before autocapture wraps `window.fetch` to notice the page's own network
 * requests: the tracker's requests must not count as "something happened" after a click.
 */

import { safeCall } from './util';

export interface KV {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
}

export interface HttpResponse {
    status: number;
    headers: { get(name: string): string | null };
    json(): Promise<unknown>;
}

export type FetchFn = (url: string, init: RequestInit) => Promise<HttpResponse>;

/* The part of WebSocket the live channel uses. */
export interface SocketLike {
    onopen: ((ev: any) => void) | null;
    onclose: ((ev: any) => void) | null;
    onmessage: ((ev: any) => void) | null;
    close(): void;
}

export type TimerId = ReturnType<typeof setTimeout> | number;

export interface Env {
    _win: Window & typeof globalThis;
    _now(): number;
    _setTimeout(fn: () => void, ms: number): TimerId;
    _clearTimeout(id: TimerId | undefined): void;
    _random(): number;
    _uuid(): string;
    _fetch: FetchFn | undefined;
    _beacon: ((url: string, body: string) => boolean) | undefined;
    _socket: (new (url: string) => SocketLike) | undefined;
    _storage: KV;
}

/* Storage as the tracker uses it: never throws. get() is null for missing or unreadable; set()
 * stores a string (null removes) and says whether the browser accepted it (false: quota, gone). */
export interface Store {
    _get(key: string): string | null;
    _set(key: string, value: string | null): boolean;
}

export function store(kv: KV): Store {
    return {
        _get(k) {
            try {
                return kv.getItem(k);
            } catch (e) {
                return null;
            }
        },
        _set(k, v) {
            try {
                if (v === null) kv.removeItem(k);
                else kv.setItem(k, v);
                return true;
            } catch (e) {
                return false;
            }
        },
    };
}

/* Storage that lives and dies with the page: the fallback when localStorage is unavailable. */
export function memoryStorage(): KV {
    const m: Record<string, string> = Object.create(null);
    return {
        getItem: (k) => (k in m ? m[k] : null),
        setItem: (k, v) => {
            m[k] = String(v);
        },
        removeItem: (k) => {
            delete m[k];
        },
    };
}

/* localStorage if it works (it throws in some private modes and sandboxed iframes), else memory. */
export function safeStorage(win: Window): KV {
    try {
        const s = win.localStorage;
        s.setItem('journey.probe', '1');
        s.removeItem('journey.probe');
        return s;
    } catch (e) {
        return memoryStorage();
    }
}

/* RFC 4122 version 4 from 16 random bytes. */
export function uuidFrom(bytes: Uint8Array): string {
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    let s = '';
    for (let i = 0; i < 16; i++) {
        s += (bytes[i] + 256).toString(16).slice(1) + (i === 3 || i === 5 || i === 7 || i === 9 ? '-' : '');
    }
    return s;
}

export function browserEnv(win: Window & typeof globalThis): Env {
    const nav = win.navigator;
    const cr = win.crypto;
    const f = win.fetch;
    return {
        _win: win,
        _now: () => Date.now(),
        /* timer callbacks are guarded like listeners: a tracker bug must not surface in the page */
        _setTimeout: (fn, ms) => win.setTimeout(() => safeCall(fn), ms),
        _clearTimeout: (id) => win.clearTimeout(id as number),
        _random: Math.random,
        _uuid: () => uuidFrom(cr.getRandomValues(new Uint8Array(16))),
        _fetch: f ? (url, init) => f.call(win, url, init) : undefined,
        _beacon: nav.sendBeacon ? (url, body) => nav.sendBeacon(url, body) : undefined,
        _socket: win.WebSocket,
        _storage: safeStorage(win),
    };
}
