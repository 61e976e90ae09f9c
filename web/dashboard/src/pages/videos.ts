/*
 * Video: how visitors watch the videos on your pages (docs/video.md), over the shared range and segment.
 *
 *   the list         GET /api/v1/videos: plays, play rate, unique viewers, share viewed, completion, watch time
 *   one video        GET /api/v1/videos/ID: the retention curve (share of the views watching each second, or
 *                    that over the video's own average) with the rewatch and skip heat under it on the same
 *                    seconds axis and the key moments marked on it and listed; where people pause and at
 *                    which speed they watch; conversion by how much of it a session watched, each bucket with
 *                    its Wilson 95% interval and its difference against the sessions that did not play it
 *   its views        GET /api/v1/videos/ID/views: the latest views, each with what it watched and skipped
 *
 * The chosen video's reports run under their own AbortController (a child of ctx.signal): choosing another
 * video disposes the previous one's charts and cancels its requests.
 *
 * URL state: video (the chosen id; default the most played), curve (share | relative).
 */
import { getJson, type Query, type ReportSpec } from '../api';
import { Chart, COLORS, GRID_LINE, MUTED, axisLabel, legend, ramp, splitLine, tip } from '../charts';
import { append, h } from '../dom';
import { rangeQuery } from '../filters';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { KeyMoment, VideoList, VideoReport, VideoSummary, VideoView, VideoViews, WatchBucket } from '../types';
import { badge, button, card, chartAndTable, emptyState, exportButtons, into, link, table, tiles } from '../ui';

/* More seconds than this are drawn in bins (a long video would give an unreadable axis and a slow chart). */
const MAX_POINTS = 600;
const VIEWS_SHOWN = 20;
const CURVE = COLORS[0] ?? '#3451b2';
const INK_2 = '#374151';
const MOMENT_STYLE: Record<string, { label: string; color: string; symbol: string }> = {
    rewatch_spike: { label: 'Rewatched', color: COLORS[4] ?? '#6741d9', symbol: 'circle' },
    dip: { label: 'Drop-off', color: COLORS[3] ?? '#c2255c', symbol: 'triangle' },
    half_gone: { label: 'Half gone', color: COLORS[2] ?? '#d97706', symbol: 'diamond' },
};
const HEAT_ROWS = [
    { key: 'rewatches', label: 'Rewatches', ramp: ['#f3f0fc', '#b9a7f0', '#6741d9', '#3b1f96'] },
    { key: 'skips', label: 'Skips', ramp: ['#fdf5e8', '#f5c979', '#d97706', '#8a4b04'] },
] as const;
const BUCKETS: Record<string, string> = { none: 'Did not play', under_25: 'Under 25%', '25_to_75': '25–75%', over_75: 'Over 75%' };

const bucketLabel = (b: string) => BUCKETS[b] ?? fmt.words(b);
const rateLabel = (r: number | 'other') => (r === 'other' ? 'Other' : `${fmt.num(r, 2)}×`);
const span = (a: number, b: number) => `${fmt.clock(a)}–${fmt.clock(b)}`;

