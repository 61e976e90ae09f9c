/*
 * Retention: visitors grouped by the day or week of their first event, and the share who came back (did the
 * return event) in each later period: POST /api/v1/retention, drawn as a heatmap and a table.
 *
 * URL state: cohort (day|week), periods, return (any | event:NAME | path:GLOB).
 */
import { postJson } from '../api';
import { Chart, MUTED, axisLabel, ramp, tip } from '../charts';

const RAMP = ['#f1f4fb', '#aab8e8', '#5a72c9', '#2a3f8f'];
import { append, h } from '../dom';
import { rangeDays, rangeQuery } from '../filters';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { Retention } from '../types';
import { card, chartAndTable, emptyState, exportButtons, field, input, into, select, table } from '../ui';

export default function retention(ctx: PageContext): void {
    const p = ctx.params;
    const days = rangeDays(ctx.filters);
    const cohort = select([['day', 'Day'], ['week', 'Week']], p.get('cohort') ?? (days > 14 ? 'week' : 'day'));
    const periods = input({ type: 'number', min: 1, max: 52, value: p.get('periods') ?? (cohort.value === 'week' ? '8' : '7'), inputmode: 'numeric' });
    const ret = p.get('return') ?? 'any';
    const kind = select([['any', 'Any event'], ['event', 'An event named…'], ['path', 'A page view of…']], ret.startsWith('event:') ? 'event' : ret.startsWith('path:') ? 'path' : 'any');
    const what = input({ value: ret.includes(':') ? ret.slice(ret.indexOf(':') + 1) : '', placeholder: kind.value === 'path' ? '/pricing' : 'Loan Calculated' });
    const whatField = field(kind.value === 'path' ? 'Page (glob)' : 'Event name', what);
    whatField.hidden = kind.value === 'any';
    kind.addEventListener('change', () => {
        whatField.hidden = kind.value === 'any';
        const label = whatField.querySelector('label');
        if (label) label.textContent = kind.value === 'path' ? 'Page (glob)' : 'Event name';
        what.placeholder = kind.value === 'path' ? '/pricing' : 'Loan Calculated';
        if (kind.value !== 'any') what.focus();
    });
    const result = h('div');
    let body: Record<string, unknown> | null = null;
    const form = h('form', { class: 'controls', 'aria-label': 'Retention options' },
        field('Cohort by', cohort), field('Periods', periods, undefined, 'narrow'), field('Came back with', kind), whatField,
        h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show retention')));
    append(ctx.body, card({
        title: 'Retention by cohort',
        description: 'Share of each cohort’s visitors who came back in each later period (period 0 is the cohort’s own)',
        actions: exportButtons('retention', () => (body ? { method: 'POST', path: '/api/v1/retention', body, name: 'retention' } : null)),
    }, form, result));

    const run = () => {
        const n = Math.max(1, Math.min(52, Math.round(Number(periods.value) || 8)));
        periods.value = String(n);
        const returnEvent = kind.value === 'any' || !what.value.trim() ? 'any' : kind.value === 'event' ? what.value.trim() : { path: what.value.trim() };
        ctx.setParams({ cohort: cohort.value, periods: String(n), return: kind.value === 'any' || !what.value.trim() ? null : `${kind.value}:${what.value.trim()}` });
        const b = { cohort: cohort.value, periods: n, return_event: returnEvent, ...rangeQuery(ctx.filters), segment: ctx.filters.segment };
        body = b;
        void into(result, ctx.signal, async () => {
            const r = await postJson<Retention>('/api/v1/retention', b, ctx.signal);
            const all = r.cohorts ?? [];
            /* Empty cohorts before the first visitor are left out (a long range of a young project). */
            const firstFull = all.findIndex((c) => c.size > 0);
            if (firstFull < 0) return emptyState('No data for this range', 'No visitor had a first event in the selected range and segment.');
            const cohorts = all.slice(firstFull);
            r.cohorts = cohorts;
            const unit = cohort.value === 'week' ? 'Week' : 'Day';
            const total = cohorts.reduce((a, c) => a + c.size, 0);
            const p1 = cohorts.filter((c) => c.size > 0 && c.rates && c.rates.length > 1);
            const avg1 = p1.length ? p1.reduce((a, c) => a + (c.retained?.[1] ?? 0), 0) / Math.max(1, p1.reduce((a, c) => a + c.size, 0)) : null;
            const chart = new Chart(heatmapOption(r, n, unit), ctx.signal, {
                label: `Retention heatmap of ${cohorts.length} ${unit.toLowerCase()} cohorts (${fmt.int(total)} visitors) over ${n} periods; on average ${fmt.pct(avg1)} came back in period 1. The table lists every cell.`,
                className: 'chart-heatmap',
            });
            chart.el.style.height = `${Math.max(220, 60 + cohorts.length * 30)}px`;
            const skipped = firstFull ? h('p', { class: 'hint' }, `${firstFull} earlier ${firstFull === 1 ? 'cohort has' : 'cohorts have'} no visitors and ${firstFull === 1 ? 'is' : 'are'} not shown.`) : null;
            return [skipped, chartAndTable(chart.el, table({
                caption: 'Retention by cohort',
                rows: cohorts,
                className: 'table-retention',
                columns: [
                    { label: 'Cohort', value: (c) => fmt.bucket(c.start, 'day') },
                    { label: 'Visitors', value: (c) => fmt.int(c.size), numeric: true },
                    ...Array.from({ length: n }, (_, k) => ({
                        label: `${unit} ${k}`,
                        numeric: true,
                        value: (c: { size: number; retained?: number[]; rates?: (number | null)[] }) => {
                            const rate = c.rates?.[k];
                            if (rate === undefined) return '';
                            const cell = h('span', { class: 'ret-cell', title: `${fmt.int(c.retained?.[k])} of ${fmt.int(c.size)}` }, fmt.pct(rate, 0));
                            return cell;
                        },
                    })),
                ],
            }), true)];
        }, 'Computing retention…');
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); run(); });
    cohort.addEventListener('change', run);
    run();
}

