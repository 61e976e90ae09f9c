/*
 * journey.ts: the core. Builds messages, owns the public API and wires the modules together.
 *
 *   public API ──> enqueue() ──> queue.ts (localStorage outbox) ──> transport.ts ──> POST /v1/batch
 *        ▲            ▲ message = type + fields + messageId, anonymousId, userId, originalTimestamp,
 *        │            │           context {sessionId (session.ts), page, userAgent, library, ...}
 *        │      autocapture/* (through a Ctx, context.ts)
 *        │
 *   live.ts ──> interventions.ts ──> ui/* (dialog, tooltip, chat), on('intervention'|'chat') handlers
 *
 * Before load(): calls are buffered (at most MAX_EARLY) and replayed in order once load() ran; on()
 * and the opt-out switches work at once. Every public method catches its own errors: a tracker bug
 * must never break the site. Sending is blocked while the visitor opted out (persisted in
 * `journey.optOut`, read on every message so every tab obeys at once) or, with respectDoNotTrack,
 * while the browser sends Do Not Track / Global Privacy Control.
 */
import { installClicks } from './autocapture/clicks';
import { installErrors } from './autocapture/errors';
import { apiInvalid, installForms } from './autocapture/forms';
import { installLifecycle } from './autocapture/lifecycle';
import { installPageviews } from './autocapture/pageviews';
import { installScroll } from './autocapture/scroll';
import { installVideo } from './autocapture/video';
import type { Capture, Ctx, PageState } from './context';
import { store, type Env } from './env';
import { createInterventions, type Interventions, type ResponseStatus } from './interventions';
import { createLive, type Live } from './live';
import { createQueue, type Message, type Queue } from './queue';
import { createIdentity, type Identity } from './session';
import { createTransport, type Transport } from './transport';
import { iso, listen, safeCall, type Props, type Server } from './util';
import { VERSION } from './version';

export interface Options {
    host?: string;
    flushInterval?: number;
    flushAt?: number;
    maxQueue?: number;
    respectDoNotTrack?: boolean;
    autocapture?: boolean | Partial<Capture>;
    live?: boolean;
    sessionTimeoutMs?: number;
}

type Handler = (arg: any) => unknown;
type EventName = 'intervention' | 'chat' | 'ready';

export interface Journey {
    version: string;
    load(writeKey: string, options?: Options): void;
    track(event: string, properties?: Props): void;
    page(name?: string | Props, properties?: Props): void;
    identify(userId?: string | Props | null, traits?: Props): void;
    reset(): void;
    on(event: EventName, fn: Handler): () => void;
    optOut(): void;
    optIn(): void;
    validationError(field: string | Element, message?: string, options?: { form?: string }): void;
    flush(): void;
    respond(interventionId: string, status: ResponseStatus): void;
    stats(): { queued: number; dropped: number };
}

/* Everything that exists once load() ran. */
interface Loaded {
    _queue: Queue;
    _tx: Transport;
    _ids: Identity;
    _live: Live;
    _iv: Interventions;
    _useLive: boolean;
}

const OPT_OUT = 'journey.optOut';
const MAX_EARLY = 100;

const positive = (v: unknown, d: number): number => (typeof v === 'number' && v > 0 && isFinite(v) ? v : d);

