/*
 * Segments: two or more segments side by side (POST /api/v1/segments/compare): the KPIs of each over the shared
 * range, as a table and a chart of the rates. URL state: compare=[{"name","segment"}, ...].
 */
import { postJson } from '../api';
import { Chart, COLORS, GRID_LINE, MUTED, axisLabel, legend, splitLine, tip } from '../charts';
import { append, h, replace } from '../dom';
import { describeSegment, rangeQuery } from '../filters';
import * as fmt from '../format';
import type { PageContext } from '../page';
import { segmentEditor, type SegmentEditor } from '../segment';
import type { KpiTotals, Segment } from '../types';
import { button, card, emptyState, exportButtons, field, input, into, table } from '../ui';

interface Named { name: string; segment: Segment }
const MAX_SEGMENTS = 6;

const METRICS: { key: keyof KpiTotals; label: string; f: (v: unknown) => string; rate?: boolean }[] = [
    { key: 'sessions', label: 'Sessions', f: fmt.int },
    { key: 'visitors', label: 'Visitors', f: fmt.int },
    { key: 'pageviews', label: 'Page views', f: fmt.int },
    { key: 'conversions', label: 'Conversions', f: fmt.int },
    { key: 'conversion_rate', label: 'Conversion rate', f: (v) => fmt.pct(v), rate: true },
    { key: 'avg_session_seconds', label: 'Avg. session', f: fmt.duration },
    { key: 'bounce_rate', label: 'Bounce rate', f: (v) => fmt.pct(v), rate: true },
    { key: 'struggling_sessions', label: 'Struggling sessions', f: fmt.int },
    { key: 'struggling_share', label: 'Struggling share', f: (v) => fmt.pct(v), rate: true },
    { key: 'interventions', label: 'Interventions', f: fmt.int },
    { key: 'accepted', label: 'Accepted', f: fmt.int },
];

function readCompare(raw: string | null): Named[] {
    try {
        const v = JSON.parse(raw ?? '') as unknown;
        if (Array.isArray(v) && v.length >= 2) {
            return v.slice(0, MAX_SEGMENTS).map((x, i) => {
                const o = (x ?? {}) as { name?: unknown; segment?: unknown };
                return { name: typeof o.name === 'string' ? o.name : `Segment ${i + 1}`, segment: o.segment && typeof o.segment === 'object' ? (o.segment as Segment) : {} };
            });
        }
    } catch {
        /* default below */
    }
    return [{ name: 'Mobile', segment: { device: 'mobile' } }, { name: 'Desktop', segment: { device: 'desktop' } }];
}