export default function videos(ctx: PageContext): void {
    const query: Query = { ...rangeQuery(ctx.filters), segment: ctx.filters.segment };
    const list = h('div');
    const detail = h('div', { class: 'stack' });
    append(ctx.body, card({
        title: 'Videos',
        description: 'Views that started in the range; a view is one video on one page visit. Choose a video for its report.',
        actions: exportButtons('videos', () => ({ method: 'GET', path: '/api/v1/videos', query, name: 'videos' })),
    }, list), detail);

    /* The chosen video's reports: aborted when another video is chosen, and with the page. */
    const sub = { ctl: new AbortController() };
    ctx.signal.addEventListener('abort', () => sub.ctl.abort(), { once: true });
    let rows: VideoSummary[] = [];
    const choose = (v: VideoSummary, remember: boolean) => {
        sub.ctl.abort();
        const own = new AbortController();
        sub.ctl = own;
        if (remember) ctx.setParams({ video: v.id });
        list.querySelectorAll<HTMLButtonElement>('[data-video]').forEach((b) => {
            const on = b.dataset.video === v.id;
            b.setAttribute('aria-pressed', String(on));
            b.closest('tr')?.classList.toggle('is-selected', on);
        });
        showVideo(ctx, own.signal, detail, v, query);
    };

    void into(list, ctx.signal, async () => {
        const r = await getJson<VideoList>('/api/v1/videos', query, ctx.signal);
        rows = [...(r.videos ?? [])].sort((a, b) => (b.plays ?? 0) - (a.plays ?? 0) || a.id.localeCompare(b.id));
        if (!rows.length) {
            return emptyState('No videos yet', 'The tracker reports every <video> of a tracked page once someone plays it; give it data-journey-video-id for a stable name.');
        }
        return table<VideoSummary>({
            caption: 'Videos',
            rows,
            className: 'table-videos',
            columns: [
                {
                    label: 'Video',
                    value: (v) => h('div', { class: 'video-cell' },
                        button(v.title || v.id, () => choose(v, true), { class: 'btn btn-link video-pick', 'data-video': v.id, 'aria-pressed': 'false', 'aria-label': `Show the report of ${v.title || v.id}` }),
                        h('span', { class: 'muted small' }, `${v.id} · ${fmt.clock(v.duration_seconds)}`)),
                },
                { label: 'Plays', value: (v) => fmt.int(v.plays), numeric: true },
                { label: 'Play rate', value: (v) => h('span', { title: `${fmt.int(v.plays)} plays on ${fmt.int(v.page_views)} page views of its pages` }, fmt.pct(v.play_rate)), numeric: true },
                { label: 'Unique viewers', value: (v) => fmt.int(v.unique_viewers), numeric: true },
                { label: 'Average share viewed', value: (v) => fmt.pct(v.average_share_viewed), numeric: true },
                { label: 'Completion rate', value: (v) => h('span', null, fmt.pct(v.completion_rate), h('span', { class: 'muted small' }, ` (${fmt.int(v.completions)})`)), numeric: true },
                { label: 'Watch time', value: (v) => h('span', null, fmt.duration(v.watch_seconds_total), h('span', { class: 'muted small' }, ` (${fmt.duration(v.watch_seconds_average)} a view)`)), numeric: true },
            ],
        });
    }, 'Loading videos…').then((ok) => {
        const first = rows[0];
        if (!ok || !first) return;
        const wanted = ctx.params.get('video');
        choose(rows.find((v) => v.id === wanted) ?? first, false);
    });
}

/* ---- one video ---------------------------------------------------------------------------------------------- */

function showVideo(ctx: PageContext, signal: AbortSignal, box: HTMLElement, v: VideoSummary, query: Query): void {
    const path = `/api/v1/videos/${encodeURIComponent(v.id)}`;
    const name = `video-${v.id.replace(/[^\w.-]+/g, '_').slice(0, 60)}`;
    void into(box, signal, async () => {
        const r = await getJson<VideoReport>(path, query, signal);
        return renderVideo(ctx, signal, r, { method: 'GET', path, query, name }, query);
    }, `Loading the report of ${v.title || v.id}…`);
}

function renderVideo(ctx: PageContext, signal: AbortSignal, r: VideoReport, spec: ReportSpec, query: Query): HTMLElement[] {
    const title = r.title || r.id;
    const summary = card({
        title,
        description: h('span', null, h('code', null, r.id), ` · ${fmt.clock(r.duration_seconds)} long · CSV export: the per-second table; JSON: the whole report`),
        actions: exportButtons(`the report of ${title}`, () => spec),
        className: 'card-video',
    }, tiles([
        { label: 'Plays', value: fmt.int(r.plays), hint: `on ${fmt.int(r.page_views)} page views`, tone: 'accent' },
        { label: 'Play rate', value: fmt.pct(r.play_rate), hint: 'plays per page view' },
        { label: 'Unique viewers', value: fmt.int(r.unique_viewers) },
        { label: 'Average share viewed', value: fmt.pct(r.average_share_viewed), hint: 'of the video, per view' },
        { label: 'Completion rate', value: fmt.pct(r.completion_rate), hint: `${fmt.int(r.completions)} reached the end or 90%`, tone: 'good' },
        { label: 'Watch time', value: fmt.duration(r.watch_seconds_total), hint: `${fmt.duration(r.watch_seconds_average)} a view` },
    ], `Totals of ${title}`));
    if (!r.plays) return [summary, card({ title: 'Retention', className: 'card-retention' }, emptyState('Nobody played this video in the range', 'Choose a longer range, or another segment.'))];
    return [
        summary,
        retentionCard(ctx, signal, r),
        card({ title: 'Pauses and playback speed', description: 'Where viewers pause, and how much of the watching happens at each speed (media seconds)', className: 'card-pauses' },
            h('div', { class: 'grid-2-1' }, pausesBlock(signal, r), speedsBlock(signal, r))),
        conversionCard(signal, r),
        viewsCard(ctx, signal, r, query),
    ];
}

/* ---- retention curve, heat and key moments --------------------------------------------------------------------- */

