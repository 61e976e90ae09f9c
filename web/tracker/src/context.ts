/*
 * context.ts: what the core (journey.ts) lends to the autocapture modules.
 *
 * Each autocapture module is a function `install(ctx)` that adds its listeners and reports through
 * ctx._track(); none of them knows about the queue, the transport or the session. Per-page-view
 * counters that $page_leave needs (max scroll depth, filled fields) live in one PageState object the
 * core replaces on every page view, so "reset on SPA navigation" is automatic for everyone.
 */
import type { Env } from './env';
import type { Props } from './util';

export interface PageState {
    _start: number; /* epoch ms of the page view */
    _depth: number; /* max scroll depth seen, percent */
    /* "form\nfield" -> [form, value length] for fields touched and not yet submitted */
    _fields: Record<string, [string, number]>;
    _changes: Record<string, number>; /* "form\nfield" -> change events */
    _errors: number; /* $js_error sent on this page view */
}

export interface Ctx {
    _env: Env;
    _win: Window & typeof globalThis;
    _doc: Document;
    /* Enqueue a track message; returns its messageId ('' when not sent: opted out). */
    _track(event: string, props: Props, urgent?: boolean): string;
    /* Send a page view (autocapture calls it on load and on SPA navigation). */
    _page(): void;
    _ps(): PageState;
    /* Run `fn` at the start of every page view: the fresh PageState is in place, the page message
     * is not built yet. */
    _onPage(fn: () => void): void;
    /* The page is going away or hidden: hand the queue to sendBeacon. */
    _beacon(): void;
}

export type Capture = Record<
    'pageviews' | 'clicks' | 'deadClicks' | 'forms' | 'errors' | 'scroll' | 'visibility' | 'pageLeave' | 'video',
    boolean
>;
