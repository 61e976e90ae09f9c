/*
 * Session: one session's timeline (/session?id=ID, from /api/v1/sessions/ID): its events on a time axis in lanes
 * (pages, clicks, forms, errors, other), the struggle signals, the exit-risk curve, and each intervention with its
 * life cycle and explanation; then the same as tables.
 */
import { getJson } from '../api';
import { Chart, COLORS, GRID_LINE, MUTED, axisLabel, splitLine, tip } from '../charts';
import { append, h } from '../dom';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { Timeline, TimelineEvent, TimelineIntervention, TimelineSignal } from '../types';
import { badge, button, card, emptyState, exportButtons, into, link, renderValue, scoreTone, table, tiles } from '../ui';

const LANES = ['Pages', 'Clicks', 'Forms', 'Errors', 'Other', 'Signals', 'Interventions'] as const;
const LANE_COLORS = [COLORS[0], COLORS[5], COLORS[4], COLORS[3], COLORS[6], COLORS[2], COLORS[1]];
const EVENTS_SHOWN = 200;

function lane(e: TimelineEvent): number {
    const name = e.event ?? '';
    if (e.type === 'page' || e.type === 'screen') return 0;
    if (name === '$click' || name === '$dead_click') return 1;
    if (name.startsWith('$field_') || name === '$form_submit') return 2;
    if (name === '$js_error') return 3;
    return 4;
}

function describe(e: TimelineEvent): string {
    if (e.type === 'page' || e.type === 'screen') return `Page view ${e.path ?? ''}`;
    const p = e.properties ?? {};
    const bits: string[] = [];
    for (const k of ['field', 'form', 'reason', 'selector', 'text', 'message', 'depth', 'state']) {
        const v = p[k];
        if (v !== undefined && v !== null && v !== '') bits.push(`${k} ${fmt.truncate(String(v), 40)}`);
        if (bits.length >= 2) break;
    }
    return `${e.event ?? e.type ?? 'event'}${bits.length ? ` (${bits.join(', ')})` : ''}`;
}

export default function session(ctx: PageContext): void {
    const id = ctx.params.get('id') ?? '';
    const back = link(ctx.href('/journeys'), '← All journeys', { class: 'back-link' });
    const content = h('div', { class: 'stack' });
    append(ctx.body, h('p', null, back), content);
    if (!id) {
        append(content, emptyState('No session chosen', 'Open a session from the Journeys or Live page.'));
        return;
    }
    ctx.setSubtitle(`Session ${id}`);
    const path = `/api/v1/sessions/${encodeURIComponent(id)}`;
    void into(content, ctx.signal, async () => {
        const t = await getJson<Timeline>(path, undefined, ctx.signal);
        return render(ctx, t, path, id);
    }, 'Loading the timeline…');
}