interface Bins {
    size: number; // seconds per point
    starts: number[]; // first second of each point
    watching: number[];
    share: number[];
    relative: number[];
    rewatches: number[];
    skips: number[];
    pauses: number[];
}

/* The per-second arrays, as they are or binned (mean of the curves, sum of the counts) for a long video. */
function binned(r: VideoReport): Bins {
    const share = r.retention?.share ?? [];
    const n = share.length;
    const size = Math.max(1, Math.ceil(n / MAX_POINTS));
    const starts: number[] = [];
    for (let s = 0; s < n; s += size) starts.push(s);
    const fold = (xs: number[] | undefined, mean: boolean) => starts.map((s) => {
        const part = (xs ?? []).slice(s, s + size);
        const sum = part.reduce((a, x) => a + x, 0);
        return mean && part.length ? sum / part.length : sum;
    });
    return {
        size, starts,
        watching: fold(r.retention?.seconds, true),
        share: fold(share, true),
        relative: fold(r.retention?.relative, true),
        rewatches: fold(r.heat?.rewatches, false),
        skips: fold(r.heat?.skips, false),
        pauses: fold(r.heat?.pauses, false),
    };
}

function describeMoment(m: KeyMoment, views: number): string {
    switch (m.kind) {
        case 'rewatch_spike':
            return `Rewatched ${span(m.start_second, m.end_second)}: at ${fmt.clock(m.second)}, ${fmt.num(m.value, 2)} rewatches per view (${fmt.int(Math.round(m.value * views))} in all).`;
        case 'dip':
            return `Drop-off ${span(m.start_second, m.end_second)}: ${fmt.num(m.value * 100, 1)} points of the views stop watching, most at ${fmt.clock(m.second)}.`;
        case 'half_gone':
            return `From ${fmt.clock(m.second)} half of the views or fewer are still watching.`;
        default:
            return `${fmt.words(m.kind)} at ${fmt.clock(m.second)}.`;
    }
}

function retentionCard(ctx: PageContext, signal: AbortSignal, r: VideoReport): HTMLElement {
    const b = binned(r);
    const moments = r.key_moments ?? [];
    const views = r.plays ?? 0;
    let mode: 'share' | 'relative' = ctx.params.get('curve') === 'relative' ? 'relative' : 'share';
    const summary = () => {
        const half = moments.find((m) => m.kind === 'half_gone');
        return `Retention of ${r.title || r.id} over ${fmt.clock(r.duration_seconds)}, ${mode === 'share' ? 'as the share of views watching each second' : 'relative to the video’s average share'}: ` +
            `${fmt.pct(b.share[0])} at the start, ${fmt.pct(b.share[b.share.length - 1])} at the end${half ? `, half gone at ${fmt.clock(half.second)}` : ''}; ` +
            `${moments.length} key moments; under it, rewatches (up to ${fmt.int(Math.max(0, ...b.rewatches))} a second) and skips (up to ${fmt.int(Math.max(0, ...b.skips))}). The table lists every second.`;
    };
    const chart = new Chart(retentionOption(b, moments, mode), signal, { label: summary(), className: 'chart-video' });
    const toggle = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Retention curve' },
        ([['share', 'Share of views'], ['relative', 'Relative to average']] as const).map(([id, label]) => button(label, () => {
            if (mode === id) return;
            mode = id;
            ctx.setParams({ curve: id === 'share' ? null : id });
            toggle.querySelectorAll('button').forEach((x) => x.setAttribute('aria-pressed', String(x.dataset.id === id)));
            chart.update(retentionOption(b, moments, mode), false, summary());
        }, { class: 'seg-btn', 'data-id': id, 'aria-pressed': String(mode === id) })));

    const unit = b.size > 1 ? `${b.size} s from` : 'Second';
    const perSecond = table<number>({
        caption: `Retention and heat of ${r.title || r.id}, per ${b.size > 1 ? `${b.size} seconds` : 'second'}`,
        rows: b.starts.map((_s, i) => i),
        columns: [
            { label: unit, value: (i) => fmt.clock(b.starts[i]) },
            { label: 'Views watching', value: (i) => fmt.num(b.watching[i], 1), numeric: true },
            { label: 'Share', value: (i) => fmt.pct(b.share[i]), numeric: true },
            { label: 'Relative', value: (i) => fmt.num(b.relative[i], 2), numeric: true },
            { label: 'Rewatches', value: (i) => fmt.int(b.rewatches[i]), numeric: true },
            { label: 'Skips', value: (i) => fmt.int(b.skips[i]), numeric: true },
            { label: 'Pauses', value: (i) => fmt.int(b.pauses[i]), numeric: true },
        ],
    });

    const list = moments.length
        ? h('ol', { class: 'moments', 'aria-label': 'Key moments' }, moments.map((m, i) => {
            const st = MOMENT_STYLE[m.kind];
            const num = h('span', { class: 'moment-num', 'aria-hidden': 'true' }, String(i + 1));
            num.style.background = st?.color ?? MUTED;
            return h('li', { class: 'moment' }, num, badge(st?.label ?? fmt.words(m.kind), m.kind === 'dip' ? 'bad' : m.kind === 'rewatch_spike' ? 'accent' : 'warn'),
                h('span', null, describeMoment(m, views)));
        }))
        : h('p', { class: 'hint' }, 'No key moment stands out: no rewatched stretch, no sharp drop-off, and at least half of the views watch to the end.');

    return card({
        title: 'Retention',
        description: 'How many of the views watch each second; under it, on the same axis, the seconds watched again (rewatches) and jumped over (skips)',
        actions: toggle,
        className: 'card-retention',
    },
    legend([
        { label: 'Views watching', color: CURVE },
        ...Object.values(MOMENT_STYLE).filter((st) => moments.some((m) => MOMENT_STYLE[m.kind] === st)).map((st) => ({ label: st.label, color: st.color })),
        ...HEAT_ROWS.map((x) => ({ label: `${x.label} (heat)`, color: x.ramp[2] })),
    ]),
    chartAndTable(chart.el, perSecond),
    h('h3', { class: 'subhead' }, 'Key moments'),
    list);
}

