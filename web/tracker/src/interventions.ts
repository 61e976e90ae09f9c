/*
 * interventions.ts: what to do with an intervention the server pushed (live.ts) or we polled.
 *
 *   receive(msg) ─ not type "intervention", no id, seen before, or expired? ─> ignore
 *        │  (the socket and the poll may both deliver one; ids are remembered for the page's life)
 *        ▼
 *   on('intervention') handlers, in order; one returning false suppresses the built-in rendering
 *        ▼
 *   live_chat_offer, priority_route ─> dialog queue (one dialog at a time, the chat panel included)
 *   tooltip ─> bubble next to document.querySelector(selector); nothing if it matches nothing
 *   custom / unknown ─> nothing rendered
 *
 * The UI code itself (dialog, tooltip, chat panel, styles) is loaded on first use through
 * env.loadUi() (see ui/kit.ts); if it cannot be loaded, nothing is rendered and nothing reported, and
 * the next intervention tries again.
 *
 * Lifecycle responses (POST /v1/interventions/{id}/response) are sent when the built-in UI is
 * actually on screen ("shown") and when the visitor answers ("accepted", "declined", "dismissed").
 * They are retried like events (backoff 500 ms..30 s, Retry-After) but kept in memory only, up to
 * MAX_RESPONSE_ATTEMPTS. Expiry uses the server's clock when a "hello" told us the skew.
 */
import type { Env } from './env';
import type { Status, Ui, UiKit } from './ui/kit';
import { backoff, retryable, retryAfterMs, safeCall, type Props } from './util';

export interface Intervention {
    type?: string;
    id: string;
    action: string;
    title?: string | null;
    message?: string | null;
    selector?: string | null;
    payload?: unknown;
    expires_at?: string | null;
}

export type ResponseStatus = Status | 'shown' | 'escalated';

export interface InterventionDeps {
    env: Env;
    host: string;
    writeKey: string;
    sessionId(): string;
    handlers(event: 'intervention' | 'chat'): Array<(arg: any) => unknown>;
    track(event: string, props: Props): void;
}

export interface Interventions {
    receive(msg: any): void;
    respond(id: string, status: ResponseStatus): void;
}

const MAX_RESPONSE_ATTEMPTS = 8;
const DIALOG_ACTIONS = /^(live_chat_offer|priority_route)$/;

export function createInterventions(d: InterventionDeps): Interventions {
    const { env } = d;
    const seen: Record<string, 1> = Object.create(null);
    const waiting: Intervention[] = [];
    let dialogOpen = false;
    let skewMs = 0; /* server clock minus ours */
    let loading: Promise<[UiKit, Ui]> | null = null;

    /* The UI kit and our drawing surface, loaded once; a failed load is retried next time. */
    function ui(): Promise<[UiKit, Ui]> {
        if (!loading) {
            loading = (env.loadUi ? env.loadUi(d.host) : Promise.reject()).then((k) => [k, k.createUi(env)]);
            loading.catch(() => (loading = null));
        }
        return loading;
    }

    const expired = (iv: Intervention): boolean =>
        !!iv.expires_at && Date.parse(iv.expires_at) < env.now() + skewMs;

    function respond(id: string, status: ResponseStatus, attempt = 1): void {
        const fetch = env.fetch;
        if (!fetch) return;
        const url =
            d.host + '/v1/interventions/' + encodeURIComponent(id) + '/response?writeKey=' + encodeURIComponent(d.writeKey);
        fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ status, sessionId: d.sessionId() }),
            keepalive: true,
            credentials: 'omit',
        }).then(
            (r) => retry(r.status, r.headers.get('Retry-After')),
            () => retry(0, null),
        );
        function retry(code: number, after: string | null): void {
            if (!retryable(code) || attempt >= MAX_RESPONSE_ATTEMPTS) return;
            const delay = retryAfterMs(after, env.now()) ?? backoff(attempt, 500, 30000, env.random());
            env.setTimeout(() => respond(id, status, attempt + 1), delay);
        }
    }

    function nextDialog(): void {
        if (dialogOpen) return;
        let iv: Intervention | undefined;
        while ((iv = waiting.shift()) && expired(iv));
        if (!iv) return;
        const offer = iv;
        dialogOpen = true;
        ui()
            .then(([k, surface]) => {
                k.showOffer(surface, offer, (status) => {
                    respond(offer.id, status);
                    if (status === 'accepted') startChat(k, surface, offer);
                    else closed();
                });
                respond(offer.id, 'shown');
            })
            .catch(() => {
                waiting.length = 0; /* no UI: drop what waits, keep receiving */
                dialogOpen = false;
            });
    }

    function closed(): void {
        dialogOpen = false;
        nextDialog();
    }

    function startChat(k: UiKit, surface: Ui, iv: Intervention): void {
        const chat = d.handlers('chat');
        if (chat.length) {
            const arg = { interventionId: iv.id, sessionId: d.sessionId() };
            for (const fn of chat) safeCall(fn, arg);
            closed();
        } else {
            k.showChat(surface, (length) => d.track('$chat_message', { length }), closed);
        }
    }

    function tooltip(iv: Intervention): void {
        let anchor: Element | null = null;
        try {
            anchor = iv.selector ? env.win.document.querySelector(iv.selector) : null;
        } catch (e) {
            /* invalid selector: same as no match */
        }
        if (!anchor) return;
        const target = anchor;
        ui()
            .then(([k, surface]) => {
                k.showTooltip(surface, target, String(iv.message || iv.title || ''), () => respond(iv.id, 'dismissed'));
                respond(iv.id, 'shown');
            })
            .catch(() => undefined);
    }

    return {
        receive(msg) {
            if (!msg || typeof msg !== 'object') return;
            if (msg.type === 'hello') {
                skewMs = Date.parse(msg.server_time) - env.now() || 0;
                return;
            }
            const iv = msg as Intervention;
            if ((iv.type && iv.type !== 'intervention') || typeof iv.id !== 'string' || seen[iv.id]) return;
            seen[iv.id] = 1;
            if (expired(iv)) return;
            let render = true;
            for (const fn of d.handlers('intervention')) if (safeCall(fn, iv) === false) render = false;
            if (!render) return;
            if (DIALOG_ACTIONS.test(iv.action)) {
                waiting.push(iv);
                nextDialog();
            } else if (iv.action === 'tooltip') tooltip(iv);
        },
        respond: (id, status) => respond(id, status),
    };
}