function render(ctx: PageContext, t: Timeline, path: string, id: string): HTMLElement[] {
    const s = t.session ?? ({ session_id: id } as NonNullable<Timeline['session']>);
    const events = [...(t.events ?? [])].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
    const signals = t.signals ?? [];
    const risk = t.risk ?? [];
    const ivs = t.interventions ?? [];
    const start = Date.parse(s.started_at ?? events[0]?.ts ?? '');
    const offset = (ts: string) => {
        const d = (Date.parse(ts) - start) / 1000;
        return Number.isFinite(d) ? `+${fmt.duration(Math.max(0, d))}` : '';
    };
    const maxRisk = risk.reduce((m, r) => Math.max(m, r.risk), s.max_risk ?? 0);

    const summary = tiles([
        { label: 'Started', value: fmt.dateTime(s.started_at), small: true, hint: s.visitor ? `visitor ${fmt.truncate(String(s.visitor), 24)}` : undefined },
        { label: 'Duration', value: fmt.duration(s.seconds), hint: `${fmt.int(s.pages)} pages, ${fmt.int(s.events ?? events.length)} events` },
        { label: 'Path', value: `${s.entry_path ?? '?'} → ${s.exit_path ?? '?'}`, hint: s.device ?? undefined, small: true },
        { label: 'Max exit risk', value: risk.length || s.max_risk != null ? String(Math.round(maxRisk)) : '–', tone: maxRisk >= 75 ? 'bad' : 'warn', hint: `${signals.length} signal${signals.length === 1 ? '' : 's'}` },
        { label: 'Outcome', value: s.converted ? 'Converted' : 'Not converted', small: !s.converted, tone: s.converted ? 'good' : undefined, hint: `${ivs.length} intervention${ivs.length === 1 ? '' : 's'}` },
    ], 'Session summary');

    const chart = new Chart(timelineOption(events, signals, risk, ivs), ctx.signal, {
        label: `Timeline of ${events.length} events with ${signals.length} struggle signals, exit risk up to ${Math.round(maxRisk)}, and ${ivs.length} interventions. The tables below list them.`,
        className: 'chart-timeline',
    });

    const out: HTMLElement[] = [
        card({ title: 'Summary', actions: exportButtons('session timeline', () => ({ method: 'GET', path, name: `session-${id.replace(/[^\w.-]/g, '_')}` })) }, summary),
        card({ title: 'Timeline', description: 'Top: exit risk (0–100) and interventions. Below: events by kind, and the struggle signals.' },
            events.length ? chart.el : emptyState('This session has no events')),
    ];

    out.push(card({ title: 'Interventions', description: 'What was decided, why, and what the visitor did' },
        ivs.length ? h('div', { class: 'iv-list' }, ivs.map((iv) => intervention(iv, offset))) : emptyState('No intervention in this session')));

    out.push(card({ title: 'Signals' }, signals.length ? table<TimelineSignal>({
        caption: 'Struggle signals',
        rows: signals,
        columns: [
            { label: 'When', value: (x) => h('span', { title: fmt.timeOfDay(x.ts) }, offset(x.ts)) },
            { label: 'Signal', value: (x) => fmt.words(x.kind) },
            { label: 'Score', value: (x) => badge(String(Math.round(x.score)), scoreTone(x.score)), numeric: true },
            { label: 'Evidence', value: (x) => renderValue(x.evidence), className: 'evidence' },
        ],
    }) : emptyState('No struggle signal in this session')));

    const evBox = h('div');
    const evTable = (n: number) => table<TimelineEvent>({
        caption: 'Events',
        rows: events.slice(0, n),
        className: 'table-events',
        columns: [
            { label: 'When', value: (e) => h('span', { title: fmt.timeOfDay(e.ts) }, offset(e.ts)) },
            { label: 'Kind', value: (e) => LANES[lane(e)] ?? '' },
            { label: 'Event', value: (e) => describe(e) },
            { label: 'Page', value: (e) => e.path ?? '' },
        ],
    });
    append(evBox, evTable(EVENTS_SHOWN));
    if (events.length > EVENTS_SHOWN) {
        const more = button(`Show all ${events.length} events`, () => {
            evBox.replaceChildren(evTable(events.length));
        }, { class: 'btn btn-small' });
        append(evBox, h('p', null, more));
    }
    out.push(card({ title: 'Events', description: `${fmt.int(events.length)} events, oldest first` }, events.length ? evBox : emptyState('No events')));
    return out;
}

function intervention(iv: TimelineIntervention, offset: (ts: string) => string): HTMLElement {
    const tone = iv.status === 'accepted' || iv.status === 'escalated' ? 'good' : iv.status === 'declined' || iv.status === 'dismissed' || iv.status === 'expired' ? 'bad' : 'neutral';
    return h('article', { class: 'iv' },
        h('header', { class: 'iv-head' },
            h('h3', { class: 'iv-title' }, iv.rule ?? 'rule', h('span', { class: 'muted' }, ` · ${fmt.words(iv.action ?? 'action')}`)),
            badge(iv.status ?? 'unknown', tone),
            iv.held_out ? badge('held out (control)', 'accent', 'Decided but not shown: this session is in the holdout') : null,
            iv.risk != null ? badge(`risk ${Math.round(iv.risk)}`, iv.risk >= 75 ? 'bad' : 'warn') : null),
        iv.lifecycle?.length
            ? h('ol', { class: 'lifecycle', 'aria-label': 'Life cycle' }, iv.lifecycle.map((st) => h('li', null,
                h('span', { class: 'lc-status' }, st.status), h('span', { class: 'lc-time' }, `${fmt.timeOfDay(st.ts)} (${offset(st.ts)})`))))
            : h('p', { class: 'muted' }, `Created ${fmt.timeOfDay(iv.created_at)}`),
        iv.explanation !== undefined && iv.explanation !== null
            ? h('div', { class: 'iv-explain' }, h('h4', null, 'Why'), explanation(iv.explanation))
            : null);
}