function retentionOption(b: Bins, moments: KeyMoment[], mode: 'share' | 'relative') {
    const ys = mode === 'share' ? b.share : b.relative;
    const cats = b.starts.map(String);
    const at = (second: number) => Math.min(b.starts.length - 1, Math.max(0, Math.floor(second / b.size)));
    const heatData = HEAT_ROWS.flatMap((row, y) => {
        const xs = b[row.key];
        const max = Math.max(1, ...xs);
        return xs.map((v, x) => ({ value: [x, y, v], itemStyle: { color: v ? ramp([...row.ramp], 0.15 + 0.85 * (v / max)) : '#f4f5f7' } }));
    });
    /* Moments on the same point share one label ("2, 4"), which the first of them carries. */
    const marks = moments.map((m, i) => {
        const st = MOMENT_STYLE[m.kind];
        const x = at(m.second);
        const same = moments.flatMap((o, k) => (at(o.second) === x ? [k] : []));
        return {
            value: [x, ys[x] ?? 0], name: same[0] === i ? same.map((k) => k + 1).join(', ') : '',
            symbol: st?.symbol ?? 'circle', itemStyle: { color: st?.color ?? MUTED, borderColor: '#fff', borderWidth: 1.5 },
        };
    });
    const areas = moments.filter((m) => m.kind !== 'half_gone' && m.end_second > m.start_second).map((m) => {
        const st = MOMENT_STYLE[m.kind];
        return [{ xAxis: at(m.start_second), itemStyle: { color: st?.color ?? MUTED, opacity: 0.08 } }, { xAxis: at(Math.max(m.start_second, m.end_second - 1)) }];
    });
    const axisX = (grid: number, labels: boolean) => ({
        type: 'category', gridIndex: grid, data: cats, boundaryGap: true,
        axisLabel: labels ? { ...axisLabel, formatter: (v: string) => fmt.clock(Number(v)), hideOverlap: true } : { show: false },
        axisTick: { show: labels, alignWithLabel: true }, axisLine: { lineStyle: { color: GRID_LINE } },
    });
    return {
        axisPointer: { link: [{ xAxisIndex: 'all' }] },
        grid: [{ left: 56, right: 16, top: 16, height: 236 }, { left: 56, right: 16, top: 272, height: 56 }],
        tooltip: {
            trigger: 'axis',
            axisPointer: { type: 'line', lineStyle: { color: '#9aa3af' } },
            formatter: (ps: { axisValue?: string; dataIndex?: number }[]) => {
                const p = ps[0];
                const start = Number(p?.axisValue ?? 0);
                const i = at(start);
                const here = moments.filter((m) => at(m.second) === i);
                const label = b.size > 1 ? `${span(start, start + b.size)}` : fmt.clock(start);
                return tip(label, [
                    { label: 'Views watching', value: `${fmt.num(b.watching[i], 1)} (${fmt.pct(b.share[i])})`, color: CURVE },
                    { label: 'Relative to average', value: fmt.num(b.relative[i], 2) },
                    { label: 'Rewatches', value: fmt.int(b.rewatches[i]), color: HEAT_ROWS[0].ramp[2] },
                    { label: 'Skips', value: fmt.int(b.skips[i]), color: HEAT_ROWS[1].ramp[2] },
                    { label: 'Pauses', value: fmt.int(b.pauses[i]) },
                    ...here.map((m) => ({ label: MOMENT_STYLE[m.kind]?.label ?? fmt.words(m.kind), value: m.kind === 'dip' ? `−${fmt.num(m.value * 100, 1)} pts` : m.kind === 'rewatch_spike' ? `${fmt.num(m.value, 2)} / view` : '', color: MOMENT_STYLE[m.kind]?.color })),
                ]);
            },
        },
        xAxis: [axisX(0, false), axisX(1, true)],
        yAxis: [
            {
                type: 'value', gridIndex: 0, min: 0, max: mode === 'share' ? 1 : undefined, splitLine,
                axisLabel: { ...axisLabel, formatter: (v: number) => (mode === 'share' ? `${Math.round(v * 100)}%` : `${fmt.num(v, 1)}×`) },
            },
            {
                type: 'category', gridIndex: 1, data: HEAT_ROWS.map((x) => x.label), inverse: true,
                axisLabel: { ...axisLabel, color: '#374151' }, axisTick: { show: false }, axisLine: { show: false },
            },
        ],
        series: [
            {
                name: 'Views watching', type: 'line', xAxisIndex: 0, yAxisIndex: 0, data: ys, showSymbol: false, symbol: 'none',
                lineStyle: { color: CURVE, width: 2.2 }, itemStyle: { color: CURVE }, areaStyle: { color: CURVE, opacity: 0.08 },
                markArea: areas.length ? { silent: true, data: areas } : undefined,
                markLine: mode === 'relative'
                    ? { symbol: 'none', silent: true, lineStyle: { color: '#9aa3af', type: 'dashed', width: 1 }, label: { formatter: 'average', color: MUTED, fontSize: 10, position: 'insideEndTop' }, data: [{ yAxis: 1 }] }
                    : undefined,
            },
            {
                name: 'Key moments', type: 'scatter', xAxisIndex: 0, yAxisIndex: 0, data: marks, symbolSize: 13, z: 5,
                label: { show: true, position: 'top', formatter: (p: { name: string }) => p.name, color: INK_2, fontWeight: 700, fontSize: 11 },
            },
            {
                name: 'Heat', type: 'heatmap', xAxisIndex: 1, yAxisIndex: 1, data: heatData,
                itemStyle: { borderColor: '#fff', borderWidth: b.starts.length > 120 ? 0 : 1 },
                emphasis: { disabled: true },
            },
        ],
    };
}

