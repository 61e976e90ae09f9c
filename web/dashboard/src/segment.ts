/*
 * segment.ts - a form for the API's segment object (docs/api.md, "Segments"): which sessions a report counts.
 * Used by the shared segment picker and by the Segments page. Members the form does not know are kept as they
 * were, so a bookmarked segment written by hand survives an edit.
 */
import { h, uid } from './dom';
import type { Segment } from './types';
import { field, input, select } from './ui';

export const DEVICES = ['desktop', 'mobile', 'tablet'] as const;
export const REFERRERS = ['direct', 'search', 'social', 'email', 'paid', 'other'] as const;
export const SIGNAL_KINDS = [
    'rage_click', 'dead_click', 'error_click', 'form_errors', 'field_thrash', 'form_abandon', 'calculator_retry',
    'long_dwell', 'u_turn', 'rapid_navigation', 'quick_back', 'scroll_thrash', 'js_error', 'video_rewatch', 'video_abandon',
] as const;

const KNOWN = ['device', 'referrer', 'browser', 'os', 'entry_path', 'path', 'event', 'converted', 'struggled', 'intervened', 'held_out', 'signal', 'property', 'trait'];

function list(v: unknown): string[] {
    if (Array.isArray(v)) return v.map(String);
    if (typeof v === 'string' && v) return [v];
    return [];
}

function one(values: string[]): string | string[] | undefined {
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
}

function checkGroup(legend: string, options: readonly string[], chosen: string[], name: string): { el: HTMLElement; read: () => string[] } {
    const boxes = options.map((o) => {
        const id = uid(name);
        const box = h('input', { type: 'checkbox', id, value: o, name });
        box.checked = chosen.includes(o);
        return { box, el: h('label', { class: 'check', for: id }, box, h('span', null, o.replace(/_/g, ' '))) };
    });
    return {
        el: h('fieldset', { class: 'checks' }, h('legend', { class: 'field-label' }, legend), h('div', { class: 'check-list' }, boxes.map((b) => b.el))),
        read: () => boxes.filter((b) => b.box.checked).map((b) => b.box.value),
    };
}

function tristate(v: unknown): string {
    return v === true ? 'yes' : v === false ? 'no' : '';
}

/* "plan=pro, seats=3" <-> {"plan": "pro", "seats": 3}: numbers and booleans are sent as such. */
function pairsToObject(s: string): Record<string, unknown> | undefined {
    const out: Record<string, unknown> = {};
    for (const part of s.split(',')) {
        const eq = part.indexOf('=');
        if (eq <= 0) continue;
        const k = part.slice(0, eq).trim();
        const raw = part.slice(eq + 1).trim();
        if (!k) continue;
        out[k] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === 'true' ? true : raw === 'false' ? false : raw;
    }
    return Object.keys(out).length ? out : undefined;
}

function objectToPairs(v: unknown): string {
    if (!v || typeof v !== 'object') return '';
    return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${String(x)}`).join(', ');
}

export interface SegmentEditor {
    el: HTMLElement;
    read(): Segment;
}

export function segmentEditor(initial: Segment, compact = false): SegmentEditor {
    const device = checkGroup('Device', DEVICES, list(initial.device), 'device');
    const referrer = checkGroup('Referrer', REFERRERS, list(initial.referrer), 'referrer');
    const signal = checkGroup('Struggle signal', SIGNAL_KINDS, list(initial.signal), 'signal');
    const browser = input({ value: list(initial.browser).join(', '), placeholder: 'Chrome, Safari' });
    const os = input({ value: list(initial.os).join(', '), placeholder: 'iOS, Android' });
    const entry = input({ value: typeof initial.entry_path === 'string' ? initial.entry_path : '', placeholder: '/pricing*' });
    const path = input({ value: typeof initial.path === 'string' ? initial.path : '', placeholder: '/checkout/*' });
    const event = input({ value: typeof initial.event === 'string' ? initial.event : '', placeholder: 'Signed Up' });
    const property = input({ value: objectToPairs(initial.property), placeholder: 'utm_source=news' });
    const trait = input({ value: objectToPairs(initial.trait), placeholder: 'plan=pro' });
    const yn = [['', 'Any'], ['yes', 'Yes'], ['no', 'No']] as const;
    const converted = select(yn, tristate(initial.converted));
    const struggled = select(yn, tristate(initial.struggled));
    const intervention = select([['', 'Any'], ['intervened', 'Got an intervention'], ['held_out', 'Held out (control)']],
        initial.intervened === true ? 'intervened' : initial.held_out === true ? 'held_out' : '');

    const el = h('div', { class: `segment-editor ${compact ? 'compact' : ''}`.trim() },
        h('div', { class: 'seg-grid' },
            device.el,
            referrer.el,
            field('Converted', converted),
            field('Struggled', struggled, 'A signal scored 70 or more'),
            field('Intervention', intervention),
            field('Entry page', entry, 'Glob, e.g. /demo/*'),
            field('Visited page', path),
            field('Had event', event),
            field('Browser', browser),
            field('OS', os),
            field('Event property', property, 'name=value, comma separated'),
            field('Visitor trait', trait, 'name=value, from identify'),
        ),
        h('details', { class: 'seg-signals' }, h('summary', null, 'Struggle signals'), signal.el),
    );

    return {
        el,
        read(): Segment {
            const out: Segment = {};
            for (const [k, v] of Object.entries(initial)) if (!KNOWN.includes(k)) out[k] = v;
            const set = (k: string, v: unknown) => { if (v !== undefined && v !== '') out[k] = v; };
            const csv = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
            set('device', one(device.read()));
            set('referrer', one(referrer.read()));
            set('browser', one(csv(browser.value)));
            set('os', one(csv(os.value)));
            set('entry_path', entry.value.trim());
            set('path', path.value.trim());
            set('event', event.value.trim());
            set('converted', converted.value === '' ? undefined : converted.value === 'yes');
            set('struggled', struggled.value === '' ? undefined : struggled.value === 'yes');
            if (intervention.value === 'intervened') out.intervened = true;
            if (intervention.value === 'held_out') out.held_out = true;
            set('signal', one(signal.read()));
            set('property', pairsToObject(property.value));
            set('trait', pairsToObject(trait.value));
            return out;
        },
    };
}
