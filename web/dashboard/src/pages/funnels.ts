/*
 * Funnels: a builder for POST /api/v1/funnels (steps as page paths or event names with property filters,
 * window, order, counting by visitor or session, breakdown) over the shared range and segment; the funnel as a
 * chart and a table; selecting a step lists who dropped before it (POST /api/v1/funnels/dropped).
 *
 * The definition is kept in the URL (?funnel=) so a funnel can be bookmarked.
 */
import { postJson, type ReportSpec } from '../api';
import { Chart, COLORS, GRID_LINE, MUTED, axisLabel, legend, splitLine, tip, type ClickParams } from '../charts';
import { append, h, replace } from '../dom';
import { rangeQuery } from '../filters';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { Dropped, FunnelQuery, FunnelResult, FunnelResultStep, FunnelStep } from '../types';
import { button, card, chartAndTable, emptyState, exportButtons, field, input, into, link, select, table } from '../ui';

type Op = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'contains';
const OPS: readonly (readonly [Op, string])[] = [['eq', '='], ['ne', '≠'], ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤'], ['contains', 'contains']];

interface WhereRow { prop: string; op: Op; value: string }
interface StepState { kind: 'path' | 'event'; value: string; where: WhereRow[] }
interface Definition {
    steps: StepState[];
    window: string;
    order: 'loose' | 'strict';
    by: 'visitor' | 'session';
    breakdown: string; // '', device, browser, os, referrer, property
    breakdownProperty: string;
}

const WINDOWS = [['10m', '10 minutes'], ['30m', '30 minutes'], ['1h', '1 hour'], ['6h', '6 hours'], ['1d', '1 day'], ['7d', '7 days'], ['30d', '30 days']] as const;
const BREAKDOWNS = [['', 'None'], ['device', 'Device'], ['browser', 'Browser'], ['os', 'OS'], ['referrer', 'Referrer'], ['property', 'Step-1 property…']] as const;

function parseValue(s: string): unknown {
    const t = s.trim();
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (t === 'true') return true;
    if (t === 'false') return false;
    return t;
}

function defaultDefinition(ctx: PageContext): Definition {
    const goal = ctx.project.settings?.goal;
    const last: StepState = goal?.path ? { kind: 'path', value: goal.path, where: [] } : goal?.event ? { kind: 'event', value: goal.event, where: [] } : { kind: 'path', value: '/', where: [] };
    return { steps: [{ kind: 'event', value: '$pageview', where: [] }, last], window: '1d', order: 'loose', by: 'visitor', breakdown: '', breakdownProperty: '' };
}

/* ?funnel= holds the API's own step format plus the options. */
function readDefinition(ctx: PageContext): Definition {
    const raw = ctx.params.get('funnel');
    const d = defaultDefinition(ctx);
    if (!raw) return d;
    try {
        const j = JSON.parse(raw) as Partial<FunnelQuery>;
        if (Array.isArray(j.steps) && j.steps.length) {
            d.steps = j.steps.map((s: FunnelStep) => ({
                kind: s.path !== undefined ? 'path' : 'event',
                value: String(s.path ?? s.event ?? ''),
                where: Object.entries(s.where ?? {}).flatMap(([prop, v]) => {
                    if (v && typeof v === 'object' && !Array.isArray(v)) {
                        return Object.entries(v as Record<string, unknown>).map(([op, x]) => ({ prop, op: (OPS.some((o) => o[0] === op) ? op : 'eq') as Op, value: String(x) }));
                    }
                    return [{ prop, op: 'eq' as Op, value: String(v) }];
                }),
            }));
        }
        if (typeof j.window === 'string') d.window = j.window;
        if (j.order === 'strict') d.order = 'strict';
        if (j.by === 'session') d.by = 'session';
        if (typeof j.breakdown === 'string') {
            if (j.breakdown.startsWith('property:')) {
                d.breakdown = 'property';
                d.breakdownProperty = j.breakdown.slice(9);
            } else {
                d.breakdown = j.breakdown;
            }
        }
    } catch {
        /* a broken bookmark: the default funnel */
    }
    return d;
}

function toSteps(d: Definition): FunnelStep[] {
    return d.steps.map((s) => {
        const step: FunnelStep = s.kind === 'path' ? { path: s.value.trim() } : { event: s.value.trim() };
        const where: Record<string, unknown> = {};
        for (const w of s.where) {
            if (!w.prop.trim()) continue;
            const v = parseValue(w.value);
            if (w.op === 'eq' && !(w.prop in where)) where[w.prop.trim()] = v;
            else {
                const prev = where[w.prop.trim()];
                const obj: Record<string, unknown> = prev && typeof prev === 'object' ? (prev as Record<string, unknown>) : prev !== undefined ? { eq: prev } : {};
                obj[w.op] = w.op === 'contains' ? w.value : v;
                where[w.prop.trim()] = obj;
            }
        }
        if (Object.keys(where).length) step.where = where;
        return step;
    });
}

function breakdownOf(d: Definition): string | undefined {
    if (d.breakdown === 'property') return d.breakdownProperty.trim() ? `property:${d.breakdownProperty.trim()}` : undefined;
    return d.breakdown || undefined;
}

export default function funnels(ctx: PageContext): void {
    const def = readDefinition(ctx);
    const builder = h('div', { class: 'funnel-builder' });
    const result = h('div');
    const dropped = h('div');
    let lastBody: FunnelQuery | null = null;
    let lastResult: FunnelResult | null = null;

    const stepsList = h('ol', { class: 'steps', 'aria-label': 'Funnel steps' });
    const renderSteps = () => {
        replace(stepsList, def.steps.map((s, i) => stepRow(s, i)));
    };
    const stepRow = (s: StepState, i: number): HTMLElement => {
        const n = i + 1;
        const kind = select([['path', 'Page view of'], ['event', 'Event named']], s.kind, { 'aria-label': `Step ${n} kind` });
        const value = input({ value: s.value, 'aria-label': `Step ${n} ${s.kind === 'path' ? 'page path (glob)' : 'event name'}`, placeholder: s.kind === 'path' ? '/pricing*' : 'Signed Up', required: true });
        kind.addEventListener('change', () => {
            s.kind = kind.value === 'event' ? 'event' : 'path';
            value.placeholder = s.kind === 'path' ? '/pricing*' : 'Signed Up';
            value.setAttribute('aria-label', `Step ${n} ${s.kind === 'path' ? 'page path (glob)' : 'event name'}`);
        });
        value.addEventListener('input', () => { s.value = value.value; });
        const where = h('div', { class: 'where' }, s.where.map((w, wi) => {
            const prop = input({ value: w.prop, placeholder: 'property', 'aria-label': `Step ${n} filter ${wi + 1} property` });
            const op = select(OPS, w.op, { 'aria-label': `Step ${n} filter ${wi + 1} comparison` });
            const val = input({ value: w.value, placeholder: 'value', 'aria-label': `Step ${n} filter ${wi + 1} value` });
            prop.addEventListener('input', () => { w.prop = prop.value; });
            op.addEventListener('change', () => { w.op = op.value as Op; });
            val.addEventListener('input', () => { w.value = val.value; });
            return h('div', { class: 'where-row' }, h('span', { class: 'where-word' }, wi ? 'and' : 'where'), prop, op, val,
                button('×', () => { s.where.splice(wi, 1); renderSteps(); focusLater(`[aria-label="Add a property filter to step ${n}"]`); }, { class: 'btn btn-icon btn-small', 'aria-label': `Remove step ${n} filter ${wi + 1}` }));
        }));
        return h('li', { class: 'step' },
            h('span', { class: 'step-num', 'aria-hidden': 'true' }, String(n)),
            h('div', { class: 'step-main' },
                h('div', { class: 'step-row' }, kind, value,
                    h('div', { class: 'step-tools' },
                        button('+ filter', () => { s.where.push({ prop: '', op: 'eq', value: '' }); renderSteps(); focusLater(`[aria-label="Step ${n} filter ${s.where.length} property"]`); },
                            { class: 'btn btn-small btn-ghost', 'aria-label': `Add a property filter to step ${n}` }),
                        button('↑', () => { move(i, -1); }, { class: 'btn btn-icon btn-small', 'aria-label': `Move step ${n} up`, disabled: i === 0 }),
                        button('↓', () => { move(i, 1); }, { class: 'btn btn-icon btn-small', 'aria-label': `Move step ${n} down`, disabled: i === def.steps.length - 1 }),
                        button('×', () => { def.steps.splice(i, 1); renderSteps(); focusLater('.add-step'); },
                            { class: 'btn btn-icon btn-small', 'aria-label': `Remove step ${n}`, disabled: def.steps.length <= 2 }))),
                where));
    };
    const move = (i: number, d: number) => {
        const [s] = def.steps.splice(i, 1);
        if (s) def.steps.splice(i + d, 0, s);
        renderSteps();
        focusLater(`[aria-label="Move step ${i + d + 1} ${d < 0 ? 'up' : 'down'}"]`);
    };
    const focusLater = (sel: string) => requestAnimationFrame(() => builder.querySelector<HTMLElement>(sel)?.focus());

    const windowSel = select(WINDOWS.some((w) => w[0] === def.window) ? WINDOWS : [...WINDOWS, [def.window, def.window] as const], def.window);
    const order = select([['loose', 'Loose (other events between)'], ['strict', 'Strict (next event)']], def.order);
    const by = select([['visitor', 'Visitors'], ['session', 'Sessions (one session)']], def.by);
    const breakdown = select(BREAKDOWNS, def.breakdown);
    const bprop = input({ value: def.breakdownProperty, placeholder: 'utm_source' });
    const bpropField = field('Property name', bprop);
    bpropField.hidden = def.breakdown !== 'property';
    breakdown.addEventListener('change', () => { bpropField.hidden = breakdown.value !== 'property'; });

    const error = h('div', { role: 'alert', class: 'form-error' });
    const form = h('form', { class: 'builder-form', novalidate: true, 'aria-label': 'Funnel definition' },
        stepsList,
        h('p', null, button('+ Add step', () => { def.steps.push({ kind: 'path', value: '', where: [] }); renderSteps(); focusLater(`[aria-label^="Step ${def.steps.length} page"]`); }, { class: 'btn btn-small add-step' })),
        h('div', { class: 'controls' },
            field('Conversion window', windowSel), field('Step order', order), field('Count', by), field('Breakdown', breakdown), bpropField,
            h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Run funnel'))),
        error);
    renderSteps();
    append(builder, form);

    const spec = (): ReportSpec | null => (lastBody ? { method: 'POST', path: '/api/v1/funnels', body: lastBody, name: 'funnel' } : null);
    append(ctx.body,
        card({ title: 'Define the funnel', description: 'Step 1 must happen in the selected range; later steps within the window after it' }, builder),
        card({ title: 'Funnel', actions: exportButtons('funnel', spec) }, result),
        dropped);

    const run = () => {
        def.window = windowSel.value;
        def.order = order.value === 'strict' ? 'strict' : 'loose';
        def.by = by.value === 'session' ? 'session' : 'visitor';
        def.breakdown = breakdown.value;
        def.breakdownProperty = bprop.value;
        replace(error);
        const empty = def.steps.findIndex((s) => !s.value.trim());
        if (empty >= 0) {
            append(error, h('p', { class: 'error' }, `Step ${empty + 1} needs a ${def.steps[empty]?.kind === 'path' ? 'page path' : 'event name'}.`));
            builder.querySelectorAll<HTMLInputElement>('.step-row input')[empty]?.focus();
            return;
        }
        const steps = toSteps(def);
        const b = breakdownOf(def);
        const body: FunnelQuery = { steps, window: def.window, order: def.order, by: def.by, ...(b ? { breakdown: b } : {}), ...rangeQuery(ctx.filters), segment: ctx.filters.segment };
        lastBody = body;
        ctx.setParams({ funnel: JSON.stringify({ steps, window: def.window, order: def.order, by: def.by, ...(b ? { breakdown: b } : {}) }) });
        replace(dropped);
        void into(result, ctx.signal, async () => {
            const r = await postJson<FunnelResult>('/api/v1/funnels', body, ctx.signal);
            lastResult = r;
            return renderResult(r, body);
        }, 'Computing the funnel…');
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); run(); });

    const showDropped = (k: number) => {
        if (!lastBody || !lastResult) return;
        const step = lastResult.steps?.[k];
        const prev = lastResult.steps?.[k - 1];
        const dbody = { ...lastBody, step: k, limit: 100 };
        const list = h('div');
        const who = lastBody.by === 'session' ? 'sessions' : 'visitors';
        replace(dropped, card({
            title: `Dropped before step ${k + 1}`,
            description: `${fmt.int(step?.dropoff)} ${who} reached “${prev?.label ?? ''}” but not “${step?.label ?? ''}” (up to 100 listed)`,
            actions: exportButtons(`dropped before step ${k + 1}`, () => ({ method: 'POST', path: '/api/v1/funnels/dropped', body: dbody, name: `funnel-dropped-step-${k + 1}` })),
        }, list));
        dropped.querySelector('h2')?.setAttribute('tabindex', '-1');
        dropped.querySelector<HTMLElement>('h2')?.focus();
        void into(list, ctx.signal, async () => {
            const r = await postJson<Dropped>('/api/v1/funnels/dropped', dbody, ctx.signal);
            const rows = r.dropped ?? [];
            if (!rows.length) return emptyState('Nobody dropped at this step');
            return table({
                caption: `Dropped before step ${k + 1}`,
                rows,
                columns: [
                    { label: 'Visitor', value: (x) => h('code', null, fmt.truncate(x.visitor ?? '–', 40)) },
                    { label: `Reached step ${k}`, value: (x) => fmt.dateTime(x.reached_at) },
                    { label: 'Session', value: (x) => (x.session_id ? link(ctx.href('/session', { id: x.session_id }), 'Timeline', { 'aria-label': `Timeline of the session of visitor ${x.visitor ?? ''}` }) : '–') },
                ],
            });
        }, 'Listing who dropped…');
    };

    const renderResult = (r: FunnelResult, body: FunnelQuery): HTMLElement[] => {
        const steps = r.steps ?? [];
        if (!steps.length || !steps[0]?.count) return [emptyState('No data for this range', 'Nobody did step 1 in the selected range and segment. Check the first step or choose a longer range.')];
        const who = body.by === 'session' ? 'sessions' : 'visitors';
        const last = steps[steps.length - 1];
        const chart = new Chart(funnelOption(steps), ctx.signal, {
            label: `Funnel of ${steps.length} steps: ${fmt.int(steps[0]?.count)} ${who} started, ${fmt.int(last?.count)} finished (${fmt.pct(last?.conversion)}). The table lists every step.`,
            className: 'chart-medium',
            onClick: (p: ClickParams) => { if (p.dataIndex && p.dataIndex > 0) showDropped(p.dataIndex); },
        });
        const out: HTMLElement[] = [
            h('p', { class: 'headline' }, h('strong', null, fmt.pct(last?.conversion)), ` of ${who} who did step 1 reached step ${steps.length} (${fmt.int(last?.count)} of ${fmt.int(steps[0]?.count)}).`),
            chart.el,
            h('p', { class: 'hint' }, 'Select a bar, or a “dropped” button, to list who dropped before that step.'),
            table<FunnelResultStep>({
                caption: 'Funnel steps',
                rows: steps,
                columns: [
                    { label: 'Step', value: (s) => String(s.index + 1), numeric: true },
                    { label: 'Label', value: (s) => h('span', { class: 'step-label' }, s.label) },
                    { label: fmt.words(who), value: (s) => fmt.int(s.count), numeric: true },
                    { label: 'Conversion', value: (s) => fmt.pct(s.conversion), numeric: true },
                    { label: 'From previous', value: (s) => (s.index ? fmt.pct(s.from_previous) : '–'), numeric: true },
                    { label: 'Drop-off', value: (s) => (s.index ? button(`${fmt.int(s.dropoff)} dropped`, () => showDropped(s.index), { class: 'btn btn-small btn-link', 'aria-label': `List the ${fmt.int(s.dropoff)} ${who} who dropped before step ${s.index + 1}`, disabled: !s.dropoff }) : '–'), numeric: true },
                    { label: 'Median time from previous', value: (s) => fmt.duration(s.median_seconds_from_previous), numeric: true },
                ],
            }),
        ];
        const bd = r.breakdown ?? [];
        if (bd.length) {
            const bchart = new Chart(breakdownOption(steps, bd), ctx.signal, {
                label: `Funnel broken down by ${body.breakdown ?? ''} into ${bd.length} groups. The table lists the counts.`,
                className: 'chart-medium',
            });
            out.push(h('h3', { class: 'subhead' }, `By ${fmt.words(body.breakdown ?? '')}`), legend(bd.map((b, j) => ({ label: b.value || '(none)', color: COLORS[j % COLORS.length] ?? '' }))), chartAndTable(bchart.el, table({
                caption: `Funnel by ${body.breakdown ?? ''}`,
                rows: bd,
                columns: [
                    { label: 'Value', value: (b) => b.value || '(none)' },
                    ...steps.map((_s, i) => ({ label: `Step ${i + 1}`, value: (b: { counts: number[] }) => fmt.int(b.counts[i]), numeric: true })),
                    { label: 'Conversion', value: (b) => fmt.pct((b.counts[b.counts.length - 1] ?? 0) / (b.counts[0] || 1)), numeric: true },
                ],
            }), true));
        }
        return out;
    };

    run();
}

