/*
 * Live: what is happening right now (KPI tiles refreshed every second over kpis/stream, or by polling kpis/live
 * when the stream is unavailable), the sessions struggling in the last 30 minutes, and the KPIs of the selected
 * range.
 */
import { ApiError, getJson, isAbort, sse } from '../api';
import { Chart, COLORS, GRID_LINE, axisLabel, legend, splitLine, tip } from '../charts';
import { append, h, replace } from '../dom';
import { rangeDays, rangeQuery } from '../filters';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { KpiPoint, Kpis, LiveKpis, Sessions } from '../types';
import { badge, card, chartAndTable, emptyState, errorState, exportButtons, into, link, signalChips, table, tiles } from '../ui';

const SPARK_POINTS = 120;
const FEED_REFRESH_MS = 15_000;

export default function live(ctx: PageContext): void {
    const { body, signal } = ctx;
    const rightNow = h('div', { class: 'live-now' });
    const feed = h('div', { class: 'feed-box' });
    const range = h('div');
    append(body,
        h('div', { class: 'grid-2-1' },
            card({ title: 'Right now', description: 'Updated every second; today is the UTC day.', className: 'card-live' }, rightNow),
            card({ title: 'Struggling sessions', description: 'Last 30 minutes, a signal scored 70 or more', className: 'card-feed' }, feed)),
        range);
    liveTiles(rightNow, signal);
    struggleFeed(ctx, feed);
    rangeKpis(ctx, range);
}

/* ---- live KPI tiles -------------------------------------------------------------------------------------- */

interface TileRefs {
    [k: string]: HTMLElement;
}