export function createJourney(env: Env, defaultHost: string): Journey {
    const { _win: win } = env;
    const doc = win.document;
    const nav = win.navigator as Navigator & { globalPrivacyControl?: boolean };
    const handlers: Record<EventName, Handler[]> = { intervention: [], chat: [], ready: [] };
    const early: Array<[string, unknown[]]> = [];
    const pageHooks: Array<() => void> = [];
    let loaded: Loaded | null = null;
    let isReady = false;
    let dnt = false;
    let referrer = doc.referrer;
    let lastUrl = '';
    let ps: PageState = freshPage();
    const storage = store(env._storage);

    function freshPage(): PageState {
        return { _start: env._now(), _depth: 0, _fields: {}, _changes: {}, _errors: 0 };
    }

    const blocked = (): boolean => dnt || storage._get(OPT_OUT) === '1';

    function pageProps(): Props {
        const l = win.location;
        return { path: l.pathname, url: l.href, title: doc.title, referrer, search: l.search };
    }

    function context(ids: Identity): Props {
        return {
            sessionId: ids._sessionId(),
            page: pageProps(),
            userAgent: nav.userAgent,
            library: { name: 'journey.js', version: VERSION },
            screen: { width: win.innerWidth, height: win.innerHeight },
            locale: nav.language,
            timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        };
    }

    /* Build, store and schedule one message; returns its messageId, '' when nothing was sent. */
    function enqueue(type: string, fields: Props, urgent: boolean): string {
        const s = loaded;
        if (!s || blocked()) return '';
        const msg: Message = {
            type,
            ...fields,
            messageId: env._uuid(),
            anonymousId: s._ids._anonymousId(),
            originalTimestamp: iso(env._now()),
            context: context(s._ids),
        };
        const userId = s._ids._userId();
        if (userId) msg.userId = userId;
        s._queue._push(msg);
        s._tx._schedule(urgent);
        return msg.messageId;
    }

    function page(name?: unknown, properties?: unknown): void {
        if (name && typeof name === 'object') {
            properties = name;
            name = undefined;
        }
        const url = win.location.href;
        if (lastUrl && url !== lastUrl) referrer = lastUrl;
        lastUrl = url;
        ps = freshPage();
        for (const fn of pageHooks) fn();
        enqueue(
            'page',
            {
                name: name == null ? doc.title : String(name),
                properties: { ...pageProps(), ...(properties as Props) },
            },
            true,
        );
    }

    const ctx: Ctx = {
        _env: env,
        _win: win,
        _doc: doc,
        _track: (event, properties, urgent) => enqueue('track', { event, properties }, !!urgent),
        _page: () => page(),
        _ps: () => ps,
        _onPage: (fn) => pageHooks.push(fn),
        _beacon: () => loaded && loaded._tx._beacon(),
    };

    function load(writeKey: unknown, options?: Options): void {
        if (loaded || typeof writeKey !== 'string' || !writeKey) return;
        const o = options || {};
        const host = (typeof o.host === 'string' && o.host ? o.host : defaultHost).replace(/\/+$/, '');
        const queue = createQueue(storage, positive(o.maxQueue, 1000));
        const ids = createIdentity(env, storage, positive(o.sessionTimeoutMs, 30 * 60 * 1000), () => s._live._restart());
        const srv: Server = { _env: env, _host: host, _writeKey: writeKey, _ids: ids };
        const tx = createTransport(srv, queue, positive(o.flushAt, 20), positive(o.flushInterval, 1000));
        const iv = createInterventions(srv, handlers, ctx._track);
        const live = createLive(srv, iv._receive);
        const s: Loaded = (loaded = { _queue: queue, _tx: tx, _ids: ids, _live: live, _iv: iv, _useLive: o.live !== false });

        dnt = !!o.respectDoNotTrack && (nav.doNotTrack === '1' || nav.globalPrivacyControl === true);
        if (blocked()) queue._clear();

        const ac = o.autocapture;
        /* a group is on unless autocapture is false or an object with that group false */
        const on = (g: keyof Capture): boolean => ac !== false && !(ac && typeof ac === 'object' && ac[g] === false);
        installLifecycle(ctx, on('visibility'), on('pageLeave'));
        if (on('clicks')) installClicks(ctx, on('deadClicks'));
        if (on('forms')) installForms(ctx);
        if (on('errors')) installErrors(ctx);
        if (on('scroll')) installScroll(ctx);
        if (on('video')) installVideo(ctx);
        if (on('pageviews')) installPageviews(ctx); /* last: its first page view runs everyone's hooks */

        if (s._useLive) {
            listen(win, 'pagehide', live._stop);
            listen(win, 'pageshow', (e: PageTransitionEvent) => e.persisted && !blocked() && live._start());
            if (!blocked()) live._start();
        }
        if (queue._size()) tx._schedule(false); /* left over from an earlier page */
        for (const [name, args] of early.splice(0)) (api as any)[name](...args);
        isReady = true;
        for (const fn of handlers.ready) safeCall(fn);
    }

    const api = { version: VERSION } as Journey;
    /* Public methods: never throw; before load() they are buffered unless `now`. */
    const method = (name: keyof Journey, fn: (...args: any[]) => unknown, now = false): void => {
        (api as any)[name] = (...args: unknown[]) => {
            if (!loaded && !now) {
                if (early.length < MAX_EARLY) early.push([name, args]);
                return undefined;
            }
            try {
                return fn(...args);
            } catch (e) {
                return undefined;
            }
        };
    };

    method('load', load, true);
    method('track', (event: unknown, properties?: unknown) => {
        if (typeof event !== 'string' || !event) return;
        enqueue('track', { event, properties: properties && typeof properties === 'object' ? properties : {} }, false);
    });
    method('page', page);
    method('identify', (userId?: unknown, traits?: unknown) => {
        if (userId && typeof userId === 'object') {
            traits = userId;
            userId = null;
        }
        if (blocked()) return;
        if (userId != null && userId !== '') loaded!._ids._setUserId(String(userId));
        enqueue('identify', { traits: traits && typeof traits === 'object' ? traits : {} }, false);
    });
    method('reset', () => loaded!._ids._reset());
    method(
        'on',
        (event: EventName, fn: Handler) => {
            const list = handlers.hasOwnProperty(event) ? handlers[event] : null;
            if (!list || typeof fn !== 'function') return () => undefined;
            list.push(fn);
            if (event === 'ready' && isReady) safeCall(fn);
            return () => {
                const i = list.indexOf(fn);
                if (i >= 0) list.splice(i, 1);
            };
        },
        true,
    );
    method(
        'optOut',
        () => {
            storage._set(OPT_OUT, '1');
            if (!loaded) return;
            loaded._queue._clear();
            loaded._tx._stop();
            loaded._live._stop();
        },
        true,
    );
    method(
        'optIn',
        () => {
            storage._set(OPT_OUT, null);
            if (loaded && loaded._useLive && !blocked()) loaded._live._start();
        },
        true,
    );
    method('validationError', (field: unknown, message?: unknown, options?: { form?: unknown }) =>
        apiInvalid(ctx, field, message, options),
    );
    method('flush', () => loaded!._tx._flush());
    method('respond', (id: string, status: ResponseStatus) => loaded!._iv._respond(String(id), status));
    method(
        'stats',
        () => ({ queued: loaded ? loaded._queue._size() : 0, dropped: loaded ? loaded._queue._dropped() : 0 }),
        true,
    );
    return api;
}