const LABEL_KEYS = ['feature', 'signal', 'kind', 'name'];
const VALUE_KEYS = ['points', 'contribution', 'shap', 'value', 'share'];

/* [label, value] pairs when x lists contributions: {"form_errors": 28, ...} or [{"feature": "form_errors",
 * "points": 28}, ...] (the names the server may use are in LABEL_KEYS and VALUE_KEYS). */
function contributions(x: unknown): [string, number][] | null {
    if (Array.isArray(x)) {
        const out: [string, number][] = [];
        for (const item of x) {
            if (!item || typeof item !== 'object') return null;
            const o = item as Record<string, unknown>;
            const label = LABEL_KEYS.map((k) => o[k]).find((v) => typeof v === 'string');
            const value = VALUE_KEYS.map((k) => o[k]).find((v) => typeof v === 'number');
            if (typeof label !== 'string' || typeof value !== 'number') return null;
            out.push([label, value]);
        }
        return out.length ? out : null;
    }
    if (x && typeof x === 'object') {
        const entries = Object.entries(x as Record<string, unknown>);
        if (entries.length && entries.every(([, v]) => typeof v === 'number')) return entries as [string, number][];
    }
    return null;
}

function bars(items: [string, number][], unit: string): HTMLElement {
    const max = Math.max(...items.map(([, v]) => Math.abs(v)), 1);
    return h('ul', { class: 'contrib', 'aria-label': `Contributions, in ${unit}` }, [...items].sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).map(([k, v]) => {
        const bar = h('span', { class: `contrib-bar ${v < 0 ? 'neg' : ''}`.trim() });
        bar.style.width = `${Math.round((Math.abs(v) / max) * 100)}%`;
        return h('li', null, h('span', { class: 'contrib-name' }, fmt.words(k)), h('span', { class: 'contrib-track', 'aria-hidden': 'true' }, bar),
            h('span', { class: 'contrib-val' }, `${v > 0 ? '+' : ''}${fmt.num(v, 1)}`));
    }));
}

/* Why the engine decided: each signal's (or feature's) share of the risk as bars, the other facts in words. */
function explanation(x: unknown): HTMLElement {
    const direct = contributions(x);
    if (direct) return bars(direct, 'risk points');
    if (x && typeof x === 'object' && !Array.isArray(x)) {
        const o = x as Record<string, unknown>;
        const key = Object.keys(o).find((k) => contributions(o[k]));
        if (key) {
            const rest = Object.entries(o).filter(([k]) => k !== key);
            const facts = rest.filter(([, v]) => v === null || typeof v !== 'object');
            const nested = rest.filter(([, v]) => v !== null && typeof v === 'object');
            return h('div', null,
                facts.length ? h('p', { class: 'iv-facts' }, facts.map(([k, v]) => `${fmt.words(k)} ${typeof v === 'number' ? fmt.num(v, 1) : String(v)}`).join(' · ')) : null,
                bars(contributions(o[key]) ?? [], key === 'contributions' ? 'risk points' : fmt.words(key)),
                nested.length ? renderValue(Object.fromEntries(nested)) : null);
        }
    }
    return renderValue(x);
}

