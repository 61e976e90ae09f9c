/*
 * pageviews.ts: a `page` message on load and on every single-page-app navigation.
 *
 * SPA routers move between pages with history.pushState / replaceState, which fire no event, so both
 * are wrapped (the original is always called first and its result returned untouched). A page view is
 * sent when the URL really changed since the last one: pushState, popstate and hashchange on any URL
 * change, replaceState only when the path changes (routers use it to tidy query strings). Fragment
 * navigation fires popstate and hashchange back to back; comparing with the last URL sent makes that
 * one page view, not two. A page restored from the back/forward cache is a new page view too.
 */
import type { Ctx } from '../context';
import { listen } from '../util';

export function installPageviews(ctx: Ctx): void {
    const { _win: win } = ctx;
    const loc = win.location;
    const hist = win.history;
    let href = loc.href;
    let path = loc.pathname;

    const check = (pathOnly: boolean): void => {
        if (loc.href === href || (pathOnly && loc.pathname === path)) return;
        href = loc.href;
        path = loc.pathname;
        ctx._page();
    };

    for (const name of ['pushState', 'replaceState'] as const) {
        const orig = hist[name];
        hist[name] = function (this: History, ...args: Parameters<History['pushState']>) {
            const result = orig.apply(this, args);
            try {
                check(name === 'replaceState');
            } catch (e) {
                /* never break the router */
            }
            return result;
        };
    }
    listen(win, 'popstate', () => check(false));
    listen(win, 'hashchange', () => check(false));
    /* back/forward cache: the page is shown again without loading, which is a new page view */
    listen(win, 'pageshow', (e: PageTransitionEvent) => e.persisted && ctx._page());
    ctx._page();
}
