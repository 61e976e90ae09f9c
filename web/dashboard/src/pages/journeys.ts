/*
 * Journeys: where visitors go from (or come from to) a page, as a Sankey of paths; and the sessions themselves,
 * filterable and paged, each linking to its timeline (/session?id=).
 *
 * URL state: page, direction (from|to), depth, show (all|struggled|converted|lost|intervened).
 */
import { getJson, type Query } from '../api';
import { Chart, COLORS, tip, type ClickParams } from '../charts';
import { append, h, replace, uid } from '../dom';
import { rangeQuery } from '../filters';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { Paths, SessionRow, Sessions } from '../types';
import { badge, button, card, chartAndTable, emptyState, exportButtons, field, input, into, link, select, signalChips, table } from '../ui';

const PAGE_SIZE = 25;
const QUICK = [
    ['all', 'All', {}],
    ['struggled', 'Struggled', { struggled: true }],
    ['converted', 'Converted', { converted: true }],
    ['lost', 'Not converted', { converted: false }],
    ['intervened', 'Got an intervention', { intervened: true }],
] as const;

export default function journeys(ctx: PageContext): void {
    const paths = h('div');
    const sessions = h('div');
    append(ctx.body, paths, sessions);
    const known = new Set<string>();
    const datalistId = uid('pages');
    const datalist = h('datalist', { id: datalistId });
    const remember = (p: string | undefined | null) => {
        if (!p || p.startsWith('(') || known.has(p)) return;
        known.add(p);
        datalist.appendChild(h('option', { value: p }));
    };
    let sankeyStarted = false;
    const startSankey = (guess: string | undefined) => {
        if (sankeyStarted) return;
        sankeyStarted = true;
        sankey(ctx, paths, datalist, datalistId, remember, ctx.params.get('page') ?? guess ?? '/');
    };
    if (ctx.params.get('page')) startSankey(undefined);
    sessionList(ctx, sessions, (rows) => {
        rows.forEach((r) => { remember(r.entry_path); remember(r.exit_path); });
        startSankey(mostCommon(rows.map((r) => r.entry_path)));
    });
}

function mostCommon(xs: (string | undefined)[]): string | undefined {
    const n = new Map<string, number>();
    for (const x of xs) if (x) n.set(x, (n.get(x) ?? 0) + 1);
    let best: string | undefined;
    let max = 0;
    for (const [k, v] of n) if (v > max) { best = k; max = v; }
    return best;
}

/* "2 /demo/apply.html" -> step 2, "/demo/apply.html" */
function splitNode(name: string): { step: number; page: string } {
    const m = /^(\d+) (.*)$/.exec(name);
    return m ? { step: Number(m[1]), page: m[2] ?? name } : { step: 0, page: name };
}

