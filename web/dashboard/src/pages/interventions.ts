/*
 * Interventions: what the engine decided and what visitors did with it (totals), whether showing the help made a
 * difference (conversion of treated sessions minus the randomised holdout's, with its 95% interval and p-value,
 * overall, by rule and by action type: GET /api/v1/interventions/report), and the rules in force (read-only,
 * from /api/v1/settings/effective).
 */
import { getJson, type Query } from '../api';
import { Chart, COLORS, MUTED, axisLabel, splitLine, tip } from '../charts';
import { append, h } from '../dom';
import { rangeQuery } from '../filters';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { InterventionReport, Rule, Settings, Uplift, UpliftRow } from '../types';
import { badge, card, chartAndTable, emptyState, exportButtons, into, table, tiles } from '../ui';

const TOTALS: [string, string, string?][] = [
    ['decided', 'Decided', 'rule matched, caps allowed'],
    ['held_out', 'Held out', 'control group: nothing shown'],
    ['delivered', 'Delivered', 'reached the browser'],
    ['shown', 'Shown', 'drawn on the page'],
    ['accepted', 'Accepted', ''],
    ['declined', 'Declined', '“maybe later”'],
    ['dismissed', 'Dismissed', 'closed'],
    ['expired', 'Expired', 'not shown in time'],
    ['escalated', 'Escalated', 'handed to a human'],
];

export default function interventions(ctx: PageContext): void {
    const query: Query = { ...rangeQuery(ctx.filters), segment: ctx.filters.segment };
    const report = h('div', { class: 'stack' });
    const rules = h('div');
    append(ctx.body, report, card({ title: 'Rules in force', description: 'Read-only: the project settings that decide when help is offered' }, rules));
    void into(report, ctx.signal, async () => {
        const r = await getJson<InterventionReport>('/api/v1/interventions/report', query, ctx.signal);
        return renderReport(ctx, r, query);
    }, 'Loading the intervention report…');
    void into(rules, ctx.signal, async () => renderRules(await getJson<Settings>('/api/v1/settings/effective', undefined, ctx.signal)), 'Loading the rules…');
}

function renderReport(ctx: PageContext, r: InterventionReport, query: Query): HTMLElement[] {
    const t = r.totals ?? {};
    const exp = exportButtons('intervention report', () => ({ method: 'GET', path: '/api/v1/interventions/report', query, name: 'interventions' }));
    if (!t.decided) {
        return [card({ title: 'Totals', actions: exp }, emptyState('No intervention in this range', 'No rule matched a session in the selected range and segment.'))];
    }
    const shown = t.shown ?? 0;
    const totals = tiles(TOTALS.map(([k, label, hint]) => ({
        label,
        value: fmt.int(t[k] ?? 0),
        hint: k === 'accepted' && shown ? `${fmt.pct((t.accepted ?? 0) / shown)} of shown` : k === 'shown' && t.delivered ? `${fmt.pct(shown / t.delivered)} of delivered` : hint || undefined,
        tone: k === 'accepted' || k === 'escalated' ? 'good' as const : k === 'held_out' ? 'accent' as const : undefined,
    })), 'Intervention totals');

    const u = r.uplift ?? {};
    const rows: { label: string; group: string; u: UpliftRow }[] = [
        { label: 'All interventions', group: 'Overall', u: { ...u } },
        ...(r.by_rule ?? []).map((x) => ({ label: x.rule ?? '?', group: 'Rule', u: x })),
        ...(r.by_action ?? []).map((x) => ({ label: fmt.words(x.action ?? '?'), group: 'Action', u: x })),
    ];
    const plotted = rows.filter((x) => x.u.ci95 && Number.isFinite(x.u.difference ?? NaN));
    const chart = new Chart(intervalOption(plotted), ctx.signal, {
        label: `Uplift in conversion against the holdout, with 95% intervals: ${plotted.map((x) => `${x.label} ${fmt.pp(x.u.difference)} (${fmt.pp(x.u.ci95?.[0])} to ${fmt.pp(x.u.ci95?.[1])})`).join('; ')}. The table lists every number.`,
        className: 'chart-interval',
    });
    chart.el.style.height = `${Math.max(160, 70 + plotted.length * 44)}px`;

    const upliftTable = table<(typeof rows)[number]>({
        caption: 'Uplift against the holdout',
        rows,
        columns: [
            { label: 'Group', value: (x) => h('span', null, h('span', { class: 'muted' }, `${x.group}: `), x.label) },
            { label: 'Decided', value: (x) => fmt.int(x.group === 'Overall' ? t.decided : x.u.decided), numeric: true },
            { label: 'Treated', value: (x) => rateCell(x.u.treated), numeric: true },
            { label: 'Holdout', value: (x) => rateCell(x.u.holdout), numeric: true },
            { label: 'Difference', value: (x) => h('strong', null, fmt.pp(x.u.difference)), numeric: true },
            { label: '95% interval', value: (x) => (x.u.ci95 ? `${fmt.pp(x.u.ci95[0])} to ${fmt.pp(x.u.ci95[1])}` : '–'), numeric: true },
            { label: 'p-value', value: (x) => fmt.pValue(x.u.p_value), numeric: true },
            { label: 'Verdict', value: (x) => verdict(x.u) },
        ],
    });

    return [
        card({ title: 'Totals', description: 'Decisions in the range and what became of them', actions: exp }, totals),
        card({ title: 'Uplift against the holdout', description: 'Conversion of sessions shown help minus sessions held out by the same rules' },
            headline(u),
            plotted.length ? chartAndTable(chart.el, upliftTable, true) : [emptyState('Not enough data for an interval yet', 'Both the treated and the held-out group need sessions.'), upliftTable],
            u.method ? h('p', { class: 'hint' }, `Method: ${u.method}. Sessions are counted once, by their first decision in the range.`) : null),
    ];
}

