/*
 * errors.ts: $js_error for uncaught errors and unhandled promise rejections.
 *
 * A listener on window (not window.onerror, which the site may own). Resource load failures also
 * dispatch "error" but do not bubble to window and carry no message, so they are ignored. A page stuck
 * in an error loop would flood the queue, so at most MAX_PER_PAGE errors are sent per page view.
 * Errors have no source position for rejections: source "", line 0, column 0.
 */
import type { Ctx } from '../context';
import { listen, trunc } from '../util';

const MAX_PER_PAGE = 20;

export function installErrors(ctx: Ctx): void {
    const send = (
        kind: string,
        message: unknown,
        source: unknown,
        line: unknown,
        column: unknown,
        stack: unknown,
    ): void => {
        const ps = ctx._ps();
        if (ps._errors >= MAX_PER_PAGE) return;
        ps._errors++;
        ctx._track(
            '$js_error',
            {
                message: trunc(message, 300),
                source: trunc(source, 500),
                line: Number(line) || 0,
                column: Number(column) || 0,
                stack: trunc(stack, 1000),
                kind,
            },
            true,
        );
    };
    listen(
        ctx._win,
        'error',
        (e: ErrorEvent) => {
            if (!e.message && !e.error) return;
            send('error', e.message || String(e.error), e.filename, e.lineno, e.colno, e.error && e.error.stack);
        },
        false,
    );
    listen(
        ctx._win,
        'unhandledrejection',
        (e: PromiseRejectionEvent) => {
            const r = e.reason;
            let msg: unknown = r && r.message;
            if (msg == null) {
                try {
                    msg = String(r);
                } catch (x) {
                    msg = 'unhandled rejection';
                }
            }
            send('unhandledrejection', msg, '', 0, 0, r && r.stack);
        },
        false,
    );
}