function heatmapOption(r: Retention, n: number, unit: string) {
    const cohorts = r.cohorts ?? [];
    const ys = cohorts.map((c) => `${fmt.bucket(c.start, 'day')} (${fmt.int(c.size)})`);
    /* The colour scale ends at the highest later-period rate of a cohort of 5 or more (one visitor's 100% would
     * wash out the rest); higher cells take the darkest colour. */
    const rated = cohorts.some((c) => c.size >= 5) ? cohorts.filter((c) => c.size >= 5) : cohorts;
    let max = 0;
    rated.forEach((c) => c.rates?.forEach((rate, k) => { if (k > 0 && k < n && c.size && rate != null && rate > max) max = rate; }));
    max = Math.max(max, 0.05);
    /* Period 0 is 100% by definition: drawn neutral (out of the colour range) so the later periods use the scale. */
    const data: { value: [number, number, number | null]; itemStyle: { color: string }; label: { color: string } }[] = [];
    cohorts.forEach((c, y) => {
        for (let k = 0; k < n; k++) {
            const rate = c.rates?.[k];
            if (rate === undefined) continue;
            const v = c.size && rate != null ? rate : null;
            const fill = v === null ? '#f4f5f7' : k === 0 ? '#e9ecf2' : ramp(RAMP, v / max);
            data.push({ value: [k, y, v], itemStyle: { color: fill }, label: { color: v !== null && k > 0 && v > max * 0.55 ? '#ffffff' : '#111827' } });
        }
    });
    return {
        grid: { left: 130, right: 16, top: 28, bottom: 16 },
        tooltip: {
            trigger: 'item',
            formatter: (p: { data: { value: [number, number, number | null] } }) => {
                const [k, y, rate] = p.data.value;
                const c = cohorts[y];
                return tip(`Cohort ${fmt.bucket(c?.start, 'day')}, ${unit.toLowerCase()} ${k}`, [
                    { label: 'Came back', value: `${fmt.int(c?.retained?.[k])} of ${fmt.int(c?.size)}` },
                    { label: 'Rate', value: fmt.pct(rate) },
                ]);
            },
        },
        xAxis: { type: 'category', position: 'top', data: Array.from({ length: n }, (_, k) => `${unit} ${k}`), axisLabel, axisTick: { show: false }, axisLine: { show: false }, splitArea: { show: false } },
        yAxis: { type: 'category', data: ys, inverse: true, axisLabel: { ...axisLabel, color: '#374151' }, axisTick: { show: false }, axisLine: { show: false } },
        series: [{
            type: 'heatmap', data,
            label: { show: true, fontSize: 11, formatter: (p: { data: { value: [number, number, number | null] } }) => (p.data.value[2] == null ? '' : `${Math.round(p.data.value[2] * 100)}%`) },
            itemStyle: { borderColor: '#fff', borderWidth: 2, borderRadius: 3 },
            emphasis: { itemStyle: { borderColor: MUTED, borderWidth: 1 } },
        }],
    };
}