function rateCell(g: { sessions?: number; conversions?: number; rate?: number } | undefined): HTMLElement {
    return h('span', { title: `${fmt.int(g?.conversions)} of ${fmt.int(g?.sessions)} sessions converted` }, fmt.pct(g?.rate), h('span', { class: 'muted small' }, ` (n=${fmt.int(g?.sessions)})`));
}

function verdict(u: Uplift): HTMLElement {
    if (!u.ci95 || u.p_value == null) return badge('too little data', 'neutral');
    if (u.ci95[0] > 0) return badge('helps', 'good', 'The whole 95% interval is above zero');
    if (u.ci95[1] < 0) return badge('hurts', 'bad', 'The whole 95% interval is below zero');
    return badge('not significant', 'neutral', 'The 95% interval includes zero');
}

function headline(u: Uplift): HTMLElement {
    const tr = u.treated ?? {};
    const ho = u.holdout ?? {};
    return h('div', { class: 'uplift-head' },
        tiles([
            { label: 'Treated conversion', value: fmt.pct(tr.rate), hint: `${fmt.int(tr.conversions)} of ${fmt.int(tr.sessions)} sessions`, tone: 'accent' },
            { label: 'Holdout conversion', value: fmt.pct(ho.rate), hint: `${fmt.int(ho.conversions)} of ${fmt.int(ho.sessions)} sessions` },
            { label: 'Uplift', value: fmt.pp(u.difference), hint: u.ci95 ? `95% CI ${fmt.pp(u.ci95[0])} to ${fmt.pp(u.ci95[1])}` : 'no interval yet', tone: u.ci95 && u.ci95[0] > 0 ? 'good' : u.ci95 && u.ci95[1] < 0 ? 'bad' : undefined },
            { label: 'p-value', value: u.p_value == null ? '–' : u.p_value < 0.001 ? '< 0.001' : u.p_value.toFixed(3), hint: u.p_value == null ? '' : u.p_value < 0.05 ? 'significant at 5%' : 'not significant at 5%' },
        ], 'Overall uplift'));
}