function liveTiles(box: HTMLElement, signal: AbortSignal): void {
    /* The visible line shows the time of the last update; the live region announces only changes of state. */
    const status = h('p', { class: 'live-status' }, h('span', { class: 'dot dot-wait', 'aria-hidden': 'true' }), 'Connecting…');
    const announce = h('span', { class: 'sr-only', role: 'status' });
    const t = tiles([
        { label: 'Active sessions', value: '–', hint: 'event in the last 5 min' },
        { label: 'Events / second', value: '–', hint: 'last 10 seconds' },
        { label: 'Struggling now', value: '–', hint: 'signal ≥ 70, last 5 min', tone: 'bad' },
        { label: 'Interventions', value: '–', hint: 'last minute' },
        { label: 'Sessions today', value: '–' },
        { label: 'Conversions today', value: '–', tone: 'good' },
    ], 'Live KPIs');
    const refs: TileRefs = {};
    const names = ['active', 'eps', 'struggling', 'interventions', 'sessions', 'conversions'];
    t.querySelectorAll('.tile').forEach((el, i) => {
        refs[names[i] ?? ''] = el.querySelector('.tile-value') as HTMLElement;
        refs[`${names[i] ?? ''}-hint`] = el.querySelector('.tile-hint') ?? h('dd');
    });
    const spark: number[] = [];
    const sparkTimes: string[] = [];
    const sparkChart = new Chart(sparkOption(sparkTimes, spark), signal, { label: 'Events per second over the last two minutes: waiting for data', className: 'chart-spark' });
    const error = h('div');
    append(box, status, announce, t, h('div', { class: 'spark' }, h('p', { class: 'spark-label' }, 'Events per second, last 2 minutes'), sparkChart.el), error);

    let lastDraw = 0;
    const show = (k: LiveKpis) => {
        replace(error);
        const set = (name: string, v: string) => { const el = refs[name]; if (el) el.textContent = v; };
        set('active', fmt.int(k.active_sessions));
        set('eps', fmt.num(k.events_per_second, 1));
        set('struggling', fmt.int(k.struggling_now));
        const iv = k.interventions_last_minute ?? {};
        set('interventions', fmt.int(iv.decided ?? 0));
        set('interventions-hint', `last minute: ${fmt.int(iv.shown ?? 0)} shown, ${fmt.int(iv.accepted ?? 0)} accepted`);
        set('sessions', fmt.int(k.sessions_today));
        set('conversions', fmt.int(k.conversions_today));
        set('conversions-hint', `${fmt.pct(k.conversion_rate_today)} of today’s sessions`);
        spark.push(k.events_per_second ?? 0);
        sparkTimes.push(k.time);
        if (spark.length > SPARK_POINTS) {
            spark.shift();
            sparkTimes.shift();
        }
        const now = Date.now();
        if (now - lastDraw > 900) {
            lastDraw = now;
            const max = Math.max(...spark);
            sparkChart.update({ xAxis: { data: sparkTimes }, series: [{ data: spark }] }, true,
                `Events per second over the last ${spark.length} seconds: now ${fmt.num(k.events_per_second)}, peak ${fmt.num(max)}`);
        }
    };
    const setStatus = (cls: string, text: string, time?: string) => {
        replace(status, h('span', { class: `dot ${cls}`, 'aria-hidden': 'true' }), time ? `${text} · ${time}` : text);
        if (announce.textContent !== text) announce.textContent = text;
    };

    const poll = async () => {
        setStatus('dot-wait', 'Polling every second');
        let failures = 0;
        while (!signal.aborted) {
            try {
                const k = await getJson<LiveKpis>('/api/v1/kpis/live', undefined, signal);
                failures = 0;
                setStatus('dot-on', 'Live (polling)', fmt.timeOfDay(k.time));
                show(k);
            } catch (e) {
                if (isAbort(e)) return;
                failures++;
                setStatus('dot-off', 'Not updating');
                replace(error, errorState(e));
                if (e instanceof ApiError && e.status === 401) return;
            }
            await wait(failures ? Math.min(1000 * 2 ** failures, 15_000) : 1000, signal);
        }
    };

    const stream = async () => {
        let received = 0;
        /* A stream that says nothing for 5 s (a buffering proxy, say) is given up for polling. */
        const own = new AbortController();
        const stop = () => own.abort();
        signal.addEventListener('abort', stop, { once: true });
        const watchdog = setTimeout(() => { if (!received) own.abort(); }, 5000);
        try {
            for await (const m of sse('/api/v1/kpis/stream', own.signal)) {
                if (m.event !== 'kpis') continue;
                const k = JSON.parse(m.data) as LiveKpis;
                received++;
                setStatus('dot-on', 'Live', fmt.timeOfDay(k.time));
                show(k);
            }
        } catch (e) {
            if (signal.aborted) return;
            if (e instanceof ApiError && e.status === 401) return;
        } finally {
            clearTimeout(watchdog);
            signal.removeEventListener('abort', stop);
        }
        if (signal.aborted) return;
        /* The stream ended or is not offered: poll. A stream that worked and dropped is tried again later. */
        if (received > 0) {
            setStatus('dot-wait', 'Reconnecting…');
            await wait(1000, signal).catch(() => undefined);
            if (!signal.aborted) void stream();
        } else {
            void poll().catch(() => undefined);
        }
    };
    void stream();
}

function sparkOption(times: string[], values: number[]) {
    return {
        animation: false,
        grid: { left: 0, right: 0, top: 6, bottom: 2 },
        tooltip: {
            trigger: 'axis',
            formatter: (p: { dataIndex: number }[]) => {
                const i = p[0]?.dataIndex ?? 0;
                return tip(fmt.timeOfDay(times[i]), [{ label: 'Events / s', value: fmt.num(values[i]) }]);
            },
        },
        xAxis: { type: 'category', data: times, show: false, boundaryGap: false },
        yAxis: { type: 'value', show: false, min: 0 },
        series: [{
            type: 'line', data: values, smooth: true, symbol: 'none',
            lineStyle: { width: 2, color: COLORS[0] },
            areaStyle: { color: 'rgba(52, 81, 178, 0.12)' },
        }],
    };
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => { clearTimeout(t); reject(new DOMException('aborted', 'AbortError')); }, { once: true });
    });
}

/* ---- struggling sessions --------------------------------------------------------------------------------- */

