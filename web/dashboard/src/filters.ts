/*
 * filters.ts - the date range and segment shared by every report page, kept in the URL query so a view can be
 * bookmarked and shared:
 *
 *   ?range=24h | 7d (default, left out) | 30d | custom&from=2026-11-01&to=2026-11-07 (inclusive UTC days)
 *   &segment={"device":"mobile"}            (the API's segment object, docs/api.md "Segments")
 *
 * Page-specific state (a funnel's steps, the Sankey's page) lives in the same query under other names.
 */
import type { Segment } from './types';

export type Preset = '24h' | '7d' | '30d' | 'custom';
export const PRESETS: readonly { id: Preset; label: string; long: string }[] = [
    { id: '24h', label: '24h', long: 'Last 24 hours' },
    { id: '7d', label: '7d', long: 'Last 7 days' },
    { id: '30d', label: '30d', long: 'Last 30 days' },
    { id: 'custom', label: 'Custom', long: 'Custom range' },
];

export interface Filters {
    preset: Preset;
    from: string; // YYYY-MM-DD, custom only
    to: string; // YYYY-MM-DD, inclusive, custom only
    segment: Segment;
}

const DAY_MS = 86_400_000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export function isoDay(ms: number): string {
    return new Date(ms).toISOString().slice(0, 10);
}

function isPreset(s: string | null): s is Preset {
    return s === '24h' || s === '7d' || s === '30d' || s === 'custom';
}

export function parseSegment(s: string | null): Segment {
    if (!s) return {};
    try {
        const v: unknown = JSON.parse(s);
        return v && typeof v === 'object' && !Array.isArray(v) ? (v as Segment) : {};
    } catch {
        return {};
    }
}

export function readFilters(search: string = location.search): Filters {
    const q = new URLSearchParams(search);
    const r = q.get('range');
    let preset: Preset = isPreset(r) ? r : '7d';
    let from = q.get('from') ?? '';
    let to = q.get('to') ?? '';
    if (preset === 'custom' && !(DATE_RE.test(from) && DATE_RE.test(to) && from <= to)) {
        preset = '7d';
    }
    if (preset !== 'custom') {
        to = isoDay(Date.now());
        from = isoDay(Date.now() - 6 * DAY_MS);
    }
    return { preset, from, to, segment: parseSegment(q.get('segment')) };
}

/* Writes f into q (in place), leaving defaults out. */
export function writeFilters(f: Filters, q: URLSearchParams): URLSearchParams {
    q.delete('range');
    q.delete('from');
    q.delete('to');
    q.delete('segment');
    if (f.preset !== '7d') q.set('range', f.preset);
    if (f.preset === 'custom') {
        q.set('from', f.from);
        q.set('to', f.to);
    }
    if (Object.keys(f.segment).length) q.set('segment', JSON.stringify(f.segment));
    return q;
}

/* The API's from/to for the range. A custom range ends at the end of its last day. */
export function rangeQuery(f: Filters): { from: string; to: string } {
    switch (f.preset) {
        case '24h':
            return { from: '-24h', to: 'now' };
        case '30d':
            return { from: '-30d', to: 'now' };
        case 'custom':
            return { from: f.from, to: isoDay(Date.parse(f.to) + DAY_MS) };
        default:
            return { from: '-7d', to: 'now' };
    }
}

export function rangeDays(f: Filters): number {
    switch (f.preset) {
        case '24h':
            return 1;
        case '30d':
            return 30;
        case 'custom':
            return Math.round((Date.parse(f.to) - Date.parse(f.from)) / DAY_MS) + 1;
        default:
            return 7;
    }
}

export function describeRange(f: Filters): string {
    if (f.preset !== 'custom') return PRESETS.find((p) => p.id === f.preset)?.long ?? '';
    const fmt = (d: string) =>
        new Date(`${d}T00:00:00Z`).toLocaleDateString(undefined, { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric' });
    return f.from === f.to ? fmt(f.from) : `${fmt(f.from)} – ${fmt(f.to)}`;
}

function describeValue(v: unknown): string {
    if (Array.isArray(v)) return v.map(describeValue).join(' or ');
    if (v && typeof v === 'object') {
        return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${describeValue(x)}`).join(', ');
    }
    if (v === true) return 'yes';
    if (v === false) return 'no';
    return String(v);
}

const SEGMENT_WORDS: Record<string, string> = {
    entry_path: 'entry page',
    path: 'visited',
    held_out: 'held out',
};

export function describeSegment(s: Segment): string {
    const parts = Object.entries(s).map(([k, v]) => `${SEGMENT_WORDS[k] ?? k.replace(/_/g, ' ')}: ${describeValue(v)}`);
    return parts.length ? parts.join(' · ') : 'All sessions';
}