/* ---- pauses and speeds -------------------------------------------------------------------------------------- */

function pausesBlock(signal: AbortSignal, r: VideoReport): HTMLElement {
    const b = binned(r);
    const total = b.pauses.reduce((a, x) => a + x, 0);
    if (!total) return h('div', null, h('h3', { class: 'subhead' }, 'Pauses'), emptyState('Nobody paused it'));
    const top = b.pauses.indexOf(Math.max(...b.pauses));
    const chart = new Chart({
        grid: { left: 40, right: 12, top: 14, bottom: 28 },
        tooltip: {
            trigger: 'axis', axisPointer: { type: 'shadow' },
            formatter: (ps: { dataIndex: number }[]) => {
                const i = ps[0]?.dataIndex ?? 0;
                const s = b.starts[i] ?? 0;
                return tip(b.size > 1 ? span(s, s + b.size) : fmt.clock(s), [{ label: 'Pauses', value: fmt.int(b.pauses[i]), color: COLORS[6] }]);
            },
        },
        xAxis: { type: 'category', data: b.starts.map(String), axisLabel: { ...axisLabel, formatter: (v: string) => fmt.clock(Number(v)), hideOverlap: true }, axisTick: { alignWithLabel: true }, axisLine: { lineStyle: { color: GRID_LINE } } },
        yAxis: { type: 'value', minInterval: 1, axisLabel, splitLine },
        series: [{ name: 'Pauses', type: 'bar', data: b.pauses, barMaxWidth: 14, itemStyle: { color: COLORS[6], borderRadius: [2, 2, 0, 0] } }],
    }, signal, {
        label: `Pauses along the video: ${fmt.int(total)} in all, most at ${fmt.clock(b.starts[top])} (${fmt.int(b.pauses[top])}). The table lists them.`,
        className: 'chart-small',
    });
    const rows = b.starts.map((_s, i) => i).filter((i) => (b.pauses[i] ?? 0) > 0);
    return h('div', null,
        h('h3', { class: 'subhead' }, 'Pauses'),
        h('p', { class: 'hint hint-top' }, `${fmt.int(total)} pauses; most at ${fmt.clock(b.starts[top])}. A pause at the very end (the video ending) is not counted here.`),
        chartAndTable(chart.el, table<number>({
            caption: 'Pauses by position',
            rows,
            columns: [
                { label: 'Position', value: (i) => fmt.clock(b.starts[i]) },
                { label: 'Pauses', value: (i) => fmt.int(b.pauses[i]), numeric: true },
            ],
        })));
}