function struggleFeed(ctx: PageContext, box: HTMLElement): void {
    const { signal } = ctx;
    const query = () => ({ from: '-30m', to: 'now', limit: 20, segment: { ...ctx.filters.segment, struggled: true } });
    const load = async () => {
        const r = await getJson<Sessions>('/api/v1/sessions', query(), signal);
        const rows = r.sessions ?? [];
        if (!rows.length) return emptyState('Nobody is struggling right now', 'No session had a signal of 70 or more in the last 30 minutes.');
        return h('ul', { class: 'feed' }, rows.map((s) => h('li', { class: 'feed-item' },
            h('div', { class: 'feed-top' },
                h('span', { class: 'feed-when' }, fmt.ago(s.started_at)),
                s.device ? badge(s.device) : null,
                s.max_risk != null ? badge(`risk ${Math.round(s.max_risk)}`, s.max_risk >= 75 ? 'bad' : 'warn') : null,
                s.converted ? badge('converted', 'good') : null,
                s.interventions ? badge(`${s.interventions} intervention${s.interventions > 1 ? 's' : ''}`, 'accent') : null),
            h('div', { class: 'feed-path' }, `${s.entry_path ?? '?'} → ${s.exit_path ?? '?'}`, h('span', { class: 'muted' }, ` · ${fmt.int(s.pages)} pages · ${fmt.duration(s.seconds)}`)),
            h('div', { class: 'feed-bottom' }, signalChips(s.signals),
                link(ctx.href('/session', { id: s.session_id }), 'Timeline', { class: 'feed-link', 'aria-label': `Timeline of the session started ${fmt.ago(s.started_at)}` })))));
    };
    /* The first load shows a spinner; refreshes keep the old list until the new one is there. */
    let first = true;
    const quiet = async () => {
        while (!signal.aborted) {
            if (first) {
                first = false;
                await into(box, signal, load, 'Loading struggling sessions…');
            } else {
                try {
                    const content = await load();
                    if (!signal.aborted) replace(box, content);
                } catch (e) {
                    if (isAbort(e)) return;
                    replace(box, errorState(e));
                }
            }
            try {
                await wait(FEED_REFRESH_MS, signal);
            } catch {
                return;
            }
        }
    };
    void quiet();
}

/* ---- the selected range ----------------------------------------------------------------------------------- */

function rangeKpis(ctx: PageContext, box: HTMLElement): void {
    const { signal, filters } = ctx;
    const interval = rangeDays(filters) <= 2 ? 'hour' : 'day';
    const query = { ...rangeQuery(filters), interval, segment: filters.segment };
    const content = h('div');
    append(box, card({
        title: 'Selected range',
        description: 'Sessions, conversions and struggle over the range and segment chosen above',
        actions: exportButtons('KPIs', () => ({ method: 'GET', path: '/api/v1/kpis', query, name: 'kpis' })),
    }, content));
    void into(content, signal, async () => {
        const k = await getJson<Kpis>('/api/v1/kpis', query, signal);
        const t = k.totals ?? {};
        const series = k.series ?? [];
        if (!t.sessions && !series.some((p) => p.sessions)) return emptyState('No data for this range', 'No session started in the selected range and segment. Try a longer range.');
        const chart = new Chart(seriesOption(series, interval), signal, {
            label: `Sessions per ${interval}: ${fmt.int(t.sessions)} in total, ${fmt.int(t.conversions)} conversions (${fmt.pct(t.conversion_rate)}), ${fmt.int(t.struggling_sessions)} struggling.`,
            className: 'chart-medium',
        });
        return [
            tiles([
                { label: 'Sessions', value: fmt.int(t.sessions), hint: `${fmt.int(t.visitors)} visitors` },
                { label: 'Conversion rate', value: fmt.pct(t.conversion_rate), hint: `${fmt.int(t.conversions)} conversions`, tone: 'good' },
                { label: 'Struggling', value: fmt.pct(t.struggling_share), hint: `${fmt.int(t.struggling_sessions)} sessions`, tone: 'bad' },
                { label: 'Avg. session', value: fmt.duration(t.avg_session_seconds), hint: `${fmt.int(t.pageviews)} page views` },
                { label: 'Bounce rate', value: fmt.pct(t.bounce_rate), hint: 'single page view' },
                { label: 'Interventions', value: fmt.int(t.interventions), hint: `${fmt.int(t.accepted)} accepted`, tone: 'accent' },
            ], 'KPIs of the selected range'),
            legend([
                { label: 'Sessions', color: 'rgba(52, 81, 178, 0.75)' },
                { label: 'Conversions', color: COLORS[1] ?? '' },
                { label: 'Struggling sessions', color: COLORS[3] ?? '' },
                { label: 'Conversion rate (right axis)', color: COLORS[2] ?? '', dashed: true },
            ]),
            chartAndTable(chart.el, table<KpiPoint>({
                caption: `Sessions per ${interval}`,
                rows: series,
                columns: [
                    { label: interval === 'hour' ? 'Hour (UTC)' : 'Day (UTC)', value: (p) => fmt.bucket(p.t, interval), className: 'nowrap' },
                    { label: 'Sessions', value: (p) => fmt.int(p.sessions), numeric: true },
                    { label: 'Conversions', value: (p) => fmt.int(p.conversions), numeric: true },
                    { label: 'Conversion rate', value: (p) => fmt.pct(p.conversion_rate), numeric: true },
                    { label: 'Struggling sessions', value: (p) => fmt.int(p.struggling_sessions), numeric: true },
                ],
            })),
        ];
    });
}

