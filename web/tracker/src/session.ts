/*
 * session.ts: who the visitor is (anonymousId, userId) and which session they are in.
 *
 * All of it lives in localStorage, shared by the tabs of a site:
 *
 *     journey.anonymousId   UUID v4, created on first use, replaced by reset()
 *     journey.userId        set by identify(userId), removed by reset()
 *     journey.session       {"id": "<start epoch ms>-<random>", "lastActivity": epoch ms}
 *
 * sessionId() is called once per message: it starts a new session when the stored one has seen no
 * message for `timeoutMs` (30 min by default), then records the activity. Storage is re-read every
 * time so that a session started or rotated by another tab is picked up. When the id this instance
 * last handed out changes (timeout, reset(), another tab), `onChange` runs: the live channel must
 * reconnect with the new id.
 */
import type { Env, Store } from './env';
import { readJson } from './util';

export interface Identity {
    _anonymousId(): string;
    _userId(): string | null;
    _setUserId(id: string): void;
    /* The current session id, rotating it if expired; `touch` records activity (a message). */
    _sessionId(touch?: boolean): string;
    _reset(): void;
}

const ANON = 'journey.anonymousId';
const USER = 'journey.userId';
const SESSION = 'journey.session';

export function createIdentity(
    env: Env,
    storage: Store,
    timeoutMs: number,
    onChange: (id: string) => void,
): Identity {
    const { _get: get, _set: set } = storage; /* a failed write: the ids live for this page only */
    let known = '';

    function anonymousId(): string {
        let id = get(ANON);
        if (!id) set(ANON, (id = env._uuid()));
        return id;
    }

    function sessionId(touch = true, fresh = false): string {
        const now = env._now();
        let s = readJson<{ id: string; lastActivity: number }>(get(SESSION));
        if (fresh || !s || typeof s.id !== 'string' || !(now - s.lastActivity < timeoutMs)) {
            s = { id: now + '-' + env._uuid().slice(0, 8), lastActivity: now };
            touch = true;
        }
        if (touch) {
            s.lastActivity = now;
            set(SESSION, JSON.stringify(s));
        }
        if (s.id !== known) {
            const first = !known;
            known = s.id;
            if (!first) onChange(s.id);
        }
        return s.id;
    }

    return {
        _anonymousId: anonymousId,
        _userId: () => get(USER),
        _setUserId: (id) => set(USER, id),
        _sessionId: (touch) => sessionId(touch),
        _reset() {
            set(USER, null);
            set(ANON, env._uuid());
            sessionId(true, true);
        },
    };
}