function speedsBlock(signal: AbortSignal, r: VideoReport): HTMLElement {
    const speeds = r.speeds ?? [];
    if (!speeds.length) return h('div', null, h('h3', { class: 'subhead' }, 'Playback speed'), emptyState('No watching recorded'));
    const faster = speeds.filter((s) => s.rate !== 'other' && s.rate > 1).reduce((a, s) => a + s.share, 0);
    const chart = new Chart({
        grid: { left: 56, right: 48, top: 8, bottom: 24 },
        tooltip: {
            trigger: 'item',
            formatter: (p: { dataIndex: number }) => {
                const s = speeds[p.dataIndex];
                return s ? tip(`At ${rateLabel(s.rate)}`, [{ label: 'Share of watching', value: fmt.pct(s.share), color: COLORS[1] }, { label: 'Media time', value: fmt.duration(s.media_seconds) }]) : '';
            },
        },
        xAxis: { type: 'value', min: 0, max: 1, axisLabel: { ...axisLabel, formatter: (v: number) => `${Math.round(v * 100)}%` }, splitLine },
        yAxis: { type: 'category', data: speeds.map((s) => rateLabel(s.rate)), inverse: true, axisLabel: { ...axisLabel, color: INK_2 }, axisTick: { show: false }, axisLine: { show: false } },
        series: [{
            name: 'Share', type: 'bar', data: speeds.map((s) => s.share), barMaxWidth: 20,
            itemStyle: { color: COLORS[1], borderRadius: [0, 3, 3, 0] },
            label: { show: true, position: 'right', color: MUTED, fontSize: 11, formatter: (p: { value: number }) => fmt.pct(p.value, 0) },
        }],
    }, signal, {
        label: `Playback speed: ${speeds.map((s) => `${rateLabel(s.rate)} ${fmt.pct(s.share)}`).join(', ')} of the media time watched. The table lists them.`,
        className: 'chart-small',
    });
    chart.el.style.height = `${Math.max(140, 48 + speeds.length * 34)}px`;
    return h('div', null,
        h('h3', { class: 'subhead' }, 'Playback speed'),
        h('p', { class: 'hint hint-top' }, `${fmt.pct(faster)} of the watching is faster than normal speed.`),
        chartAndTable(chart.el, table({
            caption: 'Watching by playback speed',
            rows: speeds,
            columns: [
                { label: 'Speed', value: (s) => rateLabel(s.rate) },
                { label: 'Media time', value: (s) => fmt.duration(s.media_seconds), numeric: true },
                { label: 'Share', value: (s) => fmt.pct(s.share), numeric: true },
            ],
        })));
}

/* ---- conversion by watch bucket ------------------------------------------------------------------------------ */

function verdict(x: WatchBucket): HTMLElement | string {
    if (x.bucket === 'none') return h('span', { class: 'muted' }, 'baseline');
    const ci = x.difference_ci95;
    if (!ci) return badge('too little data', 'neutral');
    if (ci[0] > 0) return badge('higher', 'good', 'The whole 95% interval of the difference is above zero');
    if (ci[1] < 0) return badge('lower', 'bad', 'The whole 95% interval of the difference is below zero');
    return badge('not significant', 'neutral', 'The 95% interval of the difference includes zero');
}