function seriesOption(series: KpiPoint[], interval: string) {
    const labels = series.map((p) => fmt.bucket(p.t, interval));
    return {
        grid: { left: 48, right: 48, top: 14, bottom: 28 },
        tooltip: {
            trigger: 'axis',
            formatter: (ps: { dataIndex: number }[]) => {
                const p = series[ps[0]?.dataIndex ?? 0];
                return tip(`${labels[ps[0]?.dataIndex ?? 0] ?? ''}${interval === 'hour' ? ' UTC' : ''}`, [
                    { label: 'Sessions', value: fmt.int(p?.sessions), color: COLORS[0] },
                    { label: 'Conversions', value: fmt.int(p?.conversions), color: COLORS[1] },
                    { label: 'Struggling', value: fmt.int(p?.struggling_sessions), color: COLORS[3] },
                    { label: 'Conversion rate', value: fmt.pct(p?.conversion_rate), color: COLORS[2] },
                ]);
            },
        },
        xAxis: { type: 'category', data: labels, axisLabel, axisLine: { lineStyle: { color: GRID_LINE } }, axisTick: { show: false } },
        yAxis: [
            { type: 'value', axisLabel, splitLine, minInterval: 1 },
            { type: 'value', axisLabel: { ...axisLabel, formatter: (v: number) => `${Math.round(v * 100)}%` }, splitLine: { show: false }, min: 0, max: (e: { max: number }) => Math.min(1, Math.max(0.1, Math.ceil(e.max * 10) / 10)) },
        ],
        series: [
            { name: 'Sessions', type: 'bar', data: series.map((p) => p.sessions ?? 0), itemStyle: { color: 'rgba(52, 81, 178, 0.75)', borderRadius: [3, 3, 0, 0] }, barMaxWidth: 28 },
            { name: 'Conversions', type: 'line', data: series.map((p) => p.conversions ?? 0), symbolSize: 5, itemStyle: { color: COLORS[1] } },
            { name: 'Struggling', type: 'line', data: series.map((p) => p.struggling_sessions ?? 0), symbolSize: 5, itemStyle: { color: COLORS[3] } },
            { name: 'Conversion rate', type: 'line', yAxisIndex: 1, data: series.map((p) => p.conversion_rate ?? null), symbol: 'none', lineStyle: { type: 'dashed', width: 1.5 }, itemStyle: { color: COLORS[2] } },
        ],
    };
}
