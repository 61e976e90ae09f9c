/*
 * live.ts: the channel interventions arrive on.
 *
 *            start()                        onopen: failures = 0, stop polling
 *               │                                ▲
 *               ▼                                │
 *   ┌──> connect: WebSocket {ws(s)://host}/v1/live?writeKey&sessionId&anonymousId
 *   │           │ onclose (never opened: failures++)
 *   │           ▼
 *   └── wait: 1 s, 2 s, 4 s ... 30 s (equal jitter); once failures >= 3, start polling
 *             GET /v1/interventions/{sessionId}/pending every 5 s and keep retrying the socket
 *             every ~30 s in the background
 *
 * A new session id (timeout, reset(), another tab) means restart(): close, reconnect at once with the
 * new id (the poll reads the id on every tick). stop() is for opt-out and for pagehide: an open
 * WebSocket keeps a page out of the back/forward cache, so the page closes it when hidden away and
 * starts again on pageshow. Polls are skipped while the tab is hidden (nobody would see the result,
 * and the server marks what it returns as delivered); 401/403 on a poll stop polling (bad write key).
 * The poll uses env._fetch, so it does not count as page activity for dead clicks.
 */
import type { SocketLike, TimerId } from './env';
import { backoff, enc, endpoint, safeCall, type Server } from './util';

export interface Live {
    _start(): void;
    _stop(): void;
    _restart(): void;
}

const BASE_MS = 1000;
const CAP_MS = 30000;
const POLL_MS = 5000;
const FAILURES_BEFORE_POLLING = 3;

/* `onMessage` gets every JSON message from the socket, and each polled intervention. */
export function createLive(srv: Server, onMessage: (msg: unknown) => void): Live {
    const env = srv._env;
    const ids = srv._ids;
    let running = false;
    let ws: SocketLike | null = null;
    let failures = 0; /* connection attempts in a row that never opened */
    let reconnectTimer: TimerId | undefined;
    let pollTimer: TimerId | undefined;
    let polling = false;

    function connect(): void {
        reconnectTimer = undefined;
        const Socket = env._socket;
        if (!running) return;
        if (!Socket) return startPolling();
        const url = endpoint(
            srv,
            '/v1/live',
            '&sessionId=' + enc(ids._sessionId(false)) + '&anonymousId=' + enc(ids._anonymousId()),
        ).replace(/^http/, 'ws');
        let s: SocketLike;
        try {
            s = new Socket(url);
        } catch (e) {
            failures++;
            return retry();
        }
        let opened = false;
        ws = s;
        s.onopen = () => {
            opened = true;
            failures = 0;
            stopPolling();
        };
        s.onmessage = (e) => {
            let msg: unknown;
            try {
                msg = JSON.parse(String(e.data));
            } catch (x) {
                return;
            }
            safeCall(onMessage, msg);
        };
        s.onclose = () => {
            if (ws !== s) return; /* closed on purpose */
            ws = null;
            if (!opened) failures++;
            retry();
        };
    }

    function retry(): void {
        if (!running) return;
        if (failures >= FAILURES_BEFORE_POLLING) startPolling();
        /* attempt n waits 1 s * 2^(n-1); a socket that was open and dropped starts again at 1 s */
        const attempt = failures >= FAILURES_BEFORE_POLLING ? 99 : Math.max(1, failures);
        const delay = backoff(attempt, BASE_MS, CAP_MS, env._random());
        reconnectTimer = env._setTimeout(connect, delay);
    }

    function startPolling(): void {
        if (polling || !running) return;
        polling = true;
        pollTimer = env._setTimeout(poll, 0);
    }

    function stopPolling(): void {
        polling = false;
        env._clearTimeout(pollTimer);
        pollTimer = undefined;
    }

    function poll(): void {
        const fetch = env._fetch;
        if (!polling || !fetch) return;
        const again = (): void => {
            if (polling) pollTimer = env._setTimeout(poll, POLL_MS);
        };
        if (env._win.document.visibilityState === 'hidden') return again();
        const url = endpoint(srv, '/v1/interventions/' + enc(ids._sessionId(false)) + '/pending');
        fetch(url, { method: 'GET', credentials: 'omit' })
            .then((r) => {
                if (r.status === 401 || r.status === 403) return stopPolling();
                if (r.status !== 200) return undefined;
                return r.json().then((body: any) => {
                    const list = body && body.interventions;
                    if (Array.isArray(list)) for (const iv of list) onMessage({ type: 'intervention', ...iv });
                });
            })
            .catch(() => undefined)
            .then(again);
    }

    function close(): void {
        const s = ws;
        ws = null;
        env._clearTimeout(reconnectTimer);
        reconnectTimer = undefined;
        if (s) {
            try {
                s.close();
            } catch (e) {
                /* already closing */
            }
        }
    }

    return {
        _start() {
            if (running) return;
            running = true;
            failures = 0;
            connect();
        },
        _stop() {
            running = false;
            close();
            stopPolling();
        },
        _restart() {
            if (!running) return;
            close();
            failures = 0;
            connect();
        },
    };
}