function conversionCard(signal: AbortSignal, r: VideoReport): HTMLElement {
    const buckets = r.conversion_by_watch ?? [];
    const none = buckets.find((x) => x.bucket === 'none');
    const best = buckets.find((x) => x.bucket === 'over_75');
    const plotted = buckets.filter((x) => x.ci95 && x.rate != null);
    const desc = 'Sessions that viewed a page showing the video, by the largest share of it they watched in one view, and how many reached the goal';
    if (!buckets.some((x) => x.sessions)) return card({ title: 'Conversion by how much was watched', description: desc, className: 'card-conversion' }, emptyState('No session to compare', 'No session viewed a page with this video in the range, or the project has no goal.'));
    const chart = new Chart(conversionOption(plotted, none), signal, {
        label: `Conversion rate by how much of the video was watched, with Wilson 95% intervals: ${plotted.map((x) => `${bucketLabel(x.bucket)} ${fmt.pct(x.rate)} (${fmt.pct(x.ci95?.[0])} to ${fmt.pct(x.ci95?.[1])}, ${fmt.int(x.sessions)} sessions)`).join('; ')}. The table lists the differences against not playing it.`,
        className: 'chart-interval',
    });
    chart.el.style.height = `${Math.max(170, 64 + plotted.length * 42)}px`;
    const headline = best && none && best.rate != null && none.rate != null
        ? h('p', { class: 'headline' }, h('strong', null, fmt.pct(best.rate)), ` of sessions that watched over 75% converted, against ${fmt.pct(none.rate)} of those that did not play it (${fmt.pp(best.difference_vs_none)}${best.difference_ci95 ? `, 95% CI ${fmt.pp(best.difference_ci95[0])} to ${fmt.pp(best.difference_ci95[1])}` : ''}).`)
        : null;
    return card({ title: 'Conversion by how much was watched', description: desc, className: 'card-conversion' },
        headline,
        legend([{ label: 'Conversion rate with its 95% interval', color: COLORS[0] ?? '' }, { label: 'Did not play (baseline)', color: '#9aa3af', dashed: true }]),
        chartAndTable(chart.el, table<WatchBucket>({
            caption: 'Conversion by how much of the video was watched',
            rows: buckets,
            columns: [
                { label: 'Watched', value: (x) => bucketLabel(x.bucket) },
                { label: 'Sessions', value: (x) => fmt.int(x.sessions), numeric: true },
                { label: 'Converted', value: (x) => fmt.int(x.conversions), numeric: true },
                { label: 'Rate', value: (x) => h('strong', null, fmt.pct(x.rate)), numeric: true },
                { label: '95% interval', value: (x) => (x.ci95 ? `${fmt.pct(x.ci95[0])} to ${fmt.pct(x.ci95[1])}` : '–'), numeric: true },
                { label: 'Difference', value: (x) => (x.bucket === 'none' ? '–' : fmt.pp(x.difference_vs_none)), numeric: true },
                { label: 'Its 95% interval', value: (x) => (x.difference_ci95 ? `${fmt.pp(x.difference_ci95[0])} to ${fmt.pp(x.difference_ci95[1])}` : '–'), numeric: true },
                { label: 'p-value', value: (x) => (x.bucket === 'none' ? '–' : fmt.pValue(x.p_value)), numeric: true },
                { label: 'Verdict', value: verdict },
            ],
        }), true),
        h('p', { class: 'hint' }, 'Each rate with its Wilson 95% interval; each difference against “did not play” with its Wald 95% interval and a two-sided z-test. ',
            'Watching goes with converting here; it is not shown to cause it (people who mean to apply may simply watch more).'));
}