export default function segments(ctx: PageContext): void {
    const defs = readCompare(ctx.params.get('compare'));
    const editors: { name: HTMLInputElement; editor: SegmentEditor }[] = [];
    const list = h('div', { class: 'seg-defs' });
    const result = h('div');
    let body: { segments: Named[]; from: string; to: string } | null = null;

    const read = (): Named[] => editors.map((e, i) => ({ name: e.name.value.trim() || `Segment ${i + 1}`, segment: e.editor.read() }));
    const renderList = (openIndex = -1) => {
        editors.length = 0;
        replace(list, defs.map((d, i) => {
            const name = input({ value: d.name, 'aria-label': `Segment ${i + 1} name` });
            const editor = segmentEditor(d.segment, true);
            editors.push({ name, editor });
            const details = h('details', { class: 'seg-def' },
                h('summary', null, h('span', { class: 'seg-swatch', 'aria-hidden': 'true' }), h('strong', null, d.name), h('span', { class: 'muted' }, ` · ${describeSegment(d.segment)}`)),
                h('div', { class: 'seg-def-body' },
                    h('div', { class: 'controls' }, field('Name', name),
                        h('div', { class: 'field field-submit' }, button('Remove', () => { syncDefs(); defs.splice(i, 1); renderList(); }, { class: 'btn btn-small btn-ghost', disabled: defs.length <= 2, 'aria-label': `Remove segment ${i + 1}` }))),
                    editor.el));
            (details.querySelector('.seg-swatch') as HTMLElement).style.background = COLORS[i % COLORS.length] ?? '';
            details.open = i === openIndex;
            return details;
        }));
    };
    const syncDefs = () => { read().forEach((d, i) => { defs[i] = d; }); };
    renderList();
    const add = button('+ Add segment', () => {
        syncDefs();
        if (defs.length >= MAX_SEGMENTS) return;
        defs.push({ name: `Segment ${defs.length + 1}`, segment: {} });
        renderList(defs.length - 1);
        add.disabled = defs.length >= MAX_SEGMENTS;
        list.querySelector<HTMLElement>('details[open] input')?.focus();
    }, { class: 'btn btn-small' });
    const form = h('form', { class: 'seg-form', 'aria-label': 'Segments to compare' }, list,
        h('div', { class: 'row-actions' }, add, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Compare')));
    append(ctx.body,
        card({ title: 'Segments', description: 'Open a segment to edit it; sessions must match every condition of a segment' }, form),
        card({ title: 'Comparison', actions: exportButtons('segment comparison', () => (body ? { method: 'POST', path: '/api/v1/segments/compare', body, name: 'segments' } : null)) }, result));

    const run = () => {
        syncDefs();
        const segs = read();
        ctx.setParams({ compare: JSON.stringify(segs) });
        const b = { segments: segs, ...rangeQuery(ctx.filters) };
        body = b;
        renderList();
        void into(result, ctx.signal, async () => {
            const r = await postJson<{ segments?: { name: string; totals?: KpiTotals }[] }>('/api/v1/segments/compare', b, ctx.signal);
            const rows = r.segments ?? [];
            if (!rows.some((s) => s.totals?.sessions)) return emptyState('No data for this range', 'None of the segments has a session in the selected range.');
            const chart = new Chart(ratesOption(rows), ctx.signal, {
                label: `Rates by segment: ${rows.map((s) => `${s.name} converts ${fmt.pct(s.totals?.conversion_rate)}, struggles ${fmt.pct(s.totals?.struggling_share)}`).join('; ')}. The table lists every KPI.`,
                className: 'chart-medium',
            });
            return [
                legend(rows.map((s, i) => ({ label: s.name, color: COLORS[i % COLORS.length] ?? '' }))),
                chart.el,
                table<(typeof METRICS)[number]>({
                    caption: 'KPIs by segment',
                    rows: METRICS,
                    className: 'table-compare',
                    columns: [
                        { label: 'KPI', value: (m) => h('span', { class: 'kpi-name' }, m.label) },
                        ...rows.map((s, i) => ({
                            label: s.name,
                            header: h('span', { class: 'seg-head' }, swatch(i), s.name),
                            numeric: true,
                            value: (m: (typeof METRICS)[number]) => m.f(s.totals?.[m.key]),
                        })),
                    ],
                }),
            ];
        }, 'Comparing…');
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); run(); });
    run();
}

function swatch(i: number): HTMLElement {
    const s = h('span', { class: 'seg-swatch', 'aria-hidden': 'true' });
    s.style.background = COLORS[i % COLORS.length] ?? '';
    return s;
}

function ratesOption(rows: { name: string; totals?: KpiTotals }[]) {
    const rates = METRICS.filter((m) => m.rate);
    return {
        grid: { left: 120, right: 48, top: 8, bottom: 24 },
        tooltip: {
            trigger: 'axis', axisPointer: { type: 'shadow' },
            formatter: (ps: { dataIndex: number }[]) => {
                const m = rates[ps[0]?.dataIndex ?? 0];
                return tip(m?.label ?? '', rows.map((s, i) => ({ label: s.name, value: fmt.pct(m ? s.totals?.[m.key] : null), color: COLORS[i % COLORS.length] })));
            },
        },
        xAxis: { type: 'value', axisLabel: { ...axisLabel, formatter: (v: number) => `${Math.round(v * 100)}%` }, splitLine, max: (e: { max: number }) => Math.min(1, Math.ceil(e.max * 10 + 0.5) / 10) },
        yAxis: { type: 'category', data: rates.map((m) => m.label), inverse: true, axisLabel: { ...axisLabel, color: '#374151' }, axisTick: { show: false }, axisLine: { lineStyle: { color: GRID_LINE } } },
        series: rows.map((s) => ({
            name: s.name, type: 'bar', barMaxWidth: 18,
            data: rates.map((m) => s.totals?.[m.key] ?? 0),
            label: { show: true, position: 'right', color: MUTED, fontSize: 11, formatter: (p: { value: number }) => fmt.pct(p.value) },
        })),
    };
}
