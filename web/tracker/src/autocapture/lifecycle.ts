/*
 * lifecycle.ts: the page being hidden or going away.
 *
 * visibilitychange -> $visibility {state}; when hidden, the queue goes out by sendBeacon at once,
 * because a hidden page may be frozen or discarded without another event (mobile browsers often
 * never fire pagehide). pagehide -> $page_leave with what this page view amounted to, then a beacon.
 * The beacon part is installed even with autocapture off: it is how queued messages survive a
 * navigation without waiting for the next page load.
 */
import type { Ctx } from '../context';
import { listen } from '../util';

export function installLifecycle(ctx: Ctx, visibility: boolean, pageLeave: boolean): void {
    const { _win: win, _doc: doc, _env: env } = ctx;

    listen(doc, 'visibilitychange', () => {
        const state = doc.visibilityState === 'hidden' ? 'hidden' : 'visible';
        if (visibility) ctx._track('$visibility', { state });
        if (state === 'hidden') ctx._beacon();
    });

    listen(win, 'pagehide', () => {
        if (pageLeave) {
            const ps = ctx._ps();
            const forms: string[] = [];
            let filled = 0;
            for (const k in ps._fields) {
                const [form, length] = ps._fields[k];
                if (length <= 0) continue;
                filled++;
                if (form && forms.indexOf(form) < 0) forms.push(form);
            }
            ctx._track('$page_leave', {
                dwell_ms: env._now() - ps._start,
                max_depth: ps._depth,
                fields_filled: filled,
                forms_started: forms,
            });
        }
        ctx._beacon();
    });
}
