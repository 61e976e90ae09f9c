/*
 * queue.ts: the bounded, persistent outbox.
 *
 * A message waits here from the moment it is created until the server has acknowledged it (2xx) or
 * refused it for good (400, 401, 413 alone, other 4xx). The source of truth is one storage entry:
 *
 *     journey.queue = {"messages": [oldest, ..., newest], "dropped": N}
 *
 * so a reload, a crash or a server that is down loses nothing, and the tabs of one site share one
 * outbox (two tabs may both send a message; the server dedups on messageId, which is why a message
 * keeps its messageId forever). Every operation re-reads the entry; the parsed copy is reused while
 * the stored string is unchanged, so the common case costs a string compare, not a JSON.parse.
 *
 * Bound: at most `max` messages. Pushing onto a full queue drops the oldest and adds one to `dropped`
 * (journey.stats()). If storage refuses the write (quota), the oldest half is dropped (and counted)
 * and the write retried; if even one message cannot be stored, the queue lives in memory for the rest
 * of the page.
 */
import type { Store } from './env';
import { readJson } from './util';

export interface Message {
    messageId: string;
    [field: string]: unknown;
}

export interface Queue {
    _push(msg: Message): void;
    /* The oldest messages not in `skip` (messageId -> 1): at most `count` and `maxBytes` of JSON,
     * but at least one if there is any. */
    _peek(count: number, maxBytes: number, skip: Record<string, 1>): Message[];
    _remove(sent: Message[]): void;
    _size(): number;
    _dropped(): number;
    _clear(): void;
}

interface State {
    messages: Message[];
    dropped: number;
}

const KEY = 'journey.queue';
const empty = (): State => ({ messages: [], dropped: 0 });

export function createQueue(storage: Store, max: number): Queue {
    let raw: string | null = null; /* the string `state` was parsed from or written as */
    let state = empty();
    let inMemory = false;

    function load(): State {
        const s = inMemory ? raw : storage._get(KEY);
        if (s !== raw) {
            raw = s;
            state = empty();
            const p = readJson<State>(s); /* missing or corrupt: start empty */
            if (p) {
                if (Array.isArray(p.messages)) state.messages = p.messages.filter((m) => m && typeof m.messageId === 'string');
                state.dropped = Number(p.dropped) || 0;
            }
        }
        return state;
    }

    function save(): void {
        while (!inMemory) {
            const s = JSON.stringify(state);
            if (storage._set(KEY, s)) {
                raw = s;
                return;
            }
            const m = state.messages;
            if (m.length < 2) inMemory = true;
            else state.dropped += m.splice(0, m.length >> 1).length;
        }
    }

    return {
        /* Stores a deep copy: later changes to the caller's objects must not change what is sent,
         * and a message that cannot be serialised (a cycle, a BigInt) is refused here (throws). */
        _push(msg) {
            const copy = JSON.parse(JSON.stringify(msg)) as Message;
            const st = load();
            st.messages.push(copy);
            const over = st.messages.length - max;
            if (over > 0) {
                st.messages.splice(0, over);
                st.dropped += over;
            }
            save();
        },
        _peek(count, maxBytes, skip) {
            const out: Message[] = [];
            let bytes = 0;
            for (const m of load().messages) {
                if (skip[m.messageId]) continue;
                bytes += JSON.stringify(m).length + 1;
                if (out.length >= count || (out.length && bytes > maxBytes)) break;
                out.push(m);
            }
            return out;
        },
        _remove(sent) {
            const ids: Record<string, 1> = {};
            for (const m of sent) ids[m.messageId] = 1;
            const st = load();
            const keep = st.messages.filter((m) => !ids[m.messageId]);
            if (keep.length === st.messages.length) return;
            st.messages = keep;
            save();
        },
        _size: () => load().messages.length,
        _dropped: () => load().dropped,
        _clear() {
            state = empty();
            storage._set(KEY, (raw = null));
        },
    };
}
