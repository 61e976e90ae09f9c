/*
 * scroll.ts: $scroll when the visitor reaches a new 25% step of the page, or turns around.
 *
 * Scroll events are debounced (250 ms): a position is "settled" once scrolling pauses, and settled
 * positions are compared with the previous one. Moves under MIN_MOVE_PX are ignored so a trackpad's
 * jitter is not a reversal. depth = bottom of the viewport as a percentage of the document height,
 * so a page shorter than the window is 100% seen on load. The step already reached when the page
 * view starts is not reported; the PageState keeps the max depth for $page_leave.
 */
import type { Ctx } from '../context';
import type { TimerId } from '../env';
import { listen } from '../util';

const DEBOUNCE_MS = 250;
const MIN_MOVE_PX = 10;

export function installScroll(ctx: Ctx): void {
    const { _win: win, _doc: doc, _env: env } = ctx;
    let timer: TimerId | undefined;
    let lastY = 0;
    let direction = '';
    let reversals = 0;
    let step = 0;

    const depthNow = (): number => {
        const height = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
        if (height <= win.innerHeight) return 100;
        return Math.min(100, Math.round(((win.scrollY + win.innerHeight) / height) * 100));
    };

    ctx._onPage(() => {
        lastY = win.scrollY;
        direction = '';
        reversals = 0;
        const d = (ctx._ps()._depth = depthNow());
        step = Math.floor(d / 25);
    });

    const settle = (): void => {
        timer = undefined;
        const ps = ctx._ps();
        const y = Math.round(win.scrollY);
        ps._depth = Math.max(ps._depth, depthNow());
        const dy = y - lastY;
        if (Math.abs(dy) < MIN_MOVE_PX) return;
        const dir = dy > 0 ? 'down' : 'up';
        const reversed = direction !== '' && dir !== direction;
        if (reversed) reversals++;
        direction = dir;
        lastY = y;
        const s = Math.floor(ps._depth / 25);
        const newStep = s > step;
        if (newStep) step = s;
        if (reversed || newStep) {
            ctx._track('$scroll', { depth: ps._depth, y, direction: dir, reversals });
        }
    };

    listen(
        win,
        'scroll',
        () => {
            env._clearTimeout(timer);
            timer = env._setTimeout(settle, DEBOUNCE_MS);
        },
        false,
    );
}