function sankey(ctx: PageContext, box: HTMLElement, datalist: HTMLDataListElement, datalistId: string,
    remember: (p: string) => void, initialPage: string): void {
    const { signal, filters } = ctx;
    const page = input({ value: initialPage, list: datalistId, placeholder: '/pricing', required: true });
    const direction = select([['from', 'Leaving the page'], ['to', 'Reaching the page']], ctx.params.get('direction') === 'to' ? 'to' : 'from');
    const depth = select([['2', '2 steps'], ['3', '3 steps'], ['4', '4 steps'], ['5', '5 steps'], ['6', '6 steps']], ctx.params.get('depth') ?? '3');
    const result = h('div', { class: 'sankey-result' });
    let query: Query | null = null;
    const form = h('form', { class: 'controls', 'aria-label': 'Paths options' },
        field('Page', page, undefined, 'grow'), field('Direction', direction), field('Depth', depth),
        h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Show paths')),
        datalist);
    const run = () => {
        const p = page.value.trim() || '/';
        ctx.setParams({ page: p, direction: direction.value === 'from' ? null : direction.value, depth: depth.value === '3' ? null : depth.value });
        query = { page: p, direction: direction.value, depth: Number(depth.value), limit: 8, ...rangeQuery(filters), segment: filters.segment };
        const q = query;
        void into(result, signal, async () => {
            const r = await getJson<Paths>('/api/v1/paths', q, signal);
            const links = (r.links ?? []).filter((l) => l.value > 0);
            if (!links.length) return emptyState(`No paths ${direction.value === 'from' ? 'leave' : 'reach'} ${p} in this range`, 'Pick another page (the suggestions come from recent sessions) or a longer range.');
            for (const n of r.nodes ?? []) remember(splitNode(n.name).page);
            const totalFirst = links.filter((l) => splitNode(l.source).step === 0 || splitNode(l.target).step === 0).reduce((a, l) => a + l.value, 0);
            const chart = new Chart(sankeyOption(r, links, direction.value), signal, {
                label: `Sankey of the paths ${direction.value === 'from' ? 'leaving' : 'reaching'} ${p}: ${links.length} links, ${fmt.int(totalFirst)} sessions. The table lists every link.`,
                className: 'chart-sankey',
                onClick: (params: ClickParams) => {
                    if (params.dataType !== 'node' || !params.name) return;
                    const target = splitNode(params.name).page;
                    if (target.startsWith('(')) return;
                    page.value = target;
                    run();
                },
            });
            return [
                chartAndTable(chart.el, table({
                    caption: `Paths ${direction.value === 'from' ? 'leaving' : 'reaching'} ${p}`,
                    rows: [...links].sort((a, b) => splitNode(a.source).step - splitNode(b.source).step || b.value - a.value),
                    columns: [
                        { label: 'Step', value: (l) => String(splitNode(l.source).step + 1), numeric: true },
                        { label: 'From', value: (l) => splitNode(l.source).page },
                        { label: 'To', value: (l) => splitNode(l.target).page },
                        { label: 'Sessions', value: (l) => fmt.int(l.value), numeric: true },
                    ],
                })),
                h('p', { class: 'hint' }, 'Select a page in the chart to follow the paths from there.'),
            ];
        });
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); run(); });
    direction.addEventListener('change', run);
    depth.addEventListener('change', run);
    append(box, card({
        title: 'Paths',
        description: 'The most common page sequences; “(other)” folds the less common pages, “(exit)” ends the session',
        actions: exportButtons('paths', () => (query ? { method: 'GET', path: '/api/v1/paths', query, name: 'paths' } : null)),
    }, form, result));
    run();
}

function sankeyOption(r: Paths, links: { source: string; target: string; value: number }[], direction: string) {
    const used = new Set(links.flatMap((l) => [l.source, l.target]));
    const nodes = (r.nodes ?? []).filter((n) => used.has(n.name));
    for (const name of used) if (!nodes.some((n) => n.name === name)) nodes.push({ name });
    const inflow = new Map<string, number>();
    const outflow = new Map<string, number>();
    for (const l of links) {
        inflow.set(l.target, (inflow.get(l.target) ?? 0) + l.value);
        outflow.set(l.source, (outflow.get(l.source) ?? 0) + l.value);
    }
    return {
        tooltip: {
            trigger: 'item',
            formatter: (p: { dataType: string; name: string; data: { source?: string; target?: string; value?: number } }) => {
                if (p.dataType === 'edge') {
                    const s = splitNode(p.data.source ?? '');
                    const t = splitNode(p.data.target ?? '');
                    return tip(`${s.page} → ${t.page}`, [{ label: 'Sessions', value: fmt.int(p.data.value) }, { label: 'Step', value: String(s.step + 1) }]);
                }
                const n = splitNode(p.name);
                return tip(n.page, [
                    { label: 'Step', value: String(n.step + 1) },
                    { label: 'Sessions', value: fmt.int(Math.max(inflow.get(p.name) ?? 0, outflow.get(p.name) ?? 0)) },
                ]);
            },
        },
        series: [{
            type: 'sankey',
            left: 8,
            right: 150,
            top: 12,
            bottom: 12,
            nodeGap: 12,
            nodeWidth: 14,
            nodeAlign: direction === 'to' ? 'right' : 'left',
            layoutIterations: 48,
            draggable: false,
            emphasis: { focus: 'adjacency' },
            data: nodes.map((n) => {
                const { step, page } = splitNode(n.name);
                const color = page === '(exit)' ? '#9aa3af' : page === '(other)' ? '#c4c9d1' : COLORS[step % COLORS.length];
                return { name: n.name, itemStyle: { color, borderWidth: 0 } };
            }),
            links,
            label: {
                color: '#1f2937',
                fontSize: 12,
                backgroundColor: 'rgba(255, 255, 255, 0.78)',
                padding: [1, 4],
                borderRadius: 3,
                formatter: (p: { name: string }) => fmt.truncate(splitNode(p.name).page, 34),
            },
            lineStyle: { color: 'gradient', curveness: 0.5, opacity: 0.28 },
        }],
    };
}