function funnelOption(steps: FunnelResultStep[]) {
    const labels = steps.map((s) => `${s.index + 1}. ${fmt.truncate(s.label, 22)}`);
    return {
        grid: { left: 56, right: 16, top: 28, bottom: 40 },
        tooltip: {
            trigger: 'axis',
            axisPointer: { type: 'shadow' },
            formatter: (ps: { dataIndex: number }[]) => {
                const s = steps[ps[0]?.dataIndex ?? 0];
                if (!s) return '';
                return tip(`Step ${s.index + 1}: ${s.label}`, [
                    { label: 'Reached', value: fmt.int(s.count), color: COLORS[0] },
                    { label: 'Conversion', value: fmt.pct(s.conversion) },
                    ...(s.index ? [
                        { label: 'From previous', value: fmt.pct(s.from_previous) },
                        { label: 'Dropped', value: fmt.int(s.dropoff), color: '#d5d9e0' },
                        { label: 'Median time', value: fmt.duration(s.median_seconds_from_previous) },
                    ] : []),
                ]);
            },
        },
        xAxis: { type: 'category', data: labels, axisLabel: { ...axisLabel, color: '#374151', interval: 0, overflow: 'truncate', width: 120 }, axisTick: { show: false }, axisLine: { lineStyle: { color: GRID_LINE } } },
        yAxis: { type: 'value', axisLabel, splitLine, minInterval: 1 },
        series: [
            {
                name: 'Reached', type: 'bar', stack: 'f', data: steps.map((s) => s.count), barMaxWidth: 90, cursor: 'pointer',
                itemStyle: { color: COLORS[0], borderRadius: [0, 0, 0, 0] },
                label: { show: true, position: 'insideTop', color: '#fff', fontWeight: 600, formatter: (p: { dataIndex: number }) => fmt.pct(steps[p.dataIndex]?.conversion, 0) },
            },
            {
                name: 'Dropped', type: 'bar', stack: 'f', data: steps.map((s) => (s.index ? s.dropoff : 0)), cursor: 'pointer',
                itemStyle: { color: '#e3e6eb', borderRadius: [4, 4, 0, 0] },
                label: { show: true, position: 'top', color: MUTED, fontSize: 11, formatter: (p: { dataIndex: number }) => { const s = steps[p.dataIndex]; return s && s.index && s.dropoff ? `−${fmt.int(s.dropoff)}` : ''; } },
            },
        ],
    };
}

function breakdownOption(steps: FunnelResultStep[], bd: { value: string; counts: number[] }[]) {
    return {
        grid: { left: 56, right: 16, top: 14, bottom: 40 },
        tooltip: {
            trigger: 'axis', axisPointer: { type: 'shadow' },
            formatter: (ps: { dataIndex: number }[]) => {
                const i = ps[0]?.dataIndex ?? 0;
                return tip(`Step ${i + 1}: ${steps[i]?.label ?? ''}`, bd.map((b, j) => ({ label: b.value || '(none)', value: `${fmt.int(b.counts[i])} (${fmt.pct((b.counts[i] ?? 0) / (b.counts[0] || 1), 0)})`, color: COLORS[j % COLORS.length] })));
            },
        },
        xAxis: { type: 'category', data: steps.map((s) => `${s.index + 1}. ${fmt.truncate(s.label, 22)}`), axisLabel: { ...axisLabel, interval: 0, overflow: 'truncate', width: 120 }, axisTick: { show: false } },
        yAxis: { type: 'value', axisLabel, splitLine },
        series: bd.map((b) => ({ name: b.value || '(none)', type: 'bar', data: b.counts, barMaxWidth: 28 })),
    };
}

