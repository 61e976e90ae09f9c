/*
 * clicks.ts: $click for every click, and $dead_click when nothing happened in the next second.
 *
 * One capture-phase listener on document sees every click before the site can stop it. The element
 * described is the nearest interactive ancestor of the target (the <button>, not the <span> in it;
 * dom.ts interactiveAncestor, where tabindex="-1" does not count), else the target itself. Clicks inside the tracker's own UI (the shadow host) are ignored.
 *
 * Dead clicks. "Something happened" is tracked as one counter, `activity`, moved by:
 *   - any DOM mutation (a MutationObserver on the whole document),
 *   - any network request the page starts (window.fetch and XMLHttpRequest.prototype.send are
 *     wrapped; the tracker's own requests use the fetch captured in env.ts, so they do not count),
 *   - navigation: a new page view (SPA), pagehide, the page being hidden (a new tab opened), and a
 *     form submit the site did not cancel,
 *   - the page scrolling, or focus moving to an element outside the clicked one (an error summary's
 *     link that takes you to its field: the demo's measurement, docs/detectors.md, found these
 *     were most of the 1 s rule's false positives).
 * A click on a <label> makes the browser click its control too: that second click is not a click of
 * the visitor's, and is not reported (it would double every label click and fake rage clicks).
 * 1000 ms after a click, if the counter has not moved since the click, a $dead_click goes out (a
 * counter, not a timestamp: something in the same millisecond as the click still counts, something
 * just before it does not). Not checked:
 * form fields, labels, media and contenteditable (their effect is native state, not a mutation),
 * links whose navigation was not cancelled, and clicks that leave a text selection (reading, not
 * commanding).
 */
import type { Ctx } from '../context';
import { listen } from '../util';
import { elementText, interactiveAncestor, selector } from './dom';

const DEAD_CLICK_MS = 1000;
const NATIVE = 'input,textarea,select,option,[contenteditable],label,video,audio';

export function installClicks(ctx: Ctx, deadClicks: boolean): void {
    const { _win: win, _doc: doc, _env: env } = ctx;
    let activity = 0;
    let lastEl: Element | null = null; /* the last click's element */
    let forwarded: Element | null = null; /* the control a label click is about to click (this task) */
    const mark = (): void => {
        activity++;
    };

    if (deadClicks) {
        if (win.MutationObserver) {
            new win.MutationObserver(mark).observe(doc, {
                subtree: true,
                childList: true,
                attributes: true,
                characterData: true,
            });
        }
        const f = win.fetch;
        if (f) {
            win.fetch = function (this: unknown, ...args: Parameters<typeof fetch>) {
                mark();
                return f.apply(this, args);
            } as typeof fetch;
        }
        const xhr = win.XMLHttpRequest && win.XMLHttpRequest.prototype;
        if (xhr) {
            const send = xhr.send;
            xhr.send = function (this: XMLHttpRequest, ...args: Parameters<XMLHttpRequest['send']>) {
                mark();
                return send.apply(this, args);
            };
        }
        ctx._onPage(mark);
        listen(win, 'scroll', mark);
        listen(doc, 'focusin', (e: FocusEvent) => lastEl && !lastEl.contains(e.target as Node) && mark());
        listen(win, 'pagehide', mark);
        listen(doc, 'visibilitychange', mark);
        /* bubble phase on window: runs after the site's own submit handlers had their chance */
        listen(win, 'submit', (e: Event) => e.defaultPrevented || mark(), false);
    }

    listen(doc, 'click', (e: MouseEvent) => {
        const target = e.target as Element | null;
        if (!target || target.nodeType !== 1 || target.closest('[data-journey-ui]')) return;
        if (target === forwarded) return;
        const label = target.closest('label');
        forwarded = label && label.control;
        env._setTimeout(() => (forwarded = null), 0);
        const found = interactiveAncestor(target);
        const el = found || target;
        lastEl = el;
        const common = {
            selector: selector(el),
            tag: el.tagName.toLowerCase(),
            x: Math.round(e.clientX + win.scrollX),
            y: Math.round(e.clientY + win.scrollY),
        };
        const clickId = ctx._track(
            '$click',
            {
                ...common,
                text: elementText(el),
                interactive: !!found,
                disabled: !!el.closest(':disabled,[aria-disabled=true]'),
            },
            true,
        );
        if (!deadClicks || !clickId || el.closest(NATIVE)) return;
        const seen = activity;
        env._setTimeout(() => {
            const sel = win.getSelection && win.getSelection();
            if (activity !== seen) return;
            if (!e.defaultPrevented && el.closest('a[href]')) return;
            if (sel && sel.type === 'Range') return;
            ctx._track('$dead_click', { ...common, click_id: clickId, wait_ms: DEAD_CLICK_MS }, true);
        }, DEAD_CLICK_MS);
    });
}