/* ---- session list ---------------------------------------------------------------------------------------- */

function sessionList(ctx: PageContext, box: HTMLElement, onFirstPage: (rows: SessionRow[]) => void): void {
    const { signal, filters } = ctx;
    const initial = ctx.params.get('show') ?? 'all';
    let show: string = QUICK.some((q) => q[0] === initial) ? initial : 'all';
    const cursors: (string | null)[] = [null]; // cursors[i] fetches page i
    let pageIndex = 0;
    let firstDone = false;
    const list = h('div');
    const pager = h('div', { class: 'pager' });
    const segmentFor = () => ({ ...filters.segment, ...(QUICK.find((q) => q[0] === show)?.[2] ?? {}) });
    const baseQuery = (): Query => ({ ...rangeQuery(filters), segment: segmentFor() });
    const quick = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Show sessions' },
        QUICK.map(([id, label]) => button(label, () => {
            show = id;
            ctx.setParams({ show: id === 'all' ? null : id });
            quick.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.id === id)));
            cursors.length = 1;
            pageIndex = 0;
            load();
        }, { class: 'seg-btn', 'data-id': id, 'aria-pressed': String(id === show) })));
    const load = () => {
        const q = { ...baseQuery(), limit: PAGE_SIZE, cursor: cursors[pageIndex] ?? undefined };
        replace(pager);
        void into(list, signal, async () => {
            const r = await getJson<Sessions>('/api/v1/sessions', q, signal);
            const rows = r.sessions ?? [];
            if (!firstDone) {
                firstDone = true;
                onFirstPage(rows);
            }
            if (r.next_cursor) cursors[pageIndex + 1] = r.next_cursor;
            else cursors.length = pageIndex + 1;
            replace(pager,
                button('← Newer', () => { pageIndex--; load(); }, { class: 'btn btn-small', disabled: pageIndex === 0 }),
                h('span', { class: 'pager-info' }, `Page ${pageIndex + 1}`),
                button('Older →', () => { pageIndex++; load(); }, { class: 'btn btn-small', disabled: !r.next_cursor }));
            if (!rows.length) return emptyState('No sessions for this range', pageIndex ? 'There are no older sessions.' : 'Try a longer range, another segment or “All”.');
            return table<SessionRow>({
                caption: 'Sessions, newest first',
                rows,
                className: 'table-sessions',
                columns: [
                    { label: 'Started', value: (s) => link(ctx.href('/session', { id: s.session_id }), fmt.dateTime(s.started_at), { 'aria-label': `Session started ${fmt.dateTime(s.started_at)}: timeline` }), className: 'nowrap' },
                    { label: 'Duration', value: (s) => fmt.duration(s.seconds), numeric: true },
                    { label: 'Pages', value: (s) => fmt.int(s.pages), numeric: true },
                    { label: 'Path', value: (s) => h('span', { class: 'path-cell', title: `${s.entry_path ?? ''} → ${s.exit_path ?? ''}` }, `${s.entry_path ?? '?'} → ${s.exit_path ?? '?'}`) },
                    { label: 'Device', value: (s) => s.device ?? '–', className: 'nowrap' },
                    { label: 'Signals', value: (s) => signalChips(s.signals) },
                    { label: 'Max risk', value: (s) => (s.max_risk == null ? '–' : badge(String(Math.round(s.max_risk)), s.max_risk >= 75 ? 'bad' : s.max_risk >= 50 ? 'warn' : 'neutral')), numeric: true },
                    {
                        label: 'Outcome', value: (s) => h('span', { class: 'chips' },
                            s.converted ? badge('converted', 'good') : h('span', { class: 'muted' }, 'not converted'),
                            s.interventions ? badge(`${s.interventions} intervention${s.interventions > 1 ? 's' : ''}`, 'accent') : null),
                    },
                ],
            });
        }, 'Loading sessions…').then(() => {
            /* The Sankey waits for the first page (it guesses its page from it), even when that failed. */
            if (!firstDone) {
                firstDone = true;
                onFirstPage([]);
            }
        });
    };
    append(box, card({
        title: 'Sessions',
        description: 'Newest first; open one for its timeline',
        actions: exportButtons('sessions', () => ({ method: 'GET', path: '/api/v1/sessions', query: { ...baseQuery(), limit: 1000 }, name: 'sessions' })),
    }, h('div', { class: 'controls' }, quick), list, pager));
    load();
}