function intervalOption(rows: { label: string; group: string; u: Uplift }[]) {
    const cats = rows.map((x) => (x.group === 'Overall' ? x.label : `${x.group}: ${x.label}`));
    const data = rows.map((x, i) => [i, (x.u.ci95?.[0] ?? 0) * 100, (x.u.ci95?.[1] ?? 0) * 100, (x.u.difference ?? 0) * 100]);
    const colorOf = (lo: number, hi: number) => (lo > 0 ? COLORS[1] : hi < 0 ? COLORS[3] : COLORS[0]);
    const widest = Math.max(5, ...data.map((d) => Math.max(Math.abs(d[1] ?? 0), Math.abs(d[2] ?? 0))));
    const extent = Math.ceil((widest * 1.05) / 5) * 5; // symmetric around 0, in steps of 5 points
    return {
        grid: { left: 170, right: 28, top: 16, bottom: 36 },
        tooltip: {
            trigger: 'item',
            formatter: (p: { dataIndex: number }) => {
                const x = rows[p.dataIndex];
                if (!x) return '';
                return tip(cats[p.dataIndex] ?? '', [
                    { label: 'Difference', value: fmt.pp(x.u.difference) },
                    { label: '95% interval', value: `${fmt.pp(x.u.ci95?.[0])} to ${fmt.pp(x.u.ci95?.[1])}` },
                    { label: 'p-value', value: fmt.pValue(x.u.p_value) },
                    { label: 'Treated', value: `${fmt.pct(x.u.treated?.rate)} of ${fmt.int(x.u.treated?.sessions)}` },
                    { label: 'Holdout', value: `${fmt.pct(x.u.holdout?.rate)} of ${fmt.int(x.u.holdout?.sessions)}` },
                ]);
            },
        },
        xAxis: {
            type: 'value', min: -extent, max: extent, name: 'Difference in conversion (percentage points)', nameLocation: 'middle', nameGap: 24,
            nameTextStyle: { color: MUTED, fontSize: 11 }, axisLabel: { ...axisLabel, formatter: (v: number) => `${v > 0 ? '+' : ''}${v}` }, splitLine,
        },
        yAxis: { type: 'category', data: cats, inverse: true, axisLabel: { ...axisLabel, color: '#374151', width: 160, overflow: 'truncate' }, axisTick: { show: false }, axisLine: { show: false } },
        series: [{
            type: 'custom',
            data,
            encode: { x: [1, 2, 3], y: 0 },
            renderItem: (_params: unknown, api: { value: (i: number) => number; coord: (v: number[]) => number[]; size: (v: number[]) => number[] }) => {
                const y = api.value(0);
                const lo = api.value(1);
                const hi = api.value(2);
                const d = api.value(3);
                const a = api.coord([lo, y]);
                const b = api.coord([hi, y]);
                const c = api.coord([d, y]);
                const cap = (api.size([0, 1])[1] ?? 20) * 0.22;
                const color = colorOf(lo, hi);
                const line = (x1: number, y1: number, x2: number, y2: number) => ({ type: 'line', shape: { x1, y1, x2, y2 }, style: { stroke: color, lineWidth: 2 } });
                return {
                    type: 'group',
                    children: [
                        line(a[0] ?? 0, a[1] ?? 0, b[0] ?? 0, b[1] ?? 0),
                        line(a[0] ?? 0, (a[1] ?? 0) - cap, a[0] ?? 0, (a[1] ?? 0) + cap),
                        line(b[0] ?? 0, (b[1] ?? 0) - cap, b[0] ?? 0, (b[1] ?? 0) + cap),
                        { type: 'circle', shape: { cx: c[0] ?? 0, cy: c[1] ?? 0, r: 5.5 }, style: { fill: color, stroke: '#fff', lineWidth: 1.5 } },
                    ],
                };
            },
            markLine: { symbol: 'none', silent: true, label: { show: false }, lineStyle: { color: '#9aa3af', type: 'solid', width: 1 }, data: [{ xAxis: 0 }] },
        }],
        axisPointer: { show: false },
        textStyle: { color: '#1f2937' },
        backgroundColor: 'transparent',
    };
}

/* ---- rules ------------------------------------------------------------------------------------------------- */

