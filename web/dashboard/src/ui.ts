/*
 * ui.ts - the dashboard's building blocks: cards, KPI tiles, tables, form fields, export buttons, and the
 * loading / empty / error states every report goes through.
 */
import { ApiError, downloadReport, isAbort, type ReportSpec } from './api';
import { h, replace, uid, type Attrs, type Child } from './dom';

export function card(opts: { title: string; description?: Child; actions?: Child; className?: string }, ...body: Child[]): HTMLElement {
    const id = uid('card');
    return h('section', { class: `card ${opts.className ?? ''}`.trim(), 'aria-labelledby': id },
        h('header', { class: 'card-head' },
            h('div', { class: 'card-titles' },
                h('h2', { id, class: 'card-title' }, opts.title),
                opts.description ? h('p', { class: 'card-desc' }, opts.description) : null),
            opts.actions ? h('div', { class: 'card-actions' }, opts.actions) : null),
        h('div', { class: 'card-body' }, body));
}

export interface Tile {
    label: string;
    value: string;
    hint?: Child;
    tone?: 'good' | 'bad' | 'warn' | 'accent' | undefined;
    extra?: Child;
    small?: boolean; // a long text value (a path) in a smaller font
}

export function tiles(items: Tile[], label?: string): HTMLElement {
    return h('dl', { class: 'tiles', 'aria-label': label ?? null },
        items.map((t) => h('div', { class: ['tile', t.tone ? `tone-${t.tone}` : '', t.small ? 'tile-small' : ''].filter(Boolean).join(' ') },
            h('dt', { class: 'tile-label' }, t.label),
            h('dd', { class: 'tile-value' }, t.value),
            t.hint ? h('dd', { class: 'tile-hint' }, t.hint) : null,
            t.extra ? h('dd', { class: 'tile-extra' }, t.extra) : null)));
}

export interface Column<T> {
    label: string;
    value: (row: T, index: number) => Child;
    numeric?: boolean;
    className?: string;
    header?: Child; // replaces label in the header cell (label stays the accessible name)
}

export function table<T>(opts: { caption: string; columns: Column<T>[]; rows: T[]; captionHidden?: boolean; className?: string; rowAttrs?: (row: T) => Attrs }): HTMLElement {
    return h('div', { class: `table-wrap ${opts.className ?? ''}`.trim(), tabindex: 0, role: 'region', 'aria-label': opts.caption },
        h('table', { class: 'table' },
            h('caption', { class: opts.captionHidden === false ? '' : 'sr-only' }, opts.caption),
            h('thead', null, h('tr', null, opts.columns.map((c) =>
                h('th', { scope: 'col', class: `${c.numeric ? 'num' : ''} ${c.className ?? ''}`.trim() || null }, c.header ?? c.label)))),
            h('tbody', null, opts.rows.map((r, i) => h('tr', opts.rowAttrs ? opts.rowAttrs(r) : null, opts.columns.map((c) =>
                h('td', { class: `${c.numeric ? 'num' : ''} ${c.className ?? ''}`.trim() || null }, c.value(r, i))))))));
}

export function emptyState(title: string, hint?: Child): HTMLElement {
    return h('div', { class: 'state state-empty', role: 'status' },
        h('p', { class: 'state-title' }, title),
        hint ? h('p', { class: 'state-hint' }, hint) : null);
}

export function errorState(err: unknown, retry?: () => void): HTMLElement {
    const e = err instanceof ApiError ? err : null;
    const message = e ? e.message : err instanceof Error ? err.message : String(err);
    return h('div', { class: 'state state-error', role: 'alert' },
        h('p', { class: 'state-title' }, e?.status === 404 && /^no API route/.test(e.message) ? 'This report is not available on this server yet'
            : e?.status === 404 ? 'Not found' : 'The report could not be loaded'),
        h('p', { class: 'state-hint' }, message,
            e ? h('span', { class: 'state-code' }, ` (${e.code}${e.field ? `, field ${e.field}` : ''}${e.status ? `, HTTP ${e.status}` : ''})`) : null),
        retry ? h('button', { type: 'button', class: 'btn btn-small', onclick: retry }, 'Try again') : null);
}

