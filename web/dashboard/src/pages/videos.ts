/*
 * Video: a placeholder for the video issue. Lists GET /api/v1/videos when the server offers it; a server without
 * it (404) gets a plain note, not an error.
 */
import { ApiError, getJson } from '../api';
import { append, h } from '../dom';
import * as fmt from '../format';
import type { PageContext } from '../page';
import { card, emptyState, into, renderValue, table } from '../ui';

export default function videos(ctx: PageContext): void {
    const box = h('div');
    append(ctx.body, card({ title: 'Videos', description: 'How visitors watch the videos on your pages' }, box));
    void into(box, ctx.signal, async () => {
        let r: unknown;
        try {
            r = await getJson<unknown>('/api/v1/videos', undefined, ctx.signal);
        } catch (e) {
            if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
                return emptyState('Video analytics are not available on this server yet', 'This page will list the videos seen by the tracker once the server supports it.');
            }
            throw e;
        }
        const list = Array.isArray(r) ? r : Array.isArray((r as { videos?: unknown })?.videos) ? (r as { videos: unknown[] }).videos : null;
        if (!list) return renderValue(r);
        if (!list.length) return emptyState('No videos yet', 'No video has been played on a tracked page.');
        const rows = list.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object');
        const keys = [...new Set(rows.flatMap((x) => Object.keys(x)))].slice(0, 8);
        return table({
            caption: 'Videos',
            rows,
            columns: keys.map((k) => ({
                label: fmt.words(k),
                numeric: rows.every((x) => typeof x[k] === 'number' || x[k] == null),
                value: (x: Record<string, unknown>) => (typeof x[k] === 'number' ? fmt.num(x[k], 2) : typeof x[k] === 'object' && x[k] !== null ? renderValue(x[k]) : String(x[k] ?? '–')),
            })),
        });
    }, 'Loading videos…');
}