function timelineOption(events: TimelineEvent[], signals: TimelineSignal[], risk: { ts: string; risk: number; source?: string }[], ivs: TimelineIntervention[]) {
    const t = (s: string) => Date.parse(s);
    const lanesData: { value: [number, number]; label: string }[][] = LANES.map(() => []);
    for (const e of events) lanesData[lane(e)]?.push({ value: [t(e.ts), lane(e)], label: describe(e) });
    for (const s of signals) lanesData[5]?.push({ value: [t(s.ts), 5], label: `${fmt.words(s.kind)}: score ${Math.round(s.score)}` });
    for (const iv of ivs) {
        for (const st of iv.lifecycle ?? [{ status: iv.status ?? 'created', ts: iv.created_at ?? '' }]) {
            if (st.ts) lanesData[6]?.push({ value: [t(st.ts), 6], label: `${iv.rule ?? 'intervention'}: ${st.status}` });
        }
    }
    const scoreOf = new Map(signals.map((s) => [t(s.ts), s.score]));
    const xs = [...events.map((e) => t(e.ts)), ...risk.map((r) => t(r.ts))].filter(Number.isFinite);
    const min = xs.length ? Math.min(...xs) : undefined;
    const max = xs.length ? Math.max(...xs) : undefined;
    const timeAxis = (gridIndex: number, show: boolean) => ({
        type: 'time', gridIndex, min, max, axisLabel: { ...axisLabel, show, hideOverlap: true, formatter: (v: number) => fmt.timeOfDay(v) },
        axisLine: { lineStyle: { color: GRID_LINE } }, axisTick: { show: false }, splitLine: { show: gridIndex === 1, ...splitLine },
    });
    const riskLine = risk.length ? [...risk].sort((a, b) => t(a.ts) - t(b.ts)).map((r) => [t(r.ts), r.risk]) : [];
    if (riskLine.length && max !== undefined) riskLine.push([max, riskLine[riskLine.length - 1]?.[1] ?? 0]);
    return {
        axisPointer: { link: [{ xAxisIndex: 'all' }] },
        grid: [{ left: 100, right: 24, top: 14, height: 90 }, { left: 100, right: 24, top: 130, bottom: 30 }],
        xAxis: [timeAxis(0, false), timeAxis(1, true)],
        yAxis: [
            { type: 'value', gridIndex: 0, min: 0, max: 100, interval: 50, axisLabel, splitLine, name: 'Risk', nameLocation: 'middle', nameGap: 36, nameTextStyle: { color: MUTED } },
            { type: 'category', gridIndex: 1, data: [...LANES], inverse: true, axisLabel: { ...axisLabel, color: '#374151' }, axisTick: { show: false }, axisLine: { lineStyle: { color: GRID_LINE } }, splitLine: { show: true, lineStyle: { color: '#f1f2f4' } } },
        ],
        tooltip: {
            trigger: 'item',
            formatter: (p: { seriesName: string; data: { value: [number, number]; label: string } | [number, number] }) => {
                if (Array.isArray(p.data)) return tip(fmt.timeOfDay(p.data[0]), [{ label: 'Exit risk', value: String(Math.round(p.data[1])) }]);
                return tip(fmt.timeOfDay(p.data.value[0]), [{ label: p.seriesName, value: p.data.label }]);
            },
        },
        series: [
            {
                name: 'Exit risk', type: 'line', step: 'end', xAxisIndex: 0, yAxisIndex: 0, data: riskLine, symbol: 'circle', symbolSize: 4,
                lineStyle: { color: COLORS[3], width: 2 }, itemStyle: { color: COLORS[3] }, areaStyle: { color: 'rgba(194, 37, 92, 0.10)' },
                markLine: ivs.length ? {
                    symbol: 'none', silent: true, label: { show: false },
                    lineStyle: { color: COLORS[1], type: 'dashed', width: 1.5 },
                    data: ivs.filter((iv) => iv.created_at).map((iv) => ({ xAxis: t(iv.created_at ?? '') })),
                } : undefined,
            },
            ...LANES.map((name, i) => ({
                name, type: 'scatter', xAxisIndex: 1, yAxisIndex: 1, data: lanesData[i],
                symbol: i === 5 ? 'triangle' : i === 6 ? 'diamond' : 'circle',
                symbolSize: i === 5 ? (v: [number, number]) => 8 + ((scoreOf.get(v[0]) ?? 60) - 40) / 6 : i === 6 ? 13 : 9,
                itemStyle: {
                    color: i === 5 ? (p: { data: { value: [number, number] } }) => ((scoreOf.get(p.data.value[0]) ?? 0) >= 70 ? COLORS[3] : COLORS[2]) : LANE_COLORS[i],
                    opacity: i <= 4 ? 0.8 : 1,
                },
            })),
        ],
    };
}
