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
 * The UI code (ui/: dialog, tooltip, chat panel, styles) is part of journey.js, so an intervention is
 * drawn in the same task that received it: no fetch, no script to load, no promise to wait for (the
 * latency budget in DESIGN.md gives "push and render" 20 ms). Its host element is only created the
 * first time something is drawn. If drawing throws (a browser without shadow DOM), nothing is
 * reported and the next offer may try again.
 *
 * Lifecycle responses (POST /v1/interventions/{id}/response) are sent when the built-in UI is
 * actually on screen ("shown") and when the visitor answers ("accepted", "declined", "dismissed").
 * They are retried like events (backoff 500 ms..30 s, Retry-After) but kept in memory only, up to
 * MAX_RESPONSE_ATTEMPTS. Expiry uses the server's clock when a "hello" told us the skew.
 */
import { showChat } from './ui/chat';
import { showOffer, type Status } from './ui/dialog';
import { createUi, type Ui } from './ui/root';
import { showTooltip } from './ui/tooltip';
import { enc, endpoint, post, retryable, retryDelay, safeCall, type Props, type Server } from './util';

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

export interface Interventions {
    _receive(msg: any): void;
    _respond(id: string, status: ResponseStatus): void;
}

const MAX_RESPONSE_ATTEMPTS = 8;
const DIALOG_ACTIONS = /^(live_chat_offer|priority_route)$/;

/* `handlers`: journey.on()'s lists; `track`: reports $chat_message. */
export function createInterventions(
    srv: Server,
    handlers: Record<'intervention' | 'chat', Array<(arg: any) => unknown>>,
    track: (event: string, props: Props) => void,
): Interventions {
    const env = srv._env;
    const seen: Record<string, 1> = Object.create(null);
    const waiting: Intervention[] = [];
    let dialogOpen = false;
    let skewMs = 0; /* server clock minus ours */
    let surface: Ui | null = null;

    const ui = (): Ui => surface || (surface = createUi(env));

    const expired = (iv: Intervention): boolean =>
        !!iv.expires_at && Date.parse(iv.expires_at) < env._now() + skewMs;

    function respond(id: string, status: ResponseStatus, attempt = 1): void {
        const url = endpoint(srv, '/v1/interventions/' + enc(id) + '/response');
        post(env, url, JSON.stringify({ status, sessionId: srv._ids._sessionId(false) }), {}, (code, after) => {
            if (retryable(code) && attempt < MAX_RESPONSE_ATTEMPTS) {
                env._setTimeout(() => respond(id, status, attempt + 1), retryDelay(env, attempt, after));
            }
        });
    }

    function nextDialog(): void {
        if (dialogOpen) return;
        let iv: Intervention | undefined;
        while ((iv = waiting.shift()) && expired(iv));
        if (!iv) return;
        const offer = iv;
        dialogOpen = true;
        try {
            showOffer(ui(), offer, (status) => {
                respond(offer.id, status);
                if (status === 'accepted') startChat(offer);
                else closed();
            });
        } catch (e) {
            dialogOpen = false; /* not drawn: not shown */
            return;
        }
        respond(offer.id, 'shown');
    }

    function closed(): void {
        dialogOpen = false;
        nextDialog();
    }

    function startChat(iv: Intervention): void {
        const chat = handlers.chat;
        if (chat.length) {
            const arg = { interventionId: iv.id, sessionId: srv._ids._sessionId(false) };
            for (const fn of chat) safeCall(fn, arg);
            closed();
        } else {
            showChat(ui(), (length) => track('$chat_message', { length }), closed);
        }
    }

    function tooltip(iv: Intervention): void {
        let anchor: Element | null = null;
        try {
            anchor = iv.selector ? env._win.document.querySelector(iv.selector) : null;
        } catch (e) {
            /* invalid selector: same as no match */
        }
        if (!anchor) return;
        showTooltip(ui(), anchor, String(iv.message || iv.title || ''), () => respond(iv.id, 'dismissed'));
        respond(iv.id, 'shown');
    }

    return {
        _receive(msg) {
            if (!msg || typeof msg !== 'object') return;
            if (msg.type === 'hello') {
                skewMs = Date.parse(msg.server_time) - env._now() || 0;
                return;
            }
            const iv = msg as Intervention;
            if ((iv.type && iv.type !== 'intervention') || typeof iv.id !== 'string' || seen[iv.id]) return;
            seen[iv.id] = 1;
            if (expired(iv)) return;
            let render = true;
            for (const fn of handlers.intervention) if (safeCall(fn, iv) === false) render = false;
            if (!render) return;
            if (DIALOG_ACTIONS.test(iv.action)) {
                waiting.push(iv);
                nextDialog();
            } else if (iv.action === 'tooltip') tooltip(iv);
        },
        _respond: (id, status) => respond(id, status),
    };
}