export function loadingState(text = 'Loading…'): HTMLElement {
    return h('div', { class: 'state state-loading', role: 'status', 'aria-live': 'polite' },
        h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', null, text));
}

/*
 * Runs load() with target showing a loading state; its result (DOM) replaces the state, an error shows the API's
 * message with a retry button. Aborted loads (the page was left) leave target alone.
 */
export async function into(target: HTMLElement, signal: AbortSignal, load: () => Promise<Child>, loadingText?: string): Promise<boolean> {
    replace(target, loadingState(loadingText));
    target.setAttribute('aria-busy', 'true');
    try {
        const content = await load();
        if (signal.aborted) return false;
        replace(target, content);
        return true;
    } catch (e) {
        if (isAbort(e) || signal.aborted) return false;
        replace(target, errorState(e, () => void into(target, signal, load, loadingText)));
        return false;
    } finally {
        target.removeAttribute('aria-busy');
    }
}

export function button(label: Child, onClick: (ev: MouseEvent) => void, attrs: Attrs = {}): HTMLButtonElement {
    const cls = typeof attrs.class === 'string' ? attrs.class : 'btn';
    return h('button', { type: 'button', ...attrs, class: cls, onclick: onClick }, label);
}

/* A labelled control: <label> wraps the text and the control is wired by id. */
export function field(label: string, control: HTMLElement, hint?: string, className?: string): HTMLElement {
    const id = control.id || uid('f');
    control.id = id;
    const hintId = hint ? uid('hint') : null;
    if (hintId) control.setAttribute('aria-describedby', hintId);
    return h('div', { class: `field ${className ?? ''}`.trim() },
        h('label', { for: id, class: 'field-label' }, label),
        control,
        hint ? h('p', { id: hintId, class: 'field-hint' }, hint) : null);
}

export function select(options: readonly (readonly [string, string])[], value: string, attrs: Attrs = {}): HTMLSelectElement {
    const el = h('select', { class: 'input', ...attrs }, options.map(([v, l]) => h('option', { value: v }, l)));
    el.value = value;
    return el;
}

export function input(attrs: Attrs = {}): HTMLInputElement {
    return h('input', { class: 'input', type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

/* CSV and JSON download buttons for the report spec() describes at the time of the click. */
export function exportButtons(title: string, spec: () => ReportSpec | null): HTMLElement {
    const status = h('span', { class: 'export-status', role: 'status' });
    const run = async (format: 'csv' | 'json', btn: HTMLButtonElement) => {
        const s = spec();
        if (!s) {
            status.textContent = 'Run the report first.';
            return;
        }
        btn.disabled = true;
        status.textContent = '';
        try {
            await downloadReport(s, format);
            status.textContent = `${format.toUpperCase()} downloaded`;
            setTimeout(() => { status.textContent = ''; }, 3000);
        } catch (e) {
            status.textContent = `Export failed: ${e instanceof Error ? e.message : String(e)}`;
        } finally {
            btn.disabled = false;
        }
    };
    const csv: HTMLButtonElement = button('CSV', () => void run('csv', csv), { class: 'btn btn-small btn-ghost', 'aria-label': `Download ${title} as CSV`, 'data-export': 'csv' });
    const json: HTMLButtonElement = button('JSON', () => void run('json', json), { class: 'btn btn-small btn-ghost', 'aria-label': `Download ${title} as JSON`, 'data-export': 'json' });
    return h('div', { class: 'export', role: 'group', 'aria-label': `Export ${title}` },
        h('span', { class: 'export-label', 'aria-hidden': 'true' }, 'Export'), csv, json, status);
}

/* A chart with its table behind a toggle (the table is the chart's text alternative). */
export function chartAndTable(chartEl: HTMLElement, tableEl: HTMLElement, showTable = false): HTMLElement {
    const wrapId = uid('tbl');
    const tableBox = h('div', { id: wrapId, class: 'chart-table' }, tableEl);
    tableBox.hidden = !showTable;
    const toggle = button(showTable ? 'Hide table' : 'Show table', () => {
        tableBox.hidden = !tableBox.hidden;
        toggle.setAttribute('aria-expanded', String(!tableBox.hidden));
        toggle.textContent = tableBox.hidden ? 'Show table' : 'Hide table';
    }, { class: 'btn btn-small btn-ghost table-toggle', 'aria-expanded': String(showTable), 'aria-controls': wrapId });
    return h('div', { class: 'chart-block' }, chartEl, h('div', { class: 'chart-foot' }, toggle), tableBox);
}

export function badge(text: string, tone: 'good' | 'bad' | 'warn' | 'neutral' | 'accent' = 'neutral', title?: string): HTMLElement {
    return h('span', { class: `badge badge-${tone}`, title: title ?? null }, text);
}

/* A signal's score as a tone: 70+ is struggle (docs/detectors.md). */
export function scoreTone(score: number): 'bad' | 'warn' | 'neutral' {
    return score >= 70 ? 'bad' : score >= 50 ? 'warn' : 'neutral';
}

export function signalChips(signals: Record<string, number> | undefined): HTMLElement {
    const entries = Object.entries(signals ?? {});
    if (!entries.length) return h('span', { class: 'muted' }, 'none');
    return h('span', { class: 'chips' }, entries.map(([k, n]) => badge(n > 1 ? `${k.replace(/_/g, ' ')} ×${n}` : k.replace(/_/g, ' '), 'warn')));
}

/* Any JSON value as readable DOM (explanations, evidence, properties). */
export function renderValue(v: unknown, depth = 0): HTMLElement {
    if (v === null || v === undefined) return h('span', { class: 'muted' }, '–');
    if (typeof v !== 'object') return h('span', null, typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v));
    if (Array.isArray(v)) {
        if (v.every((x) => x === null || typeof x !== 'object')) return h('span', null, v.map(String).join(', '));
        return h('ol', { class: 'kv-list' }, v.map((x) => h('li', null, renderValue(x, depth + 1))));
    }
    const entries = Object.entries(v as Record<string, unknown>);
    if (!entries.length) return h('span', { class: 'muted' }, '–');
    if (depth > 3) return h('code', null, JSON.stringify(v));
    return h('dl', { class: 'kv' }, entries.map(([k, x]) => [h('dt', null, k.replace(/_/g, ' ')), h('dd', null, renderValue(x, depth + 1))]));
}

export function link(href: string, text: Child, attrs: Attrs = {}): HTMLAnchorElement {
    return h('a', { href, ...attrs }, text);
}

export function muted(text: Child): HTMLElement {
    return h('span', { class: 'muted' }, text);
}