function when(w: unknown): string {
    if (!w || typeof w !== 'object') return 'always';
    const parts: string[] = [];
    for (const [k, v] of Object.entries(w as Record<string, unknown>)) {
        const o = (v ?? {}) as Record<string, unknown>;
        const list = (x: unknown) => (Array.isArray(x) ? x.map(String).join(' or ') : String(x));
        switch (k) {
            case 'risk_gte': parts.push(`exit risk ≥ ${String(v)}`); break;
            case 'risk_lt': parts.push(`exit risk < ${String(v)}`); break;
            case 'signal': parts.push(`a ${fmt.words(String(o.kind ?? 'any'))} signal scored ≥ ${String(o.score_gte ?? 0)}`); break;
            case 'signals': parts.push(`${String(o.count_gte ?? 1)}+ signals scored ≥ ${String(o.score_gte ?? 0)}`); break;
            case 'path': parts.push(`on ${list(v)}`); break;
            case 'path_not': parts.push(`not on ${list(v)}`); break;
            case 'device': parts.push(`device is ${list(v)}`); break;
            case 'trait': parts.push(`trait ${Object.entries(o).map(([a, b]) => `${a} = ${String(b)}`).join(', ')}`); break;
            case 'converted': parts.push(v ? 'has converted' : 'has not converted'); break;
            case 'any': parts.push(`any of (${(Array.isArray(v) ? v : []).map(when).join('; ')})`); break;
            case 'all': parts.push(`all of (${(Array.isArray(v) ? v : []).map(when).join('; ')})`); break;
            case 'not': parts.push(`not (${when(v)})`); break;
            default: parts.push(`${k} ${JSON.stringify(v)}`);
        }
    }
    return parts.join(' and ') || 'always';
}

function renderRules(s: Settings): HTMLElement[] {
    /* the settings in effect: the server fills in every default (GET /api/v1/settings/effective) */
    const rules: Rule[] = s.rules ?? [];
    const out: HTMLElement[] = [];
    if (!rules.length) out.push(emptyState('No rules: no intervention is ever offered', 'Add rules to the project settings.'));
    else {
        out.push(h('ol', { class: 'rules' }, rules.map((r) => h('li', { class: 'rule' },
            h('div', { class: 'rule-head' }, h('strong', null, r.name ?? 'unnamed'), badge(fmt.words(r.action?.type ?? 'action'), 'accent')),
            h('p', { class: 'rule-when' }, h('span', { class: 'muted' }, 'When '), when(r.when)),
            r.action?.title || r.action?.message || r.action?.text
                ? h('blockquote', { class: 'rule-msg' }, r.action.title ? h('strong', null, r.action.title, ' ') : null, r.action.message ?? r.action.text ?? '')
                : null))));
    }
    const caps = s.caps ?? {};
    out.push(h('dl', { class: 'facts' },
        fact('Holdout', `${s.holdout_pct ?? 10}% of sessions (control group)`),
        fact('At most', `one per session every ${caps.session_interval ?? '10m'}; ${caps.daily_per_visitor ?? 3} per visitor a day`),
        fact('After “maybe later”', `nothing for ${caps.decline_cooldown ?? '30m'}`),
        fact('Offer expires after', s.intervention_ttl ?? '2m'),
        fact('Never on', s.exclude_paths?.length ? s.exclude_paths.join(', ') : 'no page excluded'),
        fact('Conversion goal', s.goal?.path ? `page ${s.goal.path}` : s.goal?.event ? `event ${s.goal.event}` : 'none set'),
        fact('Webhook', s.webhook_url ? 'set' : 'none')));
    out.push(h('p', { class: 'hint' }, 'Rules are changed with ', h('code', null, 'journey project settings'), ' or ', h('code', null, 'PUT /api/v1/settings'),
        '. How rules, caps and the holdout work: ', h('code', null, 'docs/policy.md'), ' in the Journey repository.'));
    return out;
}

function fact(k: string, v: string): HTMLElement[] {
    return [h('dt', null, k), h('dd', null, v)];
}