function conversionOption(rows: WatchBucket[], none: WatchBucket | undefined) {
    const cats = rows.map((x) => `${bucketLabel(x.bucket)} (n=${fmt.int(x.sessions)})`);
    const data = rows.map((x, i) => [i, (x.ci95?.[0] ?? 0) * 100, (x.ci95?.[1] ?? 0) * 100, (x.rate ?? 0) * 100]);
    const colorOf = (x: WatchBucket | undefined) => (!x || x.bucket === 'none' ? '#5b6472' : x.difference_ci95 && x.difference_ci95[0] > 0 ? COLORS[1] : x.difference_ci95 && x.difference_ci95[1] < 0 ? COLORS[3] : COLORS[0]);
    return {
        grid: { left: 140, right: 28, top: 12, bottom: 36 },
        tooltip: {
            trigger: 'item',
            formatter: (p: { dataIndex: number }) => {
                const x = rows[p.dataIndex];
                if (!x) return '';
                return tip(bucketLabel(x.bucket), [
                    { label: 'Converted', value: `${fmt.int(x.conversions)} of ${fmt.int(x.sessions)}` },
                    { label: 'Rate', value: fmt.pct(x.rate), color: colorOf(x) },
                    { label: '95% interval', value: `${fmt.pct(x.ci95?.[0])} to ${fmt.pct(x.ci95?.[1])}` },
                    ...(x.bucket === 'none' ? [] : [
                        { label: 'Against did not play', value: fmt.pp(x.difference_vs_none) },
                        { label: 'Its 95% interval', value: x.difference_ci95 ? `${fmt.pp(x.difference_ci95[0])} to ${fmt.pp(x.difference_ci95[1])}` : '–' },
                        { label: 'p-value', value: fmt.pValue(x.p_value) },
                    ]),
                ]);
            },
        },
        xAxis: {
            type: 'value', min: 0, max: 100, name: 'Conversion rate (%)', nameLocation: 'middle', nameGap: 24,
            nameTextStyle: { color: MUTED, fontSize: 11 }, axisLabel: { ...axisLabel, formatter: (v: number) => `${v}%` }, splitLine,
        },
        yAxis: { type: 'category', data: cats, inverse: true, axisLabel: { ...axisLabel, color: INK_2, width: 130, overflow: 'truncate' }, axisTick: { show: false }, axisLine: { show: false } },
        series: [{
            type: 'custom',
            data,
            encode: { x: [1, 2, 3], y: 0 },
            renderItem: (params: { dataIndex: number }, api: { value: (i: number) => number; coord: (v: number[]) => number[]; size: (v: number[]) => number[] }) => {
                const y = api.value(0);
                const a = api.coord([api.value(1), y]);
                const b = api.coord([api.value(2), y]);
                const c = api.coord([api.value(3), y]);
                const cap = (api.size([0, 1])[1] ?? 20) * 0.22;
                const color = colorOf(rows[params.dataIndex]);
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
            markLine: none?.rate != null
                ? { symbol: 'none', silent: true, label: { show: false }, lineStyle: { color: '#9aa3af', type: 'dashed', width: 1 }, data: [{ xAxis: none.rate * 100 }] }
                : undefined,
        }],
    };
}

/* ---- the latest views ------------------------------------------------------------------------------------------ */

/* Watched intervals joined where one ends where the next starts (heartbeats cut a stretch into 5 s pieces). */
function stretches(iv: [number, number][] | undefined): [number, number][] {
    const out: [number, number][] = [];
    for (const [a, b] of iv ?? []) {
        const last = out[out.length - 1];
        if (last && Math.abs(last[1] - a) < 0.01) last[1] = b;
        else out.push([a, b]);
    }
    return out;
}

function viewsCard(ctx: PageContext, signal: AbortSignal, r: VideoReport, query: Query): HTMLElement {
    const path = `/api/v1/videos/${encodeURIComponent(r.id)}/views`;
    const box = h('div');
    const duration = r.duration_seconds ?? 0;
    const listOf = (xs: string[]) => (xs.length ? xs.join(', ') : h('span', { class: 'muted' }, 'none'));
    void into(box, signal, async () => {
        const res = await getJson<VideoViews>(path, { ...query, limit: VIEWS_SHOWN }, signal);
        const views = res.views ?? [];
        if (!views.length) return emptyState('No views in the range');
        return table<VideoView>({
            caption: `The latest ${views.length} views of ${r.title || r.id}`,
            rows: views,
            className: 'table-views',
            columns: [
                { label: 'Started', value: (x) => link(ctx.href('/session', { id: x.session_id }), fmt.dateTime(x.started_at), { 'aria-label': `Timeline of the session that started this view ${fmt.dateTime(x.started_at)}` }), className: 'nowrap' },
                { label: 'Watched', value: (x) => h('span', null, fmt.duration(x.unique_seconds), h('span', { class: 'muted small' }, ` (${fmt.pct(duration ? (x.unique_seconds ?? 0) / duration : null, 0)})`)), numeric: true },
                { label: 'Stretches', value: (x) => listOf(stretches(x.intervals).map(([a, b]) => span(a, b))) },
                { label: 'Skipped', value: (x) => listOf((x.skipped ?? []).map(([a, b]) => `${fmt.clock(a)} → ${fmt.clock(b)}`)) },
                { label: 'Rewound', value: (x) => listOf((x.rewound ?? []).map(([a, b]) => `${fmt.clock(b)} → ${fmt.clock(a)}`)) },
                { label: 'Pauses', value: (x) => listOf((x.pauses ?? []).map((p) => fmt.clock(p))) },
                { label: 'Speeds', value: (x) => listOf((x.speeds ?? []).map((s) => rateLabel(s.rate))) },
                { label: 'Outcome', value: (x) => (x.open ? badge('watching', 'accent') : x.completed ? badge('completed', 'good') : h('span', { class: 'muted' }, `left at ${fmt.clock(x.left_at)}`)) },
            ],
        });
    }, 'Loading the latest views…');
    return card({
        title: 'Latest views',
        description: `Newest first (up to ${VIEWS_SHOWN}); a stretch is what was played in one go. The export has up to 1,000 views.`,
        className: 'card-views',
        actions: exportButtons(`the views of ${r.title || r.id}`, () => ({ method: 'GET', path, query: { ...query, limit: 1000 }, name: `video-views-${r.id.replace(/[^\w.-]+/g, '_').slice(0, 60)}` })),
    }, box);
}
